"""Chapter 2 (KL of Gaussians): the closed form, one value by hand, a prediction of how asymmetric
the KL is (compared with the chapter's table), and the prior term L_T.

The checks compare with :func:`ddpm_edu.losses.normal_kl` (the library's closed form) and, for a
wrong answer, with the usual slips: arguments swapped (the KL is not symmetric), a missing ½ or
−1, standard deviations used where variances were given, bits instead of nats.
"""
from __future__ import annotations

import math

import torch

from ..losses import normal_kl
from ._core import (Exercise, Hint, as_number, call, close, expect_shape, first_mismatch, fmt,
                    measurement, name_slip, near)

__all__ = ["EXERCISES"]

_RTOL, _ATOL = 1e-3, 1e-6


def _kl(m1, v1, m2, v2) -> torch.Tensor:
    """KL(N(m1, v1) ‖ N(m2, v2)) in nats, variances v (the library's closed form)."""
    m1, v1, m2, v2 = (torch.as_tensor(a, dtype=torch.float64) for a in (m1, v1, m2, v2))
    return normal_kl(m1, v1.log(), m2, v2.log())


# ---- 2.1 the closed form -------------------------------------------------------------------------
def _kl_inputs():
    """Test inputs (μ1, σ1², μ2, σ2²), shape (6,); the first is math-reference's pinned case."""
    g = torch.Generator().manual_seed(21)
    m1 = torch.cat([torch.tensor([0.3, 0.0]), torch.rand(4, generator=g) * 2 - 1]).double()
    v1 = torch.cat([torch.tensor([0.2, 1.0]), torch.rand(4, generator=g) * 1.8 + 0.2]).double()
    m2 = torch.cat([torch.tensor([-0.1, 0.0]), torch.rand(4, generator=g) * 2 - 1]).double()
    v2 = torch.cat([torch.tensor([0.5, 1.0]), torch.rand(4, generator=g) * 1.8 + 0.2]).double()
    return m1, v1, m2, v2


def _kl_slips(m1, v1, m2, v2, want) -> list[tuple[torch.Tensor, str]]:
    """Typical wrong KLs for these Gaussians, each with its hint."""
    d2 = (m1 - m2) ** 2
    return [
        (
            _kl(m2, v2, m1, v1),
            "you computed KL(p2 ‖ p1): the KL is not symmetric. In KL(p1 ‖ p2) "
            "the log ratio is log(σ2²/σ1²) and you divide by σ2², the variance "
            "of the second argument.",
        ),
        (2 * want, "yours is exactly 2× too large: the closed form has a ½ in front."),
        (0.5 * want, "yours is exactly ½ of the right value: is the ½ applied twice?"),
        (
            want + 0.5,
            "yours is ½ too large everywhere (KL(p ‖ p) must be 0, yours gives ½ for "
            "two equal Gaussians): did you forget the −1 inside the bracket?",
        ),
        (
            want - 0.5,
            "yours is ½ too small everywhere: the −1 inside the bracket is counted twice?",
        ),
        (
            _kl(m1, v1**2, m2, v2**2),
            "you used the formula written with standard deviations σ "
            "but gave it the variances σ²: here var1 and var2 already "
            "are σ1² and σ2².",
        ),
        (
            want + 0.5 * torch.log(v2 / v1),
            "the log term is 2× too large: log(σ2/σ1) = ½·log(σ2²/σ1²); "
            "with variances, keep the ½.",
        ),
        (
            want - 0.25 * torch.log(v2 / v1),
            "the log term is ½ of what it should be: with "
            "variances it is ½·log(σ2²/σ1²), not ½·log(σ2/σ1).",
        ),
        (
            0.5 * (-1 + torch.log(v2 / v1) + v1 / v2 + d2 / v1),
            "the squared mean difference "
            "(μ1 − μ2)² is divided by σ2², the "
            "variance of the second argument, "
            "not by σ1².",
        ),
        (
            0.5 * (-1 + torch.log(v1 / v2) + v1 / v2 + d2 / v2),
            "the log ratio is upside down: it is log(σ2²/σ1²), second over first.",
        ),
        (
            0.5 * (-1 + torch.log(v2 / v1) + v1 / v2),
            "the mean term (μ1 − μ2)²/σ2² is missing: yours is right only when the means agree.",
        ),
        (0.5 * (-1 + torch.log(v2 / v1) + v1 / v2 + d2), "the mean term is not divided by σ2²."),
        (want / math.log(2), "that is in bits; the closed form with natural logs gives nats."),
    ]


