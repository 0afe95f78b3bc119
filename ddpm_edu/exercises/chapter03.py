"""Chapter 3 (the L_vlb decomposition): the posterior mean written with the noise ε (derived, not
shown), one KL term L_{t−1} in bits/dim, and a prediction of the share of the bound that the steps
t ≤ 10 carry, compared with the chapter's measurement.

The checks compare with the library's schedule tables, and for a wrong answer with the usual slips:
1/√α_t forgotten or replaced by 1/√ᾱ_t, a missing square root, ε's sign flipped, x̂_0 in place of
μ̃_t, nats in place of bits, per image in place of per dimension, a uniform share per step.
"""
from __future__ import annotations

import math

import torch

from ..schedules import cosine_schedule, linear_schedule
from ._core import (Exercise, Hint, as_number, call, close, expect_shape, first_mismatch, fmt,
                    measurement, name_slip, near)

__all__ = ["EXERCISES"]

_RTOL, _ATOL = 1e-3, 1e-12  # forgiving in relative terms; β̃_t is as small as 1e-5


# ---- 3.1 the posterior mean written with the noise ε ---------------------------------------------
_STEPS = (1, 2, 10, 100, 500, 1000)


def _table_inputs():
    """(x_t, ε, β_t, ᾱ_t) at some steps of the linear and cosine schedules (T = 1000): (12,)."""
    cols = [[], []]
    for s in (linear_schedule(1000), cosine_schedule(1000)):
        t = torch.tensor(_STEPS)
        for col, table in zip(cols, (s.beta, s.alpha_bar)):
            col.append(table[t])
    beta, ab = (torch.cat(c) for c in cols)
    g = torch.Generator().manual_seed(31)
    xt, eps = torch.randn(2, beta.numel(), generator=g, dtype=torch.float64)
    return xt, eps, beta, ab


def _check_posterior_mean_eps(fn) -> str:
    xt, eps, beta, ab = _table_inputs()
    alpha = 1 - beta
    want = (xt - beta / (1 - ab).sqrt() * eps) / alpha.sqrt()      # (12,)
    got = call(fn, xt, eps, beta, ab, what="posterior_mean_eps(xt, eps, beta_t, alpha_bar_t)")
    expect_shape(got, want.shape, "your μ̃_t", like="the inputs: one mean per step")
    if close(got, want, _RTOL, 1e-9):
        return ("μ̃_t = (x_t − β_t/√(1 − ᾱ_t)·ε)/√α_t: take a little of the noise out of x_t and "
                "scale up by 1/√α_t. Chapter 5 calls this eq. 11 and lets the network predict ε.")
    x0 = (xt - (1 - ab).sqrt() * eps) / ab.sqrt()
    wrong = [
        (xt - beta / (1 - ab).sqrt() * eps, "the factor 1/√α_t is missing: after substituting x_0, "
                                            "c1/√ᾱ_t + c2 simplifies to 1/√α_t, the coefficient "
                                            "of x_t."),
        ((xt - beta / (1 - ab).sqrt() * eps) / ab.sqrt(), "you divided by √ᾱ_t; the x_t "
                                                           "coefficient c1/√ᾱ_t + c2 simplifies "
                                                           "to 1/√α_t (one step's α, not the "
                                                           "product ᾱ_t)."),
        ((xt - beta / (1 - ab) * eps) / alpha.sqrt(),
         "the ε coefficient is β_t/√(1 − ᾱ_t), with a square root: x_0 carries √(1 − ᾱ_t)·ε, and "
         "c1/√ᾱ_t · √(1 − ᾱ_t) = β_t/(√α_t √(1 − ᾱ_t))."),
        ((xt + beta / (1 - ab).sqrt() * eps) / alpha.sqrt(), "the sign of ε is flipped: x_0 = "
                                                             "(x_t − √(1 − ᾱ_t) ε)/√ᾱ_t removes "
                                                             "noise, so ε enters with a minus."),
        (x0, "that is x̂_0 = (x_t − √(1 − ᾱ_t) ε)/√ᾱ_t, the clean image the noise implies; put it "
             "into μ̃_t = c1·x_0 + c2·x_t and simplify."),
        ((xt - (1 - ab).sqrt() * eps) / alpha.sqrt(),
         "the ε coefficient should be β_t/√(1 − ᾱ_t): only the part of the noise added in the last "
         "step is removed, not all of √(1 − ᾱ_t)·ε."),
    ]
    name_slip(got, wrong, _RTOL, 1e-9)
    i = first_mismatch(got, want, _RTOL, 1e-9)
    which = "linear" if i < len(_STEPS) else "cosine"
    raise Hint(f"for the {which} schedule at t = {_STEPS[i % len(_STEPS)]} (x_t = "
               f"{fmt(xt[i].item())}, ε = {fmt(eps[i].item())}) μ̃_t should be "
               f"{fmt(want[i].item())} but yours is {fmt(got[i].item())}. Substitute x_0 = "
               "(x_t − √(1 − ᾱ_t) ε)/√ᾱ_t into c1·x_0 + c2·x_t and simplify each coefficient.")


