"""The full bound L_vlb (bits/dim) on many test images, split over several processes.

``ddpm-edu eval --bpd`` computes the full bound in one process: T = 1000 network calls per batch,
about 70 min of one CPU core for 1000 MNIST test images (measured: two shards of 500 took 32 and
36 min of CPU time). This script cuts the images into contiguous shards, runs
``ddpm_edu.bpd_full`` on each shard in its own process (one torch thread each, the noise of shard
i seeded with ``seed + i``), and merges the per-image bounds into one estimate with its 95 %
interval. The result is the same estimator as the CLI's; only the noise
draws differ (another seed), so it agrees with the CLI within the interval, not to the last digit.

    python tools/full_bound_parallel.py --checkpoint mnist --n 1000 --procs 2 --out bpd.json

The JSON has the fields of ``ddpm-edu eval --bpd --json --per-t`` plus ``shards``.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path


def _shard(args):
    """Run bpd_full on images [start, stop) and return plain lists (picklable)."""
    checkpoint, start, stop, seed, batch_size = args
    import torch

    from ddpm_edu import load_pretrained
    from ddpm_edu.commands.evaluate import held_out_images
    from ddpm_edu.evaluation import bpd_full

    torch.set_num_threads(1)
    model = load_pretrained(checkpoint)
    images, what = held_out_images(model.shape, stop)
    g = torch.Generator().manual_seed(seed)
    est = bpd_full(model.eps, model.schedule, images[start:stop], batch_size=batch_size,
                   generator=g, var_type=model.var_type)
    return {"start": start, "stop": stop, "seed": seed, "per_image": est.per_image.tolist(),
            "prior": est.prior.tolist(), "per_t_sum": (est.per_t * est.n).tolist(),
            "seconds": est.seconds, "data": what, "var_type": model.var_type}


def merge(parts: list[dict]):
    """One BPDEstimate from shard results (per-t means weighted by shard sizes)."""
    import torch

    from ddpm_edu.evaluation import BPDEstimate

    parts = sorted(parts, key=lambda p: p["start"])
    per_image = torch.tensor([v for p in parts for v in p["per_image"]], dtype=torch.float64)
    prior = torch.tensor([v for p in parts for v in p["prior"]], dtype=torch.float64)
    per_t = (
        torch.tensor([p["per_t_sum"] for p in parts], dtype=torch.float64).sum(0)
        / per_image.numel()
    )
    return BPDEstimate(
        "full", per_image, prior, per_t, None, None, max(p["seconds"] for p in parts)
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default="mnist")
    ap.add_argument("--n", type=int, default=1000, help="first N test images")
    ap.add_argument("--procs", type=int, default=2, help="processes (one torch thread each)")
    ap.add_argument("--seed", type=int, default=0, help="shard i uses seed + i")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--out", type=Path, help="write the JSON here (default: print it)")
    a = ap.parse_args(argv)
    if a.n < a.procs or a.procs < 1:
        ap.error("--n must be at least --procs, and --procs at least 1")
    edges = [round(i * a.n / a.procs) for i in range(a.procs + 1)]
    jobs = [
        (a.checkpoint, edges[i], edges[i + 1], a.seed + i, a.batch_size) for i in range(a.procs)
    ]
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(a.procs) as pool:
        parts = pool.map(_shard, jobs)
    est = merge(parts)
    d = est.to_dict(per_t=True)
    d.update(
        {
            "checkpoint": str(a.checkpoint),
            "data": parts[0]["data"],
            "var_type": parts[0]["var_type"],
            "cdf": "exact",
            "seconds": time.perf_counter() - t0,
            "shards": [{k: p[k] for k in ("start", "stop", "seed", "seconds")} for p in parts],
        }
    )
    text = json.dumps(d)
    if a.out:
        a.out.write_text(text + "\n")
    else:
        print(text)
    print(f"{est}; {d['seconds']:.0f} s wall", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
