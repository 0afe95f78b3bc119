"""An interactive explorer (ipywidgets 8) of DDIM's two knobs: the number of steps and η.

Same pattern as :mod:`ddpm_edu.viz.widgets`: a class whose ``.box`` is the widget, controls and
read-outs as attributes, the picture as PNG bytes in an ``ipywidgets.Image`` updated from
``observe`` callbacks, and ``.static(...)`` drawing the same samples as a matplotlib Figure.
"""
from __future__ import annotations

import numpy as np
import torch

from ..errors import InvalidArgument
from ..schedules import Schedule
from . import _render
from .widgets import Explorer, show_png

__all__ = ["DDIMExplorer"]


def _run(model, schedule: Schedule, x_T: torch.Tensor, steps: int, eta: float, seed: int) -> list:
    """One DDIM chain from ``x_T`` (its Steps); η > 0 draws its noise from a generator seeded with
    ``seed``, so every (steps, η) pair starts from the same noise and the same draws."""
    from ..sampling import ddim_steps

    g = torch.Generator(device=x_T.device).manual_seed(seed)
    with torch.no_grad():
        return list(ddim_steps(model, schedule, x_T, steps=steps, eta=eta, generator=g))


def _kept_frames(chain: list, most: int) -> list:
    """At most ``most`` steps of a chain, evenly by index, keeping the first (x_T) and last
    (x_0)."""
    idx = sorted(set(np.linspace(0, len(chain) - 1, min(most, len(chain))).round().astype(int)))
    return [chain[i] for i in idx]


class DDIMExplorer(Explorer):
    """DDIM samples from the same noise x_T as you change the number of steps S and η.

    The top picture is the grid of samples x_0; below it, the chain of the first sample at the
    kept steps τ_S > … > τ_1 > 0 (at most ``frames`` of them). With η = 0 the sampler is a fixed
    map of x_T: changing S moves the digits only a little; η > 0 adds fresh noise at every step
    (seeded with ``seed``, the same for every pair). Each (S, η) pair is sampled on its first view
    (S network calls for the batch) and cached.

    ``model(x_t, t)`` predicts ε̂; ``x_T`` [N, C, H, W]. Attributes: ``steps``, ``eta``
    (SelectionSliders over ``step_options`` and ``etas``), ``image`` (Image, PNG), ``info`` (HTML),
    ``values`` (the kept steps and the samples of the pair shown), ``box``.
    """

    css_class = "ddpm-edu-ddim"

    def __init__(
        self,
        model,
        schedule: Schedule,
        x_T: torch.Tensor,
        step_options=(2, 5, 10, 20, 50),
        etas=(0.0, 0.5, 1.0),
        steps: int = 10,
        eta: float = 0.0,
        seed: int = 0,
        nrow: int | None = None,
        frames: int = 11,
        scale: int = 2,
    ):
        import ipywidgets as W

        self.step_options = sorted({int(s) for s in step_options})
        self.etas = sorted({float(e) for e in etas})
        if steps not in self.step_options or float(eta) not in self.etas:
            raise InvalidArgument(f"the first view (steps={steps}, eta={eta}) must be among "
                                  f"step_options {self.step_options} and etas {self.etas}.")
        self.model, self.schedule, self.x_T, self.seed = model, schedule, x_T, seed
        self.nrow, self.frames, self.scale = nrow or x_T.shape[0], frames, scale
        self.steps = W.SelectionSlider(options=self.step_options, value=steps, description="steps",
                                       continuous_update=False, layout=W.Layout(width="360px"))
        self.eta = W.SelectionSlider(options=self.etas, value=float(eta), description="η",
                                     continuous_update=False, layout=W.Layout(width="300px"))
        self.image, self.info = W.Image(format="png"), W.HTML()
        self._cache: dict = {}
        self._finish(W.VBox([W.HBox([self.steps, self.eta]), self.image, self.info]))
        self.steps.observe(self._update, names="value")
        self.eta.observe(self._update, names="value")
        self.values: dict = {}
        self._update()

    def picture(self, chain: list) -> np.ndarray:
        """uint8 (H, W, C): the grid of samples, and below it sample 0's x_t at the kept steps."""
        from .frames import step_time

        samples = chain[-1].x.clamp(-1, 1)
        top = _render.caption(_render.upscale(_render.grid(samples, self.nrow), self.scale),
                              "samples x_0")
        strip = [_render.caption(_render.upscale(_render.grid(s.x[0].clamp(-1, 1)), self.scale),
                                 f"t={step_time(s)}") for s in _kept_frames(chain, self.frames)]
        return _render.stack([top, _render.side_by_side(strip, gap=2)])

    def _update(self, change=None):
        from .frames import step_time

        key = (int(self.steps.value), float(self.eta.value))
        if key not in self._cache:
            chain = _run(self.model, self.schedule, self.x_T, *key, self.seed)
            pic = self.picture(chain)
            self._cache[key] = (_render.png_bytes(pic), pic.shape[:2],
                                [step_time(s) for s in chain], chain[-1].x.clamp(-1, 1))
        png, size, times, samples = self._cache[key]
        show_png(self.image, png, size)
        S, eta = key
        self.values = {"steps": S, "eta": eta, "kept": times[:-1], "samples": samples}
        kind = "deterministic: x_T alone fixes the digits" if eta == 0 else \
            "fresh noise at every step but the last"
        self.info.value = (f"<b>{S} steps</b> ({S} network calls per digit), <b>η = {eta:g}</b> "
                           f"({kind})<br>kept steps τ: {', '.join(map(str, times[:-1]))} → 0")

    def __repr__(self) -> str:
        return f"DDIMExplorer(steps={self.steps.value}, eta={self.eta.value:g})"

    @staticmethod
    def static(model, schedule: Schedule, x_T: torch.Tensor, step_options=(2, 5, 10, 20, 50),
               etas=(0.0, 1.0), seed: int = 0, nrow: int | None = None):
        """The same samples without widgets (a matplotlib Figure): one panel per (η, steps) pair,
        rows η, columns steps, all from ``x_T`` (and the same ``seed`` as the explorer)."""
        from .plots import _imshow, new_figure

        fig, axes = new_figure((2.2 * len(step_options), 1.4 * len(etas)), nrows=len(etas),
                               ncols=len(step_options), squeeze=False)
        for row, eta in zip(axes, etas):
            for ax, S in zip(row, step_options):
                chain = _run(model, schedule, x_T, S, eta, seed)
                _imshow(ax, _render.grid(chain[-1].x.clamp(-1, 1), nrow), f"{S} steps, η = {eta:g}")
        fig.tight_layout()
        return fig