_SOLUTION_3_1 = """
def posterior_mean_eps(xt, eps, beta_t, alpha_bar_t):
    \"\"\"μ̃_t(x_t, x_0) with x_0 = (x_t - √(1 - ᾱ_t) ε)/√ᾱ_t substituted, elementwise.\"\"\"
    # c1/√ᾱ_t + c2 = 1/√α_t (the x_t coefficient); c1 √(1 - ᾱ_t)/√ᾱ_t = β_t/(√α_t √(1 - ᾱ_t))
    return (xt - beta_t / (1 - alpha_bar_t).sqrt() * eps) / (1 - beta_t).sqrt()
"""


# ---- 3.2 one KL term -----------------------------------------------------------------------------
_DELTA = 0.01  # the two means differ by this in every pixel
_T_KL = 10
_D = 784       # 28 × 28 pixels


def _check_kl_term(answer) -> str:
    s = linear_schedule(1000)
    var = s.posterior_variance[_T_KL].item()  # β̃_10 = 2.3818e−4
    nats = _DELTA ** 2 / (2 * var)            # KL of two Gaussians with equal variances, per pixel
    want = nats / math.log(2)                 # 0.30286 bits/dim
    got = as_number(answer, "your L_9")
    if near(got, want, 2e-3):
        return (
            f"L_9 = (Δμ)²/(2 β̃_10) / ln 2 = {want:.4f} bits/dim: with equal variances only the "
            "mean term of the closed form is left, and it is divided by a tiny variance — a mean "
            "that is off by 1 % of the data range costs a third of a bit per pixel at t = 10."
        )
    beta = s.beta[_T_KL].item()
    wrong = [
        (nats, "that is in nats; divide by ln 2 for bits."),
        (2 * want, "exactly 2× too large: the closed form has a ½ in front, (Δμ)²/(2σ²)."),
        (want / 2, "exactly ½ of the right value: is the ½ applied twice?"),
        (
            _DELTA**2 / (2 * math.sqrt(var)) / math.log(2),
            "you divided by the standard deviation "
            "√β̃_10; the closed form divides by the "
            "variance β̃_10.",
        ),
        (
            _DELTA**2 / (2 * beta) / math.log(2),
            "you used β_10 (the forward step's variance); both "
            "Gaussians here have the posterior variance β̃_10 = "
            "schedule.posterior_variance[10].",
        ),
        (
            _DELTA / (2 * var) / math.log(2),
            "the mean difference enters squared: (Δμ)² = 0.01² = 1e−4.",
        ),
        (
            want * _D,
            f"that is bits per image (× {_D} pixels); bits/dim is per pixel. Since every "
            "pixel has the same Δμ, the mean over pixels is one pixel's KL.",
        ),
        (
            nats / math.log(10),
            "that is in decimal digits (log₁₀); bits use log₂, i.e. divide nats by ln 2.",
        ),
        (nats * math.log(2), "you multiplied by ln 2; nats → bits is a division by ln 2."),
    ]
    name_slip(got, wrong, same=lambda a, b: near(a, b, 2e-3))
    if got < 0:
        raise Hint("a KL divergence is never negative.")
    if near(got, want, 3e-2):
        raise Hint(f"close, but {fmt(got)} is not accurate enough: use β̃_10 = "
                   f"schedule.posterior_variance[10] without rounding it.")
    raise Hint(f"{fmt(got)} is not it. Both Gaussians have variance β̃_10 = {var:.5g}, so "
               "KL = (μ̃ − μ_θ)²/(2 β̃_10) nats per pixel; then convert to bits.")


