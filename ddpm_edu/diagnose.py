""""Training finished but the samples are noise": check the usual causes, one finding each.

    report = diagnose(model, schedule, data=x_train, sampling_schedule=s, samples=x_gen)
    print(report)          # what was checked, what is wrong, and how to fix it
    report.ok              # True when nothing suspicious was found

What is checked (each only when the inputs it needs are given):

* data: outside [−1, 1], or looking like 8-bit pixels [0, 255] stored as floats, or [0, 1];
* schedules: the one used for sampling differs from the one of training (a respaced copy of the
  training schedule is fine);
* weights: NaN or inf in the network's parameters (a diverged run);
* the model on noisy data x_t ~ q(x_t | x_0): NaN outputs; off-by-one time indexing (a model
  trained with 0-based t, as diffusers and improved-diffusion count, denoises better when told
  t − 1 than t); an output that ignores t; no better than predicting ε̂ = 0 (untrained, or the
  weights never loaded); the loss per t against the curve of the shipped model
  (:func:`expected_loss_curve`);
* samples: NaN, values far outside [−1, 1] (x̂_0 never clipped), or no structure at all
  (neighbouring pixels uncorrelated: the samples are still noise).

All probes use L_simple's ε-error mean((ε − ε̂)²), the quantity training minimises.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from .forward import q_sample
from .losses import mean_flat
from .pixels import to_model_range
from .reverse import MeanType, _enum, p_mean_variance
from .schedules import Schedule, schedule_from_config
from .errors import InvalidArgument, InvalidType

__all__ = ["Finding", "Diagnosis", "diagnose", "check_data", "check_schedules", "check_weights",
           "check_samples", "check_model", "loss_curve", "curve_timesteps", "LossCurve",
           "expected_loss_curve", "SEVERITIES"]

SEVERITIES = ("error", "warning", "info", "ok")
_MARK = {"error": "✗ error  ", "warning": "! warning", "info": "· info   ", "ok": "✓ ok     "}
_RANGE_TOL = 1e-3


@dataclass(frozen=True)
class Finding:
    """One result of one check: ``check`` (a short id such as "data-range"), ``severity`` (one of
    :data:`SEVERITIES`), ``message`` (what was seen, in plain words) and ``fix`` (what to do)."""

    check: str
    severity: str
    message: str
    fix: str = ""

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise InvalidArgument(f"severity must be one of {SEVERITIES}, got {self.severity!r}.")

    def __str__(self) -> str:
        text = f"{_MARK[self.severity]} [{self.check}] {self.message}"
        return text + (f"\n            fix: {self.fix}" if self.fix else "")


class Diagnosis(list):
    """A list of :class:`Finding`. ``ok`` is True when none is an error or a warning."""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self if f.severity in ("error", "warning")]

    def find(self, check: str) -> list[Finding]:
        """The findings of one check (by id)."""
        return [f for f in self if f.check == check]

    def to_dict(self) -> dict:
        return {"ok": self.ok, "findings": [asdict(f) for f in self]}

    def __str__(self) -> str:
        order = sorted(self, key=lambda f: SEVERITIES.index(f.severity))
        n = len(self.problems)
        head = (f"diagnosis: {n} problem(s) found" if n else
                f"diagnosis: nothing wrong found ({len(self)} finding(s))")
        return "\n".join([head] + [str(f) for f in order])


# ---- data ---------------------------------------------------------------------------------------

def _as_tensor(x, what: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise InvalidType(f"{what} must be a torch.Tensor or numpy array, got {type(x).__name__}.")
    if x.ndim < 2 or x.shape[0] == 0:
        raise InvalidArgument(f"{what} must have shape [N, ...] with N ≥ 1, got {tuple(x.shape)}.")
    return x.detach().cpu()


def _prepare_data(data) -> tuple[list[Finding], torch.Tensor | None]:
    """Findings about the training data, and float data for the model probes (None if unusable)."""
    x = _as_tensor(data, "data")
    if x.dtype == torch.uint8:
        return [Finding("data-range", "info",
                        "data are uint8 pixels 0..255; the probes map them to [-1, 1] with "
                        "k/127.5 - 1, as ddpm_edu.train does (a loop of your own must do it too)")], \
            to_model_range(x)
    if not x.is_floating_point():
        return [Finding("data-range", "error", f"data have dtype {x.dtype}, neither 8-bit pixels "
                        "nor floats", "pass uint8 pixels or floats in [-1, 1]")], None
    x = x.float()
    bad = int((~torch.isfinite(x)).sum())
    if bad:
        return [Finding("data-range", "error", f"data contain {bad} NaN or inf value(s): the loss "
                        "becomes NaN and the weights with it", "remove or repair those examples")], None
    lo, hi = x.min().item(), x.max().item()
    span = f"[{lo:.4g}, {hi:.4g}]"
    if x.ndim == 2:
        return [Finding("data-range", "info", f"data are points [N, {x.shape[1]}] in {span}; the "
                        "pixel-range checks apply to images only")], x
    if lo >= -_RANGE_TOL and hi > 1 + _RANGE_TOL and hi <= 255 + _RANGE_TOL \
            and (x == x.round()).float().mean() > 0.99:
        return [Finding("data-range", "error",
                        f"data lie in {span} and are whole numbers: 8-bit pixels 0..255 stored as "
                        "floats. The model range is [-1, 1]: with pixels up to 255 the forward "
                        "process never reaches noise (√ᾱ_T·255 ≫ 1), and the sampler, which starts "
                        "from N(0, I), asks the network about inputs it never saw",
                        "map the pixels with x = pixels / 127.5 - 1 (ddpm_edu.to_model_range) and "
                        "retrain")], None
    if lo < -1 - _RANGE_TOL or hi > 1 + _RANGE_TOL:
        m, s = x.mean().item(), x.std().item()
        why = (" The mean is ≈ 0 and the standard deviation ≈ 1: standardised with a mean and std "
               "(e.g. torchvision's Normalize((0.1307,), (0.3081,)))." if abs(m) < 0.3 and 0.7 < s < 1.3 else "")
        return [Finding("data-range", "error",
                        f"data lie in {span}, outside the model range [-1, 1]; the sampler clips "
                        f"x̂_0 to [-1, 1], so it can never produce such values.{why}",
                        "map 8-bit pixels with k/127.5 - 1 (ddpm_edu.to_model_range), without any "
                        "mean/std normalisation, and retrain")], None
    if lo >= -_RANGE_TOL:
        return [Finding("data-range", "error",
                        f"data lie in {span}: images scaled to [0, 1], not [-1, 1]. The model learns "
                        "half of its range only; samples converted with (x + 1)·127.5 come out "
                        "washed out, and the clipping of x̂_0 to [-1, 1] no longer bounds them",
                        "map with x = 2·x - 1 (or pass uint8 pixels to ddpm_edu.train) and retrain")], None
    if hi - lo < 1.0:
        return [Finding("data-range", "warning",
                        f"data use only {span} of the range [-1, 1]: e.g. x - 0.5 in place of "
                        "2x - 1. Samples will not reach the extremes",
                        "map 8-bit pixels with k/127.5 - 1 (ddpm_edu.to_model_range)")], x
    return [Finding("data-range", "ok", f"data lie in {span}, inside [-1, 1]")], x


def check_data(data) -> list[Finding]:
    """Findings about the range of the training data (as fed to the network)."""
    return _prepare_data(data)[0]


# ---- schedules and weights -------------------------------------------------------------------------

def check_schedules(training: Schedule, sampling: Schedule) -> list[Finding]:
    """Is ``sampling`` the training schedule (or a respaced copy of it)?"""
    if sampling.same_as(training):
        return [Finding("schedule", "ok", f"sampling uses the training schedule ({training!r})")]
    kept = sampling.timesteps[1:]
    if (not torch.equal(sampling.timesteps, torch.arange(sampling.T + 1)) and kept.max() <= training.T
            and torch.allclose(sampling.alpha_bar[1:], training.alpha_bar[kept], rtol=1e-9, atol=0)):
        return [Finding("schedule", "ok", f"sampling uses {sampling.T} of the {training.T} training "
                        "steps (a respaced copy of the training schedule)")]
    return [Finding("schedule", "error",
                    f"the sampling schedule differs from the training schedule: trained with "
                    f"{training!r}, sampling with {sampling!r}. The network was taught the noise "
                    "level ᾱ_t of each t; a sampler with other ᾱ_t removes the wrong amount of noise "
                    "at every step",
                    "sample with the schedule saved with the model (load_pretrained(...).schedule); "
                    "for fewer steps use ddpm_edu.respace(training_schedule, steps)")]


def check_weights(net) -> list[Finding]:
    """NaN or inf among the parameters and buffers of a torch module."""
    tensors = list(net.parameters()) + list(net.buffers())
    total = sum(p.numel() for p in tensors)
    bad = sum(int((~torch.isfinite(p)).sum()) for p in tensors if p.is_floating_point())
    if bad:
        return [Finding("weights", "error",
                        f"{bad} of {total} weights are NaN or inf: training diverged (the loss "
                        "exploded), and every output is NaN",
                        "retrain from an earlier checkpoint with a lower learning rate and gradient "
                        "clipping on; check that the data lie in [-1, 1]")]
    return [Finding("weights", "ok", f"all {total} weights are finite")]


# ---- the model on noisy data --------------------------------------------------------------------

def _unwrap(model):
    """(callable(x_t, t), torch module or None, schedule or None, mean_type or None)."""
    if hasattr(model, "eps") and callable(model.eps) and hasattr(model, "schedule"):
        # a PretrainedModel: .eps already converts x0/mu predictions to ε̂
        return model.eps, getattr(model, "net", None), model.schedule, "eps"
    module = model if isinstance(model, torch.nn.Module) else None
    if not callable(model):
        raise InvalidType(f"model must be callable as model(x_t, t), got {type(model).__name__}.")
    return model, module, None, None


def _model_device(module):
    try:
        p = next(module.parameters())
        return p.device, p.dtype
    except (AttributeError, StopIteration):
        return torch.device("cpu"), torch.float32


class _Probe:
    """Calls the model on x_t ~ q(x_t | x_0) and returns per-example ε-errors."""

    def __init__(self, fn, schedule: Schedule, x0: torch.Tensor, mean_type: str, generator):
        self.fn, self.schedule, self.x0, self.generator = fn, schedule, x0, generator
        self.mean_type = _enum(MeanType, mean_type, "mean_type")

    def draw(self, t: int):
        tt = torch.full((self.x0.shape[0],), t, dtype=torch.long, device=self.x0.device)
        noise = torch.randn(self.x0.shape, generator=self.generator, dtype=self.x0.dtype).to(self.x0.device)
        return tt, noise, q_sample(self.schedule, self.x0, tt, noise=noise)

    def output(self, xt, t_in: int):
        n = xt.shape[0]
        t_model = self.schedule.timesteps[torch.full((n,), t_in, dtype=torch.long)].to(xt.device)
        with torch.no_grad():
            return self.fn(xt, t_model)

    def eps_hat(self, out, xt, tt):
        if self.mean_type is MeanType.EPS:
            return out
        return p_mean_variance(self.schedule, out, xt, tt, self.mean_type, clip_x0=False).pred_eps

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
            errs[s] = mean_flat((noise - self.eps_hat(out, xt, tt)) ** 2).double().cpu()
        return errs, outs, noise


def curve_timesteps(T: int, n: int = 12) -> list[int]:
    """Steps where the loss curve is measured: geometric from 1 (where it changes fast) plus even."""
    geo = np.geomspace(1, T, n)
    lin = np.linspace(1, T, n)
    return sorted({int(round(v)) for v in np.concatenate([geo, lin])})


def _probe_timesteps(T: int) -> list[int]:
    """Steps 2..T−1 for the off-by-one probe, dense at small t where neighbouring noise levels
    differ most (σ² of x_t roughly doubles from t = 1 to t = 2)."""
    if T < 3:
        return []
    return sorted({int(round(v)) for v in np.geomspace(2, T - 1, 10)})


def _time_index_findings(probe: _Probe, T: int) -> list[Finding]:
    ts = _probe_timesteps(T)
    if not ts:
        return [Finding("time-index", "info", f"T = {T} is too short for the off-by-one probe")]
    diffs = {-1: [], 1: []}
    base, same = [], True
    for t in ts:
        errs, outs, _ = probe.errors(t, (0, -1, 1))
        if any(e is None for e in errs.values()):
            return []  # NaN outputs are reported by the output check
        base.append(errs[0])
        for s in (-1, 1):
            diffs[s].append(errs[0] - errs[s])  # > 0: told t + s, the model does better
            same = same and torch.equal(outs[0], outs[s])
    loss0 = torch.cat(base).mean().item()
    if same and any(o.abs().max() > 0 for o in outs.values()):
        return [Finding("time-index", "warning",
                        "the model's output does not change with t: it cannot know how much noise "
                        "to remove, so it averages over all noise levels",
                        "pass t to the network and use it (the time embedding must reach the blocks)")]
    for s, label in ((-1, "t - 1"), (1, "t + 1")):
        d = torch.cat(diffs[s])
        gain = d.mean().item()
        z = gain / (d.std().item() / math.sqrt(d.numel()) + 1e-30)
        if gain > 0.02 * loss0 and z > 4:
            how = ("it was trained with 0-based steps (diffusers and improved-diffusion pass "
                   "t − 1), or your training loop gives the network t − 1" if s == -1 else
                   "your training loop gives the network t + 1 for the noise level ᾱ_t (e.g. "
                   "a 0-based table alphas_cumprod[t] indexed with the paper's t)")
            fix = ("train and sample with the same convention: ddpm_edu passes paper t = 1..T; "
                   "to use this model as it is, wrap it: lambda x, t: net(x, t - 1)" if s == -1 else
                   "make training pass the t whose ᾱ_t made x_t; ddpm_edu's tables are indexed by "
                   "paper t (schedule.alpha_bar[t] is ᾱ_t); or wrap: lambda x, t: net(x, t + 1)")
            return [Finding("time-index", "error",
                            f"the model denoises better when told {label} than t (ε-error "
                            f"{loss0 - gain:.4g} told {label}, {loss0:.4g} told t, at t in "
                            f"{ts[0]}..{ts[-1]}; z = {z:.1f}): {how}. Every sampling step then "
                            "removes the noise of the wrong step", fix)]
    return [Finding("time-index", "ok", f"told t, the model does at least as well as told t ± 1 "
                    f"(ε-error {loss0:.4g} at t in {ts[0]}..{ts[-1]})")]


def _trained_findings(probe: _Probe, schedule: Schedule) -> list[Finding]:
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
        from .checkpoints import atomic_write
        text = json.dumps(asdict(self), indent=1).encode()
        atomic_write(path, lambda f: f.write(text))
        return Path(path)

    @classmethod
    def load(cls, path) -> "LossCurve":
        try:
            d = json.loads(Path(path).read_text())
            return cls(**d)
        except (OSError, ValueError, TypeError) as e:
            raise InvalidArgument(f"{path} is not a loss-curve JSON file ({e}); delete it and compute it "
                             "again with ddpm_edu.diagnose.expected_loss_curve(recompute=True).") from None


@torch.no_grad()
def loss_curve(model, schedule: Schedule, x0: torch.Tensor, ts=None, generator=None,
               mean_type: str = "eps") -> torch.Tensor:
    """Mean ε-error of ``model`` at each step of ``ts`` (default :func:`curve_timesteps`), float64
    [len(ts)]. x0: images in [−1, 1] in the model's layout; one fresh ε per image and step."""
    ts = curve_timesteps(schedule.T) if ts is None else [int(t) for t in ts]
    probe = _Probe(model, schedule, x0, mean_type, generator)
    out = []
    for t in ts:
        errs, _, _ = probe.errors(t)
        out.append(float("nan") if errs[0] is None else errs[0].mean().item())
    return torch.tensor(out, dtype=torch.float64)


