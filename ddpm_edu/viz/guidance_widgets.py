"""An interactive explorer (ipywidgets 8) of classifier-free guidance: the weight w and the digit.

Same pattern as :mod:`ddpm_edu.viz.widgets`: a class whose ``.box`` is the widget, controls and
read-outs as attributes, the picture as PNG bytes in an ``ipywidgets.Image`` updated from
``observe`` callbacks, and ``.static(...)`` drawing the same samples as a matplotlib Figure.
"""
from __future__ import annotations

import torch

from ..errors import InvalidArgument
from ..schedules import Schedule
from . import _render
from .widgets import Explorer, show_png

__all__ = ["GuidanceExplorer"]


def _draw(model, schedule: Schedule, shape, n: int, digit: int, w: float, steps: int,
          seed: int) -> torch.Tensor:
    """n samples [n, *shape] in [−1, 1] of ``digit`` at guidance w: DDIM η = 0 from the noise of
    ``seed`` (the same x_T for every digit and w)."""
    from ..sampling import sample

    return sample(model, schedule, n, shape, steps=steps, seed=seed, labels=digit, guidance=w,
                  progress=False)


def _judge(images: torch.Tensor, labels: torch.Tensor):
    """The digit classifier's verdict (:func:`ddpm_edu.quality.conditional_quality`)."""
    from ..quality import conditional_quality

    return conditional_quality(images, labels)


class GuidanceExplorer(Explorer):
    """Samples of one requested digit as you move the guidance weight w and pick the digit.

    Every view draws ``n`` digits with DDIM (``steps`` steps, η = 0) from the same noise x_T
    (``seed``), so moving w shows what guidance does to the same starting points. Below the
    picture: the share of the digits that the project's classifier reads as the requested digit,
    and their **diversity** (within-class feature variance relative to real test digits', see
    :func:`ddpm_edu.quality.conditional_quality`; 1 = as varied as real digits). Each (digit, w)
    pair is sampled on its first view (``steps`` network calls on the doubled batch) and cached.

    ``model(x_t, t, y)``: a class-conditional network (or ``PretrainedModel.eps``); ``schedule``
    its training schedule; ``shape`` one sample's shape, e.g. (1, 28, 28). ``judge(images,
    labels)`` returns an object with ``accuracy`` and ``diversity`` (default: the digit
    classifier). Attributes: ``w`` (SelectionSlider over ``ws``), ``digit`` (Dropdown), ``image``
    (Image, PNG), ``info`` (HTML), ``values`` (digit, w, samples, accuracy, diversity), ``box``.
    """

    css_class = "ddpm-edu-guidance"

    def __init__(self, model, schedule: Schedule, shape=(1, 28, 28), n: int = 16,
                 ws=(0.0, 1.0, 2.0, 3.0, 5.0), w: float = 1.0, digit: int = 7, steps: int = 10,
                 seed: int = 0, nrow: int = 8, scale: int = 2, judge=None, num_classes: int = 10):
        import ipywidgets as W

        self.ws = sorted({float(v) for v in ws})
        if float(w) not in self.ws or digit not in range(num_classes):
            raise InvalidArgument(f"the first view (w={w}, digit={digit}) must have w among ws "
                                  f"{self.ws} and a digit in 0..{num_classes - 1}.")
        if n < 2:
            raise InvalidArgument(f"n must be at least 2 (diversity is a variance), got {n}.")
        self.model, self.schedule, self.shape = model, schedule, tuple(shape)
        self.n, self.steps_, self.seed, self.nrow, self.scale = n, steps, seed, nrow, scale
        self.judge = judge or _judge
        self.w = W.SelectionSlider(options=self.ws, value=float(w), description="guidance w",
                                   continuous_update=False, layout=W.Layout(width="360px"))
        self.digit = W.Dropdown(options=list(range(num_classes)), value=digit,
                                description="digit", layout=W.Layout(width="160px"))
        self.image, self.info = W.Image(format="png"), W.HTML()
        self._cache: dict = {}
        self.values: dict = {}
        self._finish(W.VBox([W.HBox([self.digit, self.w]), self.image, self.info]))
        self.w.observe(self._update, names="value")
        self.digit.observe(self._update, names="value")
        self._update()

    def _update(self, change=None):
        key = (int(self.digit.value), float(self.w.value))
        if key not in self._cache:
            x = _draw(self.model, self.schedule, self.shape, self.n, *key, self.steps_, self.seed)
            verdict = self.judge(x, torch.full((self.n,), key[0], dtype=torch.long))
            pic = _render.upscale(_render.grid(x, self.nrow), self.scale)
            self._cache[key] = (_render.png_bytes(pic), pic.shape[:2], x,
                                float(verdict.accuracy), float(verdict.diversity))
        png, size, x, accuracy, diversity = self._cache[key]
        show_png(self.image, png, size)
        digit, w = key
        self.values = {"digit": digit, "w": w, "samples": x, "accuracy": accuracy,
                       "diversity": diversity}
        self.info.value = (f"<b>digit {digit}, w = {w:g}</b> (diffusers' guidance_scale "
                           f"{1 + w:g}), {self.n} samples, DDIM {self.steps_} steps<br>"
                           f"read as a {digit}: <b>{100 * accuracy:.0f} %</b> &nbsp; "
                           f"diversity: <b>{diversity:.2f}</b> × real digits'")

    def __repr__(self) -> str:
        return f"GuidanceExplorer(digit={self.digit.value}, w={self.w.value:g})"

    @staticmethod
    def static(model, schedule: Schedule, shape=(1, 28, 28), digit: int = 7,
               ws=(0.0, 1.0, 3.0, 5.0), n: int = 8, steps: int = 10, seed: int = 0):
        """The same samples without widgets (a matplotlib Figure): one row of ``n`` digits per w,
        all from the noise of ``seed``."""
        from .plots import _imshow, new_figure

        fig, axes = new_figure((0.5 * n + 0.5, 0.9 * len(ws)), nrows=len(ws), squeeze=False)
        for (ax,), w in zip(axes, ws):
            x = _draw(model, schedule, shape, n, digit, float(w), steps, seed)
            _imshow(ax, _render.grid(x, n), f"digit {digit}, w = {float(w):g}")
        fig.tight_layout()
        return fig
