"""What every sampler shares: the :class:`Step` it yields, its initial noise, its seeded noise draws
and its network call.

The samplers of :mod:`ddpm_edu.sampling` (DDPM, DDIM) and :mod:`ddpm_edu.score` (Langevin, the
probability-flow ODE) walk a chain ``chain`` (the training schedule ``base``, or a respaced copy of
it, :func:`ddpm_edu.schedules.respace`) from its top step down to 0. At each step k they call the
network with the *original* index ``chain.timesteps[k]`` (:func:`call_model`) and turn its output
into (ε̂, x̂_0) with :func:`ddpm_edu.reverse.model_eps_x0` (:func:`eps_x0_at` does both). The model
contract is therefore: ``model(x_t, t) -> output`` with t a LongTensor [N] of original indices,
and the output named by a :class:`~ddpm_edu.reverse.MeanType`. A wrapper around ``model`` is seen
by every sampler alike: :func:`guided_model` is the one for class labels and classifier-free
guidance (a class-conditional network is ``net(x_t, t, y)``, see :mod:`ddpm_edu.nets`).
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from ._checks import check_float, check_guidance, check_shape
from .errors import InvalidArgument, InvalidType
from .reverse import guided_eps, model_eps_x0
from .schedules import Schedule

__all__ = ["Step", "initial_noise", "randn", "call_model", "eps_x0_at", "model_device_dtype",
           "model_num_classes", "label_tensor", "guided_model", "autoguided_model"]


class Step(NamedTuple):
    """One state of a sampling chain.

    t: the original schedule index of ``x`` (T for the initial noise, 0 for the sample; for a
       respaced run, the original index of the kept step; for :func:`ddpm_edu.flow.flow_steps`,
       the index k = s·K of flow time s on its grid, K for the noise and 0 for the sample).
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


# ---- class labels and classifier-free guidance -------------------------------------------------
def model_num_classes(model) -> int:
    """K of a class-conditional model, 0 for an unconditional one: read from ``model.num_classes``
    (a :class:`~ddpm_edu.pretrained.PretrainedModel`), ``model.config.num_classes`` (a network of
    :mod:`ddpm_edu.nets`), or the same on ``model.__self__`` (a bound method, e.g. ``pre.eps``)."""
    for obj in (model, getattr(model, "__self__", None)):
        k = getattr(obj, "num_classes", None)
        if k is None:
            k = getattr(getattr(obj, "config", None), "num_classes", None)
        if isinstance(k, int) and not isinstance(k, bool):
            return k
    return 0


def label_tensor(labels, n: int, num_classes: int, device=None, *,
                 allow_null: bool = False) -> torch.Tensor:
    """Class labels as a LongTensor [n]: an int (every example that class) or an integer tensor
    [n], each in 0..num_classes−1; with ``allow_null`` also num_classes, the "no label" token (the
    samplers do not take it: labels=None means no label)."""
    if num_classes < 1:
        raise InvalidArgument("class labels need a class-conditional model (num_classes > 0); "
                              "this model is unconditional: drop the labels (or --digit).")
    if isinstance(labels, bool) or not isinstance(labels, (int, torch.Tensor)):
        raise InvalidType(f"labels must be an int (one class for every sample) or a LongTensor "
                          f"[n], got {type(labels).__name__}.")
    if isinstance(labels, int):
        labels = torch.full((n,), labels, dtype=torch.long)
    elif labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise InvalidType(f"labels must be an integer tensor, got dtype {labels.dtype}.")
    elif labels.shape != (n,):
        raise InvalidArgument(f"labels must be a 1-D tensor with one entry per sample (shape "
                              f"[{n}]), got shape {tuple(labels.shape)}.")
    top = num_classes if allow_null else num_classes - 1
    if labels.numel() and (labels.min() < 0 or labels.max() > top):
        bad = int(labels.min()) if labels.min() < 0 else int(labels.max())
        null = f" or {num_classes} (no label)" if allow_null else " (labels=None: no label)"
        raise InvalidArgument(f"class label {bad} is out of range: this model knows classes "
                              f"0..{num_classes - 1}{null}.")
    return labels.long().to(device)


class _Guided:
    """``model(x, t)`` for the samplers, from a conditional ``net(x, t, y)`` (see guided_model)."""

    def __init__(self, model, labels, guidance: float, num_classes: int):
        self.model, self.labels, self.guidance = model, labels, guidance
        self.num_classes = num_classes

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        y = label_tensor(self.labels, x.shape[0], self.num_classes, x.device)
        if self.guidance == 0:
            return self.model(x, t, y)
        null = torch.full_like(y, self.num_classes)
        out = self.model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, null]))  # (2N, ...)
        cond, uncond = out.chunk(2)
        return guided_eps(cond, uncond, self.guidance)


