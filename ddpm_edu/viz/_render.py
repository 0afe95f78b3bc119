"""Images as arrays: model-range tensors → uint8 grids, nearest-neighbour upscaling, PNG bytes.

Shared by the plots, the GIF writer and the widgets, so that a frame of a GIF, a widget picture and
a figure panel show the same pixels. Conventions:

- float input (torch or numpy) is in the model range [−1, 1] and channel-first: (H, W), (C, H, W)
  or (N, C, H, W) with C ∈ {1, 3}; it becomes pixels with :func:`ddpm_edu.pixels.to_pixels`.
- uint8 input is already pixels and channel-last, as Pillow and imageio give them: (H, W),
  (H, W, C) or (N, H, W, C).
- every function here returns uint8 arrays of shape (H, W, C), C ∈ {1, 3}.
"""
from __future__ import annotations

import io
import math

import numpy as np
import torch

from ..pixels import to_pixels
from ..errors import InvalidArgument, InvalidType, MissingFile


def to_uint8_batch(x) -> np.ndarray:
    """Images → uint8 array (N, H, W, C), C ∈ {1, 3} (see the module docstring for the inputs)."""
    if getattr(x, "dtype", None) in (np.uint8, torch.uint8):
        a = np.asarray(x.cpu() if isinstance(x, torch.Tensor) else x)
        if a.ndim == 2:
            a = a[None, :, :, None]
        elif a.ndim == 3:
            a = a[None] if a.shape[-1] in (1, 3, 4) else a[..., None]
        if a.ndim != 4 or a.shape[-1] not in (1, 3, 4):
            raise InvalidArgument(
                f"uint8 images must be (H, W), (H, W, C) or (N, H, W, C) with C in "
                f"{{1, 3}}, got shape {tuple(np.asarray(x).shape)}."
            )
        return np.ascontiguousarray(a[..., :3])
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    if not x.is_floating_point():
        raise InvalidType(f"images must be floats in [-1, 1] (channel-first) or uint8 pixels "
                        f"(channel-last), got dtype {x.dtype}.")
    x = x.detach().cpu()
    if x.ndim == 2:
        x = x[None, None]
    elif x.ndim == 3:
        if x.shape[0] not in (1, 3):
            raise InvalidArgument(f"a 3-D float image must be (C, H, W) with C = 1 or 3, got shape "
                             f"{tuple(x.shape)}. For a batch of greyscale images add a channel "
                             "axis: x[:, None].")
        x = x[None]
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise InvalidArgument(
            f"float images must be (H, W), (C, H, W) or (N, C, H, W) with C = 1 or 3, "
            f"got shape {tuple(x.shape)}."
        )
    return to_pixels(x).permute(0, 2, 3, 1).contiguous().numpy()


def grid(x, nrow: int | None = None, pad: int = 1, pad_value: int = 255) -> np.ndarray:
    """Tile a batch into one uint8 picture (H', W', C); ``nrow`` images per row (default ≈ √N)."""
    a = to_uint8_batch(x)
    n, h, w, c = a.shape
    if nrow is not None and (isinstance(nrow, bool) or not isinstance(nrow, int) or nrow < 1):
        raise InvalidArgument(f"nrow must be a positive number of images per row, got {nrow!r}.")
    if n == 1:
        return a[0]
    nrow = min(nrow or math.ceil(math.sqrt(n)), n)
    rows = math.ceil(n / nrow)
    out = np.full(
        (rows * h + (rows - 1) * pad, nrow * w + (nrow - 1) * pad, c), pad_value, np.uint8
    )
    for i in range(n):
        r, q = divmod(i, nrow)
        out[r * (h + pad): r * (h + pad) + h, q * (w + pad): q * (w + pad) + w] = a[i]
    return out


def upscale(a: np.ndarray, k: int) -> np.ndarray:
    """Nearest-neighbour upscaling by an integer factor k (each pixel becomes a k×k block)."""
    if k == 1:
        return a
    return np.repeat(np.repeat(a, k, axis=0), k, axis=1)


