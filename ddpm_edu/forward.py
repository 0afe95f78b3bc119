"""The forward (noising) process q and its posterior, in the paper's notation.

q(x_t | x_{t−1}) = N(√(1−β_t) x_{t−1}, β_t I)                       (one step)
q(x_t | x_0)     = N(√ᾱ_t x_0, (1−ᾱ_t) I)                           (closed form, DDPM eq. 4)
q(x_{t−1} | x_t, x_0) = N(c1_t x_0 + c2_t x_t, β̃_t I)                (posterior, DDPM eqs. 6–7)

and the conversions between the three quantities a network can predict: the noise ε, the clean
image x̂_0, and the posterior mean μ. All tensors are [N, ...] with t a LongTensor [N] in 1..T.
"""
from __future__ import annotations

import torch

from ._checks import check_float, check_same_shape, check_t
from .schedules import Schedule, extract

__all__ = [
    "q_step_sample", "q_mean_variance", "q_sample", "q_posterior",
    "predict_x0_from_eps", "predict_eps_from_x0", "predict_x0_from_mean",
]


def _prep(schedule: Schedule, x: torch.Tensor, t, name: str = "x0", allow_zero: bool = False):
    check_float(x, name)
    return check_t(t, schedule.T, x.shape[0], allow_zero=allow_zero)


def _noise_like(x: torch.Tensor, noise, generator) -> torch.Tensor:
    if noise is None:
        return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    check_float(noise, "noise")
    check_same_shape(x, noise, "x", "noise")
    return noise


def q_step_sample(schedule: Schedule, x_prev: torch.Tensor, t, noise=None, generator=None):
    """One forward step: x_t ~ q(x_t | x_{t−1}) = N(√(1−β_t) x_{t−1}, β_t I)."""
    t = _prep(schedule, x_prev, t, "x_prev")
    noise = _noise_like(x_prev, noise, generator)
    return (
        extract(schedule.alpha, t, x_prev).sqrt() * x_prev
        + extract(schedule.beta, t, x_prev).sqrt() * noise
    )


def q_mean_variance(schedule: Schedule, x0: torch.Tensor, t):
    """q(x_t | x_0) = N(√ᾱ_t x_0, (1−ᾱ_t) I): returns (mean, variance, log_variance).

    ``t`` may be 0 (then x_t = x_0, variance 0). Variance tensors are [N, 1, …], broadcastable to
    x0.
    """
    t = _prep(schedule, x0, t, allow_zero=True)
    mean = extract(schedule.sqrt_alpha_bar, t, x0) * x0
    var = extract(schedule.one_minus_alpha_bar, t, x0)
    return mean, var, var.log()


def q_sample(schedule: Schedule, x0: torch.Tensor, t, noise=None, generator=None) -> torch.Tensor:
    """x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε, a sample of q(x_t | x_0) (DDPM eq. 4).

    Args:
        x0: clean data in [−1, 1], shape [N, ...].
        t: LongTensor [N] (or an int) of paper time indices in 1..T.
        noise: ε, same shape as x0; drawn from N(0, I) with ``generator`` if omitted.
    """
    t = _prep(schedule, x0, t)
    noise = _noise_like(x0, noise, generator)
    return (extract(schedule.sqrt_alpha_bar, t, x0) * x0
            + extract(schedule.sqrt_one_minus_alpha_bar, t, x0) * noise)


def q_posterior(schedule: Schedule, x0: torch.Tensor, xt: torch.Tensor, t):
    """The posterior q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I) (DDPM eqs. 6–7).

    Returns (mean, variance, log_variance): mean = c1_t x_0 + c2_t x_t with
    c1_t = β_t √ᾱ_{t−1}/(1−ᾱ_t), c2_t = (1−ᾱ_{t−1}) √α_t/(1−ᾱ_t); variance β̃_t = β_t
    (1−ᾱ_{t−1})/(1−ᾱ_t), [N, 1, …]. β̃_1 = 0 (at t = 1 the posterior is the point x_0), so
    ``log_variance`` at t = 1 is log β̃_2 — the value the likelihood uses there; ``variance`` keeps
    the true 0.
    """
    t = _prep(schedule, x0, t)
    check_float(xt, "xt")
    check_same_shape(x0, xt, "x0", "xt")
    mean = (
        extract(schedule.posterior_mean_coef1, t, xt) * x0
        + extract(schedule.posterior_mean_coef2, t, xt) * xt
    )
    var = extract(schedule.posterior_variance, t, xt)
    log_var = extract(schedule.posterior_log_variance_clipped, t, xt)
    return mean, var, log_var


def predict_x0_from_eps(schedule: Schedule, xt: torch.Tensor, t, eps: torch.Tensor) -> torch.Tensor:
    """x̂_0 = (x_t − √(1−ᾱ_t) ε̂) / √ᾱ_t — inverting q_sample for a predicted noise."""
    t = _prep(schedule, xt, t, "xt")
    check_float(eps, "eps")
    check_same_shape(xt, eps, "xt", "eps")
    return (xt - extract(schedule.sqrt_one_minus_alpha_bar, t, xt) * eps) / extract(
        schedule.sqrt_alpha_bar, t, xt
    )


def predict_eps_from_x0(schedule: Schedule, xt: torch.Tensor, t, x0: torch.Tensor) -> torch.Tensor:
    """ε̂ = (x_t − √ᾱ_t x̂_0) / √(1−ᾱ_t) — the noise implied by a predicted clean image."""
    t = _prep(schedule, xt, t, "xt")
    check_float(x0, "x0")
    check_same_shape(xt, x0, "xt", "x0")
    return (xt - extract(schedule.sqrt_alpha_bar, t, xt) * x0) / extract(
        schedule.sqrt_one_minus_alpha_bar, t, xt
    )


def predict_x0_from_mean(
    schedule: Schedule, xt: torch.Tensor, t, mean: torch.Tensor
) -> torch.Tensor:
    """x̂_0 = (μ − c2_t x_t) / c1_t — the clean image implied by a predicted posterior mean."""
    t = _prep(schedule, xt, t, "xt")
    check_float(mean, "mean")
    check_same_shape(xt, mean, "xt", "mean")
    return (mean - extract(schedule.posterior_mean_coef2, t, xt) * xt) / extract(
        schedule.posterior_mean_coef1, t, xt
    )
