"""Chapter 3 (the L_vlb decomposition): the posterior variance β̃_t, one KL term L_{t−1} in bits/dim,
and the prior term L_T of an all-black image.

The checks compare with the library's schedule tables and :func:`ddpm_edu.losses.normal_kl`, and for
a wrong answer with the usual slips: ᾱ_t and ᾱ_{t−1} swapped, β_t ("fixed large") in place of β̃_t,
a standard deviation where a variance belongs, nats in place of bits, per image in place of per
dimension, black taken as x_0 = 0.
"""
from __future__ import annotations

import math

import torch

from ..losses import normal_kl
from ..schedules import cosine_schedule, linear_schedule
from ._core import Exercise, Hint, as_number, call, close, expect_shape, fmt, name_slip, near

__all__ = ["EXERCISES"]

_RTOL, _ATOL = 1e-3, 1e-12  # forgiving in relative terms; β̃_t is as small as 1e-5


# ---- 3.1 the posterior variance β̃_t ----------------------------------------------------------------
_STEPS = (1, 2, 10, 100, 500, 1000)


def _table_inputs():
    """(β_t, ᾱ_t, ᾱ_{t−1}) at some steps of the linear and cosine schedules (T = 1000), shape (12,)."""
    cols = [[], [], []]
    for s in (linear_schedule(1000), cosine_schedule(1000)):
        t = torch.tensor(_STEPS)
        for col, table in zip(cols, (s.beta, s.alpha_bar, s.alpha_bar_prev)):
            col.append(table[t])
    return tuple(torch.cat(c) for c in cols)


def _check_posterior_variance(fn) -> str:
    beta, ab, ab_prev = _table_inputs()
    alpha = 1 - beta
    want = beta * (1 - ab_prev) / (1 - ab)  # β̃_t, (12,); 0 at t = 1 (ᾱ_0 = 1)
    got = call(fn, beta, ab, ab_prev, what="posterior_variance(beta_t, alpha_bar_t, alpha_bar_prev)")
    expect_shape(got, want.shape, "your β̃_t", like="the inputs: one β̃_t per step")
    if close(got, want, _RTOL, _ATOL):
        return ("β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t): a little less than β_t, and exactly 0 at t = 1, "
                "where x_0 is known and the posterior is a point.")
    wrong = [
        (beta * (1 - ab) / (1 - ab_prev), "the ratio is upside down: β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t), "
                                          "with ᾱ_{t−1} (the earlier step) on top. Yours is larger "
                                          "than β_t and infinite at t = 1."),
        (beta, "that is β_t itself, the variance of one forward step (DDPM's 'fixed large' choice "
               "for σ_t²). The posterior, which also knows x_0, is narrower by the factor "
               "(1 − ᾱ_{t−1})/(1 − ᾱ_t)."),
        (want.sqrt(), "that is √β̃_t, the standard deviation; the exercise asks for the variance."),
        ((1 - ab_prev) / (1 - ab), "the factor β_t is missing: β̃_t = β_t · (1 − ᾱ_{t−1})/(1 − ᾱ_t)."),
        (beta * ab_prev / ab, "use 1 − ᾱ (the noise variances of q(x_{t−1} | x_0) and q(x_t | x_0)), "
                              "not ᾱ: β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t)."),
        (alpha / beta + 1 / (1 - ab_prev), "that is the precision 1/β̃_t (the sum of the two "
                                           "precisions after completing the square); invert it."),
        (beta * ab_prev.sqrt() / (1 - ab), "that is c1_t = β_t √ᾱ_{t−1}/(1 − ᾱ_t), the coefficient "
                                           "of x_0 in the posterior mean, not its variance."),
        ((1 - ab_prev) * alpha.sqrt() / (1 - ab), "that is c2_t = (1 − ᾱ_{t−1}) √α_t/(1 − ᾱ_t), the "
                                                  "coefficient of x_t in the posterior mean, not its "
                                                  "variance."),
        (beta * (1 - ab_prev), "the denominator 1 − ᾱ_t is missing: β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t)."),
    ]
    name_slip(got, wrong, _RTOL, _ATOL)
    bad = ~torch.isclose(got, want, rtol=_RTOL, atol=_ATOL)
    i = int(bad.nonzero()[0])
    which = "linear" if i < len(_STEPS) else "cosine"
    t = _STEPS[i % len(_STEPS)]
    at_one = torch.tensor([s == 1 for s in _STEPS] * 2)
    if bool(bad[at_one].all()) and not bool(bad[~at_one].any()):
        raise Hint("right for t ≥ 2 but not at t = 1: there ᾱ_0 = 1, so β̃_1 = 0 exactly. Compute it "
                   "from the formula, without a floor or a special case.")
    raise Hint(f"for the {which} schedule at t = {t}: β_t = {fmt(beta[i].item())}, ᾱ_t = "
               f"{fmt(ab[i].item())}, ᾱ_{{t−1}} = {fmt(ab_prev[i].item())}, β̃_t should be "
               f"{fmt(want[i].item())} but yours is {fmt(got[i].item())}. "
               "β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t).")


_SOLUTION_3_1 = '''
def posterior_variance(beta_t, alpha_bar_t, alpha_bar_prev):
    """β̃_t = β_t (1 - ᾱ_{t-1}) / (1 - ᾱ_t), the variance of q(x_{t-1} | x_t, x_0), elementwise."""
    # from completing the square: 1/β̃_t = α_t/β_t + 1/(1 - ᾱ_{t-1}) = (1 - ᾱ_t) / (β_t (1 - ᾱ_{t-1}))
    return beta_t * (1 - alpha_bar_prev) / (1 - alpha_bar_t)
'''


