"""Chapter 8 (faster sampling, DDIM): the noise scale σ_t(η) of a DDIM step, the β' of a
respaced (shorter) schedule, and a prediction of how different two η = 1 runs from the same x_T
are (compared with the chapter's measurement).

The right answers come from the library: σ² is the variance :func:`ddpm_edu.reverse.ddim_step`
adds, written out (Song et al. 2020, eq. 16), and β' is ``respace(schedule, kept).beta``. A wrong
answer is compared with the usual slips: a variance given where a standard deviation belongs, η
squared (or not), the ratio of the two noise levels upside down, the first factor dropped (which
leaves DDPM's "fixed large" σ), the original one-step β_τ used for a jump over many steps, and the
first kept step measured from the wrong start.
"""
from __future__ import annotations

import math

import torch

from ..schedules import linear_schedule, respace
from ._core import (Exercise, Hint, as_number, call, close, expect_shape, first_mismatch, fmt,
                    measurement, name_slip)

__all__ = ["EXERCISES"]

_RTOL, _ATOL = 1e-3, 1e-6  # forgiving: float32 arithmetic passes


# ---- 8.1 the noise scale σ_t(η) ------------------------------------------------------------------
def _sigma(ab_t: torch.Tensor, ab_prev: torch.Tensor, eta: float) -> torch.Tensor:
    """σ = η √((1−ᾱ_prev)/(1−ᾱ_t)) √(1 − ᾱ_t/ᾱ_prev), float64 (DDIM eq. 16 on any pair of steps)."""
    return eta * ((1 - ab_prev) / (1 - ab_t)).sqrt() * (1 - ab_t / ab_prev).sqrt()


def _pairs():
    """(ᾱ_t, ᾱ_prev) for adjacent steps and for jumps
    of a respaced chain (linear T=1000), float64."""
    ab = linear_schedule(1000).alpha_bar
    t = torch.tensor([2, 10, 100, 500, 1000, 20, 300, 1000])
    prev = torch.tensor([1, 9, 99, 499, 999, 1, 200, 900])  # last three: jumps over many steps
    return ab[t].clone(), ab[prev].clone()


def _sigma_slips(ab_t, ab_prev, eta, want) -> list[tuple[torch.Tensor, str]]:
    """Typical wrong σ for these ᾱ pairs and η, each with its hint."""
    base = _sigma(ab_t, ab_prev, 1.0)  # σ at η = 1
    return [
        (
            want**2,
            "that is σ², the variance; the question asks for σ, the standard deviation "
            "that multiplies the noise z (take the square root).",
        ),
        (
            eta**2 * base,
            "η multiplies σ itself (σ = η·…), so σ² carries η²; you squared η once too often.",
        ),
        (
            math.sqrt(eta) * base,
            "η multiplies σ itself (σ = η·…); you put it under the square root.",
        ),
        (base, "your σ does not change with η; σ = η·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1−ᾱ_t/ᾱ_prev)."),
        (
            eta * ((1 - ab_t) / (1 - ab_prev)).sqrt() * (1 - ab_t / ab_prev).sqrt(),
            "the first ratio is upside down: it is (1−ᾱ_prev)/(1−ᾱ_t), the posterior's "
            "variance shrink factor, which is < 1 because the earlier step is less noisy.",
        ),
        (
            eta * (1 - ab_t / ab_prev).sqrt(),
            "you dropped the factor √((1−ᾱ_prev)/(1−ᾱ_t)): "
            "η·√(1 − ᾱ_t/ᾱ_prev) alone is DDPM's 'fixed large' σ (σ² = β_t for adjacent "
            "steps), not the posterior's σ² = β̃_t that η = 1 must give.",
        ),
        (
            eta * (1 - ab_prev).sqrt(),
            "you used 1 − ᾱ_t where 1 − ᾱ_t/ᾱ_prev belongs: the noise "
            "added between the two steps, not all the noise up to t.",
        ),
        (
            eta * ((1 - ab_prev) / (1 - ab_t)).sqrt(),
            "the factor √(1 − ᾱ_t/ᾱ_prev) is missing: "
            "the noise variance added going from step prev to step t (β_t for adjacent steps).",
        ),
    ]


