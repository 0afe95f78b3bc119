"""Chapter 1 (forward noising): one step of q(x_t | x_{t−1}), ᾱ_t from β_t, a prediction of what
the chain does without its shrink factor √(1 − β_t) (compared with the chapter's Monte Carlo), and
where SNR(t) crosses 1.

Each check tries the learner's answer on inputs it chooses, and when the answer is wrong it tests
the usual slips (a variance used where a standard deviation belongs, a product taken as a sum,
an index shifted by one) to say which one it was.
"""
from __future__ import annotations

import math
import operator

import torch

from ..schedules import cosine_schedule, geometric_schedule, linear_schedule
from ._core import (Exercise, Hint, as_number, call, close, expect_shape, first_mismatch, fmt,
                    measurement, name_slip, near)

__all__ = ["EXERCISES"]

_RTOL, _ATOL = 1e-3, 1e-5  # forgiving: float32 arithmetic and rounded constants pass


# ---- 1.1 one forward step ----------------------------------------------------------------------
def _fit_two(y: torch.Tensor, x: torch.Tensor, z: torch.Tensor):
    """Least-squares a, b in y ≈ a·x + b·z and the
    relative residual (0 when y is exactly linear)."""
    A = torch.stack([x.flatten(), z.flatten()], dim=1)  # (n, 2)
    sol = torch.linalg.lstsq(A, y.flatten().unsqueeze(1)).solution.flatten()
    resid = (A @ sol - y.flatten()).norm() / y.flatten().norm().clamp(min=1e-12)
    return float(sol[0]), float(sol[1]), float(resid)


def _check_forward_step(fn) -> str:
    g = torch.Generator().manual_seed(11)
    for beta, shape in ((0.3, (4, 6)), (0.05, (2, 1, 5, 5))):
        x = torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1  # (…) data in [−1, 1]
        z = torch.randn(shape, generator=g, dtype=torch.float64)         # ε ~ N(0, I)
        b = torch.tensor(beta, dtype=torch.float64)
        want = math.sqrt(1 - beta) * x + math.sqrt(beta) * z
        got = call(fn, x, b, z, what="forward_step(x_prev, beta_t, noise)")
        expect_shape(got, shape, "forward_step's result", like="x_prev")
        if close(got, want, _RTOL, _ATOL):
            continue
        a_hat, b_hat, resid = _fit_two(got, x, z)
        if resid > 1e-3:
            raise Hint(
                "your x_t is not of the form a·x_{t−1} + b·ε, element by element, built from "
                "the arguments. Use the `noise` you are given (don't draw fresh noise with "
                "torch.randn), and combine it with x_prev without indexing or reshaping."
            )
        ra, rb = math.sqrt(1 - beta), math.sqrt(beta)

        def near(v, w):
            return abs(v - w) < 1e-3 * max(1.0, abs(w))

        said = (f" (with β_t = {beta}, your x_t = {fmt(a_hat)}·x_{{t−1}} + {fmt(b_hat)}·ε; "
                f"expected {fmt(ra)}·x_{{t−1}} + {fmt(rb)}·ε)")
        if near(a_hat, rb) and near(b_hat, ra):
            raise Hint("the two coefficients are swapped: x_{t−1} is scaled by √(1−β_t) and the "
                       "noise by √β_t (β_t is small, so most of x_t is still the signal)." + said)
        if near(a_hat, ra) and near(b_hat, beta):
            raise Hint(
                f"your x_t has the right mean but its noise variance is β_t² = {fmt(beta**2)} "
                f"instead of β_t = {beta}: did you use β_t instead of √β_t as the noise "
                "scale? A variance β_t means a standard deviation √β_t." + said
            )
        if near(a_hat, 1 - beta) and near(b_hat, beta):
            raise Hint("you used the variances (1 − β_t and β_t) as multipliers; multiply by their "
                       "square roots, the standard deviations." + said)
        if near(a_hat, 1 - beta):
            raise Hint(
                "the noise is right but the signal is scaled by 1 − β_t instead of √(1−β_t): "
                "with √(1−β_t) the variance stays 1 when x_{t−1} has variance 1 "
                "((1−β_t) + β_t = 1)." + said
            )
        if near(a_hat, 1.0):
            raise Hint("you added noise without shrinking x_{t−1}: without the factor √(1−β_t) the "
                       "variance grows at every step and x_T is not N(0, I)." + said)
        if near(b_hat, 0.0):
            raise Hint("your x_t has no noise in it: add √β_t times `noise`." + said)
        if near(b_hat, -rb):
            raise Hint("the noise enters with a minus sign; write x_t = √(1−β_t)·x_{t−1} + √β_t·ε "
                       "(the sign matters once ε is given)." + said)
        if near(b_hat, 1.0):
            raise Hint("the noise is added unscaled (variance 1); scale it by √β_t." + said)
        raise Hint("x_t = √(1−β_t)·x_{t−1} + √β_t·ε." + said)
    return ("x_t = √(1−β_t)·x_{t−1} + √β_t·ε: the mean shrinks by √(1−β_t) and the noise has "
            "variance β_t.")


