#!/usr/bin/env python3
"""Measure how long chapters take with their full settings (``FULL_SIZE = True``).

Each chapter is built from ``notebooks/src/`` exactly as ``build_notebooks.py`` builds it, with the
single line ``FULL_SIZE = False`` switched to ``True``, executed in a fresh kernel (working
directory ``notebooks/``), and timed. Nothing is written into ``notebooks/``: the executed copy is
thrown away (or saved under ``--out`` to look at).
The chapters quote these times in their settings cell.

    python tools/time_full_size.py 01 02 04          # some chapters
    python tools/time_full_size.py --json times.json # every chapter, results as JSON
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_notebooks import ROOT, execute, make_notebook, parse_source, problems, select  # noqa: E402

SWITCH = "FULL_SIZE = False"


def full_size_notebook(src: Path):
    """The chapter's notebook with its one ``FULL_SIZE = False`` line set to True."""
    nb = make_notebook(parse_source(src.read_text(encoding="utf-8"), str(src.relative_to(ROOT))))
    hits = [c for c in nb.cells if c.cell_type == "code" and SWITCH in c.source.splitlines()]
    if len(hits) != 1:
        raise SystemExit(
            f"{src.name}: expected exactly one code line {SWITCH!r}, found {len(hits)}."
        )
    lines = hits[0].source.splitlines()
    hits[0].source = "\n".join("FULL_SIZE = True" if line == SWITCH else line for line in lines)
    return nb


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="chapters (number prefix or stem; default: all)")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds allowed per cell")
    ap.add_argument("--json", type=Path, help="also write the times here")
    ap.add_argument("--out", type=Path, help="save the executed notebooks in this folder")
    a = ap.parse_args(argv)
    results = {}
    for src in select(a.names):
        nb = full_size_notebook(src)
        start = time.perf_counter()
        execute(nb, timeout=a.timeout)
        seconds = time.perf_counter() - start
        bad = problems(nb)
        results[src.stem] = round(seconds, 1)
        print(
            f"{src.stem:<28} FULL_SIZE = True: {seconds:7.1f} "
            f"s{'  PROBLEMS: ' + '; '.join(bad) if bad else ''}",
            flush=True,
        )
        if a.out:
            import nbformat
            a.out.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, a.out / f"{src.stem}.ipynb")
    if a.json:
        a.json.write_text(json.dumps({"seconds": results, "machine": platform.machine(),
                                      "cpus": __import__("os").cpu_count()}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
