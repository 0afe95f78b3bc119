"""Sampling: DDPM's ancestral chain and DDIM, as generators that yield one step at a time.

Both samplers take a ``model(x_t, t) -> prediction`` (``t`` a LongTensor [N] of *original* schedule
indices) and yield :class:`Step` tuples, so a loop, a plot, a widget or a GIF writer all consume the
same iterator::

    Step(T, x_T, None)                  the initial noise
    Step(t_next, x_{t_next}, x̂_0)      after each update; x̂_0 is the prediction made at the
                                        previous t
    ...
    Step(0, x_0, x̂_0)                  the sample

- :func:`ddpm_steps`: ancestral sampling x_{t−1} ~ p_θ(x_{t−1}|x_t) = N(μ_θ, σ_t² I) (DDPM Alg. 2),
  optionally on a respaced (shorter) chain as in improved DDPM §4.
- :func:`ddim_steps`: DDIM (Song et al. 2020, eq. 12) on a respaced chain; η = 0 is deterministic,
  η = 1 on the full chain is DDPM's ancestral step with σ_t² = β̃_t.
- :func:`sample`: batches, seeding, eval mode, progress bar; returns x_0 in [−1, 1].
- :func:`keep_frames`: keep only some steps of a run (for figures), so memory grows with the number
  of frames kept, not with T.

The update math lives in :mod:`ddpm_edu.reverse` (``p_mean_variance``, ``ddim_step``, and
``model_eps_x0``, the one conversion of a model output to (ε̂, x̂_0)); what all samplers share (the
:class:`Step`, the initial noise, seeded draws, the network call) in :mod:`ddpm_edu.chain`. This
module only walks the chain. Names in diffusers: our ``ddpm_steps`` is a loop over
``DDPMScheduler.step``, ``ddim_steps`` over ``DDIMScheduler.step``; our ``respace`` is their
``set_timesteps``.
"""
from __future__ import annotations

import os
from typing import Iterable, Iterator

import torch

from ._checks import (check_choice, check_device, check_eta, check_generator, check_model,
                      check_positive_int, check_schedule, check_seed, check_shape, check_steps)
from .chain import (Step, call_model, eps_x0_at, guided_model, initial_noise, model_device_dtype,
                    model_num_classes, randn)
from .reverse import MeanType, VarianceType, ddim_step, p_mean_variance
from .schedules import Schedule, respace
from .errors import InvalidArgument

__all__ = ["Step", "ddpm_steps", "ddim_steps", "sample", "keep_frames", "SAMPLERS"]

SAMPLERS = ("ddim", "ddpm")


# ---- DDPM ancestral sampling ------------------------------------------------------------------
def ddpm_steps(model, schedule: Schedule, x_T=None, *, shape=None, steps=None,
               spacing: str = "linspace", var_type="fixed_small", mean_type="eps",
               clip_x0: bool = True, generator=None, dtype=None, device=None, labels=None,
               guidance: float = 0.0) -> Iterator[Step]:
    """Ancestral sampling (DDPM Algorithm 2): x_{t−1} = μ_θ(x_t, t) + σ_t z, z ~ N(0, I), no noise
    at the last step. Yields :class:`Step` tuples (see the module docstring).

    Args:
        model: ``model(x_t, t)`` with t a LongTensor [N] of original indices; its output is ε̂, x̂_0
            or μ per ``mean_type``.
        schedule: the schedule the model was trained with.
        x_T: initial noise [N, ...]; or give ``shape`` = (N, ...) and it is drawn with ``generator``
            (``dtype``/``device`` choose its type and place; default float32 on the CPU).
        steps: None for the full chain of T steps; an int S < T runs the respaced chain of S steps
            (``respace(schedule, S, spacing)``), with σ² from the respaced schedule's own β̃' (fixed
            small) or β' (fixed large), where β'_k = 1 − ᾱ'_k/ᾱ'_{k−1}.
        var_type: "fixed_small" (σ_t² = β̃_t) or "fixed_large" (σ_t² = β_t).
        clip_x0: clip x̂_0 to [−1, 1] before forming μ (DDPM's sampler does).
        labels, guidance: for a class-conditional model ``model(x_t, t, y)``: the class of each
            sample (an int for all, or a LongTensor [N]) and the classifier-free guidance weight
            w ≥ 0 (0: the plain conditional model); see :func:`ddpm_edu.chain.guided_model`.

    A "mu" model predicts the posterior mean of ``schedule``'s own chain; on a respaced chain its
    output is turned into x̂_0 first (μ is chain-specific, x̂_0 and ε̂ are not).
    The network is called under ``torch.no_grad()``; put it in eval mode yourself (:func:`sample`
    does).
    """
    schedule = check_schedule(schedule)
    mean_type = check_choice(MeanType, mean_type, "mean_type")
    var_type = check_choice(VarianceType, var_type, "var_type")
    if steps is None:
        chain = schedule
    else:
        steps = check_steps(steps, schedule.T, "ddpm_steps")
        chain = schedule if steps == schedule.T else respace(schedule, steps, spacing)
    model = guided_model(model, labels, guidance)
    x = initial_noise(x_T, shape, generator, dtype, device, "ddpm_steps")
    return _ddpm_gen(model, schedule, chain, x, var_type, mean_type, clip_x0, generator)


