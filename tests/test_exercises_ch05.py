"""Chapter 5's exercise checks (ε, x_0 and μ parameterisations): each accepts right answers in the
forms a learner may give them and rejects the typical wrong ones with the hint that names the
mistake. The right answers are recomputed here from the β's alone (float64 Python arithmetic),
independently of the library, and pinned to math-reference.md where it lists them."""
import math

import numpy as np
import pytest
import torch

from exercise_helpers import right as _right, wrong as _wrong


# ---- an independent oracle: the linear schedule from its definition ------------------------------
def _linear(T=1000, b0=1e-4, b1=0.02):
    """β_t, α_t, ᾱ_t for t = 0..T as Python floats (index 0 = data)."""
    beta = [0.0] + [b0 + (b1 - b0) * i / (T - 1) for i in range(T)]
    ab = [1.0]
    for b in beta[1:]:
        ab.append(ab[-1] * (1 - b))
    return beta, [1 - b for b in beta], ab


BETA, ALPHA, AB = _linear()


def _w(t, var):
    return BETA[t] ** 2 / (2 * var * ALPHA[t] * (1 - AB[t]))


def _beta_tilde(t):
    return BETA[t] * (1 - AB[t - 1]) / (1 - AB[t])


W2_LARGE = _w(2, BETA[2])


# ---- 5.1 -----------------------------------------------------------------------------------------
def _eps_from_mu(xt, mu, a, ab, b):
    return (1 - ab).sqrt() * (xt - a.sqrt() * mu) / b


def test_5_1_inverts_eq_11_on_an_independent_example():
    """μ built from a known ε by eq. 11 (Python floats) gives that ε back."""
    t = 37
    xt, eps = 0.3, -1.2
    mu = (xt - BETA[t] / math.sqrt(1 - AB[t]) * eps) / math.sqrt(ALPHA[t])
    got = _eps_from_mu(
        *(torch.tensor([[v]], dtype=torch.float64) for v in (xt, mu, ALPHA[t], AB[t], BETA[t]))
    )
    assert abs(got.item() - eps) < 1e-9
    _right("5.1", _eps_from_mu)


def test_5_1_accepts_float32_and_numpy():
    _right("5.1", lambda *a: _eps_from_mu(*(x.float() for x in a)))
    _right("5.1", lambda *a: _eps_from_mu(*a).numpy())


@pytest.mark.parametrize("fn, fragment", [
    (lambda xt, mu, a, ab, b: (1 - ab).sqrt() * (xt - mu) / b, "√α_t is missing"),
    (lambda xt, mu, a, ab, b: -_eps_from_mu(xt, mu, a, ab, b), "sign is flipped"),
    (lambda xt, mu, a, ab, b: (1 - ab).sqrt() * (xt - ab.sqrt() * mu) / b, "ᾱ_t where α_t"),
    (lambda xt, mu, a, ab, b: (xt - a.sqrt() * mu) / (b * (1 - ab).sqrt()), "in the numerator"),
    (lambda xt, mu, a, ab, b: (xt - a.sqrt() * mu) / b, "is missing"),
    (lambda xt, mu, a, ab, b: (1 - ab).sqrt() * (xt - a.sqrt() * mu) / b.sqrt(), "not √β_t"),
    (lambda xt, mu, a, ab, b: (mu - (1 - ab.div(a)) * a.sqrt() / (1 - ab) * xt)
     / (b * (ab / a).sqrt() / (1 - ab)), "x̂_0"),
    (lambda xt, mu, a, ab, b: _eps_from_mu(xt, mu, a, ab, b)[:, :1], "shape"),
    (lambda xt, mu, a, ab, b: _eps_from_mu(xt, mu, a, ab, b) + 0.01, "solve for ε"),
])
def test_5_1_names_the_mistake(fn, fragment):
    _wrong("5.1", fn, fragment)
# ---- 5.2 predict, then measure: w_2(fixed large) / w_2(fixed small) ------------------------------
RATIO = W2_LARGE / _w(2, _beta_tilde(2))   # = β̃_2/β_2 = (1 − ᾱ_1)/(1 − ᾱ_2)


def test_5_2_oracle_matches_the_pinned_values():
    assert abs(W2_LARGE - 0.2727) < 1e-4                       # math-reference.md: σ² = β, t = 2
    assert abs(_w(2, _beta_tilde(2)) - 0.5997) < 1e-4          # σ² = β̃, t = 2
    assert abs(RATIO - _beta_tilde(2) / BETA[2]) < 1e-12 and abs(RATIO - 0.45474) < 1e-5