def _check_sigma(fn) -> str:
    ab_t, ab_prev = _pairs()
    for eta in (1.0, 0.5, 0.0):
        want = _sigma(ab_t, ab_prev, eta)
        try:
            got = call(
                fn, ab_t, ab_prev, eta, what=f"ddim_sigma(alpha_bar_t, alpha_bar_prev, eta={eta})"
            )
        except Hint as e:
            if "only one element tensors" in str(e):
                raise Hint(
                    f"{e} The ᾱ arrive as tensors of {ab_t.numel()} values: use torch.sqrt "
                    "(math.sqrt takes a single number)."
                ) from None
            raise
        if got.numel() == 1 and ab_t.numel() > 1:
            raise Hint(
                "you returned one number for 8 pairs (ᾱ_t, ᾱ_prev): compute σ element by "
                "element with torch operations (torch.sqrt, not math.sqrt), without summing."
            )
        expect_shape(got, ab_t.shape, "your σ", like="alpha_bar_t")
        if close(got, want, _RTOL, _ATOL):
            continue
        said = (
            f" (η = {eta}, ᾱ_t = {fmt(ab_t[0].item())}, ᾱ_prev = {fmt(ab_prev[0].item())}: σ = "
            f"{fmt(want[0].item())}, yours {fmt(got[0].item())})"
        )
        if eta == 0.0:
            raise Hint("with η = 0 every σ must be 0: η multiplies σ, and η = 0 is deterministic "
                       "DDIM." + said)
        wrong = _sigma_slips(ab_t, ab_prev, eta, want)
        name_slip(got, wrong, _RTOL, _ATOL, suffix=said)
        raise Hint("σ = η·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1 − ᾱ_t/ᾱ_prev)." + said)
    return ("σ_t(η) = η·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1 − ᾱ_t/ᾱ_prev): for adjacent steps and η = 1, "
            "σ² = β̃_t, DDPM's posterior variance.")


_SOLUTION_8_1 = '''
import torch

def ddim_sigma(alpha_bar_t, alpha_bar_prev, eta):
    """DDIM's noise scale (Song et al. 2020, eq. 16) for a step from t to prev < t."""
    # (1 - ᾱ_prev)/(1 - ᾱ_t) · (1 - ᾱ_t/ᾱ_prev) is the posterior variance β̃ of the jump; η scales σ
    var = (1 - alpha_bar_prev) / (1 - alpha_bar_t) * (1 - alpha_bar_t / alpha_bar_prev)
    return eta * torch.sqrt(var)
'''


# ---- 8.2 the β' of a respaced schedule -----------------------------------------------------------
def _cases():
    """(original schedule, kept steps τ_1 < … < τ_S): even and uneven gaps, τ_1 = 1 and τ_1 > 1."""
    lin = linear_schedule(1000)
    yield lin, torch.tensor([1, 112, 223, 334, 445, 556, 667, 778, 889, 1000])
    yield lin, torch.tensor([10, 50, 200, 600, 1000])
    yield linear_schedule(20, beta_start=0.01, beta_end=0.3), torch.tensor([3, 7, 8, 15, 20])


def _check_respaced_betas(fn) -> str:
    for schedule, kept in _cases():
        S, ab = kept.numel(), schedule.alpha_bar.clone()
        want = respace(schedule, kept).beta[1:]              # β'_1..β'_S from the library
        got = call(fn, ab, kept, what="respaced_betas(alpha_bar, kept)")
        prev = torch.cat([torch.zeros(1, dtype=torch.long), kept[:-1]])
        if got.shape == (S - 1,) and close(got, want[1:], _RTOL, _ATOL):
            raise Hint(
                f"you returned {S - 1} values for {S} kept steps: the first respaced step goes "
                f"from τ_0 = 0 (the data, ᾱ_0 = 1) to τ_1, so β'_1 = 1 − ᾱ_τ1."
            )
        if got.shape == (S + 1,) and close(got[1:], want, _RTOL, _ATOL):
            raise Hint(f"your answer has S + 1 = {S + 1} entries, starting with β'_0 = 0; return "
                       f"β'_1..β'_S only, one per kept step.")
        expect_shape(got, (S,), "your β'", like="kept")
        if close(got, want, _RTOL, _ATOL):
            continue
        wrong = [
            (
                1 - ab[kept] / ab[kept - 1],
                "those are the original β_τ at the kept steps: the noise of "
                "ONE step. A respaced step jumps from τ_{k−1} to τ_k over many steps, so its β' is "
                "1 − ᾱ_τk/ᾱ_τ(k−1): all the noise added in between.",
            ),
            (
                1 - ab[kept] / ab[torch.cat([kept[:1], kept[:-1]])],
                "everything but the first entry is right: the step before τ_1 is the data τ_0 = 0 "
                "with ᾱ_0 = 1, so β'_1 = 1 − ᾱ_τ1 (yours is 0).",
            ),
            (
                1 - ab[prev] / ab[kept],
                "the ratio is upside down (your β' are negative): ᾱ falls with "
                "t, so β'_k = 1 − ᾱ_τk/ᾱ_τ(k−1) lies in (0, 1).",
            ),
            (
                ab[prev] - ab[kept],
                "ᾱ_τ(k−1) − ᾱ_τk is a difference; β'_k = 1 − ᾱ_τk/ᾱ_τ(k−1) is "
                "one minus a ratio (the respaced ᾱ' must be the product of the 1 − β').",
            ),
            (ab[kept], "those are the respaced ᾱ'_k = ᾱ_τk themselves; β'_k = 1 − ᾱ'_k/ᾱ'_{k−1}."),
            (
                1 - ab[kept],
                "those are 1 − ᾱ_τk, the noise accumulated from the data; β'_k only "
                "counts the noise added since the previous kept step: 1 − ᾱ_τk/ᾱ_τ(k−1).",
            ),
            (ab[kept] / ab[prev], "that is α'_k = ᾱ_τk/ᾱ_τ(k−1); β'_k = 1 − α'_k."),
        ]
        name_slip(got, wrong, _RTOL, _ATOL)
        i = first_mismatch(got, want, _RTOL, _ATOL)
        raise Hint(f"with kept steps {kept.tolist()}, β'_{i + 1} (from τ = {int(prev[i])} to "
                   f"τ = {int(kept[i])}) should be {fmt(want[i].item())}, yours is "
                   f"{fmt(got[i].item())}. β'_k = 1 − ᾱ_τk/ᾱ_τ(k−1), with ᾱ_τ0 = ᾱ_0 = 1.")
    return (
        "β'_k = 1 − ᾱ_τk/ᾱ_τ(k−1): the respaced chain keeps the original ᾱ at the kept steps, so "
        "q(x_t | x_0) is unchanged there and the trained network can be reused as it is."
    )


