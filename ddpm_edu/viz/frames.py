"""Which steps of a chain become frames: spaced where the picture changes, not evenly in t.

A picture x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε changes with ᾱ_t, not with t. Under DDPM's linear schedule
(T = 1000) ᾱ_t has already fallen below 0.01 by t ≈ 550, so frames evenly spaced in t spend almost
half of an animation on pure noise and rush through the steps where the image appears. Writing
x_t = cos φ_t · x_0 + sin φ_t · ε with the angle φ_t = arccos √ᾱ_t ∈ [0, π/2], the chain turns x_0
into noise by a rotation; spacing frames evenly in a quantity the eye follows fixes the pacing:

``"angle"`` (default) — φ_t: signal amplitude cos φ and noise amplitude sin φ change at matched
    rates, so neither end is rushed. Linear T=1000, 12 frames: t = 1000, 600, 478, 392, 322, 260,
    203, 149, 98, 48, 1, 0. (The cosine schedule is by construction almost linear in φ: its frames
    come out nearly evenly spaced in t, which is the point of that schedule.)
``"sqrt_alpha_bar"`` — √ᾱ_t, the amplitude of the signal left in x_t: equal losses of the picture,
    but the clean end is rushed (√ᾱ = 0.9 already means noise of standard deviation 0.44).
``"log_snr"`` — log(ᾱ_t / (1−ᾱ_t)): equal ratios of signal to noise; lingers at both ends.
``"t"`` — evenly in t, for comparison.

:func:`pick_steps` applies the choice to a stream of steps (a sampler's ``Step(t, x, x0_hat)``
generator, from t = T down to 0) and keeps only the chosen steps, so memory grows with the number
of frames, never with T; :func:`frame_times` gives the chosen times of a full chain.
"""
from __future__ import annotations

import math
from typing import Iterable, Iterator

import numpy as np
import torch

from ..schedules import Schedule
from ..errors import InvalidArgument

SPACINGS = ("angle", "sqrt_alpha_bar", "log_snr", "t")


def step_time(step) -> int:
    """The time index t of a step (a ``Step(t, x, x0_hat)`` or any (t, x, x0_hat) tuple) as an
    int."""
    t = step[0]
    if isinstance(t, torch.Tensor):
        if t.numel() != 1 and not bool((t == t.flatten()[0]).all()):
            raise InvalidArgument(
                "a step's t holds different times for different samples; the chain "
                "visualisations need one time per step."
            )
        t = t.flatten()[0].item()
    return int(t)


def coordinate(schedule: Schedule, spacing: str = "angle"):
    """The function t ↦ c(t) in which frames are spaced evenly; c increases as t falls toward 0."""
    if spacing == "angle":
        # c = π/2 − φ_t, which grows from ≈ 0 (noise) to π/2 (data) as t falls
        table = np.arcsin(np.clip(schedule.sqrt_alpha_bar.double().numpy(), 0.0, 1.0))
    elif spacing == "sqrt_alpha_bar":
        table = schedule.sqrt_alpha_bar.double().numpy()
    elif spacing == "log_snr":
        table = schedule.log_snr.double().numpy()  # index 0 is +inf: the data comes last
    elif spacing == "t":
        table = -np.arange(schedule.T + 1, dtype=np.float64)
    else:
        raise InvalidArgument(f"spacing must be one of {SPACINGS}, got {spacing!r}.")

    def c(t: int) -> float:
        if not 0 <= t <= schedule.T:
            raise InvalidArgument(
                f"step time t = {t} is outside 0..{schedule.T} of the schedule given; "
                "pass the schedule the chain was sampled with (original indices)."
            )
        return float(table[t])
    return c


def pick_steps(steps: Iterable, schedule: Schedule, n_frames: int | None = 24,
               spacing: str = "angle") -> Iterator:
    """Yield the steps of a chain (from noise, t = T, to data, t = 0) that become frames.

    The targets are ``n_frames`` values spread evenly in the coordinate c(t) (see the module
    docstring) from c(T) to c(0) (for log-SNR, infinite at 0: ``n_frames − 1`` values up to c(1));
    for each target the step whose c is nearest is kept, and the last step (the finished sample) is
    always kept. A step is yielded once even if it is nearest to
    several targets, so a short chain gives fewer frames (a 10-step DDIM chain's 11 states are
    evenly spaced in t, so its first states share almost one angle and 11 targets keep 8 of them).
    ``n_frames=None`` keeps every step (for a short chain). Only the previous step is held while
    reading, so memory does not grow with the chain's length.
    """
    if n_frames is None:
        yield from steps
        return
    if isinstance(n_frames, bool) or not isinstance(n_frames, int) or n_frames < 2:
        raise InvalidArgument(
            f"n_frames must be an integer ≥ 2 (the first and the last picture), got {n_frames!r}."
        )
    c = coordinate(schedule, spacing)
    T = schedule.T
    if math.isfinite(c(0)):   # the data end itself is a target
        targets = np.linspace(c(T), c(0), n_frames)
    else:                     # log-SNR is +inf at t = 0: spread over 1..T, the last step comes last
        targets = np.linspace(c(T), c(1), n_frames - 1)
    k, prev, prev_c, last = 0, None, -math.inf, None
    for step in steps:
        cs = c(step_time(step))
        if cs < prev_c:
            raise InvalidArgument("steps must run from noise to data (t decreasing); got t = "
                             f"{step_time(step)} after t = {step_time(prev)}.")
        while k < len(targets) and cs >= targets[k]:
            choice = prev if prev is not None and targets[k] - prev_c < cs - targets[k] else step
            if choice is not last:
                last = choice
                yield choice
            k += 1
        prev, prev_c = step, cs
    if prev is not None and prev is not last:
        yield prev


def frame_times(schedule: Schedule, n_frames: int = 24, spacing: str = "angle") -> list[int]:
    """The times t (decreasing, from T to 0) that :func:`pick_steps` keeps from a full chain
    T, …, 0."""
    chain = ((t, None, None) for t in range(schedule.T, -1, -1))
    return [step_time(s) for s in pick_steps(chain, schedule, n_frames, spacing)]


@torch.no_grad()
def forward_chain(schedule: Schedule, x0: torch.Tensor, generator: torch.Generator | None = None,
                  keep: Iterable[int] | None = None) -> Iterator[tuple[int, torch.Tensor]]:
    """Run the forward Markov chain x_t ~ q(x_t | x_{t−1}) = N(√(1−β_t) x_{t−1}, β_t I) for
    t = 1..T.

    Yields (t, x_t) for t = 0 (x_0 itself) .. T, or only for the times in ``keep``. One sample path
    of the chain: the noise accumulates step by step (each x_t is still an exact sample of
    q(x_t | x_0)). x0: (N, C, H, W) in [−1, 1].
    """
    from ..forward import q_step_sample

    keep = None if keep is None else set(int(t) for t in keep)
    x = x0
    if keep is None or 0 in keep:
        yield 0, x0
    for t in range(1, schedule.T + 1):
        x = q_step_sample(schedule, x, t, generator=generator)
        if keep is None or t in keep:
            yield t, x
