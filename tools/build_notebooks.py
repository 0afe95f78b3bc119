#!/usr/bin/env python3
"""Build the course notebooks from their Python sources and execute them, so outputs are never
edited by hand.

Sources live in ``notebooks/src/NN_name.py`` in the "percent" format::

    # A header comment before the first marker is dropped (say here what the file is).

    # %% [markdown]
    # # Chapter title
    # Markdown lines are comments: "# " is stripped, a bare "#" is an empty line.

    # %%
    import torch                      # a code cell, kept verbatim (IPython magics such as
    %matplotlib inline                # %matplotlib are allowed: sources are not run as Python)

Each becomes ``notebooks/NN_name.ipynb``: cells in order (leading and trailing blank lines
removed), deterministic cell ids, the ``python3`` kernelspec and no machine-specific metadata. It is
then executed with nbclient in a kernel running this interpreter (the working directory is
``notebooks/``), without saving widget state or timing metadata, and refused if any output holds
an error, a machine path or a memory address.

Usage::

    python tools/build_notebooks.py                 # rebuild and execute every notebook
    python tools/build_notebooks.py 01 02_kl...     # only these (number prefix, stem or path)
    python tools/build_notebooks.py --check         # exit 1 unless every .ipynb matches its source

Rebuilding prints the time each notebook took to execute (quoted in the README's chapter table).
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SRC = NOTEBOOKS / "src"

_MARKER = re.compile(r"^# %%(.*)$")
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}


class SourceError(ValueError):
    """A notebook source breaks the percent format; the message names the file and line."""


# ---- source → cells ------------------------------------------------------------------------------
def parse_source(text: str, name: str = "<source>") -> list[tuple[str, str]]:
    """Split a percent-format source into ``[(cell_type, source), ...]``.

    ``# %%`` starts a code cell, ``# %% [markdown]`` a markdown cell whose lines must all be
    comments ("# text" or "#"). Lines before the first marker are a header and are dropped.
    """
    cells: list[tuple[str, list[str], int]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        m = _MARKER.match(line)
        if m:
            kind = m.group(1).strip()
            if kind not in ("", "[markdown]"):
                raise SourceError(f"{name}:{lineno}: unknown cell marker {line!r}; use '# %%' for "
                                  "code or '# %% [markdown]' for Markdown.")
            cells.append(("markdown" if kind else "code", [], lineno))
            continue
        if not cells:
            continue  # header
        kind, lines, start = cells[-1]
        if kind == "markdown":
            if line.strip() == "":
                lines.append("")
            elif line == "#" or line.startswith("# "):
                lines.append(line[2:])
            else:
                raise SourceError(f"{name}:{lineno}: a Markdown cell (started at line {start}) may "
                                  f"only hold comment lines ('# text' or '#'), got {line!r}.")
        else:
            lines.append(line)
    out = []
    for kind, lines, start in cells:
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if not lines:
            raise SourceError(f"{name}:{start}: empty cell; remove the marker or add content.")
        out.append((kind, "\n".join(lines)))
    if not out:
        raise SourceError(f"{name}: no cells; start cells with '# %%' or '# %% [markdown]'.")
    return out


def make_notebook(cells: list[tuple[str, str]]):
    """An unexecuted nbformat v4 notebook with clean metadata and deterministic cell ids."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)}
    for i, (kind, source) in enumerate(cells):
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        nb.cells.append(make(source=source, id=f"cell-{i:03d}"))
    return nb


def notebook_cells(nb) -> list[tuple[str, str]]:
    """``[(cell_type, source), ...]`` of a notebook, for comparing with its source."""
    return [(c.cell_type, c.source) for c in nb.cells]


# ---- execution and hygiene -----------------------------------------------------------------------
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")


def _machine_paths() -> list[str]:
    paths = {str(ROOT), str(Path.home()), sys.prefix, sys.base_prefix, "/tmp/", "site-packages"}
    return sorted(p for p in paths if p and p != "/")


def output_texts(output) -> list[str]:
    """Every text an output carries (stream text, text/* and JSON data, error fields)."""
    texts = []
    if output.get("output_type") == "stream":
        texts.append(output.get("text", ""))
    elif output.get("output_type") == "error":
        texts += [output.get("ename", ""), output.get("evalue", "")] + list(
            output.get("traceback", [])
        )
    for mime, value in output.get("data", {}).items():
        if mime.startswith("text/") or mime.endswith("json"):
            texts.append(value if isinstance(value, str) else str(value))
    return texts


