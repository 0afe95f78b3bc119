"""Every number in the chapters' prose is recomputed by code, or exempt by a documented rule.

The rules and the kinds of rows are explained in prose_claims.py; the rows are in
prose_claims_table.py.
"""
from __future__ import annotations

import math
import re

import pytest

from prose_claims import SRC, Claim, line_of, markdown_cells, numbers_needing_a_claim, \
    parse_printed
from prose_claims_table import CLAIMS, NOT_YET_COVERED, OLD_ERRORS

CHAPTERS = sorted(p.name[:2] for p in SRC.glob("[0-9][0-9]_*.py"))


def _source(chapter):
    return next(SRC.glob(f"{chapter}_*.py"))


def _locate(cells, claim):
    """(cell, start, end) of every place the claim's number sits inside its fragment."""
    assert claim.number in claim.fragment, f"{claim.number!r} is not inside {claim.fragment!r}"
    found = []
    for cell in cells:
        start = cell.text.find(claim.fragment)
        while start >= 0:
            at = start + claim.fragment.index(claim.number)
            found.append((cell, at, at + len(claim.number)))
            start = cell.text.find(claim.fragment, start + 1)
    return found


def mismatch(claim: Claim) -> str | None:
    """Why the printed number disagrees with its recomputation, or None when it agrees."""
    if claim.kind == "given":
        return None
    if claim.kind == "cited":
        return None if claim.source else "a cited number must say where it is published"
    if claim.log10:
        exponent = re.search(r"10\^\{?([-−]?\d+)", claim.number).group(1).replace("−", "-")
        printed, half_unit = float(exponent), 0.5
    else:
        printed, half_unit = parse_printed(claim.number)
    actual = float(claim.value())
    tol = claim.tol if claim.tol is not None else half_unit * (1 + 1e-9) + 1e-12
    if math.isfinite(actual) and abs(actual - printed) <= tol:
        return None
    return (f"the prose says {claim.number} in {claim.fragment!r}, but the code gives {actual:.6g} "
            f"(allowed difference {tol:.3g})")


def test_the_table_names_every_chapter():
    assert sorted(set(CLAIMS) | set(NOT_YET_COVERED)) == CHAPTERS
    assert not set(CLAIMS) & set(NOT_YET_COVERED)


@pytest.mark.parametrize("chapter", sorted(CLAIMS))
def test_every_number_in_the_prose_is_accounted_for(chapter):
    source, cells = _source(chapter), markdown_cells(_source(chapter))
    covered = {(id(cell), a, b)
               for claim in CLAIMS[chapter] for cell, a, b in _locate(cells, claim)}
    missing = []
    for cell in cells:
        for start, end, text in numbers_needing_a_claim(cell):
            if not any(key == id(cell) and a <= start and end <= b for key, a, b in covered):
                number, line = line_of(cell, start)
                missing.append(f"{source.name}:{number}: {text!r} in {line.strip()!r}")
    assert not missing, (
        f"numbers in chapter {chapter}'s prose that no code checks — add a row to "
        f"CLAIMS[{chapter!r}] in tests/prose_claims_table.py (measured/setting/cited, see "
        "tests/prose_claims.py), or write the sentence without the number:\n  "
        + "\n  ".join(missing))


@pytest.mark.parametrize("chapter", sorted(CLAIMS))
def test_every_claim_is_recomputed_and_agrees(chapter):
    cells = markdown_cells(_source(chapter))
    problems = []
    for claim in CLAIMS[chapter]:
        if not _locate(cells, claim):
            problems.append(f"fragment not in the prose any more: {claim.fragment!r} — "
                            "update the row")
        elif (why := mismatch(claim)) is not None:
            problems.append(why)
    assert not problems, f"chapter {chapter}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("claim", OLD_ERRORS, ids=lambda c: c.fragment[:40])
def test_the_errors_the_review_found_would_have_failed(claim):
    assert mismatch(claim) is not None


def test_parse_printed():
    assert parse_printed("0.006") == (0.006, pytest.approx(5e-4))
    value, half = parse_printed(r"4 \times 10^{-5}")
    assert value == pytest.approx(4e-5) and half == pytest.approx(5e-6)
    assert parse_printed("10^{-4}") == (pytest.approx(1e-4), 0.0)
    assert parse_printed("1,000") == (1000.0, 0.5)
    assert parse_printed("95 %") == (95.0, 0.5)
