"""Chapter 7 (the seed's other experiments): the noise ε̂ implied by a predicted clean image x̂_0
(what a sampler needs from an x_0-model, 7.1), the PSNR criterion of the single-image
experiment (7.2), and a prediction of how close the model's very first guess, made from pure noise,
is to the image (7.3, compared with the chapter's measurement).

The right answers come from the library: :func:`ddpm_edu.datasets.single_image.psnr_to_nearest`
and :func:`ddpm_edu.forward.predict_eps_from_x0`. A wrong answer is compared with the usual slips:
the pixel range taken as 1 or 255 instead of 2, the root-mean-square error where the mean squared
error belongs, 20·log₁₀ or ln in place of 10·log₁₀; a square root forgotten on √ᾱ_t or
√(1 − ᾱ_t), the sign of ε flipped, or the two coefficients swapped.
"""
from __future__ import annotations

import math

import torch

from ..datasets.single_image import psnr_to_nearest
from ..forward import predict_eps_from_x0
from ..schedules import linear_schedule
from ._core import Exercise, Hint, as_number, call, close, expect_shape, fmt, measurement, \
    name_slip

__all__ = ["EXERCISES"]


# ---- 7.1 ε̂ from x̂_0 ----------------------------------------------------------------------------
_T_71 = (10, 300, 900)


def _eps_inputs():
    g = torch.Generator().manual_seed(71)
    x0 = torch.rand(2, 3, 4, 4, generator=g) * 2 - 1
    eps = torch.randn(2, 3, 4, 4, generator=g)
    x0_hat = (x0 + 0.05 * torch.randn(x0.shape, generator=g)).clamp(-1, 1)  # a model's guess
    return x0, eps, x0_hat


def _check_eps_from_x0(fn) -> str:
    schedule = linear_schedule(1000)
    x0, eps, x0_hat = _eps_inputs()
    got, want, inputs = [], [], []
    for t in _T_71:
        ab = schedule.alpha_bar[t]
        xt = (ab.sqrt() * x0 + (1 - ab).sqrt() * eps).float()
        out = call(fn, xt, x0_hat, ab.item(), what="eps_from_x0(x_t, x0_hat, alpha_bar_t)")
        expect_shape(out, xt.shape, "your ε̂", like="x_t")
        got.append(out)
        want.append(predict_eps_from_x0(schedule, xt, t, x0_hat).double())
        inputs.append((xt.double(), ab.item()))
    got_t, want_t = torch.stack(got), torch.stack(want)
    rtol, atol = 1e-3, 1e-3
    if close(got_t, want_t, rtol, atol):
        return ("ε̂ = (x_t − √ᾱ_t x̂_0)/√(1 − ᾱ_t): the sampler turns the x_0-model's guess into the "
                "noise it implies, and the DDIM update needs nothing else.")
    x0h = x0_hat.double()

    def each(f):
        return torch.stack([f(xt, ab) for xt, ab in inputs])

    wrong = [
        (
            each(lambda xt, ab: (xt - ab * x0h) / math.sqrt(1 - ab)),
            "the signal's coefficient is √ᾱ_t, not ᾱ_t: x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε.",
        ),
        (
            each(lambda xt, ab: (xt - math.sqrt(ab) * x0h) / (1 - ab)),
            "divide by the noise's standard deviation √(1 − ᾱ_t), not by its variance 1 − ᾱ_t.",
        ),
        (
            each(lambda xt, ab: (math.sqrt(ab) * x0h - xt) / math.sqrt(1 - ab)),
            "the sign is flipped: ε̂ = (x_t − √ᾱ_t x̂_0)/√(1 − ᾱ_t).",
        ),
        (
            each(lambda xt, ab: (xt - math.sqrt(1 - ab) * x0h) / math.sqrt(ab)),
            "the coefficients are swapped: x̂_0 is multiplied by √ᾱ_t, and the difference is "
            "divided by √(1 − ᾱ_t).",
        ),
        (
            each(lambda xt, ab: xt - math.sqrt(ab) * x0h),
            "that is √(1 − ᾱ_t)·ε̂, the noise *term*; divide it by √(1 − ᾱ_t) to get ε̂ itself.",
        ),
        (
            each(lambda xt, ab: (xt - math.sqrt(ab) * x0h) / math.sqrt(ab)),
            "divide by √(1 − ᾱ_t), the noise's standard deviation, not by √ᾱ_t.",
        ),
    ]
    name_slip(got_t, wrong, rtol, atol)
    worst = int((got_t - want_t).abs().flatten(1).amax(1).argmax())
    raise Hint(
        f"at t = {_T_71[worst]} (ᾱ_t = {fmt(inputs[worst][1])}) your ε̂ differs from the expected "
        "one. Solve x_t = √ᾱ_t x̂_0 + √(1 − ᾱ_t) ε̂ for ε̂."
    )


