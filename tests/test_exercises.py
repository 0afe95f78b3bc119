"""The exercise checker: each check accepts right answers (in every form a learner may give them),
says "not attempted yet" for the shipped placeholders, and rejects each typical wrong answer with
the hint that names the mistake. Every solution printed by ``solution()`` passes its own check."""
import math

import numpy as np
import pytest
import torch

from ddpm_edu import exercises
from ddpm_edu.exercises import check, evaluate, exercise, exercise_ids, solution
from exercise_helpers import right as _right, wrong as _wrong

ALL_IDS = [i for ch in range(1, 20) for i in exercise_ids(ch)]


def _status(verdict):
    return verdict.status


# ---- the machinery ----------------------------------------------------------------------------
def test_chapters_one_and_two_have_at_least_two_exercises():
    assert len(exercise_ids(1)) >= 2 and len(exercise_ids(2)) >= 2
    assert exercise_ids(99) == []


@pytest.mark.parametrize("ex_id", ALL_IDS)
def test_solution_passes_its_own_check(ex_id):
    ex = exercise(ex_id)
    ns = {}
    exec(compile(ex.solution, f"<solution {ex_id}>", "exec"), ns)
    assert ex.answer_name in ns, f"solution {ex_id} must define {ex.answer_name}"
    _right(ex_id, ns[ex.answer_name])


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


@pytest.mark.parametrize("ex_id", [i for i in ALL_IDS if exercise(i).answer_name != "answer"])
@pytest.mark.parametrize("fn", [_unwritten, _raises_not_implemented])
def test_unwritten_function_is_not_attempted(ex_id, fn):
    assert evaluate(ex_id, fn).status == "not attempted yet"


@pytest.mark.parametrize("ex_id", ALL_IDS)
@pytest.mark.parametrize("junk", ["0.5", True, [1.0, [2.0]], object(), 1 + 2j, float("nan"),
                                  np.zeros((3, 3)), lambda *a: 1 / 0, lambda: 0])
def test_junk_gets_a_hint_not_a_traceback(ex_id, junk):
    v = evaluate(ex_id, junk)
    assert v.status == "not yet" and v.message
    assert "0x" not in v.message  # no memory addresses


def test_a_check_that_breaks_still_gives_a_verdict(monkeypatch):
    import dataclasses
    ex = exercise("1.3")

    def broken(answer):
        raise RuntimeError("a case the check did not foresee")
    monkeypatch.setitem(exercises.chapter01.EXERCISES, "1.3", dataclasses.replace(ex, check=broken))
    v = evaluate("1.3", 260)
    assert v.status == "not yet" and "could not be checked (RuntimeError)" in v.message
    assert "a number" in v.message


def test_function_that_raises_is_reported_by_type_and_message():
    v = _wrong("1.1", lambda x, b, z: torch.sqrt(x + "a"), "TypeError")
    assert "Traceback" not in v.message


def test_verdict_rendering_is_deterministic_text_and_html():
    v = evaluate("1.3", ...)
    assert str(v) == ("… Exercise 1.3: not attempted yet. Replace the `...` with your answer and "
                      "run the cell again.")
    html = v._repr_html_()
    assert html.startswith("<div") and "not attempted yet" in html and html == evaluate("1.3", ...)._repr_html_()
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


# ---- 1.1 one forward step ------------------------------------------------------------------------
def test_1_1_accepts_right_answers_in_several_styles():
    _right("1.1", lambda x, b, z: torch.sqrt(1 - b) * x + torch.sqrt(b) * z)
    _right("1.1", lambda x, b, z: math.sqrt(1 - b) * x + math.sqrt(b) * z)
    _right("1.1", lambda x, b, z: ((1 - b) ** 0.5 * x + b ** 0.5 * z).float())  # float32 result
    _right("1.1", lambda x, b, z: (np.sqrt(1 - b.numpy()) * x.numpy() + np.sqrt(b.numpy()) * z.numpy()))


@pytest.mark.parametrize("fn, fragment", [
    (lambda x, b, z: (1 - b).sqrt() * x + b * z, "did you use β_t instead of √β_t"),
    (lambda x, b, z: (1 - b) * x + b.sqrt() * z, "scaled by 1 − β_t instead of √(1−β_t)"),
    (lambda x, b, z: (1 - b) * x + b * z, "used the variances"),
    (lambda x, b, z: x + b.sqrt() * z, "without shrinking"),
    (lambda x, b, z: (1 - b).sqrt() * x, "no noise"),
    (lambda x, b, z: b.sqrt() * x + (1 - b).sqrt() * z, "swapped"),
    (lambda x, b, z: (1 - b).sqrt() * x - b.sqrt() * z, "minus sign"),
    (lambda x, b, z: (1 - b).sqrt() * x + z, "unscaled"),
    (lambda x, b, z: (1 - b).sqrt() * x + b.sqrt() * torch.randn_like(z), "don't draw fresh noise"),
    (lambda x, b, z: 0.5 * x + 0.2 * z, "your x_t = 0.5·x_{t−1} + 0.2·ε"),
    (lambda x, b, z: (1 - b).sqrt() * x[0] + b.sqrt() * z[0], "shape"),
])
def test_1_1_names_the_mistake(fn, fragment):
    _wrong("1.1", fn, fragment)


