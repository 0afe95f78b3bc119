"""``ddpm-edu gif``: animate the reverse chain of a trained model, or the forward noising of an
image."""

from __future__ import annotations

from pathlib import Path

from ..errors import UserError
from . import _common
from .sample import (add_condition_arguments, add_guide_argument, check_guidance_arg, condition,
                     load_guide)

HELP = "Animate a model's sampling chain (or an image's forward noising) as a looping GIF."
DESCRIPTION = """Write a looping GIF (no ffmpeg needed).

Reverse chain (default): sample --n images from a checkpoint and show x_t (left) beside the
prediction x0_hat (right) as noise turns into samples:
  ddpm-edu gif --checkpoint mnist --out chain.gif
A class-conditional checkpoint animates samples of one class, with classifier-free guidance:
  ddpm-edu gif --checkpoint mnist-cond --digit 7 --guidance 2 --out sevens.gif
An unconditional one can be guided by a weaker copy of itself (autoguidance, chapter 11):
  ddpm-edu gif --checkpoint mnist --guide mnist-guide --out guided.gif
Forward chain: noise an image step by step with q(x_t | x_{t-1}):
  ddpm-edu gif --forward --image data/images/flower64.png --out forward.gif

Frames are spread evenly in the angle arccos(sqrt(alpha_bar_t)) by default (--spacing), so the
animation spends its frames where the picture changes, not on pure noise."""

# the choices of ddpm_edu.viz.frames.SPACINGS, written out so that --help does not import torch
SPACINGS = ("angle", "sqrt_alpha_bar", "log_snr", "t")


def add_arguments(p) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--checkpoint", metavar="NAME", help="pretrained name (e.g. 'mnist') or checkpoint path"
    )
    src.add_argument(
        "--forward", action="store_true", help="animate the forward noising of --image instead"
    )
    p.add_argument("--out", required=True, metavar="FILE.gif", help="output GIF file")
    p.add_argument(
        "--image",
        metavar="PATH",
        help="image to noise (with --forward), e.g. data/images/flower64.png",
    )
    p.add_argument(
        "--n", type=int, default=16, help="samples per frame, shown as a grid (default 16)"
    )
    p.add_argument(
        "--sampler", choices=("ddim", "ddpm"), default="ddim", help="sampler (default ddim)"
    )
    p.add_argument("--steps", type=int, default=50,
                   help="sampling steps (default 50; for ddpm, the model's T runs the full chain)")
    p.add_argument(
        "--eta",
        type=float,
        default=0.0,
        help="DDIM noise: 0 deterministic, 1 DDPM-like (default 0)",
    )
    p.add_argument("--seed", type=_common.seed, default=0, help="random seed (default 0)")
    p.add_argument("--frames", type=int, default=24, help="frames to keep (default 24)")
    p.add_argument(
        "--spacing", choices=SPACINGS, default="angle", help="how frames are spread over t"
    )
    p.add_argument(
        "--duration", type=float, default=80, metavar="MS", help="ms per frame (default 80)"
    )
    p.add_argument("--hold", type=float, default=1500, metavar="MS",
                   help="extra ms on the last frame (default 1500)")
    p.add_argument(
        "--scale", type=int, default=None, help="integer upscaling (default: to about 192 px)"
    )
    p.add_argument("--no-x0", action="store_true", help="reverse chain: hide the x0_hat panel")
    add_condition_arguments(p)
    add_guide_argument(p)
    p.add_argument("--schedule", choices=("linear", "cosine"), default="linear",
                   help="forward chain: noise schedule (default DDPM's linear)")
    p.add_argument(
        "--T", type=int, default=1000, help="forward chain: number of steps (default 1000)"
    )
    p.add_argument(
        "--size", type=int, default=None, help="forward chain: resize the image to SIZE px first"
    )


def _check_out(out: str) -> Path:
    path = Path(out)
    if path.suffix.lower() != ".gif":
        raise UserError(f"--out must name a .gif file, got {out!r}.")
    if not path.parent.exists():
        raise UserError(
            f"the folder of --out, {str(path.parent)!r}, does not exist; create it first."
        )
    return _common.writable_file(out)


