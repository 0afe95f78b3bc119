"""Static figures: image grids, schedules side by side, the forward chain as a strip, the L_vlb
terms.

Every function returns a ``matplotlib.figure.Figure`` made without pyplot (so nothing is shown
twice, no global figure list grows, and it works under Agg on a headless machine). In a notebook,
leave the figure as the last expression of a cell (or ``display(fig)``); elsewhere,
``fig.savefig(path)``. matplotlib is imported inside the functions. The bucket-decoder and KL
pictures are in :mod:`ddpm_edu.viz.likelihood_plots`.
"""
from __future__ import annotations

import numpy as np
import torch

from ..schedules import Schedule, cosine_schedule, geometric_schedule, linear_schedule
from . import _render
from ..errors import InvalidArgument

__all__ = ["new_figure", "image_grid", "default_schedules", "schedules_figure", "forward_strip",
           "vlb_terms_figure"]


def new_figure(figsize=(6.4, 4.8), dpi: int = 100, **subplots):
    """A pyplot-free Figure with an Agg canvas; ``subplots`` kwargs (nrows, ncols, …) add axes.

    Returns ``fig`` alone when no ``subplots`` are asked for, else ``(fig, axes)``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    _enable_notebook_display()
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return (fig, fig.subplots(**subplots)) if subplots else fig


def _enable_notebook_display() -> None:
    """In IPython/Jupyter, show a returned Figure as a picture, not as '<Figure size …>' text.

    IPython registers its Figure formatter only when pyplot is imported under the inline backend;
    these figures never touch pyplot, so register the PNG formatter ourselves (once per kernel).
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is None or getattr(ip, "_ddpm_edu_figures", False):
        return
    from IPython.core.pylabtools import select_figure_formats
    select_figure_formats(ip, {"png"}, bbox_inches="tight")
    ip._ddpm_edu_figures = True


