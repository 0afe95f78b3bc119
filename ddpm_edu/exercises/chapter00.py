"""Chapter 0 (welcome): two gentle exercises that show how ``check`` works — which phase of a
diffusion model adds noise, and how many network calls DDPM's sampler makes.

The first takes a word, the second a number. Wrong answers get a hint that names the confusion
(the learned reverse process taken for the noising one; counting calls per image instead of per
batch; an extra call for x_T, which is drawn, not computed; network calls for the forward process,
which has none).
"""
from __future__ import annotations

from ._core import Exercise, Hint, as_number, fmt

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


# ---- 0.2 how many network calls ------------------------------------------------------------------
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


_SOLUTION_0_2 = '''
T = 1000             # DDPM's sampler walks every step x_T -> x_{T-1} -> ... -> x_0
answer = T           # one network call per step, on the whole batch of 16 digits at once
'''


EXERCISES = {
    "0.1": Exercise("0.1", "which phase adds noise", "answer", _check_phase, _SOLUTION_0_1),
    "0.2": Exercise("0.2", "network calls of DDPM sampling", "answer", _check_calls, _SOLUTION_0_2),
}
