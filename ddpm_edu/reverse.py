"""The reverse process p_θ(x_{t−1} | x_t) = N(μ_θ(x_t, t), σ_t² I), built from a model's output.

The model output is one of four named quantities (:class:`MeanType`) and the variance one of two
fixed choices (:class:`VarianceType`); nothing is switched silently. These functions take the
model's *output*, not the model, so they can be checked with made-up tensors.

The model contract: :func:`model_eps_x0` is the one place where a model output becomes (ε̂, x̂_0);
every sampler (DDPM, DDIM, Langevin, the ODE), the likelihood, ``diagnose`` and
``PretrainedModel.eps`` go through it. A new kind of output (v-prediction,
v = √ᾱ_t ε − √(1−ᾱ_t) x_0) is one more :class:`MeanType` and one more branch there; a change of
what the model *is* (classifier-free guidance, ε̂ = (1+w) ε(x, y) − w ε(x, ∅)) wraps the model
callable that the samplers call (:func:`ddpm_edu.chain.guided_model`); the guidance combination
itself, :func:`guided_eps`, is defined here.
"""
from __future__ import annotations

import enum
from typing import NamedTuple

import torch

from ._checks import (check_choice, check_eta, check_float, check_guidance, check_same_shape,
                      check_t)
from .forward import predict_eps_from_x0, predict_x0_from_eps, predict_x0_from_mean, q_posterior
from .schedules import Schedule, base_index, extract, one_minus_ratio
from .errors import InvalidArgument

__all__ = ["MeanType", "VarianceType", "PMeanVariance", "model_eps_x0", "p_mean_variance",
           "reverse_log_variance", "ddim_step", "eps_vlb_weight", "guided_eps"]


class MeanType(str, enum.Enum):
    """What the network predicts: the noise ε (DDPM's choice), the clean image x_0, the mean μ,
    or the velocity v = √ᾱ_t ε − √(1−ᾱ_t) x_0 (Salimans & Ho 2022)."""
    EPS = "eps"
    X0 = "x0"
    MU = "mu"
    V = "v"


class VarianceType(str, enum.Enum):
    """σ_t² of p_θ: β̃_t ("fixed small", the posterior's) or β_t ("fixed large"). DDPM found both
    give similar samples; "fixed small" gives the better likelihood. At t = 1 both use β̃_2."""
    FIXED_SMALL = "fixed_small"
    FIXED_LARGE = "fixed_large"


class PMeanVariance(NamedTuple):
    mean: torch.Tensor          # μ_θ(x_t, t), shape like x_t
    variance: torch.Tensor      # σ_t², [N, 1, …]
    log_variance: torch.Tensor  # log σ_t², [N, 1, …]
    pred_x0: torch.Tensor       # x̂_0 (clipped if asked), shape like x_t
    pred_eps: torch.Tensor      # ε̂ consistent with x̂_0, shape like x_t


def reverse_log_variance(schedule: Schedule, t: torch.Tensor, like: torch.Tensor,
                         var_type="fixed_small") -> torch.Tensor:
    """log σ_t² for p_θ, [N, 1, …]. fixed_small: log β̃_t; fixed_large: log β_t; both log β̃_2 at
    t = 1."""
    var_type = check_choice(VarianceType, var_type, "var_type")
    small = extract(schedule.posterior_log_variance_clipped, t, like)
    if var_type is VarianceType.FIXED_SMALL:
        return small
    large = extract(schedule.beta, t, like).log()
    is_one = (t == 1).reshape((-1,) + (1,) * (like.ndim - 1)).to(like.device)
    return torch.where(is_one, small, large)


