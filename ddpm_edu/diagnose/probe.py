"""The model on noisy data: x_t ~ q(x_t | x_0) from held-out images, the model's ε̂ at (x_t, t),
and the ε-error mean((ε − ε̂)²) that L_simple minimises. The model checks are built on it."""
from __future__ import annotations

import torch

from .._checks import check_choice
from ..chain import model_device_dtype
from ..errors import InvalidType
from ..forward import q_sample
from ..losses import mean_flat
from ..reverse import MeanType, model_eps_x0
from ..schedules import Schedule

__all__ = ["unwrap", "model_device", "Probe"]


def unwrap(model):
    """(callable(x_t, t), torch module or None, schedule or None, mean_type or None)."""
    if hasattr(model, "eps") and callable(model.eps) and hasattr(model, "schedule"):
        # a PretrainedModel: .eps already converts x0/mu predictions to ε̂
        return model.eps, getattr(model, "net", None), model.schedule, "eps"
    module = model if isinstance(model, torch.nn.Module) else None
    if not callable(model):
        raise InvalidType(f"model must be callable as model(x_t, t), got {type(model).__name__}.")
    return model, module, None, None


def model_device(module):
    """(device, dtype) of the module's first floating parameter; the CPU and float32 without one."""
    device, dtype = model_device_dtype(module)
    return device or torch.device("cpu"), dtype or torch.float32


class Probe:
    """Calls the model on x_t ~ q(x_t | x_0) and returns per-example ε-errors.

    ``fn(x_t, t)`` predicts ``mean_type`` (ε̂, x̂_0 or μ); ``x0``: images [N, ...] in [−1, 1];
    the noise comes from ``generator``, one fresh ε per image and call of :meth:`draw`.
    """

    def __init__(self, fn, schedule: Schedule, x0: torch.Tensor, mean_type, generator):
        self.fn, self.schedule, self.x0, self.generator = fn, schedule, x0, generator
        self.mean_type = check_choice(MeanType, mean_type, "mean_type")

    def draw(self, t: int):
        """(t as a LongTensor [N], ε, x_t)."""
        tt = torch.full((self.x0.shape[0],), t, dtype=torch.long, device=self.x0.device)
        noise = torch.randn(self.x0.shape, generator=self.generator,
                            dtype=self.x0.dtype).to(self.x0.device)
        return tt, noise, q_sample(self.schedule, self.x0, tt, noise=noise)

    def output(self, xt, t_in: int):
        """The model's raw output at x_t when told step ``t_in`` (no grad)."""
        n = xt.shape[0]
        t_model = self.schedule.timesteps[torch.full((n,), t_in, dtype=torch.long)].to(xt.device)
        with torch.no_grad():
            return self.fn(xt, t_model)

    def errors(self, t: int, shifts=(0,)):
        """{shift: [N] ε-errors when the model is told t + shift}, the outputs, and the noise."""
        tt, noise, xt = self.draw(t)
        errs, outs = {}, {}
        for s in shifts:
            out = self.output(xt, t + s)
            outs[s] = out
            if not torch.isfinite(out).all():
                errs[s] = None
                continue
            eps_hat, _ = model_eps_x0(self.schedule, out, xt, tt, self.mean_type)
            errs[s] = mean_flat((noise - eps_hat) ** 2).double().cpu()
        return errs, outs, noise
