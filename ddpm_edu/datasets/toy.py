"""2-D toy data: points the course's MLP learns in minutes, so that every idea can be seen in a
scatter plot before it meets images."""
from __future__ import annotations

import math

import torch

from ..errors import InvalidArgument

__all__ = ["two_moons"]


def two_moons(n: int = 8000, noise: float = 0.05, seed: int = 0) -> torch.Tensor:
    """n points [n, 2] (float32) on two interleaving half circles with Gaussian jitter ``noise``,
    shifted and scaled to lie roughly in [−1, 1]² (mean 0): a classic 2-D toy distribution."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise InvalidArgument(f"n must be an integer ≥ 2, got {n!r}.")
    g = torch.Generator().manual_seed(seed)
    upper = n // 2
    angle = torch.rand(n, generator=g, dtype=torch.float64) * math.pi        # (n,)
    x = torch.cos(angle)
    y = torch.sin(angle)
    x[upper:] = 1.0 - x[upper:]          # the lower moon: mirrored and shifted
    y[upper:] = 0.5 - y[upper:]
    pts = torch.stack([x, y], dim=1)     # (n, 2), in [−1, 2] × [−0.5, 1]
    pts = pts + noise * torch.randn(pts.shape, generator=g, dtype=torch.float64)
    pts = (pts - torch.tensor([0.5, 0.25], dtype=torch.float64)) / 1.5
    return pts.float()
