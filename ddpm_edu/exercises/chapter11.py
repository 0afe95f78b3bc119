"""Chapter 11 (conditioning and classifier-free guidance): classifier guidance written as an ε,
the guided ε of classifier-free guidance, and a prediction of how much diversity strong
guidance leaves (compared with the chapter's measurement).

The right answers are written from the formulas:

    11.1  ε̃ = ε(x_t) − s·√(1−ᾱ_t)·∇ log p(y | x_t)            (Dhariwal & Nichol 2021, eq. 14 with
                                                             the scale s; from ε = −√(1−ᾱ_t)·score)
    11.2  ε̃ = (1 + w)·ε(x_t, y) − w·ε(x_t)                  (Ho & Salimans 2022, eq. 6)

and 11.2 is also compared with the library's :func:`ddpm_edu.reverse.guided_eps`. A wrong answer
is compared with the usual slips: diffusers' guidance_scale taken for w, the two predictions
swapped, an interpolation for the extrapolation, the sign of the classifier's push, the factor
√(1−ᾱ_t) left out, squared or inverted.
"""
from __future__ import annotations

import math

import torch

from ._core import (Exercise, Hint, as_number, call, close, expect_shape, first_mismatch, fmt,
                    measurement, name_slip)

__all__ = ["EXERCISES"]

_RTOL, _ATOL = 1e-3, 1e-5  # forgiving: float32 arithmetic and rounded constants pass


# ---- 11.1 classifier guidance as an ε -----------------------------------------------------------
_CASES_11_1 = ((0.9, 1.0), (0.3, 2.5), (0.02, 4.0))  # (ᾱ_t, scale s)


def _check_classifier_guided_eps(fn) -> str:
    g = torch.Generator().manual_seed(112)
    for ab, s in _CASES_11_1:
        eps = torch.randn(5, 2, generator=g, dtype=torch.float64)          # ε̂(x_t), (5, 2)
        grad = torch.randn(5, 2, generator=g, dtype=torch.float64) * 3     # ∇ log p(y | x_t)
        r = math.sqrt(1 - ab)
        want = eps - s * r * grad
        got = call(fn, eps, grad, torch.tensor(ab, dtype=torch.float64), s,
                   what="classifier_guided_eps(eps, grad_log_classifier, alpha_bar, scale)")
        expect_shape(got, eps.shape, "your ε̃", like="eps")
        if close(got, want, _RTOL, _ATOL):
            continue
        wrong = [
            (eps + s * r * grad, "the sign is flipped: ε points *against* the score (ε = "
             "−√(1−ᾱ_t)·score), so adding s·∇log p(y|x_t) to the score subtracts "
             "s·√(1−ᾱ_t)·∇log p(y|x_t) from ε."),
            (eps - s * grad, "the classifier's gradient is a score; in ε units it carries the "
             "factor √(1−ᾱ_t) (ε = −√(1−ᾱ_t)·score)."),
            (eps - s * (1 - ab) * grad, "the factor is √(1−ᾱ_t), not 1 − ᾱ_t: ε = "
             "−√(1−ᾱ_t)·score."),
            (eps - s * grad / r, "the factor multiplies: ε = −√(1−ᾱ_t)·score, so the score's "
             "extra term becomes −s·√(1−ᾱ_t)·∇log p(y|x_t) in ε (you divided)."),
            (eps - s * math.sqrt(ab) * grad,
             "the noise's scale is √(1−ᾱ_t); √ᾱ_t is the signal's."),
            (eps - r * grad, "the scale s multiplies the classifier's gradient."),
        ]
        name_slip(got, wrong, _RTOL, _ATOL)
        i = first_mismatch(got, want, _RTOL, _ATOL)
        raise Hint(f"with ᾱ_t = {ab}, s = {s}, ε = {fmt(eps.flatten()[i].item())} and "
                   f"∇log p = {fmt(grad.flatten()[i].item())}, ε̃ = "
                   f"{fmt(want.flatten()[i].item())}, yours is {fmt(got.flatten()[i].item())}. "
                   "ε̃ = ε − s·√(1−ᾱ_t)·∇log p(y|x_t).")
    return ("ε̃ = ε(x_t) − s·√(1−ᾱ_t)·∇log p(y|x_t): the score of p(x_t)·p(y|x_t)^s in ε units. "
            "With s = 1 + w and the implicit classifier ∇log p(y|x_t) = (ε_u − ε_c)/√(1−ᾱ_t) it "
            "is classifier-free guidance.")


_SOLUTION_11_1 = '''
import torch

def classifier_guided_eps(eps, grad_log_classifier, alpha_bar, scale):
    """Classifier guidance: add scale * grad log p(y|x_t) to the score, in eps units."""
    sigma = torch.sqrt(1 - alpha_bar)               # eps = -sigma * score
    return eps - scale * sigma * grad_log_classifier
'''