def _ddpm_gen(model, base, chain, x, var_type, mean_type, clip_x0, generator):
    yield Step(int(chain.timesteps[chain.T]), x, None)
    for k in range(chain.T, 0, -1):
        out = call_model(model, x, int(chain.timesteps[k]))
        pmv = p_mean_variance(chain, out, x, k, mean_type, var_type, clip_x0, base=base)
        x = pmv.mean
        if k > 1:  # no noise at the last step: x_0 is the mean
            x = x + pmv.variance.sqrt() * randn(x.shape, generator, x.dtype, x.device)
        yield Step(int(chain.timesteps[k - 1]), x, pmv.pred_x0)


# ---- DDIM -------------------------------------------------------------------------------------
def ddim_steps(
    model,
    schedule: Schedule,
    x_T=None,
    *,
    shape=None,
    steps: int = 50,
    eta: float = 0.0,
    spacing: str = "linspace",
    mean_type="eps",
    clip_x0: bool = True,
    generator=None,
    dtype=None,
    device=None,
    labels=None,
    guidance: float = 0.0,
) -> Iterator[Step]:
    """DDIM sampling (Song et al. 2020, eq. 12) on ``respace(schedule, steps, spacing)``.

    Each update goes from kept step k to k−1 (original indices ``τ_k → τ_{k−1}``, ending at 0):
    x_prev = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ²) ε̂ + σ z, σ = η √((1−ᾱ_prev)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev)
    (see :func:`ddpm_edu.reverse.ddim_step`). η = 0 is deterministic (no noise is drawn); η = 1 with
    ``steps = T`` is DDPM's ancestral step with σ² = β̃_t, using the same noise draws as
    :func:`ddpm_steps` with the same generator. No noise is added at the last step.

    DDIM needs ε̂: an "x0" output is converted with ε̂ = (x_t − √ᾱ_t x̂_0)/√(1−ᾱ_t), a "mu" output
    (the posterior mean of ``schedule``'s own chain) via x̂_0 first. Other arguments (``labels`` and
    ``guidance`` too) as in :func:`ddpm_steps`; with ``spacing="leading"`` the chain starts at the
    top kept step (not T).
    """
    schedule = check_schedule(schedule)
    mean_type = check_choice(MeanType, mean_type, "mean_type")
    steps = check_steps(steps, schedule.T, "ddim_steps")
    eta = check_eta(eta)
    chain = respace(schedule, steps, spacing)
    model = guided_model(model, labels, guidance)
    x = initial_noise(x_T, shape, generator, dtype, device, "ddim_steps")
    return _ddim_gen(model, schedule, chain, x, eta, mean_type, clip_x0, generator)


