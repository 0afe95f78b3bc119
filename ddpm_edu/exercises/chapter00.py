"""Chapter 0 (welcome): three gentle exercises that show how ``check`` works — which phase of a
diffusion model adds noise, a prediction of how much of x_T leaves the image range (compared with
the chapter's measurement), and how many network calls DDPM's sampler makes.

The first takes a word, the others a number. Wrong answers get a hint that names the confusion
(the learned reverse process taken for the noising one; noise pictured inside the image range;
counting calls per image instead of per batch; an extra call for x_T, which is drawn, not computed;
network calls for the forward process, which has none).
"""
from __future__ import annotations

import math

from ._core import Exercise, Hint, as_number, fmt, measurement, name_slip

__all__ = ["EXERCISES"]


# ---- 0.1 which phase adds noise ------------------------------------------------------------------
_FORWARD = {
    "forward",
    "forward process",
    "the forward process",
    "forward phase",
    "the forward phase",
    "q",
    "noising",
    "diffusion",
    "the diffusion process",
    "diffusion process",
}
_REVERSE = {
    "reverse",
    "reverse process",
    "the reverse process",
    "reverse phase",
    "the reverse phase",
    "backward",
    "p",
    "p_theta",
    "pθ",
    "denoising",
    "sampling",
    "generation",
    "learned",
    "the learned one",
}


def _check_phase(answer) -> str:
    if not isinstance(answer, str):
        raise Hint("answer with a word in quotes: answer = \"forward\" or answer = \"reverse\".")
    word = " ".join(answer.strip().lower().replace("-", " ").split())
    if word in _FORWARD:
        return (
            "the forward process q(x_t | x_{t−1}) adds a little Gaussian noise at each step. It "
            "is fixed (no parameters): only the reverse process is learned."
        )
    if word in _REVERSE:
        raise Hint(
            "the reverse process p_θ(x_{t−1} | x_t) *removes* noise: it starts from pure "
            "noise x_T and ends at an image. It is the phase a network has to learn, because "
            "undoing the noise requires knowing what images look like."
        )
    raise Hint(f"{answer.strip()[:40]!r} is not one of the two phases; answer \"forward\" or "
               "\"reverse\".")


_SOLUTION_0_1 = '''
answer = "forward"   # q(x_t | x_{t-1}) adds noise; the learned reverse process p_θ removes it
'''


# ---- 0.2 predict, then measure: how much of x_T leaves the image range ---------------------------
_WITHIN = 8.0                                   # percentage points: a prediction this close is good
_OUTSIDE_1 = 100 * math.erfc(1 / math.sqrt(2))  # P(|z| > 1) for z ~ N(0, 1): 31.7 %


def _check_outside_range(answer, measured) -> str:
    got = as_number(answer, "your prediction")
    share = measurement(measured)
    if not 0 <= share <= 100:
        raise Hint(f"the measurement you passed is {fmt(share)}, not a share in percent: pass the "
                   "share that the cell above printed (a number from 0 to 100).")
    said = (f"The measurement: {share:.1f} % of x_T's pixels lie outside [−1, 1]. x_T is almost "
            f"exactly N(0, 1) per pixel (√ᾱ_T ≈ 0.006 of the digit is left), and a standard "
            f"Gaussian is beyond ±1, one standard deviation, with probability {_OUTSIDE_1:.1f} %: "
            "about a third. The noise is not an image squeezed into the image range; the reverse "
            "process has to bring every value back into it.")
    if 0 < got <= 1 and abs(100 * got - share) <= _WITHIN:
        raise Hint(f"your {fmt(got)} looks like a fraction; give the share in percent "
                   f"({fmt(100 * got)}). {said}")
    if not 0 <= got <= 100:
        raise Hint(f"a share of the pixels is between 0 and 100 %, and {fmt(got)} is not. {said}")
    if abs(got - share) <= _WITHIN:
        return f"you predicted {fmt(got)} %. {said}"
    slips = [
        (0.0, "you predicted 0 %, as if the noise stayed inside the image's range; Gaussian noise "
              "has no edges. "),
        (100 - _OUTSIDE_1, f"you predicted {fmt(got)} %: that is the share *inside* ±1. "),
        (100 * math.erfc(2 / math.sqrt(2)), f"you predicted {fmt(got)} %: that is the share "
                                            "beyond ±2, two standard deviations; the image range "
                                            "±1 is only one. "),
        (50.0, f"you predicted {fmt(got)} %: half would need the range to end at ±0.67, the "
               "Gaussian's quartiles. "),
        (100.0, f"you predicted {fmt(got)} %: most of a standard Gaussian lies within ±1. "),
    ]
    name_slip(got, [(v, h + said) for v, h in slips], same=lambda a, b: abs(a - b) < 1.0)
    word = "too little" if got < share else "too much"
    raise Hint(f"you predicted {fmt(got)} %, {word}. {said}")


