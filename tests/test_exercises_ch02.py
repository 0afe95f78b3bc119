"""Chapter 2's exercise checks (KL of Gaussians): each accepts right answers in the forms a learner
may give them and rejects the typical wrong ones with the hint that names the mistake. What every
check shares (solutions, placeholders, junk, wrong types) is tested in tests/test_exercises.py."""
import math

import numpy as np
import pytest
import torch

from ddpm_edu.exercises import exercise
from exercise_helpers import right as _right, wrong as _wrong


# ---- 2.1 the closed form -------------------------------------------------------------------------
def test_2_1_accepts_right_answers():
    _right(
        "2.1", lambda m1, v1, m2, v2: 0.5 * (torch.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1)
    )
    _right("2.1", lambda m1, v1, m2, v2: torch.distributions.kl_divergence(
        torch.distributions.Normal(m1, v1.sqrt()), torch.distributions.Normal(m2, v2.sqrt())))
    _right("2.1", lambda m1, v1, m2, v2: (torch.log(v2.sqrt() / v1.sqrt())
                                          + (v1 + (m1 - m2) ** 2) / (2 * v2) - 0.5).float())


def _ref(m1, v1, m2, v2):
    return 0.5 * (torch.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1)


@pytest.mark.parametrize(
    "fn, fragment",
    [
        (lambda m1, v1, m2, v2: _ref(m2, v2, m1, v1), "not symmetric"),
        (lambda m1, v1, m2, v2: 2 * _ref(m1, v1, m2, v2), "2× too large"),
        (lambda m1, v1, m2, v2: _ref(m1, v1, m2, v2) + 0.5, "forget the −1"),
        (lambda m1, v1, m2, v2: _ref(m1, v1**2, m2, v2**2), "standard deviations"),
        (
            lambda m1, v1, m2, v2: torch.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / (2 * v2) - 0.5,
            "keep the ½",
        ),
        (
            lambda m1, v1, m2, v2: (
                0.5 * (torch.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v1 - 1)
                + 0.5 * (v1 / v2 - v1 / v1)
            ),
            "not by σ1²",
        ),
        (
            lambda m1, v1, m2, v2: 0.5 * (torch.log(v1 / v2) + (v1 + (m1 - m2) ** 2) / v2 - 1),
            "upside down",
        ),
        (lambda m1, v1, m2, v2: 0.5 * (torch.log(v2 / v1) + v1 / v2 - 1), "mean term"),
        (lambda m1, v1, m2, v2: _ref(m1, v1, m2, v2) / math.log(2), "bits"),
        (lambda m1, v1, m2, v2: _ref(m1, v1, m2, v2).sum(), "did you sum"),
        (lambda m1, v1, m2, v2: _ref(m1, v1, m2, v2) + 0.01, "the KL is 0.3181 nats"),
    ],
)
def test_2_1_names_the_mistake(fn, fragment):
    _wrong("2.1", fn, fragment)


# ---- 2.2 one value -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "answer", [0.4431471805599453, 0.443, 0.4445, torch.tensor(0.4431), np.float32(0.4431)]
)
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


# ---- 2.3 predict, then measure: the asymmetry ----------------------------------------------------
RATIO = (0.5 * (math.log(0.01) + 100 - 1)) / (0.5 * (math.log(100) + 0.01 - 1))   # 26.1


@pytest.mark.parametrize("answer", [RATIO, 26, 20, 35, torch.tensor(25.0)])
def test_2_3_accepts_a_prediction_near_the_measurement(answer):
    v = _right("2.3", answer)
    assert "KL(wide ‖ narrow)/KL(narrow ‖ wide) = 26.1" in v.message


@pytest.mark.parametrize("answer, fragment", [
    (1, "symmetric"),                 # the intuition: a KL is a distance
    (1 / RATIO, "upside down"),
    (100, "ratio of the variances"),
    (5, "too little"),
    (-2, "positive"),
])
def test_2_3_names_the_slip_and_quotes_the_measurement(answer, fragment):
    v = _wrong("2.3", answer, fragment)
    assert "= 26.1" in v.message and "47 nats" in v.message


# ---- 2.4 the prior term --------------------------------------------------------------------------
def test_2_4_accepts_right_answers_including_the_library():
    from ddpm_edu.losses import normal_kl
    _right("2.4", lambda x0, ab: normal_kl(ab.sqrt() * x0, torch.log(1 - ab), 0.0, 0.0))
    _right("2.4", lambda x0, ab: 0.5 * (ab * x0 ** 2 + (1 - ab) - 1 - torch.log(1 - ab)))


def _prior(x0, mean_scale, var):
    return 0.5 * (torch.log(1 / var) + (var + (mean_scale * x0) ** 2) - 1)


@pytest.mark.parametrize(
    "fn, fragment",
    [
        (
            lambda x0, ab: 0.5 * (torch.log(1 - ab) + (1 + ab * x0**2) / (1 - ab) - 1),
            "other direction",
        ),
        (lambda x0, ab: _prior(x0, ab, 1 - ab), "√ᾱ_T·x_0, not ᾱ_T·x_0"),
        (lambda x0, ab: _prior(x0, ab.sqrt(), (1 - ab).sqrt()), "standard deviation"),
        (lambda x0, ab: _prior(x0, ab.sqrt(), ab), "not ᾱ_T"),
        (lambda x0, ab: _prior(x0, (1 - ab).sqrt(), ab), "swapped"),
        (lambda x0, ab: _prior(x0, ab.sqrt(), 1 - ab) / math.log(2), "bits"),
        (lambda x0, ab: torch.zeros_like(x0), "0 everywhere"),
        (lambda x0, ab: _prior(x0, ab.sqrt(), 1 - ab).mean(), "did you sum or average"),
        (lambda x0, ab: _prior(x0, ab.sqrt(), 1 - ab) * 1.1, "but yours is"),
    ],
)
def test_2_4_names_the_mistake(fn, fragment):
    _wrong("2.4", fn, fragment)


def test_2_4_value_matches_math_reference():
    # math-reference.md: prior L_T for x_0 = 1, linear T=1000: 2.91e−5 bits per dimension
    ns = {}
    exec(exercise("2.4").solution, ns)
    from ddpm_edu import linear_schedule
    ab = linear_schedule(1000).alpha_bar[-1]
    bits = ns["prior_kl"](torch.tensor([1.0], dtype=torch.float64), ab) / math.log(2)
    assert abs(bits.item() - 2.91e-5) < 0.01e-5
