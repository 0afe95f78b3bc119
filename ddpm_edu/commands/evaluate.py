"""``ddpm-edu eval``: bits/dim of a trained model on held-out images, with a 95 % interval, or
(``--quality``, :mod:`.quality_eval`) the quality of the digits it draws."""
from __future__ import annotations

import argparse
import json
import time

from ..errors import UserError
from . import _common, quality_eval

HELP = (
    "bits/dim of a trained model on test images (the variational bound) with a 95-percent "
    "interval, or --quality: how good the digits it draws are"
)

DESCRIPTION = """\
Score a model by the variational bound L_vlb on -log2 p(x_0), in bits per dimension (bits/dim):
how many bits the model would need, at most, to encode one pixel of an unseen image. Lower is
better; a model that knows nothing (uniform over 256 values) needs 8.

The images are the first N images of the MNIST test set (or of the Flowers 102 validation split
for a colour model), never seen in training.

Two estimators of the same number:
  (default)  the full bound: every one of the T terms, each from its own noisy x_t, as in the
             DDPM paper: T network calls per batch of images (slow: T = 1000 for the shipped model).
  --fast K   an unbiased estimate from K steps drawn at random per image: K calls per batch.
             The mean over many runs equals the full bound; a single run is noisier.
             Add --always-decoder to compute the decoder term L_0 (often half the bits) for
             every image and draw only the other K-1 steps: same cost, narrower interval.
The 95 % interval is mean +- 1.96 sd/sqrt(N) over the images (a normal approximation, fine for
N >= 30); it includes the estimator's own randomness.

--quality measures something else: it draws N digits (default 1000) with --sampler/--steps and
lets the project's digit classifier judge them: the share it is confident about (p > 0.9), the
smallest class share, and the Fréchet distance of its features to the 10,000 test digits (not
Inception FID). For a class-conditional model the digits are requested in turn (0..9) with
guidance --guidance W, and the share drawn as the requested digit is reported too.

examples:
  ddpm-edu eval --checkpoint mnist --bpd --n 100 --fast 50
  ddpm-edu eval --checkpoint mnist --bpd --n 100 --fast 50 --always-decoder
  ddpm-edu eval --checkpoint runs/my-first-model --bpd --n 256 --json
  ddpm-edu eval --checkpoint mnist --bpd --n 64 --per-t --json > terms.json   \
# full bound per step
  ddpm-edu eval --checkpoint mnist --quality --n 1000 --steps 50      # the model card's figure
  ddpm-edu eval --checkpoint runs/my-first-model --quality --steps 10 --json"""

BATCH_SIZE = 64   # --batch-size of --bpd

# Published test-set numbers (bits/dim) for context; the course's CPU models are far smaller.
CONTEXT = ("published, for scale: MNIST: RealNVP 1.06, Glow 1.05, FFJORD 0.99 (normalising flows, "
           "exact likelihoods); DDPM reports 3.70-3.75 on CIFAR-10 (colour photos: not comparable "
           "with MNIST).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="mnist", metavar="NAME|PATH",
                        help="a shipped model by name (mnist), a run folder or a .safetensors file "
                             "(default: mnist)")
    parser.add_argument("--bpd", action="store_true",
                        help="compute bits/dim (the default measurement)")
    parser.add_argument("--n", type=int, default=None,
                        help="number of test images (default 100), or with --quality of "
                             f"sampled digits (default {quality_eval.DEFAULT_N})")
    parser.add_argument(
        "--fast",
        type=int,
        default=None,
        metavar="K",
        help="unbiased fast estimate from K random steps per image instead of all T",
    )
    parser.add_argument(
        "--always-decoder",
        action="store_true",
        help="with --fast: compute the decoder term L_0 for every image and draw the "
        "other K-1 steps (still unbiased, usually a much narrower interval)",
    )
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE,
                        help=f"images per network call (default {BATCH_SIZE})")
    parser.add_argument("--seed", type=_common.seed, default=0,
                        help="seed of the noise and of the drawn steps")
    parser.add_argument("--var-type", choices=("fixed_small", "fixed_large"), default=None,
                        help="variance of p(x_{t-1}|x_t) (default: the one saved with the model)")
    parser.add_argument("--tanh-cdf", action="store_true",
                        help="DDPM's tanh approximation of the normal CDF in the decoder, to "
                             "reproduce published numbers (default: the exact CDF)")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (bpd, ci95, n, estimator, k, ...) and nothing else",
    )
    parser.add_argument("--per-t", action="store_true",
                        help="with --json: add per_t, the mean term at each step t = 1..T")
    parser.add_argument("--threads", type=_common.threads, default=None,
                        help="CPU threads torch may use")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    quality_eval.add_arguments(parser)


def _check(args) -> None:
    quality_eval.check(args, BATCH_SIZE)
    if args.quality:
        return
    if args.n is None:
        args.n = 100
    if args.n < 1:
        raise UserError(f"--n must be at least 1, got {args.n}.")
    if args.fast is not None and args.fast < 1:
        raise UserError(f"--fast K needs K ≥ 1 steps per image, got {args.fast}.")
    if args.batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {args.batch_size}.")
    if args.always_decoder and args.fast is None:
        raise UserError("--always-decoder belongs to the fast estimator: add --fast K (K ≥ 2).")
    if args.always_decoder and args.fast < 2:
        raise UserError(
            "--always-decoder needs --fast K with K ≥ 2 (the decoder plus a drawn step)."
        )
    if args.per_t and not args.json:
        raise UserError("--per-t adds the per-step curve to the JSON output: use it with --json.")