def model_eps_x0(schedule: Schedule, model_output: torch.Tensor, x_t: torch.Tensor, t,
                 mean_type="eps", *, clip_x0: bool = False, base: Schedule | None = None):
    """(ε̂, x̂_0) at (x_t, t) from a model output: the one conversion every sampler shares.

    Args:
        schedule: the chain ``t`` indexes (the training schedule, or a respaced copy of it).
        model_output: the network's prediction at (x_t, t), read per ``mean_type``:
            "eps": ε̂, so x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t;
            "x0": x̂_0, so ε̂ = (x_t − √ᾱ_t x̂_0)/√(1−ᾱ_t);
            "mu": the posterior mean μ = c1_t x̂_0 + c2_t x_t, so x̂_0 = (μ − c2_t x_t)/c1_t;
            "v": v̂ = √ᾱ_t ε̂ − √(1−ᾱ_t) x̂_0, so x̂_0 = √ᾱ_t x_t − √(1−ᾱ_t) v̂ and
            ε̂ = √ᾱ_t v̂ + √(1−ᾱ_t) x_t (x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε and ᾱ_t + (1−ᾱ_t) = 1).
        x_t: shape [N, ...]; t: LongTensor [N] (or an int) in 1..T of ``schedule``.
        clip_x0: clip x̂_0 to [−1, 1] and re-derive ε̂ from the clipped x̂_0 (what the samplers
            do); without it an "eps" output is returned as ε̂ unchanged.
        base: the schedule the model was trained with, when ``schedule`` is a respaced copy of it.
            ε̂ and x̂_0 are the same on every chain, but μ belongs to one chain: a "mu" output is
            the posterior mean of ``base``'s chain and is converted there.
    Returns: (ε̂, x̂_0), both shaped like x_t.
    """
    mean_type = check_choice(MeanType, mean_type, "mean_type")
    check_float(x_t, "xt")
    check_float(model_output, "model_output")
    check_same_shape(x_t, model_output, "xt", "model_output")
    t = check_t(t, schedule.T, x_t.shape[0])
    if mean_type is MeanType.EPS:
        x0 = predict_x0_from_eps(schedule, x_t, t, model_output)
    elif mean_type is MeanType.X0:
        x0 = model_output
    elif mean_type is MeanType.V:
        a = extract(schedule.sqrt_alpha_bar, t, x_t)
        s = extract(schedule.sqrt_one_minus_alpha_bar, t, x_t)
        x0 = a * x_t - s * model_output
        if not clip_x0:
            return a * model_output + s * x_t, x0
    elif base is None or base is schedule:
        x0 = predict_x0_from_mean(schedule, x_t, t, model_output)
    else:
        x0 = predict_x0_from_mean(base, x_t, base_index(base, schedule, t), model_output)
    if clip_x0:
        x0 = x0.clamp(-1.0, 1.0)
    if mean_type is MeanType.EPS and not clip_x0:
        return model_output, x0
    return predict_eps_from_x0(schedule, x_t, t, x0), x0


def guided_eps(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, w: float) -> torch.Tensor:
    """Classifier-free guidance (Ho & Salimans 2022, eq. 6): ε̃ = (1 + w)·ε(x_t, y) − w·ε(x_t, ∅).

    Args:
        eps_cond: ε̂(x_t, y), the network given the label; eps_uncond: ε̂(x_t, ∅), the same network
            given the "no label" token; same shape.
        w: the guidance weight, ≥ 0. w = 0 is the plain conditional model (ε̃ = ε(x_t, y)); larger
            w trades diversity for samples that look more like their class.
    Returns: ε̃, shaped like eps_cond.

    Conventions. diffusers' ``guidance_scale`` s is s = 1 + w: ε̃ = ε_u + s·(ε_c − ε_u) (s = 1 is
    the conditional model, s = 0 the unconditional one). As a score, with ε = −√(1−ᾱ_t)·∇log p:
    ∇log p̃(x_t|y) = ∇log p(x_t) + (1+w)·∇log p(y|x_t) = (1+w)·∇log p(x_t|y) − w·∇log p(x_t),
    i.e. sampling from p̃(x_t|y) ∝ p(x_t)·p(y|x_t)^(1+w), an implicit classifier raised to 1 + w.

    The weights (1 + w, −w) add up to 1, so the combination commutes with any map affine in ε at
    fixed (x_t, t): combining two x̂_0 (or μ, or v) outputs gives exactly the x̂_0 of the guided ε̃.
    This is why :func:`ddpm_edu.chain.guided_model` can combine raw outputs of any mean type.
    """
    w = check_guidance(w)
    check_float(eps_cond, "eps_cond")
    check_float(eps_uncond, "eps_uncond")
    check_same_shape(eps_cond, eps_uncond, "eps_cond", "eps_uncond")
    if w == 0:
        return eps_cond
    return (1.0 + w) * eps_cond - w * eps_uncond


