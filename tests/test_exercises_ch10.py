"""Chapter 10's exercise checks (the score-based view): each accepts right answers in the forms a
learner may write them and rejects the typical wrong ones with the hint that names the mistake.
The right answers are recomputed here independently: the Gaussian score by autograd of
torch.distributions' log-density, Tweedie's formula from the ε-form x̂_0 = (x_t − √(1−ᾱ) ε̂)/√ᾱ,
the ODE step from DDIM's update written out."""
import math

import numpy as np

import pytest
import torch

from exercise_helpers import right as _right, wrong as _wrong


# ---- 10.1 the score of a noisy Gaussian ----------------------------------------------------------
def _autograd_score(x_t, alpha_bar, m, s):
    """∇ log N(x; √ᾱ m, ᾱ s² + 1 − ᾱ) by autograd of torch.distributions (an independent oracle)."""
    ab = float(alpha_bar)
    dist = torch.distributions.Normal(
        math.sqrt(ab) * float(m), math.sqrt(ab * float(s) ** 2 + 1 - ab)
    )
    x = x_t.detach().clone().requires_grad_(True)
    dist.log_prob(x).sum().backward()
    return x.grad


def test_10_1_accepts_right_answers_in_several_styles():
    _right("10.1", _autograd_score)
    _right("10.1", lambda x, ab, m, s: -(x - math.sqrt(ab) * m) / (ab * s * s + 1 - ab))
    _right("10.1", lambda x, ab, m, s: (-(x - ab.sqrt() * m) / (ab * s ** 2 + 1 - ab)).float())
    _right("10.1", lambda x, ab, m, s: (-(x - ab.sqrt() * m) / (ab * s ** 2 + 1 - ab)).numpy())


def _score_with(mean_fn, var_fn, scale=-1.0):
    def noisy_gaussian_score(x_t, alpha_bar, m, s):
        ab = float(alpha_bar)
        return scale * (x_t - mean_fn(ab, float(m))) / var_fn(ab, float(s))
    return noisy_gaussian_score


@pytest.mark.parametrize(
    "fn, fragment",
    [
        (
            _score_with(lambda a, m: math.sqrt(a) * m, lambda a, s: a * s * s + 1 - a, scale=1.0),
            "sign is flipped",
        ),
        (_score_with(lambda a, m: m, lambda a, s: a * s * s + 1 - a), "not m"),
        (_score_with(lambda a, m: math.sqrt(a) * m, lambda a, s: 1 - a), "q(x_t | x_0)"),
        (_score_with(lambda a, m: math.sqrt(a) * m, lambda a, s: s * s + 1 - a), "scaled"),
        (
            _score_with(lambda a, m: math.sqrt(a) * m, lambda a, s: math.sqrt(a) * s * s + 1 - a),
            "not √ᾱ_t s²",
        ),
        (
            _score_with(lambda a, m: math.sqrt(a) * m, lambda a, s: a * s + 1 - a),
            "standard deviation of the data",
        ),
        (
            _score_with(lambda a, m: math.sqrt(a) * m, lambda a, s: math.sqrt(a * s * s + 1 - a)),
            "not the standard",
        ),
        (_score_with(lambda a, m: math.sqrt(a) * m, lambda a, s: a * s * s), "noise is missing"),
        (
            lambda x, ab, m, s: torch.sqrt(1 - ab) * (x - ab.sqrt() * m) / (ab * s * s + 1 - ab),
            "ε*",
        ),
        (lambda x, ab, m, s: _autograd_score(x, ab, m, s) + 0.05, "yours is"),
        (lambda x, ab, m, s: _autograd_score(x, ab, m, s).sum(), "did you sum"),
        (lambda x, ab, m, s: x.reshape(5, 5), "raised RuntimeError"),
    ],
)
def test_10_1_names_the_mistake(fn, fragment):
    _wrong("10.1", fn, fragment)


