"""Ablation of the MNIST training recipe at equal wall time (issue 14).

    python benchmarks/ablation.py --budget-seconds 120 --out runs/ablation     # all variants
    python benchmarks/ablation.py --only ddpm,cosine --budget-seconds 120      # some of them
    python benchmarks/ablation.py --quick                                     # smoke run, ~1 min
    python benchmarks/ablation.py --table runs/ablation                        # print the table

Equal wall time on a shared machine. The budget is "B seconds of the reference machine" (2 cores
of the AVX-512 + bf16 machine, quiet), where our "mnist" U-Net trains at ``--reference-ips``
images/s in bf16 (608 at 2 threads, batch 64: issue 14). A variant whose step costs more or less
than that (fp32, another width, the HF course's U-Net, another batch) gets proportionally fewer
or more images: its speed relative to the reference variant is measured at the start, side by
side in interleaved rounds in this process (a ratio, which a busy machine disturbs far less than
an absolute speed). So every variant trains for the images it would have trained in B seconds on
the reference machine, however busy this one is while it runs, and the runs are reproducible.

Each variant is the "ddpm" recipe (DDPM's choices; the shipped "mnist" model's recipe) with some
settings changed; results go to ``OUT/NAME.json`` as each finishes (a rerun skips finished
variants), with the loss curve, then the table is printed. Quality: 500 DDIM-50 samples from
the EMA network, judged by ``ddpm_edu.quality.sample_quality`` (confident share, smallest class,
classifier-feature Fréchet distance).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_unet import hf_course_unet  # noqa: E402

from ddpm_edu.hardware import cpu_has_native_bf16  # noqa: E402
from ddpm_edu.quality import sample_quality  # noqa: E402
from ddpm_edu.recipes import get_recipe  # noqa: E402
from ddpm_edu.sampling import sample  # noqa: E402
from ddpm_edu.training import train  # noqa: E402

# name → (what it changes, TrainConfig changes, network changes or "hf")
BF16 = {"precision": "bf16"}
V2 = {**BF16, "lr_schedule": "cosine", "loss": "min_snr"}
VARIANTS: dict[str, tuple[str, dict, dict | str]] = {
    "ddpm": ("DDPM's recipe: ε, L_simple, constant LR 1e-3, batch 64, fp32", {}, {}),
    "ddpm-bf16": ("the same in bf16 autocast (more images in the time)", BF16, {}),
    "cosine": ("+ cosine LR decay to the end of the budget", {**BF16, "lr_schedule": "cosine"},
               {}),
    "min-snr": ("+ min-SNR-γ loss weighting (γ = 5)", V2, {}),
    "lr2e-3": ("+ LR 2e-3", {**V2, "lr": 2e-3}, {}),
    "batch128": ("+ batch 128, LR 2e-3", {**V2, "lr": 2e-3, "batch_size": 128}, {}),
    "ema0.995": ("+ EMA 0.995 (shorter average)", {**V2, "ema_decay": 0.995}, {}),
    "warmup50": ("+ warm-up 50 steps (not 200)", {**V2, "warmup_steps": 50}, {}),
    "v-pred": ("+ v-prediction", {**V2, "mean_type": "v"}, {}),
    "narrow": ("+ U-Net 24/24/48 channels", V2, {"base_channels": 24}),
    "wide": ("+ U-Net 48/48/96 channels", V2, {"base_channels": 48}),
    "deep": ("+ 2 residual blocks per level", V2, {"num_res_blocks": 2}),
    "bf16-equal-steps": ("ddpm-bf16 stopped at ddpm's number of steps (fp32 vs bf16 at equal "
                         "steps)", BF16, {}),
    "hf-course": ("the HF course's U-Net (unit 1), ε, L_simple, AdamW 1e-3, batch 128, fp32",
                  {"lr": 1e-3, "batch_size": 128}, "hf"),
}
REFERENCE = "ddpm-bf16"  # the variant whose images/s --reference-ips is
SAME_STEPS_AS = {"bf16-equal-steps": "ddpm"}  # trained for another variant's steps, not the time


class _HF(nn.Module):
    """diffusers' UNet2DModel behind our forward(x_t, t) with paper indices t = 1..T."""

    def __init__(self):
        super().__init__()
        self.net, _ = hf_course_unet()

    def forward(self, x, t):
        return self.net(x, t - 1).sample