# ---- 3.2 one KL term ----------------------------------------------------------------------------------
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
        return (f"L_9 = (Δμ)²/(2 β̃_10) / ln 2 = {want:.4f} bits/dim: with equal variances only the mean "
                "term of the closed form is left, and it is divided by a tiny variance — a mean that is "
                "off by 1 % of the data range costs a third of a bit per pixel at t = 10.")
    beta = s.beta[_T_KL].item()
    wrong = [
        (nats, "that is in nats; divide by ln 2 for bits."),
        (2 * want, "exactly 2× too large: the closed form has a ½ in front, (Δμ)²/(2σ²)."),
        (want / 2, "exactly ½ of the right value: is the ½ applied twice?"),
        (_DELTA ** 2 / (2 * math.sqrt(var)) / math.log(2), "you divided by the standard deviation "
                                                           "√β̃_10; the closed form divides by the "
                                                           "variance β̃_10."),
        (_DELTA ** 2 / (2 * beta) / math.log(2), "you used β_10 (the forward step's variance); both "
                                                 "Gaussians here have the posterior variance β̃_10 = "
                                                 "schedule.posterior_variance[10]."),
        (_DELTA / (2 * var) / math.log(2), "the mean difference enters squared: (Δμ)² = 0.01² = 1e−4."),
        (want * _D, f"that is bits per image (× {_D} pixels); bits/dim is per pixel. Since every "
                    "pixel has the same Δμ, the mean over pixels is one pixel's KL."),
        (nats / math.log(10), "that is in decimal digits (log₁₀); bits use log₂, i.e. divide nats "
                              "by ln 2."),
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


# ---- 3.3 the prior term of an all-black image ---------------------------------------------------------
def _prior_bits(alpha_bar_T: float, x0: float) -> float:
    """KL(N(√ᾱ_T x_0, 1 − ᾱ_T) ‖ N(0, 1)) in bits for one pixel."""
    ab = torch.tensor(alpha_bar_T, dtype=torch.float64)
    kl = normal_kl(ab.sqrt() * x0, torch.log1p(-ab), 0.0, 0.0)
    return float(kl) / math.log(2)


def _check_black_prior(answer) -> str:
    ab = linear_schedule(1000).alpha_bar[-1].item()  # ᾱ_T = 4.0358e−5
    want = _prior_bits(ab, -1.0)                     # 2.9113e−5 bits/dim
    got = as_number(answer, "your L_T")
    if near(got, want, 1e-2):
        return (f"L_T = ½(−log(1 − ᾱ_T) + (1 − ᾱ_T) + ᾱ_T·1 − 1)/ln 2 ≈ ᾱ_T/(2 ln 2) = {want:.3g} "
                f"bits/dim — {want * _D:.3g} bits for the whole image. No image can do much worse "
                "(|x_0| ≤ 1), so L_T is negligible and has no parameters to train.")
    wrong = [
        (want * math.log(2), "that is in nats; divide by ln 2 for bits."),
        (want * _D, f"that is bits per image (× {_D} pixels); bits/dim is the mean per pixel."),
        (want * math.log(2) * _D, f"that is nats per image; bits/dim is per pixel ({_D} of them) "
                                  "and in bits (÷ ln 2)."),
        (_prior_bits(ab, 0.0), "that is L_T without its mean term, i.e. for x_0 = 0, a grey image. "
                               "Black is pixel value 0, which the model range maps to "
                               "x_0 = 0/127.5 − 1 = −1, and the mean √ᾱ_T·x_0 then contributes "
                               "(√ᾱ_T · (−1))² = ᾱ_T."),
        (_prior_bits(ab, -255.0), "that is x_0 = −255; black is pixel 0, i.e. x_0 = −1 in the model "
                                  "range [−1, 1]."),
        (float(normal_kl(torch.tensor(ab, dtype=torch.float64) * -1.0, math.log1p(-ab), 0.0, 0.0))
         / math.log(2), "the mean of q(x_T | x_0) is √ᾱ_T·x_0, not ᾱ_T·x_0."),
    ]
    name_slip(got, wrong, same=lambda a, b: b > 0 and near(a, b, 1e-2))
    if got < 0:
        raise Hint("a KL divergence is never negative.")
    if got > 1:
        raise Hint(f"{fmt(got)} bits/dim is far too much: q(x_T | x_0) is almost N(0, I) because "
                   f"ᾱ_T = {ab:.4g} ≈ 0. Compute KL(N(√ᾱ_T x_0, 1 − ᾱ_T) ‖ N(0, 1)) with x_0 = −1.")
    raise Hint(f"{fmt(got)} is not it. For x_0 = −1 and ᾱ_T = {ab:.5g}: "
               "L_T = KL(N(√ᾱ_T x_0, 1 − ᾱ_T) ‖ N(0, 1)) per pixel, in bits.")


_SOLUTION_3_3 = '''
import math
import torch
from ddpm_edu import linear_schedule, normal_kl

ab = linear_schedule(1000).alpha_bar[-1]            # ᾱ_T = 4.04e-5
x0 = torch.tensor(-1.0, dtype=torch.float64)        # black: pixel 0 -> 0/127.5 - 1 = -1
kl = normal_kl(ab.sqrt() * x0, torch.log(1 - ab), 0.0, 0.0)   # nats per pixel
answer = kl.item() / math.log(2)                    # bits/dim (all pixels equal): 2.91e-5
'''


EXERCISES = {
    "3.1": Exercise("3.1", "the posterior variance β̃_t", "posterior_variance", _check_posterior_variance,
                    _SOLUTION_3_1),
    "3.2": Exercise("3.2", "one KL term L_{t−1} in bits/dim", "answer", _check_kl_term, _SOLUTION_3_2),
    "3.3": Exercise("3.3", "the prior term L_T of an all-black image", "answer", _check_black_prior,
                    _SOLUTION_3_3),
}
