"""Checks of the network itself: finite weights, and its behaviour on noisy data x_t ~ q(x_t | x_0)
(finite outputs shaped like x_t, t read correctly, better than predicting ε̂ = 0, the loss per t
against the shipped model's)."""
from __future__ import annotations

import math

import torch

from ..losses import mean_flat
from ..schedules import Schedule
from .curve import LossCurve, curve_findings, curve_timesteps
from .findings import Finding
from .probe import Probe, model_device, unwrap
from .schedule import time_index_findings

__all__ = ["check_weights", "check_model"]


def check_weights(net) -> list[Finding]:
    """NaN or inf among the parameters and buffers of a torch module."""
    tensors = list(net.parameters()) + list(net.buffers())
    total = sum(p.numel() for p in tensors)
    bad = sum(int((~torch.isfinite(p)).sum()) for p in tensors if p.is_floating_point())
    if bad:
        return [Finding("weights", "error",
                        f"{bad} of {total} weights are NaN or inf: training diverged (the loss "
                        "exploded), and every output is NaN",
                        "retrain from an earlier checkpoint with a lower learning rate and "
                        "gradient clipping on; check that the data lie in [-1, 1]")]
    return [Finding("weights", "ok", f"all {total} weights are finite")]


def _trained_findings(probe: Probe, schedule: Schedule) -> list[Finding]:
    # Where x_t is mostly noise (ᾱ_t < ½), predicting ε is easy: any trained model beats ε̂ = 0.
    T = schedule.T
    ts = [t for t in curve_timesteps(T) if schedule.alpha_bar[t] < 0.5] or [T]
    model_err, zero_err = [], []
    for t in ts:
        errs, _, noise = probe.errors(t)
        if errs[0] is None:
            return []
        model_err.append(errs[0])
        zero_err.append(mean_flat(noise.double() ** 2).cpu())
    ratio = torch.cat(model_err).mean().item() / torch.cat(zero_err).mean().item()
    if ratio > 0.9:
        return [Finding("trained", "error",
                        f"at high noise (t ≥ {ts[0]}) the model's ε-error is {ratio:.2f}× that of "
                        "predicting ε̂ = 0: it has learnt nothing (untrained weights, the weights "
                        "were never loaded, or the EMA copy was never updated)",
                        "load the trained (EMA) weights; check that the training loss went down")]
    return [Finding("trained", "ok", f"at high noise the model's ε-error is {ratio:.2f}× that of "
                    "predicting ε̂ = 0")]


def check_model(model, schedule: Schedule, data, *, mean_type: str | None = None, n_probe: int = 64,
                seed: int = 0, expected_curve: LossCurve | None = None) -> list[Finding]:
    """Run the model on x_t ~ q(x_t | x_0) of the first ``n_probe`` images of ``data`` (in [−1, 1],
    the model's layout) and report NaN outputs, off-by-one time indexing, an output that ignores t,
    an untrained model, and (with ``expected_curve``) the loss per t against the reference."""
    probe = _make_probe(model, schedule, data, mean_type, n_probe, seed)
    T = schedule.T
    for t in (max(1, T // 2), T):
        failed = _output_findings(probe, t, T)
        if failed:
            return failed
    findings = [Finding("outputs", "ok", "the model's outputs are finite and shaped like x_t")]
    findings += time_index_findings(probe, T)
    findings += _trained_findings(probe, schedule)
    if expected_curve is not None:
        findings += curve_findings(probe, schedule, expected_curve)
    return findings


def _make_probe(model, schedule, data, mean_type, n_probe, seed) -> Probe:
    """A :class:`Probe` on the first ``n_probe`` images, on the model's device and dtype."""
    fn, module, _, mt = unwrap(model)
    device, dtype = model_device(module)
    x0 = data[:n_probe].to(device=device, dtype=dtype)
    shape = tuple(getattr(model, "shape", None) or ())  # a PretrainedModel knows its example shape
    if shape and tuple(x0.shape[1:]) != shape and x0[0].numel() == math.prod(shape):
        x0 = x0.reshape(x0.shape[0], *shape)  # e.g. MNIST [N, 28, 28] → [N, 1, 28, 28]
    return Probe(fn, schedule, x0, mean_type or mt or "eps", torch.Generator().manual_seed(seed))


def _output_findings(probe: Probe, t: int, T: int) -> list[Finding]:
    """An error finding if the model fails at step t, or its output is not finite or not shaped
    like x_t; [] if all is well."""
    try:
        _, _, xt = probe.draw(t)
        out = probe.output(xt, t)
    except Exception as e:  # the model's own error says most
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        if t == T:
            return [Finding("model-call", "error",
                            f"the model fails when called with t = T = {T} ({type(e).__name__}: "
                            f"{msg}): it was built for 0-based steps 0..T-1 (an embedding "
                            "table of size T?)",
                            "ddpm_edu calls networks with paper t = 1..T: size the time "
                            "embedding for T + 1 values, or wrap: lambda x, t: net(x, t - 1)")]
        return [Finding("model-call", "error",
                        f"the model cannot be called on the data ({type(e).__name__}: {msg})",
                        f"give data in the layout the model takes, e.g. [N, C, H, W]; got "
                        f"{tuple(probe.x0.shape)}")]
    if not torch.isfinite(out).all():
        return [Finding("outputs", "error",
                        f"the model outputs NaN or inf (at t = {t}): every sample becomes NaN",
                        "check the weights (a diverged run) and the inputs; retrain from an "
                        "earlier checkpoint with a lower learning rate")]
    if out.shape != xt.shape:
        return [Finding("outputs", "error",
                        f"the model's output has shape {tuple(out.shape)}, its input "
                        f"{tuple(xt.shape)}: an ε-prediction must have the shape of x_t",
                        "make the network's last layer output as many channels as it takes")]
    return []