_SOLUTION_1_1 = '''
import torch

def forward_step(x_prev, beta_t, noise):
    """One step of q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I), given the noise."""
    # a variance beta_t means a standard deviation sqrt(beta_t): scale the unit noise by that
    return torch.sqrt(1 - beta_t) * x_prev + torch.sqrt(beta_t) * noise
'''


# ---- 1.2 ᾱ_t from β_t ----------------------------------------------------------------------------
def _alpha_bar_slips(betas, want) -> list[tuple[torch.Tensor, str]]:
    """Typical wrong ᾱ sequences for these β, each with its hint."""
    return [
        (
            torch.cumprod(betas, 0),
            "you multiplied the β_s; ᾱ_t is the product of the "
            "α_s = 1 − β_s, the fractions of variance each step keeps.",
        ),
        (
            torch.cumprod(1 - betas, 0).sqrt(),
            "that is √ᾱ_t, the factor in front of x_0 in "
            "q(x_t | x_0); ᾱ_t itself has no square root.",
        ),
        (
            torch.cumprod((1 - betas).sqrt(), 0),
            "that is √ᾱ_t, the factor in front of x_0 in "
            "q(x_t | x_0); ᾱ_t itself has no square root.",
        ),
        (
            1 - torch.cumsum(betas, 0),
            "1 − Σ β_s is only the first-order approximation of "
            "∏ (1 − β_s): close while the β are small, wrong (even "
            "negative) later. Multiply instead (torch.cumprod).",
        ),
        (
            torch.cumsum(1 - betas, 0),
            "you added the α_s; ᾱ_t is their product (torch.cumprod).",
        ),
        (
            1 - betas,
            "that is α_t = 1 − β_t, one step's factor; ᾱ_t is the cumulative product "
            "α_1·α_2·…·α_t.",
        ),
        (
            torch.cat([torch.ones(1, dtype=torch.float64), want[:-1]]),
            "off by one: your first entry is 1 = ᾱ_0, but ᾱ_1 = 1 − β_1 already includes step "
            "1.",
        ),
        (
            1 - torch.cumprod(1 - betas, 0),
            "that is 1 − ᾱ_t, the variance of the noise in "
            "q(x_t | x_0); ᾱ_t is the signal's share.",
        ),
    ]


