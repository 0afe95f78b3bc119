"""Interactive explorers (ipywidgets 8) of the bound L_vlb: its terms over t (chapter 3) and the
fast estimator's K against its interval (chapter 9).

Same pattern as :mod:`ddpm_edu.viz.widgets`: a class whose ``.box`` is the widget, controls and
read-outs as attributes, pictures as PNG bytes in an ``ipywidgets.Image`` updated from ``observe``
callbacks (drawn with Pillow, :mod:`ddpm_edu.viz._canvas`, a few ms per move), and
``.static(...)`` drawing the same numbers with matplotlib. Everything that costs a network call is
computed once, when the explorer is built; a slider move only looks numbers up and draws.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

from ..errors import InvalidArgument
from ..schedules import Schedule
from . import _render
from ._canvas import COLOURS, Panel
from .widgets import Explorer, show_png

__all__ = ["TermScene", "vlb_term_scenes", "VLBTermExplorer", "fast_estimate_stats",
           "FastEstimatorExplorer"]


class TermScene(NamedTuple):
    """One step t of the bound for a batch: x_t, the two means of x_{t−1} and the term.

    xt, true_mean (μ̃_t(x_t, x_0)), model_mean (μ_θ(x_t, t)): [N, C, H, W]; sigma: the model's σ_t,
    [N, 1, 1, 1] (or [N, C, H, W] for a learned variance); term: [N] float64, L_{t−1} in bits/dim
    (the decoder L_0 at t = 1), as ``vlb_term``.
    """
    t: int
    xt: torch.Tensor
    true_mean: torch.Tensor
    model_mean: torch.Tensor
    sigma: torch.Tensor
    term: torch.Tensor


@torch.no_grad()
def vlb_term_scenes(schedule: Schedule, model, x0: torch.Tensor, timesteps, mean_type="eps",
                    var_type="fixed_small", clip_x0: bool = True, exact: bool = True,
                    generator: torch.Generator | None = None) -> list[TermScene]:
    """:func:`ddpm_edu.vlb_terms` at ``timesteps``, keeping what each term compares.

    Draws x_t in the same order from ``generator`` as ``vlb_terms(..., timesteps=timesteps)``, so
    with the same seed the terms are the same numbers; one network call per step for the batch.
    """
    from ..forward import q_posterior, q_sample
    from ..losses import vlb_term
    from ..reverse import p_mean_variance

    n, scenes = x0.shape[0], []
    for s in (int(v) for v in timesteps):
        t = torch.full((n,), s, dtype=torch.long, device=x0.device)
        xt = q_sample(schedule, x0, t, generator=generator)
        out = model(xt, schedule.timesteps[t.cpu()].to(x0.device))
        p = p_mean_variance(schedule, out, xt, t, mean_type, var_type, clip_x0)
        true_mean = q_posterior(schedule, x0, xt, t)[0]
        term = vlb_term(schedule, out, x0, xt, t, mean_type, var_type, clip_x0, exact).double()
        scenes.append(TermScene(s, xt, true_mean, p.mean, p.variance.sqrt(), term.cpu()))
    return scenes


def _log_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """(log10 value, label) of the powers of ten between 10^lo and 10^hi."""
    return [(float(k), f"{10.0 ** k:g}" if -3 <= k <= 4 else f"1e{k}")
            for k in range(math.ceil(lo), math.floor(hi) + 1)]


def _curve_image(ts: np.ndarray, terms: np.ndarray, i: int, width: int = 330, height: int = 200):
    """Pillow: log10 term over log10 t, the current step i marked in red."""
    x, y = np.log10(ts), np.log10(np.maximum(terms, 1e-12))
    ylo, yhi = math.floor(y.min()), math.ceil(y.max())
    xhi = max(x.max(), 0.5)
    p = Panel(width, height, (-0.05 * xhi, 1.05 * xhi), (ylo, yhi), margin=(46, 10, 18, 22),
              title="terms, bits/dim (log) over t (log)")
    p.line(x, y, COLOURS["p"])
    p.marker(x[i], y[i], COLOURS["red"])
    p.axes(xticks=_log_ticks(0, xhi), yticks=_log_ticks(ylo, yhi))
    return p.array()


class VLBTermExplorer(Explorer):
    """One term of L_vlb at the t chosen with a slider, on the curve of all terms, for one digit.

    Beside the curve: x_t, the true posterior mean μ̃_t(x_t, x_0), the model's mean μ_θ(x_t, t) and
    their difference in units of σ_t (which is what the KL of two Gaussians of equal variance sees:
    L_{t−1} = mean over pixels of ((μ̃ − μ_θ)/σ_t)²/2, in nats, when σ_t² = β̃_t). All terms are
    computed when the explorer is built (:func:`vlb_term_scenes`, one network call per step), so a
    move only draws.

    ``model(x_t, t)``, ``schedule``, ``x0`` ([N, C, H, W] in [−1, 1]), ``timesteps`` (the steps to
    compute, e.g. 1..T), ``seed`` of the x_t draws, ``labels`` (names of the N images).
    Attributes: ``t`` (SelectionSlider over ``timesteps``), ``digit`` (Dropdown), ``image``,
    ``info`` (HTML), ``terms`` ([N, len(timesteps)] float64), ``values``, ``box``.
    """

    css_class = "ddpm-edu-vlb-terms"

    def __init__(self, model, schedule: Schedule, x0: torch.Tensor, timesteps, seed: int = 0,
                 labels=None, t: int | None = None, scale: int = 3, **p_options):
        import ipywidgets as W

        self.timesteps = sorted({int(v) for v in timesteps})
        if not self.timesteps or self.timesteps[0] < 1 or self.timesteps[-1] > schedule.T:
            raise InvalidArgument(f"timesteps must be steps in 1..{schedule.T}, got {timesteps!r}.")
        gen = torch.Generator(device=x0.device).manual_seed(seed)
        self.scenes = vlb_term_scenes(schedule, model, x0, self.timesteps, generator=gen,
                                      **p_options)
        self.terms = torch.stack([s.term for s in self.scenes], dim=1)     # (N, len(timesteps))
        self.schedule, self.scale = schedule, scale
        labels = list(labels) if labels is not None else list(range(x0.shape[0]))
        self.t = W.SelectionSlider(
            options=self.timesteps,
            value=self._nearest(t or 10),
            description="t",
            continuous_update=True,
            layout=W.Layout(width="420px"),
        )
        self.digit = W.Dropdown(options=[(f"image {i} ({lab})", i) for i, lab in enumerate(labels)],
                                value=0, description="image")
        self.image, self.info = W.Image(format="png"), W.HTML()
        self._cache: dict = {}
        self._finish(W.VBox([W.HBox([self.t, self.digit]), self.image, self.info]))
        self.t.observe(self._update, names="value")
        self.digit.observe(self._update, names="value")
        self.values: dict = {}
        self._update()

    def _nearest(self, t: int) -> int:
        return min(self.timesteps, key=lambda s: abs(s - t))

    def picture(self, i: int, n: int) -> np.ndarray:
        """uint8 (H, W, 3): image n's curve of terms with step i marked, and its four pictures."""
        s = self.scenes[i]
        diff = ((s.true_mean[n] - s.model_mean[n]) / s.sigma[n].clamp(min=1e-12)).clamp(-1, 1)
        names = ("x_t", "true mean", "model mean", "diff / sigma")
        tiles = [_render.caption(_render.upscale(_render.grid(x), self.scale), name)
                 for x, name in zip((s.xt[n], s.true_mean[n], s.model_mean[n], diff), names)]
        ts = np.array(self.timesteps, dtype=np.float64)
        curve = _curve_image(ts, self.terms[n].numpy(), i)
        pics = _render.side_by_side(tiles)
        pics = np.pad(pics, ((0, curve.shape[0] - pics.shape[0]), (0, 0), (0, 0)),
                      constant_values=255)
        return _render.side_by_side([curve, pics], gap=10)

    def _update(self, change=None):
        i, n = self.timesteps.index(int(self.t.value)), int(self.digit.value)
        if (i, n) not in self._cache:
            pic = self.picture(i, n)
            self._cache[i, n] = (_render.png_bytes(pic), pic.shape[:2])
        show_png(self.image, *self._cache[i, n])
        s = self.scenes[i]
        term, mean = float(s.term[n]), float(s.term.mean())
        name = "L<sub>0</sub> (the decoder)" if s.t == 1 else f"L<sub>{s.t - 1}</sub>"
        sigma = float(s.sigma[n].mean())
        self.values = {"t": s.t, "image": n, "term": term, "mean_term": mean, "sigma": sigma}
        self.info.value = (f"t = {s.t}: {name} = <b>{term:.4g}</b> bits/dim for this image "
                           f"(mean over the {self.terms.shape[0]} images: {mean:.4g}); "
                           f"σ<sub>t</sub> = {sigma:.4g}")

    def __repr__(self) -> str:
        return f"VLBTermExplorer(t={self.t.value}, image={self.digit.value})"

    @staticmethod
    def static(model, schedule: Schedule, x0: torch.Tensor, timesteps, ts=(1, 2, 10, 100, 1000),
               seed: int = 0, image: int = 0, **p_options):
        """The same pictures without widgets (a matplotlib Figure): one row per t of ``ts`` (the
        nearest computed step) with x_t, μ̃, μ_θ and the term, for image ``image``."""
        from .plots import _imshow, new_figure

        steps = sorted({int(v) for v in timesteps})
        gen = torch.Generator(device=x0.device).manual_seed(seed)
        scenes = vlb_term_scenes(schedule, model, x0, steps, generator=gen, **p_options)
        rows = [scenes[min(range(len(steps)), key=lambda j: abs(steps[j] - t))] for t in ts]
        fig, axes = new_figure((5.4, 1.6 * len(rows)), nrows=len(rows), ncols=3, squeeze=False)
        for row, s in zip(axes, rows):
            for ax, x, name in zip(row, (s.xt, s.true_mean, s.model_mean), ("x_t", "μ̃_t", "μ_θ")):
                _imshow(ax, _render.grid(x[image]), f"{name}, t = {s.t}")
            row[0].set_ylabel(f"{float(s.term[image]):.3g} bits/dim", fontsize=8)
        fig.tight_layout()
        return fig


