"""The training loop: one plain loop for the notebooks and for ``ddpm-edu train``.

Each step follows DDPM's Algorithm 1:

    x_0 ~ data (a random minibatch)       t ~ Uniform{1, …, T}       ε ~ N(0, I)
    x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε                                       (q_sample, DDPM eq. 4)
    loss = mean over the batch of λ_t · mean((target − net(x_t, t))²)  (target: ε, x_0, μ̃ or v)

then AdamW with a linear learning-rate warm-up (then constant, or a cosine decay: :func:`lr_at`),
gradient-norm clipping, and an exponential moving average (EMA) of the weights, which is the model
you sample from. λ_t is 1 for ``loss="simple"`` (DDPM's L_simple, eq. 14), the L_vlb weight for
``loss="vlb"`` and the min-SNR-γ weight for ``loss="min_snr"`` (see :func:`loss_weights`).
A class-conditional network (``net.config.num_classes > 0``) is called as ``net(x_t, t, y)`` with
the example's labels, a share ``label_dropout`` of them replaced by the "no label" token (for
classifier-free guidance). ``precision="bf16"`` runs the forward pass under bf16 autocast with
float32 weights, loss and optimizer.

:func:`train` itself is a short loop over named pieces: ``_start_run`` sets up a new or resumed run
(a ``_Run``: network, EMA, optimizer, generator, history), then every step is ``_optimizer_step``
(learning rate from :func:`lr_at`, the minibatch loss, clipping, the NaN guard, AdamW, the EMA with
:func:`ema_decay_at`), ``_report`` (progress bar and callbacks) and, every ``save_every`` steps,
``_Run.save``.

The budget: ``steps`` optimizer updates, or with ``minutes`` a time budget (``ddpm-edu train
--minutes 10``): the run stops when that much training time is spent, over all its sessions (the
time is saved in every checkpoint, so a resumed run continues the budget), and a cosine learning
rate decays over the time instead of the steps (:func:`progress_fraction`, the one place where
schedule and budget meet). ``TrainResult.summary()`` says what came out ("10.0 min: 2,345 steps
of 128 = 300,160 images").

Hardware: ``device`` is "cpu", "cuda", "mps" or "auto" (cuda, else mps, else cpu); every random
number of the loss is drawn on the CPU generator and then moved, so a CPU and a GPU run use the
same noise. ``memory_format`` puts a U-Net's weights and inputs in channels-last order where that
is faster. Data-parallel training: started by ``torchrun --nproc-per-node N``, the loop joins the
process group (gloo on the CPU, nccl on CUDA), wraps the network in DistributedDataParallel and
gives each rank its rows of the global minibatch (:mod:`ddpm_edu.distributed`), so N processes
compute the update of one process with the same ``batch_size`` (up to float rounding; dropout
masks are drawn per rank); rank 0 saves, prints and shows the progress bar.

Reproducibility: every random number of the loop (minibatch indices, t, ε) comes from one seeded
``torch.Generator``; dropout uses torch's global generator, seeded at the start and saved with every
checkpoint. The loop runs inside ``torch.random.fork_rng``, so it leaves the caller's global random
state untouched. At a fixed thread count (``TrainConfig.threads``) two runs with the same seed give
bitwise the same weights, and a run resumed from a checkpoint continues exactly as if it had never
stopped (tested by killing a run with SIGKILL). These guarantees are for the CPU and a step
budget; on a GPU the kernels and the GPU's own dropout generator are not covered, and a
time-budgeted run is not reproducible at all: how many steps fit in the budget, and the learning
rate of each, depend on the machine's speed and load.
"""
from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import math
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

import numpy as np
import torch
from torch import nn

from ._checks import check_device, check_image_range
from ._choices import LOSS_TYPES, LR_SCHEDULES, MEMORY_FORMATS
from .hardware import PRECISIONS
from .errors import InvalidArgument, InvalidType, UserError
from .forward import q_posterior, q_sample
from .losses import mean_flat
from .pixels import to_model_range
from .reverse import MeanType, VarianceType, eps_vlb_weight, reverse_log_variance
from .schedules import Schedule, extract

__all__ = ["TrainConfig", "TrainState", "TrainResult", "TrainingDiverged", "TrainingData",
           "as_training_data", "loss_weights", "lr_at", "ema_decay_at", "minibatch_loss",
           "progress_fraction", "run_description", "train", "prepare_resume", "resume_run",
           "ResumePlan", "NO_STEP_LIMIT"]

# TrainConfig fields that may change when a run is resumed: they do not change what is computed.
RESUMABLE_CHANGES = ("steps", "threads", "save_every", "log_every", "minutes")
# TrainConfig.steps of a run that only the time budget ends (``ddpm-edu train --minutes M``)
NO_STEP_LIMIT = 2**62
# the loop's clock (seconds); tests replace it with a fake one, so no test waits for real time
_clock = time.perf_counter


# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------

def _check_int(name, value, minimum, allow_none=False, maximum=None):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidArgument(f"TrainConfig.{name} must be an integer ≥ {minimum}, got {value!r}.")
    if maximum is not None and value > maximum:
        raise InvalidArgument(f"TrainConfig.{name} must be at most {maximum}, got {value!r}.")


def _check_number(name, value, lo, hi, lo_open=False, hi_open=False, hint=""):
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value)
    ok = (
        ok and (value > lo if lo_open else value >= lo) and (value < hi if hi_open else value <= hi)
    )
    if not ok:
        lb, rb = ("(" if lo_open else "["), (")" if hi_open else "]")
        raise InvalidArgument(
            f"TrainConfig.{name} must be a number in {lb}{lo}, {hi}{rb}, got {value!r}."
            + (f" {hint}" if hint else "")
        )


