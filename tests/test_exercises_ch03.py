"""Chapter 3's exercise checks (the L_vlb decomposition): each accepts right answers in the forms a
learner may give them and rejects the typical wrong ones with the hint that names the mistake. The
right answers are recomputed here from numpy/math alone (the linear schedule rebuilt from its
definition), independently of the library."""
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


# ---- 3.1 β̃_t ---------------------------------------------------------------------------------------
def _posterior_variance(b, ab, abp):
    return b * (1 - abp) / (1 - ab)


@pytest.mark.parametrize("fn", [
    _posterior_variance,
    lambda b, ab, abp: 1 / ((1 - b) / b + 1 / (1 - abp)),                 # via the precisions
    lambda b, ab, abp: (b * (1 - abp) / (1 - ab)).float(),                # float32 is fine
    lambda b, ab, abp: (b * (1 - abp) / (1 - ab)).tolist(),               # a list is fine
    lambda b, ab, abp: (b * (1 - abp) / (1 - ab)).numpy(),                # so is numpy
])
def test_3_1_accepts(fn):
    _right("3.1", fn)


@pytest.mark.parametrize("fn, fragment", [
    (lambda b, ab, abp: b * (1 - ab) / (1 - abp), "upside down"),
    (lambda b, ab, abp: b.clone(), "fixed large"),
    (lambda b, ab, abp: _posterior_variance(b, ab, abp).sqrt(), "standard deviation"),
    (lambda b, ab, abp: (1 - abp) / (1 - ab), "factor β_t is missing"),
    (lambda b, ab, abp: b * abp / ab, "not ᾱ"),
    (lambda b, ab, abp: (1 - b) / b + 1 / (1 - abp), "precision"),
    (lambda b, ab, abp: b * abp.sqrt() / (1 - ab), "coefficient of x_0"),
    (lambda b, ab, abp: (1 - abp) * (1 - b).sqrt() / (1 - ab), "coefficient of x_t"),
    (lambda b, ab, abp: b * (1 - abp), "denominator"),
    (lambda b, ab, abp: torch.where(abp == 1, b, _posterior_variance(b, ab, abp)), "t = 1"),
    (lambda b, ab, abp: _posterior_variance(b, ab, abp) * 1.1, "β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t)"),
    (lambda b, ab, abp: _posterior_variance(b, ab, abp)[:3], "shape"),
])
def test_3_1_names_the_mistake(fn, fragment):
    _wrong("3.1", fn, fragment)


def test_3_1_reports_a_crash_as_a_hint():
    def broken(b, ab, abp):
        return b / undefined_name  # noqa: F821
    _wrong("3.1", broken, "NameError")


# ---- 3.2 one KL term -------------------------------------------------------------------------------
BT10 = BETA[10] * (1 - ALPHA_BAR[9]) / (1 - ALPHA_BAR[10])
KL_BITS = 0.01 ** 2 / (2 * BT10) / LN2   # 0.30286


def test_3_2_oracle_value():
    assert abs(KL_BITS - 0.30286) < 1e-4


@pytest.mark.parametrize("answer", [KL_BITS, 0.3029, 0.303, torch.tensor(KL_BITS), np.float32(KL_BITS)])
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


# ---- 3.3 the prior term of a black image --------------------------------------------------------------
AB = ALPHA_BAR[-1]


def _prior_bits(x0, ab=AB):
    mean, var = math.sqrt(ab) * x0, 1 - ab
    return 0.5 * (-math.log(var) + var + mean ** 2 - 1) / LN2


BLACK = _prior_bits(-1.0)  # 2.9113e−5


def test_3_3_oracle_value():
    assert abs(BLACK - 2.9113e-5) < 1e-8


@pytest.mark.parametrize("answer", [BLACK, 2.91e-5, 2.911e-5, torch.tensor([BLACK]), AB / (2 * LN2)])
def test_3_3_accepts(answer):
    _right("3.3", answer)


@pytest.mark.parametrize("answer, fragment", [
    (BLACK * LN2, "nats"),
    (BLACK * 784, "bits per image"),
    (BLACK * LN2 * 784, "nats per image"),
    (_prior_bits(0.0), "x_0 = 0"),
    (0.5 * (-math.log(1 - AB) + (1 - AB) - 1) / LN2, "without its mean term"),  # = the x_0 = 0 value
    (_prior_bits(-255.0), "x_0 = −1"),
    (0.5 * (-math.log(1 - AB) + (1 - AB) + AB ** 2 - 1) / LN2, "√ᾱ_T·x_0"),
    (-BLACK, "never negative"),
    (3.0, "far too much"),
    (1e-3, "is not it"),
])
def test_3_3_names_the_mistake(answer, fragment):
    _wrong("3.3", answer, fragment)
