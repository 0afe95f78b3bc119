"""Time per slider move of the ddpm_edu.viz explorers (target: ≤ 50 ms, so a dragged slider feels
live).

Run:  .venv/bin/python benchmarks/bench_widgets.py [--moves 40] [--threads 1]

A "move" is what a browser slider event costs in the kernel: setting ``.value`` runs the ``observe``
callback, which recomputes the numbers, draws the picture and encodes the PNG put into the
``ipywidgets.Image`` (the comm message to the browser is not included). Images of 28×28 (MNIST-like,
greyscale) and 64×64 (Flowers-like, RGB) are timed; the KL and bucket explorers draw curves, not
images, so their cost does not depend on an image size. The explorers of the bound (chapters 3
and 9) and of DDIM (chapter 8) are timed on the stand-in ε-network of ``tests/browser/fakes.py``
(the shipped U-Net costs more per network call; the bound's explorers call it only when built, and
the DDIM explorer's first view of a (steps, η) pair costs ``steps`` calls). Not a test: numbers vary
with the machine and its load, which is printed beside them.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "browser"))


def _time_moves(slider, values, moves: int) -> list[float]:
    out = []
    for i in range(moves):
        v = values[i % len(values)]
        t0 = time.perf_counter()
        slider.value = v
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moves", type=int, default=40, help="slider moves per case (default 40)")
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1, as in the notebooks)"
    )
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    from fakes import ImageOracle, ring_image

    from ddpm_edu import linear_schedule
    from ddpm_edu.sampling import ddim_steps
    from ddpm_edu.viz import (BucketExplorer, ChainScrubber, DDIMExplorer, FastEstimatorExplorer,
                              ForwardExplorer, KLExplorer, VLBTermExplorer)
    from ddpm_edu.viz._render import load_image

    flower = load_image(REPO / "data" / "images" / "flower64.png")[0]  # (3, 64, 64)
    ring = ring_image(28)                                              # (1, 28, 28)
    s = linear_schedule(1000)
    ts = list(range(1, 1000, 37))
    cases = []
    for name, img in (("28×28", ring), ("64×64", flower)):
        fe = ForwardExplorer(img, t=0)
        cases.append((f"ForwardExplorer, t slider, {name}", fe.t, ts))
    for name, n, img in (("16 × 28×28", 16, ring), ("4 × 64×64", 4, flower)):
        steps = list(ddim_steps(ImageOracle(s, img), s, shape=(n,) + tuple(img.shape), steps=50,
                                generator=torch.Generator().manual_seed(0)))
        cs = ChainScrubber(steps, s)
        # first visit of each step renders it; later visits come from the cache
        cases.append((f"ChainScrubber, first view, {name}", cs.frame, list(range(1, len(steps)))))
        cases.append((f"ChainScrubber, cached, {name}", cs.frame, list(range(len(steps)))))
    kx = KLExplorer()
    cases.append(
        (
            "KLExplorer, σ_q slider (20000-draw Monte Carlo)",
            kx.sigma_q,
            [0.3 + 0.05 * i for i in range(30)],
        )
    )
    bx = BucketExplorer()
    cases.append(("BucketExplorer, pixel slider (σ₁ = 0.01)", bx.pixel, list(range(100, 160))))
    bx2 = BucketExplorer(sigma=0.3)
    cases.append(("BucketExplorer, pixel slider (σ₁ = 0.3, 256 buckets in view)", bx2.pixel,
                  list(range(0, 256, 5))))

    oracle = ImageOracle(s, ring, s=0.3)
    g = torch.Generator().manual_seed(0)
    digits = (ring + 0.2 * torch.randn(4, *ring.shape, generator=g)).clamp(-1, 1)
    steps = sorted(set(range(1, 11)) | {round(v) for v in torch.logspace(1.05, 3, 30).tolist()})
    ve = VLBTermExplorer(oracle, s, digits, steps)
    cases.append(("VLBTermExplorer, t slider, first view, 4 × 28×28", ve.t, steps))
    cases.append(("VLBTermExplorer, t slider, cached", ve.t, steps))
    terms = 0.02 * torch.rand(8, 50, generator=g, dtype=torch.float64)
    fe = FastEstimatorExplorer(terms, torch.zeros(8, dtype=torch.float64), draws=200)
    cases.append(("FastEstimatorExplorer, K slider (8 images, T = 50, 200 redraws)", fe.k, fe.ks))
    x_T = torch.randn(4, *ring.shape, generator=g)
    de = DDIMExplorer(oracle, s, x_T, step_options=(2, 5, 10, 20, 50))
    cases.append(("DDIMExplorer, steps slider, first view, 4 × 28×28", de.steps, [2, 5, 20, 50]))
    cases.append(("DDIMExplorer, steps slider, cached", de.steps, [2, 5, 10, 20, 50]))

    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    print(f"torch threads: {torch.get_num_threads()}, CPUs: {os.cpu_count()}, load average: "
          f"{load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f"{'case':64s} {'median ms':>10s} {'p90 ms':>8s} {'max ms':>8s}")
    worst = 0.0
    for label, slider, values in cases:
        moves = min(args.moves, len(values)) if "first view" in label else args.moves
        ms = _time_moves(slider, values, moves)
        p90 = statistics.quantiles(ms, n=10)[-1] if len(ms) >= 10 else max(ms)
        worst = max(worst, statistics.median(ms))
        print(f"{label:64s} {statistics.median(ms):10.1f} {p90:8.1f} {max(ms):8.1f}")
    print(f"slowest median: {worst:.1f} ms (target ≤ 50 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
