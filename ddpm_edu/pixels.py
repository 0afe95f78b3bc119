"""8-bit pixels ↔ the model range [−1, 1]: k ↦ k/127.5 − 1, and back by rounding."""
from __future__ import annotations

import numpy as np
import torch
from .errors import InvalidArgument, InvalidType

__all__ = ["to_model_range", "to_pixels"]


def to_model_range(pixels, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 pixels k ∈ {0..255} (array or tensor) → tensor x = k/127.5 − 1 ∈ [−1, 1].

    Refuses floats: a float image may already be in [0, 1] or [−1, 1], and mapping it again is the
    classic bug behind "my samples are noise".
    """
    t = torch.as_tensor(np.asarray(pixels) if not isinstance(pixels, torch.Tensor) else pixels)
    if t.dtype != torch.uint8:
        raise InvalidType(
            f"to_model_range expects uint8 pixels 0..255, got dtype {t.dtype}. If your "
            "images are floats in [0, 1], convert with (img * 255).round().to(torch.uint8); "
            "if they are already in [-1, 1], use them as they are."
        )
    return t.to(dtype) / 127.5 - 1.0


def to_pixels(x: torch.Tensor) -> torch.Tensor:
    """x ∈ [−1, 1] → uint8 pixels round((x + 1)·127.5), clipped to 0..255 (values outside are
    clipped)."""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x)
    if not x.is_floating_point():
        raise InvalidType(f"to_pixels expects a float tensor in [-1, 1], got dtype {x.dtype}.")
    if not torch.isfinite(x).all():
        raise InvalidArgument("to_pixels got NaN or inf values, which have no pixel value. "
                         "Check where they come from (a diverged model or sampler?).")
    return ((x.detach().float() + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8)