def problems(nb) -> list[str]:
    """What makes an executed notebook unfit to commit: unrun cells, errors, paths, addresses."""
    found = []
    paths = _machine_paths()
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        where = f"cell {i} ({cell.source.splitlines()[0][:50]!r})" if cell.source else f"cell {i}"
        if cell.get("execution_count") is None:
            found.append(f"{where}: no execution_count (not executed)")
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"{where}: error output {out.get('ename')}: {out.get('evalue')}")
            for text in output_texts(out):
                for p in paths:
                    if p in text:
                        found.append(f"{where}: output contains the machine path {p!r}")
                m = _ADDRESS.search(text)
                if m:
                    found.append(f"{where}: output contains a memory address {m.group(0)}")
    return found


def execute(nb, timeout: int = 600):
    """Run every cell in a fresh kernel of this interpreter, working directory ``notebooks/``."""
    from nbclient import NotebookClient

    # kernel "python3": jupyter_client runs its argv[0] "python" as sys.executable, so the kernel
    # is this interpreter (the same one nbval's --nbval-current-env uses).
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=False,
                            store_widget_state=False, record_timing=False,
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    return nb


# ---- commands ------------------------------------------------------------------------------------
def sources() -> list[Path]:
    return sorted(SRC.glob("[0-9][0-9]_*.py"))


def select(names: list[str]) -> list[Path]:
    """Sources matching each name: "01", "01_forward_noising", or a path to the .py or .ipynb."""
    all_src = sources()
    if not names:
        return all_src
    chosen = []
    for name in names:
        stem = Path(name).stem
        hits = [p for p in all_src if p.stem == stem or p.stem.startswith(stem + "_")]
        if not hits:
            known = ", ".join(p.stem for p in all_src) or "none"
            raise SystemExit(f"no notebook source matches {name!r} in {SRC.relative_to(ROOT)}/ "
                             f"(known: {known}).")
        chosen += [p for p in hits if p not in chosen]
    return chosen


def build(src: Path, timeout: int) -> float:
    """Build and execute one notebook; returns the execution time in seconds."""
    import nbformat

    cells = parse_source(src.read_text(encoding="utf-8"), str(src.relative_to(ROOT)))
    nb = make_notebook(cells)
    start = time.perf_counter()
    try:
        execute(nb, timeout=timeout)
    except Exception as e:  # CellExecutionError carries the cell and the traceback
        raise SystemExit(f"{src.stem}: execution failed, notebook not written.\n{e}") from None
    seconds = time.perf_counter() - start
    found = problems(nb)
    if found:
        raise SystemExit(f"{src.stem}: not written, its outputs are unfit to commit:\n  "
                         + "\n  ".join(found))
    nbformat.validate(nb)
    nbformat.write(nb, NOTEBOOKS / f"{src.stem}.ipynb")
    return seconds


def check() -> list[str]:
    """Mismatches between sources and notebooks (empty when everything is in step)."""
    import nbformat

    issues = []
    srcs = sources()
    for src in srcs:
        ipynb = NOTEBOOKS / f"{src.stem}.ipynb"
        if not ipynb.exists():
            issues.append(f"{ipynb.name}: missing; run python tools/build_notebooks.py {src.stem}")
            continue
        want = parse_source(src.read_text(encoding="utf-8"), src.name)
        got = notebook_cells(nbformat.read(ipynb, as_version=4))
        if got != want:
            n = next(
                (i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want))
            )
            issues.append(f"{ipynb.name}: out of step with src/{src.name} from cell {n} on "
                          f"({len(got)} cells in the notebook, {len(want)} in the source); rebuild "
                          f"with python tools/build_notebooks.py {src.stem}")
    stems = {s.stem for s in srcs}
    for ipynb in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        if ipynb.stem not in stems:
            issues.append(
                f"{ipynb.name}: has no source notebooks/src/{ipynb.stem}.py (notebooks are "
                "built from sources, never edited by hand)"
            )
    return issues


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="notebooks to build (default: all), e.g. 01 or "
                                                  "01_forward_noising")
    parser.add_argument("--check", action="store_true",
                        help="only verify that each .ipynb matches its source; exit 1 if not")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (600)")
    args = parser.parse_args(argv)
    if args.check:
        issues = check()
        for line in issues:
            print(line)
        if not issues:
            print(f"{len(sources())} notebook(s) in step with notebooks/src/")
        return 1 if issues else 0
    chosen = select(args.names)
    total = 0.0
    for src in chosen:
        seconds = build(src, args.timeout)
        total += seconds
        print(f"{src.stem}.ipynb  executed in {seconds:.1f} s", flush=True)
    if len(chosen) > 1:
        print(f"total  {total:.1f} s for {len(chosen)} notebooks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
