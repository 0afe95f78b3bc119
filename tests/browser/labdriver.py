"""Drive notebooks in a real JupyterLab in headless Chromium: the pieces the browser tests share.

``test_lab_widgets.py`` (the widget gallery) and ``test_lab_chapters.py`` (course chapters) both:
check that Chromium, Playwright, JupyterLab and ipywidgets are there (:func:`require_browser`), copy
a notebook into the server's folder without its outputs (:func:`copy_notebook`), open it in its own
JupyterLab workspace, run all cells and wait until every code cell has run or one has failed
(:func:`open_and_run`), move sliders with the keyboard and wait for the picture to change
(:func:`move_and_wait`), and wait for the kernel to finish the last updates (:func:`settle`).

The server itself is started by ``lab.py``; the browser is Debian's Chromium with the flags of
:mod:`ddpm_edu.web.browser` (never a browser downloaded by Playwright).
"""
from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).parent
REPO = HERE.parents[1]

KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle';
}"""
# null while cells still run; then {done: every code cell has an execution count, failed: an output
# of type "error" exists}. Run-all stops at a failing cell, so "failed" ends the wait too.
RUN_STATE = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  if (!k || k.status !== 'idle') return null;
  const cells = w.content.widgets.filter(c => c.model.type === 'code');
  const failed = cells.some(c => c.model.outputs.toJSON().some(o => o.output_type === 'error'));
  const done = cells.every(c => c.model.executionCount !== null && c.model.executionCount > 0);
  return (done || failed) ? {done, failed} : null;
}"""
# every code cell as {index, source, execution_count, outputs} (outputs in nbformat's JSON form)
CODE_CELLS = """() => window.jupyterapp.shell.currentWidget.content.widgets
  .map((c, index) => ({index, cell: c.model}))
  .filter(({cell}) => cell.type === 'code')
  .map(({index, cell}) => ({index, source: cell.sharedModel.getSource(),
                            execution_count: cell.executionCount,
                            outputs: cell.outputs.toJSON()}))"""
SRC_CHANGED = "([img, before]) => img.src !== before && img.complete && img.naturalWidth > 0"
SHUTDOWN_KERNEL = "() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()"

# Python's warnings module writes "path:line: SomeWarning: message" and then the offending source
# line, indented. Anything else on stderr (a traceback, "Killed", a logged error) is a failure.
WARNING_HEADER = re.compile(r"^.+:\d+: \w*Warning: ")


def require_chromium() -> None:
    """Skip, saying what to install, unless Playwright and Debian's Chromium are here."""
    try:
        from playwright.sync_api import sync_playwright  # noqa: F401
    except ImportError:
        pytest.skip("playwright is not installed: `pip install playwright` (the test uses Debian's "
                    "chromium, so skip `playwright install`)")
    from ddpm_edu.web.browser import CHROMIUM

    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(
            f"no Chromium at {CHROMIUM}: `apt-get install -y chromium` (or set DDPM_EDU_CHROMIUM)"
        )


def require_browser() -> None:
    """Skip, saying what to install, unless Playwright, Chromium, JupyterLab and ipywidgets are
    here."""
    require_chromium()
    pytest.importorskip(
        "jupyterlab", reason="JupyterLab is not installed: pip install -e .[course]"
    )
    pytest.importorskip(
        "ipywidgets", reason="ipywidgets is not installed: pip install -e .[course]"
    )


