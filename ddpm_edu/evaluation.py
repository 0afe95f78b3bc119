"""Bits per dimension: the variational bound L_vlb on −log p_θ(x_0), estimated on a set of images.

Two estimators of the same quantity, per image x_0 (DDPM eq. 5; Ho et al. 2020, Table 2)::

    L_vlb(x_0) = L_T + Σ_{t=2..T} L_{t−1} + L_0          (bits/dim, ``ddpm_edu.losses``)

* :func:`bpd_full` computes every term, each with its own fresh x_t ~ q(x_t | x_0): T network
  calls per image (batched), as DDPM's ``calc_bpd_loop``. It also returns the mean of each term
  over the images (the curve "which steps cost the bits").
* :func:`bpd_fast` samples K of the T steps per image and returns L_T + T · (mean of the K sampled
  terms): an unbiased estimate of the same bound for K network calls per image.

Both report a 95 % confidence interval over images, mean ± 1.96·sd/√n. It is a normal
approximation (central limit theorem over images), fine for n ≳ 30; with few images it is too
narrow. It covers the variation between images *and* the estimator's own randomness (the one x_t
drawn per term; for the fast estimator also which steps were drawn), i.e. it answers "what would
another evaluation on another n images give", not "what is the exact bound of these n images".

The decoder L_0 gives probabilities to the 256 pixel values, so x_0 must be 8-bit pixels (uint8,
or floats on the grid k/127.5 − 1); no dequantisation offset is needed.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass

import torch

from ._checks import (as_batch, check_generator, check_image_range, check_model, check_positive_int,
                      check_schedule)
from .forward import q_sample
from .losses import prior_bpd, vlb_term, vlb_terms
from .pixels import to_model_range
from .schedules import Schedule
from .errors import InvalidArgument, InvalidType

__all__ = ["BPDEstimate", "bpd_full", "bpd_fast", "fast_from_terms", "mean_ci95", "as_pixel_floats",
           "Z95"]

Z95 = statistics.NormalDist().inv_cdf(0.975)  # 1.95996…, the "1.96" of a 95 % normal interval

_P_DEFAULTS = {"mean_type": "eps", "var_type": "fixed_small", "clip_x0": True, "exact": True}


def mean_ci95(values) -> tuple[float, float]:
    """(mean, half-width) of the 95 % normal-approximation interval mean ± 1.96·sd/√n.

    ``values``: one number per image (1-D). sd is the sample standard deviation (n − 1). With
    n < 2 there is no spread to measure: the half-width is NaN.
    """
    v = torch.as_tensor(values, dtype=torch.float64).flatten()
    if v.numel() == 0:
        raise InvalidArgument("no values: a confidence interval needs at least one image.")
    mean = v.mean().item()
    if v.numel() < 2:
        return mean, float("nan")
    return mean, Z95 * v.std(correction=1).item() / math.sqrt(v.numel())


@dataclass(frozen=True)
class BPDEstimate:
    """An estimate of L_vlb in bits/dim on n images.

    Attributes:
        estimator: "full" (every term) or "fast" (K sampled steps per image).
        per_image: [n] float64, each image's estimate of its bound (bits/dim).
        prior: [n] float64, L_T of each image (exact, no sampling).
        per_t: [T] float64, mean of the term computed at step t over images (column t−1; column 0
            is the decoder L_0). For "fast", the mean over the (image, step) pairs that drew t,
            NaN where no image drew it.
        k: steps sampled per image ("fast"), None for "full"; replace: with replacement or not;
        always_decoder: L_0 computed for every image, the other K − 1 steps sampled.
        seconds: wall-clock time of the estimate.
        terms: [n, T] float64, every term of every image (column t−1 = step t), kept by
            ``bpd_full(..., keep_terms=True)``; None otherwise. :func:`fast_from_terms` resamples
            the fast estimator from them without another network call.
    """

    estimator: str
    per_image: torch.Tensor
    prior: torch.Tensor
    per_t: torch.Tensor
    k: int | None
    replace: bool | None
    seconds: float
    always_decoder: bool = False
    terms: torch.Tensor | None = None

    @property
    def n(self) -> int:
        return int(self.per_image.numel())

    @property
    def T(self) -> int:
        return int(self.per_t.numel())

    @property
    def bpd(self) -> float:
        """Mean over images of the bound, bits/dim."""
        return mean_ci95(self.per_image)[0]

    @property
    def half_width(self) -> float:
        """1.96·sd/√n (NaN for a single image)."""
        return mean_ci95(self.per_image)[1]

    @property
    def ci95(self) -> tuple[float, float]:
        """(low, high) of the 95 % normal-approximation interval over images."""
        m, h = mean_ci95(self.per_image)
        return m - h, m + h

    def to_dict(self, per_t: bool = False) -> dict:
        """JSON-able summary (NaN → None). ``per_t=True`` adds the [T] curve as a list."""
        def num(x):
            return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x
        lo, hi = self.ci95
        d = {"bpd": self.bpd, "ci95": [num(lo), num(hi)], "half_width": num(self.half_width),
             "n": self.n, "estimator": self.estimator, "k": self.k, "replace": self.replace,
             "always_decoder": self.always_decoder,
             "T": self.T, "prior": self.prior.mean().item(), "seconds": self.seconds,
             "ci_method": "normal approximation over images: mean ± 1.96·sd/√n"}
        if per_t:
            d["per_t"] = [num(float(v)) for v in self.per_t.tolist()]
        return d

    def __str__(self) -> str:
        h = self.half_width
        pm = f" ± {h:.3f}" if math.isfinite(h) else " (one image: no interval)"
        how = ("full bound, every step" if self.estimator == "full" else
               f"fast estimator, {self.k} of {self.T} steps per image"
               f"{' with' if self.replace else ' without'} replacement"
               f"{', L_0 always' if self.always_decoder else ''}")
        return f"{self.bpd:.3f}{pm} bits/dim (95 % CI, n = {self.n}; {how})"


def as_pixel_floats(x0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The images as floats on the 8-bit grid k/127.5 − 1, shape unchanged.

    uint8 (tensor or array) is mapped with :func:`ddpm_edu.to_model_range` to ``dtype``; floats keep
    their dtype (float64 stays float64) and must already be
    on that grid (within float32 rounding), because bits/dim counts the probability of the exact
    8-bit value: dequantised, normalised or resized-and-not-rounded images are refused.
    """
    x0 = as_batch(x0, "x0", "images")
    if x0.dtype == torch.uint8:
        return to_model_range(x0, dtype)
    if not x0.is_floating_point():
        raise InvalidType(
            f"x0 has dtype {x0.dtype}: give uint8 pixels 0..255 or floats k/127.5 − 1 in [-1, 1]."
        )
    if not torch.isfinite(x0).all():
        raise InvalidArgument("x0 contains NaN or inf values.")
    check_image_range(x0, "x0 (8-bit pixels mapped to [-1, 1])", stacklevel=4)  # past no_grad
    k = (x0.double() + 1.0) * 127.5
    off = (k - k.round()).abs().max().item()
    if off > 1e-3:
        raise InvalidArgument(
            f"x0 must be 8-bit pixels mapped to [-1, 1] (k/127.5 - 1, k = 0..255): got values "
            f"up to {off:.3g} of a pixel level off the grid. Bits/dim scores discrete pixel "
            "values: pass the uint8 images (or ddpm_edu.to_model_range of them), not normalised or "
            "dequantised floats.")
    return x0.clamp(-1.0, 1.0)  # on the grid up to rounding: ±1 exactly at the ends