_SOLUTION_7_1 = '''
import math

def eps_from_x0(x_t, x0_hat, alpha_bar_t):
    """The noise implied by a predicted clean image:
    solve x_t = sqrt(abar) x0 + sqrt(1 - abar) eps."""
    return (x_t - math.sqrt(alpha_bar_t) * x0_hat) / math.sqrt(1 - alpha_bar_t)
'''


# ---- 7.2 PSNR ------------------------------------------------------------------------------------
def _psnr_pairs():
    """Three (sample, image) pairs in [−1, 1], shape
    (3, 8, 8): a close, a middling and a poor match."""
    g = torch.Generator().manual_seed(72)
    image = torch.rand(3, 8, 8, generator=g) * 2 - 1
    pairs = []
    for noise in (0.02, 0.1, 0.4):
        sample = (image + noise * torch.randn(image.shape, generator=g)).clamp(-1, 1)
        pairs.append((sample, image))
    return pairs


def _psnr_slips(pairs, want_t) -> list[tuple[torch.Tensor, str]]:
    """Typical wrong PSNRs for the pairs, each with its hint."""
    mse = torch.tensor([float(((a.double() - b.double()) ** 2).mean()) for a, b in pairs])
    return [
        (
            want_t - 20 * math.log10(2),
            "you used a peak of 1, the range of images in [0, 1]. Our images "
            "live in [−1, 1], so the range is 2 and the numerator 2² = 4.",
        ),
        (
            want_t + 20 * math.log10(127.5),
            "you used a peak of 255, the range of 8-bit pixels; these "
            "images are in [−1, 1], so the range is 2.",
        ),
        (
            10 * torch.log10(4 / mse.sqrt()),
            "you divided by the root-mean-square error; PSNR uses the "
            "mean squared error: 10·log₁₀(4 / MSE).",
        ),
        (
            2 * want_t,
            "that is 20·log₁₀(4/MSE); with the squared error inside, the factor is 10 "
            "(20·log₁₀ goes with the RMS error: 20·log₁₀(2/RMSE)).",
        ),
        (10 * torch.log(4 / mse), "you took the natural logarithm; decibels use log₁₀."),
        (
            -want_t,
            "the sign is flipped: PSNR = 10·log₁₀(peak²/MSE) is large when the error is small.",
        ),
        (
            want_t + 20 * math.log10(2),
            "you used a peak of 4, or mapped the images to [0, 1] and kept the "
            "peak at 2: the peak is the range of the values you compare.",
        ),
        (
            10 * torch.log10(4 / (mse * 3)),
            "you summed over the channels instead of averaging: the MSE is "
            "the mean over every pixel of every channel.",
        ),
    ]


