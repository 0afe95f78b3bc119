"""Chapter 10 (the score-based view): the score of a noisy Gaussian, Tweedie's denoiser from a
score, a prediction of where a learned score field is worst (compared with the chapter's
measurement), and one Euler step of the probability-flow ODE (which is a DDIM η = 0 step).

The right answers are written from the closed forms:

    10.1  ∇ log q(x_t) = −(x_t − √ᾱ_t m) / (ᾱ_t s² + 1 − ᾱ_t)            for data x_0 ~ N(m, s²)
    10.2  E[x_0 | x_t] = (x_t + (1 − ᾱ_t) ∇ log q(x_t)) / √ᾱ_t            (Tweedie's formula)
    10.4  x_s = √ᾱ_s (x_t/√ᾱ_t + (σ_s − σ_t) ε̂),  σ = √((1−ᾱ)/ᾱ)        (= DDIM's η = 0 update)

and 10.4 is also compared with the library's :func:`ddpm_edu.reverse.ddim_step`. A wrong answer
is compared with the usual slips: a flipped sign, the conditional score q(x_t | x_0) for the
marginal one, the data's variance not scaled by ᾱ_t, a standard deviation where a variance belongs,
ε̂ taken for the score, σ² for σ, an Euler step in x rather than in x̄ = x/√ᾱ.
"""
from __future__ import annotations

import math

import torch

from ._core import (Exercise, Hint, as_number, call, close, expect_shape, first_mismatch, fmt,
                    measurement, name_slip)

__all__ = ["EXERCISES"]

_RTOL, _ATOL = 1e-3, 1e-5  # forgiving: float32 arithmetic and rounded constants pass


def _scalar(v: float) -> torch.Tensor:
    """A 0-d float64 tensor: the exercises pass numbers as 0-d tensors ("use it like a number")."""
    return torch.tensor(v, dtype=torch.float64)


# ---- 10.1 the score of a noisy Gaussian ----------------------------------------------------------
_CASES_10_1 = ((0.9, 0.3, 0.2), (0.3, -0.5, 0.7), (0.02, 0.8, 0.1))  # (ᾱ_t, m, s)


def _noisy_score_slips(x, ab, m, s, r, var, want) -> list[tuple[torch.Tensor, str]]:
    """Typical wrong scores of q(x_t) at x, each with its hint."""
    return [
        (
            -want,
            "the sign is flipped: the score points *towards* the mean, uphill in log q, so "
            "it is −(x_t − √ᾱ_t m)/Var.",
        ),
        (
            -(x - m) / var,
            "the mean of q(x_t) is √ᾱ_t m, not m: the forward process shrinks the "
            "signal by √ᾱ_t.",
        ),
        (
            -(x - r * m) / (1 - ab),
            "that is the score of q(x_t | x_0) with x_0 = m, where only "
            "the added noise (variance 1 − ᾱ_t) is random. The marginal "
            "q(x_t) also carries the data's own spread: Var = ᾱ_t s² + 1 − ᾱ_t.",
        ),
        (
            -(x - r * m) / (s * s + 1 - ab),
            "the data's variance enters scaled: √ᾱ_t x_0 has "
            "variance ᾱ_t s², so Var q(x_t) = ᾱ_t s² + 1 − ᾱ_t.",
        ),
        (
            -(x - r * m) / (r * s * s + 1 - ab),
            "√ᾱ_t x_0 has variance (√ᾱ_t)² s² = ᾱ_t s², not √ᾱ_t s².",
        ),
        (
            -(x - r * m) / (ab * s + 1 - ab),
            "s is the standard deviation of the data; its "
            "variance s² goes into Var q(x_t) = ᾱ_t s² + 1 − ᾱ_t.",
        ),
        (
            -(x - r * m) / math.sqrt(var),
            "divide by the variance, not the standard deviation: "
            "log N(x; μ, v) = −(x − μ)²/(2v) + const, whose "
            "derivative is −(x − μ)/v.",
        ),
        (
            -(x - r * m) / (ab * s * s),
            "the noise is missing from the variance: Var q(x_t) = ᾱ_t s² + (1 − ᾱ_t).",
        ),
        (
            math.sqrt(1 - ab) * (x - r * m) / var,
            "that is ε*(x_t) = E[ε | x_t], the best ε-prediction; the score is −ε*/√(1 − ᾱ_t).",
        ),
    ]


