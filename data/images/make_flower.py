"""Draw ``flower64.png``, the course's single public-domain image (64×64 RGB), from code alone.

A five-petal flower on a sky-to-grass gradient, drawn with numpy and Pillow: no photograph, no
download. Re-run ``python data/images/make_flower.py`` to regenerate it (bit for bit with the same
Pillow).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SIZE = 64
SUPER = 4  # draw at 4× and downsample, so the edges are smooth at 64×64


def draw_flower(size: int = SIZE) -> Image.Image:
    s = size * SUPER
    # background: sky (top) to grass (bottom), a vertical gradient
    v = np.linspace(0.0, 1.0, s)[:, None, None]
    sky, grass = np.array([135, 190, 235]), np.array([70, 140, 60])
    bg = ((1 - v) * sky + v * grass) * np.ones((1, s, 1))
    img = Image.fromarray(bg.round().astype(np.uint8), "RGB")
    d = ImageDraw.Draw(img)
    cx, cy = s * 0.5, s * 0.42
    # stem and a leaf
    d.line([(cx, cy), (cx, s)], fill=(40, 110, 40), width=3 * SUPER)
    d.ellipse([cx, s * 0.72, cx + s * 0.2, s * 0.8], fill=(50, 130, 50))
    # five petals: ellipses rotated around the centre (drawn as polygons)
    r_out, w = s * 0.3, s * 0.1
    for k in range(5):
        a = 2 * math.pi * k / 5 - math.pi / 2
        pts = []
        for u in np.linspace(0, 2 * math.pi, 48, endpoint=False):
            px, py = (r_out / 2) * (1 + math.cos(u)), w * math.sin(u)  # petal along +x
            pts.append(
                (cx + px * math.cos(a) - py * math.sin(a), cy + px * math.sin(a) + py * math.cos(a))
            )
        d.polygon(pts, fill=(230, 60, 120), outline=(160, 30, 80))
    r_c = s * 0.08
    d.ellipse([cx - r_c, cy - r_c, cx + r_c, cy + r_c], fill=(250, 200, 40), outline=(190, 140, 20))
    return img.resize((size, size), Image.Resampling.LANCZOS)


if __name__ == "__main__":
    out = Path(__file__).with_name("flower64.png")
    draw_flower().save(out, optimize=True)
    print(f"wrote {out}")
