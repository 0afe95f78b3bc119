"""Checks of the training data: the range the network was fed (one verdict, shared with training
and evaluation: :func:`ddpm_edu._checks.image_range_verdict`)."""
from __future__ import annotations

import torch

from .._checks import as_batch, image_range_verdict
from ..pixels import to_model_range
from .findings import Finding

__all__ = ["prepare_data", "check_data"]


def prepare_data(data) -> tuple[list[Finding], torch.Tensor | None]:
    """Findings about the training data, and float data for the model probes (None if unusable)."""
    x = as_batch(data, "data").detach().cpu()
    if x.dtype == torch.uint8:
        return [Finding("data-range", "info",
                        "data are uint8 pixels 0..255; the probes map them to [-1, 1] with "
                        "k/127.5 - 1, as ddpm_edu.train does (a loop of your own must do it "
                        "too)")], \
            to_model_range(x)
    if not x.is_floating_point():
        return [Finding("data-range", "error", f"data have dtype {x.dtype}, neither 8-bit pixels "
                        "nor floats", "pass uint8 pixels or floats in [-1, 1]")], None
    x = x.float()
    bad = int((~torch.isfinite(x)).sum())
    if bad:
        return [Finding("data-range", "error", f"data contain {bad} NaN or inf value(s): the loss "
                        "becomes NaN and the weights with it",
                        "remove or repair those examples")], None
    if x.ndim == 2:
        lo, hi = x.min().item(), x.max().item()
        return [Finding("data-range", "info", f"data are points [N, {x.shape[1]}] in "
                        f"[{lo:.4g}, {hi:.4g}]; the pixel-range checks apply to images only")], x
    verdict = image_range_verdict(x, "data")
    finding = Finding("data-range", verdict.severity, verdict.message, verdict.fix)
    return [finding], (None if verdict.severity == "error" else x)


def check_data(data) -> list[Finding]:
    """Findings about the range of the training data (as fed to the network)."""
    return prepare_data(data)[0]
