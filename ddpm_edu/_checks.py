"""The library's input checks, in one place: each error says what was wrong and what to do.

Public within the package (modules import them; users meet only their messages):

* tensors and time indices: :func:`check_float`, :func:`check_same_shape`, :func:`check_t`;
* named choices and numbers: :func:`check_choice` (an enum value), :func:`check_positive_int`,
  :func:`check_steps`, :func:`check_eta`, :func:`check_shape`, :func:`check_schedule`;
* data: :func:`image_range_verdict` / :func:`check_image_range`, the one verdict on whether
  images lie in the model range [−1, 1] (training, evaluation, the digit classifier and
  ``diagnose`` all use it).
"""
from __future__ import annotations

import math
import numbers
import warnings
from typing import NamedTuple

import numpy as np
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
        raise InvalidArgument(
            f"{name} must have a batch dimension first, shape [N, ...]; got a scalar."
        )
    if not torch.isfinite(x).all():
        n = int((~torch.isfinite(x)).sum())
        raise InvalidArgument(f"{name} contains {n} NaN or inf value(s); the math would silently "
                         "propagate them. Find where they come from (e.g. a diverged model).")
    return x


def as_batch(x, what: str, items: str = "") -> torch.Tensor:
    """A tensor [N, ...] with N ≥ 1, from a tensor or a numpy array (shared, not copied, where
    possible). ``items`` names the examples in the messages ("images", "samples")."""
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biuf":  # strings, objects, dates: torch cannot hold them
            raise InvalidType(f"{what} must hold numbers (floats in [-1, 1] or uint8 pixels), got "
                              f"a numpy array of dtype {x.dtype}.")
        x = torch.from_numpy(np.ascontiguousarray(x))
    of = f" of {items}" if items else ""
    if not isinstance(x, torch.Tensor):
        raise InvalidType(
            f"{what} must be a torch.Tensor or numpy array{of}, got {type(x).__name__}."
        )
    if x.ndim < 2 or x.shape[0] == 0:
        raise InvalidArgument(
            f"{what} must have shape [N, ...] with N ≥ 1{' ' + items if items else ''}, "
            f"got {tuple(x.shape)}."
        )
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
            raise InvalidType(
                f"t must be an integer tensor (torch.long) of paper time indices "
                f"{lo}..{T}, got dtype {t.dtype}. Use torch.randint({lo or 1}, T + 1, (N,))."
            )
        if t.ndim == 0:
            t = t.expand(batch)
        elif t.ndim != 1 or t.shape[0] != batch:
            raise InvalidArgument(f"t must have shape [{batch}] (one time index per example), got "
                             f"{tuple(t.shape)}.")
        t = t.long()
    else:
        raise InvalidType(
            f"t must be an int or an integer tensor of paper time indices {lo}..{T}, "
            f"got {type(t).__name__} {t!r}. Use an int, or torch.tensor([...]) of ints."
        )
    if t.numel() and (t.min() < lo or t.max() > T):
        bad = t[(t < lo) | (t > T)][0].item()
        hint = (" t = 0 is the data itself: the paper's steps run 1..T (diffusers counts 0..T-1; "
                "add 1 to its timesteps)." if bad == 0 else "")
        raise InvalidArgument(f"t must lie in {lo}..{T} for this schedule, got t = {bad}.{hint}")
    return t


# ---- named choices and numbers ---------------------------------------------------------------

def check_choice(enum_cls, value, what: str):
    """``enum_cls(value)``, or an error that lists the valid values (e.g. MeanType, "mean_type")."""
    try:
        return enum_cls(value)
    except ValueError:
        choices = ", ".join(repr(m.value) for m in enum_cls)
        raise InvalidArgument(f"{what} must be one of {choices}, got {value!r}.") from None