def p_mean_variance(schedule: Schedule, model_output: torch.Tensor, xt: torch.Tensor, t,
                    mean_type="eps", var_type="fixed_small", clip_x0: bool = True,
                    base: Schedule | None = None) -> PMeanVariance:
    """Mean and variance of p_θ(x_{t−1} | x_t) from a model output.

    Args:
        model_output: the network's prediction at (x_t, t), interpreted per ``mean_type``.
        xt: x_t, shape [N, ...]; t: LongTensor [N] in 1..T.
        clip_x0: clip x̂_0 to [−1, 1] before forming the mean (for sampling and for evaluating
            the bound; never for the training loss). Then μ = c1 x̂_0 + c2 x_t; without clipping,
            for ε-prediction this equals μ_θ = (x_t − β_t/√(1−ᾱ_t) ε̂)/√α_t (DDPM eq. 11).
        base: the training schedule when ``schedule`` is a respaced copy (see :func:`model_eps_x0`).
    """
    mean_type = check_choice(MeanType, mean_type, "mean_type")
    eps, x0 = model_eps_x0(schedule, model_output, xt, t, mean_type, clip_x0=clip_x0, base=base)
    t = check_t(t, schedule.T, xt.shape[0])
    log_var = reverse_log_variance(schedule, t, xt, var_type)
    own_mean = mean_type is MeanType.MU and (base is None or base is schedule)
    if own_mean and not clip_x0:
        mean = model_output  # μ of this very chain, as predicted
    else:
        mean, _, _ = q_posterior(schedule, x0, xt, t)
    return PMeanVariance(mean, log_var.exp(), log_var, x0, eps)


def ddim_step(schedule: Schedule, xt: torch.Tensor, eps: torch.Tensor, t, t_prev, eta: float = 0.0,
              noise=None, generator=None, clip_x0: bool = True):
    """One DDIM update from x_t to x_{t_prev} (Song et al. 2020, eq. 12), t_prev < t (t_prev may
    be 0).

    x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t (clipped if asked, then ε̂ re-derived from it),
    σ = η √((1−ᾱ_prev)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev),
    x_prev = √ᾱ_prev x̂_0 + √(1 − ᾱ_prev − σ²) ε̂ + σ z.
    η = 0 is deterministic; η = 1 with t_prev = t − 1 is DDPM's ancestral step with σ² = β̃_t.
    Returns (x_prev, x̂_0).
    """
    check_float(xt, "xt")
    check_float(eps, "eps")
    check_same_shape(xt, eps, "xt", "eps")
    eta = check_eta(eta)
    n = xt.shape[0]
    t = check_t(t, schedule.T, n)
    t_prev = check_t(t_prev, schedule.T, n, allow_zero=True)
    if (t_prev >= t).any():
        raise InvalidArgument(
            "t_prev must be smaller than t: DDIM steps go from noise (large t) to data."
        )
    eps, x0 = model_eps_x0(schedule, eps, xt, t, MeanType.EPS, clip_x0=clip_x0)
    # Coefficients in float64 from the accurate tables (1 − ᾱ_t and 1 − ᾱ_t/ᾱ_prev without
    # cancellation, see one_minus_ratio), cast once to the dtype of x_t.
    ref = torch.empty((n,) + (1,) * (xt.ndim - 1), dtype=torch.float64)
    om_t = extract(schedule.one_minus_alpha_bar, t, ref)
    om_prev = extract(schedule.one_minus_alpha_bar, t_prev, ref)
    step = one_minus_ratio(schedule, t, t_prev).reshape(ref.shape)
    var = eta ** 2 * om_prev / om_t * step          # σ²; = β̃_t for η = 1, t_prev = t − 1
    sigma = var.sqrt().to(xt)
    coef_eps = (om_prev - var).clamp(min=0).sqrt().to(xt)
    mean = extract(schedule.sqrt_alpha_bar, t_prev, xt) * x0 + coef_eps * eps
    if eta == 0:
        return mean, x0
    if noise is None:
        noise = torch.randn(xt.shape, generator=generator, dtype=xt.dtype, device=xt.device)
    else:
        check_float(noise, "noise")
        check_same_shape(xt, noise, "xt", "noise")
    return mean + sigma * noise, x0


def eps_vlb_weight(schedule: Schedule, t, var_type="fixed_small") -> torch.Tensor:
    """w_t with KL(q(x_{t−1}|x_t,x_0) ‖ p_θ) = w_t · mean((ε − ε̂)²) (nats per dimension), float64
    [N].

    w_t = β_t² / (2 σ_t² α_t (1 − ᾱ_t)). L_simple drops these weights: it is L_vlb with every w_t
    set to 1, which down-weights the small-t terms (w_2 ≈ 0.60 against w_100 ≈ 0.010, linear
    T=1000).
    """
    if isinstance(t, int):
        t = torch.tensor([t])
    t = check_t(t, schedule.T, t.shape[0] if isinstance(t, torch.Tensor) and t.ndim else 1)
    ref = torch.empty(t.shape[0], dtype=torch.float64)
    var = reverse_log_variance(schedule, t, ref, var_type).exp()
    beta = extract(schedule.beta, t, ref)
    return beta**2 / (
        2 * var * extract(schedule.alpha, t, ref) * extract(schedule.one_minus_alpha_bar, t, ref)
    )
