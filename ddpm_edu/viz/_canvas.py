"""A minimal plotting canvas in Pillow, for widget pictures that must redraw in a few milliseconds.

matplotlib spends 40–150 ms per redraw on text layout alone (tick labels, titles), too slow for a
slider; drawing the same lines and filled areas with Pillow takes a few ms. Text here is ASCII
(Pillow's built-in font); Greek letters and formulas go in the widget's HTML labels instead. The
static fallbacks use matplotlib (:mod:`ddpm_edu.viz.likelihood_plots`), from the same numbers.
"""
from __future__ import annotations

import math

import numpy as np

COLOURS = {"p": (31, 119, 180), "q": (255, 127, 14), "pos": (152, 223, 138), "neg": (255, 152, 150),
           "ink": (0, 0, 0), "grid": (220, 220, 220), "axis": (120, 120, 120), "red": (214, 39, 40),
           "even": (253, 208, 162), "odd": (158, 202, 225)}


def nice_ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """About ``n`` round tick values (steps of 1, 2 or 5 × 10^k) inside [lo, hi]."""
    span = hi - lo
    if not span > 0:
        return np.array([lo])
    raw = span / max(n, 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    ticks = np.arange(first, hi + 1e-9 * span, step)
    return np.round(ticks, max(0, -int(math.floor(math.log10(step)))))


def _fmt_tick(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e4 or abs(v) < 1e-3:
        return f"{v:.0e}"
    return f"{v:.6g}"


class Panel:
    """One plot area of ``width`` × ``height`` px mapping [x0, x1] × [y0, y1] into a framed box."""

    def __init__(
        self, width: int, height: int, xlim, ylim, margin=(46, 10, 18, 22), title: str = ""
    ):
        from PIL import Image, ImageDraw, ImageFont

        self.img = Image.new("RGB", (width, height), (255, 255, 255))
        self.draw = ImageDraw.Draw(self.img)
        self.font = ImageFont.load_default()
        self.left, self.right, self.top, self.bottom = margin
        self.w, self.h = width - self.left - self.right, height - self.top - self.bottom
        (self.x0, self.x1), (self.y0, self.y1) = xlim, ylim
        if title:
            self.draw.text((self.left, 3), title, fill=COLOURS["ink"], font=self.font)

    def px(self, x, y):
        """Data → pixel coordinates (y values are clipped to the box)."""
        x = np.asarray(x, dtype=np.float64)
        y = np.clip(np.asarray(y, dtype=np.float64), self.y0, self.y1)
        u = self.left + (x - self.x0) / (self.x1 - self.x0) * self.w
        v = self.top + (self.y1 - y) / (self.y1 - self.y0) * self.h
        return u, v

    def polygon(self, x, y, fill):
        u, v = self.px(x, y)
        if len(u) >= 3:
            self.draw.polygon(list(zip(u.tolist(), v.tolist())), fill=fill, outline=None)

    def area(self, x, y, fill, base: float = 0.0):
        """Fill between the curve y(x) and the horizontal line at ``base``."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        self.polygon(np.concatenate([x[:1], x, x[-1:]]), np.concatenate([[base], y, [base]]), fill)

    def line(self, x, y, fill, width: int = 2):
        u, v = self.px(x, y)
        self.draw.line(list(zip(u.tolist(), v.tolist())), fill=fill, width=width, joint="curve")

    def hline(self, y: float, fill=COLOURS["axis"]):
        _, v = self.px([self.x0], [y])
        self.draw.line([(self.left, v[0]), (self.left + self.w, v[0])], fill=fill, width=1)

    def vline(self, x: float, fill=COLOURS["grid"]):
        u, _ = self.px([x], [self.y0])
        self.draw.line([(u[0], self.top), (u[0], self.top + self.h)], fill=fill, width=1)

    def text(
        self, x: float, y: float, s: str, fill=COLOURS["ink"], anchor: str = "mb", box: bool = False
    ):
        """Text at data point (x, y); ``box`` paints a white background so it stays readable."""
        u, v = self.px([x], [y])
        xy = (float(u[0]), float(v[0]))
        if box:
            left, t, r, b = self.draw.textbbox(xy, s, font=self.font, anchor=anchor)
            self.draw.rectangle([left - 2, t - 1, r + 2, b + 1], fill=(255, 255, 255))
        self.draw.text(xy, s, fill=fill, font=self.font, anchor=anchor)

    def axes(self, nx: int = 5, ny: int = 5, xticks=None, yticks=None):
        """Frame, ticks and tick labels (drawn last, over the data). ``xticks``/``yticks``: a list
        of (value, label) pairs in place of the automatic round values (e.g. 10^k on a log axis)."""
        d, ink = self.draw, COLOURS["axis"]
        d.rectangle(
            [self.left, self.top, self.left + self.w, self.top + self.h], outline=ink, width=1
        )
        if xticks is None:
            xticks = [(v, _fmt_tick(v)) for v in nice_ticks(self.x0, self.x1, nx)]
        if yticks is None:
            yticks = [(v, _fmt_tick(v)) for v in nice_ticks(self.y0, self.y1, ny)]
        for xt, label in xticks:
            u, _ = self.px([xt], [self.y0])
            d.line([(u[0], self.top + self.h), (u[0], self.top + self.h + 4)], fill=ink, width=1)
            d.text((float(u[0]), self.top + self.h + 5), label, fill=COLOURS["ink"], font=self.font,
                   anchor="mt")
        for yt, label in yticks:
            _, v = self.px([self.x0], [yt])
            d.line([(self.left - 4, v[0]), (self.left, v[0])], fill=ink, width=1)
            d.text((self.left - 6, float(v[0])), label, fill=COLOURS["ink"], font=self.font,
                   anchor="rm")

    def marker(self, x: float, y: float, fill, r: int = 4):
        """A filled dot of radius ``r`` px at data point (x, y)."""
        u, v = self.px([x], [y])
        self.draw.ellipse([u[0] - r, v[0] - r, u[0] + r, v[0] + r], fill=fill)

    def errorbar(self, x: float, lo: float, hi: float, fill, width: int = 2):
        """A vertical bar from ``lo`` to ``hi`` at x, with short caps."""
        u, v = self.px([x, x], [lo, hi])
        self.draw.line([(u[0], v[0]), (u[1], v[1])], fill=fill, width=width)
        for vv in v:
            self.draw.line([(u[0] - 3, vv), (u[0] + 3, vv)], fill=fill, width=width)

    def array(self) -> np.ndarray:
        """The picture as uint8 (H, W, 3)."""
        return np.asarray(self.img)
