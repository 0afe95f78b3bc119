"""Pictures of 2-D score fields: the arrows of −ε over the density q(x_t), exact beside learned.

A *field* here is a function ``eps(x, t)``: float64 points x (N, 2) and an int level t → the noise
prediction ε̂(x, t) as float64 (N, 2). The exact ε* of a toy distribution is one (written in the
notebook from the formulas); a trained network becomes one with :func:`eps_field`. The arrows show
−ε̂ = √(1−ᾱ_t)·∇log q(x_t), the score rescaled so that arrows at different t have comparable
lengths (the raw score near the data grows like 1/√(1−ᾱ_t)). ``log_density(x, t)`` (N,) gives the
shading, q(x_t). The interactive version is :class:`ddpm_edu.viz.score_widgets.ScoreFieldExplorer`.

Also here: :func:`relative_field_error`, the error of a learned field where it matters, under
q(x_t), and :func:`points_figure`, samples of a 2-D distribution side by side.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..schedules import Schedule
from .plots import new_figure

__all__ = ["eps_field", "grid_points", "relative_field_error", "arrow_scale", "draw_score_field",
           "score_field_figure", "points_figure"]

LIM = 1.3          # the square [−LIM, LIM]² drawn
ARROWS = 17        # arrows per side
SHADING = 90       # density samples per side
Field = Callable[[torch.Tensor, int], torch.Tensor]


def eps_field(model, dtype: torch.dtype = torch.float32) -> Field:
    """A network ``model(x, t)`` (x (N, 2) of ``dtype``, t a LongTensor [N]) as a field: float64
    points (N, 2) and an int t → ε̂ as float64 (N, 2), without gradients."""
    @torch.no_grad()
    def eps(x: torch.Tensor, t: int) -> torch.Tensor:
        tt = torch.full((x.shape[0],), t, dtype=torch.long)
        return model(x.to(dtype), tt).double()
    return eps


def grid_points(n: int, lim: float = LIM) -> torch.Tensor:
    """The n × n points of a regular grid on [−lim, lim]², float64 (n², 2), x varying slowest."""
    side = torch.linspace(-lim, lim, n, dtype=torch.float64)
    return torch.cartesian_prod(side, side)


@torch.no_grad()
def relative_field_error(eps: Field, exact: Field, schedule: Schedule, sample_x0, t: int,
                         n: int = 2000, seed: int = 5) -> float:
    """E‖ε̂ − ε*‖² / E‖ε*‖² over x_t ~ q(x_t): the share of the exact field that ``eps`` gets
    wrong where the data are. Monte Carlo with n draws: x_0 = ``sample_x0(n, generator)`` (float64
    (n, 2)), then x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε from the same generator, seeded with ``seed``."""
    g = torch.Generator().manual_seed(seed)
    ab = schedule.alpha_bar[t]
    x0 = sample_x0(n, g)
    xt = ab.sqrt() * x0 + (1 - ab).sqrt() * torch.randn(x0.shape, generator=g, dtype=torch.float64)
    want = exact(xt, t)
    return (((eps(xt, t) - want) ** 2).sum(1).mean() / (want ** 2).sum(1).mean()).item()


def arrow_scale(exact: Field, t: int, arrows: int = ARROWS, lim: float = LIM) -> float:
    """quiver's ``scale`` (arrow units per data unit) at which the longest arrow of ``exact`` on
    the grid is 0.3 data units long."""
    return exact(grid_points(arrows, lim), t).norm(dim=1).max().item() / 0.3


def draw_score_field(ax, eps: Field, log_density, t: int, scale: float, lim: float = LIM,
                     arrows: int = ARROWS, shading: int = SHADING) -> None:
    """Shade q(x_t) = exp(``log_density(x, t)``) and draw the arrows of −ε̂ at level t into a
    matplotlib axis, on [−lim, lim]², with quiver's ``scale`` (see :func:`arrow_scale`)."""
    fine = grid_points(shading, lim)
    density = log_density(fine, t).exp().reshape(shading, shading).T     # rows: y, columns: x
    ax.imshow(density.numpy(), origin="lower", extent=(-lim, lim, -lim, lim), cmap="Blues")
    xy = grid_points(arrows, lim)
    e = eps(xy, t)
    ax.quiver(xy[:, 0].numpy(), xy[:, 1].numpy(), -e[:, 0].numpy(), -e[:, 1].numpy(),
              angles="xy", scale_units="xy", scale=scale, width=0.006, color="#c0392b")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_xticks([])
    ax.set_yticks([])


def score_field_figure(schedule: Schedule, fields: dict[str, Field], log_density,
                       ts=(2, 10, 20, 40, 80), title: str | None = None):
    """One row per field (its name labels the row), one column per level t: the arrows of −ε̂
    over q(x_t). Each column shares one arrow scale, set by the first field, so lengths can be
    compared up and down. Returns the Figure."""
    fig, axes = new_figure((2.3 * len(ts), 2.45 * len(fields)), nrows=len(fields), ncols=len(ts),
                           squeeze=False)
    first = next(iter(fields.values()))
    for j, t in enumerate(ts):
        scale = arrow_scale(first, t)
        for i, eps in enumerate(fields.values()):
            draw_score_field(axes[i, j], eps, log_density, t, scale)
        axes[0, j].set_title(f"t = {t}, ᾱ_t = {schedule.alpha_bar[t].item():.3g}", fontsize=9)
    for i, name in enumerate(fields):
        axes[i, 0].set_ylabel(name)
    fig.suptitle(title or "the score field √(1−ᾱ_t)·∇log q(x_t) (arrows) over q(x_t) (shading)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def points_figure(panels: dict[str, torch.Tensor], marks: torch.Tensor | None = None,
                  lim: float = LIM, figsize=None):
    """2-D points side by side, one panel per name → points (N, 2), on [−lim, lim]²; ``marks``
    (K, 2), e.g. the modes of the data, are drawn as red crosses on every panel. Returns the
    Figure."""
    fig, axes = new_figure(figsize or (3.0 * len(panels), 3.2), nrows=1, ncols=len(panels),
                           squeeze=False)
    for ax, (title, x) in zip(axes[0], panels.items()):
        ax.scatter(x[:, 0].numpy(), x[:, 1].numpy(), s=3, alpha=0.5, color="#2c3e50")
        if marks is not None:
            ax.scatter(marks[:, 0].numpy(), marks[:, 1].numpy(), marker="+", s=80, color="#c0392b")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