def _check_choice(name, value, choices, hint):
    if not isinstance(value, str) or value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise InvalidArgument(f"TrainConfig.{name} must be one of {listed}, got {value!r}. {hint}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what a training run computes (validated on construction).

    Attributes:
        steps: number of optimizer updates in total (a resumed run continues up to this number);
            with ``minutes`` set, an upper limit (:data:`NO_STEP_LIMIT`: none).
        batch_size: images per minibatch (drawn with replacement from the data).
        lr: peak learning rate of AdamW (DDPM: 2e-4 for CIFAR-10).
        warmup_steps: the learning rate grows linearly from lr/warmup_steps to lr over this many
            steps (DDPM: 5000), then stays at lr (:func:`lr_at`). 0 switches the warm-up off.
        weight_decay: AdamW's decoupled weight decay (DDPM used plain Adam: 0).
        grad_clip: clip the global gradient norm to this value (DDPM: 1.0); 0 switches it off.
        ema_decay: decay d of the EMA of the weights, θ_ema ← d·θ_ema + (1−d)·θ (DDPM: 0.9999).
        ema_warmup: use a smaller decay early on (:func:`ema_decay_at`), so that short runs get a
            useful EMA instead of one that still remembers the random initial weights.
        mean_type: what the network predicts, "eps" (ε, DDPM), "x0", "mu" (the posterior mean)
            or "v" (v = √ᾱ_t ε − √(1−ᾱ_t) x_0, Salimans & Ho 2022).
        loss: "simple" (unweighted mean squared error, DDPM's L_simple), "vlb" (the same error
            weighted so that it equals the L_vlb terms) or "min_snr" (min-SNR-γ weighting, Hang
            et al. 2023); see :func:`loss_weights`.
        snr_gamma: γ of ``loss="min_snr"`` (Hang et al.: 5).
        var_type: σ_t² of p_θ, "fixed_small" (β̃_t) or "fixed_large" (β_t); it enters the "vlb"
            weights and is saved with the checkpoint for sampling.
        seed: seeds the data order, t, ε and dropout.
        threads: torch threads during training (None: torch's default; "auto": the fastest count,
            measured on a few trial steps before the first step, see :func:`_measure_threads`).
            Bitwise reproducibility needs the same number in both runs.
        save_every: write a checkpoint every this many steps (and at the end), if the run has a
        folder. log_every: call the callbacks and update the progress bar every this many steps.
        precision: "fp32" (plain float32), "bf16" (forward pass and loss under bf16 autocast,
            float32 weights, loss and optimizer) or "auto" (bf16 where the hardware runs it
            natively, see :func:`ddpm_edu.hardware.autocast_dtype`). Checkpoints record what it
            resolved to.
        lr_schedule: "constant" (after the warm-up, DDPM) or "cosine" (after the warm-up, a cosine
            decay to ``lr * lr_min_ratio`` at the last step), see :func:`lr_at`.
        lr_min_ratio: the final learning rate of the cosine schedule, as a fraction of lr.
        minutes: a time budget: None (the run ends after ``steps``), or the training time in
            minutes after which the run stops (checked before each step; ``steps`` stays an upper
            limit). It counts the loop's wall time over all sessions of the run (a resumed run
            continues the budget; the time is saved in every checkpoint), and a cosine learning
            rate decays over the budget (:func:`progress_fraction`). A time-budgeted run is NOT
            bitwise reproducible: how many steps fit, and the learning rate of each, depend on
            the machine's speed; a step-budgeted one (minutes=None) is.
        memory_format: "contiguous" (torch's default), "channels_last" (the U-Net's weights and
            input batches in NHWC order, faster fp32 convolutions on many CPUs) or "auto"
            (channels_last for a U-Net in fp32 on the CPU, where the benchmark measured +5–10 %,
            contiguous otherwise: with bf16 it gained nothing). Same numbers up to rounding.
        label_dropout: for a class-conditional network (``net.config.num_classes > 0``) trained on
            labelled data, the probability that a label is replaced by the "no label" token
            ``num_classes`` (classifier-free guidance training, Ho & Salimans 2022). Unused
            otherwise.

    Fields added after the first checkpoints were saved (precision, lr_schedule, lr_min_ratio,
    snr_gamma, label_dropout, minutes, memory_format) default to what the loop did before them,
    so old runs load and resume.
    """

    steps: int = 10_000
    batch_size: int = 128
    lr: float = 2e-4
    warmup_steps: int = 1000
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.9999
    ema_warmup: bool = True
    mean_type: str = "eps"
    loss: str = "simple"
    var_type: str = "fixed_small"
    seed: int = 0
    threads: int | None = None
    save_every: int = 1000
    log_every: int = 100
    precision: str = "fp32"
    lr_schedule: str = "constant"
    lr_min_ratio: float = 0.1
    snr_gamma: float = 5.0
    label_dropout: float = 0.1
    minutes: float | None = None
    memory_format: str = "contiguous"

    def __post_init__(self):
        _check_int("steps", self.steps, 1)
        _check_int("batch_size", self.batch_size, 1)
        _check_number("lr", self.lr, 0, 1, lo_open=True,
                      hint="Typical values are 1e-4 to 1e-3.")
        _check_int("warmup_steps", self.warmup_steps, 0)
        _check_number("weight_decay", self.weight_decay, 0, 1)
        _check_number("grad_clip", self.grad_clip, 0, math.inf, hi_open=True,
                      hint="Use 0 to switch clipping off.")
        _check_number("ema_decay", self.ema_decay, 0, 1, hi_open=True,
                      hint="DDPM uses 0.9999; 0 means no averaging.")
        if not isinstance(self.ema_warmup, bool):
            raise InvalidArgument(
                f"TrainConfig.ema_warmup must be True or False, got {self.ema_warmup!r}."
            )
        for name, cls in (("mean_type", MeanType), ("var_type", VarianceType)):
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, cls(value).value)  # enum → its plain string
            except ValueError:
                choices = ", ".join(repr(m.value) for m in cls)
                raise InvalidArgument(
                    f"TrainConfig.{name} must be one of {choices}, got {value!r}."
                ) from None
        _check_choice("loss", self.loss, LOSS_TYPES, "'simple' is DDPM's L_simple, 'vlb' the "
                      "L_vlb-weighted loss, 'min_snr' min-SNR-γ weighting.")
        _check_number("snr_gamma", self.snr_gamma, 0, math.inf, lo_open=True, hi_open=True,
                      hint="Hang et al. use 5.")
        _check_int("seed", self.seed, 0, maximum=2**64 - 1)  # torch's seed range
        if self.threads != "auto":
            _check_int("threads", self.threads, 1, allow_none=True)
        _check_int("save_every", self.save_every, 1)
        _check_int("log_every", self.log_every, 1)
        _check_choice("precision", self.precision, PRECISIONS,
                      "'auto' picks bf16 only where the hardware runs it natively.")
        _check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES,
                      "'constant' is DDPM's; 'cosine' decays to lr * lr_min_ratio.")
        _check_number("lr_min_ratio", self.lr_min_ratio, 0, 1)
        _check_number("label_dropout", self.label_dropout, 0, 1, hi_open=True,
                      hint="Ho & Salimans use 0.1 to 0.2.")
        _check_loss_pair(self.mean_type, self.loss)
        if self.minutes is not None:
            _check_number("minutes", self.minutes, 0, math.inf, lo_open=True, hi_open=True,
                          hint="None trains for `steps` steps instead.")
        _check_choice("memory_format", self.memory_format, MEMORY_FORMATS,
                      "'auto' picks channels_last for a U-Net in fp32 on the CPU.")

    def replace(self, **changes) -> "TrainConfig":
        """A copy with some fields changed (validated again)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise InvalidArgument(f"unknown TrainConfig field(s) {unknown}; valid fields: "
                             f"{[f.name for f in dataclasses.fields(self)]}.")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """A JSON-able dict (saved in every checkpoint)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys are an error (a typo would be ignored
        silently)."""
        return cls().replace(**d)


# ---------------------------------------------------------------------------------------------
# what changes from step to step: the learning rate and the EMA decay
# ---------------------------------------------------------------------------------------------

def progress_fraction(step: int, config: TrainConfig, seconds: float | None = None) -> float:
    """How far the learning-rate decay has got at optimizer step ``step``, from 0 to 1: the one
    place where the schedule meets the run's budget.

      * a step budget (``minutes=None``): p = (step − W)/(S − W), the fraction done of the steps
        after the warm-up W (S = ``steps``);
      * a time budget (``minutes`` set): p = seconds/(60 · minutes), the fraction of the budget
        spent when the step begins (``seconds``: training time so far, all sessions), so that
        the learning rate reaches its floor when the time is up. The warm-up still counts steps.
    """
    if config.minutes is not None:
        if seconds is None:
            raise InvalidArgument("a time-budgeted run (TrainConfig.minutes set) needs the "
                                  "training time so far: progress_fraction(step, config, "
                                  "seconds).")
        return min(1.0, max(0.0, seconds / (60.0 * config.minutes)))
    warm = config.warmup_steps
    return min(1.0, (step - warm) / (config.steps - warm))