def build(name: str, steps: int, threads: int):
    """(network, schedule, TrainConfig, data) of a variant, trained for ``steps``."""
    _, changes, net_changes = VARIANTS[name]
    recipe = get_recipe("ddpm")
    cfg = recipe.train.replace(**changes, steps=steps, threads=threads, save_every=10**9,
                               log_every=10**9)
    if net_changes == "hf":
        torch.manual_seed(cfg.seed)
        net = _HF()
    else:
        recipe = type(recipe)(recipe.name, recipe.about, {**recipe.network, **net_changes},
                              recipe.schedule, cfg, recipe.dataset)
        net = recipe.build_network()
    return net, recipe.build_schedule(), cfg, recipe.load_data()


def cost_key(name: str) -> str:
    """What sets a variant's cost per image: its network, precision and batch size (not its loss,
    learning rate or EMA, which cost nothing measurable)."""
    _, changes, net_changes = VARIANTS[name]
    return json.dumps([net_changes, changes.get("precision", "fp32"),
                       changes.get("batch_size", 64)], sort_keys=True)


def images_per_second(names, threads: int, rounds: int, steps: int) -> dict[str, float]:
    """Training images/s of each variant, timed in interleaved rounds (median per variant);
    variants of equal cost (:func:`cost_key`) share one measurement."""
    first = {}
    for n in names:
        first.setdefault(cost_key(n), n)
    ips = _time_interleaved(list(first.values()), threads, rounds, steps)
    return {n: ips[first[cost_key(n)]] for n in names}


def _time_interleaved(names, threads: int, rounds: int, steps: int) -> dict[str, float]:
    runs = {n: build(n, 10**6, threads) for n in names}
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for n in (names if r % 2 == 0 else names[::-1]):
            net, schedule, cfg, data = runs[n]
            cfg = cfg.replace(steps=steps + 1)
            t0 = time.perf_counter()
            train(net, schedule, data, cfg, progress=False)
            times[n].append(cfg.batch_size * (steps + 1) / (time.perf_counter() - t0))
    return {n: sorted(v)[len(v) // 2] for n, v in times.items()}


def run_variant(name: str, steps: int, threads: int, n_eval: int) -> dict:
    net, schedule, cfg, data = build(name, steps, threads)
    t0 = time.perf_counter()
    result = train(net, schedule, data, cfg, progress=False)
    train_s = time.perf_counter() - t0
    x = sample(result.ema_net, schedule, n_eval, (1, 28, 28), steps=50, seed=0,
               mean_type=cfg.mean_type, batch_size=250, progress=False)
    q = sample_quality(x)
    curve = result.loss_history
    every = max(1, len(curve) // 200)
    return {"name": name, "about": VARIANTS[name][0], "steps": steps,
            "batch_size": cfg.batch_size, "images": steps * cfg.batch_size,
            "train_seconds_here": round(train_s, 1), "n_eval": n_eval,
            "confident_share": q.confident_share, "min_class_share": q.min_class_share,
            "fid": q.fid, "final_loss_mean_last_100": sum(curve[-100:]) / len(curve[-100:]),
            "loss_curve_every": every, "loss_curve": [round(v, 5) for v in curve[::every]]}


def _timed(name: str) -> str:
    """The variant whose measured speed sets ``name``'s number of steps."""
    return SAME_STEPS_AS.get(name, name)


def table(out: Path) -> str:
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))
            if p.name != "calibration.json"]
    order = {n: i for i, n in enumerate(VARIANTS)}
    rows.sort(key=lambda r: order.get(r["name"], 99))
    lines = ["| variant | what changes | images/s × ref | steps × batch | confident | "
             "smallest class | FID |", "|---|---|---|---|---|---|---|"]
    cal = json.loads((out / "calibration.json").read_text())
    for r in rows:
        lines.append(f"| `{r['name']}` | {r['about']} | {cal['ratio'][_timed(r['name'])]:.2f} | "
                     f"{r['steps']} × {r['batch_size']} | {100 * r['confident_share']:.1f} % | "
                     f"{100 * r['min_class_share']:.1f} % | {r['fid']:.2f} |")
    return "\n".join(lines)


