"""Interactive explorers (ipywidgets 8) for images: the forward noising and the reverse chain.

Every explorer is a small class: ``.box`` is the widget (a VBox) and the explorer displays as it, so
``ForwardExplorer(img)`` as the last line of a cell shows it. Its controls and outputs are
attributes (``.t``, ``.schedule``, ``.image``, ``.info``, …) so tests and notebooks can set
``.value`` and read the result. Pictures are PNG bytes put into an ``ipywidgets.Image`` from
``observe`` callbacks — never printed or plotted from ``interact`` — which renders in JupyterLab and
survives strict nbval. ``.static(...)`` draws the same picture with matplotlib where widgets cannot
render (a PDF, a static HTML export, GitHub's viewer).

The likelihood explorers (KL of two Gaussians, the bucket decoder) are in
:mod:`ddpm_edu.viz.likelihood_widgets`.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..schedules import Schedule
from . import _render
from ..errors import InvalidArgument

__all__ = ["ForwardExplorer", "ChainScrubber"]


class Explorer:
    """Shared behaviour: display as ``self.box``, with a short, deterministic text form.

    Each box carries the CSS class ``ddpm-edu-<name>`` (e.g. ``ddpm-edu-forward``), which the
    real-browser test and custom notebook styles can select on.
    """

    box = None
    css_class = "ddpm-edu-explorer"

    def _finish(self, box):
        box.add_class("ddpm-edu-explorer")
        box.add_class(self.css_class)
        self.box = box

    def _repr_mimebundle_(self, **kwargs):
        data = self.box._repr_mimebundle_(**kwargs)
        data["text/plain"] = repr(
            self
        )  # the widget's own repr holds PNG bytes and changes with them
        return data

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def show_picture(image_widget, picture: np.ndarray) -> None:
    """Put a uint8 (H, W, C) picture into an ``ipywidgets.Image`` as PNG, pinned to its pixel size:
    a flex box would otherwise stretch it, and the browser would blur the pixels."""
    show_png(image_widget, _render.png_bytes(picture), picture.shape[:2])


def show_png(image_widget, png: bytes, size: tuple[int, int]) -> None:
    """Put PNG bytes of ``size`` = (height, width) px into an ``ipywidgets.Image`` (see
    show_picture)."""
    h, w = size
    if image_widget.layout.width != f"{w}px" or image_widget.layout.height != f"{h}px":
        image_widget.layout.width, image_widget.layout.height = f"{w}px", f"{h}px"
    image_widget.value = png


def _fmt(v: float) -> str:
    if math.isinf(v):
        return "∞"
    return f"{v:.4g}"


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><td style='padding-right:1em'>{k}</td><td style='font-family:monospace'>{v}</td></tr>"
        for k, v in rows
    )
    return f"<table>{cells}</table>"


class ForwardExplorer(Explorer):
    """x_t ~ q(x_t | x_0) = N(√ᾱ_t x_0, (1−ᾱ_t) I) for one image, as you move t and switch
    schedules.

    Shows x_0 beside x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε, and ᾱ_t, √ᾱ_t, √(1−ᾱ_t), SNR_t = ᾱ_t/(1−ᾱ_t) and
    log SNR_t. One ε is drawn once (``seed``) and reused for every t, so the slider moves smoothly;
    each picture is still an exact sample of q(x_t | x_0).

    Attributes: ``t`` (IntSlider 0..T), ``schedule`` (Dropdown of names), ``image`` (Image, PNG),
    ``info`` (HTML), ``values`` (dict of the numbers shown), ``box`` (the VBox).
    """

    css_class = "ddpm-edu-forward"

    def __init__(
        self,
        image,
        schedules: dict[str, Schedule] | None = None,
        T: int = 1000,
        t: int = 250,
        seed: int = 0,
        scale: int | None = None,
    ):
        import ipywidgets as W

        from .plots import default_schedules

        self.x0 = _render.load_image(image)  # (1, C, H, W) in [−1, 1]
        self.schedules = dict(schedules) if schedules is not None else default_schedules(T)
        if not self.schedules:
            raise InvalidArgument("schedules is empty: give at least one name → Schedule.")
        self.noise = torch.randn(self.x0.shape, generator=torch.Generator().manual_seed(seed))
        h, w = self.x0.shape[-2:]
        self.scale = scale or _render.auto_scale(h, w, target=160)
        first = next(iter(self.schedules.values()))
        self.t = W.IntSlider(value=min(t, first.T), min=0, max=first.T, description="t",
                             continuous_update=True, layout=W.Layout(width="420px"))
        self.schedule = W.Dropdown(options=list(self.schedules), description="schedule",
                                   layout=W.Layout(width="330px"))
        self.image = W.Image(format="png")
        self.info = W.HTML()
        self._finish(
            W.VBox(
                [
                    W.HBox([self.t, self.schedule]),
                    W.HBox([self.image, self.info], layout=W.Layout(align_items="center")),
                ]
            )
        )
        self.t.observe(self._update, names="value")
        self.schedule.observe(self._on_schedule, names="value")
        self.values: dict = {}
        self._update()

    @torch.no_grad()
    def picture(self, t: int, schedule_name: str) -> np.ndarray:
        """uint8 (H, W, C): x_0 beside x_t for schedule ``schedule_name`` at step t (0 ≤ t ≤ T)."""
        from ..forward import q_sample

        s = self.schedules[schedule_name]
        xt = self.x0 if t == 0 else q_sample(s, self.x0, t, noise=self.noise)
        return _render.upscale(
            _render.side_by_side([_render.grid(self.x0), _render.grid(xt)]), self.scale
        )

    def _on_schedule(self, change=None):
        T = self.schedules[self.schedule.value].T
        if self.t.max != T:
            self.t.max = T  # clamps t if needed (which triggers its own update)
        self._update()

    def _update(self, change=None):
        name, t = self.schedule.value, int(self.t.value)
        s = self.schedules[name]
        ab = float(s.alpha_bar[t])
        snr = math.inf if t == 0 else ab / (1.0 - ab)
        self.values = {"t": t, "schedule": name, "alpha_bar": ab, "sqrt_alpha_bar": math.sqrt(ab),
                       "sqrt_one_minus_alpha_bar": math.sqrt(1.0 - ab), "snr": snr,
                       "log_snr": math.log(snr) if snr > 0 else -math.inf}
        show_picture(self.image, self.picture(t, name))
        v = self.values
        self.info.value = (
            "<b>left</b> x<sub>0</sub>, <b>right</b> x<sub>t</sub> = √ᾱ<sub>t</sub> "
            "x<sub>0</sub> + √(1−ᾱ<sub>t</sub>) ε<br>"
            + _table(
                [
                    ("t", str(t)),
                    ("ᾱ<sub>t</sub>", _fmt(ab)),
                    ("√ᾱ<sub>t</sub> (signal)", _fmt(v["sqrt_alpha_bar"])),
                    ("√(1−ᾱ<sub>t</sub>) (noise)", _fmt(v["sqrt_one_minus_alpha_bar"])),
                    ("SNR<sub>t</sub>", _fmt(snr)),
                    ("log SNR<sub>t</sub>", _fmt(v["log_snr"])),
                ]
            )
        )

    def __repr__(self) -> str:
        return f"ForwardExplorer(t={self.t.value}, schedule={self.schedule.value!r})"

    @staticmethod
    def static(image, ts=(0, 50, 100, 250, 500, 1000), schedules: dict[str, Schedule] | None = None,
               T: int = 1000, seed: int = 0):
        """The same pictures without widgets: one row per schedule, one column per t (same ε as the
        explorer with the same ``seed``). Returns a matplotlib Figure."""
        from ..forward import q_sample
        from .plots import _imshow, default_schedules, new_figure

        x0 = _render.load_image(image)
        schedules = dict(schedules) if schedules else default_schedules(T)
        noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
        fig, axes = new_figure((1.5 * len(ts) + 1.2, 1.7 * len(schedules)), nrows=len(schedules),
                               ncols=len(ts), squeeze=False)
        for row, (name, s) in zip(axes, schedules.items()):
            for ax, t in zip(row, ts):
                if not 0 <= t <= s.T:
                    raise InvalidArgument(f"t = {t} is outside 0..{s.T} of schedule {name!r}.")
                with torch.no_grad():
                    xt = x0 if t == 0 else q_sample(s, x0, t, noise=noise)
                _imshow(ax, _render.grid(xt), f"t={t}, ᾱ={float(s.alpha_bar[t]):.3g}")
            row[0].set_ylabel(name, fontsize=8)
        fig.tight_layout()
        return fig


class ChainScrubber(Explorer):
    """Scrub through a precomputed reverse chain: x_t (left) and the x̂_0 predicted on the way
    (right).

    ``steps``: a list of ``Step(t, x, x0_hat)`` (e.g. ``list(ddim_steps(...))``), from t = T to 0;
    x of shape (N, C, H, W) shows as a grid. ``schedule`` (optional, the original schedule) adds
    ᾱ_t to the read-out. A slider picks the step; the Play button runs it (``interval_ms`` per step)
    in the browser. Pictures are rendered on first view and cached (as PNG bytes).

    Attributes: ``frame`` (IntSlider), ``play`` (Play, linked to ``frame`` in the browser),
    ``image`` (Image, PNG), ``info`` (HTML), ``box``.
    """

    css_class = "ddpm-edu-chain"

    def __init__(self, steps, schedule: Schedule | None = None, nrow: int | None = None,
                 scale: int | None = None, interval_ms: int = 150):
        import ipywidgets as W

        from .frames import step_time

        self.steps = list(steps)
        if not self.steps:
            raise InvalidArgument("steps is empty: pass the list of Steps of a chain, e.g. "
                             "list(ddim_steps(model, schedule, shape=(16, 1, 28, 28))).")
        self.times = [step_time(s) for s in self.steps]
        self.schedule, self.nrow = schedule, nrow
        g = _render.grid(self.steps[0][1], nrow)
        self.scale = scale or _render.auto_scale(*g.shape[:2], target=320)
        n = len(self.steps)
        self.frame = W.IntSlider(value=0, min=0, max=n - 1, description="step",
                                 continuous_update=True, layout=W.Layout(width="420px"))
        self.play = W.Play(value=0, min=0, max=n - 1, step=1, interval=int(interval_ms),
                           description="play")
        self.link = W.jslink((self.play, "value"), (self.frame, "value"))  # runs in the browser
        self.image = W.Image(format="png")
        self.info = W.HTML()
        self._finish(W.VBox([W.HBox([self.play, self.frame]), self.image, self.info]))
        self._cache: dict[int, tuple[bytes, tuple[int, int]]] = {}  # step → (PNG, (height, width))
        self.frame.observe(self._update, names="value")
        self._update()

    def picture(self, i: int) -> np.ndarray:
        """uint8 (H, W, C): step i's x_t beside its x̂_0 (grey before the first prediction)."""
        _, x, x0_hat = self.steps[i]
        return _render.chain_panel(x, x0_hat, nrow=self.nrow, scale=self.scale)

    def _update(self, change=None):
        i = int(self.frame.value)
        if i not in self._cache:
            pic = self.picture(i)
            self._cache[i] = (_render.png_bytes(pic), pic.shape[:2])
        show_png(self.image, *self._cache[i])
        t = self.times[i]
        text = f"step {i} of {len(self.steps) - 1}: <b>t = {t}</b>"
        if self.schedule is not None:
            text += f", ᾱ<sub>t</sub> = {_fmt(float(self.schedule.alpha_bar[t]))}"
        self.info.value = text + (" &nbsp; <b>left</b> x<sub>t</sub>, <b>right</b> x̂<sub>0</sub> "
                                  "(predicted at the previous step)")

    def __repr__(self) -> str:
        return f"ChainScrubber(steps={len(self.steps)}, t={self.times[self.frame.value]})"

    @staticmethod
    def static(steps, n: int = 6, schedule: Schedule | None = None, nrow: int | None = None,
               spacing: str = "angle"):
        """The chain without widgets: ``n`` steps (spaced by ``spacing`` when ``schedule`` is given,
        else evenly by index), x_t on the top row and x̂_0 below. Returns a matplotlib Figure."""
        from .frames import pick_steps, step_time
        from .plots import _imshow, new_figure

        steps = list(steps)
        if schedule is not None:
            chosen = list(pick_steps(steps, schedule, n, spacing))
        else:
            chosen = [
                steps[i] for i in sorted(set(np.linspace(0, len(steps) - 1, n).round().astype(int)))
            ]
        fig, axes = new_figure((1.8 * len(chosen), 3.8), nrows=2, ncols=len(chosen), squeeze=False)
        for j, step in enumerate(chosen):
            _, x, x0_hat = step
            _imshow(axes[0, j], _render.grid(x, nrow), f"t = {step_time(step)}")
            g = (
                _render.grid(x0_hat, nrow)
                if x0_hat is not None
                else np.full_like(_render.grid(x, nrow), 128)
            )
            _imshow(axes[1, j], g)
        axes[0, 0].set_ylabel("x_t")
        axes[1, 0].set_ylabel("x̂_0")
        fig.tight_layout()
        return fig