def lr_at(step: int, config: TrainConfig, seconds: float | None = None) -> float:
    """The learning rate of optimizer step ``step`` (1, 2, …, ``config.steps``): it grows linearly
    from lr/warmup_steps to lr over the first ``warmup_steps`` steps, then

      * ``lr_schedule="constant"``: stays at lr (DDPM);
      * ``lr_schedule="cosine"``: decays as lr·(r + (1 − r)·(1 + cos(π p))/2), with p the
        :func:`progress_fraction` of the run (of its steps after the warm-up, or of its time
        budget, for which ``seconds`` is the training time so far): from lr right after the
        warm-up to lr·r at the end (r = ``lr_min_ratio``). Resuming with more ``steps`` (or
        ``minutes``) stretches the rest of the decay.

    The loop's only learning-rate schedule: a new schedule belongs here (and in TrainConfig)."""
    warm = config.warmup_steps
    if warm and step < warm:
        return config.lr * (step / warm)  # bitwise the warm-up the loop always had
    if config.lr_schedule == "constant" or (config.minutes is None and config.steps <= warm):
        return config.lr
    p = progress_fraction(step, config, seconds)
    r = config.lr_min_ratio
    return config.lr * (r + (1 - r) * 0.5 * (1 + math.cos(math.pi * p)))


def ema_decay_at(step: int, config: TrainConfig) -> float:
    """The decay d of the EMA update θ_ema ← d·θ_ema + (1 − d)·θ after optimizer step ``step``
    (1, 2, …): ``config.ema_decay``, or with ``ema_warmup`` min(ema_decay, (1 + step)/(10 + step)),
    which is 2/11 after the first step and reaches 0.999 only after about 9000 steps, so that the
    EMA of a short run does not remember the random initial weights."""
    if not config.ema_warmup:
        return config.ema_decay
    return min(config.ema_decay, (1 + step) / (10 + step))


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------

