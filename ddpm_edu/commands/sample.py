"""``ddpm-edu sample``: draw samples from a trained model into a PNG grid or a .npy array."""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from .._choices import DEFAULT_AUTOGUIDANCE, DEFAULT_GUIDANCE
from ..errors import NotWritable, UserError
from . import _common

PNG_MAX = 4096   # a grid of more images is unreadable (and a picture of hundreds of megapixels)
BATCH = 1024     # samples drawn at once: memory is bounded by this, not by --n

HELP = "draw samples from a trained model (the shipped one or your own run) into a .png or .npy"

DESCRIPTION = """\
Generate new examples by running the reverse process from pure noise x_T ~ N(0, I) down to x_0.

Two samplers (both call the network --steps times per sample):
  ddim   DDIM (Song et al. 2020): a shortcut through the chain; --eta 0 is deterministic (the same
         noise x_T always gives the same image), --eta 1 adds DDPM-like noise. 50 steps is plenty.
  ddpm   DDPM's ancestral sampler (Ho et al. 2020, Algorithm 2): noise is added at every step.
         The paper runs all T steps (--steps 1000 for the shipped model); fewer steps use a
         respaced chain and give worse samples than DDIM with the same number of steps.

Output: FILE.png writes the samples as one grid picture; FILE.npy writes the raw pixels as a uint8
array [N, H, W] (greyscale) or [N, H, W, 3] (colour), or float32 points [N, D] for a 2-D model.

examples:
  ddpm-edu sample --checkpoint mnist --n 64 --out digits.png
  ddpm-edu sample --checkpoint mnist --sampler ddpm --steps 1000 --n 16 --out paper.png
  ddpm-edu sample --checkpoint runs/my-first-model --n 16 --seed 1 --out mine.npy
  ddpm-edu sample --checkpoint mnist --steps 10 --out fast.png     # fewer steps: faster, worse
  ddpm-edu sample --checkpoint mnist-cond --digit 3 --guidance 2 --out threes.png
  ddpm-edu sample --checkpoint mnist-cond --digit all --n 30 --out table.png   # 0..9, 3 rows
  ddpm-edu sample --checkpoint mnist --guide mnist-guide --eta 1 --out best.png  # autoguidance

A class-conditional checkpoint (e.g. mnist-cond) takes --digit D: every sample is of class D,
with classifier-free guidance --guidance W (eps = (1+W) eps(x, D) - W eps(x, no label); W = 0 is
the plain conditional model, larger W gives more typical, less varied digits; diffusers calls 1+W
the guidance_scale). --digit all draws every class in turn (sample i is of class i mod K, K = 10
for mnist-cond; the PNG grid is then K wide, one class per column). Without --digit (or with
--digit any) the model samples without a label.

An unconditional checkpoint can be guided by a weaker copy of itself, --guide (autoguidance,
Karras et al. 2024): eps = (1+W) eps_model - W eps_guide with W = --guidance (default 1); the
shipped mnist-guide is the mnist run after 1,000 of its 16,000 steps. Twice the network calls;
with --eta 1 it gives the course's best unconditional digits (data/checkpoints/mnist.md)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="mnist", metavar="NAME|PATH",
                        help="a shipped model by name (mnist), a run folder (runs/NAME) or a "
                             ".safetensors file (default: mnist)")
    parser.add_argument("--n", type=int, default=16, help="number of samples (default 16)")
    parser.add_argument("--sampler", default="ddim", choices=("ddim", "ddpm"),
                        help="ddim (fast, deterministic with --eta 0) or ddpm (the paper's "
                             "ancestral sampler); default ddim")
    parser.add_argument("--steps", type=int, default=50,
                        help="network calls per sample, at most T (default 50)")
    parser.add_argument("--eta", type=float, default=0.0,
                        help="DDIM only: 0 = deterministic, 1 = as noisy as DDPM (default 0)")
    parser.add_argument("--seed", type=_common.seed, default=0,
                        help="seed of the noise: the same seed gives the same samples (default 0)")
    parser.add_argument("--out", required=True, metavar="FILE",
                        help="where to write: FILE.png (a grid picture) or FILE.npy (an array)")
    parser.add_argument("--scale", type=int, default=2,
                        help="PNG only: enlarge each pixel to SCALE×SCALE (default 2)")
    add_condition_arguments(parser)
    add_guide_argument(parser)
    parser.add_argument("--threads", type=_common.threads, default=None,
                        help="CPU threads torch may use")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_condition_arguments(parser: argparse.ArgumentParser) -> None:
    """--digit and --guidance, for class-conditional checkpoints (``sample`` and ``gif``)."""
    parser.add_argument("--digit", default=None, metavar="D",
                        help="class-conditional checkpoints: the class (digit) of every sample, "
                             "0..9 for mnist-cond; 'all' for every class in turn; or 'any' for "
                             "no label (default: any)")
    parser.add_argument("--guidance", type=float, default=None, metavar="W",
                        help="classifier-free guidance weight W >= 0 with --digit (0: the plain "
                             "conditional model; default: the checkpoint's own, else "
                             f"{DEFAULT_GUIDANCE:g})")


def add_guide_argument(parser: argparse.ArgumentParser) -> None:
    """--guide, autoguidance of an unconditional checkpoint (``sample`` and ``eval --quality``)."""
    parser.add_argument("--guide", default=None, metavar="NAME|PATH",
                        help="autoguidance of an unconditional model by a weaker copy of it "
                             "(mnist-guide for mnist): eps = (1+W) eps_model - W eps_guide, "
                             f"W from --guidance (default {DEFAULT_AUTOGUIDANCE:g}); each step "
                             "runs both networks")


def load_guide(model, args):
    """The --guide model, loaded and checked against ``model``, or None."""
    if getattr(args, "guide", None) is None:
        return None
    from ..pretrained import load_pretrained
    guide = load_pretrained(args.guide)
    if model.num_classes or guide.num_classes:
        raise UserError(f"--guide is autoguidance of an unconditional model; "
                        f"{(model if model.num_classes else guide).path} is class-conditional "
                        "(use --digit and --guidance for it, or drop --guide).")
    if tuple(guide.shape) != tuple(model.shape) or guide.schedule.T != model.schedule.T:
        raise UserError(f"--guide {args.guide} makes examples of shape {tuple(guide.shape)} with "
                        f"T = {guide.schedule.T}; {model.path} needs {tuple(model.shape)} and "
                        f"T = {model.schedule.T}: give a weaker copy of the same model "
                        "(mnist-guide for mnist).")
    return guide


def check_guidance_arg(args) -> None:
    """--guidance: a finite W ≥ 0, only with --digit or --guide (checked before any model is
    loaded)."""
    guide = getattr(args, "guide", None)
    if guide is not None and args.digit not in (None, "any"):
        raise UserError("--guide (autoguidance) is for unconditional models and --digit for "
                        "class-conditional ones: drop one of them.")
    if args.guidance is None:
        return
    if not math.isfinite(args.guidance) or args.guidance < 0:
        raise UserError(f"--guidance must be a finite number >= 0 (0: no guidance), got "
                        f"{args.guidance:g}.")
    if guide is None and (args.digit is None or args.digit == "any"):
        raise UserError("--guidance needs --digit D: guidance pushes each sample towards its "
                        "class; add --digit (e.g. --digit 3) or drop --guidance.")


def condition(model, args) -> tuple:
    """(labels, guidance) for ``model.sample`` / the samplers from --digit and --guidance; labels
    is None (no label), a class, or with --digit all the LongTensor [--n] of classes 0, 1, …, K−1,
    0, 1, … (sample i of class i mod K)."""
    if args.digit is None or args.digit == "any":
        return None, 0.0
    k = model.num_classes
    if k == 0:
        raise UserError(f"--digit needs a class-conditional checkpoint (e.g. mnist-cond); "
                        f"{model.path} is unconditional: drop --digit.")
    w = model.default_guidance if args.guidance is None else args.guidance
    if args.digit == "all":
        import torch
        return torch.arange(args.n) % k, w
    try:
        digit = int(args.digit)
    except ValueError:
        digit = -1
    if not 0 <= digit < k:
        raise UserError(f"--digit must be a class 0..{k - 1} of this model, 'all' or 'any'; got "
                        f"{args.digit!r}.")
    return digit, w


def _check(args) -> Path:
    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".npy"):
        raise UserError(f"--out must end in .png (a picture) or .npy (an array), got {args.out!r}.")
    if args.n < 1:
        raise UserError(f"--n must be at least 1, got {args.n}.")
    if args.steps < 1:
        raise UserError(f"--steps must be at least 1, got {args.steps}.")
    if args.eta < 0:
        raise UserError(f"--eta must be ≥ 0 (0: deterministic DDIM, 1: DDPM-like), got {args.eta}.")
    if args.eta != 0 and args.sampler != "ddim":
        raise UserError("--eta belongs to the ddim sampler; drop it, or use --sampler ddim.")
    if not 1 <= args.scale <= 32:
        raise UserError(f"--scale must be between 1 and 32, got {args.scale}.")
    if out.suffix.lower() == ".png":
        _common.at_most("--n", args.n, PNG_MAX, "a bigger grid is not readable as one picture; "
                        "write --out FILE.npy instead")
    check_guidance_arg(args)
    return _common.writable_file(args.out)


def points_png(points, size: int = 256, extent: float = 1.5):
    """2-D points [N, 2] → a white uint8 picture (size, size, 1) with a dark dot per point; the view
    spans [−extent, extent]² (y up)."""
    import numpy as np
    img = np.full((size, size, 1), 255, np.uint8)
    p = np.asarray(points, dtype=np.float64)[:, :2]
    col = np.round((p[:, 0] + extent) / (2 * extent) * (size - 1)).astype(int)
    row = np.round((extent - p[:, 1]) / (2 * extent) * (size - 1)).astype(int)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            r, c = row + dr, col + dc
            ok = (r >= 0) & (r < size) & (c >= 0) & (c < size)
            img[r[ok], c[ok], 0] = 40
    return img


def _check_disk(out: Path, nbytes: int) -> None:
    """Refuse up front when the .npy would not fit on the disk of ``out``."""
    import shutil
    free = shutil.disk_usage(out.parent).free
    if nbytes > free:
        raise NotWritable(f"the samples need {nbytes / 1e9:,.1f} GB in {out}, but only "
                          f"{free / 1e9:,.1f} GB are free on that disk; use a smaller --n or "
                          "another folder.")


def _batches(model, args, cond=(None, 0.0), guide=None):
    """The samples, BATCH at a time, all drawn from one generator seeded with --seed (so up to
    BATCH samples equal ``model.sample(n, seed=seed)``); ``cond`` = (labels, guidance)."""
    import torch
    generator = torch.Generator().manual_seed(args.seed)
    labels, guidance = cond
    for start in range(0, args.n, BATCH):
        b = min(BATCH, args.n - start)
        yield model.sample(b, sampler=args.sampler, steps=args.steps,
                           eta=args.eta, seed=None, generator=generator,
                           progress=not args.no_progress,
                           labels=labels[start:start + b] if torch.is_tensor(labels) else labels,
                           guidance=args.guidance if guide is not None else guidance,
                           guide=guide)                            # (B, C, H, W) or (B, D)


def _as_array(x):
    """Samples → what the .npy holds: uint8 [B, H, W] or [B, H, W, 3]; float32 points [B, D]."""
    from ..pixels import to_pixels
    if x.ndim != 4:
        return x.float().numpy()
    arr = to_pixels(x).permute(0, 2, 3, 1).numpy()                          # (B, H, W, C)
    return arr[..., 0] if arr.shape[-1] == 1 else arr


def _write_npy(model, args, out: Path, cond=(None, 0.0), guide=None) -> None:
    """Write the samples batch by batch into a memory-mapped .npy (memory bounded by BATCH)."""
    import numpy as np

    from .._files import atomic_path
    shape = tuple(model.shape)
    if len(shape) == 3:
        dtype, item = np.uint8, (shape[1:] if shape[0] == 1 else (*shape[1:], shape[0]))
    else:
        dtype, item = np.float32, shape
    _check_disk(out, args.n * int(np.prod(item)) * np.dtype(dtype).itemsize)
    with atomic_path(out) as tmp:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(args.n, *item))
        start = 0
        for x in _batches(model, args, cond, guide):
            arr[start:start + x.shape[0]] = _as_array(x)
            start += x.shape[0]
        arr.flush()
        del arr


def run(args) -> int:
    out = _check(args)
    import torch

    from .._files import atomic_write
    from ..pretrained import load_pretrained

    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_pretrained(args.checkpoint)
    if args.steps > model.schedule.T:
        raise UserError(
            f"--steps must be at most T = {model.schedule.T} for this model, got {args.steps}."
        )
    cond = condition(model, args)                                # (labels, guidance)
    guide = load_guide(model, args)
    images = len(model.shape) == 3
    if out.suffix.lower() == ".npy":
        _write_npy(model, args, out, cond, guide)
    else:
        from ..viz._render import grid, png_bytes, upscale
        x = torch.cat(list(_batches(model, args, cond, guide)))
        nrow = model.num_classes if torch.is_tensor(cond[0]) else None     # one class a column
        picture = (upscale(grid(x, nrow=nrow, pad=2, pad_value=128), args.scale) if images
                   else points_png(x))
        blob = png_bytes(picture)
        atomic_write(out, lambda f: f.write(blob))
    what = f"{args.n} samples" + (f" of {'×'.join(map(str, model.shape))}" if images
                                  else " (points)")
    labels, guidance = cond
    which = (f"digits 0..{model.num_classes - 1} in turn" if torch.is_tensor(labels)
             else f"digit {labels}")
    extra = "" if labels is None else f", {which}, guidance {guidance:g}"
    if guide is not None:
        w = DEFAULT_AUTOGUIDANCE if args.guidance is None else args.guidance
        extra = f", guided by {guide.path.name} with w = {w:g}"
    print(f"wrote {out}: {what} from {model.path} ({args.sampler}, {args.steps} steps, "
          f"seed {args.seed}{extra})")
    return 0
