"""``ddpm-edu train``: train a model from a named recipe, or continue a run."""
from __future__ import annotations

import argparse
import sys
import textwrap
import time
from pathlib import Path

from .._choices import LOSS_TYPES, LR_SCHEDULES, MEAN_TYPES, MEMORY_FORMATS, VAR_TYPES
from ..errors import UserError
from ..hardware import DEVICES, PRECISIONS  # light: no torch until a recipe is built
from ..recipes import recipe_names, recipe_summaries
from . import _common

HELP = "train a diffusion model from a recipe, or continue a saved run"


def _recipe_list(width: int = 98) -> str:
    """The recipes, one entry each, from their own one-line summaries."""
    summaries = recipe_summaries()
    column = max(map(len, summaries)) + 4
    return "\n".join(textwrap.fill(about, width, initial_indent=f"  {name:<{column - 2}}",
                                    subsequent_indent=" " * column)
                      for name, about in summaries.items())


DESCRIPTION = (
    """\
Train a denoising diffusion model (DDPM, Ho et al. 2020, Algorithm 1): draw images x_0 from the
data, a time t ~ Uniform{1..T} and noise eps ~ N(0, I); form
x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps; teach the network to predict eps from (x_t, t)
with a mean squared error (L_simple).

A recipe (--recipe NAME, or --preset NAME) fixes the network, the noise schedule, the data and
the training settings; any option below overrides the recipe's value. Checkpoints go to --out
every --save-every steps, at the end, and when you press Ctrl-C, so no work is lost: continue with
--resume.

recipes:
"""
    + _recipe_list()
    + """

examples:
  ddpm-edu train --recipe tiny --out runs/tiny
  ddpm-edu train --recipe mnist-classroom --out runs/my-first-model
  ddpm-edu train --resume runs/my-first-model                 # continue after Ctrl-C or a crash
  ddpm-edu train --resume runs/my-first-model --steps 3000    # ... and train longer
  ddpm-edu train --recipe mnist-classroom --lr 1e-4 --out runs/slow   # try a smaller learning rate
  ddpm-edu train --recipe mnist-classroom --minutes 3 --out runs/three-min   # a shorter lesson
  torchrun --nproc-per-node 2 -m ddpm_edu.cli train --recipe tiny --out runs/tiny-ddp  # 2 processes
  ddpm-edu sample --checkpoint runs/my-first-model --n 64 --out digits.png

A resumed run continues bitwise exactly where it stopped (same thread count and precision);
only --steps, --minutes, --threads, --save-every and --log-every may change when resuming.

--minutes M stops the run when M minutes of training are spent (over all its sessions: a resumed
run continues the budget) and decays a cosine learning rate over that time; without --steps the
budget alone ends the run. It tells what M minutes buy on this machine, but it is not bitwise
reproducible (how many steps fit depends on the machine's speed); a --steps run is.

Under torchrun (DistributedDataParallel: gloo on the CPU, nccl on CUDA) the global --batch-size
is split evenly over the processes, so the result equals a one-process run with the same batch
up to float rounding (dropout masks aside); rank 0 saves and prints."""
)


def _threads(text: str):
    """--threads N (1 .. _common.MAX_THREADS) or --threads auto."""
    if text == "auto":
        return text
    try:
        return _common.threads(text)
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"{e}; or 'auto' (the fastest count, measured)") from None


def _one_of(choices) -> str:
    return "{" + ",".join(choices) + "}"