def guided_model(model, labels=None, guidance: float = 0.0, num_classes: int | None = None):
    """The sampler's ``model(x_t, t)`` for a class-conditional ``model(x_t, t, y)``.

    Args:
        model: a class-conditional network (or ``PretrainedModel.eps``); ``num_classes`` (K) is
            read from it (:func:`model_num_classes`) unless given.
        labels: None (model returned unchanged when guidance is 0), an int (every sample that
            class) or a LongTensor [n] (see :func:`label_tensor`).
        guidance: w ≥ 0 of :func:`ddpm_edu.reverse.guided_eps`. w = 0 calls only the conditional
            network. w > 0 calls it ONCE on the doubled batch [x; x] with labels [y; ∅] and
            combines the halves, ε̃ = (1+w) ε(x, y) − w ε(x, ∅). Any mean type works: the weights
            add up to 1, so combining raw x̂_0 / μ / v outputs is the same as combining ε̂ first.

    Doubled batch or two calls? Measured on the course's 2-core CPU (shared, load ≈ 3), the
    conditional "mnist" U-Net, 2 torch threads, inference mode, medians of interleaved runs, two
    runs each: batch 16 (32 images per doubled call): 328 / 711 ms doubled vs 313 / 783 ms for two
    calls, a tie; batch 64: 1630 / 1963 ms doubled vs 3243 / 4205 ms for two calls, the doubled
    batch about 2× faster. So one doubled call, never slower here; on a GPU it is the usual choice
    too (half the kernel launches). ``batch_size`` in :func:`ddpm_edu.sampling.sample` still
    bounds the memory: the 2N rows are split like any other batch.
    """
    w = check_guidance(guidance)
    k = model_num_classes(model) if num_classes is None else num_classes
    if labels is None:
        if w != 0:
            raise InvalidArgument(f"guidance {w} needs labels: classifier-free guidance pushes "
                                  "each sample towards its class; give labels (an int or a "
                                  "tensor).")
        return model
    n = labels.shape[0] if isinstance(labels, torch.Tensor) and labels.ndim == 1 else 1
    label_tensor(labels, n, k)  # type and range errors now, not at the sampler's first step
    return _Guided(model, labels, w, k)


class _Autoguided:
    """``model(x, t)`` for the samplers: a model guided by a weaker one (see autoguided_model)."""

    def __init__(self, model, guide, guidance: float):
        self.model, self.guide, self.guidance = model, guide, guidance

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        good, weak = self.model(x, t), self.guide(x, t)
        if good.shape != weak.shape:
            raise InvalidArgument(f"the guide's output has shape {tuple(weak.shape)}, the model's "
                                  f"{tuple(good.shape)}: the guide must model the same data.")
        return guided_eps(good, weak, self.guidance)


def autoguided_model(model, guide, guidance: float):
    """The sampler's ``model(x_t, t)`` for autoguidance (Karras et al. 2024, "Guiding a diffusion
    model with a bad version of itself"): ε̃ = (1+w) ε_θ(x_t, t) − w ε_guide(x_t, t).

    The formula is classifier-free guidance's (:func:`ddpm_edu.reverse.guided_eps`) with a weaker
    model of the same data in place of the unconditional one: where the good model and its weak
    copy disagree, the weak one's error points the wrong way, and ε̃ moves further from it. It
    needs no labels, so it guides an unconditional model. The guide should make the same kind of
    errors, only more: the shipped "mnist-guide" is the "mnist" network's own EMA weights after
    1,000 of its 16,000 training steps (``data/checkpoints/mnist_guide.md``).

    Args:
        model, guide: ``f(x_t, t)`` → ε̂ of equal shape (networks or ``PretrainedModel.eps``), with
            the same schedule and parameterisation.
        guidance: w ≥ 0; w = 0 returns ``model`` unchanged. Each step calls both networks (twice
            the cost of the model alone).
    """
    w = check_guidance(guidance)
    for name, f in (("model", model), ("guide", guide)):
        if not callable(f):
            raise InvalidType(f"{name} must be a network or function f(x_t, t), got "
                              f"{type(f).__name__}.")
    return model if w == 0 else _Autoguided(model, guide, w)