def _default_ks(T: int) -> list[int]:
    return sorted({k for k in (1, 2, 3, 5, 10, 20, 50, 100, 200, 500) if k < T} | {T})


def fast_estimate_stats(terms: torch.Tensor, prior: torch.Tensor, k: int,
                        always_decoder: bool = False, seed: int = 0,
                        draws: int = 200) -> dict | None:
    """The fast estimator with K = k steps per image, resampled from every image's ``terms``
    [n, T] and ``prior`` [n] (:func:`~ddpm_edu.evaluation.fast_from_terms`), bits/dim:

    ``estimate``, ``half_width``: one estimate (steps drawn with ``seed``) and its 95 % interval
    over images (:func:`~ddpm_edu.evaluation.mean_ci95`); over ``draws`` further draws,
    ``coverage`` (the share of intervals holding the full bound) and ``spread`` (the sd of the
    estimate). None for ``always_decoder`` with k < 2 (no step left to draw).
    """
    from ..evaluation import Z95, fast_from_terms, mean_ci95

    if always_decoder and k < 2:
        return None
    n = prior.numel()
    full = mean_ci95(prior + terms.sum(dim=1))[0]
    g = torch.Generator().manual_seed(seed)
    est, half = mean_ci95(fast_from_terms(terms, prior, k, False, always_decoder, g))
    many = fast_from_terms(terms.repeat(draws, 1), prior.repeat(draws), k, False, always_decoder,
                           g).reshape(draws, n)                                  # (draws, n)
    means = many.mean(dim=1)
    halves = Z95 * many.std(dim=1, correction=1) / math.sqrt(n)
    cover = ((means - halves <= full) & (full <= means + halves)).double().mean().item()
    return {"k": k, "estimate": est, "half_width": half, "coverage": cover,
            "spread": means.std().item()}


