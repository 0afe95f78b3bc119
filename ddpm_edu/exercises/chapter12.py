"""Chapter 12 (flow matching): the straight-path time of a DDPM step, the exact velocity field of
Gaussian data, and a prediction of how fast Heun's error falls (compared with the chapter's
measurement).

The right answers are written from the closed forms:

    12.1  s = √(1−ᾱ_t) / (√ᾱ_t + √(1−ᾱ_t))                       (x_t/(a + b) = (1 − s) x_0 + s ε)
    12.2  v*(y, s) = −m + C (y − (1 − s) m) / V,  C = s − (1 − s) sd²,  V = (1 − s)² sd² + s²
    12.3  Heun is second order: halving the step divides the error by about 2² = 4

A wrong answer is compared with the usual slips: 1 − ᾱ_t or √(1−ᾱ_t) taken for s, the data and
noise ends swapped, σ_t = √((1−ᾱ)/ᾱ) for s; for the velocity a flipped sign (x_0 − ε), the mean
velocity alone, a standard deviation where a variance belongs, the data's mean not moved by (1 − s);
Euler's order for Heun's.
"""
from __future__ import annotations

import math

import torch

from ._core import (Exercise, Hint, as_number, call, close, expect_shape, first_mismatch, fmt,
                    measurement, name_slip, near)

__all__ = ["EXERCISES"]

_RTOL, _ATOL = 1e-3, 1e-5  # forgiving: float32 arithmetic and rounded constants pass


# ---- 12.1 the straight-path time of a DDPM step ------------------------------------------------
_AB = 0.2


def _check_flow_time(answer) -> str:
    a, b = math.sqrt(_AB), math.sqrt(1 - _AB)
    want = b / (a + b)                                       # 2/3
    got = as_number(answer, "your s")
    if near(got, want, 2e-3):
        return (f"a = √0.2, b = √0.8 = 2a, so s = b/(a + b) = 2/3 ≈ {want:.4f}: x_t/(a + b) = "
                "(1/3) x_0 + (2/3) ε lies two thirds of the way from the data to the noise.")
    wrong = [
        (1 - _AB, "1 − ᾱ_t = 0.8 is the noise's variance in x_t; s is the weight of ε after "
                  "dividing x_t by a + b, so that the two weights add up to 1."),
        (b, "√(1 − ᾱ_t) ≈ 0.894 is the weight of ε in x_t itself; the weights a and b add up to "
            "more than 1, so divide x_t by a + b first: s = b/(a + b)."),
        (a / (a + b), "that is 1 − s, the weight of the data x_0: the ends are swapped (s = 0 is "
                      "the data, s = 1 the noise)."),
        (b / a, "b/a = 2 is σ_t of chapter 10's variance-exploding variables; s = σ/(1 + σ)."),
        (a, "√ᾱ_t is the weight of the data in x_t; s is the weight of ε after dividing by a + b."),
    ]
    name_slip(got, wrong, same=lambda g, w: near(g, w, 2e-3))
    raise Hint(f"{fmt(got)} is not it. Write x_t = a x_0 + b ε with a = √ᾱ_t, b = √(1−ᾱ_t), "
               "divide by a + b and read off the weight of ε.")


_SOLUTION_12_1 = '''
import math

alpha_bar = 0.2
a, b = math.sqrt(alpha_bar), math.sqrt(1 - alpha_bar)   # x_t = a x_0 + b eps
# x_t / (a + b) = (1 - s) x_0 + s eps with s = b / (a + b)
answer = b / (a + b)                                    # 2/3
'''


# ---- 12.2 the exact velocity field of Gaussian data --------------------------------------------
_CASES_12_2 = ((0.2, 0.3, 0.2), (0.5, -0.5, 0.7), (0.9, 0.8, 0.1))  # (s, m, sd)