# ---- 11.2 the guided ε of classifier-free guidance ----------------------------------------------
_WEIGHTS_11_2 = (3.0, 1.0, 0.5)  # w = 3 first: there every slip below gives its own numbers


def _check_cfg_eps(fn) -> str:
    from ..reverse import guided_eps

    g = torch.Generator().manual_seed(111)
    for w in _WEIGHTS_11_2:
        ec = torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64)   # ε(x_t, y)
        eu = torch.randn(4, 1, 3, 3, generator=g, dtype=torch.float64)   # ε(x_t, ∅)
        want = guided_eps(ec, eu, w)
        got = call(fn, ec, eu, w, what="cfg_eps(eps_cond, eps_uncond, w)")
        expect_shape(got, ec.shape, "your ε̃", like="eps_cond")
        if close(got, want, _RTOL, _ATOL):
            continue
        wrong = [
            (eu + w * (ec - eu), "that is diffusers' formula with guidance_scale = w. Its scale "
             "counts from the unconditional prediction, ours from the conditional one: "
             "guidance_scale = 1 + w, so ε̃ = ε_u + (1 + w)(ε_c − ε_u)."),
            ((1 + w) * eu - w * ec, "the two predictions are swapped: guidance pushes *away* from "
             "the unconditional ε(x_t) and beyond the conditional ε(x_t, y)."),
            ((1 - w) * ec + w * eu, "that interpolates between the two predictions; guidance "
             "extrapolates past ε(x_t, y), away from ε(x_t): the weights are 1 + w and −w."),
            ((1 + w) * ec + w * eu, "the unconditional prediction enters with a minus sign: "
             "ε̃ = (1 + w)·ε_c − w·ε_u (the weights add up to 1)."),
            (ec, "that is ε(x_t, y) unchanged, the plain conditional model (w = 0); add "
             "w·(ε_c − ε_u)."),
        ]
        name_slip(got, wrong, _RTOL, _ATOL)
        i = first_mismatch(got, want, _RTOL, _ATOL)
        raise Hint(f"with w = {fmt(w)}, ε_c = {fmt(ec.flatten()[i].item())} and ε_u = "
                   f"{fmt(eu.flatten()[i].item())}, ε̃ = {fmt(want.flatten()[i].item())}, yours "
                   f"is {fmt(got.flatten()[i].item())}. ε̃ = (1 + w)·ε_c − w·ε_u.")
    return ("ε̃ = (1 + w)·ε(x_t, y) − w·ε(x_t) = ε_c + w·(ε_c − ε_u): the same numbers as "
            "ddpm_edu's guided_eps, and as diffusers with guidance_scale = 1 + w.")


_SOLUTION_11_2 = '''
def cfg_eps(eps_cond, eps_uncond, w):
    """Classifier-free guidance: go past the conditional prediction, away from the unconditional."""
    return (1 + w) * eps_cond - w * eps_uncond       # = eps_cond + w * (eps_cond - eps_uncond)
'''


# ---- 11.3 predict, then measure: how much diversity strong guidance leaves ----------------------
_TOL_11_3 = 0.15


def _check_diversity_ratio(answer, measured) -> str:
    got = as_number(answer, "your prediction")
    m = measurement(measured)
    said = (f"The measurement: at the largest w the digits keep {m:.2f} of the diversity they have "
            "at w = 0.")
    if abs(got - m) <= _TOL_11_3:
        return f"you predicted {fmt(got)}. {said}"
    if got < 0:
        raise Hint("diversity is a ratio of variances: it cannot be negative. Predict a number "
                   "between 0 and about 1.")
    if got >= 1:
        raise Hint(f"you predicted {fmt(got)}: as varied or more. {said} Guidance sharpens "
                   "p(x|y) by p(y|x)^w, which favours the most typical digits of the class, so "
                   "the variety shrinks.")
    if got < 0.1:
        raise Hint(f"you predicted {fmt(got)}: near-copies of one digit. {said} The sampler still "
                   "starts from different noise, and the digits stay different, only less so.")
    raise Hint(f"you predicted {fmt(got)}. {said}")


_SOLUTION_11_3 = """
# Guidance makes the requested digit more certain and less varied; the card's table gives
# 0.50 / 1.16, about 0.43, at w = 5 on 500 digits.
answer = 0.45
"""


EXERCISES = {
    "11.1": Exercise("11.1", "classifier guidance as an ε", "classifier_guided_eps",
                     _check_classifier_guided_eps, _SOLUTION_11_1),
    "11.2": Exercise("11.2", "the guided ε of classifier-free guidance", "cfg_eps",
                     _check_cfg_eps, _SOLUTION_11_2),
    "11.3": Exercise("11.3", "predict, then measure: how much diversity strong guidance leaves",
                     "answer", _check_diversity_ratio, _SOLUTION_11_3, measured=("measured",)),
}
