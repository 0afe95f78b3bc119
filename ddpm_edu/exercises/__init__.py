"""Automatic checks for the course's exercises, with hints that say what is wrong.

In a notebook::

    from ddpm_edu.exercises import check, solution

    answer = ...                 # the learner replaces `...` with their answer
    check("1.4", answer)         # → "… Exercise 1.4: not attempted yet. …"
                                 #   "✗ Exercise 1.4: not yet. <what is wrong>"  or  "✓ … correct."
    solution("1.4")              # a teacher reveals the reference solution (printed, not run)

Answers may be numbers, tensors, numpy arrays, lists, or functions (called on test inputs the
check chooses). A wrong shape, dtype or a function that raises is reported as a hint, never as a
traceback. Tolerances are forgiving (float32 arithmetic, rounding to 3–4 digits pass).

Each chapter keeps its exercises, checks and solutions in its own module ``chapterNN.py`` with a
dict ``EXERCISES`` (id → :class:`~ddpm_edu.exercises._core.Exercise`); exercise "N.k" lives in
``chapterNN``. Adding a chapter's exercises means adding its module; nothing here changes.
"""
from __future__ import annotations

import importlib
import re

from ._core import CORRECT, NOT_ATTEMPTED, NOT_YET, Exercise, Hint, NotAttempted, Verdict
from ..errors import InvalidArgument

__all__ = ["check", "evaluate", "solution", "exercise", "exercise_ids", "Verdict", "Exercise"]

_ID = re.compile(r"^(\d+)\.(\d+)$")
_WORD = re.compile(r"^[a-z]{2,}\b")


def _chapter_module(chapter: int):
    try:
        return importlib.import_module(f"{__name__}.chapter{chapter:02d}")
    except ModuleNotFoundError as e:
        if e.name != f"{__name__}.chapter{chapter:02d}":
            raise
        return None


def exercise_ids(chapter: int) -> list[str]:
    """The ids of a chapter's exercises, in order
    ("1.1", "1.2", …); [] for a chapter without any."""
    mod = _chapter_module(chapter)
    return list(mod.EXERCISES) if mod is not None else []


def exercise(exercise_id: str) -> Exercise:
    """The :class:`Exercise` with this id, e.g.
    ``"1.2"``; ValueError naming the known ids if none."""
    if not isinstance(exercise_id, str):
        raise InvalidArgument(
            f"there is no exercise {exercise_id!r}: give the id as text in quotes, "
            f'e.g. check("1.2", answer); a number like 1.10 would lose its last 0.'
        )
    m = _ID.match(exercise_id.strip())
    mod = _chapter_module(int(m.group(1))) if m else None
    if mod is None or exercise_id.strip() not in mod.EXERCISES:
        known = ", ".join(exercise_ids(int(m.group(1)))) if m else ""
        where = f" Chapter {m.group(1)} has: {known}." if known else ""
        raise InvalidArgument(
            f'there is no exercise {exercise_id!r}: ids look like "1.2" (chapter 1, '
            f"exercise 2), as written above the exercise.{where}"
        )
    return mod.EXERCISES[exercise_id.strip()]


def evaluate(exercise_id: str, answer, **measured) -> Verdict:
    """Check ``answer`` against exercise ``exercise_id``; the :class:`Verdict` (no display).

    A "predict, then run and compare" exercise also takes what the experiment cell measured, as the
    keyword arguments its text names (``measured=...``); the verdict compares the two.
    """
    ex = exercise(exercise_id)
    unknown = sorted(set(measured) - set(ex.measured))
    if unknown:
        takes = (f"it takes {', '.join(n + '=...' for n in ex.measured)}" if ex.measured
                 else "it compares your answer with its own reference, so pass only the answer")
        raise InvalidArgument(f"exercise {ex.id} has no measurement called {', '.join(unknown)}: "
                              f"{takes}.")
    if answer is Ellipsis or answer is None:
        return Verdict(ex.id, NOT_ATTEMPTED, "Replace the `...` with your answer and run the cell "
                                             "again.")
    missing = [n for n in ex.measured if n not in measured]
    if missing:
        given = ", ".join(f"{n}=..." for n in ex.measured)
        return Verdict(ex.id, NOT_YET, f"This exercise compares your prediction with the "
                                       f"experiment: run the experiment cell, then call "
                                       f'check("{ex.id}", answer, {given}) with what it measured.')
    try:
        note = ex.check(answer, **measured)
    except NotAttempted as e:
        return Verdict(ex.id, NOT_ATTEMPTED, _sentence(str(e)))
    except Hint as e:
        return Verdict(ex.id, NOT_YET, _sentence(str(e)))
    except Exception as e:  # an answer no check foresaw: still a verdict, never a traceback
        return Verdict(ex.id, NOT_YET, f"This answer could not be checked ({type(e).__name__}). "
                                       f"Give {_expected(ex)}.")
    return Verdict(ex.id, CORRECT, _sentence(note or ""))


def _expected(ex: Exercise) -> str:
    return ("a number (or a tensor holding one)" if ex.answer_name == "answer"
            else f"the function {ex.answer_name} itself, without calling it")


def _sentence(msg: str) -> str:
    """Messages are written to follow "not yet:"; shown after a full stop they start upper-case.

    Only a plain word is capitalised: "t = 260" and code names such as "forward_step" stay as
    they are.
    """
    return msg[:1].upper() + msg[1:] if _WORD.match(msg) else msg


def check(exercise_id: str, answer, **measured) -> None:
    """Check ``answer`` for exercise ``exercise_id`` and show the verdict.

    ``measured``: for a "predict, then run and compare" exercise, what the experiment measured
    (e.g. ``check("3.3", answer, measured=share)``); the verdict compares your prediction with it.

    In a notebook the verdict is shown as a coloured box (plain text elsewhere). Returns None, so
    the verdict is shown once wherever the call sits in the cell; use :func:`evaluate` to get it as
    a value.
    """
    _show(evaluate(exercise_id, answer, **measured))


def solution(exercise_id: str) -> None:
    """Print the reference solution of an exercise (code you can paste into the exercise cell)."""
    ex = exercise(exercise_id)
    print(f"# Solution to exercise {ex.id}: {ex.title}\n{ex.solution.strip()}")


def _show(obj) -> None:
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # plain Python without IPython
        print(obj)
        return
    if get_ipython() is None:
        print(obj)
    else:
        display(obj)