_SOLUTION_3_2 = '''
import math
from ddpm_edu import linear_schedule

schedule = linear_schedule(1000)
var = schedule.posterior_variance[10].item()        # β̃_10, the variance of both Gaussians
kl_nats = 0.01 ** 2 / (2 * var)                     # ½(log 1 + 1 + Δμ²/β̃ − 1) per pixel, nats
answer = kl_nats / math.log(2)                      # bits/dim (every pixel has the same KL): 0.3029
'''


# ---- 3.3 predict, then measure: the share of the bound carried by t ≤ 10 -------------------------
_WITHIN = 20.0  # percentage points: a prediction this close is a good one


def _check_small_t_share(answer, measured) -> str:
    got = as_number(answer, "your prediction")
    share = measurement(measured)
    if not 0 <= share <= 100:
        raise Hint(f"the measurement you passed is {fmt(share)}, not a share in percent: pass the "
                   "share that the cell above computed (a number from 0 to 100).")
    said = (
        f"The measurement: t ≤ 10, 1 % of the steps, carry {share:.0f} % of the bound. At "
        "small t the posterior pins x_{t−1} to a pixel level or two (β̃_t is tiny), so every error "
        "of the model is expensive there; at large t any model that knows the noise "
        "statistics matches the posterior."
    )
    if 0 < got <= 1 and abs(100 * got - share) <= _WITHIN:
        raise Hint(f"your {fmt(got)} looks like a fraction; give the share in percent "
                   f"({fmt(100 * got)}). {said}")
    if got < 0 or got > 100:
        raise Hint(f"a share of the bound is between 0 and 100 %, and {fmt(got)} is not. {said}")
    if abs(got - share) <= _WITHIN:
        return f"you predicted {fmt(got)} %. {said}"
    if got <= 2:
        raise Hint(f"you predicted {fmt(got)} %: as if every step carried the same share "
                   f"(10 of 1000 steps = 1 %). {said} The terms fall by orders of magnitude "
                   "with t (the log-scale plot above).")
    if got < share:
        raise Hint(f"you predicted {fmt(got)} %, far too little. {said}")
    raise Hint(f"you predicted {fmt(got)} %, too much: the other 990 steps are cheap one by one, "
               f"but there are many of them. {said}")


_SOLUTION_3_3 = """
# The terms fall by orders of magnitude with t (the log-log plot of the terms): the decoder L_0
# and the KL terms at t = 2..10, where β̃_t is tiny, carry most of the bound.
answer = 75        # percent; anything from about 55 to 95 counts as a good prediction
"""


EXERCISES = {
    "3.1": Exercise(
        "3.1",
        "the posterior mean written with the noise ε",
        "posterior_mean_eps",
        _check_posterior_mean_eps,
        _SOLUTION_3_1,
    ),
    "3.2": Exercise(
        "3.2", "one KL term L_{t−1} in bits/dim", "answer", _check_kl_term, _SOLUTION_3_2
    ),
    "3.3": Exercise(
        "3.3",
        "predict, then measure: the share of the bound from t ≤ 10",
        "answer",
        _check_small_t_share,
        _SOLUTION_3_3,
        measured=("measured",),
    ),
}