_SOLUTION_0_2 = """
import math
# x_T is N(0, 1) per pixel (almost nothing of the digit is left); the image range is ±1, one
# standard deviation. P(|z| > 1) = erfc(1/√2):
answer = 100 * math.erfc(1 / math.sqrt(2))    # 31.7 (percent)
"""


# ---- 0.3 how many network calls ------------------------------------------------------------------
_T, _N = 1000, 16


def _check_calls(answer) -> str:
    got = as_number(answer, "your number of calls")
    if got == _T:
        return (
            f"{_T} calls: one per reverse step, each on the whole batch of {_N} digits at once. "
            "That is why DDPM sampling is slow, and why chapter 8's DDIM, which needs 10–50 "
            "steps, matters."
        )
    if got != round(got) or got < 0:
        raise Hint(f"a number of calls is a whole number ≥ 0 (yours is {fmt(got)}).")
    got = int(got)
    hints = {
        _T * _N: f"you counted one call per image and step; the network takes the whole batch of "
        f"{_N} digits in ONE call, so the number of calls does not depend on how many "
        "digits you draw (only the time per call does).",
        _T + 1: "one too many: x_T is drawn from N(0, I), not computed by the network. Each of the "
        "T steps x_t → x_{t−1} calls the network once.",
        _T - 1: "one too few: the last step, x_1 → x_0, also calls the network. There are T steps "
        "x_t → x_{t−1}, t = T, …, 1.",
        2 * _T: "the forward process needs no network (it only adds noise); only the T reverse "
        "steps call it.",
        2 * _T * _N: "the forward process needs no network, and the whole batch goes through the "
        "network in one call.",
        _N: f"{_N} is the number of digits, which all go through the network together in each "
            "call; "
        f"count the steps instead.",
        1: "one call would give one denoising step; the sampler takes T of them.",
        0: "the reverse steps each call the network: that is where the learned model is used.",
    }
    if got in hints:
        raise Hint(hints[got])
    if got in (5, 10, 20, 25, 50, 100):
        raise Hint(
            f"{got} is a typical number of DDIM steps, like the tour's (chapter 8 explains "
            f"them); the question is about DDPM's own sampler, which walks all T = {_T} steps."
        )
    raise Hint(f"{got} is not it. DDPM's sampler starts from x_T ~ N(0, I) and takes one reverse "
               f"step x_t → x_{{t−1}} for each t = T, …, 1 (T = {_T}); how often does it call the "
               "network?")


_SOLUTION_0_3 = '''
T = 1000             # DDPM's sampler walks every step x_T -> x_{T-1} -> ... -> x_0
answer = T           # one network call per step, on the whole batch of 16 digits at once
'''


EXERCISES = {
    "0.1": Exercise("0.1", "which phase adds noise", "answer", _check_phase, _SOLUTION_0_1),
    "0.2": Exercise("0.2", "predict, then measure: how much of x_T leaves the image range",
                    "answer", _check_outside_range, _SOLUTION_0_2, measured=("measured",)),
    "0.3": Exercise("0.3", "network calls of DDPM sampling", "answer", _check_calls, _SOLUTION_0_3),
}