class TrainingData:
    """The training set, checked once, kept compact (uint8 pixels stay uint8 until a batch is
    drawn).

    ``shape`` is the shape of one example: (C, H, W) for images, (D,) for points. ``batch(idx)``
    returns float32 x_0 in the model range, shape [len(idx), *shape]. ``labels``: None, or the
    class labels, int64 [N] (for class-conditional training).
    """

    def __init__(self, values: torch.Tensor, kind: str, labels: torch.Tensor | None = None):
        self.values = values.contiguous()
        self.kind = kind  # "pixels" (uint8 images), "images" (float images) or "points"
        self.n = values.shape[0]
        self.shape = tuple(values.shape[1:])
        self.labels = None if labels is None else labels.contiguous()

    def batch(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.values[idx]
        return to_model_range(x) if self.kind == "pixels" else x

    def describe(self) -> dict:
        """What a checkpoint records about its data: shape, count, dtype and a SHA-256 of the
        values."""
        digest = hashlib.sha256(
            self.values.numpy().data
        ).hexdigest()  # no copy: values are contiguous
        out = {"kind": self.kind, "n": self.n, "shape": list(self.shape),
               "dtype": str(self.values.dtype).replace("torch.", ""), "sha256": digest}
        if self.labels is not None:  # unlabelled data keeps the description it always had
            out["labels_sha256"] = hashlib.sha256(self.labels.numpy().data).hexdigest()
        return out

    def __repr__(self):
        return f"TrainingData(kind={self.kind!r}, n={self.n}, shape={self.shape})"


def _check_labels(labels, n: int) -> torch.Tensor:
    """Class labels as int64 [n], each ≥ 0 (the upper bound is the network's, checked by train)."""
    if isinstance(labels, np.ndarray):
        labels = torch.from_numpy(np.ascontiguousarray(labels))
    if not isinstance(labels, torch.Tensor):
        raise InvalidType(f"labels must be a torch.Tensor or numpy array of class indices, got "
                          f"{type(labels).__name__}.")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise InvalidType(f"labels must be integers (class indices 0..num_classes−1), got dtype "
                          f"{labels.dtype}; convert with .long().")
    if tuple(labels.shape) != (n,):
        raise InvalidArgument(f"labels must have shape [{n}] (one per example), got "
                              f"{tuple(labels.shape)}.")
    labels = labels.detach().cpu().to(torch.int64)
    if (labels < 0).any():
        raise InvalidArgument(f"labels must be class indices ≥ 0, got {int(labels.min())}.")
    return labels


def _num_classes(net: nn.Module) -> int:
    """The number of classes of a class-conditional network (``net.config.num_classes``), else 0."""
    return int(getattr(getattr(net, "config", None), "num_classes", 0) or 0)


def _check_labels_fit(net: nn.Module, data: TrainingData) -> None:
    """A conditional network needs labelled data, with labels 0..num_classes−1."""
    k = _num_classes(net)
    if k == 0:
        return  # labels of an unconditional network are ignored
    if data.labels is None:
        raise InvalidArgument(f"the network is class-conditional ({k} classes) but the data has "
                              "no labels; pass (images, labels), e.g. load_dataset({'name': "
                              "'mnist', 'labels': True}), or use an unconditional network.")
    top = int(data.labels.max())
    if top >= k:
        raise InvalidArgument(f"label {top} is out of range for a network of {k} classes "
                              f"(labels 0..{k - 1}; {k} is the 'no label' token).")


def _to_nchw(x: torch.Tensor, what: str) -> torch.Tensor:
    """[N, H, W] → [N, 1, H, W]; [N, H, W, C] → [N, C, H, W]; [N, C, H, W] stays (C ∈ {1, 3})."""
    if x.ndim == 3:
        return x[:, None]
    if x.shape[1] in (1, 3):
        return x
    if x.shape[-1] in (1, 3):
        return x.permute(0, 3, 1, 2)
    raise InvalidArgument(
        f"{what} of shape {tuple(x.shape)}: cannot tell where the channels are. Pass "
        "[N, H, W] (greyscale), [N, H, W, C] or [N, C, H, W] with C = 1 or 3."
    )


def as_training_data(data) -> TrainingData:
    """Check the training data and put it in the form the loop uses.

    Accepted (tensor or numpy array):
      * uint8 pixels 0..255: [N, H, W], [N, H, W, C] or [N, C, H, W] (C = 1 or 3), mapped to
        [−1, 1] per batch (k ↦ k/127.5 − 1);
      * float images in [−1, 1] of the same shapes;
      * float points [N, D] (e.g. 2-D toy data), any finite values.
    Float images outside [−1, 1], or 8-bit pixels stored as floats 0..255, are an error; images
    that look like [0, 1] get a warning (:func:`ddpm_edu._checks.image_range_verdict`).

    A tuple ``(images, labels)`` adds class labels: integers ≥ 0, shape [N] (for a
    class-conditional network, which checks them against its number of classes).
    """
    if isinstance(data, TrainingData):
        return data
    if isinstance(data, tuple):
        if len(data) != 2:
            raise InvalidArgument(f"labelled training data is a tuple (images, labels); got a "
                                  f"tuple of {len(data)} items.")
        unlabelled = as_training_data(data[0])
        return TrainingData(unlabelled.values, unlabelled.kind,
                            _check_labels(data[1], unlabelled.n))
    if isinstance(data, np.ndarray):
        data = torch.from_numpy(np.ascontiguousarray(data))
    if not isinstance(data, torch.Tensor):
        raise InvalidType(f"training data must be a torch.Tensor or numpy array, got "
                        f"{type(data).__name__}. For MNIST: ddpm_edu.load_mnist('train')[0].")
    data = data.detach().cpu()
    if data.ndim < 2 or data.shape[0] == 0:
        raise InvalidArgument(f"training data must have shape [N, ...] with N ≥ 1 examples, got "
                         f"{tuple(data.shape)}.")
    if data.dtype == torch.uint8:
        if data.ndim not in (3, 4):
            raise InvalidArgument(
                f"uint8 data must be images [N, H, W], [N, H, W, C] or [N, C, H, W], got "
                f"shape {tuple(data.shape)}. Points must be floats."
            )
        return TrainingData(_to_nchw(data, "uint8 images"), "pixels")
    if not data.is_floating_point():
        raise InvalidType(
            f"training data has dtype {data.dtype}: images must be uint8 pixels 0..255 "
            "(convert with .to(torch.uint8)) or floats in [-1, 1]; points must be floats."
        )
    data = data.float()
    if not torch.isfinite(data).all():
        raise InvalidArgument(
            f"training data contains {int((~torch.isfinite(data)).sum())} NaN or inf "
            "value(s); remove or fix those examples."
        )
    if data.ndim == 2:
        return TrainingData(data, "points")
    if data.ndim not in (3, 4):
        raise InvalidArgument(
            f"training data must be images [N, H, W(, C)] or points [N, D], got shape "
            f"{tuple(data.shape)}."
        )
    check_image_range(data, "training images", stacklevel=3)  # error, or a warning on [0, 1]
    return TrainingData(_to_nchw(data.clamp(-1, 1), "float images"), "images")


# ---------------------------------------------------------------------------------------------
# the loss
# ---------------------------------------------------------------------------------------------

def _check_loss_pair(mean_type, loss) -> None:
    """min-SNR-γ is defined for ε, x_0 and v; a "mu" network has no such weighting."""
    if loss == "min_snr" and MeanType(mean_type) is MeanType.MU:
        raise InvalidArgument("loss='min_snr' is defined for mean_type 'eps', 'x0' or 'v' (Hang et "
                              "al. 2023), not for 'mu'; use loss='simple' or 'vlb' with 'mu'.")


def loss_weights(schedule: Schedule, mean_type="eps", loss="simple", var_type="fixed_small",
                 snr_gamma: float = 5.0) -> torch.Tensor:
    """λ_t, float64 [T+1] (index 0 unused, 0): the training loss of one example is
    λ_t · mean((target − prediction)²), with target ε, x_0, μ̃_t(x_t, x_0) or
    v = √ᾱ_t ε − √(1−ᾱ_t) x_0 per ``mean_type``.

    ``loss="simple"``: λ_t = 1 (DDPM's L_simple for ε; plain MSE on x_0, μ or v otherwise).

    ``loss="min_snr"`` (min-SNR-γ, Hang et al. 2023): the x_0-error weight min(SNR_t, γ), with
    SNR_t = ᾱ_t/(1−ᾱ_t), written for each target. Since ε − ε̂ = √SNR_t (x̂_0 − x_0) and
    v − v̂ = √(SNR_t + 1)(x̂_0 − x_0):

      * ε:   λ_t = min(SNR_t, γ)/SNR_t        * x_0: λ_t = min(SNR_t, γ)
      * v:   λ_t = min(SNR_t, γ)/(SNR_t + 1)  (μ: not defined, an error)

    ``loss="vlb"``: λ_t makes the loss the L_vlb term in nats per dimension. For t ≥ 2 the term is
    L_{t−1} = KL(q(x_{t−1}|x_t,x_0) ‖ p_θ(x_{t−1}|x_t)) = ‖μ̃_t − μ_θ‖²/(2σ_t² D) + c_t, where c_t
    does not depend on θ (c_t = 0 for "fixed_small"). Writing μ̃_t − μ_θ in each parameterisation:

      * ε:   μ̃_t − μ_θ = β_t/(√α_t √(1−ᾱ_t)) (ε̂ − ε)  →  λ_t = β_t²/(2σ_t² α_t (1−ᾱ_t))
                                                    (eps_vlb_weight)
      * x_0: μ̃_t − μ_θ = c1_t (x_0 − x̂_0)               →  λ_t = c1_t²/(2σ_t²)
      * μ:   μ̃_t − μ_θ itself                           →  λ_t = 1/(2σ_t²)
      * v:   μ̃_t − μ_θ = c1_t √(1−ᾱ_t) (v̂ − v)           →  λ_t = c1_t² (1−ᾱ_t)/(2σ_t²)

    For t = 1 the same formula (with σ_1² = β̃_2, as the decoder uses) is −log N(x_0; μ_θ, σ_1²) up
    to a constant: the continuous Gaussian stand-in for the discretised decoder L_0, whose exact
    value the evaluation code computes. The loss is E_t[L_{t−1}] = (L_vlb − L_T − Σ c_t)/T, in
    nats/dim.
    """
    mean_type = MeanType(mean_type)
    if loss not in LOSS_TYPES:
        raise InvalidArgument(f"loss must be one of {', '.join(map(repr, LOSS_TYPES))}, got "
                              f"{loss!r}.")
    _check_loss_pair(mean_type, loss)
    T = schedule.T
    w = torch.zeros(T + 1, dtype=torch.float64)
    if loss == "simple":
        w[1:] = 1.0
        return w
    if loss == "min_snr":
        snr = schedule.snr[1:].double()
        clipped = snr.clamp(max=float(snr_gamma))
        w[1:] = {MeanType.EPS: clipped / snr, MeanType.X0: clipped,
                 MeanType.V: clipped / (snr + 1)}[mean_type]
        return w
    t = torch.arange(1, T + 1)
    ref = torch.empty(T, dtype=torch.float64)
    var = reverse_log_variance(schedule, t, ref, var_type).exp().flatten()  # σ_t², [T]
    if mean_type is MeanType.EPS:
        w[1:] = eps_vlb_weight(schedule, t, var_type)
    elif mean_type is MeanType.X0:
        w[1:] = schedule.posterior_mean_coef1[1:] ** 2 / (2 * var)
    elif mean_type is MeanType.V:
        w[1:] = (schedule.posterior_mean_coef1[1:] ** 2 * schedule.one_minus_alpha_bar[1:]
                 / (2 * var))
    else:
        w[1:] = 1.0 / (2 * var)
    return w


def _target(mean_type: str, schedule: Schedule, x0, xt, t, noise) -> torch.Tensor:
    """What the network should output at (x_t, t): ε, x_0, the posterior mean μ̃_t(x_t, x_0), or
    v = √ᾱ_t ε − √(1−ᾱ_t) x_0."""
    if mean_type == "eps":
        return noise
    if mean_type == "x0":
        return x0
    if mean_type == "v":
        return (extract(schedule.sqrt_alpha_bar, t, x0) * noise
                - extract(schedule.sqrt_one_minus_alpha_bar, t, x0) * x0)
    return q_posterior(schedule, x0, xt, t)[0]


def minibatch_loss(net: nn.Module, schedule: Schedule, data: TrainingData, weights: torch.Tensor,
                   config: TrainConfig, generator: torch.Generator, device="cpu", *,
                   autocast: torch.dtype | None = None, rows: slice | None = None,
                   channels_last: bool = False) -> torch.Tensor:
    """One minibatch of DDPM's Algorithm 1: the scalar loss mean_b λ_{t_b} · mean((target − net(x_t,
    t))²).

    Draws, always in this order from ``generator``: B example indices (with replacement), B times
    t ~ Uniform{1..T}, then ε ~ N(0, I) shaped like the batch; for a class-conditional network
    then B uniforms that replace a label by the "no label" token with probability
    ``config.label_dropout``. ``weights`` is :func:`loss_weights`. ``autocast``: None, or the
    dtype (torch.bfloat16) in which the network's forward pass runs under ``torch.autocast``; the
    error and the loss are float32 either way.

    ``rows``: the rows of the minibatch to keep (data-parallel training: each process draws the
    whole global minibatch, on the CPU generator, and trains on its share, see
    :func:`ddpm_edu.distributed.shard`); None keeps all B. The draws happen on the CPU and are
    then moved to ``device``, so a CPU and a GPU run use the same numbers. ``channels_last``:
    pass x_t to the network in channels-last memory order (images only).
    """
    B = config.batch_size
    idx = torch.randint(data.n, (B,), generator=generator)
    t = torch.randint(1, schedule.T + 1, (B,), generator=generator)   # (B,)
    noise = torch.randn((B, *data.shape), generator=generator)        # ε, (B, *shape)
    y = _minibatch_labels(_unwrap(net), data, idx, config.label_dropout, generator)
    if rows is not None:
        idx, t, noise, y = idx[rows], t[rows], noise[rows], None if y is None else y[rows]
    x0 = data.batch(idx)                                               # (B, *shape)
    x0, t, noise = x0.to(device), t.to(device), noise.to(device)
    xt = q_sample(schedule, x0, t, noise=noise)                        # √ᾱ_t x_0 + √(1−ᾱ_t) ε
    if channels_last and xt.ndim == 4:
        xt = xt.contiguous(memory_format=torch.channels_last)
    with _autocast(device, autocast):
        out = net(xt, t) if y is None else net(xt, t, y=y.to(device))
    out = out.float()  # the loss in float32 also under bf16 autocast (a no-op in float32)
    if out.shape != xt.shape:
        raise InvalidArgument(
            f"the network returned shape {tuple(out.shape)} for input {tuple(xt.shape)}; "
            "it must return a tensor shaped like x_t. Does the network architecture "
            "fit the data (size, channels)?"
        )
    target = _target(config.mean_type, schedule, x0, xt, t, noise)
    return (weights[t] * mean_flat((out - target) ** 2)).mean()


def _unwrap(net: nn.Module) -> nn.Module:
    """The network inside a DistributedDataParallel wrapper (or the network itself)."""
    return net.module if isinstance(net, nn.parallel.DistributedDataParallel) else net


def _minibatch_labels(net, data: TrainingData, idx, dropout: float, generator):
    """The labels y of a minibatch for a class-conditional network (None for an unconditional
    one), each replaced by the "no label" token num_classes with probability ``dropout``
    (classifier-free guidance training, Ho & Salimans 2022)."""
    k = _num_classes(net)
    if k == 0:
        return None
    if data.labels is None:
        _check_labels_fit(net, data)  # raises: a conditional network needs labels
    y = data.labels[idx]
    drop = torch.rand(idx.shape, generator=generator, dtype=torch.float64) < dropout
    return torch.where(drop, torch.full_like(y, k), y)


def _autocast(device, dtype: torch.dtype | None):
    """torch.autocast in ``dtype`` on ``device``'s kind, or nothing at all for None (fp32)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


@torch.no_grad()
def _ema_update(ema_net: nn.Module, net: nn.Module, decay: float) -> None:
    """θ_ema ← d·θ_ema + (1 − d)·θ for the parameters; buffers (e.g. norm statistics) are copied."""
    for p_ema, p in zip(ema_net.parameters(), net.parameters()):
        p_ema.lerp_(p, 1.0 - decay)
    for b_ema, b in zip(ema_net.buffers(), net.buffers()):
        b_ema.copy_(b)


# ---------------------------------------------------------------------------------------------
# results, callbacks, errors
# ---------------------------------------------------------------------------------------------

@dataclass
class TrainState:
    """What a callback sees every ``log_every`` steps. Treat it as read-only.

    ``net`` is the network being trained (train mode), ``ema_net`` the EMA weights (eval mode;
    sample from this one). Callbacks run under ``torch.no_grad()`` with their own random state, so a
    callback that draws samples does not change the training run.
    """
    step: int
    steps: int
    loss: float             # this step's minibatch loss
    loss_history: list      # one float per step since step 1
    lr: float
    grad_norm: float        # global gradient norm before clipping
    net: nn.Module
    ema_net: nn.Module
    schedule: Schedule
    config: TrainConfig
    seconds: float          # wall time of this session (since train() was called)
    out_dir: Path | None
    start_step: int = 0     # the step this session started from (0, or where a resumed run stopped)


@dataclass
class TrainResult:
    """What :func:`train` returns. ``ema_net`` is the model to sample from."""
    net: nn.Module
    ema_net: nn.Module
    schedule: Schedule
    config: TrainConfig
    step: int
    loss_history: list
    out_dir: Path | None = None
    interrupted: bool = False
    seconds: float = 0.0        # wall time of this session
    train_seconds: float = 0.0  # training time of the run over all its sessions (the budget's)

    def summary(self) -> str:
        """What came out, e.g. "10.0 min: 2,345 steps of 128 = 300,160 images"."""
        b = self.config.batch_size
        return (f"{self.train_seconds / 60:.1f} min: {self.step:,} steps of {b:,} = "
                f"{self.step * b:,} images")

    def __repr__(self):
        last = f"{self.loss_history[-1]:.4g}" if self.loss_history else "n/a"
        return (
            f"TrainResult(step={self.step}/{self.config.steps}, last loss={last}, "
            f"interrupted={self.interrupted}, "
            f"out_dir={str(self.out_dir) if self.out_dir else None!r})"
        )


class TrainingDiverged(UserError):
    """The loss (or the gradient) became NaN or inf. ``.result`` holds the run up to the last good
    step."""

    def __init__(self, message: str, step: int, result: TrainResult):
        super().__init__(message)
        self.step = step
        self.result = result


# ---------------------------------------------------------------------------------------------
# helpers of the loop
# ---------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _num_threads(n: int | None):
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _StopFlag:
    requested = False


@contextlib.contextmanager
def _catch_ctrl_c():
    """The first Ctrl-C (SIGINT) only asks the loop to stop after the current step, so that the
    checkpoint it then writes is consistent; a second Ctrl-C interrupts at once."""
    flag = _StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is None:  # installed outside Python: restore Python's default afterwards
        previous = signal.default_int_handler

    def handler(signum, frame):
        flag.requested = True
        signal.signal(signal.SIGINT, previous)
        print("\nCtrl-C: finishing this step and saving a checkpoint (press Ctrl-C again to abort "
              "at once).", file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def _progress_bar(total: int, initial: int, progress):
    from tqdm.auto import tqdm  # a widget in JupyterLab
    # progress=False switches the bar off; otherwise tqdm reads TQDM_DISABLE=1 from the environment
    kwargs = {"disable": True} if progress is False else {}
    return tqdm(total=total, initial=initial, desc="training", unit="step", **kwargs)


def _network_description(net: nn.Module):
    """The network's config dict for the checkpoint, or None for a network that has none."""
    try:
        from .nets import network_config
        return network_config(net)
    except (ImportError, TypeError):
        pass
    kind, config = getattr(net, "kind", None), getattr(net, "config", None)
    if isinstance(kind, str) and dataclasses.is_dataclass(config):
        return {"kind": kind, **{k: list(v) if isinstance(v, tuple) else v
                                 for k, v in dataclasses.asdict(config).items()}}
    return None


def run_description(net, schedule: Schedule, config: TrainConfig, data: TrainingData,
                    extra: dict | None = None) -> dict:
    """Everything a checkpoint records about the run (JSON-able): network, schedule, train config,
    mean/variance type, data description, and ``extra`` (e.g. the recipe and dataset names)."""
    return {"network": _network_description(net), "schedule": schedule.to_config(),
            "mean_type": config.mean_type, "var_type": config.var_type,
            "train": config.to_dict(), "data": data.describe(), "extra": dict(extra or {})}


def _diverged_message(step, loss, grad_norm, config, out_dir, saved_step):
    what = (f"the loss became {loss}" if not math.isfinite(loss)
            else f"the gradient norm became {grad_norm}")
    kept = (f" The last good checkpoint (step {saved_step}) in {out_dir} is kept unchanged."
            if out_dir is not None and saved_step else "")
    return (f"training stopped at step {step}: {what}.{kept} Try a lower learning rate (now "
            f"{config.lr:g}), a longer warm-up (now {config.warmup_steps} steps) or gradient "
            f"clipping (grad_clip, now {config.grad_clip:g}), and check the data (range [-1, 1], "
            "no NaN).")


# ---------------------------------------------------------------------------------------------
# the state of one run, and the steps of the loop
# ---------------------------------------------------------------------------------------------

class _StepInfo(NamedTuple):
    """What one optimizer step reports."""
    loss: float         # its minibatch loss
    lr: float           # the learning rate it used
    grad_norm: float    # global gradient norm before clipping


@dataclass
class _Run:
    """What one call of :func:`train` works on and changes; a checkpoint saves the changing part."""
    net: nn.Module
    ema_net: nn.Module
    optimizer: torch.optim.Optimizer
    generator: torch.Generator      # every random number of the loss: minibatch indices, t, ε
    schedule: Schedule
    config: TrainConfig
    data: TrainingData
    weights: torch.Tensor           # λ_t of the loss (loss_weights), float32 [T+1] on device
    device: torch.device
    out_dir: Path | None
    description: dict               # run_description(): what every checkpoint records
    autocast: torch.dtype | None = None  # the resolved precision: torch.bfloat16, or None (fp32)
    history: list = field(default_factory=list)  # one loss per step since step 1
    step: int = 0                   # optimizer steps done
    start_step: int = 0             # the step this session started from
    saved_step: int = 0             # the step of the checkpoint on disk (or where a resume began)
    torch_rng: torch.Tensor | None = None  # a resumed run's saved global RNG state (dropout)
    interrupted: bool = False
    start: float = 0.0              # _clock() when the loop began
    saved_threads: object = None    # the thread count of the run being resumed (None: torch's)
    seconds_before: float = 0.0     # training time of the earlier sessions of a resumed run
    model: nn.Module | None = None  # what computes the loss: net, or net inside DDP
    where: tuple = (0, 1)           # (rank, world) of a data-parallel run; (0, 1): one process
    rows: slice | None = None       # this rank's rows of each global minibatch (None: all)
    channels_last: bool = False     # the resolved memory format

    def seconds(self) -> float:
        return _clock() - self.start

    def train_seconds(self) -> float:
        """Training time of the run so far, all sessions (what a time budget counts)."""
        return self.seconds_before + self.seconds()

    def result(self) -> TrainResult:
        return TrainResult(self.net, self.ema_net, self.schedule, self.config, self.step,
                           self.history, self.out_dir, self.interrupted, self.seconds(),
                           self.train_seconds())

    def save(self) -> None:
        """Write the checkpoint of this step (the loop knows how to save; checkpoints know nothing
        of the loop)."""
        from . import checkpoints
        rng = {"generator": self.generator.get_state(), "torch": torch.get_rng_state()}
        self.description["resolved"]["seconds"] = round(self.train_seconds(), 3)
        checkpoints.save_run(self.out_dir, net=self.net, ema_net=self.ema_net,
                             optimizer=self.optimizer, step=self.step, rng=rng,
                             loss_history=self.history, description=self.description)
        self.saved_step = self.step


def _check_arguments(net, schedule, config) -> TrainConfig:
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise InvalidType(f"config must be a TrainConfig, got {type(config).__name__}.")
    if not isinstance(net, nn.Module):
        raise InvalidType(f"net must be a torch.nn.Module with forward(x_t, t), got "
                          f"{type(net).__name__}.")
    if not isinstance(schedule, Schedule):
        raise InvalidType(f"schedule must be a ddpm_edu Schedule (e.g. linear_schedule()), got "
                          f"{type(schedule).__name__}.")
    return config


def _check_run_dir(out_dir: Path | None, resume: bool) -> None:
    """A resumed run needs its folder; a new run must not overwrite one saved there; either must
    be able to write there (checked now, before the first step, not at the first save)."""
    from . import checkpoints
    if resume and out_dir is None:
        raise UserError("resume=True needs out_dir, the folder of the run to continue.")
    if out_dir is not None:
        checkpoints.prepare_run_dir(out_dir, resume=resume)


def _check_callbacks(callbacks) -> list:
    try:
        fns = None if callable(callbacks) else list(callbacks)
    except TypeError:
        fns = None
    if fns is None or not all(callable(fn) for fn in fns):
        raise InvalidType(f"callbacks must be a list of functions fn(state), got {callbacks!r}.")
    return fns


def _check_saveable(description: dict, out_dir: Path | None) -> None:
    """With a folder to save in, the run description (``extra`` included) must be JSON."""
    import json
    if out_dir is None:
        return
    try:
        json.dumps(description)
    except (TypeError, ValueError) as e:
        raise InvalidArgument(f"extra must hold JSON values only (it is saved in the checkpoint): "
                              f"{e}.") from None


def _start_run(net, schedule, data, config, out_dir, resume, device, extra) -> _Run:
    """Check the arguments of :func:`train` and set up its run: a new one, or the one saved in
    ``out_dir`` (resume=True) with its weights, optimizer state, random states and loss history."""
    config = _check_arguments(net, schedule, config)
    data = as_training_data(data)
    out_dir = Path(out_dir) if out_dir is not None else None
    description = run_description(net, schedule, config, data, extra)
    if out_dir is not None and description["network"] is None:
        raise InvalidType(f"to save checkpoints the network needs .kind (a str) and .config (a "
                          f"dataclass), so that a checkpoint can rebuild it; {type(net).__name__} "
                          "has not. Use a ddpm_edu.nets network, or train without out_dir.")
    _check_saveable(description, out_dir)
    from . import distributed
    from .hardware import autocast_dtype, resolve_device
    device = check_device(resolve_device("auto") if device == "auto" else device)
    resolve_device(device.type)  # a device that is not here: a clear error, before any work
    where = distributed.setup(device)
    device = distributed.local_device(device)
    rows = distributed.shard(config.batch_size, where) if where.world > 1 else None
    _check_labels_fit(net, data)
    dtype = autocast_dtype(config.precision, device)
    channels_last = _use_channels_last(config.memory_format, net, dtype, device)
    description["resolved"] = {"precision": "fp32" if dtype is None else "bf16",
                               "memory_format": "channels_last" if channels_last else "contiguous"}
    if where.world > 1:
        description["resolved"]["processes"] = where.world
    net.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    ema_net = copy.deepcopy(net).eval().requires_grad_(False)
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, betas=(0.9, 0.999),
                                  weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(config.seed)
    weights = loss_weights(schedule, config.mean_type, config.loss, config.var_type,
                           config.snr_gamma)
    run = _Run(net, ema_net, optimizer, generator, schedule, config, data,
               weights.float().to(device), device, out_dir, description, dtype,
               where=tuple(where), rows=rows, channels_last=channels_last)
    if resume or where.rank == 0:  # rank 0 writes the checkpoints of a data-parallel run
        _check_run_dir(out_dir, resume)
    if resume:
        _load_saved_state(run)
    # after loading: DDP starts every rank from rank 0's weights
    run.model = distributed.wrap(net, device) if where.world > 1 else net
    return run


def _use_channels_last(memory_format: str, net: nn.Module, dtype, device) -> bool:
    """TrainConfig.memory_format resolved: "auto" is channels_last for a U-Net in fp32 on the CPU
    (benchmarks/README.md: +5–10 % there; nothing with bf16), contiguous otherwise."""
    if memory_format == "auto":
        return getattr(net, "kind", None) == "unet" and dtype is None and device.type == "cpu"
    return memory_format == "channels_last"


def _load_saved_state(run: _Run) -> None:
    """Continue the run saved in ``run.out_dir``; it must be the same run (RESUMABLE_CHANGES)."""
    from . import checkpoints
    saved = checkpoints.load_resume_state(run.out_dir)
    saved_description = dict(saved["description"])
    # a run saved before a TrainConfig field existed ran with that field's default
    saved_description["train"] = TrainConfig.from_dict(saved_description["train"]).to_dict()
    resolved = saved_description.pop("resolved", None) or {}
    given = {k: v for k, v in run.description.items() if k != "resolved"}
    checkpoints.check_same_run(run.out_dir, saved_description, given, RESUMABLE_CHANGES)
    now = run.description["resolved"]
    for key, before in (("precision", "fp32"), ("memory_format", "contiguous"), ("processes", 1)):
        saved_value = resolved.get(key, before)
        if saved_value != now.get(key, before):
            warnings.warn(f"resuming with {key} {now.get(key, before)} where the run computed "
                          f"with {saved_value} ('auto' on other hardware, or another number of "
                          "processes): the result will differ from an uninterrupted run.",
                          stacklevel=4)
    run.seconds_before = float(resolved.get("seconds", 0.0))
    run.saved_threads = resolved.get("threads", saved_description["train"].get("threads"))
    run.net.load_state_dict(saved["net"])
    run.ema_net.load_state_dict(saved["ema"])
    run.optimizer.load_state_dict(saved["optimizer"])
    run.generator.set_state(saved["rng"]["generator"])
    run.torch_rng = saved["rng"]["torch"]
    run.history = saved["loss_history"].tolist()
    run.step = run.start_step = run.saved_step = int(saved["step"])


def _optimizer_step(run: _Run, seconds: float) -> _StepInfo:
    """Step ``run.step + 1``: its learning rate (``seconds``: the training time when it begins),
    the loss of one minibatch (Algorithm 1), the clipped gradient, AdamW and the EMA update. A NaN
    or inf loss or gradient raises :class:`TrainingDiverged` before the weights change: they stay
    those of the last good step. In a data-parallel run the loss is this rank's share of the
    global minibatch, the gradient DDP's average and the reported loss the mean over the ranks."""
    k = run.step + 1
    lr = lr_at(k, run.config, seconds)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    loss = minibatch_loss(run.model, run.schedule, run.data, run.weights, run.config,
                          run.generator, run.device, autocast=run.autocast, rows=run.rows,
                          channels_last=run.channels_last)
    loss_value = loss.item()
    if run.where[1] > 1:
        from .distributed import mean_over_ranks
        loss_value = mean_over_ranks(loss_value)  # the global batch's loss, the same on every rank
    grad_norm = _backward(run, loss) if math.isfinite(loss_value) else math.nan
    if not (math.isfinite(loss_value) and math.isfinite(grad_norm)):
        run.optimizer.zero_grad(set_to_none=True)
        message = _diverged_message(k, loss_value, grad_norm, run.config, run.out_dir,
                                    run.saved_step)
        raise TrainingDiverged(message, k, run.result())
    run.optimizer.step()
    run.step = k
    run.history.append(loss_value)
    _ema_update(run.ema_net, run.net, ema_decay_at(k, run.config))
    return _StepInfo(loss_value, lr, grad_norm)


def _resolve_threads(run: _Run, resume: bool):
    """The thread count of this session: ``config.threads``, or for "auto" the fastest count
    measured on trial steps of copies of this run (the run itself is left untouched); recorded in
    the checkpoint. Warns when a resumed run changes its thread count."""
    threads = run.config.threads
    if threads == "auto":
        with torch.random.fork_rng(devices=[]):
            threads = _measure_threads(run)
        print(f"threads=auto: {threads} thread(s) measured fastest for this run.",
              file=sys.stderr, flush=True)
    run.description["resolved"]["threads"] = threads
    if resume and run.saved_threads != threads:
        warnings.warn(f"resuming with threads={threads} where the run used "
                      f"{run.saved_threads}: the result will differ from an uninterrupted run in "
                      "the last digits.", stacklevel=3)  # the caller of train()
    return threads


def _measure_threads(run: _Run) -> int:
    """:func:`ddpm_edu.hardware.fastest_thread_count` of whole training steps (loss, backward,
    AdamW) on copies of the network, optimizer and generator."""
    from .hardware import fastest_thread_count
    net = copy.deepcopy(run.net).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=run.config.lr)
    generator = torch.Generator().manual_seed(run.config.seed)
    generator.set_state(run.generator.get_state())

    def step():
        loss = minibatch_loss(net, run.schedule, run.data, run.weights, run.config, generator,
                              run.device, autocast=run.autocast, rows=run.rows,
                              channels_last=run.channels_last)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return fastest_thread_count(step, repeats=2)


