"""The machinery behind ``check`` and ``solution``: verdicts, answer coercion, hints.

A chapter module (``chapter01.py``, ``chapter02.py``, …) defines ``EXERCISES``, a dict of
:class:`Exercise` by id ("1.1"). Each exercise's ``check`` function receives the learner's answer
(a number, a tensor, a numpy array, a list, or a function) and either returns a short note (the
answer is right) or raises :class:`Hint` (it is wrong: the message says what is wrong, never a
traceback) or :class:`NotAttempted`. The helpers below turn answers into float64 tensors and call
learner functions, converting every failure into a :class:`Hint`.

Everything a verdict prints is a function of the answer alone (no addresses, no timings), so a
notebook's stored "not attempted yet" output is reproduced exactly under strict nbval.
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

__all__ = ["Verdict", "Exercise", "Hint", "NotAttempted", "as_tensor", "as_number", "call",
           "measurement", "expect_shape", "describe", "fmt", "close", "near", "first_mismatch",
           "name_slip"]

CORRECT, NOT_YET, NOT_ATTEMPTED = "correct", "not yet", "not attempted yet"
_MARK = {CORRECT: "✓", NOT_YET: "✗", NOT_ATTEMPTED: "…"}
_COLOUR = {CORRECT: ("#2e7d32", "#eef7ee"), NOT_YET: ("#c62828", "#fdeeee"),
           NOT_ATTEMPTED: ("#757575", "#f4f4f4")}


class Hint(Exception):
    """The answer is wrong; the message is the hint shown to the learner."""


class NotAttempted(Exception):
    """The answer is still the placeholder (``...``,
    ``None``, or a function that is not written)."""


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check: ``status`` is "correct", "not yet" or "not attempted yet".

    Shown as coloured HTML in a notebook and as one line of text elsewhere; ``bool(verdict)`` is
    True only when the answer is correct.
    """

    exercise: str
    status: str
    message: str = ""

    def __bool__(self) -> bool:
        return self.status == CORRECT

    def __str__(self) -> str:
        head = f"{_MARK[self.status]} Exercise {self.exercise}: {self.status}"
        return f"{head}. {self.message}" if self.message else head

    __repr__ = __str__

    def _repr_html_(self) -> str:
        line, fill = _COLOUR[self.status]
        msg = f" {html.escape(self.message)}" if self.message else ""
        return (f'<div style="border-left: 4px solid {line}; background: {fill}; color: #1b1b1b; '
                f'padding: 4px 10px; margin: 2px 0;"><b>{_MARK[self.status]} Exercise '
                f'{html.escape(self.exercise)}: {self.status}.</b>{msg}</div>')


@dataclass(frozen=True)
class Exercise:
    """One exercise.

    ``check(answer) -> str | None`` returns a note for a right answer and raises :class:`Hint` or
    :class:`NotAttempted` otherwise. ``solution`` is self-contained code that defines the variable
    (or function) named ``answer_name``; the tests run it and check that it passes.

    A "predict, then run and compare" exercise names in ``measured`` the keyword arguments that
    carry what the chapter's experiment cell measured (``check("3.3", answer, measured=share)``);
    its check is called as ``check(answer, **measured)`` and compares the prediction with them.
    """

    id: str
    title: str
    answer_name: str
    check: Callable[..., "str | None"]
    solution: str
    measured: tuple[str, ...] = ()


# ---- answers → tensors -------------------------------------------------------------------------
def describe(value) -> str:
    """A short, address-free description of a value's type and shape, for hints."""
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).replace("torch.", "")
        return f"a tensor of shape {tuple(value.shape)} and dtype {dtype}"
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)} item(s)"
    return f"a {type(value).__name__}"


def as_tensor(value, what: str = "your answer") -> torch.Tensor:
    """Numbers, tensors, numpy arrays and (nested) lists → a float64 tensor, or :class:`Hint`."""
    if value is None or value is Ellipsis:
        raise Hint(f"{what} is {value!r}: it must be a number or a tensor.")
    if isinstance(value, (bool, np.bool_)) or (
        isinstance(value, torch.Tensor) and value.dtype == torch.bool
    ):
        raise Hint(f"{what} is a True/False value; it must be a number or a tensor of numbers.")
    if isinstance(value, (str, bytes)) or callable(value):
        raise Hint(f"{what} is {describe(value)}; it must be a number or a tensor of numbers.")
    try:
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu()
        else:
            t = torch.as_tensor(np.asarray(value))
    except Exception:  # ragged lists, objects numpy cannot read
        raise Hint(
            f"{what} is {describe(value)} that cannot be read as an array of numbers."
        ) from None
    if t.is_complex():
        raise Hint(
            f"{what} has complex numbers; it should be real (did a square root of a negative "
            "number sneak in?)."
        )
    if t.dtype == torch.bool or not (
        t.is_floating_point()
        or t.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)
    ):
        raise Hint(f"{what} is {describe(value)}; it must hold numbers.")
    t = t.to(torch.float64)
    if torch.isnan(t).any():
        raise Hint(
            f"{what} contains NaN (not a number): look for 0/0, the log of a negative number "
            "or the square root of one."
        )
    return t