def _check_alpha_bar(fn) -> str:
    for betas in (torch.linspace(0.05, 0.3, 10, dtype=torch.float64),
                  torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)):
        T = betas.numel()
        want = torch.cumprod(1 - betas, dim=0)  # ᾱ_1..ᾱ_T
        got = call(fn, betas, what="alpha_bar_from_betas(betas)")
        if got.numel() == 1 and close(got.reshape(()), want[-1], _RTOL, _ATOL):
            raise Hint("you returned one number, ᾱ_T; return the whole sequence ᾱ_1..ᾱ_T (a "
                       "cumulative product keeps every partial product: torch.cumprod).")
        if got.shape == (T + 1,) and close(got[1:], want, _RTOL, _ATOL):
            raise Hint(f"your answer has T + 1 = {T + 1} entries, starting with ᾱ_0 = 1; return "
                       f"ᾱ_1..ᾱ_T only, T = {T} entries, one per β_t.")
        expect_shape(got, (T,), "your ᾱ", like="betas")
        if close(got, want, _RTOL, _ATOL):
            continue
        wrong = _alpha_bar_slips(betas, want)
        name_slip(got, wrong, _RTOL, _ATOL)
        i = first_mismatch(got, want, _RTOL, _ATOL)
        raise Hint(f"for β = linspace({fmt(betas[0].item())}, {fmt(betas[-1].item())}, {T}), entry "
                   f"{i} (ᾱ_{i + 1}) should be {fmt(want[i].item())} but yours is "
                   f"{fmt(got[i].item())}. ᾱ_t = (1 − β_1)(1 − β_2)…(1 − β_t).")
    return "ᾱ_t = ∏_{s≤t} (1 − β_s): torch.cumprod(1 - betas, 0)."


_SOLUTION_1_2 = '''
import torch

def alpha_bar_from_betas(betas):
    """ᾱ_1..ᾱ_T from β_1..β_T: ᾱ_t = (1 - β_1)(1 - β_2)...(1 - β_t)."""
    return torch.cumprod(1 - betas, dim=0)
'''


# ---- 1.3 predict, then measure: the chain without its shrink factor ------------------------------
def _check_no_shrink(answer, measured) -> str:
    lin = linear_schedule(1000)
    total = lin.beta[1:].sum().item()                      # Σ β_t = 10.05
    got = as_number(answer, "your predicted variance")
    var = measurement(measured)
    if var <= 0:
        raise Hint(f"the measurement you passed is {fmt(var)}; a variance is positive. Pass the "
                   "variance that the cell above printed.")
    said = (f"The measurement: Var(x_T) = {var:.2f}. Without the shrink nothing pulls x_t back, so "
            f"the T independent noise variances simply add up: Σ β_t = {total:.2f} (T times the "
            f"average β, {lin.T} · {total / lin.T:.5f}), a standard deviation of "
            f"{math.sqrt(total):.1f}. Sampling would then have to start from N(0, {total:.0f} I), "
            "not N(0, I); with √(1 − β_t) the variance stays at 1 at every step.")
    if near(got, var, 0.2):
        return f"you predicted {fmt(got)}. {said}"
    slips = [
        (1.0, "you predicted 1, the variance-preserving answer: that needs the shrink factor "
              "√(1 − β_t) this chain leaves out. "),
        (math.sqrt(total), f"you predicted {fmt(got)}, the standard deviation √(Σ β_t); the "
                           "question asks for the variance. "),
        (lin.beta[1:].sqrt().sum().item() ** 2, "you added the standard deviations √β_t and "
                                                "squared the sum; independent noises add their "
                                                "variances, not their standard deviations. "),
        (lin.beta[1:].sqrt().sum().item(), "you added the standard deviations √β_t; independent "
                                           "noises add their variances. "),
        (1000 * lin.beta[-1].item(), "you used the last, largest β_T = 0.02 for every step; "
                                     "the β_t grow linearly from 1e−4, so their average is half "
                                     "that. "),
        (1000.0, "each step adds a variance β_t, not 1. "),
    ]
    name_slip(got, [(v, h + said) for v, h in slips], same=lambda a, b: near(a, b, 0.05))
    word = "too little" if got < var else "too much"
    raise Hint(f"you predicted {fmt(got)}, {word}. {said}")


_SOLUTION_1_3 = """
from ddpm_edu import linear_schedule

# x_t = x_{t-1} + √β_t ε: each step adds an independent noise of variance β_t, and x_0 = 0.5 is a
# constant, so Var(x_T) = β_1 + β_2 + … + β_T
answer = linear_schedule(1000).beta[1:].sum().item()      # 10.05
"""