def _backward(run: _Run, loss: torch.Tensor) -> float:
    """The gradient of ``loss``, its global norm clipped to ``grad_clip`` (0: not clipped).
    Returns the norm before clipping."""
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    max_norm = run.config.grad_clip if run.config.grad_clip > 0 else math.inf
    return float(nn.utils.clip_grad_norm_(run.net.parameters(), max_norm))


def _report(run: _Run, info: _StepInfo, bar, callbacks: list) -> None:
    """Every ``log_every`` steps and at the last one: the loss on the progress bar, then the
    callbacks, under no_grad and with their own random state so that they leave the run as it is."""
    config = run.config
    if run.step % config.log_every != 0 and run.step != config.steps:
        return
    bar.set_postfix(loss=f"{info.loss:.4f}", refresh=False)
    if not callbacks:
        return
    state = TrainState(run.step, config.steps, info.loss, run.history, info.lr, info.grad_norm,
                       run.net, run.ema_net, run.schedule, config, run.seconds(), run.out_dir,
                       run.start_step)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        for fn in callbacks:
            fn(state)
    run.net.train()


# ---------------------------------------------------------------------------------------------
# the loop
# ---------------------------------------------------------------------------------------------

# Over 60 lines: 28 are the docstring; the body is the loop's named steps (_start_run, …).
def train(
    net: nn.Module,
    schedule: Schedule,
    data,
    config: TrainConfig | None = None,
    *,
    out_dir=None,
    resume: bool = False,
    callbacks: Iterable[Callable[[TrainState], None]] = (),
    progress: bool | None = None,
    device="cpu",
    extra: dict | None = None,
) -> TrainResult:
    """Train ``net`` (``forward(x_t, t)``, t paper indices) to denoise ``data`` under ``schedule``,
    for ``config.steps`` steps or until ``config.minutes`` of training are spent.

    Args:
        net: the network; it is trained in place. Build it after ``torch.manual_seed(seed)`` for a
            reproducible initialisation (``recipes.Recipe.build_network`` does).
        schedule: the noise schedule β_1..β_T (its tables are used in float32 on ``device``).
        data: see :func:`as_training_data` (uint8 images, float images in [−1, 1], or points).
        config: a :class:`TrainConfig` (defaults: DDPM's choices).
        out_dir: a folder for checkpoints (``model.safetensors`` + ``resume.pt``), written every
            ``save_every`` steps, at the end, and on Ctrl-C. None: keep everything in memory.
        resume: continue the run saved in ``out_dir``. The network, schedule, config (except
            steps, minutes, threads, save_every, log_every) and data must equal the saved ones.
        callbacks: functions called as ``fn(state: TrainState)`` every ``log_every`` steps
            (live loss plot, sample previews).
        progress: False hides the tqdm progress bar; the environment variable TQDM_DISABLE=1 hides
            it too.
        device: "cpu", "cuda" (or "cuda:N"), "mps", or "auto" (cuda, else mps, else cpu). Under
            torchrun a bare "cuda" is the process's own GPU (LOCAL_RANK), and the run is
            data-parallel (see the module docstring).
        extra: JSON-able information saved in the checkpoint (the CLI stores the recipe's name
            and dataset).

    Returns a :class:`TrainResult` (``.summary()``: minutes, steps and images); on Ctrl-C it
    returns early with ``interrupted=True`` after
    saving a checkpoint. A NaN/inf loss raises :class:`TrainingDiverged` (the last checkpoint on
    disk is kept; ``exc.result`` holds the networks of the last good step).
    """
    run = _start_run(net, schedule, data, config, out_dir, resume, device, extra)
    config, callbacks = run.config, _check_callbacks(callbacks)
    lead = run.where[0] == 0  # only rank 0 of a data-parallel run saves, reports and prints
    callbacks, progress = (callbacks, progress) if lead else ([], False)
    threads = _resolve_threads(run, resume)
    with _num_threads(threads), torch.random.fork_rng(devices=[]), _catch_ctrl_c() as stop:
        if run.torch_rng is not None:
            torch.set_rng_state(run.torch_rng)  # dropout continues where it stopped
        else:  # each rank its own dropout masks (rank 0: the single-process seed)
            torch.manual_seed((config.seed + run.where[0]) % 2**64)
        run.net.train()
        run.start = _clock()
        bar = _progress_bar(None if config.minutes else config.steps, run.step, progress)
        try:
            while run.step < config.steps:
                seconds, halt = _clock_and_stop(run, stop)
                if halt or (config.minutes is not None and seconds >= 60 * config.minutes):
                    run.interrupted = bool(halt)  # Ctrl-C; the spent budget is a normal end
                    break
                info = _optimizer_step(run, seconds)
                _report(run, info, bar, callbacks)
                if lead and run.out_dir is not None and run.step % config.save_every == 0:
                    run.save()
                bar.update(1)
        finally:
            bar.close()
        if lead and run.out_dir is not None and run.saved_step != run.step:
            run.save()
    _say_how_it_ended(run, lead)
    return run.result()


