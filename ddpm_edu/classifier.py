"""A small CNN that reads MNIST digits: the judge behind ``ddpm_edu.quality``.

It is trained by this project on MNIST-train (``train_classifier``, seeded) and shipped as
``data/checkpoints/digit_classifier.safetensors`` (≈ 100 k parameters, float32) with its config in
the file's metadata. ``load_classifier`` checks the file's SHA-256 against the value pinned here
before reading a byte of it as weights.

Input convention (``as_classifier_input``): uint8 pixels 0..255 (0 = background, 255 = ink), or
floats in the model range [−1, 1] (pixel k ↦ k/127.5 − 1), shaped (N, 28, 28) or (N, 1, 28, 28).
Anything else is refused with a message saying how to convert.

Architecture (features → logits)::

    (N, 1, 28, 28) → [conv3×3 → BatchNorm → ReLU → maxpool2]  (N, 32, 14, 14)
                   → [conv3×3 → BatchNorm → ReLU → maxpool2]  (N, 64, 7, 7)
                   → [conv3×3 → BatchNorm → ReLU]             (N, 96, 7, 7)
                   → average pool to 2×2, flatten             (N, 384)   (keeps where strokes are)
                   → linear → ReLU                            (N, 64)    ← "penultimate features"
                   → dropout → linear                         (N, 10)    logits

Retrain and reproduce the shipped file (the command and timing are in ``digit_classifier.md``)::

    .venv/bin/ddpm-edu train-classifier --out data/checkpoints/digit_classifier.safetensors
    (the same: .venv/bin/python -m ddpm_edu.classifier --out ...)
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from ._checks import check_image_range
from .errors import InvalidArgument, InvalidType, MissingFile

__all__ = ["ClassifierConfig", "DigitClassifier", "as_classifier_input", "train_classifier",
           "synthetic_non_digits",
           "evaluate_accuracy", "save_classifier", "load_classifier", "default_classifier",
           "shipped_classifier_path", "CLASSIFIER_SHA256"]

# SHA-256 of the shipped data/checkpoints/digit_classifier.safetensors; retraining changes it.
CLASSIFIER_SHA256 = "1873016539cb0eeb7ce538d22fbf2a2d4de621e6b582daa4e2b7a3bee22ab814"
_FILE = "digit_classifier.safetensors"
_FORMAT = "ddpm_edu.digit_classifier/1"


@dataclass(frozen=True)
class ClassifierConfig:
    """Channels of the three conv stages, and the width of the penultimate (feature) layer."""

    channels: tuple[int, int, int] = (32, 64, 96)
    features: int = 64
    dropout: float = 0.2

    def __post_init__(self):
        object.__setattr__(self, "channels", tuple(self.channels))
        if len(self.channels) != 3 or any(not isinstance(c, int) or c < 1 for c in self.channels):
            raise InvalidArgument(f"ClassifierConfig.channels must be three positive ints, got "
                             f"{self.channels}.")
        if not isinstance(self.features, int) or self.features < 1:
            raise InvalidArgument(f"ClassifierConfig.features must be a positive int, got "
                             f"{self.features}.")
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidArgument(
                f"ClassifierConfig.dropout must lie in [0, 1), got {self.dropout}."
            )


class DigitClassifier(nn.Module):
    """(N, 1, 28, 28) images in [−1, 1] → (N, 10) logits; ``features`` gives the (N, F) layer
    below."""

    def __init__(self, config: ClassifierConfig = ClassifierConfig()):
        super().__init__()
        self.config = config
        c1, c2, c3 = config.channels

        def stage(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                                 nn.BatchNorm2d(cout), nn.ReLU())

        self.stage1, self.stage2, self.stage3 = stage(1, c1), stage(c1, c2), stage(c2, c3)
        self.fc = nn.Linear(4 * c3, config.features)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.features, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        h = F.max_pool2d(self.stage1(x), 2)  # (N, c1, 14, 14)
        h = F.max_pool2d(self.stage2(h), 2)  # (N, c2, 7, 7)
        h = F.adaptive_avg_pool2d(self.stage3(h), 2).flatten(1)  # (N, 4·c3)
        return F.relu(self.fc(h))  # (N, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))  # (N, 10)


def as_classifier_input(images) -> torch.Tensor:
    """uint8 pixels or floats in [−1, 1], shaped (N, 28, 28) or (N, 1, 28, 28) → float32
    (N, 1, 28, 28)."""
    if not isinstance(images, torch.Tensor):
        import numpy as np

        array = np.asarray(images)
        if array.dtype.kind not in "biuf":
            raise InvalidType(f"digit images must be a tensor or array of numbers, got "
                              f"{type(images).__name__} {str(images)[:40]!r}.")
        images = torch.as_tensor(array)
    if images.ndim == 3:
        images = images[:, None]  # (N, 1, 28, 28)
    if images.ndim != 4 or tuple(images.shape[1:]) != (1, 28, 28):
        raise InvalidArgument(f"digit images must have shape (N, 28, 28) or (N, 1, 28, 28), got "
                         f"{tuple(images.shape)}. Colour or resized images are not MNIST digits.")
    if images.dtype == torch.uint8:
        from .pixels import to_model_range

        return to_model_range(images)
    if not images.is_floating_point():
        raise InvalidType(
            f"digit images must be uint8 pixels 0..255 or floats in [-1, 1], got dtype "
            f"{images.dtype}."
        )
    images = images.detach().float()
    if not torch.isfinite(images).all():
        raise InvalidArgument(
            "digit images contain NaN or inf; a diverged sampler? Check the model."
        )
    check_image_range(images, "float digit images", stacklevel=3)
    return images.clamp(-1.0, 1.0)


@torch.no_grad()
def evaluate_accuracy(net: DigitClassifier, images, labels, batch_size: int = 1000) -> float:
    """Share of ``images`` whose argmax class equals ``labels`` (eval mode)."""
    x = as_classifier_input(images)
    was_training = net.training
    net.eval()
    correct = sum(int((net(x[i:i + batch_size]).argmax(1) == labels[i:i + batch_size]).sum())
                  for i in range(0, len(x), batch_size))
    net.train(was_training)
    return correct / len(x)


def _random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by an integer (dy, dx) ∈ [−max_shift, max_shift]², filling with −1."""
    n, _, h, w = x.shape
    p = max_shift
    padded = F.pad(x, (p, p, p, p), value=-1.0)  # (N, 1, H+2p, W+2p), −1 = background
    dy, dx = torch.randint(0, 2 * p + 1, (2, n), generator=generator)
    rows = dy[:, None] + torch.arange(h)  # (N, H)
    cols = dx[:, None] + torch.arange(w)  # (N, W)
    return padded[torch.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]][:, None]


