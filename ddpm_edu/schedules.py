"""Variance schedules β_1..β_T and the float64 tables derived from them.

Every table has length T+1 and is indexed by paper time t = 0..T, where index 0 is the data:
β_0 = 0, α_0 = 1, ᾱ_0 = 1. A learner can therefore write ``schedule.alpha_bar[t]`` exactly as the
paper writes ᾱ_t. Tables stay in float64 (the small ᾱ_T of a 1000-step schedule loses digits in
float32); :func:`extract` casts them to the dtype of the tensor they are used with.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field

import torch
from .errors import InvalidArgument, InvalidType

__all__ = [
    "Schedule",
    "linear_schedule",
    "cosine_schedule",
    "geometric_schedule",
    "schedule_from_betas",
    "schedule_from_config",
    "respace",
    "base_index",
    "one_minus_ratio",
    "extract",
]


@dataclass(frozen=True, eq=False)
class Schedule:
    """A variance schedule with its derived tables, all float64 tensors of shape [T+1].

    Attributes (paper symbol → name):
        β_t → ``beta``; α_t = 1 − β_t → ``alpha``; ᾱ_t = ∏_{s≤t} α_s → ``alpha_bar``;
        ᾱ_{t−1} → ``alpha_bar_prev`` (index 0 holds 1); 1 − ᾱ_t → ``one_minus_alpha_bar`` and
        log ᾱ_t → ``log_alpha_bar`` (both accurate to full precision even where ᾱ_t ≈ 1, unlike
        ``1 - alpha_bar``); β̃_t → ``posterior_variance``;
        log β̃_t with β̃_1 replaced by β̃_2 → ``posterior_log_variance_clipped``;
        the posterior mean coefficients c1_t, c2_t → ``posterior_mean_coef1``,
        ``posterior_mean_coef2``. ``timesteps[t]`` is the time index of the *original* schedule that
        step t stands for: the identity, except for schedules made by :func:`respace`, whose model
        must be called with it.
    """

    beta: torch.Tensor
    name: str = "custom"
    config: dict = field(default_factory=dict)
    timesteps: torch.Tensor | None = None

    def __post_init__(self):
        beta = self.beta
        if not isinstance(beta, torch.Tensor) or beta.ndim != 1 or beta.numel() < 2 or beta[0] != 0:
            raise InvalidArgument(
                "Schedule(beta=...) expects the table β_0..β_T as a 1-D tensor with "
                "β_0 = 0 (index 0 is the data). To build a schedule from β_1..β_T use "
                "schedule_from_betas(betas)."
            )
        _validate_betas(beta[1:])  # β_1..β_T finite and in (0, 1)
        if beta.dtype != torch.float64:
            beta = beta.double()  # every table is float64; see the module docstring
            object.__setattr__(self, "beta", beta)
        T = beta.shape[0] - 1
        alpha = 1.0 - beta
        alpha_bar = torch.cumprod(alpha, dim=0)
        alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
        # 1 − ᾱ_t computed as 1.0 − alpha_bar cancels where ᾱ_t ≈ 1 (ᾱ_1 = 1 − 1e−4 leaves only ~12
        # digits), and the posterior coefficients inherit the error (~3e−13 at t = 3). There, sum
        # log(1 − β) and use expm1; where ᾱ_t < ½ the plain subtraction is exact enough and
        # stays consistent with alpha_bar.
        log_alpha_bar = torch.cumsum(torch.log1p(-beta), dim=0)
        one_minus = torch.where(alpha_bar < 0.5, 1.0 - alpha_bar, -torch.expm1(log_alpha_bar))
        one_minus[0] = 0.0  # −expm1(0) is −0.0, which would make snr[0] = −inf instead of +inf
        one_minus_prev = torch.cat([torch.zeros(1, dtype=torch.float64), one_minus[:-1]])
        # β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t); index 0 (the data) has no posterior: set it to 0.
        post_var = torch.zeros_like(beta)
        post_var[1:] = beta[1:] * one_minus_prev[1:] / one_minus[1:]
        coef1 = torch.zeros_like(beta)
        coef2 = torch.zeros_like(beta)
        coef1[1:] = beta[1:] * alpha_bar_prev[1:].sqrt() / one_minus[1:]
        coef2[1:] = one_minus_prev[1:] * alpha[1:].sqrt() / one_minus[1:]
        # β̃_1 = 0 has no logarithm; the likelihood (decoder, KL at t=1) uses β̃_2 in its place,
        # as DDPM does. With T = 1 there is no β̃_2: fall back to β_1.
        clipped = post_var.clone()
        clipped[1] = post_var[2] if T >= 2 else beta[1]
        clipped[0] = 1.0  # never used; keeps log finite
        ts = self.timesteps if self.timesteps is not None else torch.arange(T + 1)
        tables = {
            "T": T,
            "alpha": alpha,
            "alpha_bar": alpha_bar,
            "alpha_bar_prev": alpha_bar_prev,
            "log_alpha_bar": log_alpha_bar,
            "one_minus_alpha_bar": one_minus,
            "sqrt_alpha_bar": alpha_bar.sqrt(),
            "sqrt_one_minus_alpha_bar": one_minus.sqrt(),
            "posterior_variance": post_var,
            "posterior_log_variance_clipped": clipped.log(),
            "posterior_mean_coef1": coef1,
            "posterior_mean_coef2": coef2,
            "timesteps": ts,
        }
        for k, v in tables.items():
            object.__setattr__(self, k, v)

    # ---- conveniences -------------------------------------------------------------------
    @property
    def snr(self) -> torch.Tensor:
        """Signal-to-noise ratio ᾱ_t / (1 − ᾱ_t), shape [T+1] (index 0 is +inf)."""
        return self.alpha_bar / self.one_minus_alpha_bar

    @property
    def log_snr(self) -> torch.Tensor:
        """Natural log of the SNR, shape [T+1] (index 0 is +inf)."""
        return self.snr.log()

    def __len__(self) -> int:
        return self.T

    def __repr__(self) -> str:
        return (f"Schedule(name={self.name!r}, T={self.T}, beta_1={self.beta[1].item():.4g}, "
                f"beta_T={self.beta[-1].item():.4g}, alpha_bar_T={self.alpha_bar[-1].item():.4g})")

    def same_as(self, other: "Schedule", rtol: float = 1e-12) -> bool:
        """True when both schedules have the same T and the same β (to ``rtol``)."""
        return self.T == other.T and bool(torch.allclose(self.beta, other.beta, rtol=rtol, atol=0))

    def to_config(self) -> dict:
        """A JSON-able description from which :func:`schedule_from_config` rebuilds this
        schedule."""
        if self.config:
            return dict(self.config)
        if not torch.equal(self.timesteps, torch.arange(self.T + 1)):
            raise InvalidArgument("a respaced schedule has no config of its own: save the original "
                             "schedule's config and call respace() again after loading.")
        return {"kind": "betas", "betas": self.beta[1:].tolist()}


def _validate_betas(betas) -> torch.Tensor:
    b = torch.as_tensor(betas, dtype=torch.float64)
    if b.ndim != 1:
        raise InvalidArgument(f"betas must be a 1-D array of β_1..β_T, got shape {tuple(b.shape)}. "
                         "Pass a flat list or 1-D tensor.")
    if b.numel() == 0:
        raise InvalidArgument("betas is empty: a schedule needs at least one step (T ≥ 1).")
    if not torch.isfinite(b).all():
        bad = int((~torch.isfinite(b)).nonzero()[0]) + 1
        raise InvalidArgument(f"betas must be finite, but β_{bad} = {b[bad - 1].item()}. "
                         "Check the array for NaN or inf.")
    if not ((b > 0) & (b < 1)).all():
        bad = int((~((b > 0) & (b < 1))).nonzero()[0]) + 1
        raise InvalidArgument(
            f"every β_t must lie in (0, 1), but β_{bad} = {b[bad - 1].item():.6g}. "
            "β_t is the variance of the noise added at step t: 0 adds none, 1 erases the "
            "signal. Give β_1..β_T only (β_0 = 0 is added for you)."
        )
    return b


def _check_T(T) -> int:
    if isinstance(T, bool) or not isinstance(T, int) or T < 1:
        raise InvalidArgument(f"T must be a positive integer number of steps, got {T!r}.")
    return T


def schedule_from_betas(betas, name: str = "custom", config: dict | None = None) -> Schedule:
    """Build a :class:`Schedule` from β_1..β_T (any 1-D array-like), validated and kept in float64.

    Raises ``ValueError`` naming the first offending β_t if any is outside (0, 1) or not finite.
    """
    b = _validate_betas(betas)
    beta = torch.cat([torch.zeros(1, dtype=torch.float64), b])
    return Schedule(beta=beta, name=name, config=dict(config or {}))


def linear_schedule(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Schedule:
    """DDPM's linear schedule: β_t evenly spaced from ``beta_start`` (t=1) to ``beta_end`` (t=T).

    The defaults are DDPM's (Ho et al. 2020, T = 1000). The seed paper also uses ``beta_end=0.2``.
    """
    T = _check_T(T)
    betas = torch.linspace(beta_start, beta_end, T, dtype=torch.float64)
    return schedule_from_betas(betas, name="linear",
                               config={"kind": "linear", "T": T, "beta_start": beta_start,
                                       "beta_end": beta_end})


def cosine_schedule(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> Schedule:
    """Improved DDPM's cosine schedule (Nichol & Dhariwal 2021, eq. 17).

    f(u) = cos²(((u + s)/(1 + s))·π/2), β_t = min(1 − f(t/T)/f((t−1)/T), ``max_beta``); ᾱ is then
    re-derived as the cumulative product of 1 − β, so it is consistent with the capped β.
    """
    T = _check_T(T)
    if not 0 < max_beta < 1:
        raise InvalidArgument(f"max_beta must lie in (0, 1), got {max_beta}.")

    def f(u):
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    betas = [min(1 - f(t / T) / f((t - 1) / T), max_beta) for t in range(1, T + 1)]
    return schedule_from_betas(betas, name="cosine",
                               config={"kind": "cosine", "T": T, "s": s, "max_beta": max_beta})


def geometric_schedule(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Schedule:
    """A geometric series of β: β_t = beta_start · (beta_end/beta_start)^((t−1)/(T−1)).

    The seed paper names it beside the linear schedules; it spends more steps at small noise.
    """
    T = _check_T(T)
    if T == 1:
        betas = [beta_start]
    else:
        betas = torch.logspace(math.log10(beta_start), math.log10(beta_end), T, dtype=torch.float64)
    return schedule_from_betas(betas, name="geometric",
                               config={"kind": "geometric", "T": T, "beta_start": beta_start,
                                       "beta_end": beta_end})


def schedule_from_config(config: dict) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.to_config` output (as saved in checkpoints)."""
    cfg = dict(config)
    kind = cfg.pop("kind", None)
    if kind == "linear":
        sched = linear_schedule(**cfg)
    elif kind == "cosine":
        sched = cosine_schedule(**cfg)
    elif kind == "geometric":
        sched = geometric_schedule(**cfg)
    elif kind == "betas":
        sched = schedule_from_betas(cfg["betas"])
    else:
        raise InvalidArgument(f"unknown schedule kind {kind!r} in config; expected one of "
                         "'linear', 'cosine', 'geometric', 'betas'.")
    return sched


