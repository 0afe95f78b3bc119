"""Every explorer of ddpm_edu.viz in a real JupyterLab, in a real (headless) browser.

JupyterLab is started on 127.0.0.1 (``lab.py``); Playwright drives Debian's Chromium (never a
browser downloaded by Playwright). The gallery notebook is copied to a temporary folder (so the
tracked file never gets outputs), all its cells are run, and then for each explorer: no "Error
displaying widget", every slider moved with the keyboard changes the picture, the schedule drop-down
and the Play button work. Screenshots go to ``$DDPM_EDU_SCREENSHOTS`` or ``tests/browser/screenshots/``.

Skips (with the reason) when Chromium, Playwright, JupyterLab or ipywidgets is missing. Install:
    apt-get install -y chromium
    pip install playwright          # no `playwright install`: the test uses /usr/bin/chromium
"""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REPO = HERE.parents[1]
CHROMIUM = os.environ.get("DDPM_EDU_CHROMIUM", "/usr/bin/chromium")
# without the networking flags Chromium keeps trying to reach the internet (docs/tooling-facts.md)
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
# CSS class of each explorer's box → number of sliders in it
EXPLORERS = {"ddpm-edu-forward": 1, "ddpm-edu-kl": 4, "ddpm-edu-bucket": 3, "ddpm-edu-chain": 1}

KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle';
}"""
ALL_RUN = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w.sessionContext.session.kernel;
  return k.status === 'idle' && w.content.widgets.every(
      c => c.model.type !== 'code' || (c.model.executionCount !== null && c.model.executionCount > 0));
}"""
SRC_CHANGED = "([img, before]) => img.src !== before && img.complete && img.naturalWidth > 0"


def _requirements():
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed: `pip install playwright` (the test uses Debian's "
                    "chromium, so skip `playwright install`)")
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no Chromium at {CHROMIUM}: `apt-get install -y chromium` (or set DDPM_EDU_CHROMIUM)")
    pytest.importorskip("jupyterlab", reason="JupyterLab is not installed: pip install -e .[course]")
    pytest.importorskip("ipywidgets", reason="ipywidgets is not installed: pip install -e .[course]")


def _screenshots() -> Path:
    d = Path(os.environ.get("DDPM_EDU_SCREENSHOTS", HERE / "screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _move_and_wait(page, handle, img, key: str, presses: int = 3):
    before = img.evaluate("el => el.src")
    handle.focus()
    for _ in range(presses):
        page.keyboard.press(key)
    page.wait_for_function(SRC_CHANGED, arg=[img.element_handle(), before], timeout=20_000)


def _settle(page, img):
    """Wait until the kernel is idle and the picture has stopped changing (all updates arrived)."""
    page.wait_for_function(KERNEL_IDLE, timeout=20_000)
    while True:
        src = img.evaluate("el => el.src")
        page.wait_for_timeout(400)
        if img.evaluate("el => el.src") == src and page.evaluate(KERNEL_IDLE):
            return


def test_widget_gallery_renders_and_reacts_in_jupyterlab(tmp_path):
    _requirements()
    from playwright.sync_api import sync_playwright

    from lab import jupyterlab

    shots = _screenshots()
    shutil.copy(HERE / "gallery.ipynb", tmp_path / "gallery.ipynb")
    t0 = time.monotonic()
    env = {"DDPM_EDU_ROOT": str(REPO), "TQDM_DISABLE": "1"}
    with jupyterlab(tmp_path, env) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page_errors: list[str] = []
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            page.goto(f"{url}/lab/tree/gallery.ipynb")
            page.wait_for_function(KERNEL_IDLE, timeout=60_000)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_function(ALL_RUN, timeout=90_000, polling=200)
            for css in EXPLORERS:
                page.wait_for_selector(f".{css} img", timeout=30_000)
            t_run = time.monotonic() - t0

            assert page.get_by_text("Error displaying widget").count() == 0
            errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            assert errors.count() == 0, errors.first.inner_text()
            page.screenshot(path=str(shots / "gallery.png"))

            for css, n_sliders in EXPLORERS.items():
                box = page.locator(f".{css}")
                assert box.count() == 1
                box.scroll_into_view_if_needed()
                img = box.locator("img").first
                assert img.evaluate("el => el.complete && el.naturalWidth > 0")
                handles = box.locator(".widget-slider .noUi-handle")
                assert handles.count() == n_sliders
                box.screenshot(path=str(shots / f"{css}-before.png"))
                for i in range(n_sliders):
                    _move_and_wait(page, handles.nth(i), img, "ArrowRight")
                if css == "ddpm-edu-forward":  # switch schedule: the picture changes again
                    before = img.evaluate("el => el.src")
                    box.locator("select").select_option(label="linear 1e-4→0.2")
                    page.wait_for_function(SRC_CHANGED, arg=[img.element_handle(), before], timeout=20_000)
                if css == "ddpm-edu-chain":  # Play runs the chain in the browser (jslink)
                    readout = box.locator(".widget-readout").first
                    start = readout.inner_text()
                    box.locator(".widget-play button").first.click()
                    page.wait_for_function("([el, s]) => el.innerText !== s && Number(el.innerText) > Number(s) + 2",
                                           arg=[readout.element_handle(), start], timeout=20_000)
                _settle(page, img)
                if css == "ddpm-edu-bucket":  # the kernel's read-out follows the browser's slider
                    k = box.locator(".widget-readout").nth(2).inner_text()
                    assert f"= {k})" in box.locator(".widget-html").first.inner_text()
                box.screenshot(path=str(shots / f"{css}-after.png"))
            assert page.get_by_text("Error displaying widget").count() == 0
            assert not page_errors, page_errors
        finally:
            browser.close()
    print(f"browser test: notebook ran in {t_run:.1f} s, total {time.monotonic() - t0:.1f} s; "
          f"screenshots in {shots}")
