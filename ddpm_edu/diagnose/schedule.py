"""Checks of time: is the sampling schedule the training one, and does the model read t the way
the library passes it (paper t = 1..T), not off by one?"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..schedules import Schedule
from .findings import Finding
from .probe import Probe

__all__ = ["check_schedules", "time_index_findings"]


def check_schedules(training: Schedule, sampling: Schedule) -> list[Finding]:
    """Is ``sampling`` the training schedule (or a respaced copy of it)?"""
    if sampling.same_as(training):
        return [Finding("schedule", "ok", f"sampling uses the training schedule ({training!r})")]
    kept = sampling.timesteps[1:]
    respaced = not torch.equal(sampling.timesteps, torch.arange(sampling.T + 1))
    if respaced and kept.max() <= training.T and torch.allclose(
            sampling.alpha_bar[1:], training.alpha_bar[kept], rtol=1e-9, atol=0):
        return [Finding("schedule", "ok", f"sampling uses {sampling.T} of the {training.T} "
                        "training steps (a respaced copy of the training schedule)")]
    return [Finding("schedule", "error",
                    f"the sampling schedule differs from the training schedule: trained with "
                    f"{training!r}, sampling with {sampling!r}. The network was taught the noise "
                    "level ᾱ_t of each t; a sampler with other ᾱ_t removes the wrong amount of "
                    "noise at every step",
                    "sample with the schedule saved with the model "
                    "(load_pretrained(...).schedule); for fewer steps use "
                    "ddpm_edu.respace(training_schedule, steps)")]


def probe_timesteps(T: int) -> list[int]:
    """Steps 2..T−1 for the off-by-one probe, dense at small t where neighbouring noise levels
    differ most (σ² of x_t roughly doubles from t = 1 to t = 2)."""
    if T < 3:
        return []
    return sorted({int(round(v)) for v in np.geomspace(2, T - 1, 10)})


def time_index_findings(probe: Probe, T: int) -> list[Finding]:
    ts = probe_timesteps(T)
    if not ts:
        return [Finding("time-index", "info", f"T = {T} is too short for the off-by-one probe")]
    diffs = {-1: [], 1: []}
    base, same = [], True
    for t in ts:
        errs, outs, _ = probe.errors(t, (0, -1, 1))
        if any(e is None for e in errs.values()):
            return []  # NaN outputs are reported by the output check
        base.append(errs[0])
        for s in (-1, 1):
            diffs[s].append(errs[0] - errs[s])  # > 0: told t + s, the model does better
            same = same and torch.equal(outs[0], outs[s])
    loss0 = torch.cat(base).mean().item()
    if same and any(o.abs().max() > 0 for o in outs.values()):
        return [Finding("time-index", "warning",
                        "the model's output does not change with t: it cannot know how much noise "
                        "to remove, so it averages over all noise levels",
                        "pass t to the network and use it (the time embedding must reach the "
                        "blocks)")]
    for s, label in ((-1, "t - 1"), (1, "t + 1")):
        d = torch.cat(diffs[s])
        gain = d.mean().item()
        z = gain / (d.std().item() / math.sqrt(d.numel()) + 1e-30)
        if gain > 0.02 * loss0 and z > 4:
            how = ("it was trained with 0-based steps (diffusers and improved-diffusion pass "
                   "t − 1), or your training loop gives the network t − 1" if s == -1 else
                   "your training loop gives the network t + 1 for the noise level ᾱ_t (e.g. "
                   "a 0-based table alphas_cumprod[t] indexed with the paper's t)")
            fix = ("train and sample with the same convention: ddpm_edu passes paper t = 1..T; "
                   "to use this model as it is, wrap it: lambda x, t: net(x, t - 1)" if s == -1 else
                   "make training pass the t whose ᾱ_t made x_t; ddpm_edu's tables are indexed by "
                   "paper t (schedule.alpha_bar[t] is ᾱ_t); or wrap: lambda x, t: net(x, t + 1)")
            return [Finding("time-index", "error",
                            f"the model denoises better when told {label} than t (ε-error "
                            f"{loss0 - gain:.4g} told {label}, {loss0:.4g} told t, at t in "
                            f"{ts[0]}..{ts[-1]}; z = {z:.1f}): {how}. Every sampling step then "
                            "removes the noise of the wrong step", fix)]
    return [Finding("time-index", "ok", f"told t, the model does at least as well as told t ± 1 "
                    f"(ε-error {loss0:.4g} at t in {ts[0]}..{ts[-1]})")]