def plot_precision(out: Path, png: Path, window: int = 50) -> None:
    """fp32 ("ddpm") against bf16 at equal steps ("bf16-equal-steps"): their loss curves,
    smoothed over ``window`` steps, in one figure."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, label in (("ddpm", "fp32"), ("bf16-equal-steps", "bf16 autocast")):
        r = json.loads((out / f"{name}.json").read_text())
        curve = torch.tensor(r["loss_curve"])
        k = max(1, window // r["loss_curve_every"])
        smooth = curve.unfold(0, k, 1).mean(1)
        steps = torch.arange(len(smooth)) * r["loss_curve_every"] + k * r["loss_curve_every"]
        ax.plot(steps, smooth, label=f"{label}: {100 * r['confident_share']:.1f} % confident, "
                                     f"FID {r['fid']:.1f}")
    ax.set(xlabel="training step", ylabel=f"loss (mean of {window} steps)", yscale="log",
           title="DDPM's recipe at equal steps: fp32 vs bf16")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget-seconds", type=float, default=120.0)
    p.add_argument("--reference-ips", type=float, default=608.0)
    p.add_argument("--out", type=Path, default=Path("runs/ablation"))
    p.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--n-eval", type=int, default=500)
    p.add_argument("--quick", action="store_true", help="a smoke run: 3 variants, tiny budget")
    p.add_argument("--table", type=Path, help="print the table of a finished run and stop")
    p.add_argument("--plot", type=Path, metavar="PNG",
                   help="with --table: also draw the fp32 vs bf16 loss curves into PNG")
    return p.parse_args(argv)


def main(argv=None):
    a = parse(argv)
    if a.table:
        print(table(a.table))
        if a.plot:
            plot_precision(a.table, a.plot)
        return
    names = [n for n in (a.only.split(",") if a.only else VARIANTS) if n]
    if a.quick:
        names, a.budget_seconds, a.n_eval = ["ddpm", "ddpm-bf16", "min-snr"], 3.0, 50
    unknown = set(names) - set(VARIANTS)
    if unknown:
        sys.exit(f"unknown variants {sorted(unknown)}; choose from {', '.join(VARIANTS)}")
    if not cpu_has_native_bf16():
        print("note: this CPU has no native bf16; bf16 variants will be slow (emulated).")
    a.out.mkdir(parents=True, exist_ok=True)
    cal_path = a.out / "calibration.json"
    timed = {_timed(n) for n in names}
    if cal_path.exists() and timed <= set(json.loads(cal_path.read_text())["ratio"]):
        cal = json.loads(cal_path.read_text())
    else:  # ratios are measured once per run folder, for every variant named so far
        ips = images_per_second([n for n in VARIANTS if n in timed | {REFERENCE}],
                                a.threads, rounds=3, steps=10)
        cal = {"images_per_second_here": ips,
               "ratio": {n: ips[n] / ips[REFERENCE] for n in ips},
               "reference": REFERENCE, "reference_ips": a.reference_ips,
               "budget_seconds": a.budget_seconds, "threads": a.threads}
        cal_path.write_text(json.dumps(cal, indent=1))
    for n in names:
        path = a.out / f"{n}.json"
        if path.exists():
            continue
        batch = build(n, 1, a.threads)[2].batch_size
        images = cal["budget_seconds"] * cal["reference_ips"] * cal["ratio"][_timed(n)]
        steps = max(1, round(images / batch))
        print(f"{n}: {steps} steps of {batch} ({VARIANTS[n][0]})", flush=True)
        path.write_text(json.dumps(run_variant(n, steps, a.threads, a.n_eval), indent=1))
    print(table(a.out))


if __name__ == "__main__":
    main()
