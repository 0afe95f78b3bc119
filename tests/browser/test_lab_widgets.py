"""Every explorer of ddpm_edu.viz in a real JupyterLab, in a real (headless) browser.

JupyterLab is started on 127.0.0.1 (``lab.py``, through the ``lab`` fixture of ``conftest.py``);
Playwright drives Debian's Chromium (never a browser downloaded by Playwright). The gallery notebook
is copied to a temporary folder (so the tracked file never gets outputs), all its cells are run
(``labdriver.py``), and then for each explorer: no "Error displaying widget", every slider moved
with the keyboard changes the picture, the schedule drop-down and the Play button work. Screenshots
go to ``$DDPM_EDU_SCREENSHOTS`` or ``tests/browser/screenshots/``.

Skips (with the reason) when Chromium, Playwright, JupyterLab or ipywidgets is missing. Install:
    apt-get install -y chromium
    pip install playwright          # no `playwright install`: the test uses /usr/bin/chromium
"""
from __future__ import annotations

import time

from labdriver import (HERE, assert_widgets_fine, close, move_every_slider, screenshots_dir, settle,
                       wait_for_new_picture)

# CSS class of each explorer's box → number of sliders in it
EXPLORERS = {"ddpm-edu-forward": 1, "ddpm-edu-kl": 4, "ddpm-edu-bucket": 3, "ddpm-edu-chain": 1}


def test_widget_gallery_renders_and_reacts_in_jupyterlab(lab):
    shots = screenshots_dir()
    t0 = time.monotonic()
    run = lab.run_notebook(HERE / "gallery.ipynb", "gallery.ipynb", timeout_s=90)
    page = run.page
    try:
        for css in EXPLORERS:
            page.wait_for_selector(f".{css} img", timeout=30_000)
        t_run = time.monotonic() - t0

        assert_widgets_fine(run)
        errors = page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        )
        assert errors.count() == 0, errors.first.inner_text()
        page.screenshot(path=str(shots / "gallery.png"))

        for css, n_sliders in EXPLORERS.items():
            box = page.locator(f".{css}")
            assert box.count() == 1
            img = move_every_slider(page, box, n_sliders, shots / f"{css}-before.png")
            if css == "ddpm-edu-forward":  # switch schedule: the picture changes again
                before = img.evaluate("el => el.src")
                box.locator("select").select_option(label="linear 1e-4→0.2")
                wait_for_new_picture(page, img, before)
            if css == "ddpm-edu-chain":  # Play runs the chain in the browser (jslink)
                readout = box.locator(".widget-readout").first
                start = readout.inner_text()
                box.locator(".widget-play button").first.click()
                page.wait_for_function(
                    "([el, s]) => el.innerText !== s && Number(el.innerText) > Number(s) + 2",
                    arg=[readout.element_handle(), start],
                    timeout=20_000,
                )
            settle(page, img)
            if css == "ddpm-edu-bucket":  # the kernel's read-out follows the browser's slider
                k = box.locator(".widget-readout").nth(2).inner_text()
                assert f"= {k})" in box.locator(".widget-html").first.inner_text()
            box.screenshot(path=str(shots / f"{css}-after.png"))
        assert_widgets_fine(run)
    finally:
        close(run)
    print(
        f"browser test: server and browser started in {lab.start_seconds:.1f} s (shared), "
        f"notebook ran in {t_run:.1f} s, total {time.monotonic() - t0:.1f} s; "
        f"screenshots in {shots}"
    )
