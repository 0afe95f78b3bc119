"""Chapter 9 (evaluation): the weight of the fast bits/dim estimator, nats per image → bits/dim, and
how many images a confidence interval of a given width needs.

The checks recompute each answer from its definition (the estimator of
:func:`ddpm_edu.evaluation.bpd_fast`, the interval of :func:`ddpm_edu.evaluation.mean_ci95`) and
name the usual slips: T/K where the decoder is not drawn, ln 2 or the number of pixels forgotten,
the square root of n forgotten, 2 in place of 1.96.
"""
from __future__ import annotations

import math

from ..evaluation import Z95
from ._core import Exercise, Hint, as_number, fmt, name_slip, near

__all__ = ["EXERCISES"]


# ---- 9.1 the weight of the sampled steps when L_0 is always computed ----------------------------------
_T, _K = 1000, 50
_REL = 2.5e-4  # 20.39 passes; T/(K − 1) = 20.408, 0.1 % off, is a different (biased) answer


def _check_decoder_weight(answer) -> str:
    want = (_T - 1) / (_K - 1)  # 20.388: K − 1 draws from the T − 1 steps 2..T
    got = as_number(answer, "your weight")
    if near(got, want, _REL):
        return (f"(T − 1)/(K − 1) = 999/49 = {want:.4f}: each of the T − 1 = 999 steps 2..T has the "
                "chance (K − 1)/(T − 1) of being drawn, so weighting a drawn term by the inverse "
                "chance makes its expected contribution its own value — unbiased. L_0 is computed "
                "every time, so its weight is 1.")
    wrong = [
        (_T / _K, "T/K = 20 is the weight when all K steps are drawn from 1..T. Here L_0 is always "
                  "computed (weight 1), so only K − 1 steps are drawn, from the T − 1 steps 2..T."),
        (_T / (_K - 1), "only K − 1 steps are drawn, right, but they are drawn from the T − 1 steps "
                        "2..T (t = 1, the decoder, is always computed), not from all T."),
        ((_T - 1) / _K, "the T − 1 candidates are right, but only K − 1 steps are drawn (the K-th "
                        "network call goes to the decoder L_0)."),
        ((_K - 1) / (_T - 1), "that is the chance (K − 1)/(T − 1) that a step is drawn; the weight is "
                              "its inverse, so that weight × chance = 1."),
        (_K / _T, "that is the chance K/T of a step being drawn without the decoder rule; the weight "
                  "is an inverse chance, and here only K − 1 of the T − 1 steps 2..T are drawn."),
        (1 / (_K - 1), "that averages the drawn terms; the bound is their sum over T − 1 steps, so "
                       "the mean must be scaled up by T − 1: (T − 1)/(K − 1)."),
        (1.0, "weight 1 belongs to the decoder L_0, which is always computed. The sampled steps stand "
              "for all the steps 2..T that were not drawn."),
    ]
    name_slip(got, wrong, same=lambda a, b: near(a, b, _REL))
    if abs(got - want) < 0.05:
        raise Hint(f"close, but {fmt(got)} is not accurate enough: give at least three decimals.")
    raise Hint(f"{fmt(got)} is not it. K − 1 = {_K - 1} steps are drawn at random from the "
               f"T − 1 = {_T - 1} steps 2..T; what weight makes weight × (chance of being drawn) = 1?")


_SOLUTION_9_1 = '''
T, K = 1000, 50
# L_0 is computed every time (weight 1); the other K - 1 calls draw steps from 2..T (T - 1 of them).
# Each step is drawn with probability (K - 1)/(T - 1): weight it by the inverse.
answer = (T - 1) / (K - 1)      # 20.388
'''


# ---- 9.2 nats per image → bits/dim ---------------------------------------------------------------------
_NATS, _D = 700.0, 784


def _check_bits_per_dim(answer) -> str:
    want = _NATS / (_D * math.log(2))  # 1.2881
    got = as_number(answer, "your bits/dim")
    if near(got, want, 2e-3):
        return (f"{_NATS:.0f} nats / (784 · ln 2) = {want:.4f} bits/dim: divide by the number of "
                "dimensions (28·28·1 = 784) and by ln 2 (nats → bits).")
    wrong = [
        (_NATS / _D, "that is nats per dimension; divide also by ln 2 to get bits."),
        (_NATS / math.log(2), "that is bits per image; divide by the 784 dimensions (pixels) too."),
        (_NATS * math.log(2) / _D, "you multiplied by ln 2; nats → bits is a division by ln 2 "
                                   "(one bit is ln 2 ≈ 0.693 nats)."),
        (_NATS / (_D * math.log(10)), "that uses log₁₀ (decimal digits); bits are log₂: divide "
                                      "nats by ln 2."),
        (_NATS / (28 * math.log(2)), "an MNIST image has 28 × 28 = 784 dimensions, not 28."),
        (_NATS / (_D * 3 * math.log(2)), "MNIST is greyscale: 28 × 28 × 1 = 784 dimensions, not × 3."),
        (_NATS / (_D * math.log(2)) + 8, "no offset is needed: the decoder already gives discrete "
                                         "probabilities of 8-bit values."),
    ]
    name_slip(got, wrong, same=lambda a, b: near(a, b, 2e-3))
    raise Hint(f"{fmt(got)} is not it. bits/dim = (nats per image) / (number of dimensions · ln 2).")


_SOLUTION_9_2 = '''
import math

nats_per_image, D = 700.0, 28 * 28 * 1
answer = nats_per_image / (D * math.log(2))     # 1.288 bits/dim
'''


# ---- 9.3 images for a narrow interval ---------------------------------------------------------------
_SD, _HALF = 0.3, 0.01


def _check_images_needed(answer) -> str:
    exact = (Z95 * _SD / _HALF) ** 2  # 3457.3
    want = math.ceil(exact)           # 3458
    got = as_number(answer, "your number of images")
    if 3455 <= got <= 3460:
        return (f"n = (1.96 · sd / h)² = (1.96 · {_SD} / {_HALF})² = {exact:.1f}, so {want} images. "
                "A 10× narrower interval costs 100× the images: the half-width shrinks only like 1/√n.")
    wrong = [
        (Z95 * _SD / _HALF, "that is √n: the half-width is 1.96·sd/√n, so n = (1.96·sd/h)² — square it."),
        ((2 * _SD / _HALF) ** 2, "with 2 in place of 1.96 you get 3600, 4 % too many. The 95 % normal "
                                 "quantile is 1.96 (ddpm_edu.evaluation.Z95)."),
        ((_SD / _HALF) ** 2, "the 1.96 is missing: (sd/h)² gives a ±1 standard error interval, only "
                             "68 % coverage."),
        ((Z95 * _SD ** 2 / _HALF) ** 2, "you used the variance sd² = 0.09 where the standard "
                                        "deviation belongs."),
        ((Z95 * _SD / (2 * _HALF)) ** 2, "0.01 is the half-width h (mean ± h), not the full width."),
        ((Z95 * _SD / (_HALF / 2)) ** 2, "the interval is mean ± h with h = 0.01: use h itself, not h/2."),
        (Z95 * _SD / _HALF ** 2, "n = (1.96 · sd / h)²: square the whole ratio."),
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
    "9.1": Exercise("9.1", "the weight of a sampled step when L_0 is always computed", "answer",
                    _check_decoder_weight, _SOLUTION_9_1),
    "9.2": Exercise("9.2", "nats per image to bits/dim", "answer", _check_bits_per_dim, _SOLUTION_9_2),
    "9.3": Exercise("9.3", "how many images for a ±0.01 interval", "answer", _check_images_needed,
                    _SOLUTION_9_3),
}
