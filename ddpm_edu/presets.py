"""Named training recipes: network preset + noise schedule + TrainConfig + dataset, in one place.

    recipe = get_preset("mnist-classroom")
    net, schedule = recipe.build_network(), recipe.build_schedule()
    result = train(net, schedule, recipe.load_data(), recipe.train, out_dir="runs/mine")

``ddpm-edu train --preset NAME`` runs exactly this. The network preset was chosen with the benchmark
(benchmarks/README.md); the "mnist" numbers are those of the shipped model's run (its card:
data/checkpoints/mnist.md).

Recipes:
  ``mnist``            the recipe of the shipped model ``load_pretrained("mnist")``.
  ``mnist-classroom``  1,500 steps at half the learning rate: about 20 minutes on one CPU core
                       (22.5 min measured with the other core busy); 45 % confident digits.
  ``tiny``             a very small U-Net on 256 MNIST digits for a few steps: tests and a first
                       end-to-end try of the CLI (seconds; the samples are still noise).
  ``toy2d``            an MLP on 2-D "two moons" points (minutes; the notebooks' toy model).
  ``single-image``     the seed paper's experiment 1: a small U-Net learns to generate one 32×32
                       picture (data/images/flower64.png) from noise; about a minute of CPU time.
  ``flowers64``        Oxford Flowers 102 at 64×64 (the course's 80 % training split): a GPU recipe,
                       hours there and days on a CPU; the archive is downloaded on first use.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from .errors import InvalidArgument, UserError
from .schedules import Schedule, schedule_from_config
from .training import TrainConfig

__all__ = ["Recipe", "get_preset", "preset_names", "load_dataset", "two_moons"]


@dataclass(frozen=True)
class Recipe:
    """A named training recipe. ``network`` is a ``ddpm_edu.nets`` config dict, ``schedule`` a
    ``Schedule.to_config()`` dict, ``dataset`` a spec for :func:`load_dataset`."""

    name: str
    about: str
    network: dict
    schedule: dict
    train: TrainConfig
    dataset: dict = field(default_factory=dict)

    def build_network(self) -> nn.Module:
        """The network, initialised reproducibly from ``train.seed`` (the global RNG is left as it was)."""
        from .nets import build_network
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.train.seed)
            return build_network(copy.deepcopy(self.network))

    def build_schedule(self) -> Schedule:
        return schedule_from_config(self.schedule)

    def load_data(self):
        """The training data (uint8 images [N, H, W] or [N, C, H, W], or float points [N, 2])."""
        return load_dataset(self.dataset)

    def with_train(self, **changes) -> "Recipe":
        """The same recipe with some TrainConfig fields changed (e.g. ``steps=500``)."""
        return Recipe(self.name, self.about, copy.deepcopy(self.network), dict(self.schedule),
                      self.train.replace(**changes), dict(self.dataset))


# ---- datasets the recipes name ----------------------------------------------------------------

def two_moons(n: int = 8000, noise: float = 0.05, seed: int = 0) -> torch.Tensor:
    """n points [n, 2] (float32) on two interleaving half circles with Gaussian jitter ``noise``,
    shifted and scaled to lie roughly in [−1, 1]² (mean 0): a classic 2-D toy distribution."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise InvalidArgument(f"n must be an integer ≥ 2, got {n!r}.")
    g = torch.Generator().manual_seed(seed)
    upper = n // 2
    angle = torch.rand(n, generator=g, dtype=torch.float64) * math.pi        # (n,)
    x = torch.cos(angle)
    y = torch.sin(angle)
    x[upper:] = 1.0 - x[upper:]          # the lower moon: mirrored and shifted
    y[upper:] = 0.5 - y[upper:]
    pts = torch.stack([x, y], dim=1)     # (n, 2), in [−1, 2] × [−0.5, 1]
    pts = pts + noise * torch.randn(pts.shape, generator=g, dtype=torch.float64)
    pts = (pts - torch.tensor([0.5, 0.25], dtype=torch.float64)) / 1.5
    return pts.float()