def auto_scale(height: int, width: int, target: int = 192, max_scale: int = 8) -> int:
    """Integer factor that brings the larger side of a small picture up to about ``target`` px."""
    return int(max(1, min(max_scale, target // max(height, width, 1))))


def side_by_side(panels: list[np.ndarray], gap: int = 4, value: int = 255) -> np.ndarray:
    """Concatenate equal-height uint8 pictures (H, W_i, C) left to right with a ``gap``-px strip."""
    c = max(p.shape[2] for p in panels)
    panels = [np.repeat(p, 3, axis=2) if p.shape[2] != c else p for p in panels]
    h = panels[0].shape[0]
    if any(p.shape[0] != h for p in panels):
        raise InvalidArgument(
            f"panels must have equal heights, got {[p.shape[0] for p in panels]}."
        )
    out = [panels[0]]
    for p in panels[1:]:
        out += [np.full((h, gap, c), value, np.uint8), p]
    return np.concatenate(out, axis=1)


def stack(panels: list[np.ndarray], gap: int = 6, value: int = 255) -> np.ndarray:
    """Stack uint8 pictures (H_i, W_i, C) top to bottom, left-aligned, padded to the widest."""
    c = max(p.shape[2] for p in panels)
    panels = [np.repeat(p, 3, axis=2) if p.shape[2] != c else p for p in panels]
    w = max(p.shape[1] for p in panels)
    out = []
    for i, p in enumerate(panels):
        if i:
            out.append(np.full((gap, w, c), value, np.uint8))
        out.append(np.pad(p, ((0, 0), (0, w - p.shape[1]), (0, 0)), constant_values=value))
    return np.concatenate(out, axis=0)


def fit_text(options: list[str], width: int) -> int:
    """Index of the first text in ``options`` (longest first) that fits ``width`` px in
    :func:`caption`."""
    from PIL import Image, ImageDraw, ImageFont

    font, draw = ImageFont.load_default(), ImageDraw.Draw(Image.new("L", (1, 1)))
    return next((i for i, s in enumerate(options) if draw.textlength(s, font=font) <= width - 4),
                len(options) - 1)


def caption(a: np.ndarray, text: str, height: int = 14, value: int = 255) -> np.ndarray:
    """Add a strip of ``height`` px above ``a`` with ``text`` in black (Pillow's own font,
    ASCII)."""
    from PIL import Image, ImageDraw, ImageFont

    grey = a.shape[2] == 1
    strip = Image.new("L" if grey else "RGB", (a.shape[1], height), value if grey else (value,) * 3)
    ImageDraw.Draw(strip).text(
        (2, 1), text, fill=0 if grey else (0, 0, 0), font=ImageFont.load_default()
    )
    s = np.asarray(strip)
    s = s[..., None] if s.ndim == 2 else s
    return np.concatenate([s, a], axis=0)


def chain_panel(x, x0_hat=None, nrow: int | None = None, scale: int = 1, show_x0_hat: bool = True,
                label: str | None = None) -> np.ndarray:
    """The picture of one step of a chain: the grid of x_t, and beside it the grid of x̂_0.

    ``x0_hat`` None (the first step, pure noise, before any prediction) draws a mid-grey panel.
    Returns uint8 (H, W, C), upscaled by ``scale`` (nearest neighbour), with ``label`` on top.
    """
    left = grid(x, nrow)
    panels = [left]
    if show_x0_hat:
        right = grid(x0_hat, nrow) if x0_hat is not None else np.full_like(left, 128)
        panels.append(right)
    a = upscale(side_by_side(panels) if len(panels) > 1 else left, scale)
    return caption(a, label) if label else a


def png_bytes(a: np.ndarray, compress_level: int = 1) -> bytes:
    """uint8 (H, W, C) → PNG bytes (mode "L" for one channel); level 1 favours speed over size."""
    from PIL import Image

    img = Image.fromarray(a[..., 0] if a.ndim == 3 and a.shape[2] == 1 else a)
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def figure_png(fig, compress_level: int = 1) -> bytes:
    """Render a matplotlib Figure with Agg and return PNG bytes (faster than ``savefig``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]
    return png_bytes(np.ascontiguousarray(rgb), compress_level)


def load_image(image, size: int | None = None, keep_batch: bool = False) -> torch.Tensor:
    """An image as a model-range tensor (1, C, H, W): from a path, a PIL image, uint8 pixels
    (H, W[, C]) or a float tensor already in [−1, 1]. ``size`` resizes (Lanczos) so the larger side
    is ``size``. ``keep_batch`` keeps every image of an (N, C, H, W) float tensor instead of the
    first."""
    from ..pixels import to_model_range

    if isinstance(image, torch.Tensor) and image.is_floating_point():
        x = image.detach().float()
        x = x[None, None] if x.ndim == 2 else x[None] if x.ndim == 3 else x
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            raise InvalidArgument(
                f"a float image must be (H, W), (C, H, W) or (N, C, H, W) with C = 1 or "
                f"3, got shape {tuple(image.shape)}."
            )
        if x.min() < -1.001 or x.max() > 1.001:
            raise InvalidArgument(
                f"a float image must lie in [-1, 1], got [{x.min():.3g}, {x.max():.3g}]. "
                "Map 8-bit pixels with ddpm_edu.to_model_range."
            )
        return x if keep_batch else x[:1]
    from PIL import Image

    if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__"):
        try:
            with Image.open(image) as im:
                image = im.convert("L" if im.mode in ("L", "LA", "I", "I;16", "1") else "RGB")
        except FileNotFoundError:
            raise MissingFile(f"image file {str(image)!r} not found; give the path to a PNG "
                                    "or JPEG, e.g. data/images/flower64.png.") from None
        except IsADirectoryError:
            raise InvalidArgument(f"{str(image)!r} is a folder; give the path of one image file "
                                  "(PNG or JPEG).") from None
        except (OSError, ValueError) as e:  # PIL's UnidentifiedImageError is an OSError
            raise InvalidArgument(f"{str(image)!r} is not an image PIL can read "
                                  f"({type(e).__name__}); give a PNG or JPEG file.") from None
    if size is not None and not isinstance(image, Image.Image):
        a = to_uint8_batch(image)[0]
        image = Image.fromarray(a[..., 0] if a.shape[2] == 1 else a)
    if isinstance(image, Image.Image):
        if image.mode not in ("L", "RGB"):
            image = image.convert("RGB")
        if size is not None:
            w, h = image.size
            f = size / max(w, h)
            image = image.resize(
                (max(1, round(w * f)), max(1, round(h * f))), Image.Resampling.LANCZOS
            )
        image = np.asarray(image)
    a = to_uint8_batch(image)[:1]  # (1, H, W, C)
    return to_model_range(torch.from_numpy(a.copy()).permute(0, 3, 1, 2).contiguous())
