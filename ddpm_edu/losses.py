"""The likelihood pieces: KL of Gaussians, the bucket decoder L_0, the prior L_T, L_vlb, L_simple.

Units: functions named ``*_nats`` or documented "nats" return natural-log units per element;
``*_bpd`` return bits per dimension (a mean over every non-batch dimension, divided by ln 2).
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import torch

from ._checks import check_float, check_same_shape, check_t
from .forward import q_mean_variance, q_posterior, q_sample
from .reverse import p_mean_variance
from .schedules import Schedule
from .errors import InvalidArgument, InvalidType

__all__ = [
    "normal_kl", "standard_normal_cdf", "approx_standard_normal_cdf",
    "discretized_gaussian_log_likelihood", "mean_flat", "nats_to_bits", "bits_to_nats",
    "prior_bpd", "vlb_term", "vlb_terms", "VLBTerms", "simple_loss",
]

LN2 = math.log(2.0)
_SQRT_HALF = math.sqrt(0.5)
BUCKET_HALF_WIDTH = 1.0 / 255.0  # pixels k/127.5 − 1 are 2/255 apart


def nats_to_bits(x):
    """Nats → bits: divide by ln 2. Applied to a per-dimension mean this gives bits/dim."""
    return x / LN2


def bits_to_nats(x):
    """Bits → nats: multiply by ln 2."""
    return x * LN2


def mean_flat(x: torch.Tensor) -> torch.Tensor:
    """Mean over every dimension but the first: [N, ...] → [N] ("per dimension")."""
    return x.mean(dim=tuple(range(1, x.ndim))) if x.ndim > 1 else x


def normal_kl(mean1, logvar1, mean2, logvar2) -> torch.Tensor:
    """KL(N(mean1, e^logvar1) ‖ N(mean2, e^logvar2)), elementwise, in nats (broadcasting).

    = ½(−1 + ℓ2 − ℓ1 + e^{ℓ1−ℓ2} + (μ1 − μ2)² e^{−ℓ2}). Arguments are tensors or numbers; at
    least one must be a tensor. The variance part e^d − 1 − d (d = ℓ1 − ℓ2) is evaluated as
    expm1(d) − d: near-equal variances (d → 0, e.g. the prior L_T) keep their digits.
    """
    tensors = [a for a in (mean1, logvar1, mean2, logvar2) if isinstance(a, torch.Tensor)]
    if not tensors:
        raise InvalidType(
            "normal_kl needs at least one torch.Tensor argument (the others may be floats)."
        )
    # the result has the promoted floating dtype of the tensor arguments (float32 stays float32)
    dtype = tensors[0].dtype
    for a in tensors[1:]:
        dtype = torch.promote_types(dtype, a.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    logvar1, logvar2 = (
        torch.as_tensor(v, dtype=dtype, device=tensors[0].device) for v in (logvar1, logvar2)
    )
    d = logvar1 - logvar2
    return 0.5 * (torch.expm1(d) - d + (mean1 - mean2) ** 2 * torch.exp(-logvar2))


def standard_normal_cdf(y: torch.Tensor) -> torch.Tensor:
    """Φ(y), the exact standard normal CDF, as ½ erfc(−y/√2).

    The erfc form keeps full relative precision in the lower tail (Φ(−10) = 7.6e−24), where
    ``torch.special.ndtr`` loses it (2 % off at y = −8 in float64, 0 from y ≈ −8.3).
    """
    return 0.5 * torch.special.erfc(-y * _SQRT_HALF)


_TANH_C = math.sqrt(2.0 / math.pi)


def approx_standard_normal_cdf(y: torch.Tensor) -> torch.Tensor:
    """DDPM's tanh approximation Φ̃(y) = ½(1 + tanh(√(2/π)(y + 0.044715 y³))); |Φ̃ − Φ| ≤ 1.8e−4."""
    return 0.5 * (1.0 + torch.tanh(_TANH_C * (y + 0.044715 * y ** 3)))


def _log_cdf_exact(y):
    return torch.special.log_ndtr(y)