def _check_noisy_gaussian_score(fn) -> str:
    g = torch.Generator().manual_seed(101)
    for ab, m, s in _CASES_10_1:
        x = torch.randn(7, 3, generator=g, dtype=torch.float64) * 1.3 + 0.2   # (7, 3) points x_t
        r = math.sqrt(ab)
        var = ab * s * s + 1 - ab                                             # Var q(x_t)
        want = -(x - r * m) / var
        got = call(fn, x, _scalar(ab), _scalar(m), _scalar(s),
                   what="noisy_gaussian_score(x_t, alpha_bar, m, s)")
        expect_shape(got, x.shape, "your score", like="x_t: one score per coordinate")
        if close(got, want, _RTOL, _ATOL):
            continue
        wrong = _noisy_score_slips(x, ab, m, s, r, var, want)
        name_slip(got, wrong, _RTOL, _ATOL)
        i = first_mismatch(got, want, _RTOL, _ATOL)
        raise Hint(
            f"with ᾱ_t = {ab}, m = {m}, s = {s} and x_t = {fmt(x.flatten()[i].item())} the "
            f"score is {fmt(want.flatten()[i].item())}, yours is {fmt(got.flatten()[i].item())}. "
            "q(x_t) = N(√ᾱ_t m, ᾱ_t s² + 1 − ᾱ_t): the score of N(μ, v) is −(x − μ)/v."
        )
    return ("∇ log q(x_t) = −(x_t − √ᾱ_t m)/(ᾱ_t s² + 1 − ᾱ_t): a straight line through the mean "
            "√ᾱ_t m, whose slope −1/Var flattens as t grows and q(x_t) widens towards N(0, 1).")


_SOLUTION_10_1 = '''
import torch

def noisy_gaussian_score(x_t, alpha_bar, m, s):
    """Score of q(x_t) = N(sqrt(alpha_bar) m, alpha_bar s^2 + 1 - alpha_bar), element by element."""
    mean = torch.sqrt(alpha_bar) * m                 # the signal shrinks by sqrt(alpha_bar)
    var = alpha_bar * s ** 2 + 1 - alpha_bar         # the data's spread plus the added noise
    return -(x_t - mean) / var                       # d/dx of -(x - mean)^2 / (2 var)
'''


# ---- 10.2 Tweedie's denoiser -------------------------------------------------------------------
_ALPHA_BARS_10_2 = (0.8, 0.25, 0.05)


def _check_tweedie(fn) -> str:
    g = torch.Generator().manual_seed(102)
    for ab in _ALPHA_BARS_10_2:
        x = torch.randn(4, 5, generator=g, dtype=torch.float64)               # (4, 5) x_t
        score = torch.randn(4, 5, generator=g, dtype=torch.float64) * 2       # (4, 5) ∇ log q(x_t)
        r = math.sqrt(ab)
        want = (x + (1 - ab) * score) / r
        got = call(fn, x, score, _scalar(ab), what="tweedie_x0(x_t, score, alpha_bar)")
        expect_shape(got, x.shape, "your x̂_0", like="x_t")
        if close(got, want, _RTOL, _ATOL):
            continue
        wrong = [
            (
                (x - (1 - ab) * score) / r,
                "the score enters with a plus sign: it points towards "
                "where the data is likely, and x̂_0 moves x_t that way. "
                "(It is ε̂ that is subtracted: ε̂ = −√(1−ᾱ_t)·score.)",
            ),
            (
                (x + math.sqrt(1 - ab) * score) / r,
                "you used the score where −ε̂ belongs. With "
                "ε̂ = −√(1−ᾱ_t)·score, x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t "
                "becomes (x_t + (1 − ᾱ_t)·score)/√ᾱ_t.",
            ),
            (
                (x - math.sqrt(1 - ab) * score) / r,
                "you used the score where ε̂ belongs: "
                "ε̂ = −√(1−ᾱ_t)·score, so the factor is +(1 − ᾱ_t).",
            ),
            ((x + (1 - ab) * score) / ab, "divide by √ᾱ_t, not ᾱ_t: x_t = √ᾱ_t x_0 + noise."),
            (
                x + (1 - ab) * score,
                "that is √ᾱ_t·E[x_0 | x_t], the denoised point still at the "
                "scale of x_t; divide by √ᾱ_t to undo the shrinking.",
            ),
            (
                (x + (1 - ab) * score) * r,
                "you multiplied by √ᾱ_t; x_t = √ᾱ_t x_0 + noise, so "
                "undo the shrinking by dividing by √ᾱ_t.",
            ),
            ((x + ab * score) / r, "the factor is the noise variance 1 − ᾱ_t, not ᾱ_t."),
            (x + (1 - ab) * score / r, "only x_t + (1 − ᾱ_t)·score as a whole is divided by √ᾱ_t."),
        ]
        name_slip(got, wrong, _RTOL, _ATOL)
        i = first_mismatch(got, want, _RTOL, _ATOL)
        raise Hint(
            f"with ᾱ_t = {ab}, x_t = {fmt(x.flatten()[i].item())} and score "
            f"{fmt(score.flatten()[i].item())}, E[x_0 | x_t] = {fmt(want.flatten()[i].item())}, "
            f"yours is {fmt(got.flatten()[i].item())}. Tweedie: "
            "E[x_0 | x_t] = (x_t + (1 − ᾱ_t)·∇ log q(x_t))/√ᾱ_t."
        )
    return (
        "E[x_0 | x_t] = (x_t + (1 − ᾱ_t)·score)/√ᾱ_t: one step up the score, as long as the noise "
        "variance, then undo the shrinking. With score = −ε̂/√(1−ᾱ_t) this is predict_x0_from_eps."
    )