_SOLUTION_8_2 = '''
import torch

def respaced_betas(alpha_bar, kept):
    """β'_1..β'_S of the chain that visits only the kept steps τ_1 < ... < τ_S
    (τ_0 = 0, the data)."""
    prev = torch.cat([torch.zeros(1, dtype=torch.long), kept[:-1]])   # τ_0, ..., τ_{S-1}
    return 1 - alpha_bar[kept] / alpha_bar[prev]
'''


# ---- 8.3 predict, then measure: η = 1 from the same x_T with two seeds ---------------------------
_WITHIN = 60.0  # grey levels: a prediction this close is a good one


def _check_eta1_difference(answer, measured) -> str:
    got = as_number(answer, "your prediction")
    diff = measurement(measured)
    if not 0 <= diff <= 255.5:
        raise Hint(f"the measurement you passed is {fmt(diff)}, not a difference of grey levels "
                   "(0 to 255): pass the smallest of the per-digit differences the cell printed.")
    said = (f"The measurement: every digit has a pixel that differs by at least {diff:.0f} of the "
            "255 grey levels, black against white: the two seeds drew different strokes, often "
            "different digits. With η = 1 each step adds fresh noise of variance σ_t² = β̃'_t, and "
            "the first jump of a 10-step schedule (t = 1000 → 889) has β̃' close to 0.9: the noise "
            "it draws is nearly as large as the signal, so the seed, not x_T, decides the digit.")
    if 0 < got <= 2 and abs(127.5 * got - diff) <= _WITHIN:
        raise Hint(f"your {fmt(got)} looks like a difference in the model range [−1, 1]; the "
                   f"question asks for grey levels (× 127.5 = {fmt(127.5 * got)}). {said}")
    if got < 0 or got > 255:
        raise Hint(f"a difference of grey levels is between 0 and 255, and {fmt(got)} is not. "
                   f"{said}")
    if abs(got - diff) <= _WITHIN:
        return f"you predicted {fmt(got)} grey levels. {said}"
    if got <= 20:
        raise Hint(f"you predicted {fmt(got)}: as if x_T fixed the digit and the seed only added "
                   "a little grain. That holds for η = 0, where the sampler is a fixed map of "
                   f"x_T. {said}")
    raise Hint(f"you predicted {fmt(got)} grey levels, too little. {said}")


_SOLUTION_8_3 = """
# With η = 1 each step draws fresh noise of variance β̃'_t; the first jump of the 10-step schedule
# (t = 1000 -> 889) has β̃' ≈ 0.9, so x_T barely survives it and the seed picks the strokes:
# somewhere in each digit one run has ink where the other has none.
answer = 240       # grey levels; anything from about 190 to 255 counts as a good prediction
"""


EXERCISES = {
    "8.1": Exercise("8.1", "DDIM's noise scale σ_t(η)", "ddim_sigma", _check_sigma, _SOLUTION_8_1),
    "8.2": Exercise("8.2", "the β' of a respaced schedule", "respaced_betas", _check_respaced_betas,
                    _SOLUTION_8_2),
    "8.3": Exercise("8.3", "predict, then measure: η = 1 from the same x_T with two seeds",
                    "answer", _check_eta1_difference, _SOLUTION_8_3, measured=("measured",)),
}