def load_dataset(spec: dict):
    """Load a dataset named by a recipe:

    * ``{"name": "mnist", "split": "train"|"test", "limit": N|None}`` → uint8 [N, 28, 28];
    * ``{"name": "two_moons", "n": N, "seed": S}`` → float points [N, 2];
    * ``{"name": "image", "path": P, "size": S, "channels": C, "flips": F}`` → uint8 [1, C, S, S]
      (one picture, centre-cropped; [2, C, S, S] with its mirror image when F is true, i.e. random
      horizontal flips; see :mod:`ddpm_edu.datasets.single_image`);
    * ``{"name": "flowers", "split": "train"|"validation"|"all", "size": S, "limit": N|None}`` →
      uint8 [N, 3, S, S], Oxford Flowers 102 (downloads the archive on first use).
    """
    spec = dict(spec or {})
    name = spec.pop("name", None)
    if name == "image":
        from .datasets.single_image import DEFAULT_IMAGE, load_single_image, with_flips
        path, size = spec.pop("path", DEFAULT_IMAGE), spec.pop("size", None)
        channels, flips = spec.pop("channels", 3), spec.pop("flips", False)
        _no_more(spec, name)
        image = load_single_image(path, size=size, channels=channels)
        return with_flips(image) if flips else image
    if name == "flowers":
        from .datasets.flowers import load_flowers
        split, size, limit = spec.pop("split", "train"), spec.pop("size", 64), spec.pop("limit", None)
        _no_more(spec, name)  # before a download of 330 MB, not after
        images = load_flowers(split, size=size)
        return images if limit is None else images[:limit]
    if name == "mnist":
        from .datasets.mnist import load_mnist
        limit = spec.pop("limit", None)
        images, _ = load_mnist(spec.pop("split", "train"))
        _no_more(spec, name)
        return images if limit is None else images[:limit]
    if name == "two_moons":
        n, noise, seed = spec.pop("n", 8000), spec.pop("noise", 0.05), spec.pop("seed", 0)
        _no_more(spec, name)
        return two_moons(n, noise, seed)
    raise UserError(f"unknown dataset {name!r} in the recipe; known: 'mnist', 'two_moons', 'image', "
                    "'flowers'.")


def _no_more(spec: dict, name: str) -> None:
    if spec:
        raise UserError(f"unknown option(s) {sorted(spec)} for dataset {name!r}.")


# ---- the recipes --------------------------------------------------------------------------

def _mnist() -> Recipe:
    from .nets import preset_config
    return Recipe(
        "mnist", "the shipped MNIST model: DDPM's linear schedule, T = 1000, ε-prediction",
        preset_config("mnist"), {"kind": "linear", "T": 1000, "beta_start": 1e-4, "beta_end": 0.02},
        TrainConfig(steps=8000, batch_size=64, lr=1e-3, warmup_steps=200, grad_clip=1.0,
                    ema_decay=0.999, save_every=200, log_every=50),
        {"name": "mnist", "split": "train"})


def _mnist_classroom() -> Recipe:
    from .nets import preset_config
    return Recipe(
        "mnist-classroom", "the shipped recipe cut to 1,500 × 64 images at half its learning rate "
        "(about 20 minutes on one CPU core; 22.5 min measured): rough, speckled digits, 45 % of "
        "them confidently read by the digit classifier (the shipped model: 77 %)",
        preset_config("mnist"), {"kind": "linear", "T": 1000, "beta_start": 1e-4, "beta_end": 0.02},
        TrainConfig(steps=1500, batch_size=64, lr=5e-4, warmup_steps=200, grad_clip=1.0,
                    ema_decay=0.999, save_every=250, log_every=50),
        {"name": "mnist", "split": "train"})


def _tiny() -> Recipe:
    from .nets import preset_config
    net = {**preset_config("mnist"), "base_channels": 8, "channel_mult": [1, 2],
           "attention_resolutions": [], "norm_groups": 4}
    # DDPM's linear β scaled by 1000/T, so that ᾱ_T ≈ 0 with only T = 100 steps
    return Recipe(
        "tiny", "a tiny U-Net for seconds-long tests of the whole pipeline (samples stay noise)",
        net, {"kind": "linear", "T": 100, "beta_start": 1e-3, "beta_end": 0.2},
        TrainConfig(steps=20, batch_size=8, lr=1e-3, warmup_steps=5, grad_clip=1.0,
                    ema_decay=0.9, save_every=10, log_every=5, threads=1),
        {"name": "mnist", "split": "test", "limit": 256})