def _log_cdf_tanh(y):
    # ½(1 + tanh z) = sigmoid(2z), so log Φ̃ = logsigmoid(2z): exact for the tanh CDF, no
    # cancellation.
    return torch.nn.functional.logsigmoid(2.0 * _TANH_C * (y + 0.044715 * y ** 3))


def _log1mexp(d: torch.Tensor) -> torch.Tensor:
    """log(1 − e^d) for d < 0, accurate for d near 0 and for d very negative."""
    d = d.clamp(max=-torch.finfo(d.dtype).tiny)
    return torch.where(d > -LN2, torch.log(-torch.expm1(d)), torch.log1p(-torch.exp(d)))


def _log_interval_mass(lo: torch.Tensor, hi: torch.Tensor, log_cdf: Callable) -> torch.Tensor:
    """log(F(hi) − F(lo)) for a symmetric CDF F, without the cancellation of F(hi) − F(lo).

    Buckets above the mean use the upper tails, F(−lo) − F(−hi), where F is small and exact.
    """
    upper = lo > 0
    a = torch.where(upper, -hi, lo)
    b = torch.where(upper, -lo, hi)
    la, lb = log_cdf(a), log_cdf(b)
    return lb + _log1mexp(la - lb)


def discretized_gaussian_log_likelihood(
    x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor, exact: bool = True
) -> torch.Tensor:
    """log p(x) for 8-bit data under a Gaussian N(mean, e^{2·log_scale}) discretised into 256
    buckets.

    Elementwise, in nats. ``x`` must lie on the bucket centres k/127.5 − 1 (k = 0..255). The bucket
    of x is [x − 1/255, x + 1/255], except that the bucket at x = −1 extends to −∞ and the one at
    x = +1 to +∞ (detected, as in DDPM, by x < −0.999 and x > 0.999), so the 256 probabilities sum
    to 1 for any mean and scale. ``log_scale`` is log σ.

    ``exact=True`` uses the exact normal CDF in log space (finite and accurate in float32 even for
    buckets far from the mean). ``exact=False`` reproduces DDPM's reference numbers: the tanh
    approximation Φ̃ and every probability floored at 1e−12.
    """
    check_float(x, "x")
    if x.min() < -1.0 - 1e-6 or x.max() > 1.0 + 1e-6:
        raise InvalidArgument(
            f"x must be 8-bit pixels mapped to [-1, 1] (k/127.5 - 1), got values in "
            f"[{x.min().item():.4g}, {x.max().item():.4g}]. Use ddpm_edu.to_model_range."
        )
    mean = torch.as_tensor(mean, dtype=x.dtype, device=x.device)
    log_scale = torch.as_tensor(log_scale, dtype=x.dtype, device=x.device)
    for v, name in ((mean, "mean"), (log_scale, "log_scale")):
        if not torch.isfinite(v).all():
            raise InvalidArgument(
                f"the decoder's {name} contains NaN or inf; it would give a meaningless "
                "likelihood. Check the model output (a diverged model?)."
            )
    inv_std = torch.exp(-log_scale)
    lo = (x - mean - BUCKET_HALF_WIDTH) * inv_std
    hi = (x - mean + BUCKET_HALF_WIDTH) * inv_std
    log_cdf = _log_cdf_exact if exact else _log_cdf_tanh
    interior = _log_interval_mass(lo, hi, log_cdf)
    left = log_cdf(hi)     # (−∞, x + 1/255]
    right = log_cdf(-lo)   # [x − 1/255, +∞)
    out = torch.where(x < -0.999, left, torch.where(x > 0.999, right, interior))
    if not exact:
        out = out.clamp(min=math.log(1e-12))
    return out


def prior_bpd(schedule: Schedule, x0: torch.Tensor) -> torch.Tensor:
    """L_T = KL(q(x_T | x_0) ‖ N(0, I)) per example, in bits/dim, shape [N].

    No parameters: it only measures how close ᾱ_T is to 0 (linear T=1000: ~3e−5 bits/dim or less).
    """
    check_float(x0, "x0")
    mean, _, log_var = q_mean_variance(schedule, x0, schedule.T)
    return nats_to_bits(mean_flat(normal_kl(mean, log_var, 0.0, 0.0)))


