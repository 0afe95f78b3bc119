"""Chapter 4 (the discretized decoder L_0): an edge bucket's probability, the bits of a pixel, the
decoder width σ_1 at which an interior pixel costs 8 bits, and a prediction of the share of MNIST
pixels that are exactly black (compared with the chapter's measurement).

The right answers come from :func:`ddpm_edu.losses.discretized_gaussian_log_likelihood` (the
library's bucket decoder, exact normal CDF). A wrong answer is compared with the usual slips: the
interior formula used at an edge (which runs to ±∞), a bucket twice or half as wide as 2/255, the
pixel k used in place of x = k/127.5 − 1, nats or probabilities where bits were asked, a variance
given where a standard deviation belongs.
"""
from __future__ import annotations

import math

import torch

from ..losses import BUCKET_HALF_WIDTH, discretized_gaussian_log_likelihood, standard_normal_cdf
from ._core import (Exercise, Hint, as_number, call, close, expect_shape, fmt, measurement,
                    name_slip)

__all__ = ["EXERCISES"]

_LN2 = math.log(2.0)


def _x(k: torch.Tensor) -> torch.Tensor:
    """Pixel k ∈ {0..255} → bucket centre x = k/127.5 − 1 (float64)."""
    return k.to(torch.float64) / 127.5 - 1.0


