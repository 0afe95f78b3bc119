"""Classifier-free guidance: the guided ε against closed forms, the guided model wrapper, and
sampling with class labels."""
from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import MultivariateNormal

from mixture_oracle import MixtureOracle
from ddpm_edu.chain import guided_model, label_tensor
from ddpm_edu.reverse import guided_eps, model_eps_x0
from ddpm_edu.schedules import linear_schedule

S = linear_schedule(1000)
# two classes in 2-D, each a Gaussian; p(y) = PRIOR
PRIOR = (0.6, 0.4)
MEANS = ((-0.5, -0.3), (0.4, 0.5))
COVS = (((0.04, 0.015), (0.015, 0.02)), ((0.01, 0.0), (0.0, 0.03)))


def _oracles():
    """ε*(x_t, y) per class (a one-component 'mixture') and ε*(x_t), the mixture's."""
    cond = [MixtureOracle(S, (1.0,), (m,), (c,)) for m, c in zip(MEANS, COVS)]
    return cond, MixtureOracle(S, PRIOR, MEANS, COVS)


def _log_components(x, t: int):
    """log N(x; √ᾱ μ_k, ᾱ Σ_k + (1−ᾱ) I) for k = 0, 1: (2, N), by torch.distributions."""
    ab = float(S.alpha_bar[t])
    mu = math.sqrt(ab) * torch.tensor(MEANS, dtype=torch.float64)
    cov = ab * torch.tensor(COVS, dtype=torch.float64) + (1 - ab) * torch.eye(2, dtype=torch.float64)
    return torch.stack([MultivariateNormal(mu[k], cov[k]).log_prob(x) for k in range(2)])


def _guided_score(x, t: int, y: int, w: float):
    """∇ log p(x_t) + (1+w) ∇ log p(y | x_t), by autograd of the exact densities."""
    x = x.clone().requires_grad_(True)
    log_joint = _log_components(x, t) + torch.tensor(PRIOR, dtype=torch.float64).log()[:, None]
    log_px = torch.logsumexp(log_joint, 0)                 # log p(x_t)
    log_py_x = log_joint[y] - log_px                       # log p(y | x_t), Bayes
    return torch.autograd.grad((log_px + (1 + w) * log_py_x).sum(), x)[0]


@pytest.mark.parametrize("t", [10, 300, 800])
@pytest.mark.parametrize("y", [0, 1])
@pytest.mark.parametrize("w", [0.0, 1.0, 3.5])
def test_guided_eps_is_the_score_of_p_x_times_classifier_to_the_1_plus_w(t, y, w):
    cond, uncond = _oracles()
    g = torch.Generator().manual_seed(t + 7 * y)
    x = math.sqrt(S.alpha_bar[t]) * torch.tensor(MEANS[y], dtype=torch.float64) \
        + 0.4 * torch.randn(50, 2, generator=g, dtype=torch.float64)
    tt = torch.full((50,), t)
    eps_c, eps_u = cond[y](x, tt), uncond(x, tt)
    got = guided_eps(eps_c, eps_u, w)
    want = -math.sqrt(float(S.one_minus_alpha_bar[t])) * _guided_score(x, t, y, w)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)
    # diffusers' convention: guidance_scale s = 1 + w, ε̃ = ε_u + s (ε_c − ε_u)
    torch.testing.assert_close(got, eps_u + (1 + w) * (eps_c - eps_u), rtol=1e-12, atol=1e-12)


def test_guidance_zero_is_the_conditional_model_and_x0_outputs_combine_the_same_way():
    g = torch.Generator().manual_seed(0)
    x, ec, eu = (torch.randn(5, 1, 4, 4, generator=g, dtype=torch.float64) for _ in range(3))
    assert guided_eps(ec, eu, 0.0) is ec
    t = torch.tensor([1, 10, 100, 500, 999])
    w = 2.5
    # x̂_0 is affine in ε̂ at fixed (x_t, t) and the weights (1+w, −w) add up to 1, so guiding
    # x̂_0 outputs gives the x̂_0 of the guided ε
    x0c, x0u = (model_eps_x0(S, e, x, t)[1] for e in (ec, eu))
    eps_from_x0 = model_eps_x0(S, guided_eps(x0c, x0u, w), x, t, "x0")[0]
    torch.testing.assert_close(eps_from_x0, guided_eps(ec, eu, w), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("w", [-0.5, float("nan"), float("inf"), "2", True])
def test_bad_guidance_is_refused(w):
    with pytest.raises((ValueError, TypeError), match="guidance"):
        guided_eps(torch.zeros(2), torch.zeros(2), w)
