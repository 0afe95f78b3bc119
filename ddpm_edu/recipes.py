"""Training recipes: a network architecture + a noise schedule + a TrainConfig + a dataset, named.

    recipe = get_recipe("mnist-classroom")
    net, schedule = recipe.build_network(), recipe.build_schedule()
    result = train(net, schedule, recipe.load_data(), recipe.train, out_dir="runs/mine")

``ddpm-edu train --recipe NAME`` runs exactly this. :func:`recipe_names` lists the recipes and
:func:`recipe_summaries` says in one line each what they are for and how long they take (the same
lines ``ddpm-edu train --help`` shows); the definitions below carry the reasons for their numbers.
The network architectures (:func:`ddpm_edu.nets.architecture`) were chosen with the benchmark
(benchmarks/README.md); the "mnist" and "ddpm" numbers are those of the shipped models' runs
(their cards: data/checkpoints/mnist.md, mnist_ddpm.md).

This module imports neither torch nor the training loop until a recipe is built, so that the
command line can list the recipes instantly.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

from .errors import UserError

if TYPE_CHECKING:
    from torch import nn

    from .schedules import Schedule
    from .training import TrainConfig

__all__ = ["Recipe", "get_recipe", "recipe_names", "recipe_summaries"]


@dataclass(frozen=True)
class Recipe:
    """A named training recipe. ``network`` is a ``ddpm_edu.nets`` config dict, ``schedule`` a
    ``Schedule.to_config()`` dict, ``dataset`` a spec for :func:`ddpm_edu.datasets.load_dataset`,
    ``about`` one line on what it is for and how long it takes. ``guidance``: for a
    class-conditional recipe, the guidance weight w its runs sample with by default (saved in the
    checkpoint, :attr:`ddpm_edu.pretrained.PretrainedModel.default_guidance`); None otherwise."""

    name: str
    about: str
    network: dict
    schedule: dict
    train: TrainConfig
    dataset: dict = field(default_factory=dict)
    guidance: float | None = None

    def build_network(self) -> nn.Module:
        """The network, initialised reproducibly from ``train.seed`` (the global RNG is left as
        it was)."""
        import torch

        from .nets import build_network
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.train.seed)
            return build_network(copy.deepcopy(self.network))

    def build_schedule(self) -> Schedule:
        from .schedules import schedule_from_config
        return schedule_from_config(self.schedule)

    def load_data(self):
        """The training data (uint8 images [N, H, W] or [N, C, H, W], or float points [N, 2])."""
        from .datasets import load_dataset
        return load_dataset(self.dataset)

    def with_train(self, **changes) -> "Recipe":
        """The same recipe with some TrainConfig fields changed (e.g. ``steps=500``)."""
        return replace(self, network=copy.deepcopy(self.network), schedule=dict(self.schedule),
                       train=self.train.replace(**changes), dataset=dict(self.dataset))


# name → (about, a function returning the other fields); in the order the CLI lists them
_RECIPES: dict[str, tuple[str, Callable[[], dict]]] = {}


def _recipe(name: str, about: str):
    def register(make: Callable[[], dict]):
        _RECIPES[name] = (about, make)
        return make
    return register


# The guidance weight the conditional MNIST recipes' runs sample with unless told otherwise: at
# w = 1 every requested digit came out as that digit and confident (w = 0: 96 %), at a Fréchet
# distance close to w = 0's (2.98 against 2.76); w = 2, 3, 5 only cost variety and Fréchet
# distance (data/checkpoints/mnist_cond.md; benchmarks/README.md, "The classroom recipe").
_COND_GUIDANCE = 1.0

# DDPM's schedule: linear β from 1e-4 to 0.02 over T = 1000 steps
_DDPM_LINEAR = {"kind": "linear", "T": 1000, "beta_start": 1e-4, "beta_end": 0.02}


@_recipe("tiny", "a tiny U-Net on 256 digits, 20 steps: checks the whole pipeline in seconds "
                 "(its samples stay noise)")
def _tiny() -> dict:
    from .nets import architecture
    from .training import TrainConfig
    net = {**architecture("mnist"), "base_channels": 8, "channel_mult": [1, 2],
           "attention_resolutions": [], "norm_groups": 4}
    # DDPM's linear β scaled by 1000/T, so that ᾱ_T ≈ 0 with only T = 100 steps
    return dict(
        network=net, schedule={"kind": "linear", "T": 100, "beta_start": 1e-3, "beta_end": 0.2},
        train=TrainConfig(steps=20, batch_size=8, lr=1e-3, warmup_steps=5, grad_clip=1.0,
                          ema_decay=0.9, save_every=10, log_every=5, threads=1),
        dataset={"name": "mnist", "split": "test", "limit": 256})


@_recipe("toy2d", 'an MLP on 2-D "two moons" points, T = 200: a few minutes on a laptop (the '
                  "notebooks' toy model)")
def _toy2d() -> dict:
    from .nets import architecture
    from .training import TrainConfig
    return dict(
        network=architecture("toy2d"),
        schedule={"kind": "linear", "T": 200, "beta_start": 5e-4, "beta_end": 0.1},
        train=TrainConfig(steps=3000, batch_size=256, lr=1e-3, warmup_steps=100, grad_clip=1.0,
                          ema_decay=0.995, save_every=500, log_every=100),
        dataset={"name": "two_moons", "n": 8000, "seed": 0})


@_recipe("mnist-classroom", "ten minutes of training (a time budget; bf16 where native, cosine "
                            "learning rate to the end of the budget, min-SNR-γ loss); on 2 cores "
                            "here: 75 % confident digits (DDPM's recipe: 77 % after 92 min)")
def _mnist_classroom() -> dict:
    from .training import NO_STEP_LIMIT
    ddpm = _ddpm()
    # The winner of the equal-wall-time ablation (benchmarks/README.md, "Ablation at equal wall
    # time"): bf16 autocast bought 1.6× the images of fp32 in the same time, a learning rate
    # that decays to 0.1× by the end of the budget, min-SNR-γ weighting and a learning rate of
    # 2e-3 (not 1e-3) each added more confident digits; batch 128 (fewer, larger steps), a wider
    # or deeper U-Net (fewer images), v-prediction, EMA 0.995 and a 50-step warm-up did not, and
    # a narrower U-Net's gain was inside the noise. threads="auto": the fastest thread count,
    # measured on a few trial steps at start-up. The budget is time, so what it buys depends on
    # the machine: benchmarks/README.md ("The classroom recipe") gives what ten minutes bought here.
    return {**ddpm, "train": ddpm["train"].replace(
        steps=NO_STEP_LIMIT, minutes=10.0, lr=2e-3, precision="auto", lr_schedule="cosine",
        loss="min_snr", threads="auto", save_every=500, log_every=100)}


@_recipe("mnist-cond-classroom", "the same ten minutes, class-conditional (labels dropped 10 % "
                                 "of the time): it draws the digit you ask for; on 2 cores "
                                 "here: 99.6 % confident digits with guidance")
def _mnist_cond_classroom() -> dict:
    classroom = _mnist_classroom()
    # mnist-classroom's settings and budget, with the label embedding and label dropout of
    # mnist-cond (chapter 11): told which digit to draw, the same ten minutes give recognisable
    # digits where the unconditional model gives three in four (benchmarks/README.md, "The
    # classroom recipe").
    return {**classroom, "network": {**classroom["network"], "num_classes": 10},
            "dataset": {**classroom["dataset"], "labels": True},
            "train": classroom["train"].replace(label_dropout=0.1), "guidance": _COND_GUIDANCE}


@_recipe("mnist-small", "the shipped U-Net at half width without attention (188 k parameters), "
                        "2,000 steps: chapter 5's comparison of what the network predicts "
                        "(tools/parameterisation_mnist.py), minutes per model on one core")
def _mnist_small() -> dict:
    from .nets import architecture
    from .training import TrainConfig
    net = {**architecture("mnist"), "base_channels": 16, "channel_mult": [1, 2, 2],
           "attention_resolutions": [], "norm_groups": 4}
    # constant learning rate after a warm-up of fixed length (DDPM's choice): a shorter run with
    # the same settings is then exactly the start of a longer one (chapter 5 reruns 25 steps live)
    return dict(
        network=net, schedule=dict(_DDPM_LINEAR),
        train=TrainConfig(steps=2000, batch_size=64, lr=1e-3, warmup_steps=100, grad_clip=1.0,
                          ema_decay=0.995, seed=0, threads=1, save_every=250, log_every=25),
        dataset={"name": "mnist", "split": "train"})


@_recipe("mnist", "the recipe of the shipped model load_pretrained('mnist'): 16,000 steps of 128, "
                  "bf16 where native, cosine learning rate, min-SNR-γ loss; 77 min measured on "
                  "2 cores with bf16 (data/checkpoints/mnist.md)")
def _mnist() -> dict:
    ddpm = _ddpm()
    # The ablation's winners (benchmarks/README.md: bf16 where native, min-SNR-γ with γ = 5,
    # a cosine decay to 0.1× the peak, a peak of 2e-3) on a budget long enough for the small
    # U-Net to approach what it can learn: 16,000 steps of 128 = 2.05 M images (34 epochs).
    # The 6,000-step run of the same recipe (lr 1.5e-3) stopped at 83 % confident digits.
    # threads="auto": the fastest count, measured at start-up; the shipped run used 2 (a fixed
    # count is what makes a run bitwise reproducible: --threads 2).
    return {**ddpm, "train": ddpm["train"].replace(
        steps=16000, batch_size=128, lr=2e-3, precision="auto", lr_schedule="cosine",
        loss="min_snr", threads="auto", save_every=1000, log_every=100)}


@_recipe("ddpm", "DDPM's own choices on MNIST (ε-prediction, L_simple, constant learning rate "
                 "after the warm-up), 8,000 steps of 64, about 1.5 h on one CPU core (92 min "
                 "measured): the recipe of the shipped mnist-ddpm model")
def _ddpm() -> dict:
    from .nets import architecture
    from .training import TrainConfig
    return dict(
        network=architecture("mnist"), schedule=dict(_DDPM_LINEAR),
        train=TrainConfig(steps=8000, batch_size=64, lr=1e-3, warmup_steps=200, grad_clip=1.0,
                          ema_decay=0.999, save_every=200, log_every=50),
        dataset={"name": "mnist", "split": "train"})


@_recipe("mnist-cond", "a class-conditional MNIST model for classifier-free guidance (labels "
                       "dropped 10 % of the time); bf16 where native, cosine learning rate, "
                       "min-SNR-γ loss: 6,000 steps of 128")
def _mnist_cond() -> dict:
    from .nets import architecture
    from .training import TrainConfig
    # num_classes = 10 digits; the network's label embedding has an 11th row, the "no label"
    # token that label_dropout = 0.1 trains (Ho & Salimans 2022 used 0.1 to 0.2). min-SNR-γ
    # (γ = 5, Hang et al. 2023) and a cosine decay of the learning rate, chosen from the
    # literature for sample efficiency and not yet ablated here; the shipped model's card
    # (data/checkpoints/mnist_cond.md) gives what the run measured.
    return dict(
        network={**architecture("mnist"), "num_classes": 10}, schedule=dict(_DDPM_LINEAR),
        train=TrainConfig(steps=6000, batch_size=128, lr=2e-3, warmup_steps=200, grad_clip=1.0,
                          ema_decay=0.999, save_every=200, log_every=50, threads=None,
                          precision="auto", lr_schedule="cosine", loss="min_snr",
                          label_dropout=0.1),
        dataset={"name": "mnist", "split": "train", "labels": True}, guidance=_COND_GUIDANCE)


@_recipe("single-image", "the seed's experiment 1: a small U-Net learns to generate one 32×32 "
                         "picture (data/images/flower64.png) from noise; about a minute of CPU "
                         "time")
def _single_image() -> dict:
    from .training import TrainConfig
    # 32×32 (the 64×64 picture downscaled): a third of the cost per step of 64×64 for the same
    # U-Net. Three levels 32 → 16 → 8 with 16/32/32 channels and no attention: 0.19 M parameters
    # (0.76 MB).
    net = {"kind": "unet", "image_size": 32, "in_channels": 3, "out_channels": 3,
           "base_channels": 16, "channel_mult": [1, 2, 2], "num_res_blocks": 1,
           "attention_resolutions": [], "num_heads": 1, "dropout": 0.0, "norm_groups": 8,
           "time_embed_mult": 4}
    # DDPM's schedule unchanged: the training cost does not depend on T (one t per example), and
    # the sampler chooses its own number of steps (DDIM, 50), so there is nothing to gain from a
    # shorter T. x_0-prediction: with a single training image the best x̂_0 is that image for
    # every (x_t, t), a constant the network learns in a few dozen steps, whereas an error in ε̂ is
    # magnified 1/√SNR(T) ≈ 160 times in the x̂_0 of the sampler's first steps. (Measured: ε
    # reached 10 dB PSNR after 250 steps, x_0 21 dB after 50; data/checkpoints/single_image.md.)
    # No flips: the target is the picture as it is.
    return dict(
        network=net, schedule=dict(_DDPM_LINEAR),
        train=TrainConfig(steps=300, batch_size=16, lr=1e-3, warmup_steps=50, grad_clip=1.0,
                          ema_decay=0.99, mean_type="x0", save_every=100, log_every=25, threads=1),
        dataset={"name": "image", "path": "data/images/flower64.png", "size": 32, "channels": 3,
                 "flips": False})


@_recipe("flowers64", "Oxford Flowers 102 at 64×64, the 80 % training split: a GPU recipe "
                      "(days on a CPU); downloads the archive on first use")
def _flowers64() -> dict:
    from .nets import architecture
    from .training import TrainConfig
    # 25,600 steps of 64 = 250 passes over the 6,551 training images: the "50 epochs" of the Keras
    # DDIM example the seed paper follows (each of its epochs repeats the data 5 times), for which
    # it quotes 2 h on a T4 and 30 min on an A100. Not yet run on a GPU with this library.
    return dict(
        network=architecture("flowers64"), schedule=dict(_DDPM_LINEAR),
        train=TrainConfig(steps=25_600, batch_size=64, lr=2e-4, warmup_steps=1000, grad_clip=1.0,
                          ema_decay=0.9995, save_every=1000, log_every=100),
        dataset={"name": "flowers", "split": "train", "size": 64})


def recipe_names() -> list[str]:
    """The names :func:`get_recipe` knows, from the quickest to the longest."""
    return list(_RECIPES)


def recipe_summaries() -> dict[str, str]:
    """name → one line on what the recipe is for and how long it takes (no torch needed)."""
    return {name: about for name, (about, _) in _RECIPES.items()}


def get_recipe(name: str) -> Recipe:
    """A fresh copy of the named recipe."""
    if name not in _RECIPES:
        raise UserError(f"unknown recipe {name!r}; choose one of {', '.join(_RECIPES)}.")
    about, make = _RECIPES[name]
    return Recipe(name, about, **make())