def _toy2d() -> Recipe:
    from .nets import preset_config
    return Recipe(
        "toy2d", "an MLP on 2-D two-moons points, T = 200 (a few minutes on a laptop)",
        preset_config("toy2d"), {"kind": "linear", "T": 200, "beta_start": 5e-4, "beta_end": 0.1},
        TrainConfig(steps=3000, batch_size=256, lr=1e-3, warmup_steps=100, grad_clip=1.0,
                    ema_decay=0.995, save_every=500, log_every=100),
        {"name": "two_moons", "n": 8000, "seed": 0})


def _single_image() -> Recipe:
    # 32×32 (the 64×64 picture downscaled): a third of the cost per step of 64×64 for the same U-Net.
    # Three levels 32 → 16 → 8 with 16/32/32 channels and no attention: 0.19 M parameters (0.76 MB).
    net = {"kind": "unet", "image_size": 32, "in_channels": 3, "out_channels": 3, "base_channels": 16,
           "channel_mult": [1, 2, 2], "num_res_blocks": 1, "attention_resolutions": [], "num_heads": 1,
           "dropout": 0.0, "norm_groups": 8, "time_embed_mult": 4}
    # DDPM's schedule unchanged: the training cost does not depend on T (one t per example), and the
    # sampler chooses its own number of steps (DDIM, 50), so there is nothing to gain from a shorter T.
    # x_0-prediction: with a single training image the best x̂_0 is that image for every (x_t, t), a
    # constant the network learns in a few dozen steps, whereas an error in ε̂ is magnified
    # 1/√SNR(T) ≈ 160 times in the x̂_0 of the sampler's first steps. (Measured: ε reached 10 dB PSNR
    # after 250 steps, x_0 21 dB after 50; data/checkpoints/single_image.md.) No flips: the target
    # is the picture as it is.
    return Recipe(
        "single-image", "the seed's experiment 1: a small U-Net learns to generate one 32×32 picture "
        "(data/images/flower64.png) from noise; about a minute of CPU time",
        net, {"kind": "linear", "T": 1000, "beta_start": 1e-4, "beta_end": 0.02},
        TrainConfig(steps=300, batch_size=16, lr=1e-3, warmup_steps=50, grad_clip=1.0,
                    ema_decay=0.99, mean_type="x0", save_every=100, log_every=25, threads=1),
        {"name": "image", "path": "data/images/flower64.png", "size": 32, "channels": 3,
         "flips": False})


def _flowers64() -> Recipe:
    from .nets import preset_config
    # 25,600 steps of 64 = 250 passes over the 6,551 training images: the "50 epochs" of the Keras
    # DDIM example the seed paper follows (each of its epochs repeats the data 5 times), for which
    # it quotes 2 h on a T4 and 30 min on an A100. Not yet run on a GPU with this library.
    return Recipe(
        "flowers64", "Oxford Flowers 102 at 64×64, the 80 % training split: DDPM's linear schedule, "
        "T = 1000, ε-prediction (a GPU recipe: days on a CPU)",
        preset_config("flowers64"), {"kind": "linear", "T": 1000, "beta_start": 1e-4, "beta_end": 0.02},
        TrainConfig(steps=25_600, batch_size=64, lr=2e-4, warmup_steps=1000, grad_clip=1.0,
                    ema_decay=0.9995, save_every=1000, log_every=100),
        {"name": "flowers", "split": "train", "size": 64})


_RECIPES = {"mnist": _mnist, "mnist-classroom": _mnist_classroom, "tiny": _tiny, "toy2d": _toy2d,
            "single-image": _single_image, "flowers64": _flowers64}


def preset_names() -> list[str]:
    """The names :func:`get_preset` knows."""
    return list(_RECIPES)


def get_preset(name: str) -> Recipe:
    """A fresh copy of the named recipe."""
    if name not in _RECIPES:
        raise UserError(f"unknown preset {name!r}; choose one of {', '.join(_RECIPES)}.")
    return _RECIPES[name]()
