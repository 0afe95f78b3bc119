"""Chapter 12's exercise checks (flow matching): each accepts right answers in the forms a learner
may write them and rejects the typical wrong ones with the hint that names the mistake. The right
answers are recomputed here independently: the straight-path time from the library's
``flow_from_vp`` on a one-step schedule with ᾱ = 0.2, the Gaussian velocity by least squares on
Monte Carlo draws of (y_s, ε − x_0), Heun's factor from ``flow_steps`` on the exact Gaussian
flow."""
import math

import numpy as np
import pytest
import torch

from ddpm_edu import schedule_from_betas
from ddpm_edu.flow import flow_from_vp, flow_steps
from exercise_helpers import right as _right, wrong as _wrong


# ---- 12.1 the straight-path time of a DDPM step --------------------------------------------------
def test_12_1_oracle_is_the_library_map():
    one_step = schedule_from_betas([0.8])                 # ᾱ_1 = 0.2
    s = flow_from_vp(one_step, torch.zeros(1, 1), 1)[1].item()
    assert s == pytest.approx(2 / 3, abs=1e-12)
    _right("12.1", s)


@pytest.mark.parametrize("answer", [2 / 3, 0.6667, 0.667, torch.tensor(2 / 3), np.float32(2 / 3)])
def test_12_1_accepts(answer):
    _right("12.1", answer)


@pytest.mark.parametrize("answer, fragment", [
    (0.8, "noise's variance"),
    (math.sqrt(0.8), "divide x_t by a + b"),
    (1 / 3, "ends are swapped"),
    (2.0, "σ/(1 + σ)"),
    (math.sqrt(0.2), "weight of the data"),
    (0.5, "is not it"),
])
def test_12_1_names_the_mistake(answer, fragment):
    _wrong("12.1", answer, fragment)


# ---- 12.2 the exact velocity field of Gaussian data ----------------------------------------------
def _regression(s, m, sd, n=400_000, seed=0):
    """(slope, intercept) of the least-squares line of u = ε − x_0 on y_s, from Monte Carlo."""
    g = torch.Generator().manual_seed(seed)
    x0 = m + sd * torch.randn(n, generator=g, dtype=torch.float64)
    eps = torch.randn(n, generator=g, dtype=torch.float64)
    y, u = (1 - s) * x0 + s * eps, eps - x0
    design = torch.stack([y, torch.ones_like(y)], dim=1)
    return torch.linalg.lstsq(design, u[:, None]).solution[:, 0].tolist()


def _gaussian_velocity(y, s, m, sd):
    var = (1 - s) ** 2 * sd ** 2 + s ** 2
    return -m + (s - (1 - s) * sd ** 2) / var * (y - (1 - s) * m)


@pytest.mark.parametrize("s, m, sd", [(0.2, 0.3, 0.2), (0.5, -0.5, 0.7), (0.9, 0.8, 0.1)])
def test_12_2_the_closed_form_is_the_monte_carlo_regression(s, m, sd):
    slope, intercept = _regression(s, m, sd)
    y = torch.tensor([0.0, 1.0], dtype=torch.float64)
    v = _gaussian_velocity(y, s, m, sd)
    assert float(v[1] - v[0]) == pytest.approx(slope, abs=0.01)
    assert float(v[0]) == pytest.approx(intercept, abs=0.01)


def test_12_2_accepts_right_answers_in_several_styles():
    _right("12.2", _gaussian_velocity)
    _right("12.2", lambda y, s, m, sd: _gaussian_velocity(y, float(s), float(m), float(sd)).float())
    _right("12.2", lambda y, s, m, sd: _gaussian_velocity(y, s, m, sd).numpy())


def _velocity_with(mean_y, var_y, cov, scale=1.0, centre=True):
    def gaussian_velocity(y, s, m, sd):
        s, m, sd = float(s), float(m), float(sd)
        shift = mean_y(s, m) if centre else 0.0
        return scale * (-m + cov(s, sd) / var_y(s, sd) * (y - shift))
    return gaussian_velocity


MEAN = lambda s, m: (1 - s) * m                        # noqa: E731
VAR = lambda s, sd: (1 - s) ** 2 * sd ** 2 + s ** 2    # noqa: E731
COV = lambda s, sd: s - (1 - s) * sd ** 2              # noqa: E731


@pytest.mark.parametrize("fn, fragment", [
    (_velocity_with(MEAN, VAR, COV, scale=-1.0), "sign is flipped"),
    (lambda y, s, m, sd: torch.full_like(y, -float(m)), "averaged over all points"),
    (_velocity_with(lambda s, m: m, VAR, COV), "not m"),
    (_velocity_with(MEAN, VAR, COV, centre=False), "centre y"),
    (_velocity_with(MEAN, lambda s, sd: (1 - s) ** 2 * sd + s ** 2, lambda s, sd: s - (1 - s) * sd),
     "variance sd²"),
    (_velocity_with(MEAN, VAR, lambda s, sd: s), "two parts"),
    (_velocity_with(MEAN, lambda s, sd: (1 - s) * sd ** 2 + s, COV), "squared"),
    (_velocity_with(MEAN, VAR, lambda s, sd: 0.9 * s), "is a linear regression"),
])
def test_12_2_names_the_mistake(fn, fragment):
    fn.__name__ = "gaussian_velocity"
    _wrong("12.2", fn, fragment)


def test_12_2_a_wrong_shape_gets_a_hint():
    _wrong("12.2", lambda y, s, m, sd: y.sum(), "single number")


# ---- 12.3 predict, then measure: how fast Heun's error falls ------------------------------------
def test_12_3_the_chapters_measurement_is_second_order():
    """Heun on the exact Gaussian flow (the closed form of 12.2): error(20)/error(40) ≈ 4."""
    def model(y, k):
        return _gaussian_velocity(y, k.double()[:, None] / 1000, 0.3, 0.2)

    y1 = torch.linspace(-3, 3, 61, dtype=torch.float64)[:, None]

    def err(n):
        *_, last = flow_steps(model, y1, steps=n, method="heun")
        return (last.x - (0.3 + 0.2 * y1)).abs().max().item()

    assert err(20) / err(40) == pytest.approx(3.70, abs=0.01)


@pytest.mark.parametrize("answer", [4, 3.7, 3.0, 4.6, torch.tensor(4.0)])
def test_12_3_accepts_a_prediction_near_the_measurement(answer):
    v = _right("12.3", answer)
    assert "fell 3.70-fold" in v.message


@pytest.mark.parametrize("answer, fragment", [
    (2, "Euler's factor"),
    (8, "too much"),
    (2.5, "too little"),
    (0.5, "above 1"),
])
def test_12_3_names_the_slip_and_quotes_the_measurement(answer, fragment):
    v = _wrong("12.3", answer, fragment)
    assert "fell 3.70-fold" in v.message and "second-order" in v.message


def test_12_3_a_measurement_that_is_not_a_factor_gets_a_hint():
    _wrong("12.3", 4, "more than 1", measured={"measured": 0.5})
