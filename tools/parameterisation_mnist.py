#!/usr/bin/env python3
"""Train ε-, x_0- and μ-predicting U-Nets on MNIST at one equal budget and judge their samples
(chapter 5's shipped comparison).

The three runs follow the "mnist-small" recipe and differ only in ``mean_type``: the same small
U-Net (16/32/32 channels, no attention), built from the same seed, so the same initial weights;
DDPM's linear schedule (T = 1000); L_simple (the unweighted squared error of what the network
predicts); the same steps, batch, learning rate (constant after the warm-up, as in DDPM, so that a
shorter run with the same settings is the start of this one: chapter 5 reruns the first steps live)
and seed, so the same minibatches, t and noise. On the way, the EMA network's bits/dim
(``bpd_fast``, 10 network calls per digit, on 64 test digits, the same draws for every model) is
measured at a few steps (CURVE_AT). At the end each model draws the same n starting noises through
DDIM (η = 0, 50 steps), and the shipped digit classifier judges the digits
(``ddpm_edu.quality.sample_quality``). Writes a JSON of the numbers and a PNG of the first 12
samples of each model (rows ε, x_0, μ), both small:

    python tools/parameterisation_mnist.py      # data/checkpoints/mnist-parameterisation.{json,png}
    python tools/parameterisation_mnist.py --steps 20 --n 32 --out /tmp/p --work /tmp/pw  # smoke

Each run keeps its checkpoints under --work, so a stopped run resumes where it stopped.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ddpm_edu import bpd_fast, get_recipe, load_mnist, sample, train
from ddpm_edu.checkpoints import has_checkpoint
from ddpm_edu.nets import count_parameters
from ddpm_edu.pixels import to_pixels
from ddpm_edu.quality import sample_quality
from ddpm_edu.viz._render import grid

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "checkpoints" / "mnist-parameterisation"
WORK = ROOT / "runs" / "parameterisation"
MEAN_TYPES = ("eps", "x0", "mu")
SAMPLE_SEED, SHOW = 505, 12
CURVE_AT = (25, 50, 100, 250, 500, 1000, 2000, 4000)   # steps at which bits/dim is measured
N_BPD, BPD_K = 64, 10                                  # test digits and network calls per digit


RECIPE = get_recipe("mnist-small")


def bits_per_dim(net, mean_type, x_test) -> dict:
    """The bound of one network on the test digits, in bits/dim (the same draws for every net)."""
    est = bpd_fast(net, RECIPE.build_schedule(), x_test, k=BPD_K, always_decoder=True,
                   mean_type=mean_type, generator=torch.Generator().manual_seed(0))
    return {"bpd": est.bpd, "half_width": est.half_width}


def train_one(mean_type, steps, images, x_test, work: Path, on_point):
    """The EMA network of one run, trained (or resumed) in work/mean_type; (net, seconds,
    {step: bits/dim}), the curve kept in work/mean_type-curve.json across restarts and handed to
    ``on_point(curve)`` at each new point."""
    out_dir, curve_file = work / mean_type, work / f"{mean_type}-curve.json"
    curve = json.loads(curve_file.read_text()) if curve_file.exists() else {}

    def measure(state):
        if state.step in CURVE_AT:
            curve[str(state.step)] = bits_per_dim(state.ema_net, mean_type, x_test)
            curve_file.write_text(json.dumps(curve))
            on_point(curve)

    start, cpu = time.perf_counter(), time.process_time()
    result = train(RECIPE.build_network(), RECIPE.build_schedule(), images,
                   RECIPE.train.replace(steps=steps, mean_type=mean_type),
                   out_dir=out_dir, resume=has_checkpoint(out_dir), callbacks=[measure],
                   progress=False)
    seconds = {"train_seconds": time.perf_counter() - start,       # this session's wall time
               "train_cpu_seconds": time.process_time() - cpu}
    return result.ema_net, seconds, curve


def samples_of(mean_type, steps, n, images, x_test, work: Path, on_point):
    """(uint8 samples (n, 28, 28), {training seconds}, bits/dim curve) of one run, cached in
    work."""
    cached = work / f"{mean_type}-{steps}-n{n}.pt"
    if not cached.exists():
        net, seconds, curve = train_one(mean_type, steps, images, x_test, work, on_point)
        x = sample(net, RECIPE.build_schedule(), n, (1, 28, 28), sampler="ddim", steps=50,
                   mean_type=mean_type, seed=SAMPLE_SEED, batch_size=250, progress=False)
        torch.save({"samples": to_pixels(x).squeeze(1), "seconds": seconds, "curve": curve},
                   cached)
    saved = torch.load(cached)
    seconds = saved["seconds"]                 # a plain number in the first runs: wall seconds
    return saved["samples"], seconds if isinstance(seconds, dict) else {
        "train_seconds": seconds}, saved["curve"]


def write(out: Path, result: dict, pictures: list) -> None:
    """The JSON of the numbers and the PNG of the samples (one row per finished model)."""
    from PIL import Image
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    if not pictures:
        return
    picture = grid(torch.cat(pictures).unsqueeze(-1).numpy(), nrow=SHOW)   # (H, W, 1) uint8
    Image.fromarray(np.ascontiguousarray(picture[..., 0])).save(out.with_suffix(".png"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=RECIPE.train.steps, help="steps per model")
    ap.add_argument("--n", type=int, default=1000, help="samples judged per model")
    ap.add_argument("--out", type=Path, default=OUT, help="path without suffix (.json, .png)")
    ap.add_argument("--work", type=Path, default=WORK, help="checkpoints and samples")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)
    images, _ = load_mnist("train")
    x_test = load_mnist("test")[0][:N_BPD].unsqueeze(1)                  # uint8 (64, 1, 28, 28)
    cfg = RECIPE.train.replace(steps=args.steps)
    command = "python tools/parameterisation_mnist.py" + "".join(
        f" --{k} {v}" for k, v in (("steps", args.steps), ("n", args.n))
        if v != ap.get_default(k))
    rows, pictures = {}, []
    result = {"command": command, "recipe": RECIPE.name, "network": RECIPE.network,
              "parameters": count_parameters(RECIPE.build_network()),
              "schedule": "linear, β 1e-4 → 0.02, T = 1000", "loss": "simple",
              "train": {k: getattr(cfg, k) for k in ("steps", "batch_size", "lr", "warmup_steps",
                                                     "lr_schedule", "grad_clip", "ema_decay",
                                                     "seed")},
              "bpd": f"bpd_fast, k = {BPD_K}, always_decoder, {N_BPD} test digits, seed 0",
              "sampler": "DDIM η = 0, 50 steps", "sample_seed": SAMPLE_SEED, "n": args.n,
              "picture_rows": [], "rows": rows}
    for mt in MEAN_TYPES:      # the files are rewritten at each point of a curve and each model

        def on_point(curve, mt=mt):
            rows[mt] = {"bpd_curve": dict(curve)}           # a run still training: its curve
            write(args.out, result, pictures)

        x, seconds, curve = samples_of(mt, args.steps, args.n, images, x_test, args.work,
                                       on_point)
        rows[mt] = {**seconds, "bpd_curve": curve, **sample_quality(x).to_dict()}
        pictures.append(x[:SHOW])
        result["picture_rows"].append(mt)
        write(args.out, result, pictures)
        print(f"{mt:>4}: confident {rows[mt]['confident_share']:.3f}  "
              f"Fréchet {rows[mt]['fid']:.2f}  (trained in {seconds['train_seconds']:.0f} s)",
              flush=True)
    print(f"wrote {args.out}.json and .png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