def _p_options(p_options: dict) -> dict:
    unknown = sorted(set(p_options) - set(_P_DEFAULTS))
    if unknown:
        raise InvalidType(f"unknown option(s) {unknown}; the reverse-process options are "
                        f"{sorted(_P_DEFAULTS)} (see ddpm_edu.vlb_term).")
    return {**_P_DEFAULTS, **p_options}


def _bar(total: int, progress: bool, desc: str):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=desc, unit="img")


def _check_args(model, schedule, generator, batch_size) -> int:
    """The arguments both estimators share; returns the batch size."""
    check_model(model)
    check_schedule(schedule)
    check_generator(generator)
    return check_positive_int(batch_size, "batch_size (images per network call)")


@torch.no_grad()
def bpd_full(
    model,
    schedule: Schedule,
    x0,
    batch_size: int = 64,
    generator: torch.Generator | None = None,
    progress: bool = False,
    keep_terms: bool = False,
    **p_options,
) -> BPDEstimate:
    """The full bound L_vlb per image, bits/dim, with every term estimated from its own x_t.

    Args:
        model: ``model(x_t, t) -> prediction`` (ε̂ by default), t original schedule indices.
        schedule: the schedule the model was trained with.
        x0: images [N, ...] as uint8 pixels or floats k/127.5 − 1 (see :func:`as_pixel_floats`),
            in the layout the model takes (e.g. [N, 1, 28, 28]).
        batch_size: images per network call. generator: for x_t (reproducible with a seed).
        progress: show a bar over images (and one over steps inside each batch).
        keep_terms: keep every image's T terms in the result's ``terms`` ([n, T], 8·n·T bytes).
        **p_options: ``mean_type``, ``var_type``, ``clip_x0``, ``exact`` of
            :func:`ddpm_edu.vlb_term` (defaults: "eps", "fixed_small", True, True).

    Cost: T network calls per batch. Returns a :class:`BPDEstimate` whose ``per_t`` is the mean
    term at each step (the data of the "where do the bits go" plot).
    """
    opts = _p_options(p_options)
    x = as_pixel_floats(x0)  # (N, ...)
    bs = _check_args(model, schedule, generator, batch_size)
    start = time.perf_counter()
    totals, priors, kept = [], [], []
    sums = torch.zeros(schedule.T, dtype=torch.float64)
    bar = _bar(x.shape[0], progress, "bits/dim (full)")
    for i in range(0, x.shape[0], bs):
        xb = x[i:i + bs]
        r = vlb_terms(schedule, model, xb, generator=generator, progress=progress, **opts)
        totals.append(r.total.cpu())
        priors.append(r.prior.cpu())
        sums += r.terms.sum(dim=0).cpu()
        if keep_terms:
            kept.append(r.terms.cpu())
        if bar is not None:
            bar.update(xb.shape[0])
    if bar is not None:
        bar.close()
    return BPDEstimate("full", torch.cat(totals), torch.cat(priors), sums / x.shape[0], None, None,
                       time.perf_counter() - start, terms=torch.cat(kept) if keep_terms else None)


