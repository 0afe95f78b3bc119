"""Time an exported page in headless Chromium: ms per step of each model version, side by side.

    ddpm-edu time-web site --reps 12 --n 16 --steps 10     (or: python -m ddpm_edu.web.browser ...)

Needs Debian's Chromium (``apt-get install -y chromium``) and the Python package playwright
(never ``playwright install``: the browser is /usr/bin/chromium, or ``$DDPM_EDU_CHROMIUM``). The
page is served on 127.0.0.1 by :mod:`ddpm_edu.web.server`; the versions (fp32, int8,
int8-dynamic) take turns, ``reps`` runs each, so all see the same machine load; the first step of
every run (warm-up) is left out. On a shared machine only the ratios mean something.
"""
from __future__ import annotations

import os
import statistics

__all__ = ["CHROMIUM", "FLAGS", "launch", "time_versions"]

CHROMIUM = os.environ.get("DDPM_EDU_CHROMIUM", "/usr/bin/chromium")
# without the networking flags Chromium keeps trying to reach the internet
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def launch(playwright):
    """Headless Debian Chromium through a started Playwright (``sync_playwright().start()``)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)


def time_versions(site_dir, reps: int = 12, n: int = 16, steps: int = 10, seed: int = 1) -> dict:
    """Median ms per step (network + update, and the network alone) of each model version."""
    from playwright.sync_api import sync_playwright

    from .server import serve_in_thread

    server, url = serve_in_thread(site_dir)
    times: dict[str, dict[str, list]] = {}
    pw = sync_playwright().start()
    try:
        browser = launch(pw)
        page = browser.new_page()
        page.set_default_timeout(600_000)
        page.goto(f"{url}index.html?steps={steps}&n={n}&seed={seed}")
        page.wait_for_function("() => window.ddpmEdu.ready || window.ddpmEdu.error")
        if page.evaluate("() => window.ddpmEdu.error"):
            raise RuntimeError(page.text_content("#status"))
        status = page.text_content("#status")
        versions = page.evaluate("() => Object.keys(window.ddpmEdu.manifest.models)")
        for _ in range(reps):
            for version in versions:
                page.select_option("#precision", version)
                page.click("#generate")
                page.wait_for_function(
                    "v => { const r = window.ddpmEdu.lastRun; return r && r.done && "
                    "r.options.precision === v; }",
                    arg=version,
                )
                step, net = page.evaluate("() => [window.ddpmEdu.lastRun.msPerStep, "
                                          "window.ddpmEdu.lastRun.netMsPerStep]")
                t = times.setdefault(version, {"step": [], "net": []})
                t["step"] += step[1:]
                t["net"] += net[1:]
                page.wait_for_function("() => !document.getElementById('generate').disabled")
        browser.close()
    finally:
        pw.stop()
        server.shutdown()
        server.server_close()
    base = statistics.median(times[versions[0]]["step"])
    return {"status": status, "n": n, "steps": steps, "reps": reps, "load_average": os.getloadavg(),
            "versions": {v: {"ms_per_step": statistics.median(t["step"]),
                             "network_ms_per_step": statistics.median(t["net"]),
                             f"ratio_to_{versions[0]}": statistics.median(t["step"]) / base,
                             "steps_timed": len(t["step"])} for v, t in times.items()}}


if __name__ == "__main__":  # the command line lives in ddpm_edu/commands/time_web.py
    import sys

    from ddpm_edu.cli import main

    raise SystemExit(main(["time-web", *sys.argv[1:]]))
