"""Chapter 5 (what the network predicts: ε, x_0 or μ): the ε̂ implied by a predicted mean μ (the
inverse of DDPM's eq. 11), a prediction of how "fixed large" variances change the ε-weight w_2
(compared with the chapter's measurement), and the L_vlb weight of an x_0-predicting network.

The right answers come from the library (:func:`ddpm_edu.training.loss_weights`,
:func:`ddpm_edu.forward.predict_x0_from_mean` followed by
:func:`ddpm_edu.forward.predict_eps_from_x0`). A wrong answer is compared with the usual slips:
√α_t forgotten, ᾱ_t in place of α_t, x̂_0 returned in place of ε̂, a ratio upside down or of
standard deviations, the ½ of the KL dropped, a coefficient not squared, c2 in place of c1,
√ᾱ_t in place of √ᾱ_{t−1}.
"""
from __future__ import annotations

import math

import torch

from ..forward import predict_eps_from_x0, predict_x0_from_mean
from ..schedules import cosine_schedule, linear_schedule
from ..training import loss_weights
from ._core import (Exercise, Hint, as_number, call, close, expect_shape, first_mismatch, fmt,
                    measurement, name_slip, near)

__all__ = ["EXERCISES"]

_RTOL, _ATOL = 1e-3, 1e-12  # forgiving in relative terms: float32 arithmetic and 4 digits pass


# ---- 5.1 ε̂ from a predicted mean μ --------------------------------------------------------------
def _mu_inputs():
    """x_t, μ, t and the per-example coefficients (α_t, ᾱ_t, β_t) as [N, 1] columns, float64."""
    g = torch.Generator().manual_seed(5)
    s = linear_schedule(1000)
    t = torch.tensor([2, 7, 40, 150, 400, 700, 999, 1000])
    xt = torch.randn(8, 6, generator=g, dtype=torch.float64)                     # (N, D)
    x0 = torch.rand(8, 6, generator=g, dtype=torch.float64) * 2 - 1
    c1, c2 = s.posterior_mean_coef1[t][:, None], s.posterior_mean_coef2[t][:, None]
    mu = c1 * x0 + c2 * xt  # a plausible mean
    cols = tuple(
        table[t][:, None].clone() for table in (s.alpha, s.alpha_bar, s.beta)
    )  # each (N, 1)
    return s, t, xt, mu, cols


def _check_eps_from_mu(fn) -> str:
    s, t, xt, mu, (alpha, ab, beta) = _mu_inputs()
    want = predict_eps_from_x0(s, xt, t, predict_x0_from_mean(s, xt, t, mu))  # (N, D)
    got = call(
        fn, xt, mu, alpha, ab, beta, what="eps_from_mu(xt, mu, alpha_t, alpha_bar_t, beta_t)"
    )
    expect_shape(got, want.shape, "your ε̂", like="xt")
    if close(got, want, 1e-3, 1e-6):
        return (
            "ε̂ = √(1 − ᾱ_t)(x_t − √α_t μ)/β_t: eq. 11 solved for ε. A sampler can run DDIM on a "
            "μ-predicting network this way (ddpm_edu does, through x̂_0)."
        )
    om = (1 - ab).sqrt()
    x0_hat = predict_x0_from_mean(s, xt, t, mu)
    wrong = [
        (
            om * (xt - mu) / beta,
            "√α_t is missing: eq. 11 says √α_t μ = x_t − β_t/√(1 − ᾱ_t) ε, so "
            "ε = √(1 − ᾱ_t)(x_t − √α_t μ)/β_t.",
        ),
        (
            -want,
            "the sign is flipped: ε = √(1 − ᾱ_t)(x_t − √α_t μ)/β_t (x_t minus the scaled mean).",
        ),
        (
            om * (xt - ab.sqrt() * mu) / beta,
            "you used ᾱ_t where α_t belongs: one step back from x_t "
            "scales by √α_t = √(1 − β_t), not √ᾱ_t.",
        ),
        (
            (xt - alpha.sqrt() * mu) / (beta * om),
            "√(1 − ᾱ_t) belongs in the numerator: ε = √(1 − ᾱ_t)(x_t − √α_t μ)/β_t.",
        ),
        (
            (xt - alpha.sqrt() * mu) / beta,
            "the factor √(1 − ᾱ_t) is missing: ε = √(1 − ᾱ_t)(x_t − √α_t μ)/β_t.",
        ),
        (
            om * (xt - alpha.sqrt() * mu) / beta.sqrt(),
            "divide by β_t, not √β_t: eq. 11 has β_t/√(1 − ᾱ_t) in front of ε.",
        ),
        (x0_hat, "that is x̂_0, the clean image the mean implies; the question asks for ε̂."),
    ]
    name_slip(got, wrong, 1e-3, 1e-6)
    bad = ~torch.isclose(got, want, rtol=1e-3, atol=1e-6)
    i = int(bad.any(dim=1).nonzero()[0])
    raise Hint(f"at t = {int(t[i])} your ε̂ differs from √(1 − ᾱ_t)(x_t − √α_t μ)/β_t (first row "
               f"that differs: element 0 should be {fmt(want[i, 0].item())}, yours is "
               f"{fmt(got[i, 0].item())}). Start from μ = (x_t − β_t/√(1 − ᾱ_t) ε)/√α_t and solve "
               "for ε.")


