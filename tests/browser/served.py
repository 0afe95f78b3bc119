"""A static site served on localhost and one headless Chromium page watching it: the set-up the
web-page tests share (test_web_page, test_web_conditional, test_web_train)."""
from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def served_page(directory, viewport: dict | None = None, timeout_ms: int = 180_000):
    """Serve ``directory`` and open a page; yields {"url", "page", "errors", "requests"}: the
    site's root URL, the Playwright page, every page error and console error, and every URL the
    page requested (the offline tests check that none leaves the site). Everything is closed on
    exit. A busy 2-core CI machine can be 5× slower than usual: hence the long default timeout."""
    from playwright.sync_api import sync_playwright

    from ddpm_edu.web.browser import launch
    from ddpm_edu.web.server import serve_in_thread

    server, url = serve_in_thread(directory)
    pw = sync_playwright().start()
    browser = launch(pw)
    try:
        page = browser.new_page(**({"viewport": viewport} if viewport else {}))
        page.set_default_timeout(timeout_ms)
        errors, requests = [], []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("request", lambda r: requests.append(r.url))
        yield {"url": url, "page": page, "errors": errors, "requests": requests}
    finally:
        browser.close()
        pw.stop()
        server.shutdown()
        server.server_close()