def _bits(x: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """−log₂ p(x) under the bucket decoder N(μ, σ²), edges to ±∞ (the library, exact CDF)."""
    x, mu, sigma = (torch.as_tensor(v, dtype=torch.float64) for v in (x, mu, sigma))
    x, mu, sigma = torch.broadcast_tensors(x.reshape(-1), mu.reshape(-1), sigma.reshape(-1))
    return -discretized_gaussian_log_likelihood(x.clone(), mu, sigma.log()) / _LN2


def _mass(x, mu, sigma, half=BUCKET_HALF_WIDTH, edges=True, swap_edges=False) -> torch.Tensor:
    """Bucket probabilities with a chosen half-width and edge rule, for naming the learner's slip.

    Plain CDF differences (the test inputs keep every probability far from tiny)."""
    x, mu, sigma = (torch.as_tensor(v, dtype=torch.float64) for v in (x, mu, sigma))
    plus = standard_normal_cdf((x + half - mu) / sigma)   # C⁺
    minus = standard_normal_cdf((x - half - mu) / sigma)  # C⁻
    inner = plus - minus
    if not edges:
        return inner
    left, right = (1 - minus, plus) if swap_edges else (plus, 1 - minus)
    return torch.where(x < -0.999, left, torch.where(x > 0.999, right, inner))


def _same_bits(got: torch.Tensor, cand: torch.Tensor, rtol: float, atol: float) -> bool:
    """Elementwise close, where costs above 40 bits (p < 1e−12, inf where p underflowed to 0)
    count as equal: a learner's plain CDF difference gives inf where the library's gives
    800 bits."""
    huge = (got > 40) & (cand > 40)
    agree = torch.isclose(got, cand, rtol=rtol, atol=atol)
    return got.shape == cand.shape and bool((huge | agree).all())


# ---- 4.1 the probability of an edge bucket ------------------------------------------------------
_MU_41, _SIGMA_41 = -0.99, 0.01


def _edge_probability_slips(x, mu, s, h, want) -> list[tuple[float, str]]:
    """Typical wrong probabilities of the edge bucket, each with its hint."""
    def mass(**kw) -> float:
        return float(_mass(x, mu, kw.pop("sigma", s), **kw))

    return [
        (
            mass(edges=False),
            "that is the mass of the interior bucket [−1 − 1/255, −1 + 1/255]. The "
            "edge bucket at k = 0 runs down to −∞: p = Φ((−1 + 1/255 − μ)/σ), with no "
            "C⁻ to subtract.",
        ),
        (
            mass(half=2 * h),
            "the bucket's upper edge is −1 + 1/255 (half the 2/255 spacing between "
            "pixel values), not −1 + 2/255.",
        ),
        (
            mass(half=h / 2),
            "the bucket's upper edge is −1 + 1/255 (half of the spacing 2/255), not −1 + 1/510.",
        ),
        (
            1 - mass(),
            "that is the mass *above* the edge bucket, 1 − Φ(...). The black bucket collects "
            "everything below −1 + 1/255: p = Φ((−1 + 1/255 − μ)/σ) (check the sign of the "
            "argument, (edge − μ)/σ).",
        ),
        (
            float(standard_normal_cdf(torch.tensor((-1 - mu) / s))),
            "that is Φ((−1 − μ)/σ), the mass below the pixel value −1 itself. The bucket extends "
            "half a spacing further, to −1 + 1/255.",
        ),
        (
            math.exp(-0.5 * ((-1 - mu) / s) ** 2) / (s * math.sqrt(2 * math.pi)),
            "that is the Gaussian *density* at x = −1, not a probability (a density can exceed 1). "
            "Integrate it over the bucket: a difference of CDFs.",
        ),
        (
            -math.log2(want),
            "that is −log₂ p, the cost in bits. The question asks for the probability p.",
        ),
        (
            -math.log(want),
            "that is −ln p, the cost in nats. The question asks for the probability p.",
        ),
        (mass(sigma=math.sqrt(s)), "σ = 0.01 is the standard deviation already; you used √σ."),
        (mass(sigma=s * s), "σ = 0.01 is the standard deviation; you used σ² = 1e−4 in its place."),
    ]


def _check_edge_probability(answer) -> str:
    x = torch.tensor([-1.0], dtype=torch.float64)             # pixel k = 0, the black edge bucket
    mu, s, h = _MU_41, _SIGMA_41, BUCKET_HALF_WIDTH
    want = float(2.0 ** -_bits(x, mu, s))                      # Φ((−1 + 1/255 − μ)/σ) = 0.2716
    got = as_number(answer, "your probability")
    tol = 1e-3                                                 # three decimals are enough
    if abs(got - want) <= tol:
        return (
            f"p(k = 0) = Φ((−1 + 1/255 − μ)/σ) = Φ({(-1 + h - mu) / s:.4f}) = {want:.4f}: the edge "
            "bucket (−∞, −1 + 1/255] takes all the mass below its upper edge, including the part "
            "of the Gaussian that lies beyond −1."
        )
    wrong = _edge_probability_slips(x, mu, s, h, want)
    name_slip(got, wrong, same=lambda a, b: abs(a - b) <= tol)
    if not 0 <= got <= 1:
        raise Hint(f"{fmt(got)} is not a probability: it must lie in [0, 1].")
    raise Hint(f"{fmt(got)} is not it. The bucket of k = 0 is (−∞, −1 + 1/255]; its probability "
               "under N(μ, σ²) is Φ((−1 + 1/255 − μ)/σ) with Φ(y) = ½(1 + erf(y/√2)).")


_SOLUTION_4_1 = '''
import math

mu, sigma = -0.99, 0.01
upper_edge = -1 + 1 / 255                     # the bucket of k = 0 is (-inf, -1 + 1/255]
y = (upper_edge - mu) / sigma                 # -0.6078
answer = 0.5 * (1 + math.erf(y / math.sqrt(2)))   # Phi(y) = 0.2716
'''


# ---- 4.2 the bits of a pixel ---------------------------------------------------------------------
def _pixel_inputs():
    """Test inputs (k, μ, σ), shape (12,): both edges, interior pixels, means up to ±2 buckets off,
    σ from 0.004 to 0.05. Every probability is above 1e−6, so plain CDF differences are accurate."""
    k = torch.tensor([0, 0, 255, 255, 128, 17, 200, 64, 1, 254, 100, 128])
    sigma = torch.tensor([0.0074, 0.02, 0.0074, 0.05, 0.0074, 0.01, 0.004, 0.03, 0.01, 0.006,
                          0.015, 0.05], dtype=torch.float64)
    off = torch.tensor([0.0, 1.5, 0.0, -2.0, 0.0, 1.0, -0.5, 2.0, -1.0, 0.7, -1.5, 0.3],
                       dtype=torch.float64)                   # mean error, in buckets of 2/255
    mu = _x(k) + off * 2 * BUCKET_HALF_WIDTH
    return k, mu, sigma


def _pixel_bits_slips(x, mu, sigma, want) -> list[tuple[torch.Tensor, str]]:
    """Typical wrong per-pixel costs, each with its hint."""
    def bits_of(p):
        return -torch.log2(p)

    return [
        (want * _LN2, "those are nats (natural log). Bits are −log₂ p = −ln p / ln 2."),
        (want * _LN2 / math.log(10), "that is −log₁₀ p. Bits are −log₂ p."),
        (2.0**-want, "that is the probability p itself; the cost in bits is −log₂ p."),
        (-want, "the sign is flipped: the cost is −log₂ p, which is ≥ 0 because p ≤ 1."),
        (
            bits_of(_mass(x, mu, sigma, edges=False)),
            "right for interior pixels, wrong at k = 0 and k = 255: the edge buckets run to −∞ and "
            "+∞ (p = C⁺ at k = 0, 1 − C⁻ at k = 255), so the 256 probabilities sum to 1.",
        ),
        (
            bits_of(_mass(x, mu, sigma, swap_edges=True)),
            "the edges are swapped: k = 0 (x = −1) takes everything below −1 + 1/255, p = C⁺; k = "
            "255 takes everything above 1 − 1/255, p = 1 − C⁻.",
        ),
        (
            bits_of(_mass(x, mu, sigma, half=2 * BUCKET_HALF_WIDTH)),
            "your buckets are twice too wide: pixel values are 2/255 apart, so a bucket is "
            "[x − 1/255, x + 1/255].",
        ),
        (
            bits_of(_mass(x, mu, sigma, half=0.5 * BUCKET_HALF_WIDTH)),
            "your buckets are half as wide as they should be: pixel values are 2/255 apart, so a "
            "bucket is [x − 1/255, x + 1/255].",
        ),
        (
            bits_of(_mass(x, mu, sigma.sqrt())),
            "sigma is the standard deviation already; you took its square root.",
        ),
        (
            bits_of(_mass(x, mu, sigma**2)),
            "sigma is the standard deviation; you used σ² in its place.",
        ),
    ]


def _check_pixel_bits(fn) -> str:
    k, mu, sigma = _pixel_inputs()
    x = _x(k)
    want = _bits(x, mu, sigma)                               # (12,)
    got = call(fn, k, mu, sigma, what="pixel_bits(k, mu, sigma)")
    expect_shape(got, want.shape, "your bits", like="k: one cost per pixel")
    rtol, atol = 2e-3, 2e-3                                   # float32 and DDPM's tanh CDF pass
    if close(got, want, rtol, atol):
        return (
            f"−log₂ p(k) with the edge buckets to ±∞: {fmt(want[4].item())} bits for pixel 128 "
            f"with the exact mean and σ = 0.0074, {fmt(want[0].item())} bits for the black pixel "
            "k = 0 (an edge pixel never costs more than 1 bit when the mean sits on it)."
        )
    edge = (k == 0) | (k == 255)
    wrong = _pixel_bits_slips(x, mu, sigma, want)
    name_slip(got, wrong, same=lambda a, b: _same_bits(a, b, rtol, atol))
    far = ~torch.isfinite(got[~edge]) | (got[~edge] > 20)
    if float(far.double().mean()) >= 0.8:
        # most interior pixels look impossibly far from their means: the bucket centre is not
        # k/127.5 − 1
        raise Hint(
            "your costs are enormous even where the mean sits on the pixel: the bucket centre "
            "must be in the model's range [−1, 1], x = k/127.5 − 1 (not k itself, and not "
            "k/255, which is [0, 1])."
        )
    bad = ~torch.isclose(got, want, rtol=rtol, atol=atol)
    if bool((bad & edge).any()) and not bool((bad & ~edge).any()):
        raise Hint("right for interior pixels, wrong at the edges k = 0 and k = 255: their buckets "
                   "run to −∞ and +∞ (p = C⁺ at k = 0, p = 1 − C⁻ at k = 255).")
    i = int(bad.nonzero()[0])
    raise Hint(
        f"for k = {int(k[i])}, μ = {fmt(mu[i].item())}, σ = {fmt(sigma[i].item())} the cost is "
        f"{fmt(want[i].item())} bits, yours is {fmt(got[i].item())}. Map k to x = k/127.5 − 1, "
        "integrate N(μ, σ²) over the bucket [x − 1/255, x + 1/255] (to ±∞ at the edges), "
        "return −log₂ of that."
    )


_SOLUTION_4_2 = '''
import math
import torch

def pixel_bits(k, mu, sigma):
    """-log2 p(k) for 8-bit pixel values k under the bucket decoder N(mu, sigma^2), elementwise."""
    x = k.double() / 127.5 - 1                               # bucket centre in [-1, 1]
    Phi = lambda y: 0.5 * (1 + torch.special.erf(y / math.sqrt(2)))
    c_plus = Phi((x + 1 / 255 - mu) / sigma)                 # C+ : mass below the upper edge
    c_minus = Phi((x - 1 / 255 - mu) / sigma)                # C- : mass below the lower edge
    p = torch.where(k == 0, c_plus, torch.where(k == 255, 1 - c_minus, c_plus - c_minus))
    return -torch.log2(p)
'''


# ---- 4.3 the σ_1 at which a pixel costs 8 bits ---------------------------------------------------
def _sigma_for_bits(bits: float, half: float = BUCKET_HALF_WIDTH) -> float:
    """σ such that the centred interior bucket [−half, half] has mass 2^−bits under N(0, σ²):
    2Φ(half/σ) − 1 = 2^−bits, solved by bisection on the library's Φ (monotone in σ)."""
    target = 2.0 ** -bits
    lo, hi = 1e-4, 1e4
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        mass = float(2 * standard_normal_cdf(torch.tensor(half / mid, dtype=torch.float64)) - 1)
        lo, hi = (mid, hi) if mass > target else (lo, mid)
    return math.sqrt(lo * hi)


def _check_sigma_for_8_bits(answer) -> str:
    want = _sigma_for_bits(8.0)                                # 0.8010
    got = as_number(answer, "your σ_1")
    rtol = 3e-3                                                # 0.80 and 0.801 both pass
    if abs(got - want) <= rtol * want:
        return (
            f"σ_1 ≈ {want:.4f}: the bucket's mass is then ≈ (2/255)·N(0; 0, σ²) = 1/256, the "
            "same as a uniform guess over the 256 values. A decoder that wide knows nothing about "
            "the pixel; with σ_1 = √β̃_2 ≈ 0.0074 the same pixel costs 1.31 bits."
        )
    wrong = [
        (
            _sigma_for_bits(8.0, 2 * BUCKET_HALF_WIDTH),
            "your bucket is twice too wide: its half-width "
            "is 1/255 (pixel values are 2/255 apart).",
        ),
        (
            _sigma_for_bits(8.0, 0.5 * BUCKET_HALF_WIDTH),
            "your bucket is half as wide as it should be: it is [x − 1/255, x + 1/255].",
        ),
        (
            _sigma_for_bits(8.0 / _LN2),
            "that σ makes the pixel cost 8 nats (p = e⁻⁸); the question is "
            "about 8 bits (p = 2⁻⁸ = 1/256).",
        ),
        (want**2, "that is σ², the variance; the question asks for the standard deviation σ_1."),
        (
            1 / math.sqrt(3),
            "1/√3 is the standard deviation of a uniform distribution on [−1, 1]. "
            "Here the decoder is a Gaussian centred on the pixel: solve "
            "2Φ((1/255)/σ) − 1 = 1/256 for σ.",
        ),
    ]
    name_slip(got, wrong, same=lambda a, b: abs(a - b) <= rtol * b)
    if got <= 0:
        raise Hint("σ_1 is a standard deviation: it must be positive.")
    direction = (
        "too small: a narrower Gaussian centred on the pixel puts *more* mass in its bucket, "
        "so the pixel costs fewer bits"
        if got < want
        else "too large: at that width the bucket gets less than 1/256 of the mass"
    )
    raise Hint(f"σ_1 = {fmt(got)} is {direction}. Solve 2Φ((1/255)/σ) − 1 = 2⁻⁸ for σ (the mean "
               "sits on the pixel, the bucket is [x − 1/255, x + 1/255]).")


_SOLUTION_4_3 = """
import math

# p = 2 Phi(h / sigma) - 1 with h = 1/255 must equal 2^-8;
# solve by bisection (p falls as sigma grows)
Phi = lambda y: 0.5 * (1 + math.erf(y / math.sqrt(2)))
lo, hi = 1e-3, 10.0
for _ in range(100):
    mid = (lo + hi) / 2
    lo, hi = (mid, hi) if 2 * Phi((1 / 255) / mid) - 1 > 2 ** -8 else (lo, mid)
# 0.8010; the density approximation (2/255) N(0; 0, sigma^2) = 1/256 gives the same
answer = (lo + hi) / 2
"""


# ---- 4.4 predict, then measure: the share of MNIST pixels that are exactly black -----------------
_WITHIN = 15.0  # percentage points: a prediction this close is a good one


def _check_black_share(answer, measured) -> str:
    got = as_number(answer, "your prediction")
    black = measurement(measured)
    if not 0 <= black <= 100:
        raise Hint(f"the measurement you passed is {fmt(black)}, not a share in percent: pass "
                   "100 * black, the share the cell above printed (a number from 0 to 100).")
    said = (f"The measurement: {black:.1f} % of the test digits' pixels are exactly black (k = 0). "
            "A digit is a thin stroke on a black page, so most pixels sit in the −1 edge bucket, "
            "which reaches to −∞ and costs the oracle decoder about half a bit; that is why its "
            "bits/dim is far below an interior pixel's 1.3.")
    if got < 0 or got > 100:
        raise Hint(f"a share of the pixels is between 0 and 100 %, and {fmt(got)} is not. {said}")
    if abs(got - black) <= _WITHIN:
        return f"you predicted {fmt(got)} %. {said}"
    if 0 < got <= 1 and abs(100 * got - black) <= _WITHIN:
        raise Hint(f"your {fmt(got)} looks like a fraction; give the share in percent "
                   f"({fmt(100 * got)}). {said}")
    if got < black:
        raise Hint(f"you predicted {fmt(got)} %, too few: the strokes look bold on screen, but "
                   f"they cover little of the 28 × 28 page. {said}")
    raise Hint(f"you predicted {fmt(got)} %, too many: the anti-aliased edges of every stroke are "
               f"grey, not black. {said}")


_SOLUTION_4_4 = """
# A digit is a thin stroke on a black 28 × 28 page: most of the page is background, exactly 0.
answer = 80        # percent; anything from about 66 to 95 counts as a good prediction
"""


EXERCISES = {
    "4.1": Exercise(
        "4.1", "the probability of an edge bucket", "answer", _check_edge_probability, _SOLUTION_4_1
    ),
    "4.2": Exercise(
        "4.2",
        "the bits of a pixel under the bucket decoder",
        "pixel_bits",
        _check_pixel_bits,
        _SOLUTION_4_2,
    ),
    "4.3": Exercise(
        "4.3",
        "the decoder width σ_1 at which a pixel costs 8 bits",
        "answer",
        _check_sigma_for_8_bits,
        _SOLUTION_4_3,
    ),
    "4.4": Exercise(
        "4.4",
        "predict, then measure: the share of MNIST pixels that are black",
        "answer",
        _check_black_share,
        _SOLUTION_4_4,
        measured=("measured",),
    ),
}