def _check_gaussian_velocity(fn) -> str:
    g = torch.Generator().manual_seed(121)
    for s, m, sd in _CASES_12_2:
        y = torch.randn(7, 3, generator=g, dtype=torch.float64) * 0.9 + 0.1   # (7, 3) points y_s
        var = (1 - s) ** 2 * sd ** 2 + s ** 2
        cov = s - (1 - s) * sd ** 2
        want = -m + cov * (y - (1 - s) * m) / var
        numbers = [torch.tensor(v, dtype=torch.float64) for v in (s, m, sd)]  # 0-d tensors
        got = call(fn, y, *numbers, what="gaussian_velocity(y, s, m, sd)")
        expect_shape(got, y.shape, "your velocity", like="y: one velocity per coordinate")
        if close(got, want, _RTOL, _ATOL):
            continue
        wrong = [
            (-want, "the sign is flipped: the path runs y_s = (1 − s) x_0 + s ε, so its velocity "
                    "dy/ds is ε − x_0, not x_0 − ε."),
            (torch.full_like(y, -m), "−m is the velocity averaged over all points, E[ε − x_0]; "
                                     "the field at a point y also depends on y: regress ε − x_0 "
                                     "on y_s."),
            (-m + cov * (y - m) / var, "the mean of y_s is (1 − s) m, not m: the data's share "
                                       "shrinks as s grows."),
            (-m + cov * y / var, "centre y on the mean of y_s, (1 − s) m, before regressing: "
                                 "E[u | y] = E[u] + Cov(u, y)/Var(y) · (y − E[y])."),
            (-m + (s - (1 - s) * sd) * (y - (1 - s) * m) / ((1 - s) ** 2 * sd + s ** 2),
             "sd is the data's standard deviation; its variance sd² enters Cov and Var."),
            (-m + s * (y - (1 - s) * m) / var, "Cov(ε − x_0, y_s) has two parts: s from the "
                                               "noise and −(1 − s) sd² from the data."),
            (-m + cov * (y - (1 - s) * m) / ((1 - s) * sd ** 2 + s), "Var(y_s) = (1 − s)² sd² + "
                                                                     "s²: the weights enter "
                                                                     "squared."),
        ]
        name_slip(got, wrong, _RTOL, _ATOL)
        i = first_mismatch(got, want, _RTOL, _ATOL)
        raise Hint(f"with s = {s}, m = {m}, sd = {sd} and y = {fmt(y.flatten()[i].item())} the "
                   f"velocity is {fmt(want.flatten()[i].item())}, yours is "
                   f"{fmt(got.flatten()[i].item())}. v* = E[ε − x_0 | y_s = y] is a linear "
                   "regression: E[u] + Cov(u, y)/Var(y) · (y − E[y]).")
    return ("v*(y, s) = −m + (s − (1 − s) sd²)(y − (1 − s) m)/((1 − s)² sd² + s²): at s = 1 it "
            "is y − m (from pure noise, head for the data's mean), at s = 0 it is −y (the point "
            "is a data point x_0 and E[ε] = 0).")


_SOLUTION_12_2 = '''
def gaussian_velocity(y, s, m, sd):
    """E[eps - x_0 | y_s = y] for x_0 ~ N(m, sd^2), element by element: a linear regression."""
    mean_y = (1 - s) * m                       # E[y_s]
    var_y = (1 - s) ** 2 * sd ** 2 + s ** 2    # Var(y_s)
    cov = s - (1 - s) * sd ** 2                # Cov(eps - x_0, y_s) = s Var(eps) - (1 - s) Var(x_0)
    return -m + cov / var_y * (y - mean_y)     # E[u] + Cov(u, y)/Var(y) (y - E[y])
'''


# ---- 12.3 predict, then measure: Heun's order --------------------------------------------------
def _check_heun_factor(answer, measured) -> str:
    got = as_number(answer, "your predicted factor")
    factor = measurement(measured)
    if factor <= 1:
        raise Hint(f"the measurement you passed is {fmt(factor)}; pass the factor the cell above "
                   "printed (error at 20 steps divided by error at 40 steps, more than 1).")
    said = (f"The measurement: Heun's largest error fell {factor:.2f}-fold from 20 to 40 steps. "
            "Heun is a second-order method: its error per unit of s is ∝ h², so halving h "
            "divides it by about 4 (Euler, first order: by about 2).")
    if factor / 1.25 <= got <= factor * 1.25:
        return f"you predicted {fmt(got)}. {said}"
    if near(got, 2.0, 0.1):
        raise Hint(f"you predicted 2, Euler's factor (first order, error ∝ h). {said}")
    if got <= 1:
        raise Hint(f"more steps make the error smaller, so the factor is above 1; you predicted "
                   f"{fmt(got)}. {said}")
    raise Hint(f"you predicted {fmt(got)}, {'too little' if got < factor else 'too much'}. "
               f"{said}")


_SOLUTION_12_3 = '''
# Heun's method is second order: the global error is proportional to h^2.
# Doubling the steps halves h, so the error falls by 2^2.
answer = 2 ** 2      # 4
'''


EXERCISES = {
    "12.1": Exercise("12.1", "the straight-path time of a DDPM step", "answer", _check_flow_time,
                     _SOLUTION_12_1),
    "12.2": Exercise("12.2", "the exact velocity field of Gaussian data", "gaussian_velocity",
                     _check_gaussian_velocity, _SOLUTION_12_2),
    "12.3": Exercise("12.3", "predict, then measure: how fast Heun's error falls", "answer",
                     _check_heun_factor, _SOLUTION_12_3, measured=("measured",)),
}