def respace(schedule: Schedule, steps_or_timesteps, spacing: str = "linspace") -> Schedule:
    """A shorter schedule that visits only some of the original steps (for DDIM and fast DDPM).

    ``steps_or_timesteps`` is either a number of steps S (an int, or a NumPy / 0-d tensor scalar),
    or an explicit list (or 1-D array) of paper indices to keep; ``[50]`` keeps step 50 only.
    ``spacing`` chooses S of them: ``"linspace"`` (default) spreads them evenly from 1 to T, both
    ends included, so sampling starts from pure noise at t = T; ``"leading"`` is the DDIM paper's
    1, 1+c, 1+2c, … with c = T // S.

    The new schedule has T' = S steps; its ᾱ'_k equals the original ᾱ at the k-th kept step, and
    β'_k = 1 − ᾱ'_k / ᾱ'_{k−1}. ``new.timesteps[k]`` gives the original index, which the network
    (trained on the original indices) must be called with.
    """
    T = schedule.T
    if isinstance(steps_or_timesteps, bool):
        raise InvalidType("respace needs a number of steps or a list of timesteps, got a bool.")
    if (not isinstance(steps_or_timesteps, numbers.Integral)
            and (isinstance(steps_or_timesteps, numbers.Number)
                 or getattr(steps_or_timesteps, "ndim", None) == 0)):
        # a float, 0-d tensor or NumPy scalar is a count, like an int (never "keep only step S")
        steps_or_timesteps = _integer_count(steps_or_timesteps)
    if isinstance(steps_or_timesteps, numbers.Integral):
        S = int(steps_or_timesteps)
        if not 1 <= S <= T:
            raise InvalidArgument(f"number of steps must be between 1 and T = {T}, got {S}.")
        if spacing == "linspace":
            kept = torch.linspace(1, T, S, dtype=torch.float64).round().long()
            if S == 1:
                kept = torch.tensor([T])
        elif spacing == "leading":
            c = T // S
            kept = torch.arange(S) * c + 1
        else:
            raise InvalidArgument(f"spacing must be 'linspace' or 'leading', got {spacing!r}.")
    else:
        given = torch.as_tensor(steps_or_timesteps).flatten()
        if given.is_floating_point():
            given = torch.as_tensor(steps_or_timesteps, dtype=torch.float64).flatten()
        if given.numel() == 0:
            raise InvalidArgument("the list of timesteps to keep is empty.")
        if given.is_floating_point() and not torch.equal(given, given.round()):
            raise InvalidArgument(
                "timesteps to keep must be whole numbers (paper indices 1..T), got "
                f"{given[given != given.round()][0].item()}."
            )
        kept = given.long()
    kept = torch.unique(kept)  # sorted, no repeats
    if kept.min() < 1 or kept.max() > T:
        raise InvalidArgument(
            f"timesteps to keep must lie in 1..{T}, got {kept.min().item()}..{kept.max().item()}."
        )
    orig = schedule.timesteps[kept]
    prev = torch.cat([torch.zeros(1, dtype=torch.long), kept[:-1]])
    betas = _validate_betas(one_minus_ratio(schedule, kept, prev))  # β'_k = 1 − ᾱ'_k/ᾱ'_{k−1}
    return Schedule(beta=torch.cat([torch.zeros(1, dtype=torch.float64), betas]),
                    name=f"{schedule.name}-respaced{len(kept)}",
                    timesteps=torch.cat([torch.zeros(1, dtype=torch.long), orig]))


