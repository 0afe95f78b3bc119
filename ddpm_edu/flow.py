"""Flow matching on straight paths, and its exact relation to a DDPM ε-model.

Straight paths (Lipman et al. 2023, "Flow Matching for Generative Modeling", arXiv 2210.02747;
Liu et al. 2023, "Flow Straight and Fast" (rectified flow), arXiv 2209.03003). For a time
s ∈ [0, 1] (s = 0 data, s = 1 noise, the direction of DDPM's t):

    y_s = (1 − s) x_0 + s ε,     ε ~ N(0, I)                         (:func:`straight_path`)
    d y_s / d s = ε − x_0 =: u                                        (:func:`velocity_target`)

A network v_θ(y, s) regressed on u (:func:`flow_matching_loss`) learns
v*(y, s) = E[ε − x_0 | y_s = y], the velocity of the marginal path: the ODE dy/ds = v*(y, s),
started from y_1 ~ N(0, I) and run from s = 1 to s = 0 (:func:`flow_steps`), carries N(0, I) to the
data distribution.

Time for the network. The course's networks embed an integer time index, as a DDPM's t
(:mod:`ddpm_edu.nets.embedding`). Flow time is fed the same way on a fine grid: the network sees
k = s·K with K = ``levels`` (1000 by default), and the loss and the samplers use only grid times
s = k/K, so the network never meets a time it was not trained on. k = K is the noise end, k = 0 the
data, as t = T and t = 0 for a DDPM.

The same family as DDPM. A DDPM point x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε, divided by a + b with
a = √ᾱ_t, b = √(1−ᾱ_t), is (1 − s) x_0 + s ε with

    y = x_t / (a + b),     s = b / (a + b)                            (:func:`flow_from_vp`)

so the VP path and the straight path have the same marginals up to this change of scale and time.
Conditioning on y is conditioning on x_t, so the velocity of the straight path is
v* = E[ε | x_t] − E[x_0 | x_t] = ε̂ − x̂_0, with x̂_0 = (x_t − b ε̂)/a:

    v = ((a + b) ε̂ − x_t) / a = (1 + σ_t)(ε̂ − y),   σ_t = b/a        (:func:`velocity_from_eps`)
    ε̂ = y + (1 − s) v,          x̂_0 = y − s v                         (:func:`eps_from_velocity`)

and the probability-flow ODE of chapter 10, dx̄/dσ = ε̂ in x̄ = x_t/a, becomes dy/ds = v in these
variables (y = x̄/(1 + σ), s = σ/(1 + σ)): the same ODE, the same trajectories. An Euler step of
either, y' = (1 − s') x̂_0 + s' ε̂, is DDIM's η = 0 step.

Names elsewhere: diffusers' ``FlowMatchEulerDiscreteScheduler`` uses the same path (its sigma is our
s) and integrates with Euler; Stable Diffusion 3 trains this loss ("rectified flow").
"""
from __future__ import annotations

import numbers
from typing import Iterator

import torch

from ._checks import (check_choice, check_float, check_generator, check_model, check_same_shape,
                      check_schedule, check_steps, check_t)
from .chain import Step, initial_noise, randn
from .errors import InvalidArgument, InvalidType
from .losses import mean_flat
from .schedules import Schedule, extract
from .score import ODEMethod

__all__ = ["straight_path", "velocity_target", "flow_matching_loss", "flow_from_vp",
           "velocity_from_eps", "eps_from_velocity", "flow_steps", "LEVELS"]

LEVELS = 1000  # K: the network sees flow time s as the integer k = s·K


# ---- checks -------------------------------------------------------------------------------------
def _check_levels(levels) -> int:
    if isinstance(levels, bool) or not isinstance(levels, numbers.Integral) or levels < 1:
        raise InvalidArgument(f"levels must be a positive int (the network sees flow time s as "
                              f"the integer k = s·levels; 1000 is the default), got {levels!r}.")
    return int(levels)


def _check_s(s, x: torch.Tensor) -> torch.Tensor:
    """Flow time: a number or a float tensor [] / [N] in [0, 1] → shaped to broadcast with x."""
    if isinstance(s, bool) or not isinstance(s, (numbers.Real, torch.Tensor)):
        raise InvalidType(f"s must be a number or a float tensor [N] of flow times in [0, 1], "
                          f"got {type(s).__name__}.")
    s = torch.as_tensor(s, dtype=x.dtype, device=x.device)
    if s.ndim > 1 or (s.ndim == 1 and s.shape[0] != x.shape[0]):
        raise InvalidArgument(f"s must be a number or have shape [{x.shape[0]}] (one flow time "
                              f"per example), got shape {tuple(s.shape)}.")
    if s.numel() and not bool(((s >= 0) & (s <= 1)).all()):
        raise InvalidArgument("s must lie in [0, 1] (s = 0 is the data, s = 1 pure noise), got "
                              f"values from {s.min().item():.4g} to {s.max().item():.4g}.")
    return s.reshape(-1, *([1] * (x.ndim - 1))) if s.ndim == 1 else s


