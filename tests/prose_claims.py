"""Every number the chapters' prose states, and how it is recomputed (used by test_prose_claims.py).

The test reads the markdown cells of ``notebooks/src/NN_*.py`` and finds every number in them.
Each must be either

* **accounted for by a row of** ``CLAIMS[NN]`` (``prose_claims_table.py``): the exact text
  fragment that holds it
  (whitespace as in the source, a line break read as one space) and the number as printed inside
  that fragment, with

  - ``measured(fragment, number, fn)`` — a measured or derived claim: ``fn()`` recomputes it from
    the library (schedules, closed forms), from a chapter's settings, or from the files the chapter
    loads (the model cards ``data/checkpoints/*.md``, the JSON of a long run); the printed number
    must equal the recomputed one to the digits printed (half a unit of the last digit), or within
    ``tol`` for a number stated with "about"/"≈";
  - ``setting(fragment, number, fn)`` — a definition or a setting the prose quotes (DDPM's
    ``T = 1000``, the tour's 16 digits): ``fn()`` reads it from the library's defaults or the
    chapter's code, so the prose cannot drift from what runs;
  - ``cited(fragment, number, source)`` — a published number quoted from a paper (no code can
    recompute it; ``source`` says where it is printed);
  - ``given(fragment, number)`` — a number an exercise or an example poses ("a bound of 700 nats",
    "a 95 % interval of ±0.01"): the data of a question, not a statement about the world;

* or **not a claim**, by one of these rules (``NOT_A_CLAIM``), and only these:

  1. heading lines (section and exercise numbers);
  2. display math ``$$ … $$`` (formulas: their constants are the definition itself);
  3. inline code `` `…` `` (code the reader runs; its output is checked by the notebook tests);
  4. a numbered list's marker at the start of a line (``1. ``);
  5. the integers 0, 1 and 2 standing alone (indices t = 1, x_0, N(0, 1), halves and squares),
     except after ≫, ≪ or ≈ ("√ᾱ_T·255 ≫ 1" is a claim: write the computed number
     instead);
  6. references: "chapter 3", "chapters 2–4", "exercise 1.3", "section 5", "equation (4)",
     "Fault 3" (ch. 9's planted faults);
  7. a citation's year: "Ho et al. 2020", "(Dinh et al., 2017)", "Ho, Jain & Abbeel 2020",
     "Vincent (2011)", "Song et al.'s (2021)";
  8. digits inside a name: float32, MD5, SHA-256, 8-bit;
  9. an integer alone in the first cell of a table row (the row's number, e.g. the course map);
  10. subscripts: β_{10}, c_{2,t}, L_9 (an index names the quantity; its value needs a row);
  11. the 8-bit data's own constants 255, 256 and 127.5 (k ∈ {0..255}, 256 buckets,
      x = k/127.5 − 1), which every chapter restates: they are the data's definition, tested by
      ``to_model_range``'s tests.

Timings stated in prose ("runs in about a minute") are ``measured`` against the README's chapter
table, which ``tools/build_notebooks.py`` measures.

A number added to a chapter's prose without a row fails the test with a message naming the file,
the line and the row to add. The rows live in ``prose_claims_table.py``; chapters not yet
covered are listed there in ``NOT_YET_COVERED``.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "notebooks" / "src"
CHECKPOINTS = ROOT / "data" / "checkpoints"


@dataclass(frozen=True)
class Claim:
    kind: str                                  # "measured", "setting" or "cited"
    fragment: str                              # the prose text that holds the number
    number: str                                # the number as printed inside the fragment
    value: Callable[[], float] | None = None   # recomputes it (None only for "cited")
    tol: float | None = None                   # absolute; default: half a unit of the last digit
    source: str = ""                           # for "cited": where the number is published
    log10: bool = False                        # "10^{k}" stated for its order of magnitude:
                                               # value() returns log10 of the quantity


def order_of_magnitude(fragment, number, fn):
    """A measured "about 10^{k}": ``fn()`` returns log10 of the quantity, which must round to k."""
    return Claim("measured", fragment, number, fn, 0.5, log10=True)


def measured(fragment, number, fn, tol=None):
    return Claim("measured", fragment, number, fn, tol)


def setting(fragment, number, fn, tol=None):
    return Claim("setting", fragment, number, fn, tol)


def cited(fragment, number, source):
    return Claim("cited", fragment, number, None, None, source)


def given(fragment, number):
    return Claim("given", fragment, number)


# ---- reading the prose --------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    text: str                   # the markdown, "# " stripped per line, lines joined by one space
    lines: tuple                # (offset in text, source line number, line text) per line


def markdown_cells(path: Path) -> list[Cell]:
    """The markdown cells of a percent-format chapter source (see tools/build_notebooks.py)."""
    cells, current, in_md = [], [], False
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if line.startswith("# %%"):
            if current:
                cells.append(current)
            current, in_md = [], "[markdown]" in line
        elif in_md and (line.startswith("# ") or line == "#"):
            current.append((number, line[2:].rstrip()))
    if current:
        cells.append(current)
    out = []
    for lines in cells:
        text, spans = "", []
        for number, line in lines:
            spans.append((len(text), number, line))
            text += line.strip() + " "
        out.append(Cell(text, tuple(spans)))
    return out


NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_REFERENCE = re.compile(
    r"(?i)\b(?:chapters?|sections?|exercises?|equations?|eqs?\.|fault)\s*\(?\d+(?:\.\d+)?\)?"
    r"(?:\s*(?:–|-|,|and|or)\s*\(?\d+(?:\.\d+)?\)?)*")
_CITATION_YEAR = re.compile(r"(?:et al\.|&\s*\w+|\(\w+|\b[A-Z][a-z]+),?\s*(?:19|20)\d\d\b"
                            r"|\b[A-Z][a-z]+(?: et al\.(?:'s)?)? \((?:19|20)\d\d\)")
NOT_A_CLAIM = {
    "display math": re.compile(r"\$\$.*?\$\$"),
    "inline code": re.compile(r"`[^`]*`"),
    "reference": _REFERENCE,
    "citation year": _CITATION_YEAR,
    "name": re.compile(r"(?<=[A-Za-z])-?\d+|\b\d+-bit\b"),
    "subscript": re.compile(r"_\{[^}$]*\}|_\d+"),
    "row number": re.compile(r"^\| *\d+ *\|"),
}


_COMPARED = re.compile(r"(?:≫|≪|≈|\\gg|\\ll|\\approx|\\lesssim|\\gtrsim)\s*$")


def _masked(cell: Cell) -> list[tuple[int, int]]:
    spans = [m.span() for name, rule in NOT_A_CLAIM.items() if name != "row number"
             for m in rule.finditer(cell.text)]
    for offset, _, line in cell.lines:
        if line.startswith("#"):                                   # a heading
            spans.append((offset, offset + len(line)))
        row = NOT_A_CLAIM["row number"].match(line)
        if row:
            spans.append((offset, offset + row.end()))
        marker = re.match(r"\s*\d+\.\s", line)                     # a numbered list's marker
        if marker:
            spans.append((offset, offset + marker.end()))
    return spans


def numbers_needing_a_claim(cell: Cell):
    """Yield (start, end, text) of each number in the cell that no rule exempts."""
    masked = _masked(cell)
    for m in NUMBER.finditer(cell.text):
        if any(a <= m.start() and m.end() <= b for a, b in masked):
            continue
        if m.group() in ("0", "1", "2") and not _COMPARED.search(cell.text[:m.start()]):
            continue
        if m.group() in ("255", "256", "127.5"):
            continue
        yield m.start(), m.end(), m.group()


def line_of(cell: Cell, position: int) -> tuple[int, str]:
    for offset, number, line in reversed(cell.lines):
        if offset <= position:
            return number, line
    raise AssertionError("position before the cell")


# ---- parsing a printed number -------------------------------------------------------------------
_PRINTED = re.compile(r"^(?P<m>\d+(?:[.,]\d+)*)?\s*"
                      r"(?:(?:\\times|\\cdot|×|·)?\s*10\^\{?(?P<e>[-−]?\d+)\}?)?"
                      r"(?:e(?P<e2>[-−]?\d+))?\s*%?$")


def parse_printed(text: str) -> tuple[float, float]:
    """The value of a printed number and half a unit of its last digit: "0.006" → (0.006, 5e-4),
    "4 \\times 10^{-5}" → (4e-5, 5e-6), "10^{-4}" → (1e-4, 0), "1,000" → (1000, 0.5),
    "1e−4"."""
    m = _PRINTED.match(text.strip())
    if not m or not (m["m"] or m["e"]):
        raise ValueError(f"cannot read {text!r} as a number")
    mantissa = (m["m"] or "1").replace(",", "")
    exponent = int((m["e"] or m["e2"] or "0").replace("−", "-"))
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    half_unit = 0.0 if m["e"] and not m["m"] else 0.5 * 10.0 ** (exponent - decimals)
    return float(mantissa) * 10.0 ** exponent, half_unit


# ---- sources the claims are recomputed from ------------------------------------------------------
@cache
def model_card(name: str) -> str:
    return (CHECKPOINTS / f"{name}.md").read_text(encoding="utf-8")


def card_number(name: str, pattern: str) -> float:
    """The first number captured by ``pattern`` (a regex with one group) in a model card."""
    m = re.search(pattern, model_card(name))
    if not m:
        raise AssertionError(f"data/checkpoints/{name}.md no longer matches {pattern!r}")
    return float(m.group(1).replace(",", "").replace(" ", ""))


@cache
def load_json(name: str):
    return json.loads((CHECKPOINTS / name).read_text(encoding="utf-8"))


def chapter_code(chapter: str) -> str:
    return next(SRC.glob(f"{chapter}_*.py")).read_text(encoding="utf-8")


def chapter_number(chapter: str, pattern: str) -> float:
    """The number captured by ``pattern`` (one group) in a chapter's source."""
    m = re.search(pattern, chapter_code(chapter), re.M)
    if not m:
        raise AssertionError(f"chapter {chapter}'s source no longer matches {pattern!r}")
    return float(m.group(1).replace("_", ""))


