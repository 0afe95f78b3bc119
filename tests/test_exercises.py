"""What every exercise check shares, for every exercise of every chapter (parametrised over the
ids, as diffusers' common scheduler tests are over the schedulers): the chapters and their ids, each
reference solution passes its own check, a slightly wrong answer fails, placeholders and unwritten
functions are "not attempted yet", junk and wrong types get a hint (never a traceback), a learner's
function that raises is reported by type and message, and one that edits its inputs in place cannot
break the check. Plus the verdicts' display and ``check``/``solution``/``exercise`` themselves.

Each chapter's own hints and special cases are in tests/test_exercises_chNN.py."""
import numpy as np
import pytest
import torch

from ddpm_edu import exercises
from ddpm_edu.exercises import check, evaluate, exercise, exercise_ids, solution
from ddpm_edu.errors import InvalidArgument
from exercise_helpers import MEASURED, right as _right, wrong as _wrong

EXPECTED_IDS = {
    0: ["0.1", "0.2", "0.3"], 1: ["1.1", "1.2", "1.3", "1.4"], 2: ["2.1", "2.2", "2.3", "2.4"],
    3: ["3.1", "3.2", "3.3"], 4: ["4.1", "4.2", "4.3", "4.4"], 5: ["5.1", "5.2", "5.3"],
    6: ["6.1", "6.2", "6.3", "6.4"], 7: ["7.1", "7.2", "7.3"], 8: ["8.1", "8.2", "8.3"],
    9: ["9.1", "9.2", "9.3"], 10: ["10.1", "10.2", "10.3", "10.4"], 11: ["11.1", "11.2", "11.3"],
    12: ["12.1", "12.2", "12.3"],
}
ALL_IDS = [i for ch in range(20) for i in exercise_ids(ch)]
FUNCTION_IDS = [i for i in ALL_IDS if exercise(i).answer_name != "answer"]
PREDICTION_IDS = [i for i in ALL_IDS if exercise(i).measured]


def _solution_answer(ex_id):
    """What the reference solution of ``ex_id`` defines as its answer (a value or a function)."""
    ex = exercise(ex_id)
    ns = {}
    exec(compile(ex.solution, f"<solution {ex_id}>", "exec"), ns)
    assert ex.answer_name in ns, f"solution {ex_id} must define {ex.answer_name}"
    return ns[ex.answer_name]


def _named(fn, name):
    """``fn`` under the name a learner's function would have (hints quote it)."""
    fn.__name__ = fn.__qualname__ = name
    return fn


# ---- the machinery, for every exercise ---------------------------------------------------------
def test_the_chapters_have_their_exercises():
    assert {ch: exercise_ids(ch) for ch in range(20) if exercise_ids(ch)} == EXPECTED_IDS
    assert exercise_ids(99) == []


@pytest.mark.parametrize("ex_id", ALL_IDS)
def test_solution_passes_its_own_check(ex_id):
    _right(ex_id, _solution_answer(ex_id))


@pytest.mark.parametrize("ex_id", ALL_IDS)
def test_a_slightly_wrong_answer_fails(ex_id):
    """The solution's answer (or its function's result) × 1.1 + 0.1, or a word spelt backwards; for
    a prediction (accepted in a range around the measurement), one far off: × 10 + 10."""
    good = _solution_answer(ex_id)
    if exercise(ex_id).measured:
        bad = good * 10 + 10
    elif isinstance(good, str):
        bad = good[::-1]
    elif callable(good):
        bad = _named(lambda *a: good(*a) * 1.1 + 0.1, exercise(ex_id).answer_name)
    else:
        bad = good * 1.1 + 0.1
    _wrong(ex_id, bad)


@pytest.mark.parametrize("ex_id", ALL_IDS)
@pytest.mark.parametrize("placeholder", [..., None])
def test_placeholder_is_not_attempted(ex_id, placeholder):
    v = evaluate(ex_id, placeholder)
    assert v.status == "not attempted yet" and not v
    assert "Replace the `...`" in v.message


def _unwritten(*args):
    ...


def _raises_not_implemented(*args):
    raise NotImplementedError


@pytest.mark.parametrize("ex_id", FUNCTION_IDS)
@pytest.mark.parametrize("fn", [_unwritten, _raises_not_implemented])
def test_unwritten_function_is_not_attempted(ex_id, fn):
    name = exercise(ex_id).answer_name
    v = evaluate(ex_id, _named(lambda *a: fn(*a), name))
    assert v.status == "not attempted yet" and v.message.startswith(name)


@pytest.mark.parametrize("ex_id", ALL_IDS)
@pytest.mark.parametrize("junk", ["0.5", True, [1.0, [2.0]], object(), 1 + 2j, float("nan"),
                                  np.zeros((3, 3)), np.zeros(3), lambda *a: 1 / 0, lambda: 0])
def test_junk_gets_a_hint_not_a_traceback(ex_id, junk):
    v = evaluate(ex_id, junk, **MEASURED.get(ex_id, {}))
    assert v.status == "not yet" and v.message
    assert "0x" not in v.message  # no memory addresses


