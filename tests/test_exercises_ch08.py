"""Chapter 8's exercise checks (DDIM): each accepts right answers in the forms a learner may write
them and rejects the typical wrong ones with the hint that names the mistake.

The right answers are recomputed here independently of the library: σ from DDPM's posterior
variance β̃ (σ(η)² = η² β̃ for adjacent steps, and for a jump the β̃ of the jump, built from plain
Python floats), and β' from the requirement that the respaced ᾱ' be the original ᾱ at the kept
steps (a cumulative product of 1 − β' must reproduce it)."""
import math

import numpy as np
import pytest
import torch

from ddpm_edu import linear_schedule
from ddpm_edu.exercises import exercise
from exercise_helpers import right as _right, wrong as _wrong


# ---- 8.1 σ_t(η) ----------------------------------------------------------------------------------
def test_8_1_oracle_adjacent_steps_give_ddpm_posterior_variance():
    """Independent oracle: for adjacent steps σ(1)² is DDPM's β̃_t = β_t (1 − ᾱ_{t−1})/(1 − ᾱ_t)."""
    betas = [1e-4 + (0.02 - 1e-4) * i / 999 for i in range(1000)]
    ab = [1.0]
    for b in betas:
        ab.append(ab[-1] * (1 - b))
    ns = {}
    exec(exercise("8.1").solution, ns)
    for t in (2, 10, 500, 1000):
        beta_tilde = betas[t - 1] * (1 - ab[t - 1]) / (1 - ab[t])
        sigma = ns["ddim_sigma"](torch.tensor([ab[t]], dtype=torch.float64),
                                 torch.tensor([ab[t - 1]], dtype=torch.float64), 1.0)
        assert abs(sigma.item() ** 2 - beta_tilde) < 1e-12 * max(1.0, beta_tilde) + 1e-15
    assert (
        abs(math.sqrt(betas[1] * (1 - ab[1]) / (1 - ab[2])) - 7.3846e-3) < 1e-6
    )  # math-reference σ


def _sigma(a, p, e):
    return e * torch.sqrt((1 - p) / (1 - a) * (1 - a / p))


@pytest.mark.parametrize(
    "fn",
    [
        _sigma,
        lambda a, p, e: e * ((1 - p) / (1 - a)).sqrt() * (1 - a / p).sqrt(),
        lambda a, p, e: (
            e * np.sqrt((1 - p.numpy()) / (1 - a.numpy()) * (1 - a.numpy() / p.numpy()))
        ),
        lambda a, p, e: _sigma(a, p, e).float(),  # float32 arithmetic
        lambda a, p, e: torch.sqrt(
            e**2 * (1 - p) / (1 - a) * (1 - a / p)
        ),  # η inside the root, squared
    ],
)
def test_8_1_accepts(fn):
    _right("8.1", fn)


@pytest.mark.parametrize(
    "fn, fragment",
    [
        (lambda a, p, e: _sigma(a, p, e) ** 2, "that is σ², the variance"),
        (lambda a, p, e: e * _sigma(a, p, e), "squared η once too often"),
        (lambda a, p, e: math.sqrt(e) * _sigma(a, p, 1.0), "under the square root"),
        (lambda a, p, e: _sigma(a, p, 1.0), "does not change with η"),
        (lambda a, p, e: e * torch.sqrt((1 - a) / (1 - p) * (1 - a / p)), "upside down"),
        (lambda a, p, e: e * torch.sqrt(1 - a / p), "'fixed large'"),
        (lambda a, p, e: e * torch.sqrt(1 - p), "1 − ᾱ_t/ᾱ_prev belongs"),
        (lambda a, p, e: e * torch.sqrt((1 - p) / (1 - a)), "is missing"),
        (lambda a, p, e: e * (1 - p) / (1 - a) * (1 - a / p), "that is σ², the variance"),
        (lambda a, p, e: (_sigma(a, p, e)).sum(), "one number for 8 pairs"),
        (lambda a, p, e: _sigma(a, p, e)[:4], "shape (4,)"),
        (lambda a, p, e: e * torch.sqrt(1 - p / a), "nan"),  # ratio inverted: √ of a negative
        (lambda a, p, e: math.sqrt(float(1 - a[0])), "one number"),
        (lambda a, p, e: 1.1 * _sigma(a, p, e), "σ = η·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1 − ᾱ_t/ᾱ_prev)"),
    ],
)
def test_8_1_names_the_mistake(fn, fragment):
    _wrong("8.1", fn, fragment)


def test_8_1_eta_zero_must_give_zero():
    """A σ that is right for η = 1 and 0.5 but not 0
    (a floor added for safety) is caught at η = 0."""
    _wrong("8.1", lambda a, p, e: _sigma(a, p, e) + (1e-3 if e == 0 else 0.0), "η = 0")