def sample_timesteps(n: int, T: int, k: int, replace: bool = False,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """K paper steps per image, uniform on 1..T: LongTensor [n, k].

    Without replacement (default) the K steps of an image are distinct (a random permutation's
    first K); with replacement they are K independent draws. Either way each step t is drawn with
    the same probability, so T·(mean of the K terms) is unbiased for Σ_t L_t.
    """
    k = check_positive_int(k, "k (steps sampled per image)")
    if not replace and k > T:
        raise InvalidArgument(f"k = {k} steps without replacement is more than T = {T}; use k ≤ T "
                         "(k = T computes every term once: the full bound).")
    dev = generator.device if generator is not None else torch.device("cpu")
    if replace:
        return torch.randint(1, T + 1, (n, k), generator=generator, device=dev)
    return torch.rand(n, T, generator=generator, device=dev).argsort(dim=1)[:, :k] + 1


def _fast_steps(n: int, T: int, k: int, replace: bool, always_decoder: bool, generator):
    """(steps [n, K] in 1..T, weights [K]) so that L_T + Σ_j weight_j · term(step_j) is unbiased."""
    if not always_decoder:
        return sample_timesteps(n, T, k, replace, generator), torch.full(
            (k,), T / k, dtype=torch.float64
        )
    if isinstance(k, bool) or not isinstance(k, int) or k < 2 or T < 2:
        raise InvalidArgument(
            f"always_decoder=True needs k ≥ 2 (the decoder plus at least one sampled "
            f"step) and T ≥ 2, got k = {k!r}, T = {T}."
        )
    rest = sample_timesteps(n, T - 1, k - 1, replace, generator) + 1          # (n, K−1) in 2..T
    steps = torch.cat([torch.ones(n, 1, dtype=torch.long, device=rest.device), rest], dim=1)
    weights = torch.full((k,), (T - 1) / (k - 1), dtype=torch.float64)
    weights[0] = 1.0
    return steps, weights


def fast_from_terms(terms: torch.Tensor, prior: torch.Tensor, k: int, replace: bool = False,
                    always_decoder: bool = False,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """The fast estimator applied to terms already computed: [n] per-image estimates, bits/dim.

    ``terms``: [n, T] every term of every image (``bpd_full(..., keep_terms=True).terms``);
    ``prior``: [n] L_T. Each image draws its K steps and weights exactly as :func:`bpd_fast` does
    (the same ``generator`` state draws the same steps) and gets L_T + Σ_j weight_j · term(t_j).
    No network call, so many draws are cheap; the only randomness left is which steps are drawn
    (bpd_fast also draws a fresh x_t per step: here each step keeps the x_t of the full run).
    """
    terms = torch.as_tensor(terms, dtype=torch.float64)
    if terms.ndim != 2:
        raise InvalidArgument(f"terms must be [n images, T steps], got shape {tuple(terms.shape)}; "
                              "pass bpd_full(..., keep_terms=True).terms.")
    prior = torch.as_tensor(prior, dtype=torch.float64).flatten()
    if prior.numel() != terms.shape[0]:
        raise InvalidArgument(f"prior has {prior.numel()} values for {terms.shape[0]} images: give "
                              "one L_T per image (BPDEstimate.prior).")
    n, T = terms.shape
    steps, weights = _fast_steps(n, T, k, replace, always_decoder, generator)
    return prior + terms.gather(1, steps.cpu() - 1) @ weights


@torch.no_grad()
def bpd_fast(model, schedule: Schedule, x0, k: int = 50, batch_size: int = 64,
             generator: torch.Generator | None = None, progress: bool = False,
             replace: bool = False, always_decoder: bool = False, **p_options) -> BPDEstimate:
    """An unbiased estimate of L_vlb per image from K sampled steps: L_T + T · mean_j L_{t_j − 1}.

    Each image draws its own K steps t_1..t_K uniformly from 1..T (``sample_timesteps``) and one
    fresh x_t per drawn step; L_T is exact. Since every t has the same chance K/T of being drawn,
    E[T · mean_j term(t_j)] = Σ_t E[term(t)]: the estimate's expectation is the full bound.

    Without replacement (the default) is better than with: the same K calls, never the same step
    twice, so the variance is smaller by the finite-population factor (T − K)/(T − 1) and K = T
    gives back exactly the full estimator. ``replace=True`` is offered for comparison.

    The terms differ a lot between steps, and the decoder L_0 alone is often half the bound, so
    one image's estimate is noisy; the 95 % interval of the result is over images and includes
    that step-sampling noise. ``always_decoder=True`` computes L_0 for every image and samples the
    other K − 1 steps from 2..T (weight (T − 1)/(K − 1)): still unbiased, the same K network calls,
    and much less noisy when L_0 dominates (a stratified estimator). Other arguments as
    :func:`bpd_full`; ``k`` network calls per batch.
    """
    opts = _p_options(p_options)
    x = as_pixel_floats(x0)  # (N, ...)
    bs = _check_args(model, schedule, generator, batch_size)
    T = schedule.T
    steps_all, weights = _fast_steps(x.shape[0], T, k, replace, always_decoder, generator)
    start = time.perf_counter()
    totals, priors = [], []
    sums = torch.zeros(T, dtype=torch.float64)
    counts = torch.zeros(T, dtype=torch.float64)
    bar = _bar(x.shape[0], progress, f"bits/dim (fast, K={k})")
    for i in range(0, x.shape[0], bs):
        xb = x[i:i + bs]
        steps = steps_all[i:i + bs].to(xb.device)  # (B, K)
        terms = torch.empty(steps.shape, dtype=torch.float64)
        for j in range(k):
            t = steps[:, j]  # (B,) one step per image
            xt = q_sample(schedule, xb, t, generator=generator)
            out = model(xt, schedule.timesteps[t.cpu()].to(xb.device))
            terms[:, j] = vlb_term(schedule, out, xb, xt, t, **opts).double().cpu()
        prior = prior_bpd(schedule, xb).double().cpu()
        totals.append(prior + terms @ weights)
        priors.append(prior)
        idx = steps.cpu().flatten() - 1
        sums.index_add_(0, idx, terms.flatten())
        counts.index_add_(0, idx, torch.ones_like(terms.flatten()))
        if bar is not None:
            bar.update(xb.shape[0])
    if bar is not None:
        bar.close()
    per_t = torch.where(counts > 0, sums / counts.clamp(min=1), torch.full_like(sums, float("nan")))
    return BPDEstimate("fast", torch.cat(totals), torch.cat(priors), per_t, k, replace,
                       time.perf_counter() - start, always_decoder)