_SOLUTION_10_2 = '''
import torch

def tweedie_x0(x_t, score, alpha_bar):
    """Tweedie's formula: E[x_0 | x_t] from the score of q(x_t)."""
    # E[sqrt(alpha_bar) x_0 | x_t]: a step of size "noise variance" along the score
    denoised = x_t + (1 - alpha_bar) * score
    return denoised / torch.sqrt(alpha_bar)          # undo the shrinking of the signal
'''


# ---- 10.3 predict, then measure: where the learned score field is worst --------------------------
def _check_worst_t(answer, ts, errors) -> str:
    got = as_number(answer, "your prediction")
    try:
        ts = [int(t) for t in ts]
        errs = [measurement(e, "errors") for e in errors]
    except (TypeError, ValueError):
        raise Hint("pass the steps and their measured errors as ts=FIELD_TS, errors=errors (two "
                   "lists of the same length).") from None
    if len(ts) != len(errs) or not ts:
        raise Hint(f"ts has {len(ts)} steps but errors has {len(errs)} values: pass ts=FIELD_TS, "
                   "errors=errors.")
    worst = ts[max(range(len(ts)), key=errs.__getitem__)]
    best = ts[min(range(len(ts)), key=errs.__getitem__)]
    said = (f"The measurement: the relative error is {max(errs):.3f} at t = {worst} and "
            f"{min(errs):.3f} at t = {best}. At large t the blobs have melted into one broad "
            "Gaussian whose score is a plain linear pull to the middle, easy for any network; at "
            "small t the field is sharp near the data and turns over short distances (it grows "
            "like 1/√(1 − ᾱ_t)), and a short training run has not learnt that detail yet.")
    if got not in ts:
        raise Hint(f"choose one of the steps measured: {', '.join(map(str, ts))}; {fmt(got)} is "
                   "not among them.")
    if got == worst:
        return f"you predicted t = {int(got)}. {said}"
    if got == max(ts):
        raise Hint(f"you predicted t = {int(got)}, the noisiest step, as if more noise made the "
                   f"field harder to learn. It is the other way round. {said}")
    raise Hint(f"you predicted t = {int(got)}. {said}")


_SOLUTION_10_3 = """
# Near the data, at the smallest t, the score is sharp and turns over short distances; at large
# t q(x_t) is almost one Gaussian and its score a linear pull, which the MLP learns first.
answer = 2
"""


# ---- 10.4 one Euler step of the probability-flow ODE ---------------------------------------------
_PAIRS_10_4 = ((0.2, 0.6), (0.01, 0.1), (0.9, 0.97))  # (ᾱ_t, ᾱ_s), s < t so ᾱ_s > ᾱ_t


def _ddim_eta0(x, eps, ab_t, ab_s) -> torch.Tensor:
    """The library's DDIM update with η = 0 (no clipping) on a two-step schedule with these ᾱ."""
    from ..reverse import ddim_step
    from ..schedules import schedule_from_betas

    betas = torch.tensor([1 - ab_s, 1 - ab_t / ab_s], dtype=torch.float64)  # ᾱ_1 = ab_s, ᾱ_2 = ab_t
    schedule = schedule_from_betas(betas)
    n = x.shape[0]
    t = torch.full((n,), 2, dtype=torch.long)
    x_prev, _ = ddim_step(schedule, x, eps, t, t - 1, eta=0.0, clip_x0=False)
    return x_prev