def vlb_term(
    schedule: Schedule,
    model_output: torch.Tensor,
    x0: torch.Tensor,
    xt: torch.Tensor,
    t,
    mean_type="eps",
    var_type="fixed_small",
    clip_x0: bool = True,
    exact: bool = True,
) -> torch.Tensor:
    """The bound's term at step t for each example, bits/dim, shape [N].

    t ≥ 2: L_{t−1} = KL(q(x_{t−1} | x_t, x_0) ‖ p_θ(x_{t−1} | x_t)).
    t = 1: L_0 = −log p_θ(x_0 | x_1), the discretised decoder with mean μ_θ(x_1, 1) and variance
    β̃_2.
    """
    check_same_shape(x0, xt, "x0", "xt")
    t = check_t(t, schedule.T, x0.shape[0])
    p = p_mean_variance(schedule, model_output, xt, t, mean_type, var_type, clip_x0)
    true_mean, _, true_log_var = q_posterior(schedule, x0, xt, t)
    kl = mean_flat(normal_kl(true_mean, true_log_var, p.mean, p.log_variance))
    is_one = t.to(x0.device) == 1
    if not bool(is_one.any()):  # no decoder term in this batch: skip its (costlier) evaluation
        return nats_to_bits(kl)
    nll = -mean_flat(
        discretized_gaussian_log_likelihood(x0, p.mean, 0.5 * p.log_variance, exact=exact)
    )
    return nats_to_bits(torch.where(is_one, nll, kl))


class VLBTerms(NamedTuple):
    """The variational bound per image, all in bits/dim.

    terms: [N, T]; column t−1 holds the term computed at step t (column 0 = L_0, the decoder;
    column t−1 for t ≥ 2 = L_{t−1}). prior: [N] = L_T. total: [N] = prior + terms.sum(1).
    """
    terms: torch.Tensor
    prior: torch.Tensor
    total: torch.Tensor


@torch.no_grad()
def vlb_terms(
    schedule: Schedule,
    model: Callable,
    x0: torch.Tensor,
    mean_type="eps",
    var_type="fixed_small",
    clip_x0: bool = True,
    exact: bool = True,
    generator: torch.Generator | None = None,
    timesteps=None,
    progress: bool = False,
) -> VLBTerms:
    """Every term of L_vlb for a batch of images, each with its own fresh x_t ~ q(x_t | x_0).

    ``model(x_t, t)`` returns the prediction named by ``mean_type`` (ε̂ by default), with t paper
    indices of the model's own schedule (``schedule.timesteps[t]`` for a respaced schedule). This
    costs T network calls per batch — DDPM's own evaluation. ``timesteps`` restricts the loop to
    some steps (the other columns stay NaN), which the fast estimator uses.
    """
    check_float(x0, "x0")
    n, T = x0.shape[0], schedule.T
    steps = range(1, T + 1) if timesteps is None else [int(s) for s in timesteps]
    terms = torch.full((n, T), float("nan"), dtype=torch.float64, device=x0.device)
    it = steps
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(steps, desc="L_vlb terms", leave=False)
    for s in it:
        t = torch.full((n,), s, dtype=torch.long, device=x0.device)
        xt = q_sample(schedule, x0, t, generator=generator)
        out = model(xt, schedule.timesteps[t.cpu()].to(x0.device))
        terms[:, s - 1] = vlb_term(
            schedule, out, x0, xt, t, mean_type, var_type, clip_x0, exact
        ).double()
    prior = prior_bpd(schedule, x0).double()
    return VLBTerms(terms, prior, prior + terms.nansum(dim=1))


def simple_loss(target: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
    """L_simple-style loss per example: mean squared error over non-batch dimensions, shape [N].

    With target = ε this is DDPM's L_simple (eq. 14); a zero network scores ≈ 1 on it.
    """
    check_same_shape(target, prediction, "target", "prediction")
    return mean_flat((target - prediction) ** 2)
