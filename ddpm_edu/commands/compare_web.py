"""``ddpm-edu compare-web``: do the 8-bit versions of an exported page draw the same digits?"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import MissingFile, UserError
from . import _common

HELP = "compare the model versions (fp32, int8, ...) of an exported page by the digits they draw"

DESCRIPTION = """\
Each ONNX file of a page written by `ddpm-edu export-web` (fp32, int8, int8-dynamic) drives the
library's DDIM sampler from the same noise, through the Python onnxruntime package (the same graph
and kernels as the page's wasm runtime). The shipped digit classifier judges the samples, and each
8-bit version is compared with fp32 image by image: how often it gives the same digit, and how far
its pixels move. (Also reachable as: python -m ddpm_edu.web.compare SITE ...)

examples:
  ddpm-edu compare-web site --n 500 --steps 20
  ddpm-edu compare-web site --n 1000 --steps 50 --json quality.json

A page of a class-conditional model (export-web --checkpoint mnist-cond) asks each version for the
digits 0..9 in turn with the page's default guidance; the table's first column is then the share
drawn as the requested digit."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("site", metavar="SITE", help="a folder written by ddpm-edu export-web")
    parser.add_argument("--n", type=int, default=1000, help="images per version (default 1000)")
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps (default 50)")
    parser.add_argument("--seed", type=_common.seed, default=0,
                        help="seed of the noise (default 0)")
    parser.add_argument("--classifier", default=None, metavar="PATH",
                        help="a digit classifier file of your own (default: the shipped one)")
    parser.add_argument("--threads", type=_common.threads, default=1,
                        help="onnxruntime threads (default 1)")
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")


def _check(args) -> Path | None:
    if not (Path(args.site) / "manifest.json").is_file():
        raise MissingFile(f"{args.site} has no manifest.json; export a page first: "
                          f"ddpm-edu export-web --checkpoint mnist --out {args.site}")
    if args.n < 1:
        raise UserError(f"--n must be at least 1, got {args.n}.")
    _common.at_most("--n", args.n, 100_000, "images per version")
    if args.steps < 1:
        raise UserError(f"--steps must be at least 1, got {args.steps}.")
    if args.classifier is not None and not Path(args.classifier).is_file():
        raise MissingFile(f"--classifier {args.classifier}: no such file; give a .safetensors "
                          "written by ddpm-edu train-classifier, or drop --classifier.")
    return _common.writable_file(args.json, "--json") if args.json else None


def run(args) -> int:
    json_out = _check(args)
    from ..web.compare import compare_precisions

    classifier = None
    if args.classifier:
        from ..classifier import load_classifier
        classifier = load_classifier(args.classifier, sha256=None)
    result = compare_precisions(args.site, args.n, args.steps, args.seed, classifier=classifier,
                                threads=args.threads)
    cond = "guidance" in result
    print(f"{args.n} images per version, DDIM {args.steps} steps, seed {args.seed}"
          + (f", digits {result['labels']}, guidance w = {result['guidance']:g}" if cond else ""))
    print(f"{'version':14} {'MB':>6} {'s':>7} "
          + (f"{'requested':>9} " if cond else "")
          + f"{'confident':>9} {'min class':>9} {'Fréchet':>8} {'same digit':>10} {'|Δpixel|':>9}")
    for name, e in result["versions"].items():
        q = e["quality"]
        requested = f"{100 * q['accuracy']:8.1f}% " if cond else ""
        worst = q["min_class_accuracy"] if cond else q["min_class_share"]
        same = f"{100 * e['same_digit_as_fp32']:.1f} %" if "same_digit_as_fp32" in e else "–"
        diff = f"{e['pixel_diff']['mean']:.2f}" if "pixel_diff" in e else "–"
        print(f"{name:14} {e['bytes'] / 1e6:6.2f} {e['seconds']:7.1f} {requested}"
              f"{100 * q['confident_share']:8.1f}% {100 * worst:8.1f}% "
              f"{q['fid']:8.2f} {same:>10} {diff:>9}")
    if json_out is not None:
        json_out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0