def _clock_and_stop(run: _Run, stop: _StopFlag) -> tuple[float, bool]:
    """The training time so far and whether Ctrl-C asked to stop; in a data-parallel run rank 0's
    (every rank must take the same learning rate and stop at the same step)."""
    seconds, halt = run.train_seconds(), stop.requested
    if run.where[1] > 1:
        from .distributed import from_rank0
        seconds, halt = from_rank0(seconds, float(halt))
    return seconds, bool(halt)


def _say_how_it_ended(run: _Run, lead: bool) -> None:
    """On stderr: where an interrupted run was saved; what a time-budgeted run came to."""
    if not lead:
        return
    if run.interrupted:
        where = (f"; checkpoint saved in {run.out_dir} (continue with "
                 f"resume_run({str(run.out_dir)!r}))" if run.out_dir else "")
        print(f"Interrupted at step {run.step}{where}.", file=sys.stderr, flush=True)
    elif run.config.minutes is not None:
        print(f"time budget of {run.config.minutes:g} min spent: {run.result().summary()}",
              file=sys.stderr, flush=True)


class ResumePlan(NamedTuple):
    """What :func:`prepare_resume` rebuilt from a run folder."""
    net: nn.Module
    schedule: Schedule
    data: object
    config: TrainConfig
    extra: dict
    step: int


