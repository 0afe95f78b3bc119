#!/usr/bin/env python3
"""Measure a class-conditional model at several guidance weights w: for each w, draw n digits
(n/10 of each class, DDIM) and judge them with the project's digit classifier
(``ddpm_edu.quality.conditional_quality``): accuracy on the requested digit, confident share,
classifier-feature Fréchet distance, diversity. Prints a Markdown table (the model card's) and,
with --json, writes the numbers.

    python tools/guidance_table.py --checkpoint mnist-cond --n 1000 --steps 50 --w 0 1 2 3 5
"""
from __future__ import annotations

import argparse
import json
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", default="mnist-cond")
    p.add_argument("--n", type=int, default=1000,
                   help="digits per guidance weight (a multiple of 10)")
    p.add_argument("--steps", type=int, default=50, help="DDIM steps")
    p.add_argument("--w", type=float, nargs="+", default=[0, 1, 2, 3, 5], help="guidance weights")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None, help="write the numbers to this file")
    args = p.parse_args(argv)

    import torch
    torch.set_num_threads(args.threads)
    from ddpm_edu import load_pretrained
    from ddpm_edu.quality import conditional_quality

    model = load_pretrained(args.checkpoint)
    labels = torch.arange(10).repeat_interleave(args.n // 10)
    rows = []
    print("| w | requested digit | worst class | confident | Fréchet | diversity | s |")
    print("|---|---|---|---|---|---|---|")
    for w in args.w:
        start = time.perf_counter()
        x = model.sample(len(labels), steps=args.steps, seed=args.seed, labels=labels, guidance=w)
        seconds = time.perf_counter() - start
        r = conditional_quality(x, labels)
        rows.append({"w": w, "seconds": seconds, "steps": args.steps, **r.to_dict()})
        print(f"| {w:g} | {100 * r.accuracy:.1f} % | {100 * r.min_class_accuracy:.1f} % | "
              f"{100 * r.confident_share:.1f} % | {r.fid:.2f} | {r.diversity:.2f} | "
              f"{seconds:.0f} |",
              flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"checkpoint": str(args.checkpoint), "n": len(labels), "rows": rows}, f,
                      indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