def _ddim_gen(model, base, chain, x, eta, mean_type, clip_x0, generator):
    yield Step(int(chain.timesteps[chain.T]), x, None)
    for k in range(chain.T, 0, -1):
        eps, _ = eps_x0_at(model, base, chain, x, k, mean_type)  # unclipped: ddim_step clips
        # Draw noise only where it is used, so η = 1 consumes the generator exactly as DDPM does.
        noise = (randn(x.shape, generator, x.dtype, x.device) if eta > 0 and k > 1
                 else torch.zeros_like(x))
        x, x0_hat = ddim_step(chain, x, eps, k, k - 1, eta=eta, noise=noise, clip_x0=clip_x0)
        yield Step(int(chain.timesteps[k - 1]), x, x0_hat)


# ---- the convenience wrapper -----------------------------------------------------------------
class _Batched:
    """Calls ``model`` on chunks of at most ``batch_size`` examples and concatenates the outputs
    (labels y, if given, are split alike)."""

    def __init__(self, model, batch_size: int):
        self.model, self.batch_size = model, batch_size
        self.num_classes = model_num_classes(model)

    def __call__(self, x, t, *y):
        if x.shape[0] <= self.batch_size:
            return self.model(x, t, *y)
        chunks = zip(*(a.split(self.batch_size) for a in (x, t, *y)))
        return torch.cat([self.model(*args) for args in chunks])


def _progress_disabled(progress: bool) -> bool:
    env = os.environ.get("TQDM_DISABLE", "").strip().lower()
    return (not progress) or env not in ("", "0", "false", "no", "off")


# Over 60 lines because half of it is the docstring (every argument of the public entry point).
def sample(model, schedule: Schedule, n: int, shape, sampler: str = "ddim", steps: int | None = 50,
           eta: float = 0.0, var_type="fixed_small", mean_type="eps", clip_x0: bool = True,
           generator=None, seed: int | None = None, batch_size: int | None = None,
           progress: bool = True, device=None, labels=None, guidance: float = 0.0) -> torch.Tensor:
    """Draw ``n`` samples x_0, shape [n, *shape], clamped to the data range [−1, 1].

    Args:
        model: ``model(x_t, t)`` (an ``nn.Module`` is put in eval mode and restored afterwards).
        shape: one sample's shape, e.g. (1, 28, 28).
        sampler: "ddim" (default, ``steps`` network calls, noise set by ``eta``) or "ddpm"
            (ancestral; ``steps=None`` runs DDPM's full chain of T steps, an int the respaced
            chain).
        steps: number of network calls per sample; None means T. The default 50 applies to both
            samplers: ``sample(..., sampler="ddpm")`` is the respaced 50-step ancestral sampler.
        eta: DDIM only; var_type: DDPM only (giving either to the other sampler is an error).
        generator / seed: a ``torch.Generator``, or a seed to make one (not both). Without either,
            torch's global RNG is used.
        batch_size: the most examples the network sees in one call (bounds its memory); None: all n.
        progress: a tqdm.auto bar over the steps (a widget in JupyterLab); ``TQDM_DISABLE=1`` also
            switches it off.
        device: where the chain runs; default: the model's parameter device, else the CPU.
        labels: for a class-conditional model: an int (all n samples that class) or a LongTensor
            [n]; None: unconditional samples ("no label").
        guidance: classifier-free guidance weight w ≥ 0 (needs labels; 0: the plain conditional
            model). With w > 0 each network call sees the doubled batch [x; x] (2n examples,
            split by ``batch_size`` like any other), see :func:`ddpm_edu.chain.guided_model`.

    Reproducibility: all noise (x_T, then each step's z for all n at once) is drawn from the one
    generator on its own device (the CPU for ``seed``) and moved to ``device``. The chain runs on
    all n examples together and only the network is called in chunks, so the same seed gives the
    same samples whatever ``batch_size`` is, up to floating-point differences the network itself may
    have between batch sizes (none for element-wise models; last-bit ones for some conv kernels).
    The noise is also the same on CPU and GPU (only the network's arithmetic differs; not yet
    checked on a GPU). Runs under ``torch.inference_mode()``; the model dtype (of its first floating
    parameter, else float32) sets the dtype of the chain.
    """
    n, shape, batch_size, steps, var_type, generator = _sample_args(
        model, schedule, n, shape, sampler, steps, eta, var_type, generator, seed, batch_size)
    schedule = check_schedule(schedule)

    model_device, dtype = model_device_dtype(model)
    device = check_device(device) if device is not None else (model_device or torch.device("cpu"))
    net = model if batch_size is None else _Batched(model, int(batch_size))
    module = model if isinstance(model, torch.nn.Module) else None
    was_training = module.training if module is not None else False
    common = dict(shape=(int(n), *shape), steps=steps, mean_type=mean_type, clip_x0=clip_x0,
                  generator=generator, dtype=dtype, device=device, labels=labels,
                  guidance=guidance)
    try:
        if module is not None:
            module.eval()
        with torch.inference_mode():
            if sampler == "ddim":
                it = ddim_steps(net, schedule, eta=eta, **common)
            else:
                it = ddpm_steps(net, schedule, var_type=var_type, **common)
            if not _progress_disabled(progress):
                from tqdm.auto import tqdm
                it = tqdm(it, total=steps + 1, desc=f"{sampler} sampling", unit="step")
            for step in it:
                x = step.x
            return x.clamp(-1.0, 1.0)
    finally:
        if module is not None:
            module.train(was_training)


