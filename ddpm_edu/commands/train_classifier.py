"""``ddpm-edu train-classifier``: train the digit classifier that judges samples (quality.py)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import UserError
from . import _common

HELP = "train the digit classifier that judges samples (the shipped one is in data/checkpoints)"

DESCRIPTION = """\
Train the small CNN of ddpm_edu.classifier on MNIST-train (seeded) and save it as a .safetensors
file; its SHA-256 and accuracy are printed as JSON. The shipped classifier was made with
--threads 1 (see data/checkpoints/digit_classifier.md for the time it takes).
(Also reachable as: python -m ddpm_edu.classifier --out FILE ...)

examples:
  ddpm-edu train-classifier --threads 1 --out data/checkpoints/digit_classifier.safetensors
  ddpm-edu train-classifier --epochs 1 --out runs/my-classifier.safetensors"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, metavar="FILE.safetensors",
                        help="where to write the classifier")
    parser.add_argument("--epochs", type=int, default=5, help="passes over MNIST-train (default 5)")
    parser.add_argument("--seed", type=_common.seed, default=0, help="seed (default 0)")
    parser.add_argument("--threads", type=_common.threads, default=None,
                        help="CPU threads torch may use")


def run(args) -> int:
    if Path(args.out).suffix != ".safetensors":
        raise UserError(f"--out must end in .safetensors, got {args.out!r}.")
    out = _common.writable_file(args.out)
    if args.epochs < 1:
        raise UserError(f"--epochs must be at least 1, got {args.epochs}.")
    _common.at_most("--epochs", args.epochs, 1000, "passes over the data")
    from ..classifier import save_classifier, train_classifier

    net, info = train_classifier(epochs=args.epochs, seed=args.seed, threads=args.threads)
    digest = save_classifier(net, out, info)
    print(json.dumps({**info, "sha256": digest, "file": str(out), "bytes": out.stat().st_size},
                     indent=2))
    return 0