def test_8_1_math_sqrt_on_a_tensor_is_a_hint_that_names_torch_sqrt():
    v = _wrong("8.1", lambda a, p, e: math.sqrt(1 - a), "ValueError", "use torch.sqrt")
    assert "Traceback" not in v.message


# ---- 8.2 β' of a respaced schedule ---------------------------------------------------------------
def _betas(ab, kept):
    prev = torch.cat([torch.zeros(1, dtype=torch.long), kept[:-1]])
    return 1 - ab[kept] / ab[prev]


def test_8_2_oracle_cumprod_reproduces_the_kept_alpha_bar():
    """β' is right iff ∏_{j≤k}(1 − β'_j) = ᾱ_τk: the
    defining property, no library respace involved."""
    ab = linear_schedule(1000).alpha_bar
    kept = torch.tensor([10, 50, 200, 600, 1000])
    b = _betas(ab, kept)
    torch.testing.assert_close(torch.cumprod(1 - b, 0), ab[kept])
    assert ((b > 0) & (b < 1)).all()


@pytest.mark.parametrize(
    "fn",
    [
        _betas,
        lambda ab, k: 1 - ab[k] / torch.cat([ab[:1], ab[k[:-1]]]),  # ᾱ_0 = 1 taken from the table
        lambda ab, k: (1 - ab[k] / ab[torch.cat([torch.tensor([0]), k[:-1]])]).float(),
        lambda ab, k: [
            1 - ab[k[i]].item() / (ab[k[i - 1]].item() if i else 1.0) for i in range(len(k))
        ],
        lambda ab, k: (
            -torch.expm1(torch.diff(torch.log(ab[k]), prepend=torch.zeros(1, dtype=ab.dtype)))
        ),
    ],
)
def test_8_2_accepts(fn):
    _right("8.2", fn)


@pytest.mark.parametrize("fn, fragment", [
    (lambda ab, k: 1 - ab[k] / ab[k - 1], "original β_τ at the kept steps"),
    (lambda ab, k: 1 - ab[k] / ab[torch.cat([k[:1], k[:-1]])], "β'_1 = 1 − ᾱ_τ1"),
    (lambda ab, k: 1 - ab[k[1:]] / ab[k[:-1]], "first respaced step goes from τ_0 = 0"),
    (lambda ab, k: torch.cat([torch.zeros(1, dtype=ab.dtype), _betas(ab, k)]), "S + 1"),
    (lambda ab, k: 1 - _betas(ab, k).new_ones(1) / (1 - _betas(ab, k)), "upside down"),
    (lambda ab, k: ab[torch.cat([torch.tensor([0]), k[:-1]])] - ab[k], "difference"),
    (lambda ab, k: ab[k], "respaced ᾱ'_k"),
    (lambda ab, k: 1 - ab[k], "noise accumulated from the data"),
    (lambda ab, k: 1 - _betas(ab, k), "that is α'_k"),
    (lambda ab, k: _betas(ab, k) * 1.05, "should be"),
    (lambda ab, k: _betas(ab, k)[:2], "shape (2,)"),
])
def test_8_2_names_the_mistake(fn, fragment):
    _wrong("8.2", fn, fragment)


def test_8_1_other_exceptions_are_reported_plainly():
    v = _wrong("8.1", lambda a, p, e: a + "x", "TypeError")
    assert "torch.sqrt" not in v.message


# ---- 8.3 predict, then measure: η = 1, same x_T, two seeds ---------------------------------------
@pytest.mark.parametrize("answer, measured", [(240, 249.0), (200, 249.0), (255, 249.0),
                                              (torch.tensor(230.0), 253.0), (150, 200.0)])
def test_8_3_accepts_a_prediction_near_the_measurement(answer, measured):
    v = _right("8.3", answer, measured={"measured": measured})
    assert f"at least {measured:.0f} of the 255 grey levels" in v.message


@pytest.mark.parametrize("answer, fragment", [
    (5, "holds for η = 0"),                  # the intuition: x_T fixes the digit
    (0, "holds for η = 0"),
    (1.9, "model range"),
    (100, "too little"),
    (300, "between 0 and 255"),
    (-3, "between 0 and 255"),
])
def test_8_3_names_the_slip_and_quotes_the_measurement(answer, fragment):
    v = _wrong("8.3", answer, fragment)
    assert "at least 249 of the 255 grey levels" in v.message and "β̃'" in v.message


def test_8_3_a_measurement_that_is_not_grey_levels_gets_a_hint():
    _wrong("8.3", 240, "not a difference of grey levels", measured={"measured": 1000.0})
