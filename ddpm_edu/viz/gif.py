"""GIF export of the forward and reverse chains, with imageio v3 and Pillow only (no ffmpeg).

Frames are chosen where the picture changes (evenly in the angle φ_t = arccos √ᾱ_t by default, see
:mod:`ddpm_edu.viz.frames`), drawn with :func:`ddpm_edu.viz._render.chain_panel` (x_t, and x̂_0
beside it for the reverse chain; a batch becomes a grid), enlarged with nearest-neighbour
upscaling so small images stay crisp, and written as one GIF that loops forever, with an adjustable
frame duration and a longer hold on the last frame.

Colours: greyscale frames are written as 8-bit grey ("L"), exactly; colour frames share one
256-colour palette computed once from all kept frames (quantising each frame separately is ~70×
slower and makes colours flicker between frames).

Memory: the step iterator is consumed as it is produced and only the chosen frames are kept, as
small uint8 arrays: memory grows with ``n_frames``, not with T.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from .._checks import check_schedule
from ..schedules import Schedule, linear_schedule
from . import _render
from .frames import forward_chain, frame_times, pick_steps, step_time
from ..errors import InvalidArgument, InvalidType, MissingFile

__all__ = ["save_gif", "forward_chain_gif", "reverse_chain_gif", "read_gif"]

GIF_TIME_UNIT_MS = 10  # GIF stores delays in hundredths of a second


def _check_ms(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= minimum:
        raise InvalidArgument(
            f"{name} must be a number of milliseconds ≥ {minimum}, got {value!r}. "
            "Browsers slow down GIF delays of 10 ms or less; 40–100 ms per frame is typical."
        )
    return int(round(value / GIF_TIME_UNIT_MS) * GIF_TIME_UNIT_MS)


def _check_chain_args(schedule, scale) -> None:
    """The arguments both chain GIFs share (nrow is checked by the grid)."""
    check_schedule(schedule)
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int) or scale < 1):
        raise InvalidArgument(f"scale must be a positive int (times enlarged) or None, got "
                              f"{scale!r}.")


def _is_grey(frames: list[np.ndarray]) -> bool:
    return all(
        f.shape[2] == 1
        or (np.array_equal(f[..., 0], f[..., 1]) and np.array_equal(f[..., 0], f[..., 2]))
        for f in frames
    )


def _shared_palette(frames: list[np.ndarray], max_pixels: int = 1 << 18):
    """One adaptive 256-colour palette for all frames, from a subsample of their pixels."""
    from PIL import Image

    pix = np.concatenate([f.reshape(-1, 3) for f in frames], axis=0)
    if len(pix) > max_pixels:
        pix = pix[np.linspace(0, len(pix) - 1, max_pixels).astype(np.int64)]
    side = int(np.ceil(np.sqrt(len(pix))))
    mosaic = np.zeros((side * side, 3), np.uint8)
    mosaic[: len(pix)] = pix
    mosaic[len(pix):] = pix[-1]
    return Image.fromarray(mosaic.reshape(side, side, 3)).quantize(
        256, method=Image.Quantize.MEDIANCUT
    )


def save_gif(frames: list[np.ndarray], path, duration_ms: float = 80, hold_ms: float = 1500,
             loop: int = 0) -> Path:
    """Write uint8 frames (each (H, W), (H, W, 1) or (H, W, 3), all the same size) as a GIF.

    ``duration_ms``: time per frame (rounded to 10 ms, GIF's unit; ≥ 20 ms). ``hold_ms``: extra time
    on the last frame, so the finished picture can be seen before the loop restarts. ``loop=0``
    loops forever (n > 0: play n + 1 times). Pillow merges identical consecutive frames into one
    longer frame (the total time is kept). Returns the path.
    """
    import imageio.v3 as iio

    if len(frames) == 0:
        raise InvalidArgument("no frames to write: the chain was empty.")
    frames = [f[..., None] if f.ndim == 2 else f for f in frames]
    shapes = {f.shape for f in frames}
    if len(shapes) > 1 or frames[0].ndim != 3 or frames[0].shape[2] not in (1, 3):
        raise InvalidArgument(f"frames must all have one shape (H, W) or (H, W, 3); got "
                         f"{sorted({tuple(f.shape) for f in frames})}.")
    if any(f.dtype != np.uint8 for f in frames):
        raise InvalidType(
            "frames must be uint8 arrays (0..255); use ddpm_edu.viz._render.grid for tensors."
        )
    d = _check_ms(duration_ms, "duration_ms", 20)
    hold = _check_ms(hold_ms, "hold_ms", 0)
    if isinstance(loop, bool) or not isinstance(loop, int) or loop < 0:
        raise InvalidArgument(
            f"loop must be 0 (forever) or a positive number of repeats, got {loop!r}."
        )
    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise InvalidArgument(f"the output file must end in .gif, got {str(path)!r}.")
    if not path.parent.exists():
        raise MissingFile(f"folder {str(path.parent)!r} does not exist; create it first.")
    durations = [d] * (len(frames) - 1) + [d + hold]
    if _is_grey(frames):
        stack = np.stack([f[..., 0] for f in frames])  # (F, H, W) → written as 8-bit grey
        iio.imwrite(path, stack, extension=".gif", plugin="pillow", is_batch=True,
                    duration=durations, loop=loop, optimize=False)
    else:
        _write_palette_gif(iio, path, frames, durations, loop)
    return path


def _write_palette_gif(iio, path: Path, frames: list[np.ndarray], durations, loop: int) -> None:
    """RGB frames quantised to one shared palette (fast, no flicker), written as a GIF."""
    from PIL import Image

    pal = _shared_palette(frames)
    idx = np.stack([np.asarray(Image.fromarray(f).quantize(palette=pal, dither=Image.Dither.NONE))
                    for f in frames])  # (F, H, W) palette indices
    iio.imwrite(path, idx, extension=".gif", plugin="pillow", mode="P", is_batch=True,
                palette=bytes(pal.getpalette()[:768]), duration=durations, loop=loop,
                optimize=False)


def read_gif(path) -> dict:
    """Read a GIF back: ``frames`` (F, H, W, 3) uint8, ``durations`` (ms per frame), ``loop``,
    ``size`` ((width, height)), ``bytes`` (file size). For tests and for checking an export."""
    import imageio.v3 as iio
    from PIL import Image

    frames = iio.imread(path, index=None, plugin="pillow", mode="RGB")
    with Image.open(path) as im:
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info.get("duration"))
        loop, size = im.info.get("loop"), im.size
    return {"frames": frames, "durations": durations, "loop": loop, "size": size,
            "bytes": Path(path).stat().st_size}


class _Labels:
    """Frame captions: the longest form that fits the width at t = T is used for every frame."""

    def __init__(self, schedule: Schedule, what: str, width: int, enabled: bool = True):
        self.schedule, self.what, self.enabled = schedule, what, enabled
        self.form = _render.fit_text(self._forms(schedule.T), width)

    def _forms(self, t: int) -> list[str]:
        r = self.schedule.sqrt_alpha_bar[t].item()
        return [
            f"t = {t}   sqrt(alpha_bar) = {r:.3f}   {self.what}",
            f"t = {t}   sqrt(alpha_bar) = {r:.3f}",
            f"t = {t}  sqrt(abar) = {r:.2f}",
            f"t={t}",
        ]

    def __call__(self, t: int) -> str | None:
        return self._forms(t)[self.form] if self.enabled else None


@torch.no_grad()
def forward_chain_gif(x0, path, schedule: Schedule | None = None, n_frames: int = 24,
                      spacing: str = "angle", duration_ms: float = 80, hold_ms: float = 1500,
                      scale: int | None = None, nrow: int | None = None,
                      generator: torch.Generator | None = None, label: bool = True) -> Path:
    """Animate the forward chain q(x_t | x_{t−1}) of an image (or a batch, as a grid) from
    t = 0 to T.

    ``x0``: a path, a PIL image, uint8 pixels, or a float tensor in [−1, 1] ((C, H, W) or
    (N, C, H, W)). ``schedule`` defaults to DDPM's linear schedule (T = 1000). One sample path of
    the Markov chain is run for all T steps (cheap: T small updates) and only the ``n_frames``
    frames at :func:`frame_times` are kept. ``scale`` defaults to an integer upscaling that brings
    the picture to about 192 px.
    """
    schedule = linear_schedule() if schedule is None else schedule
    _check_chain_args(schedule, scale)
    x = _render.load_image(x0, keep_batch=True)  # (N, C, H, W) in [−1, 1]
    keep = sorted(frame_times(schedule, n_frames, spacing))
    g = _render.grid(x, nrow)
    k = scale or _render.auto_scale(*g.shape[:2])
    labels = _Labels(schedule, "x_t", g.shape[1] * k, label)
    frames = [_render.chain_panel(xt, nrow=nrow, scale=k, show_x0_hat=False, label=labels(t))
              for t, xt in forward_chain(schedule, x, generator=generator, keep=keep)]
    return save_gif(frames, path, duration_ms, hold_ms)


def reverse_chain_gif(steps: Iterable, path, schedule: Schedule, n_frames: int | None = 24,
                      spacing: str = "angle", duration_ms: float = 80, hold_ms: float = 1500,
                      scale: int | None = None, nrow: int | None = None, show_x0_hat: bool = True,
                      label: bool = True) -> Path:
    """Animate a reverse (sampling) chain: x_t from noise to a sample, with x̂_0 beside it.

    ``steps``: a sampler's generator (or list) of ``Step(t, x, x0_hat)`` from t = T to 0, t in the
    ORIGINAL schedule's indices, x of shape (N, C, H, W) (several samples make a grid per panel).
    ``schedule``: that original schedule (it places the frames; see :mod:`ddpm_edu.viz.frames`).
    ``n_frames``: how many frames to pick (a short chain may give fewer); None: one per step.
    The iterator is consumed lazily; only the chosen frames are kept (as uint8 pictures).
    """
    _check_chain_args(schedule, scale)
    if not isinstance(steps, Iterable):
        raise InvalidType(f"steps must be a sampler's iterator of Steps (e.g. ddim_steps(...)) or "
                          f"a list of them, got {type(steps).__name__}.")
    frames, k, labels = [], scale, None
    for step in pick_steps(steps, schedule, n_frames, spacing):
        _, x, x0_hat = step
        if labels is None:
            g = _render.grid(x, nrow)
            k = k or _render.auto_scale(*g.shape[:2])
            width = (2 * g.shape[1] + 4 if show_x0_hat else g.shape[1]) * k
            labels = _Labels(schedule, "x_t | x0_hat" if show_x0_hat else "x_t", width, label)
        frames.append(_render.chain_panel(x, x0_hat, nrow=nrow, scale=k, show_x0_hat=show_x0_hat,
                                          label=labels(step_time(step))))
    return save_gif(frames, path, duration_ms, hold_ms)
