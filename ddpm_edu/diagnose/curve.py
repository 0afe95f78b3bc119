"""The loss per step t: :func:`loss_curve` measures a model's ε-error at some steps, and
:func:`expected_loss_curve` gives that of the shipped ``mnist`` model (``load_pretrained("mnist")``)
on held-out MNIST digits, cached in ``data/checkpoints/mnist-loss-curve.json``, to compare with."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..errors import InvalidArgument
from ..pixels import to_model_range
from ..schedules import Schedule, schedule_from_config
from .findings import Finding
from .probe import Probe

__all__ = ["curve_timesteps", "LossCurve", "loss_curve", "curve_findings", "default_curve_path",
           "expected_loss_curve"]


def curve_timesteps(T: int, n: int = 12) -> list[int]:
    """Steps where the loss curve is measured: geometric from 1 (where it changes fast), plus
    evenly spaced ones."""
    geo = np.geomspace(1, T, n)
    lin = np.linspace(1, T, n)
    return sorted({int(round(v)) for v in np.concatenate([geo, lin])})


@dataclass(frozen=True)
class LossCurve:
    """Mean ε-error mean((ε − ε̂)²) of a model at some steps t, on some held-out images."""

    t: list
    loss: list
    schedule: dict = field(default_factory=dict)
    shape: list = field(default_factory=list)
    n_images: int = 0
    seed: int = 0
    source: str = ""

    def save(self, path) -> Path:
        from .._files import atomic_write
        text = json.dumps(asdict(self), indent=1).encode()
        atomic_write(path, lambda f: f.write(text))
        return Path(path)

    @classmethod
    def load(cls, path) -> "LossCurve":
        try:
            d = json.loads(Path(path).read_text())
            return cls(**d)
        except (OSError, ValueError, TypeError) as e:
            raise InvalidArgument(f"{path} is not a loss-curve JSON file ({e}); delete it and "
                                  "compute it again with ddpm_edu.diagnose."
                                  "expected_loss_curve(recompute=True).") from None


@torch.no_grad()
def loss_curve(model, schedule: Schedule, x0: torch.Tensor, ts=None, generator=None,
               mean_type: str = "eps") -> torch.Tensor:
    """Mean ε-error of ``model`` at each step of ``ts`` (default :func:`curve_timesteps`), float64
    [len(ts)]. x0: images in [−1, 1] in the model's layout; one fresh ε per image and step."""
    ts = curve_timesteps(schedule.T) if ts is None else [int(t) for t in ts]
    probe = Probe(model, schedule, x0, mean_type, generator)
    out = []
    for t in ts:
        errs, _, _ = probe.errors(t)
        out.append(float("nan") if errs[0] is None else errs[0].mean().item())
    return torch.tensor(out, dtype=torch.float64)


def curve_findings(probe: Probe, schedule: Schedule, curve: LossCurve) -> list[Finding]:
    if curve.schedule and not schedule_from_config(curve.schedule).same_as(schedule):
        return [Finding("loss-curve", "info", f"the expected loss curve ({curve.source}) is for "
                        "another schedule: not compared")]
    if curve.shape and list(curve.shape) != list(probe.x0.shape[1:]):
        return [Finding("loss-curve", "info", f"the expected loss curve ({curve.source}) is for "
                        f"images of shape {curve.shape}: not compared")]
    mine = loss_curve(probe.fn, schedule, probe.x0, curve.t, probe.generator, probe.mean_type.value)
    ref = torch.tensor(curve.loss, dtype=torch.float64)
    ratio = mine / ref.clamp(min=1e-12)
    if not torch.isfinite(ratio).all():
        return []
    worst = int(ratio.argmax())
    mean = ratio.mean().item()
    source = curve.source or "the reference model"
    detail = (f"ε-error {mean:.2f}× that of {source} on average over "
              f"t = {curve.t[0]}..{curve.t[-1]}; worst at t = {curve.t[worst]}: {mine[worst]:.4g} "
              f"vs {ref[worst]:.4g}")
    if mean > 2.0:
        return [Finding("loss-curve", "error", detail + ": far from a trained model",
                        "train longer (or check the learning rate and the data); compare with the "
                        "chapter's loss-curve plot")]
    if mean > 1.3:
        return [Finding("loss-curve", "warning", detail + ": under-trained",
                        "train longer; samples sharpen as this ratio approaches 1")]
    return [Finding("loss-curve", "ok", detail)]



def default_curve_path(name: str = "mnist") -> Path:
    """``data/checkpoints/<name>-loss-curve.json`` in the repository."""
    from ..datasets.download import repo_data_dir
    return repo_data_dir() / "checkpoints" / f"{name}-loss-curve.json"


def expected_loss_curve(name: str = "mnist", *, path=None, recompute: bool = False,
                        compute: bool = True, n_images: int = 256,
                        seed: int = 0) -> LossCurve | None:
    """The loss per t of the shipped model ``name`` on its held-out images, cached as JSON.

    Reads ``path`` (default :func:`default_curve_path`) if it exists (and ``recompute`` is False).
    Otherwise, if ``compute``, loads the shipped model (``load_pretrained(name)``), measures
    :func:`loss_curve` at :func:`curve_timesteps` on the first ``n_images`` MNIST test images and
    saves it there. Returns None when there is no file and the model is not available (or
    ``compute`` is False). The curve of the shipped ``mnist`` model ships with it
    (``data/checkpoints/mnist-loss-curve.json``); after retraining that model, refresh it with
    ``python -c "from ddpm_edu.diagnose import expected_loss_curve as f;
    print(f(recompute=True))"``.
    """
    path = Path(path) if path is not None else default_curve_path(name)
    if path.is_file() and not recompute:
        return LossCurve.load(path)
    if not (compute or recompute):
        return None
    from ..errors import UserError
    from ..pretrained import load_pretrained
    try:
        model = load_pretrained(name)
    except (UserError, FileNotFoundError):
        if recompute:
            raise
        return None
    if tuple(model.shape) != (1, 28, 28):
        raise InvalidArgument(f"expected_loss_curve measures on MNIST test images; {name!r} takes "
                         f"examples of shape {model.shape}.")
    from ..datasets.mnist import load_mnist
    images, _ = load_mnist("test")
    x0 = to_model_range(images[:n_images])[:, None]  # (n, 1, 28, 28)
    ts = curve_timesteps(model.schedule.T)
    losses = loss_curve(model.eps, model.schedule, x0, ts, torch.Generator().manual_seed(seed))
    curve = LossCurve(ts, [round(v, 6) for v in losses.tolist()], model.schedule.to_config(),
                      [1, 28, 28], n_images, seed, f"the shipped {name!r} model")
    curve.save(path)
    return curve