def synthetic_non_digits(n: int, generator: torch.Generator) -> torch.Tensor:
    """(n, 1, 28, 28) images in [−1, 1] that are no digit: a third each of uniform noise, clipped
    Gaussian noise of random strength, and smooth blobs (noise at 4×4..14×14, upsampled).

    Trained towards the uniform class distribution ("outlier exposure", Hendrycks et al. 2019), so
    that the classifier is *not* confident on noise and blobs, as an ordinary CNN is (without it,
    uniform noise is read as an "8" with p > 0.99). The confident share then means something for
    half-trained samples.
    """
    k = n // 3
    uniform = torch.rand(k, 1, 28, 28, generator=generator) * 2 - 1
    std = 0.2 + 1.3 * torch.rand(k, 1, 1, 1, generator=generator)
    gauss = (torch.randn(k, 1, 28, 28, generator=generator) * std - 0.5).clamp(-1, 1)
    blobs = []
    for _ in range(n - 2 * k):
        side = int(torch.randint(4, 15, (1,), generator=generator))
        z = torch.randn(1, 1, side, side, generator=generator)
        z = F.interpolate(z, size=(28, 28), mode="bilinear", align_corners=False)
        blobs.append(torch.tanh(2 * z + torch.randn(1, generator=generator)))
    return torch.cat([uniform, gauss, *blobs])  # (n, 1, 28, 28)

def _batch_loss(net, xb, yb, g, max_shift: int, outliers: int, outlier_weight: float):
    """Cross-entropy on the (shifted) digits + outlier_weight × CE(uniform, p) on non-digits."""
    xb = _random_shift(xb, max_shift, g) if max_shift else xb  # (B, 1, 28, 28)
    if outliers:
        xb = torch.cat([xb, synthetic_non_digits(outliers, g)])
    logits = net(xb)  # (B + outliers, 10)
    loss = F.cross_entropy(logits[:len(yb)], yb)
    if outliers:
        # CE(uniform, p) = −mean_k log p_k: lowest when the prediction is uniform
        loss = loss - outlier_weight * F.log_softmax(logits[len(yb):], 1).mean()
    return loss



