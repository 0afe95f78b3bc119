"""``ddpm-edu time-web``: ms per step of each model version of an exported page, in Chromium."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import MissingFile, UserError
from . import _common

HELP = "time an exported page in headless Chromium: ms per step of each model version"

DESCRIPTION = """\
Serve a page written by `ddpm-edu export-web` on 127.0.0.1, open it in headless Chromium and time
each model version (fp32, int8, int8-dynamic) in turns, --reps runs each, so that all see the same
machine load; the first step of every run (warm-up) is left out. On a shared machine only the
ratios mean something. Needs Debian's Chromium (apt-get install -y chromium, or the path in
$DDPM_EDU_CHROMIUM) and the Python package playwright (never `playwright install`).
(Also reachable as: python -m ddpm_edu.web.browser SITE ...)

examples:
  ddpm-edu time-web site --reps 12 --n 16 --steps 10"""

SIZES = (1, 4, 9, 16, 25, 36, 64)  # = ddpm_edu.web.site.SIZES, written out: --help stays light


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("site", metavar="SITE", help="a folder written by ddpm-edu export-web")
    parser.add_argument("--reps", type=int, default=12, help="runs per version (default 12)")
    parser.add_argument("--n", type=int, default=16, choices=SIZES, metavar="N",
                        help="images per run: 1, 4, 9, 16, 25, 36 or 64 (default 16)")
    parser.add_argument("--steps", type=int, default=10, help="DDIM steps per run (default 10)")


def run(args) -> int:
    if not (Path(args.site) / "index.html").is_file():
        raise MissingFile(f"{args.site} has no index.html; export a page first: "
                          f"ddpm-edu export-web --checkpoint mnist --out {args.site}")
    for name, most in (("reps", 1000), ("steps", 1000)):
        value = getattr(args, name)
        if value < 1:
            raise UserError(f"--{name} must be at least 1, got {value}.")
        _common.at_most(f"--{name}", value, most, "a timing run, not a week")
    try:
        import playwright  # noqa: F401
    except ImportError:
        raise UserError("timing the page needs the Python package playwright: "
                        "pip install -e \".[web]\" (and Debian's chromium).") from None
    from ..web.browser import time_versions

    print(json.dumps(time_versions(args.site, args.reps, args.n, args.steps), indent=1))
    return 0