def _check_psnr(fn) -> str:
    pairs = _psnr_pairs()
    want, got = [], []
    for a, b in pairs:
        want.append(float(psnr_to_nearest(a[None], b[None])))
        out = call(fn, a, b, what="psnr_db(sample, image)")
        if out.numel() != 1:
            raise Hint(
                f"psnr_db(sample, image) returned a tensor of shape {tuple(out.shape)}; it should "
                "return one number per pair of images (average the squared error over all "
                "pixels and channels first)."
            )
        got.append(float(out.reshape(())))
    want_t, got_t = torch.tensor(want), torch.tensor(got)
    tol = 0.02  # dB; float32 arithmetic passes easily
    if close(got_t, want_t, 0, tol):
        return (
            f"PSNR = 10·log₁₀(2²/MSE): {fmt(want[0])}, {fmt(want[1])} and {fmt(want[2])} dB for "
            "the three pairs. Each halving of the RMS error adds 6.02 dB; the course calls a "
            "sample recognisable from 20 dB (RMS error 10 % of the range)."
        )
    wrong = _psnr_slips(pairs, want_t)
    name_slip(got_t, [(cand.float(), hint) for cand, hint in wrong], 0, tol)
    raise Hint(
        f"for the first pair the PSNR is {fmt(want[0])} dB, yours is {fmt(got[0])}. Compute the "
        "mean squared difference over all values, then 10·log₁₀(2² / MSE)."
    )


_SOLUTION_7_2 = '''
import torch

def psnr_db(sample, image):
    """Peak signal-to-noise ratio in dB of two images in [-1, 1] (range 2)."""
    mse = ((sample.double() - image.double()) ** 2).mean()
    return 10 * torch.log10(4.0 / mse)
'''

# ---- 7.3 predict, then measure: the PSNR of the first x̂_0, made from pure noise ------------------
_WITHIN_DB = 4.0                # a prediction this close (in dB) is a good one
_RECOGNISABLE_DB = 20.0         # ddpm_edu.datasets.single_image.RECOGNISABLE_PSNR_DB


def _check_first_guess(answer, measured) -> str:
    got = as_number(answer, "your predicted PSNR")
    psnr = measurement(measured)
    said = (f"The measurement: the x̂_0 predicted from pure noise at t = T scores {psnr:.1f} dB, "
            "almost what the finished samples score. The model predicts x_0, and with one "
            "training image the best x̂_0 is that image whatever x_t is: it has learnt a constant. "
            "The first guess is already the flower; the chain only carries x_t towards it. An "
            "ε-model would have to get there through ε̂, whose error is magnified about 160× in "
            "x̂_0 at t = T.")
    if abs(got - psnr) <= _WITHIN_DB:
        return f"you predicted {fmt(got)} dB. {said}"
    if got < _RECOGNISABLE_DB:
        raise Hint(f"you predicted {fmt(got)} dB, below the 20 dB of \"recognisable\": as if a "
                   f"guess made from pure noise had to be noise-like too. {said}")
    if got > psnr:
        raise Hint(f"you predicted {fmt(got)} dB, more than the network delivers: it is trained, "
                   "not exact: its x̂_0 misses the image by about as much as the finished samples "
                   f"do. {said}")
    raise Hint(f"you predicted {fmt(got)} dB, too little. {said}")


_SOLUTION_7_3 = """
# The single-image model predicts x_0, and its best x̂_0 is the training image whatever x_t is: even
# from pure noise its guess is about as good as the finished samples (about 33 dB in section 3).
answer = 33
"""


EXERCISES = {
    "7.1": Exercise(
        "7.1",
        "the noise ε̂ implied by a predicted x̂_0",
        "eps_from_x0",
        _check_eps_from_x0,
        _SOLUTION_7_1,
    ),
    "7.2": Exercise(
        "7.2", "PSNR, the single-image criterion", "psnr_db", _check_psnr, _SOLUTION_7_2
    ),
    "7.3": Exercise("7.3", "predict, then measure: the first guess x̂_0, made from pure noise",
                    "answer", _check_first_guess, _SOLUTION_7_3, measured=("measured",)),
}