def train_classifier(epochs: int = 5, batch_size: int = 128, lr: float = 3e-3, seed: int = 0,
                     max_shift: int = 2, outliers_per_batch: int = 32, outlier_weight: float = 0.5,
                     config: ClassifierConfig = ClassifierConfig(), threads: int | None = None,
                     limit: int | None = None, log=print) -> tuple[DigitClassifier, dict]:
    """Train a DigitClassifier on MNIST-train; returns (net in eval mode, info: test accuracy, wall
    time, settings).

    Loss per batch: cross-entropy on ``batch_size`` digits (randomly shifted by up to
    ``max_shift`` pixels) + ``outlier_weight`` × cross-entropy between the uniform distribution and
    the prediction on ``outliers_per_batch`` synthetic non-digits (:func:`synthetic_non_digits`).
    AdamW with a one-cycle learning rate. Seeded: the same seed and thread count give the same
    weights. ``limit`` trains on the first ``limit`` training digits only (for quick checks); the
    test accuracy is always measured on all 10 000 test digits.
    """
    from .datasets.mnist import load_mnist

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    train_x, train_y = load_mnist("train")
    test_x, test_y = load_mnist("test")
    if limit is not None:
        if limit < batch_size:
            raise InvalidArgument(f"limit ({limit}) must be at least batch_size ({batch_size}).")
        train_x, train_y = train_x[:limit], train_y[:limit]
    x = as_classifier_input(train_x)  # (60000, 1, 28, 28)
    net = DigitClassifier(config)
    steps_per_epoch = len(x) // batch_size
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr,
                                                total_steps=epochs * steps_per_epoch)
    t0 = time.perf_counter()
    net.train()
    for epoch in range(epochs):
        order = torch.randperm(len(x), generator=g)
        total = 0.0
        for i in range(steps_per_epoch):
            idx = order[i * batch_size:(i + 1) * batch_size]
            loss = _batch_loss(net, x[idx], train_y[idx], g, max_shift, outliers_per_batch,
                               outlier_weight)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item()
        acc = evaluate_accuracy(net, test_x, test_y)
        log(f"epoch {epoch + 1}/{epochs}: train loss {total / steps_per_epoch:.4f}, test accuracy "
            f"{100 * acc:.2f} %, {time.perf_counter() - t0:.0f} s")
    net.eval()
    info = {"test_accuracy": acc, "train_seconds": time.perf_counter() - t0, "epochs": epochs,
            "batch_size": batch_size, "lr": lr, "seed": seed, "max_shift": max_shift,
            "outliers_per_batch": outliers_per_batch, "outlier_weight": outlier_weight,
            "train_images": len(x), "threads": torch.get_num_threads(), "torch": torch.__version__}
    return net, info


def save_classifier(net: DigitClassifier, path, info: dict | None = None) -> str:
    """Write the weights as safetensors, config and ``info`` in the metadata; returns the
    SHA-256."""
    from safetensors.torch import save_file

    from .datasets.download import file_digest

    meta = {"format": _FORMAT, "config": json.dumps(asdict(net.config)),
            "info": json.dumps(info or {})}
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata=meta)
    return file_digest(path, "sha256")


def shipped_classifier_path() -> Path:
    """``<repo>/data/checkpoints/digit_classifier.safetensors``."""
    from .datasets.download import repo_data_dir

    return repo_data_dir() / "checkpoints" / _FILE


def load_classifier(path=None, sha256: str | None = CLASSIFIER_SHA256) -> DigitClassifier:
    """The classifier from ``path`` (default: the shipped file), in eval mode.

    The file's SHA-256 must equal ``sha256`` (default: the shipped file's, pinned in this module);
    pass ``sha256=None`` to load a classifier you trained yourself without the check.
    """
    from safetensors import safe_open
    from safetensors.torch import load_file

    from .datasets.download import file_digest

    path = Path(path) if path is not None else shipped_classifier_path()
    if not path.is_file():
        raise MissingFile(f"no digit classifier at {path}. Restore the shipped file "
                                f"(git checkout -- data/checkpoints/{_FILE}) or train one with "
                                f"`python -m ddpm_edu.classifier --out {path}`.")
    if sha256 is not None:
        digest = file_digest(path, "sha256")
        if digest != sha256:
            raise InvalidArgument(
                f"{path} has SHA-256 {digest[:12]}…, expected {sha256[:12]}…: the file "
                f"is damaged or not the shipped classifier. Restore it (git checkout -- "
                f"data/checkpoints/{_FILE}), or pass sha256=None for your own weights."
            )
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types for a bad header
        raise InvalidArgument(f"{path} is not a ddpm_edu digit classifier (not a readable "
                              f".safetensors file: {str(e)[:80]}).") from None
    if meta.get("format") != _FORMAT:
        raise InvalidArgument(f"{path} is not a ddpm_edu digit classifier (metadata format "
                         f"{meta.get('format')!r}, expected {_FORMAT!r}).")
    net = DigitClassifier(ClassifierConfig(**json.loads(meta["config"])))
    net.load_state_dict(load_file(str(path)))
    return net.eval()


_DEFAULT: list[DigitClassifier] = []


def default_classifier() -> DigitClassifier:
    """The shipped classifier, loaded (and verified) once per process."""
    if not _DEFAULT:
        _DEFAULT.append(load_classifier())
    return _DEFAULT[0]


if __name__ == "__main__":  # the command line lives in ddpm_edu/commands/train_classifier.py
    import sys

    from ddpm_edu.cli import main

    raise SystemExit(main(["train-classifier", *sys.argv[1:]]))
