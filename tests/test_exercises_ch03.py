"""Chapter 3's exercise checks (the L_vlb decomposition): each accepts right answers in the forms a
learner may give them and rejects the typical wrong ones with the hint that names the mistake. The
right answers are recomputed here from numpy/math alone (the linear schedule rebuilt from its
definition), independently of the library; the prediction 3.3 is compared with a measurement."""
import math

import numpy as np
import pytest
import torch

from exercise_helpers import right as _right, wrong as _wrong

LN2 = math.log(2)

# DDPM's linear schedule from its definition: β = linspace(1e-4, 0.02, 1000), ᾱ_t = ∏ (1 − β_s)
BETA = np.concatenate([[0.0], np.linspace(1e-4, 0.02, 1000)])   # index t = 0..T
ALPHA_BAR = np.cumprod(1 - BETA)                                 # ᾱ_0 = 1


def test_reference_values_from_the_math_reference():
    """β̃_10 = 2.3818e−4 (the regression variance of math-reference.md) and ᾱ_T = 4.0358e−5."""
    bt10 = BETA[10] * (1 - ALPHA_BAR[9]) / (1 - ALPHA_BAR[10])
    assert abs(bt10 - 2.3818e-4) < 1e-8
    assert abs(ALPHA_BAR[-1] - 4.0358e-5) < 1e-9


# ---- 3.1 the posterior mean written with ε -------------------------------------------------------
def _mean_eps(xt, e, b, ab):
    return (xt - b / torch.sqrt(1 - ab) * e) / torch.sqrt(1 - b)


def _via_x0(xt, e, b, ab):
    """c1·x_0 + c2·x_t with x_0 from (x_t, ε): the
    route the exercise asks the learner to simplify."""
    abp = ab / (1 - b)
    x0 = (xt - torch.sqrt(1 - ab) * e) / torch.sqrt(ab)
    return (torch.sqrt(abp) * b * x0 + torch.sqrt(1 - b) * (1 - abp) * xt) / (1 - ab)


@pytest.mark.parametrize("fn", [
    _mean_eps,
    _via_x0,                                                              # not simplified: fine
    lambda xt, e, b, ab: _mean_eps(xt, e, b, ab).float(),                 # float32 is fine
    lambda xt, e, b, ab: _mean_eps(xt, e, b, ab).tolist(),                # a list is fine
])
def test_3_1_accepts(fn):
    _right("3.1", fn)


@pytest.mark.parametrize("fn, fragment", [
    (lambda xt, e, b, ab: xt - b / torch.sqrt(1 - ab) * e, "1/√α_t is missing"),
    (lambda xt, e, b, ab: (xt - b / torch.sqrt(1 - ab) * e) / torch.sqrt(ab), "divided by √ᾱ_t"),
    (lambda xt, e, b, ab: (xt - b / (1 - ab) * e) / torch.sqrt(1 - b), "square root"),
    (lambda xt, e, b, ab: (xt + b / torch.sqrt(1 - ab) * e) / torch.sqrt(1 - b), "sign"),
    (lambda xt, e, b, ab: (xt - torch.sqrt(1 - ab) * e) / torch.sqrt(ab), "x̂_0"),
    (lambda xt, e, b, ab: (xt - torch.sqrt(1 - ab) * e) / torch.sqrt(1 - b), "last step"),
    (lambda xt, e, b, ab: _mean_eps(xt, e, b, ab) * 1.1, "substitute x_0"),
    (lambda xt, e, b, ab: _mean_eps(xt, e, b, ab)[:3], "shape"),
])
def test_3_1_names_the_mistake(fn, fragment):
    _wrong("3.1", fn, fragment)


def test_3_1_reports_a_crash_as_a_hint():
    def broken(xt, e, b, ab):
        return b / undefined_name  # noqa: F821
    _wrong("3.1", broken, "NameError")


# ---- 3.2 one KL term -----------------------------------------------------------------------------
BT10 = BETA[10] * (1 - ALPHA_BAR[9]) / (1 - ALPHA_BAR[10])
KL_BITS = 0.01 ** 2 / (2 * BT10) / LN2   # 0.30286


def test_3_2_oracle_value():
    assert abs(KL_BITS - 0.30286) < 1e-4


@pytest.mark.parametrize(
    "answer", [KL_BITS, 0.3029, 0.303, torch.tensor(KL_BITS), np.float32(KL_BITS)]
)
def test_3_2_accepts(answer):
    _right("3.2", answer)


@pytest.mark.parametrize("answer, fragment", [
    (KL_BITS * LN2, "nats"),
    (2 * KL_BITS, "½ in front"),
    (0.01 ** 2 / (2 * math.sqrt(BT10)) / LN2, "standard deviation"),
    (0.01 ** 2 / (2 * BETA[10]) / LN2, "posterior variance"),
    (0.01 / (2 * BT10) / LN2, "squared"),
    (KL_BITS * 784, "per image"),
    (KL_BITS * LN2 / math.log(10), "log₁₀"),
    (-KL_BITS, "never negative"),
    (0.31, "not accurate enough"),
    (1.0, "is not it"),
])
def test_3_2_names_the_mistake(answer, fragment):
    _wrong("3.2", answer, fragment)


# ---- 3.3 predict, then measure: the share of the bound carried by t ≤ 10 -------------------------
@pytest.mark.parametrize("answer, share", [(75, 77.4), (60, 77.4), (95, 77.4), (77.4, 77.4),
                                           (torch.tensor(70.0), 80.0), (50, 65.0)])
def test_3_3_accepts_a_prediction_near_the_measurement(answer, share):
    v = _right("3.3", answer, measured={"measured": share})
    assert f"carry {share:.0f} % of the bound" in v.message


@pytest.mark.parametrize("answer, fragment", [
    (1, "10 of 1000 steps = 1 %"),          # the uniform intuition
    (0.77, "looks like a fraction"),
    (30, "far too little"),
    (100, "too much"),
    (150, "between 0 and 100"),
    (-5, "between 0 and 100"),
])
def test_3_3_names_the_slip_and_quotes_the_measurement(answer, fragment):
    v = _wrong("3.3", answer, fragment)
    assert "carry 77 % of the bound" in v.message


def test_3_3_a_measurement_that_is_not_a_share_gets_a_hint():
    _wrong("3.3", 75, "not a share in percent", measured={"measured": 0.774 * 1000})
