"""Chapter 9 (evaluation): a prediction of how noisy the plain fast bits/dim estimator is (compared
with the chapter's measurement), the weight of the stratified estimator, and how many images a
confidence interval of a given width needs.

The checks recompute each answer from its definition (the estimator of
:func:`ddpm_edu.evaluation.bpd_fast`, the interval of :func:`ddpm_edu.evaluation.mean_ci95`) and
name the usual slips: the noise of an average of similar terms expected, T/K where the decoder is
not drawn, the square root of n forgotten, 2 in place of 1.96.
"""
from __future__ import annotations

import math

from ..evaluation import Z95
from ._core import Exercise, Hint, as_number, fmt, measurement, name_slip, near

__all__ = ["EXERCISES"]


# ---- 9.1 predict, then measure: the spread of one plain fast estimate ----------------------------
def _check_plain_spread(answer, measured) -> str:
    got = as_number(answer, "your prediction")
    spread = measurement(measured)
    if spread <= 0:
        raise Hint(f"the measurement you passed is {fmt(spread)}; a standard deviation is "
                   "positive: pass the spread of the plain estimates that the cell above printed.")
    said = (f"The measurement: one plain estimate scatters by {spread:.2f} bits/dim (standard "
            "deviation). Nearly all of it is one coin flip: L_0, about "
            "half of a bound near 1.6 bits/dim, is drawn with probability p = K/T and then counted "
            "T/K times. That alone gives (T/K)·L_0·√(p(1 − p)): 10 × 0.8 × 0.3 ≈ 2.4 for K = 5 "
            "of T = 50 (20 × 0.8 × 0.22 ≈ 3.5 for 50 of 1000).")
    if got <= 0:
        raise Hint(f"a spread (standard deviation) is positive; you predicted {fmt(got)}. {said}")
    if spread / 1.5 <= got <= spread * 1.5:
        return f"you predicted {fmt(got)} bits/dim. {said}"
    if got < spread / 1.5:
        raise Hint(f"you predicted {fmt(got)} bits/dim, far too little: as if K = 5 similar terms "
                   "were averaged. The terms are not similar, and the one that matters is drawn "
                   f"or not. {said}")
    raise Hint(f"you predicted {fmt(got)} bits/dim, too much. {said}")


_SOLUTION_9_1 = """
# One coin flip dominates: L_0 ≈ 0.8 bits/dim (about half the bound) is drawn with p = K/T = 0.1
# and then weighted T/K = 10; its contribution 10·L_0·B (B ~ Bernoulli(0.1)) has standard
# deviation 10 · L_0 · √(0.1 · 0.9). The other 49 terms add little.
T, K, L_0 = 50, 5, 0.8
p = K / T
answer = (T / K) * L_0 * (p * (1 - p)) ** 0.5      # 2.4 bits/dim
"""


# ---- 9.2 the weight of the sampled steps when L_0 is always computed -----------------------------
_T, _K = 1000, 50
_REL = 2.5e-4  # 20.39 passes; T/(K − 1) = 20.408, 0.1 % off, is a different (biased) answer


def _check_decoder_weight(answer) -> str:
    want = (_T - 1) / (_K - 1)  # 20.388: K − 1 draws from the T − 1 steps 2..T
    got = as_number(answer, "your weight")
    if near(got, want, _REL):
        return (
            f"(T − 1)/(K − 1) = 999/49 = {want:.4f}: each of the T − 1 = 999 steps 2..T has the "
            "chance (K − 1)/(T − 1) of being drawn, so weighting a drawn term by the inverse "
            "chance makes its expected contribution its own value — unbiased. L_0 is computed "
            "every time, so its weight is 1."
        )
    wrong = [
        (
            _T / _K,
            "T/K = 20 is the weight when all K steps are drawn from 1..T. Here L_0 is always "
            "computed (weight 1), so only K − 1 steps are drawn, from the T − 1 steps 2..T.",
        ),
        (
            _T / (_K - 1),
            "only K − 1 steps are drawn, right, but they are drawn from the T − 1 steps "
            "2..T (t = 1, the decoder, is always computed), not from all T.",
        ),
        (
            (_T - 1) / _K,
            "the T − 1 candidates are right, but only K − 1 steps are drawn (the K-th "
            "network call goes to the decoder L_0).",
        ),
        (
            (_K - 1) / (_T - 1),
            "that is the chance (K − 1)/(T − 1) that a step is drawn; the weight is "
            "its inverse, so that weight × chance = 1.",
        ),
        (
            _K / _T,
            "that is the chance K/T of a step being drawn without the decoder rule; the weight "
            "is an inverse chance, and here only K − 1 of the T − 1 steps 2..T are drawn.",
        ),
        (
            1 / (_K - 1),
            "that averages the drawn terms; the bound is their sum over T − 1 steps, so "
            "the mean must be scaled up by T − 1: (T − 1)/(K − 1).",
        ),
        (
            1.0,
            "weight 1 belongs to the decoder L_0, which is always computed. The sampled steps "
            "stand for all the steps 2..T that were not drawn.",
        ),
    ]
    name_slip(got, wrong, same=lambda a, b: near(a, b, _REL))
    if abs(got - want) < 0.05:
        raise Hint(f"close, but {fmt(got)} is not accurate enough: give at least three decimals.")
    raise Hint(
        f"{fmt(got)} is not it. K − 1 = {_K - 1} steps are drawn at random from the "
        f"T − 1 = {_T - 1} steps 2..T; what weight makes weight × (chance of being drawn) = 1?"
    )


