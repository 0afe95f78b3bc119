"""Chapter 9's exercise checks (evaluation): each accepts right answers in the forms a learner may
give them and rejects the typical wrong ones with the hint that names the mistake. The right answers
are recomputed here from the definitions (and the 1.96 from the standard library's NormalDist), and
the estimator behind 9.2 is checked to be unbiased by exact enumeration."""
import itertools
import math
import statistics

import numpy as np
import pytest
import torch

from exercise_helpers import right as _right, wrong as _wrong

Z = statistics.NormalDist().inv_cdf(0.975)


# ---- 9.1 predict, then measure: the spread of one plain fast estimate ----------------------------
def test_9_1_the_coin_flip_explains_the_measured_spread():
    """The spread the chapter measures (2.529 bits/dim, K = 5 of T = 50) is within 10 % of the
    Bernoulli estimate (T/K)·L_0·√(p(1 − p)) with L_0 = 0.85 (54 % of 1.573)."""
    p = 5 / 50
    assert abs(10 * 0.85 * math.sqrt(p * (1 - p)) / 2.529 - 1) < 0.1


@pytest.mark.parametrize("answer, measured", [(2.4, 2.529), (2.529, 2.529), (1.8, 2.529),
                                              (3.7, 2.529), (torch.tensor(2.0), 2.2)])
def test_9_1_accepts_a_prediction_near_the_measurement(answer, measured):
    v = _right("9.1", answer, measured={"measured": measured})
    assert f"scatters by {measured:.2f} bits/dim" in v.message


@pytest.mark.parametrize("answer, fragment", [
    (0.2, "as if K = 5 similar terms were averaged"),     # the intuition: averaging smooths it out
    (0.43, "far too little"),
    (10.0, "too much"),
    (-1.0, "positive"),
])
def test_9_1_names_the_slip_and_quotes_the_measurement(answer, fragment):
    v = _wrong("9.1", answer, fragment)
    assert "scatters by 2.53 bits/dim" in v.message and "coin flip" in v.message


def test_9_1_a_measurement_that_is_not_a_spread_gets_a_hint():
    _wrong("9.1", 2.4, "a standard deviation is positive", measured={"measured": 0.0})


# ---- 9.2 the weight with L_0 always computed -----------------------------------------------------
W = 999 / 49  # 20.388


def test_9_2_the_weight_makes_the_estimator_unbiased():
    """Exact enumeration on a small case (T = 6, K = 3): L_0 + w·Σ of K − 1 steps drawn without
    replacement from 2..T, averaged over every possible draw, equals the full sum only for
    w = (T − 1)/(K − 1) — the answer of 9.2 for T = 1000, K = 50."""
    T, K = 6, 3
    terms = np.array([5.0, 1.0, 0.5, 0.25, 0.1, 0.05])  # L_0 first, like a real bound
    draws = list(itertools.combinations(range(1, T), K - 1))
    for w, unbiased in (((T - 1) / (K - 1), True), (T / K, False), (T / (K - 1), False)):
        mean = np.mean([terms[0] + w * terms[list(d)].sum() for d in draws])
        assert math.isclose(mean, terms.sum(), rel_tol=1e-12) == unbiased


@pytest.mark.parametrize("answer", [W, 20.388, 20.39, torch.tensor(W), np.float32(W)])
def test_9_2_accepts(answer):
    _right("9.2", answer)


@pytest.mark.parametrize("answer, fragment", [
    (20.0, "T/K = 20"),
    (1000 / 49, "drawn from the T − 1 steps"),
    (999 / 50, "only K − 1 steps are drawn"),
    (49 / 999, "inverse"),
    (50 / 1000, "inverse chance"),
    (1 / 49, "scaled up"),
    (1.0, "decoder"),
    (20.36, "not accurate enough"),
    (100.0, "is not it"),
])
def test_9_2_names_the_mistake(answer, fragment):
    _wrong("9.2", answer, fragment)


# ---- 9.3 images for a ±0.01 interval -------------------------------------------------------------
N = math.ceil((Z * 0.3 / 0.01) ** 2)  # 3458


def test_9_3_oracle_value_and_the_interval_it_buys():
    assert N == 3458
    assert Z * 0.3 / math.sqrt(N) <= 0.01 < Z * 0.3 / math.sqrt(N - 1)


@pytest.mark.parametrize("answer", [N, 3457, 3457.3, torch.tensor(N), np.int64(N)])
def test_9_3_accepts(answer):
    _right("9.3", answer)


@pytest.mark.parametrize("answer, fragment", [
    (Z * 0.3 / 0.01, "square it"),
    (59, "square it"),
    (3600, "1.96"),
    (900, "1.96 is missing"),
    ((Z * 0.09 / 0.01) ** 2, "variance"),
    ((Z * 0.3 / 0.02) ** 2, "not the full width"),
    ((Z * 0.3 / 0.005) ** 2, "not h/2"),
    (3400, "round up"),
    (100, "is not it"),
])
def test_9_3_names_the_mistake(answer, fragment):
    _wrong("9.3", answer, fragment)