# ---- 1.4 where the signal-to-noise ratio crosses 1 -----------------------------------------------
def _first_t(schedule, mask_fn) -> int:
    """The first paper time t in 1..T where ``mask_fn(schedule)[t]`` holds (index 0 is skipped)."""
    t = torch.arange(1, schedule.T + 1)
    return int(t[mask_fn(schedule)[1:]].min())


def _check_snr_crossing(answer) -> str:
    lin = linear_schedule(1000)
    want = _first_t(lin, lambda s: s.snr < 1)  # 260
    got = as_number(answer, "your t")
    if abs(got - want) < 1e-6:
        return (f"t = {want}: from here on the noise is stronger than the signal "
                f"(ᾱ_{want} = {lin.alpha_bar[want].item():.4f} < ½).")
    if got != round(got) or not 1 <= got <= 1000:
        raise Hint(
            f"give a time step t: a whole number between 1 and T = 1000 (yours is {fmt(got)}). "
            "The question is *when* SNR(t) first drops below 1, not the SNR itself."
        )
    got = int(round(got))
    if got == want - 1:
        raise Hint("one step too early: an index shifted by one? The schedule tables have index 0 "
                   "for the data, so schedule.snr[t] is SNR(t); if you searched snr[1:], add 1.")
    if got == want + 1:
        raise Hint("one step too late: look for the first t with SNR(t) < 1 (strictly below), "
                   "counting t from 1 with schedule.snr[t].")
    others = [
        (_first_t(lin, lambda s: s.sqrt_alpha_bar < 0.5), "that is where √ᾱ_t < ½ (ᾱ_t < ¼); "
         "SNR(t) = ᾱ_t / (1 − ᾱ_t) < 1 means ᾱ_t < ½."),
        (_first_t(cosine_schedule(1000), lambda s: s.snr < 1), "that is the answer for the cosine "
         "schedule; the question asks about DDPM's linear schedule (1e−4 → 0.02, T = 1000)."),
        (_first_t(linear_schedule(1000, beta_end=0.2), lambda s: s.snr < 1), "that is the answer "
         "for the seed's linear schedule ending at 0.2; the question asks about β_T = 0.02."),
        (_first_t(geometric_schedule(1000), lambda s: s.snr < 1), "that is the answer for the "
         "geometric schedule; the question asks about DDPM's linear one."),
        (_first_t(lin, lambda s: s.beta > 0.5 * s.beta[-1]), "that is where β_t passes half its "
         "final value; the SNR depends on ᾱ_t, the product of all the (1 − β_s) so far."),
    ]
    name_slip(got, others, same=operator.eq)
    direction = "late" if got > want else "early"
    raise Hint(f"t = {got} is too {direction}: SNR(t) = ᾱ_t / (1 − ᾱ_t), and "
               f"SNR({got}) = {fmt(lin.snr[got].item())}. Find the first t with SNR(t) < 1.")


_SOLUTION_1_4 = """
import torch
from ddpm_edu import linear_schedule

schedule = linear_schedule(T=1000)          # DDPM: β from 1e-4 to 0.02
snr = schedule.snr                          # snr[t] = SNR(t) = ᾱ_t / (1 - ᾱ_t); index 0: the data
t = torch.arange(1, schedule.T + 1)         # paper time t = 1..T
answer = int(t[snr[1:] < 1].min())          # the first t with SNR(t) < 1
"""


EXERCISES = {
    "1.1": Exercise("1.1", "one step of q(x_t | x_{t−1})", "forward_step", _check_forward_step,
                    _SOLUTION_1_1),
    "1.2": Exercise("1.2", "ᾱ_t from β_t", "alpha_bar_from_betas", _check_alpha_bar, _SOLUTION_1_2),
    "1.3": Exercise("1.3", "predict, then measure: the chain without its shrink factor", "answer",
                    _check_no_shrink, _SOLUTION_1_3, measured=("measured",)),
    "1.4": Exercise("1.4", "where SNR(t) crosses 1", "answer", _check_snr_crossing, _SOLUTION_1_4),
}
