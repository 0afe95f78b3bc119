"""What every sampler shares: the :class:`Step` it yields, its initial noise, its seeded noise draws
and its network call.

The samplers of :mod:`ddpm_edu.sampling` (DDPM, DDIM) and :mod:`ddpm_edu.score` (Langevin, the
probability-flow ODE) walk a chain ``chain`` (the training schedule ``base``, or a respaced copy of
it, :func:`ddpm_edu.schedules.respace`) from its top step down to 0. At each step k they call the
network with the *original* index ``chain.timesteps[k]`` (:func:`call_model`) and turn its output
into (ε̂, x̂_0) with :func:`ddpm_edu.reverse.model_eps_x0` (:func:`eps_x0_at` does both). The model
contract is therefore: ``model(x_t, t) -> output`` with t a LongTensor [N] of original indices,
and the output named by a :class:`~ddpm_edu.reverse.MeanType`. A wrapper around ``model`` (e.g.
classifier-free guidance) is seen by every sampler alike.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ._checks import check_float, check_shape
from .errors import InvalidArgument
from .reverse import model_eps_x0
from .schedules import Schedule

__all__ = ["Step", "initial_noise", "randn", "call_model", "eps_x0_at", "model_device_dtype"]


class Step(NamedTuple):
    """One state of a sampling chain.

    t: the original schedule index of ``x`` (T for the initial noise, 0 for the sample; for a
       respaced run, the original index of the kept step).
    x: x_t, shape [N, ...].
    x0_hat: x̂_0 predicted at the previous (larger) t and used for this update; None for x_T.
    """
    t: int
    x: torch.Tensor
    x0_hat: torch.Tensor | None


def initial_noise(x_T, shape, generator, dtype, device, who: str) -> torch.Tensor:
    """x_T as given (checked against ``shape``), or drawn from N(0, I) with ``generator``."""
    if x_T is not None:
        check_float(x_T, "x_T")
        if shape is not None and tuple(x_T.shape) != check_shape(shape, "shape"):
            raise InvalidArgument(f"{who}: x_T has shape {tuple(x_T.shape)} but "
                                  f"shape={tuple(shape)} was given; pass only one of them, or "
                                  "make them agree (shape includes the batch dimension N).")
        return x_T
    if shape is None:
        raise InvalidArgument(f"{who}: give the initial noise x_T, or shape=(N, ...) to draw it.")
    return randn(check_shape(shape, "shape"), generator, dtype, device)


def randn(shape, generator, dtype=None, device=None) -> torch.Tensor:
    """N(0, I) noise drawn on the generator's device (CPU without one), then moved to ``device``.

    Drawing on the generator's device keeps a seeded CPU generator giving the same numbers whatever
    device the model runs on.
    """
    dtype = dtype or torch.get_default_dtype()
    gen_device = generator.device if generator is not None else torch.device("cpu")
    z = torch.randn(shape, generator=generator, dtype=dtype, device=gen_device)
    return z.to(device) if device is not None else z


def call_model(model, x: torch.Tensor, t_orig: int) -> torch.Tensor:
    """``model(x, t)`` with t = ``t_orig`` (an original index) for every example, without grad."""
    t = torch.full((x.shape[0],), t_orig, dtype=torch.long, device=x.device)
    with torch.no_grad():  # local: never leaks a grad mode into the consumer between yields
        return model(x, t)


def eps_x0_at(model, base: Schedule, chain: Schedule, x: torch.Tensor, k: int, mean_type,
              clip_x0: bool = False):
    """(ε̂, x̂_0) at step k of ``chain`` from one network call (the network sees the original t);
    see :func:`ddpm_edu.reverse.model_eps_x0`."""
    out = call_model(model, x, int(chain.timesteps[k]))
    return model_eps_x0(chain, out, x, k, mean_type, clip_x0=clip_x0, base=base)


def model_device_dtype(model):
    """(device, dtype) of the first floating parameter of ``model``: an ``nn.Module``, or a bound
    method of one (``model.__self__``); (None, None) for anything else or a module without
    floating parameters."""
    module = model if isinstance(model, torch.nn.Module) else getattr(model, "__self__", None)
    if isinstance(module, torch.nn.Module):
        for p in module.parameters():
            if p.is_floating_point():
                return p.device, p.dtype
    return None, None
