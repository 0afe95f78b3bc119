"""Trained models, ready to sample from: ``load_pretrained("mnist")`` or a path to your own run.

    model = load_pretrained("mnist")            # shipped with the course, checksum-verified
    eps = model.eps(x_t, t)                     # ε̂_θ(x_t, t) from the EMA weights, paper t
    x0 = model.sample(16, sampler="ddim", steps=50, seed=0)   # [16, 1, 28, 28] in [−1, 1]

A class-conditional model (``model.num_classes > 0``, e.g. "mnist-cond") also takes labels:
``model.eps(x_t, t, y)`` and ``model.sample(16, labels=3, guidance=2.0)`` (sixteen 3s, with
classifier-free guidance w = 2; see :func:`ddpm_edu.reverse.guided_eps`).

Named models are listed in :data:`REGISTRY` with their file and pinned SHA-256; the file is verified
before it is used, so a damaged or half-downloaded file gives a clear error, not strange samples.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ._checks import check_device, check_float, check_t
from ._choices import DEFAULT_AUTOGUIDANCE, DEFAULT_GUIDANCE
from ._files import sha256_file
from .chain import autoguided_model, label_tensor
from .checkpoints import MODEL_FILE, CheckpointError, load_model
from .errors import InvalidArgument, InvalidType, MissingFile, UserError
from .reverse import model_eps_x0
from .schedules import Schedule, schedule_from_config

__all__ = ["REGISTRY", "PretrainedModel", "load_pretrained", "registry_path", "DEFAULT_GUIDANCE"]

ROOT = Path(__file__).resolve().parent.parent  # the repository (the package is installed editable)

# name → file (relative to the repository) and its SHA-256. A None hash means "not released yet";
# "released": False marks a model whose file is not shipped yet (drop it when the file is added).
REGISTRY: dict[str, dict] = {
    "mnist": {
        "file": "data/checkpoints/mnist.safetensors",
        "sha256": "974772415342845e747c4826e3126c932ac7b21f4632df0ab93f607bdd086660",
        "about": "U-Net trained on MNIST with the 'mnist' recipe (ddpm-edu train --recipe mnist): "
        "min-SNR-γ weighting, cosine learning rate, bf16 autocast",
    },
    "mnist-ddpm": {
        "file": "data/checkpoints/mnist_ddpm.safetensors",
        "sha256": "12beaeeaf9744bc6b6115238f2208f10098532b0775900cd5dd84c3b10055399",
        "about": "the same U-Net trained with DDPM's own recipe (ε, L_simple, constant learning "
        "rate; ddpm-edu train --recipe ddpm): the course's first shipped model, whose full-run "
        "measurements chapters 3, 8, 9 and 10 use",
    },
    "single-image": {
        "file": "data/checkpoints/single_image.safetensors",
        "sha256": "1b2a6fe584be18b7fe6b74a05ffe7a881f13cc201cc491e645b0971cab0056eb",
        "about": "small U-Net that generates data/images/flower64.png at 32×32 "
        "(ddpm-edu train --recipe single-image)",
    },
    "mnist-guide": {
        "file": "data/checkpoints/mnist_guide.safetensors",
        "sha256": "6a197d6dede3a0ffa91cecf7b4a9787e46c86ac3a514f8030a7fb7dbd05a7bec",
        "about": "the 'mnist' run's own EMA weights after 1,000 of its 16,000 steps: a weak copy "
        "of 'mnist' that guides it (autoguidance, chain.autoguided_model)",
    },
    "mnist-cond": {
        "file": "data/checkpoints/mnist_cond.safetensors",
        "sha256": "672ea9d70d408baab9767a6f0559a6dcfceb2f83b0c9dab2a8116f027feb5b38",
        "about": "class-conditional U-Net on MNIST (labels 0..9, trained with label "
        "dropout for classifier-free guidance; default guidance w = 1) "
        "(ddpm-edu train --recipe mnist-cond)",
    },
}


class PretrainedNotAvailable(UserError):
    """A named model is not in this copy of the course, or its file fails the checksum."""


@dataclass
class PretrainedModel:
    """A trained network with everything needed to use it.

    Attributes:
        net: the network with the EMA weights, eval mode, no gradients.
        schedule: the noise schedule it was trained with (float64 tables).
        mean_type: what ``net`` predicts ("eps", "x0" or "mu"); :meth:`eps` converts to ε̂.
        var_type: σ_t² choice saved with the model ("fixed_small" / "fixed_large").
        shape: one example's shape, e.g. (1, 28, 28).
        config: the checkpoint's full metadata (network, schedule, train, data, step, ...).
        path: the checkpoint file.
    """

    net: nn.Module
    schedule: Schedule
    mean_type: str
    var_type: str
    shape: tuple
    config: dict
    path: Path

    @property
    def step(self) -> int:
        """Training steps behind these weights."""
        return int(self.config.get("step", 0))

    @property
    def num_classes(self) -> int:
        """K > 0 for a class-conditional model (labels 0..K−1), 0 for an unconditional one."""
        return int(getattr(getattr(self.net, "config", None), "num_classes", 0) or 0)

    @property
    def default_guidance(self) -> float:
        """The guidance weight w the checkpoint recommends (``extra.guidance`` in its metadata),
        else :data:`DEFAULT_GUIDANCE`; 0 for an unconditional model."""
        if not self.num_classes:
            return 0.0
        extra = self.config.get("extra")
        return float(extra.get("guidance", DEFAULT_GUIDANCE) if isinstance(extra, dict)
                     else DEFAULT_GUIDANCE)

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def predict(self, x_t: torch.Tensor, t, y=None) -> torch.Tensor:
        """The network's raw output at (x_t, t) (ε̂, x̂_0 or μ per ``mean_type``), no grad.

        x_t: [N, *shape] float; t: an int or LongTensor [N] of paper indices 1..T; y: class
        labels for a conditional model (an int or LongTensor [N]; None: "no label").
        """
        check_float(x_t, "x_t")
        if tuple(x_t.shape[1:]) != tuple(self.shape):
            raise InvalidArgument(
                f"x_t must have shape [N, {', '.join(map(str, self.shape))}] for this "
                f"model, got {tuple(x_t.shape)}."
            )
        t = check_t(t, self.schedule.T, x_t.shape[0]).to(x_t.device)
        with torch.no_grad():
            if y is None:
                return self.net(x_t, t)
            y = label_tensor(y, x_t.shape[0], self.num_classes, x_t.device, allow_null=True)
            return self.net(x_t, t, y)

    def eps(self, x_t: torch.Tensor, t, y=None) -> torch.Tensor:
        """ε̂_θ(x_t, t), or ε̂_θ(x_t, t, y) with class labels y for a conditional model, shape like
        x_t: the noise the model sees in x_t (paper t = 1..T).

        A model trained to predict x_0 gives ε̂ = (x_t − √ᾱ_t x̂_0)/√(1−ᾱ_t); one predicting the
        posterior mean μ first gives x̂_0 = (μ − c2_t x_t)/c1_t.
        """
        out = self.predict(x_t, t, y)
        return model_eps_x0(self.schedule, out, x_t, t, self.mean_type)[0]

    __call__ = eps

    def sample(self, n: int, sampler: str = "ddim", steps: int | None = 50, eta: float = 0.0,
               seed: int | None = 0, progress: bool = False, labels=None, guidance=None,
               guide=None, **kwargs) -> torch.Tensor:
        """``n`` samples [n, *shape] in [−1, 1] via :func:`ddpm_edu.sampling.sample` (see there for
        ``sampler``, ``steps``, ``eta``, ``labels``; ``seed=None`` uses torch's global RNG).
        ``guidance`` None means :attr:`default_guidance` when labels are given, else 0.

        ``guide``: a weaker model of the same data (a :class:`PretrainedModel`, e.g.
        ``load_pretrained("mnist-guide")``) for autoguidance,
        :func:`ddpm_edu.chain.autoguided_model`; ``guidance`` is then its weight w (None: 1,
        ``DEFAULT_AUTOGUIDANCE``). Unconditional models only."""
        from .sampling import sample
        if sampler == "ddpm":
            kwargs.setdefault("var_type", self.var_type)
        eps = self.eps
        if guide is not None:
            if labels is not None:
                raise InvalidArgument("autoguidance (guide=...) is for unconditional models; "
                                      "labels belong to classifier-free guidance: drop one.")
            eps = self.guided_by(guide, guidance)
            guidance = 0.0
        elif guidance is None:
            guidance = self.default_guidance if labels is not None else 0.0
        return sample(eps, self.schedule, n, self.shape, sampler=sampler, steps=steps, eta=eta,
                      seed=seed, progress=progress, device=self.device, labels=labels,
                      guidance=guidance, **kwargs)

    def guided_by(self, guide: "PretrainedModel", guidance: float | None = None):
        """``f(x_t, t)``: this model's ε̂ guided by a weaker ``guide`` of the same data
        (autoguidance, :func:`ddpm_edu.chain.autoguided_model`; ``guidance`` None: w = 1,
        ``DEFAULT_AUTOGUIDANCE``), after checking the two fit together. Any sampler takes it:
        ``ddim_steps(model.guided_by(guide), model.schedule, ...)``."""
        if not isinstance(guide, PretrainedModel):
            raise InvalidType(f"guide must be a PretrainedModel (load_pretrained('mnist-guide')), "
                              f"got {type(guide).__name__}.")
        if self.num_classes or guide.num_classes:
            raise InvalidArgument("autoguidance (guide=...) is for unconditional models; for a "
                                  "class-conditional one give labels and guidance (classifier-free "
                                  "guidance) instead.")
        if tuple(guide.shape) != tuple(self.shape) or not torch.equal(
                guide.schedule.alpha_bar, self.schedule.alpha_bar):
            raise InvalidArgument(f"the guide {guide.path.name} must model the same data with the "
                                  f"same schedule as {self.path.name} (shape {tuple(self.shape)}, "
                                  f"T = {self.schedule.T}); got shape {tuple(guide.shape)}, "
                                  f"T = {guide.schedule.T}.")
        w = DEFAULT_AUTOGUIDANCE if guidance is None else guidance
        return autoguided_model(self.eps, guide.eps, w)

    def __repr__(self):
        return (f"PretrainedModel({self.path.name}, {self.config.get('network', {}).get('kind')}, "
                f"shape={self.shape}, T={self.schedule.T}, mean_type={self.mean_type!r}, "
                f"step={self.step})")


def registry_path(name: str) -> Path:
    """The verified file of a named model (raises a clear error if it is missing or damaged)."""
    entry = REGISTRY[name]
    path = ROOT / entry["file"]
    restore = f"git checkout {entry['file']}"
    if not entry.get("released", True) and not path.exists():
        from .recipes import recipe_names
        how = (f"ddpm-edu train --recipe {name} --out runs/{name}, then "
               f"load_pretrained('runs/{name}')" if name in recipe_names()
               else "train a model yourself and load it by path: load_pretrained('runs/NAME')")
        raise PretrainedNotAvailable(
            f"the pretrained model {name!r} is not released yet: this copy of "
            f"the course has no {entry['file']} and no pinned checksum for it. Meanwhile: {how}.")
    if not path.exists():
        raise PretrainedNotAvailable(
            f"the pretrained model {name!r} is not in this copy of the course ({entry['file']} is "
            f"missing). Restore it with `{restore}` (it ships with the repository), or train your "
            f"own: ddpm-edu train --recipe {name} --out runs/{name}, then "
            f"load_pretrained('runs/{name}').")
    if entry["sha256"] is None:
        raise PretrainedNotAvailable(
            f"the pretrained model {name!r} has no pinned checksum yet, so {entry['file']} cannot "
            f"be verified (its SHA-256 is {sha256_file(path)}; pin it in ddpm_edu/pretrained.py). "
            f"Meanwhile load the file by path: load_pretrained('{entry['file']}').")
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        raise PretrainedNotAvailable(
            f"{entry['file']} is corrupted or was changed (SHA-256 {digest[:12]}…, expected "
            f"{entry['sha256'][:12]}…). Restore the shipped file with `{restore}`.")
    return path


def load_pretrained(name_or_path="mnist", device="cpu", build=None) -> PretrainedModel:
    """A trained model, by name (see :data:`REGISTRY`), run folder, or ``.safetensors`` file.

    The network is rebuilt from the config stored in the file and given the EMA weights. ``build``
    rebuilds networks that are not in ``ddpm_edu.nets`` (a function config dict → module).
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise InvalidType(f"name_or_path must be a model name ({', '.join(REGISTRY)}) or a path, "
                          f"got {type(name_or_path).__name__}.")
    if build is not None and not callable(build):
        raise InvalidType(f"build must be a function config dict → network, got {build!r}.")
    device = check_device(device)
    if isinstance(name_or_path, str) and name_or_path in REGISTRY:
        path = registry_path(name_or_path)
    else:
        path = Path(name_or_path)
        if not path.exists():
            raise MissingFile(
                f"no pretrained model named {str(name_or_path)!r} and no such file or folder; "
                f"named models: {', '.join(REGISTRY)}; or give a run folder (with {MODEL_FILE}) "
                "or a .safetensors file."
            )
    net, meta = load_model(path, build=build, device=device)
    try:
        schedule = schedule_from_config(meta["schedule"])
        shape = tuple(meta["data"]["shape"])
        mean_type, var_type = meta["mean_type"], meta["var_type"]
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path} lacks part of its configuration ({e}); retrain it with "
                              "ddpm-edu train.") from None
    return PretrainedModel(net, schedule, mean_type, var_type, shape, meta, Path(path))
