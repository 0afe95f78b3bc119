"""CPU benchmark: our "mnist" U-Net architecture against the Hugging Face diffusion course's U-Net.

One run, one machine, measurements interleaved (A B, B A, A B, ...) so that both networks see the
same load; on a shared machine only the *ratios* are meaningful. Measures, for each network:

- parameters, and FLOPs per 28×28 image (forward; and training = forward + backward), counted by
  torch.utils.flop_counter.FlopCounterMode (matmuls, convolutions, attention; GroupNorm, SiLU and
  other element-wise work are not counted — they cost memory traffic, not FLOPs);
- training throughput: images/s of forward + MSE loss + backward + AdamW step on a batch, after
  warm-up steps;
- sampling cost: ms per network evaluation on a batch of images in no_grad/eval mode (one sampling
  step of DDPM/DDIM = one evaluation), extrapolated to a whole run of ``--steps`` steps;
- share of the CPU's fp32 peak: training FLOP/s ÷ the FLOP/s of a large fp32 matmul
  (``--peak-n`` square, best of several) measured in this same run. That matmul is the best the
  BLAS does on this machine now, so it is an empirical peak, not the data-sheet one.

The HF network (diffusers ``UNet2DModel`` as in the course's unit 1) is skipped, with a message,
when diffusers is not installed (``pip install 'ddpm-edu[benchmark]'``).

``--variants`` measures instead our network alone in the ways the training loop can run it: dtype
(fp32; bf16 autocast where ddpm_edu.hardware finds native bf16), torch threads (1, 2) and memory
format (contiguous, channels_last), interleaved the same way, each against the fp32 / 1 thread /
contiguous baseline; the share of peak is taken in the dtype used (a bf16 matmul for bf16 rows).

    .venv/bin/python benchmarks/bench_unet.py              # defaults: batch 64, 4 rounds
    .venv/bin/python benchmarks/bench_unet.py --quick      # a smoke run in a few seconds
    .venv/bin/python benchmarks/bench_unet.py --config '{"num_res_blocks": 2}'   # try a variant
    .venv/bin/python benchmarks/bench_unet.py --variants   # dtype × threads × memory format
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import json
import statistics
import sys
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's choice)"
    )
    p.add_argument("--batch", type=int, default=64, help="training batch size")
    p.add_argument("--train-steps", type=int, default=2, help="timed training steps per round")
    p.add_argument("--warmup", type=int, default=2, help="untimed training steps before timing")
    p.add_argument("--sample-batch", type=int, default=64, help="images per sampling evaluation")
    p.add_argument("--sample-evals", type=int, default=2, help="timed evaluations per round")
    p.add_argument("--steps", type=int, default=1000, help="sampling steps to extrapolate to")
    p.add_argument("--rounds", type=int, default=6, help="interleaved rounds: A B, B A, A B, ...")
    p.add_argument(
        "--peak-n", type=int, default=1024, help="side of the square matmul for the peak"
    )
    p.add_argument("--architecture", default="mnist",
                   help="our network architecture (ddpm_edu.nets.ARCHITECTURES)")
    p.add_argument("--config", default=None, help="JSON dict of fields overriding the architecture")
    p.add_argument("--no-hf", action="store_true", help="skip the diffusers U-Net")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    p.add_argument("--quick", action="store_true", help="tiny smoke run (batch 8, 1 round)")
    p.add_argument("--variants", action="store_true",
                   help="our network only: dtype × threads × memory format, "
                        "against fp32 / 1 thread / contiguous")
    p.add_argument("--dtypes", default="auto",
                   help="with --variants: auto (fp32, and bf16 where native), fp32, bf16, "
                        "or fp32,bf16")
    p.add_argument("--variant-threads", default=None,
                   help="with --variants: thread counts (default 1,2; with --quick 1)")
    p.add_argument("--formats", default="contiguous,channels_last",
                   help="with --variants: memory formats (contiguous, channels_last)")
    args = p.parse_args(argv)
    if args.quick:
        args.batch, args.sample_batch, args.rounds = 8, 8, 1
        args.train_steps, args.warmup, args.sample_evals, args.peak_n = 1, 1, 1, 256
    if args.variant_threads is None:  # 2 threads on a busy 2-core box can take 10× as long
        args.variant_threads = "1" if args.quick else "1,2"
    return args


def hf_course_unet():
    """The U-Net of the HF diffusion course, unit 1 (MNIST-sized), or None without diffusers."""
    try:
        from diffusers import UNet2DModel
    except ImportError:
        return None
    net = UNet2DModel(sample_size=28, in_channels=1, out_channels=1, layers_per_block=2,
                      block_out_channels=(32, 64, 64),
                      down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
                      up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"))

    def forward(x, t):
        return net(x, t - 1).sample  # diffusers counts timesteps 0..T-1: ours minus one

    return net, forward


def flops_per_image(forward, params, shape, batch=4):
    """(forward FLOPs, training FLOPs) per image: ``ddpm_edu.nets.flops_per_image``."""
    from ddpm_edu.nets import flops_per_image as count
    return count(forward, params, shape, batch)


def matmul_peak(n, repeats=5, dtype=None):
    """FLOP/s of the best of ``repeats`` n×n matmuls (2n³ FLOPs each) in ``dtype`` (None: fp32)."""
    import torch

    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best


class Contestant:
    """One network with its optimiser and fixed random batches.

    ``dtype`` (None = fp32, or torch.bfloat16 for autocast), ``threads`` (None = leave torch's
    setting) and ``channels_last`` are how it is run; ``flops`` = (forward, training) FLOPs per
    image when already counted for the same network.
    """

    def __init__(self, name, net, forward, shape, args, dtype=None, threads=None,
                 channels_last=False, flops=None):
        import torch

        self.name, self.net, self.forward = name, net, forward
        self.dtype, self.threads, self.channels_last = dtype, threads, channels_last
        self.params = [p for p in net.parameters() if p.requires_grad]
        self.n_params = sum(p.numel() for p in self.params)
        self.fwd_flops, self.train_flops = flops or flops_per_image(forward, self.params, shape)
        self.opt = torch.optim.AdamW(self.params, lr=1e-4)
        g = torch.Generator().manual_seed(0)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last:
            net.to(memory_format=fmt)
        self.x = torch.randn(args.batch, *shape, generator=g).to(memory_format=fmt)
        self.noise = torch.randn(args.batch, *shape, generator=g).to(memory_format=fmt)
        self.t = torch.randint(1, 1001, (args.batch,), generator=g)
        self.xs = torch.randn(args.sample_batch, *shape, generator=g).to(memory_format=fmt)
        self.ts = torch.full((args.sample_batch,), 500, dtype=torch.long)
        self.train_ips, self.sample_ms = [], []  # wall clock
        self.train_cpu_s, self.sample_cpu_ms = [], []  # CPU time of this process (all threads)

    def use_threads(self):
        import torch

        if self.threads:
            torch.set_num_threads(self.threads)

    def running(self):
        """A context: bf16 autocast when this contestant's dtype says so, else nothing."""
        import torch

        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast("cpu", dtype=self.dtype)

    def train_steps(self, k):
        import torch.nn.functional as F

        self.net.train()
        for _ in range(k):
            with self.running():
                loss = F.mse_loss(self.forward(self.x, self.t).float(), self.noise)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()

    def time_train(self, k):
        self.use_threads()  # outside the timing: a change of thread count resizes the pool
        t0, c0 = time.perf_counter(), time.process_time()
        self.train_steps(k)
        self.train_ips.append(k * self.x.shape[0] / (time.perf_counter() - t0))
        self.train_cpu_s.append((time.process_time() - c0) / (k * self.x.shape[0]))

    def time_sample(self, k):
        import torch

        self.net.eval()
        self.use_threads()
        with torch.no_grad(), self.running():
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(k):
                self.forward(self.xs, self.ts)
            self.sample_ms.append(1e3 * (time.perf_counter() - t0) / k)
            self.sample_cpu_ms.append(1e3 * (time.process_time() - c0) / k)