def _image_shape(pre) -> tuple[int, int, int]:
    """(C, H, W) of one sample of a pretrained model (its ``shape``)."""
    shape = tuple(int(d) for d in getattr(pre, "shape", ()) or ())
    if len(shape) != 3:
        raise UserError(f"this model makes examples of shape {shape} (2-D points?), not images: "
                        "'ddpm-edu gif' animates image models only.")
    return shape


def _positive(v, name):
    if v is not None and v < 1:
        raise UserError(f"{name} must be a positive integer, got {v}.")


# the most each option may ask for, and why (beyond it the GIF is unwatchable or memory runs out)
LIMITS = {"n": (400, "samples in one grid"), "frames": (1000, "frames in one GIF"),
          "scale": (32, "times enlarged"), "T": (100_000, "steps of a noise schedule"),
          "size": (1024, "pixels: the forward chain of a bigger image does not fit in memory")}


def _milliseconds(value: float, name: str, lowest: float) -> None:
    if not lowest <= value <= 60_000:  # also refuses NaN
        raise UserError(f"{name} must be between {lowest:g} and 60000 ms, got {value:g}.")


def _check_numbers(args) -> None:
    for name in ("n", "steps", "frames", "scale", "T", "size"):
        _positive(getattr(args, name), f"--{name}")
        if name in LIMITS:
            _common.at_most(f"--{name}", getattr(args, name), *LIMITS[name])
    _milliseconds(args.duration, "--duration", 1)
    _milliseconds(args.hold, "--hold", 0)
    check_guidance_arg(args)


def _forward_gif(args, out, generator) -> None:
    """--forward: noise --image step by step with q(x_t | x_{t-1})."""
    if args.guide:
        raise UserError("--guide guides a checkpoint's reverse chain; --forward only adds "
                        "noise to an image: drop --guide.")
    if not args.image:
        raise UserError("--forward needs --image PATH (e.g. --image data/images/flower64.png).")
    if args.digit is not None:
        raise UserError("--digit is for a checkpoint's chain; --forward noises --image.")
    from ..schedules import cosine_schedule, linear_schedule
    from ..viz._render import load_image
    from ..viz.gif import forward_chain_gif

    schedule = (linear_schedule if args.schedule == "linear" else cosine_schedule)(args.T)
    x0 = load_image(args.image, size=args.size)
    forward_chain_gif(x0, out, schedule, n_frames=args.frames, spacing=args.spacing,
                      duration_ms=args.duration, hold_ms=args.hold, scale=args.scale,
                      generator=generator)


def _reverse_gif(args, out, generator) -> None:
    """The reverse chain of --checkpoint (with --digit/--guidance or --guide), from noise."""
    if args.image:
        raise UserError("--image is for --forward; a checkpoint's chain starts from noise.")
    from .. import pretrained
    from ..sampling import ddim_steps, ddpm_steps
    from ..viz.gif import reverse_chain_gif

    pre = pretrained.load_pretrained(args.checkpoint)  # = ddpm_edu.load_pretrained
    shape = (args.n,) + _image_shape(pre)
    schedule = pre.schedule
    labels, guidance = condition(pre, args)
    guide = load_guide(pre, args)
    eps = pre.eps if guide is None else pre.guided_by(guide, args.guidance)
    common = dict(shape=shape, generator=generator, labels=labels, guidance=guidance)
    if args.sampler == "ddim":
        steps = ddim_steps(eps, schedule, steps=min(args.steps, schedule.T),
                           eta=args.eta, **common)
    else:  # ancestral sampling with the variance the model was trained for
        steps = ddpm_steps(eps, schedule,
                           steps=None if args.steps >= schedule.T else args.steps,
                           var_type=getattr(pre, "var_type", "fixed_small"), **common)
    reverse_chain_gif(steps, out, schedule, n_frames=args.frames, spacing=args.spacing,
                      duration_ms=args.duration, hold_ms=args.hold, scale=args.scale,
                      show_x0_hat=not args.no_x0)


def run(args) -> int:
    out = _check_out(args.out)
    _check_numbers(args)
    import torch

    generator = torch.Generator().manual_seed(args.seed)
    (_forward_gif if args.forward else _reverse_gif)(args, out, generator)
    from PIL import Image

    with Image.open(out) as im:
        frames, (w, h) = im.n_frames, im.size
    print(
        f"wrote {out}: {frames} frames, {w}×{h} px, {out.stat().st_size / 1024:.0f} KiB, "
        "loops forever"
    )
    return 0