@pytest.mark.parametrize("answer", [RATIO, 0.4547, 0.5, 0.45, torch.tensor(RATIO),
                                    np.float32(RATIO), [RATIO]])
def test_5_2_accepts_a_prediction_near_the_measurement(answer):
    v = _right("5.2", answer, measured={"measured": RATIO})
    assert "The measurement: w_2(fixed large)/w_2(fixed small) = 0.4547" in v.message


@pytest.mark.parametrize("answer, fragment", [
    (1 / RATIO, "upside down"),
    (math.sqrt(RATIO), "standard deviations"),
    (1.0, "no change"),
    (-0.5, "positive"),
    (0.2, "you predicted 0.2."),
])
def test_5_2_names_the_slip_and_quotes_the_measurement(answer, fragment):
    v = _wrong("5.2", answer, fragment, measured={"measured": RATIO})
    assert "= 0.4547" in v.message and "β̃_2/β_2" in v.message


def test_5_2_a_measurement_that_is_not_a_ratio_gets_a_hint():
    _wrong("5.2", 0.45, "a ratio of two weights is positive", measured={"measured": -1.0})


# ---- 5.3 -----------------------------------------------------------------------------------------
def _x0_weight(beta, ab, ab_prev):
    c1 = beta * ab_prev.sqrt() / (1 - ab)
    return c1 ** 2 / (2 * beta * (1 - ab_prev) / (1 - ab))


def test_5_3_oracle_values():
    t = 2
    c1 = BETA[t] * math.sqrt(AB[t - 1]) / (1 - AB[t])
    assert abs(c1 ** 2 / (2 * _beta_tilde(t)) - 2726.32) < 0.01
    t = 1000
    c1 = BETA[t] * math.sqrt(AB[t - 1]) / (1 - AB[t])
    assert abs(c1 ** 2 / (2 * _beta_tilde(t)) - 4.1185e-7) < 1e-10


def test_5_3_accepts_several_styles():
    _right("5.3", _x0_weight)
    _right(
        "5.3", lambda b, ab, abp: (b * abp / (2 * (1 - ab) * (1 - abp))).float()
    )  # simplified, float32
    _right("5.3", lambda b, ab, abp: [float(v) for v in _x0_weight(b, ab, abp)])


def _alpha(ab, abp):
    return ab / abp


@pytest.mark.parametrize(
    "fn, fragment",
    [
        (
            lambda b, ab, abp: (b * abp.sqrt() / (1 - ab)) / (2 * b * (1 - abp) / (1 - ab)),
            "not squared",
        ),
        (lambda b, ab, abp: 2 * _x0_weight(b, ab, abp), "dropped the 2"),
        (
            lambda b, ab, abp: (
                ((1 - abp) * _alpha(ab, abp).sqrt() / (1 - ab)) ** 2
                / (2 * b * (1 - abp) / (1 - ab))
            ),
            "c2_t",
        ),
        (lambda b, ab, abp: (b * abp.sqrt() / (1 - ab)) ** 2 / (2 * b), "fixed large"),
        (
            lambda b, ab, abp: (b * ab.sqrt() / (1 - ab)) ** 2 / (2 * b * (1 - abp) / (1 - ab)),
            "√ᾱ_{t−1}",
        ),
        (
            lambda b, ab, abp: b**2 / (2 * b * (1 - abp) / (1 - ab) * _alpha(ab, abp) * (1 - ab)),
            "ε-predicting",
        ),
        (lambda b, ab, abp: 1 / (2 * b * (1 - abp) / (1 - ab)), "predicts μ"),
        (
            lambda b, ab, abp: (
                (b * abp.sqrt() / (1 - ab)) ** 2 / (2 * (b * (1 - abp) / (1 - ab)).sqrt())
            ),
            "already a variance",
        ),
        (lambda b, ab, abp: _x0_weight(b, ab, abp).sum(), "did you sum"),
        (lambda b, ab, abp: _x0_weight(b, ab, abp) * 1.1, "c1_t = β_t √ᾱ_{t−1}"),
        (lambda b, ab, abp: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_5_3_names_the_mistake(fn, fragment):
    _wrong("5.3", fn, fragment)