def chapter_setting(chapter: str, name: str, full_size: bool = False) -> float:
    """A setting ``NAME = value`` or ``NAME = full if FULL_SIZE else value`` in a chapter's code
    (the value as stored, or with ``full_size`` the FULL_SIZE = True one)."""
    m = re.search(rf"^{name}\s*=\s*(?:([-\w.]+)\s+if\s+FULL_SIZE\s+else\s+)?([-\d._e]+)\b",
                  chapter_code(chapter), re.M)
    if not m or (full_size and not m.group(1)):
        raise AssertionError(f"chapter {chapter}'s source has no setting {name} = <number>")
    return float(m.group(1 if full_size else 2).replace("_", ""))


def readme_chapter_seconds(chapter: int) -> float:
    """The chapter's measured build time in the README's chapter table (seconds)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 2 and cells[0] == str(chapter):
            for c in cells[1:]:
                m = re.fullmatch(r"(?:~|≈|about )?(\d+(?:\.\d+)?)\s*s", c)
                if m:
                    return float(m.group(1))
    raise AssertionError(f"README.md's chapter table has no time in seconds for chapter {chapter}")


def first_t_below(schedule, threshold: float) -> int:
    """The first t with ᾱ_t < threshold."""
    below = (schedule.alpha_bar < threshold).nonzero()
    return int(below[0]) if len(below) else math.inf