def measurement(value, name: str = "measured") -> float:
    """The number an experiment cell measured (``check(..., name=value)``), or :class:`Hint`."""
    return as_number(value, f"the measurement you passed as {name}=")


def as_number(value, what: str = "your answer") -> float:
    """A single number from a number, a one-element tensor/array or list, or :class:`Hint`."""
    t = as_tensor(value, what)
    if t.numel() != 1:
        raise Hint(f"{what} should be a single number, but it is {describe(value)}.")
    return float(t.reshape(()))


def expect_shape(got: torch.Tensor, shape, what: str = "your result", like: str = "") -> None:
    """:class:`Hint` unless ``got`` has ``shape`` (``like`` names what it should match)."""
    shape = tuple(shape)
    if tuple(got.shape) != shape:
        extra = f" (the shape of {like})" if like else ""
        if got.numel() == 1 and math.prod(shape) > 1:
            extra += "; you returned a single number: did you sum or average over the elements?"
        raise Hint(f"{what} has shape {tuple(got.shape)}, expected {shape}{extra}.")


def call(fn, *args, what: str | None = None) -> torch.Tensor:
    """Call a learner's function on test inputs and return its result as a float64 tensor.

    ``NotImplementedError`` or a ``None`` result mean "not attempted"; any other exception becomes a
    :class:`Hint` quoting the error's type and first line (no traceback).
    """
    name = getattr(fn, "__name__", "your function")
    what = what or f"{name}(...)"
    if not callable(fn):
        raise Hint(f"this exercise expects a function, but your answer is {describe(fn)}.")
    try:
        out = fn(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args])
    except NotImplementedError:
        raise NotAttempted(f"{name} is not written yet (it raises NotImplementedError).") from None
    except Exception as e:  # the learner's bug, reported as a hint
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        first = first if len(first) <= 160 else first[:157] + "..."
        raise Hint(f"calling {name} raised {type(e).__name__}" + (f": {first}" if first else "")
                   + ".") from None
    if out is None:
        raise NotAttempted(f"{name} returned None: replace the `...` with your code and `return` "
                           "the result.")
    return as_tensor(out, f"the result of {what}")


# ---- answers compared with the right value and with the typical slips ---------------------------
def close(got: torch.Tensor, want: torch.Tensor, rtol: float, atol: float) -> bool:
    """True when ``got`` has ``want``'s shape and |got − want| ≤ atol + rtol·|want| everywhere."""
    return got.shape == want.shape and bool(torch.allclose(got, want, rtol=rtol, atol=atol))


def near(got: float, want: float, rel: float) -> bool:
    """True when two numbers agree within ``rel``: |got − want| ≤ rel·max(|got|, |want|)."""
    return math.isclose(got, want, rel_tol=rel, abs_tol=0.0)


def first_mismatch(got: torch.Tensor, want: torch.Tensor, rtol: float, atol: float) -> int:
    """The flat index of the first element where ``got`` and ``want`` (same shape) differ beyond
    the tolerances of :func:`close`; for a hint that quotes one value."""
    return int((~torch.isclose(got, want, rtol=rtol, atol=atol)).flatten().nonzero()[0])


def name_slip(got, slips, rtol: float = 0.0, atol: float = 0.0, *,
              same: Callable[[Any, Any], bool] | None = None, suffix: str = "") -> None:
    """Raise :class:`Hint` for the first typical slip that the wrong answer ``got`` matches.

    ``slips`` lists (what the slip gives, its hint), most telling first. ``got`` matches a slip
    when ``same(got, value)`` holds; without ``same``, when :func:`close` at ``rtol``/``atol``
    holds (tensors). ``suffix`` is added to the hint. Returns when no slip matches, so the check
    can go on to its general hint.
    """
    for value, hint in slips:
        if same(got, value) if same is not None else close(got, value, rtol, atol):
            raise Hint(hint + suffix)


def fmt(x: float) -> str:
    """A number rounded to 4 significant digits, for hints."""
    return f"{x:.4g}"