# ---- the straight path and its loss -------------------------------------------------------------
def straight_path(x0: torch.Tensor, noise: torch.Tensor, s) -> torch.Tensor:
    """y_s = (1 − s) x_0 + s ε: the straight path from data (s = 0) to noise (s = 1).

    Args: x0, noise: [N, ...] of the same shape; s: a number or a float tensor [N] in [0, 1].
    Returns y_s, shape like x0 (diffusers' ``FlowMatchEulerDiscreteScheduler.scale_noise``).
    """
    check_float(x0, "x0")
    check_float(noise, "noise")
    check_same_shape(x0, noise, "x0", "noise")
    s = _check_s(s, x0)
    return (1 - s) * x0 + s * noise


def velocity_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """u = d y_s / d s = ε − x_0: what the network regresses on (the same at every s)."""
    check_float(x0, "x0")
    check_float(noise, "noise")
    check_same_shape(x0, noise, "x0", "noise")
    return noise - x0


def flow_matching_loss(net, x0: torch.Tensor, *, t=None, noise=None, levels: int = LEVELS,
                       generator=None) -> torch.Tensor:
    """The conditional flow-matching loss, mean_n mean_i (v_θ(y_s, k) − (ε − x_0))², a 0-d tensor.

    Args:
        net: any ``net(y, k) -> tensor shaped like y``, k a LongTensor [N] of grid indices (the
            course's MLP and U-Net as they are: they know nothing of flows).
        x0: a batch of data [N, ...] (float).
        t: the grid indices k [N] in 0..levels (s = k/levels), or None to draw them uniformly
            with ``generator``; noise: ε [N, ...], or None to draw it (after t).
        levels: K, the grid of flow times the network sees (see the module docstring).
    The minimiser over all functions of (y, k) is v*(y, k/K) = E[ε − x_0 | y_s = y].
    """
    check_model(net, "net")
    check_float(x0, "x0")
    check_generator(generator)
    levels = _check_levels(levels)
    n = x0.shape[0]
    if t is None:
        t = torch.randint(0, levels + 1, (n,), generator=generator)
    t = check_t(t, levels, n, allow_zero=True).to(x0.device)
    if noise is None:
        noise = randn(x0.shape, generator, x0.dtype, x0.device)
    y = straight_path(x0, noise, t.to(x0.dtype) / levels)
    out = net(y, t)
    if not isinstance(out, torch.Tensor) or out.shape != y.shape:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise InvalidArgument(f"flow_matching_loss: the network returned {got} for input "
                              f"{tuple(y.shape)}; it must return a velocity shaped like y.")
    return mean_flat((out - velocity_target(x0, noise)) ** 2).mean()


# ---- DDPM (VP) ↔ straight path ------------------------------------------------------------------
def _ab(schedule: Schedule, t, x: torch.Tensor):
    """(a, b) = (√ᾱ_t, √(1−ᾱ_t)) shaped to broadcast with x; t checked (1..T)."""
    check_schedule(schedule)
    check_float(x, "x_t")
    t = check_t(t, schedule.T, x.shape[0])
    return (extract(schedule.sqrt_alpha_bar, t, x),
            extract(schedule.sqrt_one_minus_alpha_bar, t, x))


def flow_from_vp(schedule: Schedule, x_t: torch.Tensor, t):
    """(y, s): the DDPM point x_t at step t on the straight path's scale and clock.

    y = x_t/(√ᾱ_t + √(1−ᾱ_t)) [N, ...] has the law of (1 − s) x_0 + s ε with
    s = √(1−ᾱ_t)/(√ᾱ_t + √(1−ᾱ_t)), returned as a float64 tensor [N]. t: 1..T (an int or [N]).
    """
    a, b = _ab(schedule, t, x_t)
    t = check_t(t, schedule.T, x_t.shape[0])
    a64, b64 = schedule.sqrt_alpha_bar[t.cpu()], schedule.sqrt_one_minus_alpha_bar[t.cpu()]
    return x_t / (a + b), b64 / (a64 + b64)