def _sample_args(model, schedule, n, shape, sampler, steps, eta, var_type, generator, seed,
                 batch_size):
    """:func:`sample`'s arguments, checked: (n, shape, batch_size, steps, var_type, generator)."""
    if sampler not in SAMPLERS:
        raise InvalidArgument(
            f"unknown sampler {sampler!r}; choose one of {', '.join(map(repr, SAMPLERS))} "
            "('ddim' for few steps, 'ddpm' for the paper's ancestral chain)."
        )
    n = check_positive_int(n, "n (the number of samples)")
    shape = check_shape(shape, "shape (one sample's shape, without n)")
    if batch_size is not None:
        batch_size = check_positive_int(batch_size, "batch_size (or None)")
    if generator is not None and seed is not None:
        raise InvalidArgument("give either generator or seed, not both.")
    check_model(model)
    check_generator(generator)
    check_seed(seed)
    schedule = check_schedule(schedule)
    if steps is None:
        steps = schedule.T
    if sampler == "ddpm" and eta != 0:
        raise InvalidArgument("eta is DDIM's noise scale; sampler='ddpm' takes var_type instead. "
                         "Use sampler='ddim' with eta=1.0 for DDPM-like noise on a short chain.")
    var_type = check_choice(VarianceType, var_type, "var_type")
    if sampler == "ddim" and var_type is not VarianceType.FIXED_SMALL:
        raise InvalidArgument(
            "var_type applies to sampler='ddpm' only; DDIM's noise is set by eta."
        )
    if seed is not None:
        generator = torch.Generator().manual_seed(int(seed))
    return n, shape, batch_size, steps, var_type, generator


def keep_frames(steps_iter: Iterable[Step], ts, strict: bool = True) -> Iterator[Step]:
    """Yield only the Steps whose ``t`` is in ``ts`` (original indices, e.g. {1000, 500, 100, 0}).

    The other steps are dropped as soon as they are produced, so a figure or GIF of F frames holds F
    tensors, not T. With ``strict`` (default), a ValueError is raised when the run ends if some
    requested t never occurred (a respaced run visits only ``respace(...).timesteps``).
    """
    wanted = set()
    for t in ts:
        if isinstance(t, torch.Tensor) and t.numel() == 1:
            t = t.item()
        if isinstance(t, bool) or not isinstance(t, int) or t < 0:
            raise InvalidArgument(
                f"keep_frames: ts must hold ints ≥ 0 (original time indices), got {t!r}."
            )
        wanted.add(t)
    return _keep(steps_iter, wanted, strict)


def _keep(steps_iter, wanted, strict):
    seen = set()
    for step in steps_iter:
        if step.t in wanted:
            seen.add(step.t)
            yield step
    missing = sorted(wanted - seen)
    if strict and missing:
        raise InvalidArgument(
            f"keep_frames: the run never reached t = {missing}; a respaced run visits "
            "only the kept steps (see respace(schedule, steps).timesteps)."
        )
