"""Course chapters 1–4, 8 and 9 in a real JupyterLab, in a real (headless) browser, as a learner
runs them.

Each chapter is copied without its outputs into the temporary folder served by the shared JupyterLab
(the ``lab`` fixture of ``conftest.py``; the tracked notebook never gets outputs), opened in
headless Chromium and run cell by cell with "Run All", in the environment of the nbval run (the
chapters' default ``FULL_SIZE = False``) plus ``TQDM_DISABLE=1``. Then:

- every code cell ran, and no output is an error (a traceback);
- stderr holds nothing but Python warnings: ``notebooks/conftest.py`` lets nbval ignore stderr
  because library warnings vary between installs, so warnings are printed, not failed on, but a
  traceback or any other text there fails;
- the page raised no JavaScript error and shows no "Error displaying widget";
- the chapter shows exactly the explorers of ``CHAPTERS`` (so losing or adding one fails here),
  every slider of each, moved with the keyboard, changes the picture, and so does every drop-down.

Screenshots (``chapter01.png``, ``chapter01-ddpm-edu-forward-before.png``, ``…-after.png``) go to
``$DDPM_EDU_SCREENSHOTS`` or ``tests/browser/screenshots/``. Skips (with the reason) when Chromium,
Playwright, JupyterLab or ipywidgets is missing; see ``test_lab_widgets.py`` for the install lines.
"""
from __future__ import annotations

import time
from collections import Counter

import pytest

from labdriver import (REPO, assert_widgets_fine, close, move_every_slider, screenshots_dir, settle,
                       wait_for_new_picture)

# chapter → {CSS class of an explorer's box: number of sliders in it}, from notebooks/src/:
# ForwardExplorer (t; plus the schedule drop-down), KLExplorer (μ_p, σ_p, μ_q, σ_q),
# BucketExplorer (μ, σ_1, pixel k; plus the "exact Φ" check box, whose picture may not change),
# VLBTermExplorer (t; plus the image drop-down), DDIMExplorer (steps, η),
# FastEstimatorExplorer (K; plus the "L_0 always" check box).
CHAPTERS = {
    "01_forward_noising": {"ddpm-edu-forward": 1},
    "02_kl_of_gaussians": {"ddpm-edu-kl": 4},
    "03_vlb_decomposition": {"ddpm-edu-vlb-terms": 1},
    "04_discretized_decoder": {"ddpm-edu-bucket": 3},
    "08_faster_sampling": {"ddpm-edu-ddim": 2},
    "09_evaluation": {"ddpm-edu-fast-estimator": 1},
}
# the class of every explorer box (ddpm_edu.viz.widgets.Explorer); the other ddpm-edu-* class names
# it
EXPLORER_KINDS = """els => els.map(e => [...e.classList].filter(
  c => c.startsWith('ddpm-edu-') && c !== 'ddpm-edu-explorer').join(' '))"""


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_chapter_runs_and_its_explorers_react_in_jupyterlab(lab, chapter):
    shots = screenshots_dir()
    tag = f"chapter{chapter[:2]}"
    expected = CHAPTERS[chapter]
    t0 = time.monotonic()
    run = lab.run_notebook(REPO / "notebooks" / f"{chapter}.ipynb", f"notebooks/{chapter}.ipynb",
                           timeout_s=240)
    page = run.page
    try:
        t_run = time.monotonic() - t0
        assert run.cells and all(c["execution_count"] for c in run.cells)
        assert not run.error_outputs(), run.error_outputs()
        bad = run.stderr_not_warnings()
        assert not bad, f"{chapter} wrote more than warnings to stderr: {bad}"
        for i, text in run.stderr():
            print(
                f"{chapter}, cell {i}, warning on stderr (allowed, as under nbval): {text.strip()}"
            )

        for css in expected:
            page.wait_for_selector(f".{css} img", timeout=30_000)
        assert_widgets_fine(run)
        found = Counter(page.locator(".ddpm-edu-explorer").evaluate_all(EXPLORER_KINDS))
        assert found == Counter(list(expected)), (
            f"{chapter} shows the explorers {dict(found)}, expected {expected}: update CHAPTERS if "
            "the chapter changed on purpose")

        for css, n_sliders in expected.items():
            box = page.locator(f".{css}")
            img = move_every_slider(page, box, n_sliders, shots / f"{tag}-{css}-before.png")
            selects = box.locator("select")
            for i in range(selects.count()):  # pick the next option: the picture changes again
                select = selects.nth(i)
                before = img.evaluate("el => el.src")
                select.select_option(
                    index=select.evaluate("s => (s.selectedIndex + 1) % s.options.length")
                )
                wait_for_new_picture(page, img, before)
            settle(page, img)
            box.screenshot(path=str(shots / f"{tag}-{css}-after.png"))
        page.screenshot(path=str(shots / f"{tag}.png"))
        assert_widgets_fine(run)
    finally:
        close(run)
    print(
        f"{chapter}: {len(run.cells)} code cells ran in {t_run:.1f} s, "
        f"total {time.monotonic() - t0:.1f} s "
        f"(server and browser, shared: {lab.start_seconds:.1f} s); screenshots in {shots}"
    )
