#!/usr/bin/env python3
"""Measure sample quality against the number of steps, for DDIM (η = 0) and DDPM, on the shipped
MNIST model (chapter 8's plot).

Every point draws the same n starting noises x_T (seed 808) through one sampler with S steps
(DDPM with S < T steps runs the respaced chain, as in improved DDPM; S = T is the paper's sampler)
and judges the digits with the shipped classifier (``ddpm_edu.quality.sample_quality``: confident
share, classes, classifier-feature Fréchet distance to the 10 000 MNIST test digits). A reference
row judges n real training digits. The JSON is rewritten after every point, and the samples of
every finished batch are kept under --work, so a stopped run resumes where it stopped:

    python tools/steps_quality.py   # data/checkpoints/mnist-ddpm-steps-quality.json, ~1.6 M calls
    python tools/steps_quality.py --n 16 --ddpm 5 --ddim 5 --out /tmp/x.json --work /tmp/w

About 3 ms per digit per network call on one thread of a quiet 2-core EPYC: 80–90 minutes of CPU
for the default points at n = 1000, most of it DDPM's 1000-step point (run last). Each point
records its wall seconds (this session's only, on a shared machine: not comparable between
points) and, from the newer runs on, its CPU seconds.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ddpm_edu import ddim_steps, ddpm_steps, load_mnist, load_pretrained
from ddpm_edu.pixels import to_pixels
from ddpm_edu.quality import sample_quality

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "checkpoints" / "mnist-ddpm-steps-quality.json"
WORK = ROOT / "runs" / "steps-quality"
X_T_SEED = 808


def make_sampler(model, name, steps):
    """(x_T, generator) → Step iterator of DDIM η = 0 or DDPM ancestral with ``steps`` steps."""
    sch = model.schedule
    if name == "ddim":
        return lambda x_T, g: ddim_steps(model.eps, sch, x_T, steps=steps, eta=0.0)
    return lambda x_T, g: ddpm_steps(model.eps, sch, x_T, steps=steps, var_type=model.var_type,
                                     generator=g)


def draw(make, x_T, batch, work: Path, tag: str):
    """The uint8 samples (N, 28, 28) of one point; each batch is cached in ``work``."""
    out = []
    for i in range(0, len(x_T), batch):
        cached = work / f"{tag}-{i}-{batch}.pt"
        if not cached.exists():
            g = torch.Generator().manual_seed(8000 + i)
            with torch.inference_mode():
                for step in make(x_T[i:i + batch], g):
                    x = step.x
            torch.save(to_pixels(x.clamp(-1, 1)).squeeze(1), cached)
        out.append(torch.load(cached))
    return torch.cat(out)


def plan(args):
    """[(sampler name, steps)], cheapest first, so that a stopped run has the most points."""
    points = [("ddim", s) for s in args.ddim] + [("ddpm", s) for s in args.ddpm]
    return sorted(points, key=lambda p: (p[1], p[0]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="digits per point (default 1000)")
    ap.add_argument("--ddpm", type=int, nargs="*", default=[5, 10, 20, 50, 100, 250, 1000])
    ap.add_argument("--ddim", type=int, nargs="*", default=[5, 10, 20, 50, 100])
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--work", type=Path, default=WORK, help="cache of finished batches")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.work.mkdir(parents=True, exist_ok=True)
    model = load_pretrained("mnist-ddpm")
    x_T = torch.randn(args.n, 1, 28, 28, generator=torch.Generator().manual_seed(X_T_SEED))
    old = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    same = old.get("n") == args.n and old.get("x_T_seed") == X_T_SEED
    result = {"command": "python tools/steps_quality.py" + (f" --n {args.n}" if args.n != 1000
                                                            else ""),
              "n": args.n, "x_T_seed": X_T_SEED, "checkpoint": "mnist-ddpm",
              "samplers": {"ddim": "DDIM, η = 0", "ddpm": "DDPM ancestral, σ² = β̃ (respaced)"},
              "real training digits": sample_quality(load_mnist("train")[0][:args.n]).to_dict(),
              "points": old.get("points", []) if same else []}
    done = {(p["sampler"], p["steps"]) for p in result["points"]}
    for name, steps in plan(args):
        if (name, steps) in done:
            continue
        start, cpu = time.perf_counter(), time.process_time()
        x = draw(make_sampler(model, name, steps), x_T, args.batch, args.work,
                 f"{name}-{steps}-n{args.n}-seed{X_T_SEED}")
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        report = sample_quality(x).to_dict()
        result["points"].append({"sampler": name, "steps": steps, "seconds": seconds,
                                 "cpu_seconds": cpu, **report})
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n",
                            encoding="utf-8")
        print(f"{name} {steps:>5} steps: confident {report['confident_share']:.3f}  "
              f"Fréchet {report['fid']:.2f}  ({seconds:.0f} s)", flush=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