def held_out_images(shape, n: int):
    """The first ``n`` held-out images for a model taking one example of ``shape``: uint8
    [n, *shape], and a description. (1, 28, 28) → MNIST test set; (3, S, S) → Flowers 102
    validation split at S px."""
    import torch
    shape = tuple(shape)
    if shape == (1, 28, 28):
        from ..datasets.mnist import load_mnist
        images, _ = load_mnist("test")
        what = "MNIST test images"
    elif len(shape) == 3 and shape[0] == 3 and shape[1] == shape[2]:
        from ..datasets.flowers import load_flowers
        images = load_flowers("validation", size=shape[1])
        what = f"Flowers 102 validation images ({shape[1]} px)"
    else:
        raise UserError(f"bits/dim scores 8-bit images; this model takes examples of shape {shape} "
                        "(MNIST is (1, 28, 28), Flowers (3, 64, 64) or (3, 32, 32)).")
    if n > images.shape[0]:
        raise UserError(f"--n {n} is more than the {images.shape[0]} {what}.")
    images = torch.as_tensor(images[:n])
    return images.reshape(n, *shape), what


def _breakdown(per_t, prior: float) -> list[tuple[str, float]]:
    """Where the bits go (full bound only): the decoder, groups of KL terms, the prior."""
    T = per_t.numel()
    rows = [("L_0 (decoder, t = 1)", per_t[0].item())]
    for lo, hi in ((2, 10), (11, 100), (101, T)):
        if lo <= T:
            hi = min(hi, T)
            rows.append((f"KL terms t = {lo}..{hi}", per_t[lo - 1:hi].sum().item()))
    rows.append(("L_T (prior)", prior))
    return rows


def run(args) -> int:
    _check(args)
    if args.quality:
        return quality_eval.run(args)
    import torch

    from ..evaluation import bpd_fast, bpd_full
    from ..pretrained import load_pretrained

    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_pretrained(args.checkpoint)
    T = model.schedule.T
    if args.fast is not None and args.fast > T:
        raise UserError(f"--fast {args.fast} is more than T = {T} steps; drop --fast to compute "
                        "every term (the full bound).")
    images, what = held_out_images(model.shape, args.n)
    opts = {"var_type": args.var_type or model.var_type, "exact": not args.tanh_cdf}
    progress = not args.no_progress  # tqdm writes to stderr: --json output stays clean
    g = torch.Generator().manual_seed(args.seed)
    start = time.perf_counter()
    if args.fast is None:
        est = bpd_full(model.eps, model.schedule, images, batch_size=args.batch_size, generator=g,
                       progress=progress, **opts)
    else:
        est = bpd_fast(model.eps, model.schedule, images, k=args.fast, batch_size=args.batch_size,
                       generator=g, progress=progress, always_decoder=args.always_decoder, **opts)
    seconds = time.perf_counter() - start

    if args.json:
        d = est.to_dict(per_t=args.per_t)
        d.update({"checkpoint": str(args.checkpoint), "data": what, "seed": args.seed,
                  "var_type": opts["var_type"], "cdf": "tanh" if args.tanh_cdf else "exact",
                  "seconds": seconds})
        print(json.dumps(d))
        return 0

    _print_report(model, est, images, what, seconds)
    return 0


def _print_report(model, est, images, what: str, seconds: float) -> None:
    """The human-readable report of a bits/dim estimate."""
    T = model.schedule.T
    lo, hi = est.ci95
    how = ("full bound: all T = %d terms, %d network calls per batch" % (T, T) if est.k is None else
           f"fast estimator: K = {est.k} of T = {T} steps drawn per image, {est.k} calls per batch"
           + (" (L_0 always, K - 1 drawn)" if est.always_decoder else ""))
    dims = images[0].numel()
    print(f"{model.path}: {est.n} {what}, {how}")
    if est.n > 1:
        print(f"  bits/dim  {est.bpd:.3f} ± {est.half_width:.3f}   (95 % CI {lo:.3f} … {hi:.3f})")
        noise = ("one noisy x_t per term" if est.k is None else
                 "one noisy x_t per term and which K steps were drawn")
        print(f"            normal approximation over the {est.n} images; it includes the "
              f"estimator's randomness ({noise})")
    else:
        print(f"  bits/dim  {est.bpd:.3f}   (one image: no interval; use --n 30 or more)")
    if est.n > 1 and est.half_width > 0.05 * abs(est.bpd):
        more = "more images (--n)" + (
            " or more steps per image (--fast K)" if est.k is not None else ""
        )
        print(f"            the interval is wide: use {more} for a sharper estimate")
    if est.k is None:
        for name, value in _breakdown(est.per_t, est.prior.mean().item()):
            print(f"    {name:<26s} {value:8.4f}")
    print(f"  time      {seconds:.1f} s ({seconds / est.n:.2f} s per image)")
    print(f"what it means: the model needs at most {est.bpd:.2f} bits per pixel, "
          f"≈ {est.bpd * dims:.0f} bits per image of {dims} values, to encode these images "
          "(8 bits/dim = knows nothing). The bound is an upper bound on -log2 p(x) / dims.")
    print(CONTEXT)