_SOLUTION_5_1 = '''
def eps_from_mu(xt, mu, alpha, alpha_bar, beta):
    """ε̂ implied by a predicted mean μ: DDPM eq. 11, μ = (x_t − β_t/√(1−ᾱ_t) ε)/√α_t,
    solved for ε."""
    return (1 - alpha_bar).sqrt() * (xt - alpha.sqrt() * mu) / beta
'''


# ---- 5.2 predict, then measure: w_2 with "fixed large" σ_t² = β_t, relative to "fixed small" -----
def _check_fixed_large_ratio(answer, measured) -> str:
    got = as_number(answer, "your predicted ratio")
    ratio = measurement(measured)
    if ratio <= 0:
        raise Hint(f"the measurement you passed is {fmt(ratio)}; a ratio of two weights is "
                   "positive. Pass the ratio that the cell above printed for t = 2.")
    said = (f"The measurement: w_2(fixed large)/w_2(fixed small) = {ratio:.4f}. σ_t² enters "
            "w_t = β_t²/(2σ_t² α_t (1 − ᾱ_t)) only through 1/σ_t², so the ratio is β̃_2/β_2 = "
            "(1 − ᾱ_1)/(1 − ᾱ_2) ≈ β_1/(β_1 + β_2), about ½: at t = 2 the posterior, which knows "
            "x_0, has about half the variance of the forward step. By t = 1000 the ratio is 1.")
    if near(got, ratio, 0.1):
        return f"you predicted {fmt(got)}. {said}"
    slips = [
        (1 / ratio, f"you predicted {fmt(got)}, the ratio upside down: the larger variance "
                    "β_2 > β̃_2 divides, so it makes the weight smaller. "),
        (math.sqrt(ratio), f"you predicted {fmt(got)}, the ratio of the standard deviations: w_t "
                           "divides by the variance σ_t², not by σ_t. "),
        (1.0, "you predicted no change, as if β̃_t ≈ β_t everywhere: true at large t, but not at "
              "t = 2, where 1 − ᾱ_1 = β_1 is about half of 1 − ᾱ_2. "),
    ]
    name_slip(got, [(v, h + said) for v, h in slips], same=lambda a, b: near(a, b, 0.05))
    if got <= 0:
        raise Hint(f"a ratio of two positive weights is positive; you predicted {fmt(got)}. {said}")
    raise Hint(f"you predicted {fmt(got)}. {said}")


_SOLUTION_5_2 = """
# w_t = β_t² / (2 σ_t² α_t (1 - ᾱ_t)): only σ_t² changes, so the ratio is β̃_2 / β_2
#     = (1 - ᾱ_1) / (1 - ᾱ_2) = β_1 / (1 - (1 - β_1)(1 - β_2)) ≈ β_1 / (β_1 + β_2)
beta_1, beta_2 = 1e-4, 1e-4 + (0.02 - 1e-4) / 999
answer = beta_1 / (1 - (1 - beta_1) * (1 - beta_2))        # 0.4547
"""


# ---- 5.3 the L_vlb weight of an x_0-predicting network -------------------------------------------
_STEPS = (2, 3, 10, 100, 500, 999, 1000)


def _x0_inputs():
    """(β_t, ᾱ_t, ᾱ_{t−1}) at some steps t ≥ 2 of the linear and cosine schedules, and the library's
    x_0 weights λ_t = c1_t²/(2β̃_t) there (float64, (14,))."""
    cols, want = [[], [], []], []
    t = torch.tensor(_STEPS)
    for s in (linear_schedule(1000), cosine_schedule(1000)):
        for col, table in zip(cols, (s.beta, s.alpha_bar, s.alpha_bar_prev)):
            col.append(table[t].clone())
        want.append(loss_weights(s, "x0", "vlb")[t])
    return tuple(torch.cat(c) for c in cols), torch.cat(want)