# ---- 10.2 Tweedie's denoiser ---------------------------------------------------------------------
def _tweedie_via_eps(x_t, score, alpha_bar):
    """x̂_0 = (x_t − √(1−ᾱ) ε̂)/√ᾱ with ε̂ = −√(1−ᾱ) score: the ε-form, written independently."""
    ab = float(alpha_bar)
    eps = -math.sqrt(1 - ab) * score
    return (x_t - math.sqrt(1 - ab) * eps) / math.sqrt(ab)


def test_10_2_accepts_right_answers_in_several_styles():
    from ddpm_edu import predict_x0_from_eps, schedule_from_betas

    _right("10.2", _tweedie_via_eps)
    _right("10.2", lambda x, s, ab: (x + (1 - ab) * s) / ab.sqrt())

    def via_library(x, s, ab):  # the library's ε → x̂_0 on a one-step schedule with ᾱ_1 = ab
        sched = schedule_from_betas(torch.tensor([1 - float(ab)], dtype=torch.float64))
        eps = -math.sqrt(1 - float(ab)) * s
        return predict_x0_from_eps(sched, x, torch.ones(x.shape[0], dtype=torch.long), eps)
    _right("10.2", via_library)


@pytest.mark.parametrize("fn, fragment", [
    (lambda x, s, ab: (x - (1 - ab) * s) / ab.sqrt(), "plus sign"),
    (lambda x, s, ab: (x + (1 - ab).sqrt() * s) / ab.sqrt(), "where −ε̂ belongs"),
    (lambda x, s, ab: (x - (1 - ab).sqrt() * s) / ab.sqrt(), "where ε̂ belongs"),
    (lambda x, s, ab: (x + (1 - ab) * s) / ab, "not ᾱ_t"),
    (lambda x, s, ab: x + (1 - ab) * s, "still at the scale"),
    (lambda x, s, ab: (x + (1 - ab) * s) * ab.sqrt(), "you multiplied"),
    (lambda x, s, ab: (x + ab * s) / ab.sqrt(), "noise variance 1 − ᾱ_t"),
    (lambda x, s, ab: x + (1 - ab) * s / ab.sqrt(), "as a whole"),
    (lambda x, s, ab: _tweedie_via_eps(x, s, ab) * 1.1, "yours is"),
    (lambda x, s, ab: _tweedie_via_eps(x, s, ab)[:, :2], "has shape"),
])
def test_10_2_names_the_mistake(fn, fragment):
    _wrong("10.2", fn, fragment)


# ---- 10.3 predict, then measure: where the learned score field is worst --------------------------
TS, ERRORS = (2, 10, 20, 40, 80), (0.173, 0.077, 0.036, 0.002, 0.001)   # the chapter's CI run


@pytest.mark.parametrize("answer", [2, 2.0, torch.tensor(2), np.int64(2)])
def test_10_3_accepts_the_measured_worst_step(answer):
    v = _right("10.3", answer)
    assert "0.173 at t = 2 and 0.001 at t = 80" in v.message


def test_10_3_follows_the_measurement_not_a_fixed_answer():
    _right("10.3", 10, measured={"ts": TS, "errors": (0.1, 0.2, 0.05, 0.01, 0.01)})
    _wrong("10.3", 2, "at t = 10", measured={"ts": TS, "errors": (0.1, 0.2, 0.05, 0.01, 0.01)})


@pytest.mark.parametrize("answer, fragment", [
    (80, "the noisiest step"),                 # the intuition: more noise, harder
    (20, "you predicted t = 20."),
])
def test_10_3_names_the_slip_and_quotes_the_measurement(answer, fragment):
    v = _wrong("10.3", answer, fragment)
    assert "0.173 at t = 2" in v.message


def test_10_3_a_step_that_was_not_measured_is_not_a_choice():
    _wrong("10.3", 5, "choose one of the steps measured: 2, 10, 20, 40, 80")