# option → (TrainConfig field, type, help)
_OVERRIDES = [
    (
        "--steps",
        "steps",
        int,
        "total number of training steps (optimizer updates); with --resume, "
        "a larger number trains longer",
    ),
    (
        "--batch-size",
        "batch_size",
        int,
        "images per step; larger batches give a less noisy gradient but each step takes longer",
    ),
    (
        "--lr",
        "lr",
        float,
        "peak learning rate of AdamW (e.g. 2e-4); lower it if the loss jumps or becomes NaN",
    ),
    (
        "--warmup-steps",
        "warmup_steps",
        int,
        "steps over which the learning rate rises linearly from ~0 to --lr (0: no warm-up)",
    ),
    ("--weight-decay", "weight_decay", float, "AdamW weight decay (DDPM used none: 0)"),
    ("--grad-clip", "grad_clip", float, "clip the gradient norm to this value (0: off; DDPM: 1)"),
    (
        "--ema-decay",
        "ema_decay",
        float,
        "decay of the exponential moving average of the weights, "
        "the weights you sample from (DDPM: 0.9999)",
    ),
    (
        "--mean-type",
        "mean_type",
        MEAN_TYPES,
        "what the network predicts: eps (the noise, DDPM), "
        "x0 (the clean image), mu (the posterior mean) or v "
        "(sqrt(abar_t) eps - sqrt(1 - abar_t) x_0)",
    ),
    (
        "--loss",
        "loss",
        LOSS_TYPES,
        "simple (DDPM's unweighted L_simple), vlb (weighted to equal "
        "the variational bound's terms) or min_snr (min-SNR-gamma "
        "weights, Hang et al. 2023)",
    ),
    ("--snr-gamma", "snr_gamma", float, "gamma of --loss min_snr (Hang et al.: 5)"),
    (
        "--var-type",
        "var_type",
        VAR_TYPES,
        "reverse-process variance: fixed_small (posterior "
        "variance, DDPM's better likelihood) or fixed_large "
        "(beta_t)",
    ),
    (
        "--lr-schedule",
        "lr_schedule",
        LR_SCHEDULES,
        "after the warm-up: constant (DDPM) or cosine "
        "(decays to --lr x --lr-min-ratio at the last "
        "step)",
    ),
    (
        "--lr-min-ratio",
        "lr_min_ratio",
        float,
        "the final learning rate of the cosine schedule as a fraction of --lr (default 0.1)",
    ),
    (
        "--precision",
        "precision",
        PRECISIONS,
        "auto (bf16 where this hardware computes it "
        "natively, else fp32), bf16 (autocast; fp32 weights "
        "and loss) or fp32",
    ),
    (
        "--label-dropout",
        "label_dropout",
        float,
        "class-conditional networks: the probability "
        "that a label is replaced by 'no label' "
        "(classifier-free guidance training)",
    ),
    (
        "--minutes",
        "minutes",
        float,
        "a time budget: stop after M minutes of training and decay a "
        "cosine learning rate over them (see below)",
    ),
    (
        "--memory-format",
        "memory_format",
        MEMORY_FORMATS,
        "the U-Net's memory order: contiguous, "
        "channels_last, or auto (channels_last "
        "for fp32 on the CPU, where it is "
        "faster)",
    ),
    (
        "--seed",
        "seed",
        _common.seed,
        "random seed of the initial weights, minibatches, t and noise",
    ),
    (
        "--threads",
        "threads",
        _threads,
        "CPU threads torch may use, or auto: the fastest count, "
        "measured on a few trial steps of this run (bitwise-"
        "identical results need the same number)",
    ),
    ("--save-every", "save_every", int, "write a checkpoint every N steps"),
    ("--log-every", "log_every", int, "report the loss every N steps"),
]