@pytest.mark.parametrize("ex_id", ALL_IDS)
def test_a_wrong_type_gets_a_message_that_says_what_is_expected(ex_id):
    """A number for a function exercise, a function for a number (or word) exercise."""
    good = _solution_answer(ex_id)
    if callable(good):
        _wrong(ex_id, 1.0, "this exercise expects a function, but your answer is a float")
    else:
        expected = "a word in quotes" if isinstance(good, str) else "must be a number"
        _wrong(ex_id, lambda x: x, expected)


@pytest.mark.parametrize("ex_id", FUNCTION_IDS)
def test_function_that_raises_is_reported_by_type_and_message(ex_id):
    name = exercise(ex_id).answer_name
    broken = _named(lambda *a: torch.sqrt(a[0] + "a"), name)
    v = _wrong(ex_id, broken, f"calling {name} raised TypeError")
    assert "Traceback" not in v.message


@pytest.mark.parametrize("ex_id", FUNCTION_IDS)
def test_a_function_that_edits_its_inputs_in_place_cannot_break_the_check(ex_id):
    """The checks pass copies: zeroing the inputs after computing the right result still passes."""
    good = _solution_answer(ex_id)

    def vandal(*args):
        out = good(*args)
        for a in args:
            if isinstance(a, torch.Tensor):
                a.mul_(0)
        return out
    _right(ex_id, _named(vandal, exercise(ex_id).answer_name))

# ---- a verdict, check, solution, exercise ---------------------------------------------------
def test_a_check_that_breaks_still_gives_a_verdict(monkeypatch):
    import dataclasses
    ex = exercise("1.4")

    def broken(answer):
        raise RuntimeError("a case the check did not foresee")
    monkeypatch.setitem(exercises.chapter01.EXERCISES, "1.4", dataclasses.replace(ex, check=broken))
    v = evaluate("1.4", 260)
    assert v.status == "not yet" and "could not be checked (RuntimeError)" in v.message
    assert "a number" in v.message


def test_verdict_rendering_is_deterministic_text_and_html():
    v = evaluate("1.4", ...)
    assert str(v) == ("… Exercise 1.4: not attempted yet. Replace the `...` with your answer and "
                      "run the cell again.")
    html = v._repr_html_()
    assert (
        html.startswith("<div")
        and "not attempted yet" in html
        and html == evaluate("1.4", ...)._repr_html_()
    )
    w = evaluate("2.2", 1.3069)
    assert str(w).startswith("✗ Exercise 2.2: not yet. That is KL(N(1, 4)")
    assert "&lt;" not in html and "<b>✗" in w._repr_html_()


def test_check_prints_outside_ipython_and_returns_none(capsys):
    assert check("2.2", 0.4431) is None
    assert capsys.readouterr().out.startswith("✓ Exercise 2.2: correct.")


def test_solution_prints_the_code(capsys):
    solution("1.2")
    out = capsys.readouterr().out
    assert out.startswith("# Solution to exercise 1.2") and "torch.cumprod(1 - betas" in out


@pytest.mark.parametrize("bad", ["1.99", "3", "x", 1.1])
def test_unknown_exercise_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="there is no exercise"):
        evaluate(bad, 1.0)


def test_package_exports():
    assert set(exercises.__all__) >= {"check", "evaluate", "solution"}


# ---- "predict, then run and compare": the measurement is passed in --------------------------
def test_every_chapter_with_a_prediction_has_its_ci_measurement_here():
    assert set(PREDICTION_IDS) == set(MEASURED)
    assert {"0.2", "1.3", "2.3", "3.3", "5.2", "6.4", "7.3", "8.3", "9.1", "10.3",
            "12.3"} <= set(PREDICTION_IDS)


@pytest.mark.parametrize("ex_id", PREDICTION_IDS)
def test_a_prediction_without_its_measurement_says_how_to_pass_it(ex_id):
    v = evaluate(ex_id, _solution_answer(ex_id))
    assert v.status == "not yet"
    names = exercise(ex_id).measured
    assert f'check("{ex_id}", answer, ' in v.message and all(f"{n}=..." in v.message for n in names)


@pytest.mark.parametrize("ex_id", PREDICTION_IDS)
def test_a_prediction_verdict_quotes_the_measurement(ex_id):
    """Right or wrong, the verdict says what was measured (here for the solution's answer)."""
    v = _right(ex_id, _solution_answer(ex_id))
    assert "measure" in v.message.lower()


def test_a_measurement_an_exercise_does_not_take_is_a_usage_error():
    with pytest.raises(InvalidArgument, match="1.4 has no measurement called measured"):
        evaluate("1.4", 260, measured=3)
    with pytest.raises(InvalidArgument, match="it takes measured=..."):
        check("3.3", 50, share=3)


def test_a_junk_measurement_gets_a_hint():
    v = evaluate("3.3", 50, measured="77 %")
    assert v.status == "not yet" and "the measurement you passed as measured=" in v.message.lower()