# ---- 1.2 ᾱ from β ------------------------------------------------------------------------------------
def test_1_2_accepts_right_answers():
    _right("1.2", lambda b: torch.cumprod(1 - b, 0))
    _right("1.2", lambda b: np.cumprod(1 - b.numpy()))
    _right("1.2", lambda b: torch.exp(torch.cumsum(torch.log1p(-b), 0)).float())
    _right("1.2", lambda b: [float(v) for v in torch.cumprod(1 - b, 0)])


@pytest.mark.parametrize("fn, fragment", [
    (lambda b: torch.cumprod(b, 0), "you multiplied the β_s"),
    (lambda b: torch.cumprod(1 - b, 0).sqrt(), "that is √ᾱ_t"),
    (lambda b: 1 - torch.cumsum(b, 0), "first-order approximation"),
    (lambda b: torch.cumsum(1 - b, 0), "you added the α_s"),
    (lambda b: 1 - b, "that is α_t"),
    (lambda b: torch.cat([torch.ones(1, dtype=b.dtype), torch.cumprod(1 - b, 0)[:-1]]), "off by one"),
    (lambda b: torch.cat([torch.ones(1, dtype=b.dtype), torch.cumprod(1 - b, 0)]), "T + 1"),
    (lambda b: torch.prod(1 - b), "one number, ᾱ_T"),
    (lambda b: 1 - torch.cumprod(1 - b, 0), "1 − ᾱ_t"),
    (lambda b: torch.cumprod(1 - b, 0) * 1.01, "should be 0.95 but yours is 0.9595"),
])
def test_1_2_names_the_mistake(fn, fragment):
    _wrong("1.2", fn, fragment)


def test_1_2_in_place_edits_of_the_input_do_not_fool_the_check():
    def sneaky(b):
        b.mul_(0)  # destroys the caller's betas; the check passes a copy
        return torch.ones_like(b)
    _wrong("1.2", sneaky)


# ---- 1.3 where SNR crosses 1 -------------------------------------------------------------------------
@pytest.mark.parametrize("answer", [260, 260.0, torch.tensor(260), np.int64(260), torch.tensor([260])])
def test_1_3_accepts(answer):
    _right("1.3", answer)


@pytest.mark.parametrize("answer, fragment", [
    (259, "one step too early"), (261, "one step too late"), (369, "√ᾱ_t < ½"),
    (497, "cosine"), (84, "ending at 0.2"), (685, "geometric"), (0.97, "a whole number"),
    (5000, "a whole number"), (100, "too early"), (900, "too late"), ([259, 260], "single number"),
])
def test_1_3_names_the_mistake(answer, fragment):
    _wrong("1.3", answer, fragment)


def test_1_3_pinned_value_against_the_schedule():
    from ddpm_edu import linear_schedule
    s = linear_schedule(1000)
    # independent oracle: ᾱ_t < ½ ⇔ SNR < 1; ᾱ from a Python loop over β
    ab, t = 1.0, 0
    for t in range(1, 1001):
        ab *= 1 - (1e-4 + (0.02 - 1e-4) * (t - 1) / 999)
        if ab < 0.5:
            break
    assert t == 260 and s.snr[260] < 1 <= s.snr[259]


# ---- 2.1 the closed form ---------------------------------------------------------------------------
def test_2_1_accepts_right_answers():
    _right("2.1", lambda m1, v1, m2, v2: 0.5 * (torch.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1))
    _right("2.1", lambda m1, v1, m2, v2: torch.distributions.kl_divergence(
        torch.distributions.Normal(m1, v1.sqrt()), torch.distributions.Normal(m2, v2.sqrt())))
    _right("2.1", lambda m1, v1, m2, v2: (torch.log(v2.sqrt() / v1.sqrt())
                                          + (v1 + (m1 - m2) ** 2) / (2 * v2) - 0.5).float())


def _ref(m1, v1, m2, v2):
    return 0.5 * (torch.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1)


