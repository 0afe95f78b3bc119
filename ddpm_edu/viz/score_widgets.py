"""An interactive explorer (ipywidgets 8) of a 2-D score field: exact and learned, at any t.

Same pattern as :mod:`ddpm_edu.viz.widgets`: a class whose ``.box`` is the widget, controls and
read-outs as attributes, the picture as PNG bytes in an ``ipywidgets.Image`` updated from an
``observe`` callback, and ``.static(...)`` drawing the same picture as a matplotlib Figure. The
picture is drawn by :func:`ddpm_edu.viz.score_plots.draw_score_field` (matplotlib: a slider move
redraws two panels of arrows, a fraction of a second).
"""
from __future__ import annotations

import io
import math

from ..schedules import Schedule
from .plots import new_figure
from .score_plots import (Field, arrow_scale, draw_score_field, relative_field_error,
                          score_field_figure)
from .widgets import Explorer, show_png

__all__ = ["ScoreFieldExplorer"]


class ScoreFieldExplorer(Explorer):
    """The exact and the learned field of −ε over q(x_t) at the t chosen with a slider, and the
    error of the learned field at that t.

    ``exact``, ``learned``: fields ``eps(x, t)`` (float64 points (N, 2), int t → float64 (N, 2);
    a network becomes one with :func:`~ddpm_edu.viz.score_plots.eps_field`); ``log_density(x, t)``
    (N,): log q(x_t), the shading; ``sample_x0(n, generator)``: n draws of the data (float64
    (n, 2)), for :func:`~ddpm_edu.viz.score_plots.relative_field_error`.

    Attributes: ``t`` (IntSlider 1..T), ``image`` (Image, PNG), ``info`` (HTML), ``values`` (dict
    of the numbers shown), ``box``.
    """

    css_class = "ddpm-edu-score-field"

    def __init__(self, schedule: Schedule, exact: Field, learned: Field, log_density, sample_x0,
                 t: int = 20):
        import ipywidgets as W

        self.schedule, self.exact, self.learned = schedule, exact, learned
        self.log_density, self.sample_x0 = log_density, sample_x0
        self.t = W.IntSlider(value=t, min=1, max=schedule.T, description="t",
                             continuous_update=False, layout=W.Layout(width="420px"))
        self.image = W.Image(format="png")
        self.info = W.HTML()
        self.fig, self.axes = new_figure((6.4, 3.3), nrows=1, ncols=2)
        self.values: dict = {}
        self._finish(W.VBox([self.t, self.image, self.info]))
        self.t.observe(self._update, names="value")
        self._update()

    def _update(self, change=None):
        t = int(self.t.value)
        scale = arrow_scale(self.exact, t)
        for ax, (which, eps) in zip(self.axes, (("exact", self.exact), ("learned", self.learned))):
            ax.clear()
            draw_score_field(ax, eps, self.log_density, t, scale)
            ax.set_title(f"{which}, t = {t}", fontsize=9)
        self.fig.tight_layout()
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png", dpi=100)
        w, h = (self.fig.get_size_inches() * 100).round().astype(int)
        show_png(self.image, buf.getvalue(), (int(h), int(w)))
        ab = self.schedule.alpha_bar[t].item()
        error = relative_field_error(self.learned, self.exact, self.schedule, self.sample_x0, t)
        self.values = {"t": t, "alpha_bar": ab, "error": error}
        self.info.value = (f"t = {t}: ᾱ<sub>t</sub> = {ab:.4g}, √(1−ᾱ<sub>t</sub>) = "
                           f"{math.sqrt(1 - ab):.4g}; relative error of the learned field under "
                           f"q(x<sub>t</sub>): {error:.3f}")

    def __repr__(self) -> str:
        return f"ScoreFieldExplorer(t={self.t.value})"

    @staticmethod
    def static(schedule: Schedule, exact: Field, learned: Field, log_density,
               ts=(2, 10, 20, 40, 80), title: str | None = None):
        """The same pictures without widgets, at several t (a matplotlib Figure): the exact field
        on the top row, the learned one below
        (:func:`~ddpm_edu.viz.score_plots.score_field_figure`)."""
        return score_field_figure(schedule, {"exact  −ε*": exact, "learned  −ε_θ": learned},
                                  log_density, ts, title)