def _check_kl(fn) -> str:
    m1, v1, m2, v2 = _kl_inputs()
    want = _kl(m1, v1, m2, v2)  # (6,), want[0] = 0.318145, want[1] = 0 (equal Gaussians)
    got = call(fn, m1, v1, m2, v2, what="kl_gauss(mu1, var1, mu2, var2)")
    expect_shape(got, want.shape, "your KL", like="the inputs: one KL per element")
    if close(got, want, _RTOL, _ATOL):
        return ("KL = ½(log(σ2²/σ1²) + (σ1² + (μ1 − μ2)²)/σ2² − 1): zero for equal Gaussians, "
                "positive otherwise.")
    wrong = _kl_slips(m1, v1, m2, v2, want)
    name_slip(got, wrong, _RTOL, _ATOL)
    i = first_mismatch(got, want, _RTOL, _ATOL)
    raise Hint(
        f"for μ1 = {fmt(m1[i].item())}, σ1² = {fmt(v1[i].item())}, μ2 = {fmt(m2[i].item())}, "
        f"σ2² = {fmt(v2[i].item())} the KL is {fmt(want[i].item())} nats, yours is "
        f"{fmt(got[i].item())}. KL = ½(log(σ2²/σ1²) + (σ1² + (μ1 − μ2)²)/σ2² − 1)."
    )


_SOLUTION_2_1 = '''
import torch

def kl_gauss(mu1, var1, mu2, var2):
    """KL(N(mu1, var1) || N(mu2, var2)) per element, in nats; var1, var2 are variances."""
    return 0.5 * (torch.log(var2 / var1) + (var1 + (mu1 - mu2) ** 2) / var2 - 1)
'''


# ---- 2.2 one value by hand -----------------------------------------------------------------------
def _check_kl_value(answer) -> str:
    want = 0.5 * (math.log(4.0) + (1.0 + 1.0) / 4.0 - 1.0)  # KL(N(0, 1) ‖ N(1, 4)) = 0.4431
    got = as_number(answer, "your KL")

    def same(a, b):
        return math.isclose(a, b, rel_tol=0, abs_tol=2e-3)  # 3 decimals suffice

    if same(got, want):
        return f"KL(N(0, 1) ‖ N(1, 4)) = ½(log 4 + (1 + 1)/4 − 1) = {want:.4f} nats."

    def kl(m1, v1, m2, v2):
        return 0.5 * (math.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1.0)

    wrong = [
        (kl(1, 4, 0, 1), "that is KL(N(1, 4) ‖ N(0, 1)), the other direction: the KL is not "
                         "symmetric. Here p1 = N(0, 1) is the first argument."),
        (want / math.log(2), "that is in bits; give the answer in nats (natural logarithm)."),
        (kl(0, 1, 1, 16), "4 is the variance σ2², not the standard deviation: N(1, 4) has σ2 = 2."),
        (kl(0, 1, 1, 2), "N(1, 4) has variance 4 (σ2 = 2); you used 2 as the variance."),
        (2 * want, "exactly 2× too large: the closed form has a ½ in front."),
        (want + 0.5, "½ too large: the −1 inside the bracket is missing."),
        (0.5 * (math.log(4.0) + 1.0 / 4.0 - 1.0), "the mean term (μ1 − μ2)²/σ2² = 1/4 is missing."),
    ]
    name_slip(got, wrong, same=same)
    if got < 0:
        raise Hint("a KL divergence is never negative; check the sign of the log term.")
    if abs(got - want) < 1e-2:
        raise Hint(f"close, but {fmt(got)} is not accurate enough: give at least three decimals.")
    raise Hint(f"{fmt(got)} is not it. With μ1 = 0, σ1² = 1, μ2 = 1, σ2² = 4: "
               "KL = ½(log(σ2²/σ1²) + (σ1² + (μ1 − μ2)²)/σ2² − 1).")