_SOLUTION_9_2 = '''
T, K = 1000, 50
# L_0 is computed every time (weight 1); the other K - 1 calls draw steps from 2..T (T - 1 of them).
# Each step is drawn with probability (K - 1)/(T - 1): weight it by the inverse.
answer = (T - 1) / (K - 1)      # 20.388
'''


# ---- 9.3 images for a narrow interval ------------------------------------------------------------
_SD, _HALF = 0.3, 0.01


def _check_images_needed(answer) -> str:
    exact = (Z95 * _SD / _HALF) ** 2  # 3457.3
    want = math.ceil(exact)           # 3458
    got = as_number(answer, "your number of images")
    if 3455 <= got <= 3460:
        return (
            f"n = (1.96 · sd / h)² = (1.96 · {_SD} / {_HALF})² = {exact:.1f}, so {want} images. "
            "A 10× narrower interval costs 100× the images: the half-width shrinks only like 1/√n."
        )
    wrong = [
        (
            Z95 * _SD / _HALF,
            "that is √n: the half-width is 1.96·sd/√n, so n = (1.96·sd/h)² — square it.",
        ),
        (
            (2 * _SD / _HALF) ** 2,
            "with 2 in place of 1.96 you get 3600, 4 % too many. The 95 % normal "
            "quantile is 1.96 (ddpm_edu.evaluation.Z95).",
        ),
        (
            (_SD / _HALF) ** 2,
            "the 1.96 is missing: (sd/h)² gives a ±1 standard error interval, only 68 % coverage.",
        ),
        (
            (Z95 * _SD**2 / _HALF) ** 2,
            "you used the variance sd² = 0.09 where the standard deviation belongs.",
        ),
        (
            (Z95 * _SD / (2 * _HALF)) ** 2,
            "0.01 is the half-width h (mean ± h), not the full width.",
        ),
        (
            (Z95 * _SD / (_HALF / 2)) ** 2,
            "the interval is mean ± h with h = 0.01: use h itself, not h/2.",
        ),
        (Z95 * _SD / _HALF**2, "n = (1.96 · sd / h)²: square the whole ratio."),
    ]
    name_slip(got, wrong, same=lambda a, b: near(a, b, 3e-3) or abs(a - math.ceil(b)) < 1)
    if 3300 < got < 3600:
        raise Hint(f"close, but {fmt(got)} is not it: compute (1.96 · 0.3 / 0.01)² and round up.")
    raise Hint(f"{fmt(got)} is not it. The half-width is h = 1.96 · sd / √n; solve for n with "
               f"sd = {_SD}, h = {_HALF}.")


_SOLUTION_9_3 = '''
import math

sd, h, z = 0.3, 0.01, 1.959964         # z: the 97.5 % quantile of N(0, 1)
# h = z · sd / sqrt(n)  =>  n = (z · sd / h)^2, rounded up to whole images
answer = math.ceil((z * sd / h) ** 2)  # 3458
'''


EXERCISES = {
    "9.1": Exercise("9.1", "predict, then measure: the spread of one plain fast estimate", "answer",
                    _check_plain_spread, _SOLUTION_9_1, measured=("measured",)),
    "9.2": Exercise("9.2", "the weight of a sampled step when L_0 is always computed", "answer",
                    _check_decoder_weight, _SOLUTION_9_2),
    "9.3": Exercise("9.3", "how many images for a ±0.01 interval", "answer", _check_images_needed,
                    _SOLUTION_9_3),
}