@pytest.mark.parametrize("fn, fragment", [
    (lambda m1, v1, m2, v2: _ref(m2, v2, m1, v1), "not symmetric"),
    (lambda m1, v1, m2, v2: 2 * _ref(m1, v1, m2, v2), "2× too large"),
    (lambda m1, v1, m2, v2: _ref(m1, v1, m2, v2) + 0.5, "forget the −1"),
    (lambda m1, v1, m2, v2: _ref(m1, v1 ** 2, m2, v2 ** 2), "standard deviations"),
    (lambda m1, v1, m2, v2: torch.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / (2 * v2) - 0.5, "keep the ½"),
    (lambda m1, v1, m2, v2: 0.5 * (torch.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v1 - 1)
     + 0.5 * (v1 / v2 - v1 / v1), "not by σ1²"),
    (lambda m1, v1, m2, v2: 0.5 * (torch.log(v1 / v2) + (v1 + (m1 - m2) ** 2) / v2 - 1), "upside down"),
    (lambda m1, v1, m2, v2: 0.5 * (torch.log(v2 / v1) + v1 / v2 - 1), "mean term"),
    (lambda m1, v1, m2, v2: _ref(m1, v1, m2, v2) / math.log(2), "bits"),
    (lambda m1, v1, m2, v2: _ref(m1, v1, m2, v2).sum(), "did you sum"),
    (lambda m1, v1, m2, v2: _ref(m1, v1, m2, v2) + 0.01, "the KL is 0.3181 nats"),
])
def test_2_1_names_the_mistake(fn, fragment):
    _wrong("2.1", fn, fragment)


# ---- 2.2 one value -------------------------------------------------------------------------------------
@pytest.mark.parametrize("answer", [0.4431471805599453, 0.443, 0.4445, torch.tensor(0.4431), np.float32(0.4431)])
def test_2_2_accepts(answer):
    _right("2.2", answer)


@pytest.mark.parametrize("answer, fragment", [
    (1.3069, "other direction"), (0.6393, "bits"), (0.9488, "not the standard deviation"),
    (0.3466, "you used 2 as the variance"), (0.8863, "2× too large"), (0.9431, "−1"),
    (0.3181, "mean term"), (-0.2, "never negative"), (0.6, "is not it"),
    (0.44, "three decimals"),
])
def test_2_2_names_the_mistake(answer, fragment):
    _wrong("2.2", answer, fragment)


# ---- 2.3 the prior term --------------------------------------------------------------------------------
def test_2_3_accepts_right_answers_including_the_library():
    from ddpm_edu.losses import normal_kl
    _right("2.3", lambda x0, ab: normal_kl(ab.sqrt() * x0, torch.log(1 - ab), 0.0, 0.0))
    _right("2.3", lambda x0, ab: 0.5 * (ab * x0 ** 2 + (1 - ab) - 1 - torch.log(1 - ab)))


def _prior(x0, mean_scale, var):
    return 0.5 * (torch.log(1 / var) + (var + (mean_scale * x0) ** 2) - 1)


@pytest.mark.parametrize("fn, fragment", [
    (lambda x0, ab: 0.5 * (torch.log(1 - ab) + (1 + ab * x0 ** 2) / (1 - ab) - 1), "other direction"),
    (lambda x0, ab: _prior(x0, ab, 1 - ab), "√ᾱ_T·x_0, not ᾱ_T·x_0"),
    (lambda x0, ab: _prior(x0, ab.sqrt(), (1 - ab).sqrt()), "standard deviation"),
    (lambda x0, ab: _prior(x0, ab.sqrt(), ab), "not ᾱ_T"),
    (lambda x0, ab: _prior(x0, (1 - ab).sqrt(), ab), "swapped"),
    (lambda x0, ab: _prior(x0, ab.sqrt(), 1 - ab) / math.log(2), "bits"),
    (lambda x0, ab: torch.zeros_like(x0), "0 everywhere"),
    (lambda x0, ab: _prior(x0, ab.sqrt(), 1 - ab).mean(), "did you sum or average"),
    (lambda x0, ab: _prior(x0, ab.sqrt(), 1 - ab) * 1.1, "but yours is"),
])
def test_2_3_names_the_mistake(fn, fragment):
    _wrong("2.3", fn, fragment)


def test_2_3_value_matches_math_reference():
    # math-reference.md: prior L_T for x_0 = 1, linear T=1000: 2.91e−5 bits per dimension
    ns = {}
    exec(exercise("2.3").solution, ns)
    from ddpm_edu import linear_schedule
    ab = linear_schedule(1000).alpha_bar[-1]
    bits = ns["prior_kl"](torch.tensor([1.0], dtype=torch.float64), ab) / math.log(2)
    assert abs(bits.item() - 2.91e-5) < 0.01e-5


def test_package_exports():
    assert set(exercises.__all__) >= {"check", "evaluate", "solution"}