_SOLUTION_2_2 = '''
import math

# KL(N(0, 1) || N(1, 4)) = 1/2 (log(4/1) + (1 + (0 - 1)^2)/4 - 1)
answer = 0.5 * (math.log(4 / 1) + (1 + (0 - 1) ** 2) / 4 - 1)   # 0.4431 nats
'''


# ---- 2.3 predict, then measure: how asymmetric is the KL? ----------------------------------------
def _check_asymmetry(answer, measured) -> str:
    got = as_number(answer, "your predicted ratio")
    ratio = measurement(measured)
    if ratio <= 0:
        raise Hint(f"the measurement you passed is {fmt(ratio)}; a ratio of two KL divergences is "
                   "positive. Pass the ratio the cell above printed.")
    said = (
        f"The measurement: KL(wide ‖ narrow)/KL(narrow ‖ wide) = {ratio:.1f}. Sampling from "
        "the wide q, the points land where the narrow p is vanishingly small and log(q/p) is huge: "
        "½(ln 0.01 + 100 − 1) ≈ 47 nats. From the narrow one, every point is where the wide "
        "one is still reasonable: ½(ln 100 + 0.01 − 1) ≈ 1.8 nats."
    )
    if got <= 0:
        raise Hint(f"a ratio of two positive KL divergences is positive; you predicted {fmt(got)}. "
                   f"{said}")
    if ratio / 1.5 <= got <= ratio * 1.5:
        return f"you predicted {fmt(got)}. {said}"
    slips = [
        (1.0, f"you predicted {fmt(got)}, as if the KL were symmetric like a distance. "),
        (1 / ratio, f"you predicted {fmt(got)}, the ratio upside down: the wide q in front is the "
                    "expensive direction. "),
        (100.0, f"you predicted {fmt(got)}, about the ratio of the variances: it enters one "
                "direction as σ_q²/σ_p² = 100 but is offset by the log and the −1, and halved. "),
    ]
    name_slip(got, [(v, h + said) for v, h in slips], same=lambda a, b: near(a, b, 0.1))
    word = "too little" if got < ratio else "too much"
    raise Hint(f"you predicted {fmt(got)}, {word}. {said}")


_SOLUTION_2_3 = """
import math
# ½(ln(σ_p²/σ_q²) + σ_q²/σ_p² − 1) for equal means, both ways round:
wide_narrow = 0.5 * (math.log(0.01 / 1) + 1 / 0.01 - 1)     # 47.2 nats
narrow_wide = 0.5 * (math.log(1 / 0.01) + 0.01 / 1 - 1)     # 1.80 nats
answer = wide_narrow / narrow_wide                           # 26.1
"""


