"""Checks of generated samples: NaN, values outside [−1, 1] (x̂_0 never clipped), no spatial
structure (still noise)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..pixels import to_model_range
from .._checks import as_batch
from .findings import Finding

__all__ = ["check_samples"]


def _neighbour_correlation(x: torch.Tensor) -> float:
    """Correlation of vertically adjacent values (axis −2: rows of [.., H, W] or of
    [.., H, W, C])."""
    a = x[..., :-1, :].flatten().double()
    b = x[..., 1:, :].flatten().double()
    a, b = a - a.mean(), b - b.mean()
    den = (a.square().sum() * b.square().sum()).sqrt().item()
    return float("nan") if den == 0 else (a * b).sum().item() / den


def check_samples(samples) -> list[Finding]:
    """Findings about generated samples: NaN, range (clipping of x̂_0), still noise.

    ``samples``: float in the model range (best: what the sampler returned), or uint8 pixels
    (e.g. a .npy written by ``ddpm-edu sample``), or a path to a ``.npy`` file.
    """
    if isinstance(samples, (str, Path)):
        samples = np.load(samples)
    x = as_batch(samples, "samples").detach().cpu()
    if x.dtype == torch.uint8:
        findings = [Finding("clipping", "info", "samples are 8-bit pixels: whether x̂_0 was "
                            "clipped cannot be seen after the conversion (it clips)")]
        x = to_model_range(x)
    elif not x.is_floating_point():
        return [Finding("samples", "error", f"samples have dtype {x.dtype}",
                        "pass the sampler's float output or uint8 pixels")]
    else:
        x = x.float()
        findings = _clipping_findings(x)
        if findings[0].check == "samples":  # NaN: nothing more to see
            return findings
    return findings + _structure_findings(x)


def _clipping_findings(x: torch.Tensor) -> list[Finding]:
    """NaN, or values far outside [−1, 1] (x̂_0 was not clipped), in float samples."""
    bad = int((~torch.isfinite(x)).sum())
    if bad:
        return [Finding("samples", "error",
                        f"{bad} of {x.numel()} sample values are NaN or inf. Usual causes: a "
                        "step with t = 0 (ᾱ_0 = 1 makes 1/√(1 − ᾱ_0) infinite; a loop "
                        "`for t in reversed(range(T))` over paper indices does this), NaN "
                        "weights, or a diverged model",
                        "loop t from T down to 1 (or use ddpm_edu.sample); check the weights")]
    big = x.abs().max().item()
    outside = (x.abs() > 1 + 0.02).float().mean().item()
    if x.ndim < 3:
        return [Finding("clipping", "info", f"samples are points [N, {x.shape[1]}], not "
                        "images: the [-1, 1] range check does not apply")]
    if big > 1.1 and outside > 1e-3:
        return [Finding(
            "clipping", "error",
            f"{100 * outside:.1f} % of the sample values lie outside [-1, 1] (up to ±{big:.3g}): "
            "x̂_0 was not clipped to the data range while sampling, so errors of the early, "
            "noisy steps grow instead of being bounded",
            "sample with clip_x0=True (the default of ddpm_edu.sample); in your own loop clamp "
            "x̂_0 to [-1, 1] before forming the mean")]
    return [Finding("clipping", "ok", f"samples lie within [-1, 1] (max |x| = {big:.3g})")]


def _structure_findings(x: torch.Tensor) -> list[Finding]:
    """Blank samples, or samples whose neighbouring pixels are uncorrelated (still noise)."""
    if x.ndim < 3 or x.shape[-2] < 4:
        return []
    rho = _neighbour_correlation(x)
    if x.std().item() < 1e-3:
        return [Finding("structure", "warning",
                        f"every sample value is ≈ {x.mean().item():.3g}: the samples are blank",
                        "check the model's outputs (all zero?) and the sampler's steps")]
    if not rho > 0.3:
        return [Finding("structure", "error",
                        f"neighbouring pixels are uncorrelated (correlation {rho:.2f}; "
                        "images have ≥ 0.5, Gaussian noise 0): the samples are still noise",
                        "check the other findings (schedule, time indexing, data range); "
                        "train longer if they are all ok")]
    return [Finding("structure", "ok", f"neighbouring pixels correlate ({rho:.2f}): "
                    "the samples have spatial structure")]
