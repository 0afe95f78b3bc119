"""Named training recipes: network preset + noise schedule + TrainConfig + dataset, in one place.

    recipe = get_preset("mnist-classroom")
    net, schedule = recipe.build_network(), recipe.build_schedule()
    result = train(net, schedule, recipe.load_data(), recipe.train, out_dir="runs/mine")

``ddpm-edu train --preset NAME`` runs exactly this. The numbers are provisional: they will be tuned
against the network benchmark (benchmarks/) and the shipped model's training run.

Recipes:
  ``mnist``            the recipe of the shipped model ``load_pretrained("mnist")``.
  ``mnist-classroom``  a short MNIST run meant to finish in about 10 minutes on 2 CPU cores.
  ``tiny``             a very small U-Net on 256 MNIST digits for a few steps: tests and a first
                       end-to-end try of the CLI (seconds; the samples are still noise).
  ``toy2d``            an MLP on 2-D "two moons" points (minutes; the notebooks' toy model).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import torch
from torch import nn

from .errors import UserError
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
        """The training data (uint8 images [N, H, W] or float points [N, 2])."""
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
        raise ValueError(f"n must be an integer ≥ 2, got {n!r}.")
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
    """Load a dataset named by a recipe: ``{"name": "mnist", "split": "train"|"test", "limit": N|None}``
    → uint8 [N, 28, 28]; ``{"name": "two_moons", "n": N, "seed": S}`` → float points [N, 2]."""
    spec = dict(spec or {})
    name = spec.pop("name", None)
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
    raise UserError(f"unknown dataset {name!r} in the recipe; known: 'mnist', 'two_moons'.")


def _no_more(spec: dict, name: str) -> None:
    if spec:
        raise UserError(f"unknown option(s) {sorted(spec)} for dataset {name!r}.")


# ---- the recipes (provisional numbers) ------------------------------------------------------

def _mnist() -> Recipe:
    from .nets import preset_config
    return Recipe(
        "mnist", "the shipped MNIST model: DDPM's linear schedule, T = 1000, ε-prediction",
        preset_config("mnist"), {"kind": "linear", "T": 1000, "beta_start": 1e-4, "beta_end": 0.02},
        TrainConfig(steps=20_000, batch_size=128, lr=2e-4, warmup_steps=1000, grad_clip=1.0,
                    ema_decay=0.9995, save_every=1000, log_every=100),
        {"name": "mnist", "split": "train"})


def _mnist_classroom() -> Recipe:
    from .nets import preset_config
    return Recipe(
        "mnist-classroom", "a short MNIST run (about 10 minutes on 2 CPU cores): blurry but "
        "recognisable digits",
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


_RECIPES = {"mnist": _mnist, "mnist-classroom": _mnist_classroom, "tiny": _tiny, "toy2d": _toy2d}


def preset_names() -> list[str]:
    """The names :func:`get_preset` knows."""
    return list(_RECIPES)


def get_preset(name: str) -> Recipe:
    """A fresh copy of the named recipe."""
    if name not in _RECIPES:
        raise UserError(f"unknown preset {name!r}; choose one of {', '.join(_RECIPES)}.")
    return _RECIPES[name]()