def _split(text, allowed, what):
    """"a,b" → ["a", "b"], each checked against ``allowed`` (a tuple of names, or int)."""
    items = [v.strip() for v in text.split(",") if v.strip()]
    if allowed is int:
        if not items or not all(v.isdigit() and int(v) > 0 for v in items):
            raise SystemExit(f"{what} must be positive ints separated by commas, got {text!r}.")
        return [int(v) for v in items]
    if not items or any(v not in allowed for v in items):
        raise SystemExit(f"{what} must be among {', '.join(allowed)} (comma-separated), "
                         f"got {text!r}.")
    return list(dict.fromkeys(items))


def variant_contestants(net, shape, args):
    """Our network once per (dtype, threads, memory format); the first is the fp32 baseline."""
    from ddpm_edu import hardware

    if args.dtypes == "auto":  # bf16 only where it is native: emulated it was ~60× slower
        dtypes = ["fp32"] + (["bf16"] if hardware.autocast_dtype("auto", "cpu") else [])
    else:
        dtypes = _split(args.dtypes, ("fp32", "bf16"), "--dtypes")
    threads = _split(args.variant_threads, int, "--variant-threads")
    formats = _split(args.formats, ("contiguous", "channels_last"), "--formats")
    params = [p for p in net.parameters() if p.requires_grad]
    flops = flops_per_image(net, params, shape)
    out = []
    for dt in sorted(dtypes, key=lambda d: d != "fp32"):
        for th in threads:
            for fmt in formats:
                out.append(Contestant(f"{dt}, {th} thr, {fmt}", copy.deepcopy(net),
                                      None, shape, args, flops=flops, threads=th,
                                      dtype=hardware.autocast_dtype(dt, "cpu"),
                                      channels_last=fmt == "channels_last"))
                out[-1].forward = out[-1].net
    return out