def _curve_findings(probe: _Probe, schedule: Schedule, curve: LossCurve) -> list[Finding]:
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
    detail = (f"ε-error {mean:.2f}× that of {curve.source or 'the reference model'} on average over "
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


def check_model(model, schedule: Schedule, data, *, mean_type: str | None = None, n_probe: int = 64,
                seed: int = 0, expected_curve: LossCurve | None = None) -> list[Finding]:
    """Run the model on x_t ~ q(x_t | x_0) of the first ``n_probe`` images of ``data`` (in [−1, 1],
    the model's layout) and report NaN outputs, off-by-one time indexing, an output that ignores t,
    an untrained model, and (with ``expected_curve``) the loss per t against the reference."""
    fn, module, _, mt = _unwrap(model)
    mean_type = mean_type or mt or "eps"
    device, dtype = _model_device(module)
    x0 = data[:n_probe].to(device=device, dtype=dtype)
    shape = tuple(getattr(model, "shape", None) or ())  # a PretrainedModel knows its example shape
    if shape and tuple(x0.shape[1:]) != shape and x0[0].numel() == math.prod(shape):
        x0 = x0.reshape(x0.shape[0], *shape)  # e.g. MNIST [N, 28, 28] → [N, 1, 28, 28]
    probe = _Probe(fn, schedule, x0, mean_type, torch.Generator().manual_seed(seed))
    T = schedule.T
    for t in (max(1, T // 2), T):
        try:
            tt, _, xt = probe.draw(t)
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
                            f"{tuple(x0.shape)}")]
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
    findings = [Finding("outputs", "ok", "the model's outputs are finite and shaped like x_t")]
    findings += _time_index_findings(probe, T)
    findings += _trained_findings(probe, schedule)
    if expected_curve is not None:
        findings += _curve_findings(probe, schedule, expected_curve)
    return findings


# ---- samples ------------------------------------------------------------------------------------

def _neighbour_correlation(x: torch.Tensor) -> float:
    """Correlation of vertically adjacent values (axis −2: rows of [.., H, W] or of [.., H, W, C])."""
    a = x[..., :-1, :].flatten().double()
    b = x[..., 1:, :].flatten().double()
    a, b = a - a.mean(), b - b.mean()
    den = (a.square().sum() * b.square().sum()).sqrt().item()
    return float("nan") if den == 0 else (a * b).sum().item() / den


def check_samples(samples) -> list[Finding]:
    """Findings about generated samples: NaN, range (clipping of x̂_0), still noise.

    ``samples``: float in the model range (best: what the sampler returned), or uint8 pixels
    (e.g. a .npy written by ``ddpm-edu sample``), or a path to a ``.npy`` file.
    """
    if isinstance(samples, (str, Path)):
        samples = np.load(samples)
    x = _as_tensor(samples, "samples")
    findings = []
    if x.dtype == torch.uint8:
        findings.append(Finding("clipping", "info", "samples are 8-bit pixels: whether x̂_0 was "
                                "clipped cannot be seen after the conversion (it clips)"))
        x = to_model_range(x)
    elif not x.is_floating_point():
        return [Finding("samples", "error", f"samples have dtype {x.dtype}",
                        "pass the sampler's float output or uint8 pixels")]
    else:
        x = x.float()
        bad = int((~torch.isfinite(x)).sum())
        if bad:
            return [Finding("samples", "error",
                            f"{bad} of {x.numel()} sample values are NaN or inf. Usual causes: a "
                            "step with t = 0 (ᾱ_0 = 1 makes 1/√(1 − ᾱ_0) infinite; a loop "
                            "`for t in reversed(range(T))` over paper indices does this), NaN "
                            "weights, or a diverged model",
                            "loop t from T down to 1 (or use ddpm_edu.sample); check the weights")]
        big = x.abs().max().item()
        outside = (x.abs() > 1 + 0.02).float().mean().item()
        if x.ndim < 3:
            findings.append(Finding("clipping", "info", f"samples are points [N, {x.shape[1]}], not "
                                    "images: the [-1, 1] range check does not apply"))
        elif big > 1.1 and outside > 1e-3:
            findings.append(Finding(
                "clipping", "error",
                f"{100 * outside:.1f} % of the sample values lie outside [-1, 1] (up to ±{big:.3g}): "
                "x̂_0 was not clipped to the data range while sampling, so errors of the early, "
                "noisy steps grow instead of being bounded",
                "sample with clip_x0=True (the default of ddpm_edu.sample); in your own loop clamp "
                "x̂_0 to [-1, 1] before forming the mean"))
        else:
            findings.append(Finding("clipping", "ok", f"samples lie within [-1, 1] (max |x| = {big:.3g})"))
    if x.ndim >= 3 and x.shape[-2] >= 4:
        rho = _neighbour_correlation(x)
        std = x.std().item()
        if std < 1e-3:
            findings.append(Finding("structure", "warning",
                                    f"every sample value is ≈ {x.mean().item():.3g}: the samples are blank",
                                    "check the model's outputs (all zero?) and the sampler's steps"))
        elif not rho > 0.3:
            findings.append(Finding("structure", "error",
                                    f"neighbouring pixels are uncorrelated (correlation {rho:.2f}; "
                                    "images have ≥ 0.5, Gaussian noise 0): the samples are still noise",
                                    "check the other findings (schedule, time indexing, data range); "
                                    "train longer if they are all ok"))
        else:
            findings.append(Finding("structure", "ok", f"neighbouring pixels correlate ({rho:.2f}): "
                                    "the samples have spatial structure"))
    return findings


# ---- everything at once -----------------------------------------------------------------------

def diagnose(model=None, schedule: Schedule | None = None, data=None, sampling_schedule: Schedule | None = None,
             samples=None, *, mean_type: str | None = None, expected_curve: LossCurve | None = None,
             n_probe: int = 64, seed: int = 0) -> Diagnosis:
    """Check a setup for the usual reasons why samples come out as noise; see the module docstring.

    Args:
        model: ``model(x_t, t) -> prediction`` (a network, a function, or a ``PretrainedModel``,
            whose schedule is then the default ``schedule``).
        schedule: the training schedule. data: training (or held-out) images as fed to the
            network: float in [−1, 1] or uint8 pixels, [N, C, H, W]. sampling_schedule: the one
            the sampler used. samples: generated samples (tensor, array or .npy path).
        mean_type: what ``model`` predicts ("eps", "x0", "mu"; default eps).
        expected_curve: a :class:`LossCurve` to compare the loss per t with
            (:func:`expected_loss_curve` gives the shipped model's).
        n_probe: images used by the model probes. seed: seed of the probes' noise.

    Returns a :class:`Diagnosis`; ``print`` it.
    """
    report = Diagnosis()
    fn_schedule = None
    if model is not None:
        _, module, fn_schedule, _ = _unwrap(model)
        if module is not None:
            report += check_weights(module)
    schedule = schedule if schedule is not None else fn_schedule
    x = None
    if data is not None:
        found, x = _prepare_data(data)
        report += found
    if sampling_schedule is not None:
        if schedule is None:
            report.append(Finding("schedule", "info", "a sampling schedule was given but no "
                                  "training schedule to compare it with"))
        else:
            report += check_schedules(schedule, sampling_schedule)
    if model is not None:
        if schedule is None:
            report.append(Finding("model", "info", "no schedule given: the model probes need the "
                                  "training schedule (schedule=...)"))
        elif data is None:
            report.append(Finding("model", "info", "no data given: the model probes need images "
                                  "(data=...)"))
        elif x is None:
            report.append(Finding("model", "info", "model probes skipped: fix the data first"))
        elif not any(f.check == "weights" and f.severity == "error" for f in report):
            report += check_model(model, schedule, x, mean_type=mean_type, n_probe=n_probe, seed=seed,
                                  expected_curve=expected_curve)
    if samples is not None:
        report += check_samples(samples)
    if not report:
        report.append(Finding("inputs", "info", "nothing to check: give a model, a schedule, data, "
                              "a sampling schedule and/or samples"))
    return report


# ---- the shipped model's curve ------------------------------------------------------------------

def default_curve_path(name: str = "mnist") -> Path:
    """``data/checkpoints/<name>-loss-curve.json`` in the repository."""
    from .datasets.download import repo_data_dir
    return repo_data_dir() / "checkpoints" / f"{name}-loss-curve.json"


def expected_loss_curve(name: str = "mnist", *, path=None, recompute: bool = False, compute: bool = True,
                        n_images: int = 256, seed: int = 0) -> LossCurve | None:
    """The loss per t of the shipped model ``name`` on its held-out images, cached as JSON.

    Reads ``path`` (default :func:`default_curve_path`) if it exists (and ``recompute`` is False).
    Otherwise, if ``compute``, loads the shipped model (``load_pretrained(name)``), measures
    :func:`loss_curve` at :func:`curve_timesteps` on the first ``n_images`` MNIST test images and
    saves it there. Returns None when there is no file and the model is not available (or
    ``compute`` is False). The lead runs, once the model ships:
    ``python -c "from ddpm_edu.diagnose import expected_loss_curve as f; print(f(recompute=True))"``.
    """
    path = Path(path) if path is not None else default_curve_path(name)
    if path.is_file() and not recompute:
        return LossCurve.load(path)
    if not (compute or recompute):
        return None
    from .errors import UserError
    from .pretrained import load_pretrained
    try:
        model = load_pretrained(name)
    except (UserError, FileNotFoundError):
        if recompute:
            raise
        return None
    if tuple(model.shape) != (1, 28, 28):
        raise InvalidArgument(f"expected_loss_curve measures on MNIST test images; {name!r} takes "
                         f"examples of shape {model.shape}.")
    from .datasets.mnist import load_mnist
    images, _ = load_mnist("test")
    x0 = to_model_range(images[:n_images])[:, None]  # (n, 1, 28, 28)
    ts = curve_timesteps(model.schedule.T)
    losses = loss_curve(model.eps, model.schedule, x0, ts, torch.Generator().manual_seed(seed))
    curve = LossCurve(ts, [round(v, 6) for v in losses.tolist()], model.schedule.to_config(), [1, 28, 28],
                      n_images, seed, f"the shipped {name!r} model")
    curve.save(path)
    return curve
