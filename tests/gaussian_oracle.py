"""Gaussian data as an exact oracle for samplers (math-reference.md, checks 12 and 13).

For data x_0 ~ N(m, s²) per dimension, q(x_t) = N(√ᾱ_t m, ᾱ_t s² + 1 − ᾱ_t) and the best possible
network is known in closed form (the posterior means under q):

    ε*(x_t, t)  = E[ε | x_t]   = √(1−ᾱ_t) (x_t − √ᾱ_t m) / D_t,      D_t = ᾱ_t s² + 1 − ᾱ_t
    x0*(x_t, t) = E[x_0 | x_t] = m + √ᾱ_t s² (x_t − √ᾱ_t m) / D_t
    μ*(x_t, t)  = c1_t x0* + c2_t x_t   (the posterior mean of q(x_{t−1} | x_t, x_0 = x0*))

Every sampler update is affine in x_t when x̂_0 is not clipped, so the distribution of the final
sample is Gaussian and its mean and variance follow exactly from a scalar recursion
(:func:`exact_moments`). That recursion is written here from the papers' formulas in plain Python
floats, independently of ``ddpm_edu.reverse``. Tests reuse :class:`GaussianOracle` as a "trained
network" (also for the score-based chapter: score = −ε*/√(1−ᾱ_t)).
"""
from __future__ import annotations

import math

import torch

M, S = 0.3, 0.2  # the data distribution of math-reference.md check 12

# math-reference.md check 12 (rounded Monte Carlo values; linear schedule, T = 1000, x_T ~ N(0, 1)).
REFERENCE = {
    ("ddpm", "fixed_small"): (0.2999, 0.1961),
    ("ddpm", "fixed_large"): (0.2999, 0.2007),
    ("ddim", 0.0): (0.2997, 0.1987),
}


class GaussianOracle:
    """The optimal network for N(m, s²) data: ``oracle(x_t, t)`` → ε*, x0* or μ* (per
    ``mean_type``).

    ``t`` is a LongTensor [N] of indices into ``schedule`` (the original, un-respaced one).
    Every call's distinct ``t`` values are recorded in ``calls``, for tests of how samplers call it.
    """

    def __init__(self, schedule, m: float = M, s: float = S, mean_type: str = "eps"):
        if mean_type not in ("eps", "x0", "mu"):
            raise ValueError(f"mean_type must be 'eps', 'x0' or 'mu', got {mean_type!r}")
        self.schedule, self.m, self.s, self.mean_type = schedule, m, s, mean_type
        self.calls: list[list[int]] = []   # the distinct t values of each call
        self.t_info: set = set()            # (dtype, shape, device) of every t received

    def _table(self, table, t, x):
        v = table[t.cpu()].to(dtype=x.dtype, device=x.device)
        return v.reshape(v.shape + (1,) * (x.ndim - 1))

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t0 = int(t[0])
        self.calls.append([t0] if bool((t == t0).all()) else torch.unique(t).tolist())
        self.t_info.add((t.dtype, tuple(t.shape), t.device))
        ab = self._table(self.schedule.alpha_bar, t, x_t)
        m, s2 = self.m, self.s ** 2
        d = ab * s2 + 1 - ab
        if self.mean_type == "eps":
            return (1 - ab).sqrt() * (x_t - ab.sqrt() * m) / d
        x0 = m + ab.sqrt() * s2 * (x_t - ab.sqrt() * m) / d
        if self.mean_type == "x0":
            return x0
        ab_prev = self._table(self.schedule.alpha_bar, t - 1, x_t)
        beta = 1 - ab / ab_prev
        c1 = beta * ab_prev.sqrt() / (1 - ab)
        c2 = (1 - ab_prev) * (1 - beta).sqrt() / (1 - ab)
        return c1 * x0 + c2 * x_t


def affine_chain(alpha_bars, sampler: str, *, var_type: str = "fixed_small", eta: float = 0.0,
                 m: float = M, s: float = S):
    """Per-update coefficients (A, B, σ) with x_next = A x + B + σ z, for an unclipped chain driven
    by the optimal ε*.

    ``alpha_bars``: ᾱ at the visited steps, from the first (x_T) to the last (ᾱ_0 = 1), e.g.
    ``schedule.alpha_bar[[step.t for step in steps]]``. ``sampler``: "ddpm" (DDPM eq. 11 with
    σ² = β̃ or β of the visited chain, β_k = 1 − ᾱ_k/ᾱ_{k−1}) or "ddim" (DDIM eq. 12 with ``eta``).
    The last update adds no noise (σ = 0).
    """
    abs_ = [float(a) for a in alpha_bars]
    if abs_[-1] != 1.0:
        raise ValueError("the visited ᾱ must end with ᾱ_0 = 1 (the data)")
    if sampler not in ("ddpm", "ddim"):
        raise ValueError(f"sampler must be 'ddpm' or 'ddim', got {sampler!r}")
    coefs = []
    for i in range(len(abs_) - 1):
        a, ap = abs_[i], abs_[i + 1]
        k = math.sqrt(1 - a) / (a * s * s + 1 - a)      # ε* = k x + b
        b = -k * math.sqrt(a) * m
        p = (1 - math.sqrt(1 - a) * k) / math.sqrt(a)   # x̂_0 = p x + q
        q = -math.sqrt(1 - a) * b / math.sqrt(a)
        if sampler == "ddpm":
            beta = 1 - a / ap
            c1 = beta * math.sqrt(ap) / (1 - a)          # μ = c1 x̂_0 + c2 x
            c2 = (1 - ap) * math.sqrt(1 - beta) / (1 - a)
            A, B = c1 * p + c2, c1 * q
            sig2 = beta * (1 - ap) / (1 - a) if var_type == "fixed_small" else beta
        else:
            sig2 = eta ** 2 * (1 - ap) / (1 - a) * (1 - a / ap)
            c = math.sqrt(max(1 - ap - sig2, 0.0))       # x = √ᾱ' x̂_0 + c ε* + σ z
            A, B = math.sqrt(ap) * p + c * k, math.sqrt(ap) * q + c * b
        last = i == len(abs_) - 2
        coefs.append((A, B, 0.0 if last else math.sqrt(sig2)))
    return coefs


def exact_moments(alpha_bars, sampler: str, *, var_type: str = "fixed_small", eta: float = 0.0,
                  m: float = M, s: float = S, x_T_mean: float = 0.0, x_T_var: float = 1.0):
    """Exact (mean, std) of the final sample of :func:`affine_chain` started at
    x_T ~ N(x_T_mean, x_T_var): mean ← A·mean + B, var ← A²·var + σ² at every update."""
    mu, var = x_T_mean, x_T_var
    for A, B, sig in affine_chain(alpha_bars, sampler, var_type=var_type, eta=eta, m=m, s=s):
        mu, var = A * mu + B, A * A * var + sig * sig
    return mu, math.sqrt(var)