def prepare_resume(out_dir, data=None, build=None, **changes) -> ResumePlan:
    """Rebuild network, schedule, config and data of the run saved in ``out_dir`` (see
    :func:`resume_run`); the weights and optimizer state are loaded later, by :func:`train`."""
    from . import checkpoints
    from .schedules import schedule_from_config

    out_dir = Path(out_dir)
    saved = checkpoints.load_resume_state(out_dir)
    description = saved["description"]
    saved_config = TrainConfig.from_dict(description["train"])
    config = saved_config.replace(**changes)
    checkpoints.check_same_run(
        out_dir, {"train": saved_config.to_dict()}, {"train": config.to_dict()}, RESUMABLE_CHANGES
    )
    net = checkpoints.build_model(description["network"], build)
    schedule = schedule_from_config(description["schedule"])
    extra = description.get("extra") or {}
    if data is None:
        from .datasets import load_dataset
        if "dataset" not in extra:
            raise UserError(f"the run in {out_dir} does not record its dataset (it was not trained "
                            "from a recipe); pass the training data: resume_run(out_dir, data).")
        data = load_dataset(extra["dataset"])
    return ResumePlan(net, schedule, data, config, extra, int(saved["step"]))


def resume_run(out_dir, data=None, *, callbacks=(), progress=None, device="cpu", build=None,
               **changes) -> TrainResult:
    """Continue the run saved in ``out_dir``, with network, schedule and config rebuilt from it.

    ``data``: the training data (None: reload the dataset recorded in the checkpoint by the recipe).
    ``changes``: TrainConfig fields to change, e.g. ``steps=5000`` to train longer; changing a field
    other than steps, minutes, threads, save_every or log_every is an error naming the field
    (``minutes=20`` gives a time-budgeted run 20 minutes in all). ``build``: a function
    config → network, for networks outside ddpm_edu.nets.
    """
    plan = prepare_resume(out_dir, data, build, **changes)
    return train(plan.net, plan.schedule, plan.data, plan.config, out_dir=out_dir, resume=True,
                 callbacks=callbacks, progress=progress, device=device, extra=plan.extra)
