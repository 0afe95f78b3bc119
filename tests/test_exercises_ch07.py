"""Chapter 7's exercise checks: each accepts right answers in the forms a learner may give them and
rejects the typical wrong ones with the hint that names the mistake. The right answers are also
recomputed here from the formulas alone (math.log10, the schedule's ᾱ_t), independently of the
library functions the checks call."""
import math

import numpy as np
import pytest
import torch

from ddpm_edu import linear_schedule
from exercise_helpers import right as _right, wrong as _wrong


# ---- 7.1 ε̂ from x̂_0 ----------------------------------------------------------------------------
def test_7_1_oracle_round_trip():
    """Independent of the check: with x̂_0 = x_0 the formula gives back the true ε."""
    ab = float(linear_schedule(1000).alpha_bar[300])
    g = torch.Generator().manual_seed(0)
    x0, eps = (
        torch.rand(5, generator=g, dtype=torch.float64),
        torch.randn(5, generator=g, dtype=torch.float64),
    )
    xt = math.sqrt(ab) * x0 + math.sqrt(1 - ab) * eps
    torch.testing.assert_close((xt - math.sqrt(ab) * x0) / math.sqrt(1 - ab), eps)


@pytest.mark.parametrize("answer", [
    lambda xt, x0, ab: (xt - math.sqrt(ab) * x0) / math.sqrt(1 - ab),
    lambda xt, x0, ab: (xt - torch.tensor(ab).sqrt() * x0) / torch.tensor(1 - ab).sqrt(),
    lambda xt, x0, ab: ((xt - ab ** 0.5 * x0) / (1 - ab) ** 0.5).numpy(),
])
def test_7_1_accepts(answer):
    _right("7.1", answer)


@pytest.mark.parametrize("answer, fragment", [
    (lambda xt, x0, ab: (xt - ab * x0) / math.sqrt(1 - ab), "√ᾱ_t, not ᾱ_t"),
    (lambda xt, x0, ab: (xt - math.sqrt(ab) * x0) / (1 - ab), "not by its variance"),
    (lambda xt, x0, ab: (math.sqrt(ab) * x0 - xt) / math.sqrt(1 - ab), "sign is flipped"),
    (lambda xt, x0, ab: (xt - math.sqrt(1 - ab) * x0) / math.sqrt(ab), "swapped"),
    (lambda xt, x0, ab: xt - math.sqrt(ab) * x0, "noise *term*"),
    (lambda xt, x0, ab: (xt - math.sqrt(ab) * x0) / math.sqrt(ab), "not by √ᾱ_t"),
    (lambda xt, x0, ab: (xt - math.sqrt(ab) * x0).mean(), "shape"),
    (lambda xt, x0, ab: xt, "at t = "),
])
def test_7_1_names_the_mistake(answer, fragment):
    _wrong("7.1", answer, fragment)


# ---- 7.2 PSNR ------------------------------------------------------------------------------------
def _mse(a, b):
    return float(((a.double() - b.double()) ** 2).mean())


def test_7_2_oracle_on_a_constant_error():
    from ddpm_edu.datasets.single_image import psnr_to_nearest
    a, b = torch.full((1, 3, 2, 2), 0.1), torch.zeros(1, 3, 2, 2)
    assert abs(float(psnr_to_nearest(a, b)) - 10 * math.log10(4 / 0.01)) < 1e-5  # 26.02 dB


@pytest.mark.parametrize("answer", [
    lambda a, b: 10 * math.log10(4 / _mse(a, b)),                              # a float
    lambda a, b: 10 * torch.log10(4 / ((a - b) ** 2).mean()),                  # float32 tensor
    lambda a, b: 20 * math.log10(2 / math.sqrt(_mse(a, b))),                   # RMS form
    lambda a, b: np.array([10 * np.log10(4 / np.mean((a.numpy() - b.numpy()) ** 2))]),
    lambda a, b: 10 * math.log10(255 ** 2 / _mse((a + 1) * 127.5, (b + 1) * 127.5)),  # via pixels
])
def test_7_2_accepts(answer):
    _right("7.2", answer)


@pytest.mark.parametrize("answer, fragment", [
    (lambda a, b: 10 * math.log10(1 / _mse(a, b)), "peak of 1"),
    (lambda a, b: 10 * math.log10(255 ** 2 / _mse(a, b)), "peak of 255"),
    (lambda a, b: 10 * math.log10(4 / math.sqrt(_mse(a, b))), "root-mean-square"),
    (lambda a, b: 20 * math.log10(4 / _mse(a, b)), "factor is 10"),
    (lambda a, b: 10 * math.log(4 / _mse(a, b)), "natural logarithm"),
    (lambda a, b: 10 * math.log10(_mse(a, b) / 4), "sign is flipped"),
    (lambda a, b: 10 * math.log10(4 / _mse((a + 1) / 2, (b + 1) / 2)), "peak of 4"),
    (lambda a, b: 10 * math.log10(4 / (3 * _mse(a, b))), "summed over the channels"),
    (lambda a, b: 10 * torch.log10(4 / ((a - b) ** 2).mean((1, 2))), "one number per pair"),
    (lambda a, b: 1 / 0, "ZeroDivisionError"),
    (lambda a, b: 42.0, "first pair"),
])
def test_7_2_names_the_mistake(answer, fragment):
    _wrong("7.2", answer, fragment)


# ---- 7.3 predict, then measure: the first guess x̂_0, made from pure noise ------------------------
@pytest.mark.parametrize("answer", [33, 32.85, 30, 36, torch.tensor(33.0)])
def test_7_3_accepts_a_prediction_near_the_measurement(answer):
    v = _right("7.3", answer)
    assert "scores 32.9 dB" in v.message


@pytest.mark.parametrize("answer, fragment", [
    (8, "noise-like"),                # the intuition: a guess from pure noise is noise
    (45, "not exact"),
    (25, "too little"),
])
def test_7_3_names_the_slip_and_quotes_the_measurement(answer, fragment):
    v = _wrong("7.3", answer, fragment)
    assert "32.9 dB" in v.message