def check_positive_int(value, what: str) -> int:
    """An int ≥ 1 (a NumPy integer is fine; a bool or a float is not)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InvalidArgument(f"{what} must be a positive int, got {value!r}.")
    return int(value)


def check_steps(steps, T: int, who: str, limit: str | None = None) -> int:
    """A number of sampler steps (network calls), 1..T; ``limit`` says what T is in the message
    (default: the schedule's T)."""
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral):
        raise InvalidType(f"{who}: steps must be an int (the number of network calls), "
                          f"got {steps!r}.")
    if not 1 <= steps <= T:
        if limit is None:
            limit = (f"T = {T} of this schedule, got {steps}. Fewer steps skip timesteps; more "
                     f"than T is not possible.")
        else:
            limit = f"{limit}, got {steps}."
        raise InvalidArgument(f"{who}: steps must be between 1 and {limit}")
    return int(steps)


def check_eta(eta) -> float:
    """DDIM's noise scale η, a finite number ≥ 0."""
    if isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not 0 <= eta < math.inf:
        raise InvalidArgument("eta must be a finite number ≥ 0 (0: deterministic DDIM, "
                              f"1: DDPM-like), got {eta!r}.")
    return float(eta)


def check_guidance(w) -> float:
    """Classifier-free guidance weight w, a finite number ≥ 0 (0: the plain conditional model)."""
    if isinstance(w, torch.Tensor) and w.numel() == 1:
        w = w.item()
    if isinstance(w, bool) or not isinstance(w, numbers.Real) or not 0 <= w < math.inf:
        raise InvalidArgument(f"guidance w must be a finite number ≥ 0 (0: the plain conditional "
                              f"model; 1–5 sharpens samples towards their label), got {w!r}.")
    return float(w)


def check_shape(shape, what: str) -> tuple:
    """A non-empty tuple of positive ints, e.g. (N, 1, 28, 28)."""
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if (dims is None or not dims
            or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in dims)):
        raise InvalidArgument(f"{what} must be a non-empty tuple of positive ints, got {shape!r}.")
    return dims


def check_schedule(schedule):
    """A ddpm_edu :class:`~ddpm_edu.schedules.Schedule`."""
    from .schedules import Schedule  # schedules imports this module
    if not isinstance(schedule, Schedule):
        raise InvalidType(f"schedule must be a ddpm_edu Schedule (e.g. linear_schedule(1000)), got "
                          f"{type(schedule).__name__}.")
    return schedule


# ---- the range of image data -----------------------------------------------------------------

RANGE_TOL = 1e-4     # values this far outside [−1, 1] still count as inside (float rounding)
RANGE_MIN_VALUES = 256  # fewer values say too little about a range to warn (a few test pixels)


class RangeVerdict(NamedTuple):
    """``severity`` ("ok", "warning" or "error"), what was seen (``message``) and ``fix``."""
    severity: str
    message: str
    fix: str = ""