def measure_variants(variants, args):
    """Interleaved rounds over all variants; returns {(dtype, threads): [matmul FLOP/s, ...]}."""
    import torch

    peaks = {(m.dtype, m.threads): [] for m in variants}
    for m in variants:
        m.use_threads()
        m.train_steps(args.warmup)
        m.time_sample(1)  # warm-up of the no_grad path
        m.sample_ms.clear(), m.sample_cpu_ms.clear()
    for r in range(args.rounds):
        order = variants if r % 2 == 0 else variants[::-1]  # A B C, C B A, ...
        for dtype, threads in peaks:
            torch.set_num_threads(threads)
            peaks[dtype, threads].append(matmul_peak(args.peak_n, dtype=dtype))
        for m in order:
            m.time_train(args.train_steps)
        for m in order:
            m.time_sample(args.sample_evals)
    return peaks


def run_variants(net, shape, args, cfg) -> int:
    """``--variants``: print (and optionally save) the table of our network's variants."""
    from ddpm_edu import hardware

    hw = hardware.describe_hardware("cpu")
    variants = variant_contestants(net, shape, args)
    print(f"{hw['cpu']} ({hw['cpu_capability']}, native bf16: {hw['native_bf16']}, "
          f"{hw['cores_available']} cores), torch {hw['torch']}; batch {args.batch} (training), "
          f"{args.sample_batch} (sampling); {args.rounds} interleaved rounds")
    peaks = measure_variants(variants, args)
    best = {k: max(v) for k, v in peaks.items()}
    for (dtype, threads), v in best.items():
        print(f"  peak {'bf16' if dtype else 'fp32'} {args.peak_n}² matmul, {threads} thr: "
              f"{v / 1e9:.0f} GFLOP/s")
    base = variants[0]
    print(f"\n| variant | train img/s | × base | CPU ms/img | % of peak (own dtype) "
          f"| ms per eval of {args.sample_batch} | sampling × base |\n" + "|---" * 7 + "|")
    rows = []
    for m in variants:
        ips, ms = statistics.median(m.train_ips), statistics.median(m.sample_ms)
        up = statistics.median(a / b for a, b in zip(m.train_ips, base.train_ips))
        sup = statistics.median(b / a for a, b in zip(m.sample_ms, base.sample_ms))
        share = 100 * ips * m.train_flops / best[m.dtype, m.threads]
        cpu = 1e3 * statistics.median(m.train_cpu_s)
        print(f"| {m.name} | {ips:.0f} | {up:.2f} | {cpu:.2f} | {share:.0f} | {ms:.0f} "
              f"| {sup:.2f} |")
        rows.append({"variant": m.name, "train_images_per_s": ips, "train_speedup": up,
                     "train_images_per_s_rounds": m.train_ips, "train_cpu_ms_per_image": cpu,
                     "peak_share_percent": share, "sample_ms_per_eval": ms,
                     "sample_speedup": sup, "sample_ms_per_eval_rounds": m.sample_ms})
    print(f"(× base: median of the per-round ratios to the first row; training = forward + "
          f"backward + AdamW;\n{base.train_flops / 1e6:.1f} MFLOP per training image; on a "
          f"shared machine compare the ratios, not the absolute numbers)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"hardware": hw, "args": vars(args), "our_config": cfg, "variants": rows,
                       "peaks": {f"{'bf16' if d else 'fp32'}/{t}": v
                                 for (d, t), v in peaks.items()}}, f, indent=2)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)  # before the first op, or it may not take effect
    torch.manual_seed(0)
    from ddpm_edu.nets import architecture, build_network

    cfg = architecture(args.architecture)
    if args.config:
        cfg.update(json.loads(args.config))
    ours = build_network(cfg)
    if ours.kind != "unet":
        print(f"--architecture {args.architecture!r} is not an image U-Net; choose mnist or "
              "flowers64.")
        return 2
    c = ours.config
    shape = (c.in_channels, c.image_size, c.image_size)
    if args.variants:
        return run_variants(ours, shape, args, cfg)

    contestants = [Contestant(f"ours ({args.architecture})", ours, ours, shape, args)]
    hf = None if args.no_hf else hf_course_unet()
    if hf is None:
        why = "--no-hf given" if args.no_hf else ("diffusers is not installed "
                                                   "(pip install 'ddpm-edu[benchmark]')")
        print(f"Skipping the HF course U-Net: {why}. Only our network is measured.\n")
    elif shape != (1, 28, 28):
        print(f"Skipping the HF course U-Net: it is built for 1×28×28, our architecture is "
              f"{shape}.\n")
        hf = None
    if hf is not None:
        contestants.append(Contestant("HF course UNet2DModel", hf[0], hf[1], shape, args))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch {args.batch} "
          f"(training), {args.sample_batch} (sampling); {args.rounds} interleaved rounds")
    for m in contestants:
        m.train_steps(args.warmup)
        m.time_sample(1)  # warm-up of the no_grad path
        m.sample_ms.clear(), m.sample_cpu_ms.clear()
    peaks = []
    for r in range(args.rounds):
        order = contestants if r % 2 == 0 else contestants[::-1]  # A B, B A, A B, ...
        peaks.append(matmul_peak(args.peak_n))
        for m in order:
            m.time_train(args.train_steps)
        for m in order:
            m.time_sample(args.sample_evals)
    peak = max(peaks)

    print(f"\nfp32 peak estimate: {peak / 1e9:.1f} GFLOP/s = the best of {args.rounds * 5} "
          f"{args.peak_n}×{args.peak_n} matmuls timed during this run (not a data-sheet figure)\n")
    head = (f"{'network':<24}{'params':>11}{'fwd MFLOP':>11}{'train MFLOP':>13}{'train img/s':>13}"
            f"{'CPU ms/img':>12}{'% peak':>8}{'ms/eval':>9}{'s/50 st':>9}{'s/1000 st':>11}")
    print(head + "\n" + "-" * len(head))
    rows = []
    for m in contestants:
        ips, cpu = statistics.median(m.train_ips), statistics.median(m.train_cpu_s)
        ms = statistics.median(m.sample_ms)
        share = 100 * ips * m.train_flops / peak
        rows.append({"name": m.name, "params": m.n_params, "fwd_flops_per_image": m.fwd_flops,
                     "train_flops_per_image": m.train_flops, "train_images_per_s": ips,
                     "train_images_per_s_rounds": m.train_ips, "train_cpu_s_per_image": cpu,
                     "sample_ms_per_eval": ms, "sample_ms_per_eval_rounds": m.sample_ms,
                     "sample_cpu_ms_per_eval": statistics.median(m.sample_cpu_ms),
                     "sample_batch": args.sample_batch, "peak_share_percent": share})
        print(f"{m.name:<24}{m.n_params:>11,}{m.fwd_flops / 1e6:>11.1f}{m.train_flops / 1e6:>13.1f}"
              f"{ips:>13.1f}{1e3 * cpu:>12.2f}{share:>8.1f}{ms:>9.1f}{ms * 50 / 1e3:>9.2f}"
              f"{ms * args.steps / 1e3:>11.1f}")
    print(
        f"(training: forward + backward + AdamW, batch {args.batch}; sampling: one evaluation of "
        f"a batch of {args.sample_batch} = one sampler step, extrapolated to 50 and "
        f"{args.steps} steps)"
    )
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "args": vars(args),
              "peak_flops": peak, "peak_flops_rounds": peaks, "our_config": cfg, "networks": rows}
    if len(contestants) == 2:
        a, b = contestants
        # a ratio per round (both networks measured back to back, under the same load), then the
        # median
        wall = [x / y for x, y in zip(a.train_ips, b.train_ips)]
        cpu = [y / x for x, y in zip(a.train_cpu_s, b.train_cpu_s)]
        samp = [y / x for x, y in zip(a.sample_ms, b.sample_ms)]
        result.update(train_speedup=statistics.median(wall), train_speedup_rounds=wall,
                      train_speedup_cpu_time=statistics.median(cpu),
                      sample_speedup=statistics.median(samp), sample_speedup_rounds=samp,
                      param_ratio=b.n_params / a.n_params, flop_ratio=b.fwd_flops / a.fwd_flops)
        print(f"\nOURS vs HF, median of the per-round ratios:\n"
              f"  training images/s: {statistics.median(wall):.2f}×  (rounds: "
              f"{', '.join(f'{v:.2f}' for v in wall)})\n"
              f"  training, by CPU time per image: {statistics.median(cpu):.2f}×\n"
              f"  sampling, per evaluation: {statistics.median(samp):.2f}× faster  (rounds: "
              f"{', '.join(f'{v:.2f}' for v in samp)})\n"
              f"  HF has {b.n_params / a.n_params:.2f}× the parameters and "
              f"{b.fwd_flops / a.fwd_flops:.2f}× the forward FLOPs.")
    print("\nFLOPs counted by torch.utils.flop_counter.FlopCounterMode (convolutions, matmuls, "
          "attention;\nnormalisation and element-wise ops are not counted). On a shared machine "
          "compare the ratios,\nnot the absolute numbers.")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