# ---- 2.4 the prior term L_T ----------------------------------------------------------------------
def _check_prior_kl(fn) -> str:
    g = torch.Generator().manual_seed(23)
    x0 = torch.cat([torch.tensor([-1.0, 0.0, 1.0]), torch.rand(5, generator=g) * 2 - 1]).double()
    for ab in (0.5, 0.1, 4.0358e-5):
        abt = torch.tensor(ab, dtype=torch.float64)
        want = _kl(math.sqrt(ab) * x0, 1 - ab, 0.0, 1.0)  # (8,)
        got = call(fn, x0, abt, what="prior_kl(x0, alpha_bar_T)")
        expect_shape(got, x0.shape, "your L_T", like="x0: one KL per element")
        if close(got, want, 2e-3, 1e-9):
            continue
        wrong = [
            (
                _kl(0.0, 1.0, math.sqrt(ab) * x0, 1 - ab),
                "you computed KL(N(0, I) ‖ q(x_T | x_0)), the other direction. L_T = "
                "KL(q(x_T | x_0) ‖ p(x_T)): q comes first.",
            ),
            (_kl(ab * x0, 1 - ab, 0.0, 1.0), "the mean of q(x_T | x_0) is √ᾱ_T·x_0, not ᾱ_T·x_0."),
            (
                _kl(math.sqrt(ab) * x0, math.sqrt(1 - ab), 0.0, 1.0),
                "the variance of q(x_T | x_0) is 1 − ᾱ_T; √(1 − ᾱ_T) is its standard deviation.",
            ),
            (
                _kl(math.sqrt(ab) * x0, ab, 0.0, 1.0),
                "the variance of q(x_T | x_0) is 1 − ᾱ_T, not ᾱ_T.",
            ),
            (
                _kl(math.sqrt(1 - ab) * x0, ab, 0.0, 1.0),
                "ᾱ_T and 1 − ᾱ_T are swapped: q(x_T | x_0) = N(√ᾱ_T·x_0, (1 − ᾱ_T) I).",
            ),
            (want / math.log(2), "that is in bits; give nats (natural logarithms)."),
        ]
        name_slip(got, wrong, 2e-3, 1e-9)
        if bool((got.abs() < 1e-12).all()):
            raise Hint("yours is 0 everywhere: L_T is tiny when ᾱ_T ≈ 0 but never exactly 0, and "
                       f"for ᾱ_T = {ab} it is not small at all. Compute "
                       "KL(N(√ᾱ_T x_0, 1 − ᾱ_T) ‖ N(0, 1)).")
        i = first_mismatch(got, want, 2e-3, 1e-9)
        raise Hint(
            f"for x_0 = {fmt(x0[i].item())} and ᾱ_T = {ab}, L_T = {fmt(want[i].item())} nats "
            f"but yours is {fmt(got[i].item())}. L_T = KL(N(√ᾱ_T x_0, 1 − ᾱ_T) ‖ N(0, 1))."
        )
    return ("L_T = KL(N(√ᾱ_T x_0, 1 − ᾱ_T) ‖ N(0, 1)). It has no learnable parameters, and with "
            "DDPM's ᾱ_T ≈ 4e−5 it is at most about 2e−5 nats per dimension (at x_0 = ±1): training "
            "can ignore it.")


_SOLUTION_2_4 = '''
import torch

def prior_kl(x0, alpha_bar_T):
    """L_T = KL(q(x_T | x_0) || N(0, 1)) per element, in nats, with
    q(x_T | x_0) = N(√ᾱ_T x_0, 1 - ᾱ_T)."""
    mean, var = torch.sqrt(alpha_bar_T) * x0, 1 - alpha_bar_T
    # the closed form of exercise 2.1 with mu2 = 0, var2 = 1
    return 0.5 * (-torch.log(var) + var + mean ** 2 - 1)
'''


EXERCISES = {
    "2.1": Exercise(
        "2.1", "the KL of two Gaussians in closed form", "kl_gauss", _check_kl, _SOLUTION_2_1
    ),
    "2.2": Exercise(
        "2.2", "KL(N(0, 1) ‖ N(1, 4)) by hand", "answer", _check_kl_value, _SOLUTION_2_2
    ),
    "2.3": Exercise(
        "2.3",
        "predict, then measure: how asymmetric the KL is",
        "answer",
        _check_asymmetry,
        _SOLUTION_2_3,
        measured=("measured",),
    ),
    "2.4": Exercise("2.4", "the prior term L_T", "prior_kl", _check_prior_kl, _SOLUTION_2_4),
}
