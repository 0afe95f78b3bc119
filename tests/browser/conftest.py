"""The real-browser tests: a ``browser`` marker (so a quick run can leave them out with
``pytest -m "not browser"``) and one JupyterLab server + headless Chromium shared by the tests of a
module that ask for the ``lab`` fixture (starting them costs several seconds; each notebook still
gets a page, a workspace and a kernel of its own)."""
from __future__ import annotations

import time

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives JupyterLab in headless Chromium "
                                       "(≈15 s to start, then 20–60 s a notebook)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace("\\", "/") and item.fspath.ext == ".py":
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A :class:`labdriver.LabSession`: JupyterLab serving a temporary folder, with the environment
    of the notebook tests plus ``TQDM_DISABLE=1`` (no progress bars) and ``DDPM_EDU_ROOT`` (the
    repository, for the gallery's imports), and Debian's Chromium. Skips when either is missing.

    Module-scoped, not session-scoped: Playwright's sync API runs an asyncio loop for as long as it
    is open, and ``test_web_page.py`` opens its own, which fails ("Sync API inside the asyncio
    loop") while another is still running; a module fixture is closed before the next module."""
    from labdriver import REPO, LabSession, require_browser

    require_browser()
    from playwright.sync_api import sync_playwright

    from ddpm_edu.web.browser import launch
    from lab import jupyterlab

    root = tmp_path_factory.mktemp("lab")
    t0 = time.monotonic()
    with (
        jupyterlab(root, {"DDPM_EDU_ROOT": str(REPO), "TQDM_DISABLE": "1"}) as url,
        sync_playwright() as p,
    ):
        browser = launch(p)
        try:
            yield LabSession(root, url, browser, time.monotonic() - t0)
        finally:
            browser.close()
