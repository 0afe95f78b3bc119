#!/usr/bin/env python3
"""Measure the score-family samplers of chapter 10 on the shipped MNIST model, at equal cost.

Every sampler gets 19 network calls and the same 1000 starting noises x_T; the shipped digit
classifier judges the results (``ddpm_edu.quality.sample_quality``: confident share, classes,
classifier-feature Fréchet distance to the 10 000 MNIST test digits). The reference rows are the
starting noise itself and 1000 real training digits. Chapter 10 plots the JSON this writes beside
its live run on a few digits:

    python tools/score_samplers_mnist.py --n 256   # data/checkpoints/mnist-ddpm-score-samplers.json
    python tools/score_samplers_mnist.py --n 64 --out x.json   # a quicker look

Minutes per sampler on 2 CPU cores (one sampler at n = 1000 took 730 s on heavily shared cores).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from ddpm_edu import (ddim_steps, ddpm_steps, langevin_steps, load_mnist, load_pretrained,
                      ode_steps, pc_steps)
from ddpm_edu.quality import sample_quality

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "data" / "checkpoints" / "mnist-ddpm-score-samplers.json"


def samplers(model):
    """name → (x_T, generator) → Step iterator; 19 network calls each (chapter 10, sec. 7)."""
    sch = model.schedule
    return {
        "DDIM η=0, 19 steps": lambda x_T, g: ddim_steps(model.eps, sch, x_T, steps=19),
        "ancestral, 19 steps": lambda x_T, g: ddpm_steps(model.eps, sch, x_T, steps=19,
                                                         var_type=model.var_type, generator=g),
        "ODE Heun, 10 steps": lambda x_T, g: ode_steps(model.eps, sch, x_T, steps=10,
                                                       method="heun"),
        "Langevin, 6 × 3": lambda x_T, g: langevin_steps(model.eps, sch, x_T, levels=6,
                                                         steps_per_level=3, generator=g),
        "PC: ancestral + 1 Langevin, 10 steps": lambda x_T, g: pc_steps(
            model.eps, sch, x_T, steps=10, eta=1.0, corrector_steps=1, snr=0.16, generator=g),
    }


def run(make, x_T, seed, batch):
    out = []
    for i in range(0, len(x_T), batch):
        g = torch.Generator().manual_seed(seed + i)
        with torch.inference_mode():
            for step in make(x_T[i:i + batch], g):
                x = step.x
        out.append(x.clamp(-1, 1))
    return torch.cat(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1000, help="digits per sampler (default 1000)")
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    model = load_pretrained("mnist-ddpm")
    x_T = torch.randn(args.n, 1, 28, 28, generator=torch.Generator().manual_seed(1010))
    train_images, _ = load_mnist("train")
    rows = {"real training digits": sample_quality(train_images[:args.n]).to_dict(),
            "the starting noise x_T": sample_quality(x_T.clamp(-1, 1)).to_dict()}
    seconds = {}
    for name, make in samplers(model).items():
        start = time.perf_counter()
        rows[name] = sample_quality(run(make, x_T, 11, args.batch)).to_dict()
        seconds[name] = time.perf_counter() - start
        print(f"{name:<40} confident {rows[name]['confident_share']:.3f}  "
              f"Fréchet {rows[name]['fid']:.2f}  ({seconds[name]:.0f} s)", flush=True)
    command = "python tools/score_samplers_mnist.py" + (f" --n {args.n}" if args.n != 1000 else "")
    result = {"command": command,
              "n": args.n, "network_calls": 19, "x_T_seed": 1010, "rows": rows, "seconds": seconds}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
