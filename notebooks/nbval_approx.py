"""Strict nbval, with one allowance: printed numbers that come from float32 kernels may differ in
their last printed digit from one CPU to another.

Why: the same float32 network (or BLAS call, or ``torch.randn``) gives different last bits with
another CPU's SIMD kernels (AVX-512, AVX2, NEON, ...), so a number rounded to three decimals can
flip, say from 0.495 to 0.496. Such a cell carries the comment ``# NBVAL_APPROX`` and its outputs
are compared as follows; every other cell is compared exactly, as nbval does.

The rule (stated here once, used for every marked cell):
- The text around the numbers must be identical, and so must the number of numbers.
- Integers (no decimal point, no exponent: counts, shapes, sizes, indices) must be identical.
- A number with a decimal point or an exponent, printed to the same precision as the stored one,
  may differ from it by at most ``LAST_DIGIT_UNITS`` units of the stored number's last printed
  digit (0.495 → ±0.002; 1.23e-05 → ±0.02e-05; 76.7 → ±0.2).
- Anything else (a number that became text, "nan", a missing line) fails as in plain nbval, with
  nbval's own report of the difference.

How: before nbval compares a marked cell, each number of the new output that lies within the
tolerance of its stored counterpart is replaced by the stored text; nbval's exact comparison then
decides, and reports any remaining difference in its usual form.
"""
from __future__ import annotations

import copy
import re
from decimal import Decimal

MARKER = "NBVAL_APPROX"
LAST_DIGIT_UNITS = 2
TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "text/latex")

_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])")


def is_approx_cell(source: str) -> bool:
    """True if a line of the cell is the comment ``# NBVAL_APPROX``."""
    return any(line.strip().lstrip("#").strip() == MARKER
               for line in source.splitlines() if line.strip().startswith("#"))


def _is_float_text(token: str) -> bool:
    return "." in token or "e" in token.lower()


def last_digit_unit(token: str) -> Decimal:
    """The value of one unit in the last printed digit of ``token`` ("0.495" → 0.001)."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return Decimal(1).scaleb(-decimals + (int(exponent) if exponent else 0))


def numbers_agree(stored: str, new: str) -> bool:
    """Whether the printed number ``new`` may stand for ``stored`` under the rule above."""
    if stored == new:
        return True
    if not (_is_float_text(stored) and _is_float_text(new)):
        return False  # integers are exact
    if last_digit_unit(stored).adjusted() != last_digit_unit(new).adjusted():
        return False  # printed to another precision: a change of format, not of last bits
    return abs(Decimal(new) - Decimal(stored)) <= LAST_DIGIT_UNITS * last_digit_unit(stored)


def snap_numbers(stored: str, new: str) -> str:
    """``new`` with each number that agrees with its stored counterpart replaced by the stored
    text. If the text between the numbers differs, or the count of numbers does, ``new`` is
    returned unchanged (the exact comparison then fails and shows the difference)."""
    stored_parts, new_parts = _NUMBER.split(stored), _NUMBER.split(new)
    if stored_parts != new_parts:
        return new
    stored_nums, new_nums = _NUMBER.findall(stored), _NUMBER.findall(new)
    out = [new_parts[0]]
    for s, n, text in zip(stored_nums, new_nums, new_parts[1:]):
        out += [s if numbers_agree(s, n) else n, text]
    return "".join(out)


def _text_fields(outputs):
    """(key, container, field) of every text output, in order; streams by name, data by MIME."""
    for out in outputs:
        if out.get("output_type") == "stream":
            yield f"stream:{out.get('name')}", out, "text"
        elif isinstance(out.get("data"), dict):
            for mime in TEXT_MIMES:
                if mime in out["data"]:
                    yield mime, out["data"], mime


def _as_text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


def snap_outputs(new_outputs, stored_outputs):
    """A copy of ``new_outputs`` whose text fields are snapped onto the stored ones, pairing the
    outputs of each kind (stream name or MIME type) in order, as nbval pairs them."""
    new_outputs = copy.deepcopy(new_outputs)
    stored = {}
    for key, container, field in _text_fields(stored_outputs):
        stored.setdefault(key, []).append(_as_text(container[field]))
    seen: dict[str, int] = {}
    for key, container, field in _text_fields(new_outputs):
        i = seen[key] = seen.get(key, -1) + 1
        if i < len(stored.get(key, ())):
            container[field] = snap_numbers(stored[key][i], _as_text(container[field]))
    return new_outputs


def install(cell_class) -> None:
    """Wrap nbval's ``IPyNbCell.compare_outputs`` so that marked cells get the allowance."""
    original = cell_class.compare_outputs
    if getattr(original, "_nbval_approx", False):
        return

    def compare_outputs(self, test, ref, skip_compare=None):
        if is_approx_cell(_as_text(self.cell.get("source", ""))):
            test = snap_outputs(test, ref)
        return original(self, test, ref, skip_compare)

    compare_outputs._nbval_approx = True
    cell_class.compare_outputs = compare_outputs
