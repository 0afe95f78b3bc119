"""``ddpm-edu diagnose``: why are my samples noise? Checks a model (and samples) for the usual
causes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import MissingFile, UserError
from . import _common

HELP = "check a model (and its samples) for the usual reasons why samples come out as noise"

DESCRIPTION = """\
"Training finished but the samples are noise." This command runs the checks of
ddpm_edu.diagnose on a trained model and, if given, on samples you generated:

  weights      NaN or inf in the network (a diverged run)
  outputs      NaN outputs, or outputs not shaped like the input
  time-index   off-by-one time steps: does the model denoise better when told t-1 or t+1
               than t? (a model trained with 0-based t, as diffusers counts, does)
  trained      is the model better than predicting zero noise at all?
  loss-curve   its loss per step t against the shipped model's (when that curve is available)
  samples      NaN, values far outside [-1, 1] (x0 never clipped), or no structure (still noise)

The model probes run on the first --n held-out images (the MNIST test set for an MNIST model).
Each finding says what was seen and how to fix it. Exit status: 0 if nothing is wrong, 1 if a
problem was found.

examples:
  ddpm-edu diagnose --checkpoint runs/my-first-model
  ddpm-edu sample --checkpoint runs/my-first-model --n 64 --out mine.npy
  ddpm-edu diagnose --checkpoint runs/my-first-model --samples mine.npy
  ddpm-edu diagnose --samples samples_from_my_own_loop.npy"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default=None, metavar="NAME|PATH",
                        help="a shipped model by name (mnist), a run folder or a .safetensors file")
    parser.add_argument("--samples", default=None, metavar="FILE.npy",
                        help="samples to check: floats in [-1, 1] (best) or uint8 pixels, as "
                             "written by ddpm-edu sample --out FILE.npy")
    parser.add_argument(
        "--n", type=int, default=64, help="held-out images for the model probes (default 64)"
    )
    parser.add_argument("--seed", type=_common.seed, default=0,
                        help="seed of the probes' noise (default 0)")
    parser.add_argument("--json", action="store_true", help="print the findings as one JSON object")


def _probe_data(model, n: int):
    """Held-out examples for the model's shape, or (None, why not)."""
    from ..datasets.download import DownloadError
    shape = tuple(model.shape)
    if shape == (2,):
        from ..datasets.toy import two_moons
        return two_moons(max(n, 2), seed=1), None  # a seed the training data did not use
    from .evaluate import held_out_images
    try:
        images, _ = held_out_images(shape, n)
    except (DownloadError, UserError) as e:
        return None, str(e).splitlines()[0]
    return images, None


def run(args) -> int:
    if args.checkpoint is None and args.samples is None:
        raise UserError(
            "nothing to diagnose: give --checkpoint NAME|PATH and/or --samples FILE.npy."
        )
    if args.n < 1:
        raise UserError(f"--n must be at least 1, got {args.n}.")
    _common.at_most("--n", args.n, 10_000, "held-out images for the probes")
    import numpy as np

    from ..diagnose import Diagnosis, Finding, diagnose, expected_loss_curve

    samples = None
    if args.samples is not None:
        path = Path(args.samples)
        if path.suffix.lower() != ".npy" or not path.is_file():
            raise MissingFile(f"--samples {args.samples}: no such .npy file; write one with "
                                    "ddpm-edu sample --out FILE.npy (or np.save in your own loop).")
        try:
            samples = np.load(path)
        except (ValueError, OSError) as e:
            raise UserError(
                f"--samples {args.samples} is not a readable .npy array ({e})."
            ) from None

    report = Diagnosis()
    model = data = curve = None
    if args.checkpoint is not None:
        from ..pretrained import REGISTRY, load_pretrained
        model = load_pretrained(args.checkpoint)
        data, why = _probe_data(model, args.n)
        if why:
            report.append(Finding("model", "info", f"no held-out data for the probes: {why}"))
        if tuple(model.shape) == (1, 28, 28):
            name = args.checkpoint if args.checkpoint in REGISTRY else "mnist"
            curve = expected_loss_curve(name, compute=False)
    report += diagnose(model, data=data, samples=samples, expected_curve=curve, n_probe=args.n,
                       seed=args.seed)
    if args.json:
        print(json.dumps(report.to_dict()))
    else:
        if model is not None:
            print(f"{model.path}: {model!r}")
        print(report)
    return 0 if report.ok else 1