def _imshow(ax, picture: np.ndarray, title: str | None = None):
    """Show a uint8 (H, W, C) picture without smoothing (greyscale with a fixed 0..255 grey map)."""
    if picture.shape[2] == 1:
        ax.imshow(picture[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(picture, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=9)


def image_grid(x, nrow: int | None = None, title: str | None = None, ax=None, figsize=None):
    """A batch of images as one grid (floats in [−1, 1], (N, C, H, W); or uint8 (N, H, W, C)).

    Draws into ``ax`` if given, else into a new figure. Returns the Figure.
    """
    picture = _render.grid(x, nrow)
    if ax is None:
        h, w = picture.shape[:2]
        fig, ax = new_figure(
            figsize or (min(8, 1 + 5 * w / max(h, w)), min(8, 1 + 5 * h / max(h, w))),
            nrows=1,
            ncols=1,
        )
    _imshow(ax, picture, title)
    return ax.figure


def default_schedules(T: int = 1000) -> dict[str, Schedule]:
    """The four schedules the course compares: DDPM's linear 1e−4→0.02, improved DDPM's cosine, and
    the seed paper's linear 1e−4→0.2 and geometric 1e−4→0.02 series."""
    return {
        "linear 1e-4→0.02 (DDPM)": linear_schedule(T),
        "cosine (improved DDPM)": cosine_schedule(T),
        "linear 1e-4→0.2": linear_schedule(T, beta_end=0.2),
        "geometric 1e-4→0.02": geometric_schedule(T),
    }


def schedules_figure(
    schedules: dict[str, Schedule] | None = None, T: int = 1000, figsize=(13, 3.6)
):
    """β_t, ᾱ_t and SNR_t = ᾱ_t/(1−ᾱ_t) (log scale) against t, one line per schedule.

    ``schedules``: name → Schedule (default :func:`default_schedules`). The ᾱ_T of each schedule is
    given in the legend: how close it gets to 0 decides whether x_T is really N(0, I).
    """
    schedules = schedules or default_schedules(T)
    fig, (a_beta, a_ab, a_snr) = new_figure(figsize, nrows=1, ncols=3)
    for name, s in schedules.items():
        t = np.arange(1, s.T + 1)
        line, = a_beta.plot(t, s.beta[1:].numpy(), lw=1.5, label=name)
        a_ab.plot(t, s.alpha_bar[1:].numpy(), lw=1.5, color=line.get_color(),
                  label=f"ᾱ_T = {s.alpha_bar[-1].item():.2e}")
        a_snr.plot(t, s.snr[1:].numpy(), lw=1.5, color=line.get_color())
    a_beta.set(title="β_t (noise added at step t)", xlabel="t", yscale="log")
    a_ab.set(title="ᾱ_t = ∏ (1 − β_s) (signal kept)", xlabel="t", ylim=(-0.02, 1.02))
    a_snr.set(title="SNR_t = ᾱ_t / (1 − ᾱ_t)", xlabel="t", yscale="log")
    a_beta.legend(fontsize=7)
    a_ab.legend(fontsize=7)
    for ax in (a_beta, a_ab, a_snr):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


@torch.no_grad()
def forward_strip(x0, schedule: Schedule | None = None, n: int = 8, ts=None, spacing: str = "angle",
                  generator: torch.Generator | None = None, figsize=None):
    """The forward chain x_0 → x_T of one image as a strip of ``n`` panels, titled with t and ᾱ_t.

    One sample path of the Markov chain q(x_t | x_{t−1}) (see
    :func:`ddpm_edu.viz.frames.forward_chain`), shown at ``ts`` (default: ``n`` times spaced by
    ``spacing``, see :mod:`ddpm_edu.viz.frames`). ``x0``: a path, PIL image, uint8 pixels, or a
    float image in [−1, 1].
    """
    from .frames import forward_chain, frame_times

    schedule = schedule or linear_schedule()
    x = _render.load_image(x0)
    ts = sorted(int(t) for t in (ts if ts is not None else frame_times(schedule, n, spacing)))
    if not ts or ts[0] < 0 or ts[-1] > schedule.T:
        raise InvalidArgument(f"ts must be times in 0..{schedule.T}, got {ts}.")
    fig, axes = new_figure(figsize or (1.6 * len(ts), 2.0), nrows=1, ncols=len(ts), squeeze=False)
    for ax, (t, xt) in zip(axes[0], forward_chain(schedule, x, generator=generator, keep=ts)):
        _imshow(ax, _render.grid(xt), f"t = {t}\nᾱ = {schedule.alpha_bar[t].item():.3g}")
    fig.tight_layout()
    return fig


def vlb_terms_figure(terms, ax=None, figsize=(7, 3.6), title: str | None = None):
    """The terms of L_vlb per step t, in bits/dim, on a log scale.

    ``terms``: a :class:`ddpm_edu.losses.VLBTerms` (its [N, T] terms are averaged over the batch,
    NaN columns — steps not evaluated — are skipped, and the prior L_T is drawn as its own point at
    t = T + 1), or a [T] array of per-step terms (column t−1 = the term at step t; t = 1 is the
    decoder L_0). The total is in the title.
    """
    from ..losses import VLBTerms

    prior = None
    if isinstance(terms, VLBTerms):
        per_t = torch.as_tensor(terms.terms, dtype=torch.float64).nanmean(dim=0).numpy()
        prior = float(terms.prior.double().mean())
    else:
        per_t = np.asarray(torch.as_tensor(terms, dtype=torch.float64).cpu()).astype(np.float64)
        if per_t.ndim != 1:
            raise InvalidArgument(
                f"terms must be a VLBTerms or a 1-D array of T per-step terms, got shape "
                f"{per_t.shape}. For a batch, pass the VLBTerms or terms.mean(0)."
            )
    T = per_t.shape[0]
    t = np.arange(1, T + 1)
    ok = np.isfinite(per_t) & (per_t > 0)
    if ax is None:
        fig, ax = new_figure(figsize, nrows=1, ncols=1)
    kl = ok.copy()
    kl[0] = False  # t = 1 is the decoder, drawn on its own
    ax.plot(t[kl], per_t[kl], ".-", ms=3, lw=1,
            label=r"$L_{t-1} = $KL$(q(x_{t-1}|x_t,x_0)\,\|\,p_\theta(x_{t-1}|x_t))$, $t \geq 2$")
    if ok[0]:
        ax.plot([1], [per_t[0]], "s", color="C3", label=f"$L_0$ decoder = {per_t[0]:.3g}")
    if prior is not None and prior > 0:
        ax.plot([T + 1], [prior], "^", color="C2", label=f"$L_T$ prior = {prior:.2g}")
    total = np.nansum(per_t) + (prior or 0.0)
    ax.set(yscale="log", xlabel="t", ylabel="bits/dim",
           title=title or f"terms of L_vlb (total {total:.4g} bits/dim)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax.figure