def screenshots_dir() -> Path:
    """``$DDPM_EDU_SCREENSHOTS`` or ``tests/browser/screenshots/`` (git-ignored), created."""
    d = Path(os.environ.get("DDPM_EDU_SCREENSHOTS", HERE / "screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def copy_notebook(src: Path, dst: Path) -> Path:
    """Copy a notebook with its outputs, execution counts and saved widget state removed, so every
    output the test sees comes from this run (and the tracked file is never touched)."""
    nb = json.loads(Path(src).read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    nb.get("metadata", {}).pop("widgets", None)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
    return dst


@dataclass
class NotebookRun:
    """A notebook opened and run in a browser page: the page, its errors, and the cells' outputs."""

    page: object                       # playwright Page
    page_errors: list[str]             # uncaught exceptions in the page (filled as they happen)
    cells: list[dict] = field(default_factory=list)  # CODE_CELLS, read when the run finished
    seconds: float = 0.0               # from opening the page to the last cell's result

    def error_outputs(self) -> list[str]:
        """Each output of type "error" as "cell N: EName: value"."""
        return [f"cell {c['index']}: {o.get('ename')}: {o.get('evalue')}"
                for c in self.cells for o in c["outputs"] if o["output_type"] == "error"]

    def stderr(self) -> list[tuple[int, str]]:
        """(cell index, text) of every stderr stream output."""
        return [(c["index"], "".join(o["text"]) if isinstance(o["text"], list) else o["text"])
                for c in self.cells for o in c["outputs"]
                if o["output_type"] == "stream" and o.get("name") == "stderr"]

    def stderr_not_warnings(self) -> list[tuple[int, str]]:
        """stderr lines that are not part of a Python warning (its header or its indented source
        line)."""
        return [(i, line) for i, text in self.stderr() for line in text.splitlines()
                if line.strip() and not WARNING_HEADER.match(line) and not line[:1].isspace()]


@dataclass
class LabSession:
    """A running JupyterLab (``url``, serving ``root``) and a headless Chromium to open pages in."""

    root: Path
    url: str
    browser: object                    # playwright Browser
    start_seconds: float               # server start + browser launch

    def run_notebook(self, src: Path, dest: str, timeout_s: float = 180.0) -> NotebookRun:
        """Copy ``src`` without outputs to ``root/dest`` and :func:`open_and_run` it there."""
        copy_notebook(src, self.root / dest)
        return open_and_run(self.browser, self.url, dest, timeout_s)


def open_and_run(browser, url: str, path: str, timeout_s: float = 180.0) -> NotebookRun:
    """Open ``path`` (relative to the server's root) in a new page and a workspace of its own (no
    layout carried over from another notebook), run all cells, and return when every code cell has
    run or one has failed. The caller closes ``run.page`` (:func:`close`)."""
    t0 = time.monotonic()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    run = NotebookRun(page, [])
    page.on("pageerror", lambda e: run.page_errors.append(str(e)))
    workspace = re.sub(r"[^A-Za-z0-9_-]", "-", Path(path).stem)
    try:
        page.goto(f"{url}/lab/workspaces/{workspace}/tree/{path}")
        page.wait_for_function(KERNEL_IDLE, timeout=60_000)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        state = page.wait_for_function(
            RUN_STATE, timeout=timeout_s * 1000, polling=200
        ).json_value()
        run.cells = page.evaluate(CODE_CELLS)
        run.seconds = time.monotonic() - t0
        assert not state["failed"], f"{path}: a cell failed: {run.error_outputs()}"
    except BaseException:
        close(run)  # a failed notebook must not keep its kernel running for the tests after it
        raise
    return run


def close(run: NotebookRun) -> None:
    """Shut the notebook's kernel down (it would keep its memory until the server stops), close the
    page."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        if run.page.evaluate(
            "() => !!(window.jupyterapp && window.jupyterapp.shell.currentWidget)"
        ):
            run.page.evaluate(SHUTDOWN_KERNEL)
    except PlaywrightError:
        # the page crashed or never loaded: the kernel stops with the server, at the session's end
        pass
    finally:
        run.page.close()


def assert_widgets_fine(run: NotebookRun) -> None:
    """No widget failed to display ("Error displaying widget") and the page raised no exception."""
    assert run.page.get_by_text("Error displaying widget").count() == 0
    assert not run.page_errors, run.page_errors


def move_every_slider(page, box, n_sliders: int, shot: Path):
    """In one explorer ``box``: its picture is drawn, it has ``n_sliders`` sliders, a screenshot
    goes to ``shot``, then each slider is moved and must change the picture. Returns the picture."""
    box.scroll_into_view_if_needed()
    img = box.locator("img").first
    assert img.evaluate("el => el.complete && el.naturalWidth > 0")
    handles = box.locator(".widget-slider .noUi-handle")
    assert handles.count() == n_sliders
    box.screenshot(path=str(shot))
    for i in range(n_sliders):
        move_and_wait(page, handles.nth(i), img, "ArrowRight")
    return img


def move_and_wait(page, handle, img, key: str, presses: int = 3) -> None:
    """Focus a slider handle, press ``key`` ``presses`` times, and wait until the picture
    changes."""
    before = img.evaluate("el => el.src")
    handle.focus()
    for _ in range(presses):
        page.keyboard.press(key)
    wait_for_new_picture(page, img, before)


def wait_for_new_picture(page, img, before: str) -> None:
    """Wait until ``img`` shows a picture other than ``before`` (its old src), fully loaded."""
    page.wait_for_function(SRC_CHANGED, arg=[img.element_handle(), before], timeout=20_000)


def settle(page, img) -> None:
    """Wait until the kernel is idle and the picture has stopped changing (all updates arrived)."""
    page.wait_for_function(KERNEL_IDLE, timeout=20_000)
    while True:
        src = img.evaluate("el => el.src")
        page.wait_for_timeout(400)
        if img.evaluate("el => el.src") == src and page.evaluate(KERNEL_IDLE):
            return
