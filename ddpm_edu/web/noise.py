"""Noise files for the page (``index.html?noise=FILE``): the same noise in PyTorch and in the
browser.

A noise file is raw float32, little-endian, no header: x_T (N·C·H·W numbers, the network's layout)
followed by the z of every step that draws noise, in the order the sampler draws them (DDPM: steps
S..2; DDIM: steps S..2 when η > 0; none for DDIM with η = 0). With it the page computes exactly the
chain that ``ddpm_edu.sampling`` computes from the same numbers, up to float32 rounding.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from ..errors import InvalidArgument

__all__ = ["write_noise_file", "read_noise_file", "torch_noise", "noisy_steps"]


def noisy_steps(sampler: str, steps: int, eta: float = 0.0) -> int:
    """How many z draws a run of ``steps`` updates makes after x_T (no noise at the last step)."""
    if sampler not in ("ddim", "ddpm"):
        raise InvalidArgument(f"sampler must be 'ddim' or 'ddpm', got {sampler!r}.")
    return max(steps - 1, 0) if (sampler == "ddpm" or eta > 0) else 0


def torch_noise(n: int, shape, sampler: str = "ddim", steps: int = 50, eta: float = 0.0,
                seed: int = 0) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """(x_T, [z ...]) as ``ddpm_edu.sampling.sample(..., seed=seed)`` draws them: one CPU
    ``torch.Generator`` seeded with ``seed``, x_T of shape (n, *shape) first, then one z of the same
    shape per noisy step. Writing them with :func:`write_noise_file` makes the page reproduce
    ``ddpm-edu sample --seed`` (float32, shapes (n, C, H, W))."""
    g = torch.Generator().manual_seed(int(seed))
    full = (int(n), *shape)
    x_T = torch.randn(full, generator=g)
    return x_T, [torch.randn(full, generator=g) for _ in range(noisy_steps(sampler, steps, eta))]


def write_noise_file(path, x_T, step_noise=()) -> Path:
    """Write x_T (N, C, H, W) and the per-step noise (each shaped like x_T) as one float32 file."""
    x_T = torch.as_tensor(x_T)
    parts = [x_T, *[torch.as_tensor(z) for z in step_noise]]
    for i, z in enumerate(parts[1:], 1):
        if tuple(z.shape) != tuple(x_T.shape):
            raise InvalidArgument(
                f"step noise {i} has shape {tuple(z.shape)}, but every z must have "
                f"x_T's shape {tuple(x_T.shape)}."
            )
    data = np.concatenate([p.detach().cpu().float().numpy().ravel() for p in parts]).astype("<f4")
    path = Path(path)
    path.write_bytes(data.tobytes())
    return path


def read_noise_file(path, shape) -> tuple[np.ndarray, list[np.ndarray]]:
    """Read a noise file back as (x_T, [z ...]), each of ``shape`` = (N, C, H, W)."""
    data = np.fromfile(path, dtype="<f4")
    size = int(np.prod(shape))
    if data.size == 0 or data.size % size:
        raise InvalidArgument(f"{path} holds {data.size} float32 numbers, not a whole number of "
                         f"{tuple(shape)} arrays ({size} numbers each).")
    parts = data.reshape(-1, *shape)
    return parts[0], list(parts[1:])