_METAVAR = {"steps": "N", "batch_size": "N", "lr": "LR", "warmup_steps": "N", "weight_decay": "W",
            "grad_clip": "NORM", "ema_decay": "D", "snr_gamma": "G", "lr_min_ratio": "R",
            "label_dropout": "P", "minutes": "M",
            "seed": "S", "threads": "{N,auto}", "save_every": "N",
            "log_every": "N"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_argument_group("what to train")
    what.add_argument("--recipe", "--preset", dest="recipe", metavar="NAME",
                      help=f"the recipe: {', '.join(recipe_names())} (see above)")
    what.add_argument("--out", metavar="DIR", help="folder for the checkpoints (default: "
                      "runs/RECIPE); it must not hold a run already")
    what.add_argument("--resume", metavar="DIR", help="continue the run saved in DIR (recipe, data "
                      "and settings are read from it)")
    how = parser.add_argument_group("training settings (override the recipe)")
    for flag, field, typ, text in _OVERRIDES:
        if isinstance(typ, tuple):  # a named choice: the list is the one TrainConfig checks against
            how.add_argument(flag, dest=field, choices=typ, default=None, metavar=_one_of(typ),
                             help=text)
        else:
            how.add_argument(flag, dest=field, type=typ, default=None, metavar=_METAVAR[field],
                             help=text)
    show = parser.add_argument_group("output")
    show.add_argument("--no-progress", action="store_true",
                      help="print a line every --log-every steps instead of a progress bar")
    show.add_argument("--device", default="cpu", metavar=_one_of(DEVICES),
                      help="where to train (default cpu); auto: cuda if present, else mps, else "
                           "cpu; under torchrun, cuda is the process's own GPU")


def _overrides(args) -> dict:
    changes = {field: getattr(args, field) for _, field, _, _ in _OVERRIDES
               if getattr(args, field) is not None}
    if "minutes" in changes and "steps" not in changes and not args.resume:
        from ..training import NO_STEP_LIMIT
        changes["steps"] = NO_STEP_LIMIT  # the time budget alone ends the run
    if "steps" in changes and "minutes" not in changes and not args.resume:
        changes["minutes"] = None  # a step budget replaces a recipe's time budget
    return changes


def _log_line(state) -> None:
    recent = state.loss_history[-state.config.log_every:]
    rate = (state.step - state.start_step) / state.seconds if state.seconds > 0 else float("nan")
    of = f"/{state.steps}" if state.config.minutes is None else ""
    print(f"step {state.step:>6}{of}  loss {state.loss:.4f}  "
          f"(mean of last {len(recent)}: {sum(recent) / len(recent):.4f})  lr {state.lr:.2e}  "
          f"{rate:.1f} steps/s", flush=True)


def run(args) -> int:
    """Train in this process; under torchrun as one rank of a data-parallel run (rank 0 prints)."""
    import contextlib
    import os

    from .. import distributed
    device = _common.check_device(args.device)
    where = distributed.setup(device)
    try:
        with contextlib.ExitStack() as stack:
            if where.rank != 0:
                stack.enter_context(contextlib.redirect_stdout(
                    stack.enter_context(open(os.devnull, "w"))))
            return _train(args, device, where)
    finally:
        distributed.shutdown()


def _budget(config) -> str:
    """"2000 steps", or "10 minutes" (with its step limit, if any)."""
    from ..training import NO_STEP_LIMIT
    if config.minutes is None:
        return f"{config.steps} steps"
    limit = f" (at most {config.steps} steps)" if config.steps < NO_STEP_LIMIT else ""
    return f"{config.minutes:g} minutes{limit}"


def _plan(args, where):
    """What to train: (net, schedule, data, config, extra, out_dir, title), from --resume or a
    recipe with the command line's overrides."""
    import torch

    from .. import checkpoints
    from ..recipes import get_recipe
    from ..training import prepare_resume

    changes = _overrides(args)
    if args.resume:
        out_dir = Path(args.resume)
        if args.out and Path(args.out) != out_dir:
            raise UserError(f"--resume continues the run in {out_dir} and writes there; drop --out "
                            f"{args.out} (or copy the folder first).")
        plan = prepare_resume(out_dir, **changes)
        if args.recipe and plan.extra.get("preset") not in (None, args.recipe):
            raise UserError(f"{out_dir} was trained with recipe {plan.extra.get('preset')!r}, not "
                            f"{args.recipe!r}; drop --recipe when resuming.")
        title = f"resuming {out_dir} from step {plan.step}"
        return plan.net, plan.schedule, plan.data, plan.config, plan.extra, out_dir, title
    if not args.recipe:
        raise UserError(f"choose a recipe with --recipe NAME (or --preset NAME), one of "
                        f"{', '.join(recipe_names())}; or continue a run with --resume DIR.")
    recipe = get_recipe(args.recipe).with_train(**changes)
    config = recipe.train
    if isinstance(config.threads, int):
        torch.set_num_threads(config.threads)  # before the network's first eager op
    out_dir = Path(args.out or f"runs/{recipe.name}")
    if where.rank == 0:  # before loading the data; train() checks it again
        checkpoints.prepare_run_dir(out_dir)
    net, schedule = recipe.build_network(), recipe.build_schedule()
    # the checkpoint key is "preset", the recipes' earlier name, which every saved run carries
    extra = {"preset": recipe.name, "dataset": recipe.dataset}
    if recipe.guidance is not None:  # what PretrainedModel.default_guidance reads back
        extra["guidance"] = recipe.guidance
    title = f"recipe {recipe.name!r}: {recipe.about}"
    return net, schedule, recipe.load_data(), config, extra, out_dir, title


def _print_plan(title, net, schedule, data, config, out_dir, where) -> None:
    import torch

    n_params = sum(p.numel() for p in net.parameters())
    print(f"ddpm-edu train: {title}")
    print(f"  network {net.kind}, {n_params:,} parameters; schedule {schedule.name}, "
          f"T = {schedule.T}; data {data.n} × {'×'.join(map(str, data.shape))}")
    print(f"  {_budget(config)} of {config.batch_size}, lr {config.lr:g} (warm-up "
          f"{config.warmup_steps}), EMA {config.ema_decay:g}, loss {config.loss}, predicting "
          f"{config.mean_type}; lr schedule {config.lr_schedule}; precision {config.precision}; "
          f"threads {config.threads or torch.get_num_threads()}")
    if where.world > 1:
        print(f"  data-parallel: {where.world} processes, {config.batch_size // where.world} "
              f"images each per step (DistributedDataParallel)")
    print(f"  checkpoints → {out_dir} (every {config.save_every} steps, at the end and on Ctrl-C)",
          flush=True)


def _train(args, device: str, where) -> int:
    from .. import checkpoints
    from ..training import as_training_data, train

    net, schedule, data, config, extra, out_dir, title = _plan(args, where)
    data = as_training_data(data)
    _print_plan(title, net, schedule, data, config, out_dir, where)
    start = time.perf_counter()
    # a NaN loss raises TrainingDiverged, a UserError: the dispatcher prints its one-line message
    result = train(net, schedule, data, config, out_dir=out_dir, resume=bool(args.resume),
                   callbacks=[_log_line] if args.no_progress else [],
                   progress=False if args.no_progress else None, device=device, extra=extra)
    seconds = time.perf_counter() - start
    if result.interrupted:
        print(f"Stopped at step {result.step}; continue with: ddpm-edu train --resume {out_dir}",
              file=sys.stderr)
        return 130
    last = result.loss_history[-min(len(result.loss_history), config.log_every):]
    mean_last = sum(last) / len(last) if last else float("nan")
    print(f"done: step {result.step}, mean loss of the last {len(last)} steps {mean_last:.4f}, "
          f"{seconds:.1f} s. Model: {out_dir / checkpoints.MODEL_FILE}")
    print(f"trained {result.summary()} in all")
    print(f"sample from it: ddpm-edu sample --checkpoint {out_dir} --n 16 --out samples.png")
    return 0