def _check_x0_weight(fn) -> str:
    (beta, ab, ab_prev), want = _x0_inputs()
    got = call(fn, beta, ab, ab_prev, what="x0_weight(beta_t, alpha_bar_t, alpha_bar_prev)")
    expect_shape(got, want.shape, "your weights", like="the inputs: one weight per step")
    if close(got, want, _RTOL, _ATOL):
        return (
            "λ_t = c1_t²/(2β̃_t) = β_t ᾱ_{t−1}/(2(1 − ᾱ_t)(1 − ᾱ_{t−1})): about 2700 at t = 2 and "
            "4e-7 at t = 1000 (linear schedule). An x̂_0 error costs the bound ten orders of "
            "magnitude more at small t than at large t."
        )
    alpha = ab / ab_prev
    c1 = beta * ab_prev.sqrt() / (1 - ab)
    c2 = (1 - ab_prev) * alpha.sqrt() / (1 - ab)
    bt = beta * (1 - ab_prev) / (1 - ab)
    wrong = [
        (
            c1 / (2 * bt),
            "c1_t is not squared: μ̃ − μ_θ = c1_t (x_0 − x̂_0), so the squared mean error "
            "is c1_t² (x_0 − x̂_0)².",
        ),
        (
            c1**2 / bt,
            "you dropped the 2: the KL of two Gaussians with the same variance σ_t² is "
            "(μ̃ − μ_θ)²/(2σ_t²).",
        ),
        (
            c2**2 / (2 * bt),
            "you used c2_t, the coefficient of x_t. The network's error is in x̂_0, "
            "which enters the mean through c1_t = β_t √ᾱ_{t−1}/(1 − ᾱ_t).",
        ),
        (
            c1**2 / (2 * beta),
            "that is the weight with σ_t² = β_t (fixed large); this exercise uses "
            "σ_t² = β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t).",
        ),
        (
            (beta * ab.sqrt() / (1 - ab)) ** 2 / (2 * bt),
            "c1_t has √ᾱ_{t−1} (the previous step), not √ᾱ_t: c1_t = β_t √ᾱ_{t−1}/(1 − ᾱ_t).",
        ),
        (
            beta**2 / (2 * bt * alpha * (1 - ab)),
            "that is the weight of an ε-predicting network. For "
            "x̂_0, μ̃ − μ_θ = c1_t (x_0 − x̂_0): λ_t = c1_t²/(2β̃_t).",
        ),
        (
            1 / (2 * bt),
            "that is the weight of a network that predicts μ itself. For x̂_0 the mean error "
            "is c1_t (x_0 − x̂_0), so multiply by c1_t².",
        ),
        (c1**2 / (2 * bt.sqrt()), "β̃_t is already a variance: divide by 2β̃_t, not by 2√β̃_t."),
    ]
    name_slip(got, wrong, _RTOL, _ATOL)
    i = first_mismatch(got, want, _RTOL, _ATOL)
    where = "linear" if i < len(_STEPS) else "cosine"
    raise Hint(f"at t = {_STEPS[i % len(_STEPS)]} of the {where} schedule the weight is "
               f"{fmt(want[i].item())}, yours is {fmt(got[i].item())}. λ_t = c1_t²/(2β̃_t) with "
               "c1_t = β_t √ᾱ_{t−1}/(1 − ᾱ_t) and β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t).")


_SOLUTION_5_3 = '''
def x0_weight(beta, alpha_bar, alpha_bar_prev):
    """λ_t with L_{t-1} = λ_t · mean((x_0 - x̂_0)²) for σ_t² = β̃_t (fixed small), t ≥ 2."""
    c1 = beta * alpha_bar_prev.sqrt() / (1 - alpha_bar)              # coefficient of x_0 in μ̃_t
    beta_tilde = beta * (1 - alpha_bar_prev) / (1 - alpha_bar)        # σ_t²
    return c1 ** 2 / (2 * beta_tilde)
'''


EXERCISES = {
    "5.1": Exercise("5.1", "ε̂ from a predicted mean μ", "eps_from_mu", _check_eps_from_mu,
                    _SOLUTION_5_1),
    "5.2": Exercise("5.2", "predict, then measure: w_2 with σ_t² = β_t against σ_t² = β̃_t",
                    "answer", _check_fixed_large_ratio, _SOLUTION_5_2, measured=("measured",)),
    "5.3": Exercise("5.3", "the L_vlb weight of an x_0-predicting network", "x0_weight",
                    _check_x0_weight, _SOLUTION_5_3),
}