class FastEstimatorExplorer(Explorer):
    """The fast estimator's K (steps per image) against its 95 % interval and the full bound.

    ``terms`` [n, T] and ``prior`` [n] are every image's terms, computed once
    (``bpd_full(..., keep_terms=True)``); each K resamples the estimator from them with
    :func:`ddpm_edu.evaluation.fast_from_terms` (no network call): the estimate with its interval
    mean ± 1.96·sd/√n (:func:`~ddpm_edu.evaluation.mean_ci95`), drawn with ``seed``, beside the
    full bound with its own interval; and over ``draws`` redraws, how often the interval holds
    the full bound and how far one estimate spreads. "L_0 always" switches to the stratified
    estimator (``always_decoder=True``, K ≥ 2).

    Attributes: ``k`` (SelectionSlider over ``ks``), ``always_decoder`` (Checkbox), ``image``,
    ``info`` (HTML), ``values``, ``box``.
    """

    css_class = "ddpm-edu-fast-estimator"

    def __init__(self, terms, prior, ks=None, k: int = 5, seed: int = 0, draws: int = 200,
                 always_decoder: bool = False):
        import ipywidgets as W

        from ..evaluation import mean_ci95

        self.terms = torch.as_tensor(terms, dtype=torch.float64)
        self.prior = torch.as_tensor(prior, dtype=torch.float64).flatten()
        T = self.terms.shape[-1]
        self.ks = sorted({int(v) for v in ks}) if ks is not None else _default_ks(T)
        if self.ks[0] < 1 or self.ks[-1] > T:
            raise InvalidArgument(f"ks must be numbers of steps in 1..T = {T}, got {ks!r}.")
        self.seed, self.draws = seed, draws
        self.full = mean_ci95(self.prior + self.terms.sum(dim=1))             # (bound, half-width)
        self.k = W.SelectionSlider(options=self.ks, value=min(self.ks, key=lambda v: abs(v - k)),
                                   description="K", continuous_update=True,
                                   layout=W.Layout(width="420px"))
        self.always_decoder = W.Checkbox(value=always_decoder, indent=False,
                                         description="L_0 always (stratified)")
        self.image, self.info = W.Image(format="png"), W.HTML()
        self._stats: dict = {}
        self._cache: dict = {}
        self._finish(W.VBox([W.HBox([self.k, self.always_decoder]), self.image, self.info]))
        self.k.observe(self._update, names="value")
        self.always_decoder.observe(self._update, names="value")
        self.values: dict = {}
        self._update()

    def stats(self, k: int, always_decoder: bool) -> dict | None:
        """:func:`fast_estimate_stats` for K = k (cached)."""
        key = (k, always_decoder)
        if key not in self._stats:
            self._stats[key] = fast_estimate_stats(self.terms, self.prior, k, always_decoder,
                                                   self.seed, self.draws)
        return self._stats[key]

    def picture(self, k: int, always_decoder: bool, width: int = 620, height: int = 260):
        """uint8 (H, W, 3): each K's seeded estimate ± interval (K = k in red) over log K, and the
        full bound's interval as a band."""
        rows = [s for s in (self.stats(v, always_decoder) for v in self.ks) if s is not None]
        xs = [math.log10(s["k"]) for s in rows]
        lo = min([s["estimate"] - s["half_width"] for s in rows] + [self.full[0] - self.full[1]])
        hi = max([s["estimate"] + s["half_width"] for s in rows] + [self.full[0] + self.full[1]])
        pad, span = 0.05 * (hi - lo or 1.0), max(xs[-1], 0.5)
        p = Panel(width, height, (-0.06 * span, 1.06 * span), (lo - pad, hi + pad),
                  title="estimate +- 95% interval (bits/dim) over K; band: the full bound")
        band = [self.full[0] - self.full[1], self.full[0] + self.full[1]]
        p.polygon([p.x0, p.x1, p.x1, p.x0], [band[0], band[0], band[1], band[1]], COLOURS["pos"])
        p.hline(self.full[0], COLOURS["ink"])
        for x, s in zip(xs, rows):
            colour = COLOURS["red"] if s["k"] == k else COLOURS["p"]
            p.errorbar(x, s["estimate"] - s["half_width"], s["estimate"] + s["half_width"], colour)
            p.marker(x, s["estimate"], colour, r=3)
        p.axes(xticks=[(x, str(s["k"])) for x, s in zip(xs, rows)])
        return p.array()

    def _update(self, change=None):
        k, dec = int(self.k.value), bool(self.always_decoder.value)
        s = self.stats(k, dec)
        if (k, dec) not in self._cache:
            pic = self.picture(k, dec)
            self._cache[k, dec] = (_render.png_bytes(pic), pic.shape[:2])
        show_png(self.image, *self._cache[k, dec])
        full, fh = self.full
        head = f"full bound (all {self.terms.shape[1]} steps): {full:.3f} ± {fh:.3f} bits/dim<br>"
        if s is None:
            self.values = {"k": k, "always_decoder": dec, "full": full}
            self.info.value = head + "K = 1 with L<sub>0</sub> always: no step left to draw (K ≥ 2)"
            return
        self.values = dict(s, always_decoder=dec, full=full, full_half_width=fh)
        self.info.value = head + (
            f"fast, K = {k}: <b>{s['estimate']:.3f} ± {s['half_width']:.3f}</b> bits/dim "
            f"(seed {self.seed}); over {self.draws} redraws the interval holds the full bound "
            f"{100 * s['coverage']:.0f} % of the time, and the estimate spreads by "
            f"{s['spread']:.3f} (sd)")

    def __repr__(self) -> str:
        dec = self.always_decoder.value
        return f"FastEstimatorExplorer(k={self.k.value}, always_decoder={dec})"

    @staticmethod
    def static(terms, prior, ks=None, seed: int = 0):
        """The same numbers without widgets (a matplotlib Figure): each K's estimate ± interval,
        plain and with L_0 always, over the full bound's interval."""
        from ..evaluation import mean_ci95
        from .plots import new_figure

        terms = torch.as_tensor(terms, dtype=torch.float64)
        prior = torch.as_tensor(prior, dtype=torch.float64).flatten()
        ks = sorted({int(v) for v in ks}) if ks is not None else _default_ks(terms.shape[1])
        full = mean_ci95(prior + terms.sum(dim=1))
        fig, ax = new_figure((6.4, 3.2), nrows=1, ncols=1)
        ax.axhspan(full[0] - full[1], full[0] + full[1], color="0.85", label="full bound")
        for dec, shift, name in ((False, 0.97, "plain"), (True, 1.03, "L_0 always")):
            rows = [fast_estimate_stats(terms, prior, k, dec, seed, draws=2) for k in ks]
            rows = [r for r in rows if r is not None]
            ax.errorbar([r["k"] * shift for r in rows], [r["estimate"] for r in rows],
                        yerr=[r["half_width"] for r in rows], fmt="o", capsize=3, label=name)
        ax.set(xscale="log", xlabel="K (steps per image)", ylabel="bits/dim",
               title="fast estimator: estimate ± 95 % interval")
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig
