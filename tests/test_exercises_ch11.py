"""Chapter 11's exercise checks (conditioning and guidance): each accepts right answers in the
forms a learner may write them and rejects the typical wrong ones with the hint that names the
mistake. The right answers are recomputed here independently: 11.1 from the score form
(ε = −√(1−ᾱ)·score, the score plus s·∇log p(y|x_t)), 11.2 from diffusers' formula
ε_u + s (ε_c − ε_u) with s = 1 + w, and 11.3 follows the measurement it is given."""
import math

import numpy as np
import pytest
import torch

from exercise_helpers import right as _right, wrong as _wrong


# ---- 11.1 classifier guidance as an ε ------------------------------------------------------------
def _via_score(eps, grad, alpha_bar, scale):
    sigma = math.sqrt(1 - float(alpha_bar))
    score = -eps / sigma + scale * grad          # ∇log p(x_t) + s ∇log p(y|x_t)
    return -sigma * score


def test_11_1_accepts_right_answers_in_several_styles():
    _right("11.1", _via_score)
    _right("11.1", lambda e, g, ab, s: e - s * torch.sqrt(1 - ab) * g)
    _right("11.1", lambda e, g, ab, s: (e - s * (1 - ab).sqrt() * g).numpy())


@pytest.mark.parametrize("fn, fragment", [
    (lambda e, g, ab, s: e + s * torch.sqrt(1 - ab) * g, "sign is flipped"),
    (lambda e, g, ab, s: e - s * g, "carries the factor"),
    (lambda e, g, ab, s: e - s * (1 - ab) * g, "not 1 − ᾱ_t"),
    (lambda e, g, ab, s: e - s * g / torch.sqrt(1 - ab), "you divided"),
    (lambda e, g, ab, s: e - s * torch.sqrt(ab) * g, "signal's"),
    (lambda e, g, ab, s: e - torch.sqrt(1 - ab) * g, "scale s multiplies"),
    (lambda e, g, ab, s: e - s * torch.sqrt(1 - ab) * g + 0.01, "yours is"),
])
def test_11_1_names_the_mistake(fn, fragment):
    _wrong("11.1", fn, fragment)


def test_11_1_with_s_equal_1_plus_w_and_the_implicit_classifier_is_cfg():
    from ddpm_edu.reverse import guided_eps

    g = torch.Generator().manual_seed(0)
    ec, eu = torch.randn(2, 6, generator=g, dtype=torch.float64)
    ab, w = torch.tensor(0.4, dtype=torch.float64), 2.0
    implicit = (eu - ec) / torch.sqrt(1 - ab)    # ∇log q(x|y) − ∇log q(x), from the two ε
    torch.testing.assert_close(_via_score(eu, implicit, ab, 1 + w), guided_eps(ec, eu, w))


# ---- 11.2 the guided ε ---------------------------------------------------------------------------
def _diffusers(eps_cond, eps_uncond, w):
    guidance_scale = 1 + w
    return eps_uncond + guidance_scale * (eps_cond - eps_uncond)


def test_11_2_accepts_right_answers_in_several_styles():
    _right("11.2", _diffusers)
    _right("11.2", lambda c, u, w: c + w * (c - u))
    _right("11.2", lambda c, u, w: ((1 + w) * c - w * u).float())
    _right("11.2", lambda c, u, w: ((1 + w) * c - w * u).numpy())


@pytest.mark.parametrize("fn, fragment", [
    (lambda c, u, w: u + w * (c - u), "guidance_scale = w"),
    (lambda c, u, w: (1 + w) * u - w * c, "swapped"),
    (lambda c, u, w: (1 - w) * c + w * u, "interpolates"),
    (lambda c, u, w: (1 + w) * c + w * u, "minus sign"),
    (lambda c, u, w: c, "unchanged"),
    (lambda c, u, w: w * c - (w - 1) * u, "guidance_scale = w"),   # the same slip, expanded
    (lambda c, u, w: (1 + w) * c - w * u + 0.01, "yours is"),
    (lambda c, u, w: ((1 + w) * c - w * u).sum(), "did you sum"),
    (lambda c, u, w: c.reshape(2, 18), "shape"),
])
def test_11_2_names_the_mistake(fn, fragment):
    _wrong("11.2", fn, fragment)


# ---- 11.3 predict, then measure ------------------------------------------------------------------
@pytest.mark.parametrize("answer", [0.41, 0.3, 0.55, torch.tensor(0.5), np.float64(0.4)])
def test_11_3_accepts_a_prediction_near_the_measurement(answer):
    v = _right("11.3", answer)
    assert "keep 0.41 of the diversity" in v.message


def test_11_3_follows_the_measurement_not_a_fixed_answer():
    _right("11.3", 0.8, measured={"measured": 0.75})
    _wrong("11.3", 0.41, "keep 0.75", measured={"measured": 0.75})


@pytest.mark.parametrize("answer, fragment", [
    (1.0, "as varied or more"),
    (1.5, "as varied or more"),
    (0.02, "near-copies"),
    (-0.3, "cannot be negative"),
    (0.8, "you predicted 0.8."),
])
def test_11_3_names_the_slip_and_quotes_the_measurement(answer, fragment):
    _wrong("11.3", answer, fragment)