def _check_ode_euler_step(fn) -> str:
    g = torch.Generator().manual_seed(103)
    for ab_t, ab_s in _PAIRS_10_4:
        x = torch.randn(6, 2, generator=g, dtype=torch.float64)               # (6, 2) x_t
        eps = torch.randn(6, 2, generator=g, dtype=torch.float64)             # (6, 2) ε̂(x_t, t)
        want = _ddim_eta0(x, eps, ab_t, ab_s)
        got = call(fn, x, eps, _scalar(ab_t), _scalar(ab_s),
                   what="ode_euler_step(x_t, eps, alpha_bar_t, alpha_bar_s)")
        expect_shape(got, x.shape, "your x_s", like="x_t")
        if close(got, want, _RTOL, _ATOL):
            continue
        rt, rs = math.sqrt(ab_t), math.sqrt(ab_s)
        sig_t, sig_s = math.sqrt((1 - ab_t) / ab_t), math.sqrt((1 - ab_s) / ab_s)
        wrong = [
            (
                rs * (x / rt + (sig_t - sig_s) * eps),
                "the step goes the wrong way: σ decreases "
                "towards the data, so σ_s − σ_t < 0 multiplies ε̂.",
            ),
            (
                x / rt + (sig_s - sig_t) * eps,
                "that is x̄_s = x_s/√ᾱ_s; multiply by √ᾱ_s to return to the variables of x_s.",
            ),
            (
                x + (sig_s - sig_t) * eps,
                "you stepped in x, not in x̄ = x/√ᾱ: divide x_t by √ᾱ_t "
                "first, take the step, then multiply by √ᾱ_s.",
            ),
            (
                rs * (x / rt + ((1 - ab_s) / ab_s - (1 - ab_t) / ab_t) * eps),
                "you used σ² (the variance) where σ belongs: σ_t = √((1 − ᾱ_t)/ᾱ_t).",
            ),
            (
                rs * (x / rt + (math.sqrt(1 - ab_s) - math.sqrt(1 - ab_t)) * eps),
                "√(1 − ᾱ) is the noise level of x_t; x̄ = x_t/√ᾱ_t has noise level "
                "σ_t = √((1 − ᾱ_t)/ᾱ_t).",
            ),
            (
                rs / rt * x + (math.sqrt(1 - ab_s) - math.sqrt(1 - ab_t)) * eps,
                "√(1 − ᾱ) is the noise level of x_t; x̄ = x_t/√ᾱ_t has noise level "
                "σ_t = √((1 − ᾱ_t)/ᾱ_t), and the step is taken in x̄.",
            ),
        ]
        name_slip(got, wrong, _RTOL, _ATOL)
        i = first_mismatch(got, want, _RTOL, _ATOL)
        raise Hint(f"with ᾱ_t = {ab_t}, ᾱ_s = {ab_s}, x_t = {fmt(x.flatten()[i].item())} and "
                   f"ε̂ = {fmt(eps.flatten()[i].item())}, x_s = {fmt(want.flatten()[i].item())}, "
                   f"yours is {fmt(got.flatten()[i].item())}. x̄ = x/√ᾱ, σ = √((1−ᾱ)/ᾱ), "
                   "x̄_s = x̄_t + (σ_s − σ_t)·ε̂, x_s = √ᾱ_s·x̄_s.")
    return ("x_s = √ᾱ_s (x_t/√ᾱ_t + (σ_s − σ_t) ε̂) = √ᾱ_s x̂_0 + √(1 − ᾱ_s) ε̂: the same number as "
            "DDIM's η = 0 update (checked against ddpm_edu's ddim_step).")


_SOLUTION_10_4 = '''
import torch

def ode_euler_step(x_t, eps, alpha_bar_t, alpha_bar_s):
    """One Euler step of dx̄/dσ = ε̂ from σ_t to σ_s, in x̄ = x/sqrt(ᾱ), σ = sqrt((1-ᾱ)/ᾱ)."""
    sigma_t = torch.sqrt((1 - alpha_bar_t) / alpha_bar_t)
    sigma_s = torch.sqrt((1 - alpha_bar_s) / alpha_bar_s)
    x_bar = x_t / torch.sqrt(alpha_bar_t)            # to the "variance exploding" variables
    x_bar_s = x_bar + (sigma_s - sigma_t) * eps      # Euler: dx̄ = ε̂ dσ, and σ_s < σ_t
    return torch.sqrt(alpha_bar_s) * x_bar_s         # back to x_s
'''


EXERCISES = {
    "10.1": Exercise("10.1", "the score of a noisy Gaussian", "noisy_gaussian_score",
                     _check_noisy_gaussian_score, _SOLUTION_10_1),
    "10.2": Exercise("10.2", "Tweedie's denoiser from a score", "tweedie_x0", _check_tweedie,
                     _SOLUTION_10_2),
    "10.3": Exercise("10.3", "predict, then measure: where the learned score field is worst",
                     "answer", _check_worst_t, _SOLUTION_10_3, measured=("ts", "errors")),
    "10.4": Exercise("10.4", "one Euler step of the probability-flow ODE", "ode_euler_step",
                     _check_ode_euler_step, _SOLUTION_10_4),
}