def image_range_verdict(x: torch.Tensor, who: str) -> RangeVerdict:
    """The one verdict on float images [N, ...] (finite) against the model range [−1, 1].

    * Values outside [−1, 1] are an **error**: the forward process and the sampler, which clips
      x̂_0 to [−1, 1], assume that range, so such data cannot be learnt or produced. The message
      names the usual cause: 8-bit pixels stored as floats (0..255), or standardised data.
    * Data inside [−1, 1] but with no negative value ("[0, 1] images"), or spanning less than half
      the range, are a **warning** with the fix: they are legal inputs (a bright image really can
      have no value below 0), but usually a forgotten ``2 * x - 1``; the model would learn them
      as they are and samples would look washed out.
      With fewer than ``RANGE_MIN_VALUES`` values (a handful of pixels, synthetic test data)
      the range says too little, and these are **ok**.
    * Otherwise **ok**.
    """
    lo, hi = x.min().item(), x.max().item()
    span = f"[{lo:.4g}, {hi:.4g}]"
    if lo < -1 - RANGE_TOL or hi > 1 + RANGE_TOL:
        if lo >= -RANGE_TOL and 1.5 < hi <= 255 + RANGE_TOL:
            return RangeVerdict(
                "error",
                f"{who} lie in {span}: these look like 8-bit pixels "
                "0..255 stored as floats, not the model range [-1, 1]: the forward process "
                "never reaches noise (√ᾱ_T·255 ≫ 1), and the sampler, which starts "
                "from N(0, I), asks the network about inputs it never saw",
                "pass them as uint8 (.to(torch.uint8)) or map them with "
                "x / 127.5 - 1 (ddpm_edu.to_model_range)",
            )
        m, s = x.mean().item(), x.std().item() if x.numel() > 1 else 0.0
        why = (" (mean ≈ 0, std ≈ 1: standardised with a mean and std, e.g. torchvision's "
               "Normalize)" if abs(m) < 0.3 and 0.7 < s < 1.3 else "")
        return RangeVerdict("error", f"{who} must lie in the model range [-1, 1], got values in "
                            f"{span}{why}", "map 8-bit pixels with k/127.5 - 1 "
                            "(ddpm_edu.to_model_range), without any mean/std normalisation")
    if x.numel() < RANGE_MIN_VALUES:
        return RangeVerdict("ok", f"{who} lie in {span}, inside [-1, 1]")
    if lo >= 0 and hi > lo:
        return RangeVerdict("warning", f"{who} lie in {span}, not [-1, 1]: if these are images "
                            "scaled to [0, 1], the model learns half of its range only",
                            "map them with 2 * x - 1 first (or pass uint8 pixels)")
    if hi - lo < 1.0:
        return RangeVerdict("warning", f"{who} use only {span} of the range [-1, 1] (e.g. x - 0.5 "
                            "in place of 2x - 1?); a model trained on them never reaches the "
                            "extremes",
                            "map 8-bit pixels with k/127.5 - 1 (ddpm_edu.to_model_range)")
    return RangeVerdict("ok", f"{who} lie in {span}, inside [-1, 1]")


def check_image_range(x: torch.Tensor, who: str, stacklevel: int = 2) -> torch.Tensor:
    """Apply :func:`image_range_verdict`: raise :class:`InvalidArgument` on an error, warn
    (``UserWarning``, ``stacklevel`` counted from the caller) on a warning; returns ``x``."""
    verdict = image_range_verdict(x, who)
    text = f"{verdict.message}. Fix: {verdict.fix}."
    if verdict.severity == "error":
        raise InvalidArgument(text)
    if verdict.severity == "warning":
        warnings.warn(text, stacklevel=stacklevel + 1)
    return x
# ---- the arguments of the entry points (sample, train, the bits/dim estimators) ----------------
SEED_RANGE = (-2**63, 2**64 - 1)  # what torch.Generator.manual_seed accepts


def check_model(model, name: str = "model"):
    """``model`` must be callable as ``model(x_t, t)``."""
    if not callable(model):
        raise InvalidType(f"{name} must be callable as {name}(x_t, t) (a network or a function), "
                          f"got {type(model).__name__}.")
    return model


def check_generator(generator) -> None:
    if generator is not None and not isinstance(generator, torch.Generator):
        raise InvalidType(f"generator must be a torch.Generator or None, got "
                          f"{type(generator).__name__}; for a seed use seed=... or "
                          "torch.Generator().manual_seed(seed).")


def check_seed(seed) -> None:
    if seed is None:
        return
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise InvalidType(f"seed must be an int (or None), got {type(seed).__name__} {seed!r}.")
    if not SEED_RANGE[0] <= seed <= SEED_RANGE[1]:
        raise InvalidArgument(f"seed must lie in -2**63 .. 2**64 - 1 (what torch can seed), got "
                              f"{seed}.")


def check_device(device) -> torch.device:
    """A ``torch.device`` from a device or its name (cpu, cuda, cuda:1, mps)."""
    try:
        return torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise InvalidArgument(f"device must be a torch device such as 'cpu', 'cuda', 'cuda:1' or "
                              f"'mps', got {device!r}.") from None
