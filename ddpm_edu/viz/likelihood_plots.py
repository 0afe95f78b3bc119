"""Pictures of the likelihood pieces: the KL of two Gaussians, and the bucket decoder L_0.

Each picture is computed once as a *scene* (the numbers and curves: :func:`kl_scene`,
:func:`bucket_scene`) and drawn by one of two renderers: matplotlib for figures and static fallbacks
(:func:`kl_figure`, :func:`bucket_figure`), or Pillow for widgets, which must redraw in a few ms
(:func:`kl_image`, :func:`bucket_image`). Both draw the same scene, so they cannot disagree.

All values come from the library (``normal_kl``, ``discretized_gaussian_log_likelihood``); the KL
scene adds an independent numeric integral of p·log(p/q) beside the closed form.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from ._canvas import COLOURS, Panel
from .plots import new_figure
from ..errors import InvalidArgument

__all__ = ["KLScene", "kl_scene", "kl_numeric", "kl_figure", "kl_image",
           "BucketScene", "bucket_scene", "bucket_centres", "bucket_probabilities", "bucket_figure",
           "bucket_image", "gaussian_log_pdf"]

BUCKET_WIDTH = 2.0 / 255.0  # pixel k ↦ k/127.5 − 1: centres 2/255 apart


def gaussian_log_pdf(x: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """log N(x; μ, σ²), elementwise (float64)."""
    return (
        -0.5 * math.log(2 * math.pi) - math.log(sigma) - 0.5 * ((np.asarray(x) - mu) / sigma) ** 2
    )


def _check_sigma(sigma, name: str) -> float:
    if (
        isinstance(sigma, bool)
        or not isinstance(sigma, (int, float))
        or not (sigma > 0 and math.isfinite(sigma))
    ):
        raise InvalidArgument(
            f"{name} is a standard deviation and must be a positive number, got {sigma!r}."
        )
    return float(sigma)


def _check_number(v, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InvalidArgument(f"{name} must be a finite number, got {v!r}.")
    return float(v)


# ---- KL of two Gaussians -------------------------------------------------------------------------
class KLScene(NamedTuple):
    """KL(P ‖ Q) for P = N(μ_p, σ_p²), Q = N(μ_q, σ_q²): the curves on a grid ``x`` (densities
    ``p``, ``q`` and the integrand p·log(p/q)) and the value in nats, closed form and numeric."""
    mu_p: float
    sigma_p: float
    mu_q: float
    sigma_q: float
    x: np.ndarray
    p: np.ndarray
    q: np.ndarray
    integrand: np.ndarray
    closed_form: float
    numeric: float


def kl_numeric(mu_p: float, sigma_p: float, mu_q: float, sigma_q: float, n: int = 20001) -> float:
    """∫ p(x) log(p(x)/q(x)) dx by the trapezoid rule over μ_p ± 12σ_p (p < 1e−31 outside), nats."""
    x = np.linspace(mu_p - 12 * sigma_p, mu_p + 12 * sigma_p, n)
    lp, lq = gaussian_log_pdf(x, mu_p, sigma_p), gaussian_log_pdf(x, mu_q, sigma_q)
    return float(np.trapezoid(np.exp(lp) * (lp - lq), x))


def kl_scene(mu_p: float = 0.3, sigma_p: float = math.sqrt(0.2), mu_q: float = -0.1,
             sigma_q: float = math.sqrt(0.5), n: int = 600) -> KLScene:
    """The numbers and curves of the KL picture; the value from :func:`ddpm_edu.normal_kl`."""
    from ..losses import normal_kl

    mu_p, mu_q = _check_number(mu_p, "mu_p"), _check_number(mu_q, "mu_q")
    sigma_p, sigma_q = _check_sigma(sigma_p, "sigma_p"), _check_sigma(sigma_q, "sigma_q")
    closed = float(normal_kl(torch.tensor(mu_p, dtype=torch.float64), 2 * math.log(sigma_p),
                             torch.tensor(mu_q, dtype=torch.float64), 2 * math.log(sigma_q)))
    lo = min(mu_p - 4 * sigma_p, mu_q - 4 * sigma_q)
    hi = max(mu_p + 4 * sigma_p, mu_q + 4 * sigma_q)
    x = np.linspace(lo, hi, n)
    lp, lq = gaussian_log_pdf(x, mu_p, sigma_p), gaussian_log_pdf(x, mu_q, sigma_q)
    p = np.exp(lp)
    return KLScene(mu_p, sigma_p, mu_q, sigma_q, x, p, np.exp(lq), p * (lp - lq), closed,
                   kl_numeric(mu_p, sigma_p, mu_q, sigma_q))


def _integrand_ylim(f: np.ndarray) -> tuple[float, float]:
    lo, hi = min(f.min(), 0.0), max(f.max(), 0.0)
    pad = 0.08 * max(hi - lo, 1e-12)
    return lo - pad, hi + pad


def kl_figure(mu_p: float = 0.3, sigma_p: float = math.sqrt(0.2), mu_q: float = -0.1,
              sigma_q: float = math.sqrt(0.5), figsize=(9.0, 3.3)):
    """KL(N(μ_p, σ_p²) ‖ N(μ_q, σ_q²)) drawn as the area it is (defaults: math-reference.md's pinned
    example, 0.318145 nats). Left: the densities p and q. Right: the integrand p·log(p/q), shaded
    green where positive and red where negative; green − red area = KL ≥ 0. The title gives the
    closed form and the numeric integral side by side. Returns the Figure."""
    s = kl_scene(mu_p, sigma_p, mu_q, sigma_q)
    fig, (ax_d, ax_i) = new_figure(figsize, nrows=1, ncols=2)
    ax_d.plot(s.x, s.p, color="C0", lw=2, label="p (P)")
    ax_d.plot(s.x, s.q, color="C1", lw=2, label="q (Q)")
    ax_d.set(xlim=(s.x[0], s.x[-1]), ylim=(0, 1.1 * max(s.p.max(), s.q.max())), xlabel="x",
             title=f"P = N({mu_p:.2f}, {sigma_p:.2f}²),  Q = N({mu_q:.2f}, {sigma_q:.2f}²)")
    ax_d.legend(loc="upper right", fontsize=8)
    f = s.integrand
    ax_i.fill_between(s.x, 0, f, where=f >= 0, interpolate=True, color="tab:green", alpha=0.45)
    ax_i.fill_between(s.x, 0, f, where=f < 0, interpolate=True, color="tab:red", alpha=0.45)
    ax_i.plot(s.x, f, color="k", lw=1)
    ax_i.axhline(0.0, color="grey", lw=0.6)
    ax_i.set(xlim=(s.x[0], s.x[-1]), ylim=_integrand_ylim(f), xlabel="x")
    ax_i.set_title(
        f"p·log(p/q): green − red area = KL(P‖Q)\nclosed form {s.closed_form:.4f} nats  |  "
        f"numeric ∫ {s.numeric:.4f} nats",
        fontsize=10,
    )
    ax_d.title.set_fontsize(10)
    fig.tight_layout()
    return fig


def kl_image(scene: KLScene, width: int = 760, height: int = 250) -> np.ndarray:
    """The KL picture drawn with Pillow (for widgets), uint8 (height, width, 3). Text is ASCII; the
    widget shows the values with their symbols beside it."""
    s, half = scene, width // 2
    dens = Panel(half, height, (s.x[0], s.x[-1]), (0.0, 1.1 * max(s.p.max(), s.q.max())),
                 title="densities: p (blue), q (orange)")
    dens.line(s.x, s.q, COLOURS["q"])
    dens.line(s.x, s.p, COLOURS["p"])
    dens.axes()
    f = s.integrand
    integ = Panel(width - half, height, (s.x[0], s.x[-1]), _integrand_ylim(f),
                  title=f"p log(p/q): green - red area = KL = {s.closed_form:.4f}")
    integ.area(s.x, np.maximum(f, 0.0), COLOURS["pos"])
    integ.area(s.x, np.minimum(f, 0.0), COLOURS["neg"])
    integ.hline(0.0)
    integ.line(s.x, f, COLOURS["ink"], width=1)
    integ.axes()
    return np.concatenate([dens.array(), integ.array()], axis=1)


# ---- the bucket decoder --------------------------------------------------------------------------
class BucketScene(NamedTuple):
    """The decoder N(mean, σ²) of one pixel cut into the 256 buckets of 8-bit values.

    probs: [256] float64, p(x = k) for k = 0..255 (from ``discretized_gaussian_log_likelihood``);
    total: Σ_k p(k) (1 up to rounding); pixel / pixel_prob: the chosen value and its p (or None);
    lo, hi: the x-window drawn; x, pdf: the density on it; buckets: (k, xs, ys) for each bucket in
    view, its outline under the density clipped to the window (edge buckets k = 0 and 255 run to the
    window's edge, standing for −∞ and +∞); edge_left / edge_right: whether those edges are in view.
    """
    mean: float
    sigma: float
    pixel: int | None
    probs: np.ndarray
    total: float
    pixel_prob: float | None
    lo: float
    hi: float
    x: np.ndarray
    pdf: np.ndarray
    buckets: list
    edge_left: bool
    edge_right: bool


def bucket_centres() -> torch.Tensor:
    """x_k = k/127.5 − 1 for k = 0..255, float64 [256]."""
    return torch.arange(256, dtype=torch.float64) / 127.5 - 1.0


def bucket_probabilities(mean: float, sigma: float, exact: bool = True) -> np.ndarray:
    """p(x = x_k) for all 256 pixel values under the decoder N(mean, σ²) (edge buckets to ±∞),
    [256].

    Computed by :func:`ddpm_edu.discretized_gaussian_log_likelihood` (exp of its log-probabilities);
    ``exact=False`` uses DDPM's tanh CDF with its 1e−12 floor.
    """
    from ..losses import discretized_gaussian_log_likelihood

    mean, sigma = _check_number(mean, "mean"), _check_sigma(sigma, "sigma")
    x = bucket_centres()
    logp = discretized_gaussian_log_likelihood(
        x, torch.full_like(x, mean), torch.full_like(x, math.log(sigma)), exact=exact
    )
    return logp.exp().numpy()


def _window(mean: float, sigma: float, xk: float | None) -> tuple[float, float]:
    w = BUCKET_WIDTH
    lo, hi = mean - 4 * sigma, mean + 4 * sigma
    if xk is not None:
        lo, hi = min(lo, xk - 1.5 * w), max(hi, xk + 1.5 * w)
    lo, hi = max(lo, -1.3), min(hi, 1.3)  # beyond ±1 only the two edge buckets remain
    if hi - lo < 6 * w:
        c = float(np.clip(mean if xk is None else xk, -1.3, 1.3)) if hi <= lo else (lo + hi) / 2
        lo, hi = c - 3 * w, c + 3 * w
    return lo, hi


def bucket_scene(mean: float = 0.0, sigma: float = 0.01, pixel: int | None = 128,
                 exact: bool = True) -> BucketScene:
    """The numbers and shapes of the bucket picture (see :class:`BucketScene`)."""
    if pixel is not None and (isinstance(pixel, bool) or not isinstance(pixel, (int, np.integer))
                              or not 0 <= pixel <= 255):
        raise InvalidArgument(f"pixel must be an 8-bit value 0..255 (or None), got {pixel!r}.")
    probs = bucket_probabilities(mean, sigma, exact)
    xk = None if pixel is None else pixel / 127.5 - 1.0
    lo, hi = _window(mean, sigma, xk)
    w = BUCKET_WIDTH
    k0 = int(np.clip(math.floor((lo + 1) / w) - 1, 0, 255))
    k1 = int(np.clip(math.ceil((hi + 1) / w) + 1, 0, 255))
    ks = np.arange(k0, k1 + 1)
    c = ks / 127.5 - 1.0
    a = np.where(ks == 0, lo, np.maximum(c - w / 2, lo))
    b = np.where(ks == 255, hi, np.minimum(c + w / 2, hi))
    keep = b > a
    ks, a, b = ks[keep], a[keep], b[keep]
    xs = (
        a[:, None] + (b - a)[:, None] * np.linspace(0.0, 1.0, 12)[None, :]
    )  # (K, 12) outline abscissae
    ys = np.exp(gaussian_log_pdf(xs, mean, sigma))
    buckets = [(int(k), xs[i], ys[i]) for i, k in enumerate(ks)]
    x = np.linspace(lo, hi, 600)
    ks = set(ks.tolist())
    return BucketScene(float(mean), float(sigma), pixel, probs, float(probs.sum()),
                       None if pixel is None else float(probs[pixel]), lo, hi, x,
                       np.exp(gaussian_log_pdf(x, mean, sigma)), buckets,
                       0 in ks and lo < -1 + w / 2, 255 in ks and hi > 1 - w / 2)


def _labelled(s: BucketScene, k: int, xs: np.ndarray) -> bool:
    """Write p(k) above bucket k? Always for the chosen pixel; else when the bucket is wide enough
    on screen (≥ 7 % of the window) for its label not to run into its neighbours'."""
    return k == s.pixel or (xs[-1] - xs[0]) >= 0.07 * (s.hi - s.lo)


def _bucket_colour(k: int, pixel: int | None) -> str:
    return "red" if k == pixel else ("odd" if k % 2 else "even")


def _bucket_title(s: BucketScene, ascii_only: bool) -> str:
    mu, sg, sm = ("mu", "sigma", "sum_k p(k)") if ascii_only else ("μ", "σ", "Σ_k p(k)")
    head = f"N({mu} = {s.mean:.4f}, {sg} = {s.sigma:.4g}) in 256 buckets:  {sm} = {s.total:.6f}"
    if s.pixel is not None:
        bits = -math.log2(s.pixel_prob) if s.pixel_prob > 0 else math.inf
        lg = "-log2 p" if ascii_only else "−log₂ p"
        head += (f"\npixel k = {s.pixel} (x = {s.pixel / 127.5 - 1:.4f}):  p = {s.pixel_prob:.4g}  "
                 f"({lg} = {bits:.3g} bits)")
    return head


def bucket_figure(
    mean: float = 0.0,
    sigma: float = 0.01,
    pixel: int | None = 128,
    exact: bool = True,
    figsize=(8.0, 3.3),
):
    """The decoder p(x_0 | x_1) of one pixel: the Gaussian N(mean, σ²) cut into the 256 buckets of
    8-bit values, each bucket's area shaded (the chosen pixel's in red), the edge buckets k = 0 and
    255 running to −∞ and +∞, and the probabilities written above the chosen bucket and above every
    bucket wide enough on screen to hold its label. Returns the Figure."""
    from matplotlib.collections import PolyCollection

    s = bucket_scene(mean, sigma, pixel, exact)
    fig, ax = new_figure(figsize, nrows=1, ncols=1)
    names = {"red": "tab:red", "odd": "#9ecae1", "even": "#fdd0a2"}
    polys = PolyCollection([np.column_stack([np.r_[xs[0], xs, xs[-1]], np.r_[0.0, ys, 0.0]])
                            for _, xs, ys in s.buckets],
                           facecolors=[names[_bucket_colour(k, pixel)] for k, _, _ in s.buckets],
                           edgecolors="white", linewidths=0.6 if len(s.buckets) <= 60 else 0.0)
    ax.add_collection(polys)
    ax.plot(s.x, s.pdf, color="k", lw=1.5)
    top = max(s.pdf.max(), 1e-300)
    ax.set(xlim=(s.lo, s.hi), ylim=(0, 1.25 * top), ylabel="density N(x; μ, σ²)",
           xlabel="x  (pixel k ↦ k/127.5 − 1; buckets 2/255 wide)")
    for k, xs, _ in s.buckets:
        if _labelled(s, k, xs):
            ax.text((xs[0] + xs[-1]) / 2, 1.04 * top, f"{s.probs[k]:.3g}", ha="center", va="bottom",
                    fontsize=8, color="tab:red" if k == pixel else "k")
    if s.edge_left:
        ax.text(
            s.lo, 0.5 * top, " ← k = 0 runs to −∞", fontsize=8, va="center", backgroundcolor="white"
        )
    if s.edge_right:
        ax.text(s.hi, 0.5 * top, "k = 255 runs to +∞ → ", fontsize=8, va="center", ha="right",
                backgroundcolor="white")
    ax.set_title(_bucket_title(s, ascii_only=False), fontsize=10)
    fig.tight_layout()
    return fig


def bucket_image(scene: BucketScene, width: int = 700, height: int = 260) -> np.ndarray:
    """The bucket picture drawn with Pillow (for widgets), uint8 (height, width, 3)."""
    s = scene
    top = max(s.pdf.max(), 1e-300)
    panel = Panel(width, height, (s.lo, s.hi), (0.0, 1.25 * top),
                  title="density N(x; mu, sigma^2) over the 8-bit buckets (chosen pixel in red)")
    if s.buckets:
        xs = np.stack([x for _, x, _ in s.buckets])
        ys = np.stack([y for _, _, y in s.buckets])
        zero = np.zeros((len(xs), 1))
        u, v = panel.px(
            np.hstack([xs[:, :1], xs, xs[:, -1:]]), np.hstack([zero, ys, zero])
        )  # all at once
        for (k, _, _), ui, vi in zip(s.buckets, u.tolist(), v.tolist()):
            panel.draw.polygon(list(zip(ui, vi)), fill=COLOURS[_bucket_colour(k, s.pixel)])
        if len(s.buckets) <= 60:
            for x0 in xs[1:, 0]:
                panel.vline(x0, fill=(255, 255, 255))
    panel.line(s.x, s.pdf, COLOURS["ink"], width=2)
    for k, xs, _ in s.buckets:
        if _labelled(s, k, xs):
            panel.text((xs[0] + xs[-1]) / 2, 1.06 * top, f"{s.probs[k]:.3g}",
                       fill=COLOURS["red"] if k == s.pixel else COLOURS["ink"])
    if s.edge_left:
        panel.text(s.lo, 0.5 * top, " <- k = 0 runs to -inf", anchor="lm", box=True)
    if s.edge_right:
        panel.text(s.hi, 0.5 * top, "k = 255 runs to +inf -> ", anchor="rm", box=True)
    panel.axes()
    return panel.array()
