"""Input checks shared by the math functions: each error says what was wrong and what to do."""
from __future__ import annotations

import numbers

import torch
from .errors import InvalidArgument, InvalidType


def check_float(x, name: str) -> torch.Tensor:
    """``x`` must be a floating-point tensor with no NaN or inf."""
    if not isinstance(x, torch.Tensor):
        raise InvalidType(f"{name} must be a torch.Tensor, got {type(x).__name__}. "
                        f"Wrap it with torch.as_tensor({name}, dtype=torch.float32).")
    if not x.is_floating_point():
        raise InvalidType(f"{name} must be a floating-point tensor, got dtype {x.dtype}. "
                        "If these are 8-bit pixels, map them to [-1, 1] first "
                        "(ddpm_edu.to_model_range).")
    if x.ndim == 0:
        raise InvalidArgument(f"{name} must have a batch dimension first, shape [N, ...]; got a scalar.")
    if not torch.isfinite(x).all():
        n = int((~torch.isfinite(x)).sum())
        raise InvalidArgument(f"{name} contains {n} NaN or inf value(s); the math would silently "
                         "propagate them. Find where they come from (e.g. a diverged model).")
    return x


def check_same_shape(a: torch.Tensor, b: torch.Tensor, na: str, nb: str) -> None:
    if a.shape != b.shape:
        raise InvalidArgument(f"{na} and {nb} must have the same shape, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}.")


def check_t(t, T: int, batch: int, *, allow_zero: bool = False) -> torch.Tensor:
    """Paper time indices: an int, or an integer tensor of shape [] or [batch], each in 1..T.

    Returns a LongTensor of shape [batch]. ``allow_zero`` admits t = 0 (the data itself).
    """
    lo = 0 if allow_zero else 1
    if isinstance(t, bool):
        raise InvalidType("t must be an integer time index, got a bool.")
    if isinstance(t, numbers.Integral):  # a Python int, or a NumPy integer such as np.int64
        t = torch.full((batch,), int(t), dtype=torch.long)
    elif isinstance(t, torch.Tensor):
        if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
            raise InvalidType(f"t must be an integer tensor (torch.long) of paper time indices "
                            f"{lo}..{T}, got dtype {t.dtype}. Use torch.randint({lo or 1}, T + 1, (N,)).")
        if t.ndim == 0:
            t = t.expand(batch)
        elif t.ndim != 1 or t.shape[0] != batch:
            raise InvalidArgument(f"t must have shape [{batch}] (one time index per example), got "
                             f"{tuple(t.shape)}.")
        t = t.long()
    else:
        raise InvalidType(f"t must be an int or an integer tensor of paper time indices {lo}..{T}, "
                        f"got {type(t).__name__} {t!r}. Use an int, or torch.tensor([...]) of ints.")
    if t.numel() and (t.min() < lo or t.max() > T):
        bad = t[(t < lo) | (t > T)][0].item()
        hint = (" t = 0 is the data itself: the paper's steps run 1..T (diffusers counts 0..T-1; "
                "add 1 to its timesteps)." if bad == 0 else "")
        raise InvalidArgument(f"t must lie in {lo}..{T} for this schedule, got t = {bad}.{hint}")
    return t