def base_index(base: Schedule, chain: Schedule, t: torch.Tensor) -> torch.Tensor:
    """The indices into ``base`` of steps ``t`` of ``chain``, a respaced copy of ``base``.

    Both schedules name each step by its original index (``timesteps``), so step k of ``chain`` is
    the step k' of ``base`` with ``base.timesteps[k'] == chain.timesteps[k]``. t: LongTensor [N]
    (or an int) → LongTensor [N] (or a 0-d tensor), on the CPU.
    """
    t = torch.as_tensor(t, dtype=torch.long).cpu()
    return torch.searchsorted(base.timesteps, chain.timesteps[t])


def one_minus_ratio(schedule: Schedule, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """1 − ᾱ_t/ᾱ_s for index tensors s < t of one shape, float64, to full relative precision.

    This is the noise variance added going from step s to step t (β_t when s = t − 1). Computed
    as 1 − ratio it cancels where ᾱ ≈ 1 (~1e−12 relative error at small t); as
    −expm1(log ᾱ_t − log ᾱ_s) it loses digits where |log ᾱ_t| is large. Each is used where it is
    accurate, and consecutive steps take β_t itself.
    """
    t, s = t.cpu(), s.cpu()
    log_ab_t = schedule.log_alpha_bar[t]
    far = torch.where(log_ab_t > -1.0,
                      -torch.expm1(log_ab_t - schedule.log_alpha_bar[s]),
                      1.0 - schedule.alpha_bar[t] / schedule.alpha_bar[s])
    return torch.where(s == t - 1, schedule.beta[t], far)


def _integer_count(value) -> int:
    v = value.item() if hasattr(value, "item") else value
    if isinstance(v, float) and not v.is_integer():
        raise InvalidArgument(f"number of steps must be a whole number, got {v}.")
    return int(v)


def extract(table: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """table[t] reshaped to broadcast against ``like`` ([N] → [N, 1, 1, …]) in its dtype and
    device."""
    vals = table[t.cpu()].to(device=like.device, dtype=like.dtype)
    return vals.reshape(vals.shape + (1,) * (like.ndim - vals.ndim))

