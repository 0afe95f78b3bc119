"""Train a recipe with another U-Net width or depth, for a time budget (issue 14's "U-Net width
and depth", at the length of a shipped model's run rather than the ablation's two minutes).

    python benchmarks/net_variant.py --recipe mnist --channel-mult 1 2 4 --minutes 95 \\
        --out runs/mnist-wide-long
    python benchmarks/net_variant.py --recipe mnist --num-res-blocks 2 --minutes 95 --out runs/deep
    ddpm-edu eval --checkpoint runs/mnist-wide-long --quality --n 1000 --steps 50

Everything but the network is the recipe's (loss, learning rate and its cosine decay, batch,
EMA, precision); --minutes replaces its step count, so the learning rate decays to the end of the
time budget as ``ddpm-edu train --minutes`` does. The folder is an ordinary run: ``ddpm-edu
train --resume DIR`` continues it after Ctrl-C, ``ddpm-edu eval/sample --checkpoint DIR`` use
it. The changed network settings are saved in the checkpoint (``extra.network_changes``).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from ddpm_edu.checkpoints import prepare_run_dir
from ddpm_edu.recipes import get_recipe
from ddpm_edu.training import NO_STEP_LIMIT, train


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--recipe", default="mnist")
    p.add_argument("--channel-mult", type=int, nargs="+", metavar="M",
                   help="channels per level as multiples of the base (mnist: 1 1 2)")
    p.add_argument("--base-channels", type=int, metavar="C", help="(mnist: 32)")
    p.add_argument("--num-res-blocks", type=int, metavar="N", help="per level (mnist: 1)")
    p.add_argument("--minutes", type=float, required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, required=True)
    return p.parse_args(argv)


def main(argv=None) -> int:
    a = parse(argv)
    changes = {k: v for k, v in {"channel_mult": a.channel_mult, "base_channels": a.base_channels,
                                 "num_res_blocks": a.num_res_blocks}.items() if v is not None}
    if not changes:
        sys.exit("name a change of the network (--channel-mult, --base-channels or "
                 "--num-res-blocks); for the recipe as it is, use ddpm-edu train --recipe")
    recipe = get_recipe(a.recipe).with_train(minutes=a.minutes, steps=NO_STEP_LIMIT,
                                              threads=a.threads, save_every=1000, log_every=100)
    recipe = dataclasses.replace(recipe, network={**recipe.network, **changes})
    prepare_run_dir(a.out)
    net = recipe.build_network()
    print(f"{a.recipe} with {changes}: {sum(p.numel() for p in net.parameters()):,} parameters, "
          f"{a.minutes:g} minutes → {a.out}", flush=True)
    extra = {"preset": recipe.name, "dataset": recipe.dataset, "network_changes": changes}
    result = train(net, recipe.build_schedule(), recipe.load_data(), recipe.train, out_dir=a.out,
                   progress=False, extra=extra,
                   callbacks=[lambda s: print(f"step {s.step} loss {s.loss:.4f}", flush=True)])
    print(f"trained {result.summary()}", flush=True)
    return 130 if result.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
