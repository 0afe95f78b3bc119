"""``ddpm-edu eval --quality``: draw digits from a model and judge them with the shipped digit
classifier (confident share, classes, classifier-feature Fréchet distance; for a class-conditional
model also the share drawn as the requested digit and the diversity)."""
from __future__ import annotations

import argparse
import json
import math
import time

from ..errors import UserError

DEFAULT_N = 1000   # the model cards' and the course targets' number of digits
DEFAULT_STEPS = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of --quality (the rest, --n, --seed, --json, ..., are shared with --bpd)."""
    parser.add_argument("--quality", action="store_true",
                        help="judge generated digits instead of bits/dim: sample --n digits "
                             f"(default {DEFAULT_N}) and report the share the digit classifier "
                             "is confident about, the classes and the classifier-feature "
                             "Fréchet distance to the MNIST test set")
    parser.add_argument("--sampler", default="ddim", choices=("ddim", "ddpm"),
                        help="with --quality: ddim (deterministic) or ddpm (ancestral); "
                             "default ddim")
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                        help="with --quality: network calls per sample, at most T (default "
                             f"{DEFAULT_STEPS})")
    parser.add_argument("--eta", type=float, default=0.0,
                        help="with --quality --sampler ddim: the DDIM noise scale, 0 "
                             "deterministic (default, the model cards' figure), 1 as noisy as "
                             "DDPM on the same short chain")
    parser.add_argument("--guidance", type=float, default=None, metavar="W",
                        help="with --quality on a class-conditional model: the guidance weight "
                             "W >= 0 (default: the checkpoint's own); the digits are requested "
                             "in equal numbers, 0, 1, ..., 9, 0, ...; with --guide the "
                             "autoguidance weight")
    from .sample import add_guide_argument
    add_guide_argument(parser)


def check(args, bpd_batch_size: int) -> None:
    """Refuse options of the other metric and impossible values (before any model is loaded);
    ``bpd_batch_size``: the default of --batch-size, an option of --bpd only."""
    if not args.quality:
        used = [opt for opt, value in (("--sampler", args.sampler != "ddim"),
                                       ("--steps", args.steps != DEFAULT_STEPS),
                                       ("--eta", args.eta != 0),
                                       ("--guide", args.guide is not None),
                                       ("--guidance", args.guidance is not None)) if value]
        if used:
            raise UserError(f"{used[0]} belongs to --quality (the sampled digits); add --quality "
                            "or drop it.")
        return
    if args.bpd:
        raise UserError("--bpd and --quality are two separate measurements: run one at a time.")
    for opt, value in (("--fast", args.fast is not None), ("--always-decoder", args.always_decoder),
                       ("--per-t", args.per_t), ("--var-type", args.var_type is not None),
                       ("--tanh-cdf", args.tanh_cdf),
                       ("--batch-size", args.batch_size != bpd_batch_size)):
        if value:
            raise UserError(f"{opt} belongs to --bpd (bits/dim), not to --quality; drop it.")
    if args.n is not None and args.n < 2:
        raise UserError(f"--n must be at least 2 digits for --quality (a Fréchet distance needs a "
                        f"spread), got {args.n}; the model cards use {DEFAULT_N}.")
    if args.steps < 1:
        raise UserError(f"--steps must be at least 1, got {args.steps}.")
    if not math.isfinite(args.eta) or args.eta < 0:
        raise UserError(f"--eta must be a finite number >= 0 (0: deterministic DDIM, 1: DDPM-like "
                        f"noise), got {args.eta:g}.")
    if args.eta != 0 and args.sampler != "ddim":
        raise UserError("--eta is the ddim sampler's noise; drop it, or use --sampler ddim.")
    if args.guidance is not None and (not math.isfinite(args.guidance) or args.guidance < 0):
        raise UserError(f"--guidance must be a finite number >= 0 (0: no guidance), got "
                        f"{args.guidance:g}.")


def run(args) -> int:
    import torch

    from ..pretrained import load_pretrained
    from ..quality import conditional_quality, sample_quality
    from . import _common

    n = DEFAULT_N if args.n is None else args.n
    _common.at_most("--n", n, 100_000, "the digits are judged in memory; measure in parts")
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_pretrained(args.checkpoint)
    if tuple(model.shape) != (1, 28, 28):
        raise UserError(f"--quality judges 28×28 digits with the MNIST digit classifier; "
                        f"{model.path} makes examples of shape {tuple(model.shape)}. Use --bpd, "
                        "or look at its samples (ddpm-edu sample).")
    if args.steps > model.schedule.T:
        raise UserError(f"--steps {args.steps} is more than this model's T = {model.schedule.T}.")
    from .sample import load_guide
    guide = load_guide(model, args)
    labels, w = None, 0.0
    if guide is not None:
        from .._choices import DEFAULT_AUTOGUIDANCE
        w = DEFAULT_AUTOGUIDANCE if args.guidance is None else args.guidance
    elif model.num_classes:
        if n < 2 * model.num_classes:
            raise UserError(f"--n {n} is too few for a class-conditional model: the diversity "
                            f"needs 2 digits of each of its {model.num_classes} classes, so "
                            f"--n {2 * model.num_classes} or more.")
        labels = torch.arange(n) % model.num_classes
        w = model.default_guidance if args.guidance is None else args.guidance
    elif args.guidance is not None:
        raise UserError(f"--guidance needs a class-conditional checkpoint (e.g. mnist-cond); "
                        f"{model.path} is unconditional: drop --guidance.")
    start = time.perf_counter()
    x = model.sample(n, sampler=args.sampler, steps=args.steps, eta=args.eta, seed=args.seed,
                     progress=not args.no_progress, labels=labels, guidance=w, guide=guide)
    seconds = time.perf_counter() - start
    report = sample_quality(x) if labels is None else conditional_quality(x, labels)
    how = f"{args.sampler.upper()} {args.steps} steps" + (
        f", eta {args.eta:g}" if args.eta else "") + f", seed {args.seed}" + (
        f", digits 0-{model.num_classes - 1} requested in turn, guidance w = {w:g}"
        if labels is not None else "") + (
        f", guided by {guide.path.name} with w = {w:g}" if guide is not None else "")
    if args.json:
        print(json.dumps({**report.to_dict(), "checkpoint": str(args.checkpoint),
                          "sampler": args.sampler, "steps": args.steps, "eta": args.eta,
                          "seed": args.seed,
                          "guidance": w if labels is not None or guide is not None else None,
                          "guide": args.guide, "seconds": seconds}))
        return 0
    print(f"{model.path}: {n} samples, {how}")
    print(report)
    print(f"  time      {seconds:.1f} s to sample ({seconds / n:.3f} s per digit)")
    print("what it means: real MNIST test digits score about 98 % confident and a Fréchet distance "
          "of 0.6 at 1,000 images; the course's targets for its default model are ≥ 95 % and ≤ 5 "
          "(data/checkpoints/mnist.md).")
    return 0