def velocity_from_eps(schedule: Schedule, x_t: torch.Tensor, eps: torch.Tensor, t):
    """v = ((a + b) ε̂ − x_t)/a = ε̂ − x̂_0: the straight-path velocity at (y, s) = flow_from_vp(…).

    Args: x_t [N, ...] on the DDPM's scale; eps: ε̂(x_t, t), shaped like x_t; t: 1..T.
    With the exact ε* = E[ε | x_t] this is the exact v*(y, s) = E[ε − x_0 | y_s = y].
    """
    check_float(eps, "eps")
    check_same_shape(x_t, eps, "x_t", "eps")
    a, b = _ab(schedule, t, x_t)
    return ((a + b) * eps - x_t) / a


def eps_from_velocity(schedule: Schedule, x_t: torch.Tensor, v: torch.Tensor, t):
    """ε̂ = y + (1 − s) v with (y, s) = flow_from_vp(x_t): the inverse of :func:`velocity_from_eps`.

    (From y = (1 − s) x̂_0 + s ε̂ and v = ε̂ − x̂_0.) Same arguments, with the velocity v [N, ...].
    """
    check_float(v, "v")
    check_same_shape(x_t, v, "x_t", "v")
    a, b = _ab(schedule, t, x_t)
    return x_t / (a + b) + a / (a + b) * v


# ---- the ODE samplers ---------------------------------------------------------------------------
def flow_steps(model, x_1=None, *, shape=None, steps: int = 50, method="euler",
               levels: int = LEVELS, generator=None, dtype=None,
               device=None) -> Iterator[Step]:
    """Integrate dy/ds = v_θ(y, s) from s = 1 (noise) to s = 0 (data); deterministic.

    The grid: S = ``steps`` intervals, s_j = k_j/K with k_j = round(j·K/S), j = S … 0.
    Euler: y' = y + (s' − s) v_θ(y, s) (one network call per step; order 1).
    Heun: d = v_θ(y, s), y~ = y + h d, d' = v_θ(y~, s'), y' = y + h (d + d')/2 with h = s' − s
    (two calls per step, also on the last one: v_θ is defined at s = 0; order 2).

    Args:
        model: ``model(y, k) -> v`` with k a LongTensor [N] of grid indices (see the module
            docstring), e.g. an MLP trained with :func:`flow_matching_loss`.
        x_1: the starting noise [N, ...]; or ``shape`` = (N, ...) to draw it from N(0, I) with
            ``generator`` (``dtype``/``device`` as in :func:`ddpm_edu.sampling.ddim_steps`).
        steps: S, 1..levels. method: "euler" or "heun" (:class:`ddpm_edu.score.ODEMethod`).
        levels: K, as the model was trained with.

    Yields :class:`~ddpm_edu.sampling.Step` with ``t`` the grid index k (K for the noise, 0 for
    the sample): ``Step(K, y_1, None)``, then ``Step(k_{j−1}, y, x̂_0)`` after each step, with
    x̂_0 = y − s v_θ(y, s) the data point predicted by that step's first call.
    """
    check_model(model)
    check_generator(generator)
    method = check_choice(ODEMethod, method, "method")
    levels = _check_levels(levels)
    steps = check_steps(steps, levels, "flow_steps",
                        limit=f"levels = {levels} (the grid of flow times the model knows)")
    grid = [round(j * levels / steps) for j in range(int(steps), -1, -1)]  # K … 0, distinct
    try:
        x = initial_noise(x_1, shape, generator, dtype, device, "flow_steps")
    except InvalidArgument as e:  # its messages name DDPM's x_T; here the noise is x_1
        raise InvalidArgument(str(e).replace("x_T", "x_1")) from None
    return _flow_gen(model, x, grid, levels, method)


def _velocity(model, y: torch.Tensor, k: int) -> torch.Tensor:
    t = torch.full((y.shape[0],), k, dtype=torch.long, device=y.device)
    with torch.no_grad():  # local: never leaks a grad mode into the consumer between yields
        return model(y, t)


def _flow_gen(model, y, grid, levels, method):
    yield Step(grid[0], y, None)
    for k, k_next in zip(grid[:-1], grid[1:]):
        s, h = k / levels, (k_next - k) / levels          # h < 0: towards the data
        d = _velocity(model, y, k)
        x0_hat = y - s * d
        if method is ODEMethod.HEUN:
            d = (d + _velocity(model, y + h * d, k_next)) / 2
        y = y + h * d
        yield Step(k_next, y, x0_hat)