@pytest.mark.parametrize("measured, fragment", [
    ({"ts": TS, "errors": ERRORS[:3]}, "ts has 5 steps but errors has 3"),
    ({"ts": TS, "errors": 0.1}, "two lists of the same length"),
    ({"ts": TS, "errors": ("a",) * 5}, "the measurement you passed as errors="),
])
def test_10_3_a_measurement_in_the_wrong_form_gets_a_hint(measured, fragment):
    _wrong("10.3", 2, fragment, measured=measured)


# ---- 10.4 one Euler step of the probability-flow ODE ---------------------------------------------
def _ddim_by_hand(x, eps, ab_t, ab_s):
    """DDIM η = 0 (Song, Meng, Ermon 2020, eq. 12): x_s = √ᾱ_s x̂_0 + √(1−ᾱ_s) ε̂."""
    ab_t, ab_s = float(ab_t), float(ab_s)
    x0 = (x - math.sqrt(1 - ab_t) * eps) / math.sqrt(ab_t)
    return math.sqrt(ab_s) * x0 + math.sqrt(1 - ab_s) * eps


def _euler(
    x,
    eps,
    ab_t,
    ab_s,
    sigma=lambda a: math.sqrt((1 - a) / a),
    rescale_in=True,
    rescale_out=True,
    sign=1.0,
):
    ab_t, ab_s = float(ab_t), float(ab_s)
    xb = x / math.sqrt(ab_t) if rescale_in else x
    xs = xb + sign * (sigma(ab_s) - sigma(ab_t)) * eps
    return math.sqrt(ab_s) * xs if rescale_out else xs


def test_10_4_accepts_the_ode_form_the_ddim_form_and_numpy():
    _right("10.4", _euler)
    _right("10.4", _ddim_by_hand)
    _right("10.4", lambda x, e, a, b: _euler(x, e, a, b).float().numpy())


@pytest.mark.parametrize("fn, fragment", [
    (lambda x, e, a, b: _euler(x, e, a, b, sign=-1.0), "wrong way"),
    (lambda x, e, a, b: _euler(x, e, a, b, rescale_out=False), "multiply by √ᾱ_s"),
    (lambda x, e, a, b: _euler(x, e, a, b, rescale_in=False, rescale_out=False), "stepped in x"),
    (lambda x, e, a, b: _euler(x, e, a, b, sigma=lambda v: (1 - v) / v), "σ²"),
    (lambda x, e, a, b: _euler(x, e, a, b, sigma=lambda v: math.sqrt(1 - v)), "noise level"),
    (lambda x, e, a, b: math.sqrt(float(b) / float(a)) * x
     + (math.sqrt(1 - float(b)) - math.sqrt(1 - float(a))) * e, "taken in x̄"),
    (lambda x, e, a, b: _ddim_by_hand(x, e, a, b) + 0.01 * x, "yours is"),
    (lambda x, e, a, b: _ddim_by_hand(x, e, a, b).T, "has shape"),
])
def test_10_4_names_the_mistake(fn, fragment):
    _wrong("10.4", fn, fragment)


def test_10_4_reference_equals_ddim_by_hand():
    """The check's truth (the library's ddim_step on
    a two-step schedule) equals DDIM written out."""
    from ddpm_edu.exercises.chapter10 import _PAIRS_10_4, _ddim_eta0

    g = torch.Generator().manual_seed(0)
    x, e = (
        torch.randn(5, 2, generator=g, dtype=torch.float64),
        torch.randn(5, 2, generator=g, dtype=torch.float64),
    )
    for ab_t, ab_s in _PAIRS_10_4:
        torch.testing.assert_close(_ddim_eta0(x, e, ab_t, ab_s), _ddim_by_hand(x, e, ab_t, ab_s))
        torch.testing.assert_close(_euler(x, e, ab_t, ab_s), _ddim_by_hand(x, e, ab_t, ab_s))
