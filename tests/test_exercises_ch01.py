"""Chapter 1's exercise checks (forward noising): each accepts right answers in the forms a learner
may give them and rejects the typical wrong ones with the hint that names the mistake. What every
check shares (solutions, placeholders, junk, wrong types) is tested in tests/test_exercises.py."""
import math

import numpy as np
import pytest
import torch

from exercise_helpers import right as _right, wrong as _wrong


# ---- 1.1 one forward step ------------------------------------------------------------------------
def test_1_1_accepts_right_answers_in_several_styles():
    _right("1.1", lambda x, b, z: torch.sqrt(1 - b) * x + torch.sqrt(b) * z)
    _right("1.1", lambda x, b, z: math.sqrt(1 - b) * x + math.sqrt(b) * z)
    _right("1.1", lambda x, b, z: ((1 - b) ** 0.5 * x + b ** 0.5 * z).float())  # float32 result
    _right(
        "1.1", lambda x, b, z: np.sqrt(1 - b.numpy()) * x.numpy() + np.sqrt(b.numpy()) * z.numpy()
    )


@pytest.mark.parametrize("fn, fragment", [
    (lambda x, b, z: (1 - b).sqrt() * x + b * z, "did you use β_t instead of √β_t"),
    (lambda x, b, z: (1 - b) * x + b.sqrt() * z, "scaled by 1 − β_t instead of √(1−β_t)"),
    (lambda x, b, z: (1 - b) * x + b * z, "used the variances"),
    (lambda x, b, z: x + b.sqrt() * z, "without shrinking"),
    (lambda x, b, z: (1 - b).sqrt() * x, "no noise"),
    (lambda x, b, z: b.sqrt() * x + (1 - b).sqrt() * z, "swapped"),
    (lambda x, b, z: (1 - b).sqrt() * x - b.sqrt() * z, "minus sign"),
    (lambda x, b, z: (1 - b).sqrt() * x + z, "unscaled"),
    (lambda x, b, z: (1 - b).sqrt() * x + b.sqrt() * torch.randn_like(z), "don't draw fresh noise"),
    (lambda x, b, z: 0.5 * x + 0.2 * z, "your x_t = 0.5·x_{t−1} + 0.2·ε"),
    (lambda x, b, z: (1 - b).sqrt() * x[0] + b.sqrt() * z[0], "shape"),
])
def test_1_1_names_the_mistake(fn, fragment):
    _wrong("1.1", fn, fragment)


# ---- 1.2 ᾱ from β --------------------------------------------------------------------------------
def test_1_2_accepts_right_answers():
    _right("1.2", lambda b: torch.cumprod(1 - b, 0))
    _right("1.2", lambda b: np.cumprod(1 - b.numpy()))
    _right("1.2", lambda b: torch.exp(torch.cumsum(torch.log1p(-b), 0)).float())
    _right("1.2", lambda b: [float(v) for v in torch.cumprod(1 - b, 0)])


@pytest.mark.parametrize(
    "fn, fragment",
    [
        (lambda b: torch.cumprod(b, 0), "you multiplied the β_s"),
        (lambda b: torch.cumprod(1 - b, 0).sqrt(), "that is √ᾱ_t"),
        (lambda b: 1 - torch.cumsum(b, 0), "first-order approximation"),
        (lambda b: torch.cumsum(1 - b, 0), "you added the α_s"),
        (lambda b: 1 - b, "that is α_t"),
        (
            lambda b: torch.cat([torch.ones(1, dtype=b.dtype), torch.cumprod(1 - b, 0)[:-1]]),
            "off by one",
        ),
        (lambda b: torch.cat([torch.ones(1, dtype=b.dtype), torch.cumprod(1 - b, 0)]), "T + 1"),
        (lambda b: torch.prod(1 - b), "one number, ᾱ_T"),
        (lambda b: 1 - torch.cumprod(1 - b, 0), "1 − ᾱ_t"),
        (lambda b: torch.cumprod(1 - b, 0) * 1.01, "should be 0.95 but yours is 0.9595"),
    ],
)
def test_1_2_names_the_mistake(fn, fragment):
    _wrong("1.2", fn, fragment)


def test_1_2_in_place_edits_of_the_input_do_not_fool_the_check():
    def sneaky(b):
        b.mul_(0)  # destroys the caller's betas; the check passes a copy
        return torch.ones_like(b)
    _wrong("1.2", sneaky)


# ---- 1.3 predict, then measure: the chain without its shrink factor ------------------------------
@pytest.mark.parametrize("answer", [10.05, 10, 9, 11.5, torch.tensor(10.0)])
def test_1_3_accepts_a_prediction_near_the_measurement(answer):
    v = _right("1.3", answer)
    assert "Var(x_T) = 10.12" in v.message and "Σ β_t = 10.05" in v.message


@pytest.mark.parametrize("answer, fragment", [
    (1, "variance-preserving"),          # the intuition of section 1, without the shrink it needs
    (3.17, "standard deviation"),
    (94.7, "added the standard deviations"),
    (8968, "squared the sum"),
    (20, "largest β_T"),
    (1000, "not 1"),
    (5, "too little"),
    (30, "too much"),
])
def test_1_3_names_the_slip_and_quotes_the_measurement(answer, fragment):
    v = _wrong("1.3", answer, fragment)
    assert "Var(x_T) = 10.12" in v.message


def test_1_3_a_negative_measurement_gets_a_hint():
    _wrong("1.3", 10, "a variance is positive", measured={"measured": -1})


def test_1_3_the_solution_is_the_sum_of_the_betas_and_the_chain_agrees():
    """The solution's prediction against an independent Monte Carlo of the shrink-free chain."""
    from ddpm_edu import linear_schedule
    beta = linear_schedule(1000).beta[1:]
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(20_000, dtype=torch.float64)
    for b in beta.tolist():
        x += b ** 0.5 * torch.randn(x.shape, generator=g, dtype=torch.float64)
    assert abs(x.var().item() - 10.05) < 0.4


# ---- 1.4 where SNR crosses 1 ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "answer", [260, 260.0, torch.tensor(260), np.int64(260), torch.tensor([260])]
)
def test_1_4_accepts(answer):
    _right("1.4", answer)


@pytest.mark.parametrize("answer, fragment", [
    (259, "one step too early"), (261, "one step too late"), (369, "√ᾱ_t < ½"),
    (497, "cosine"), (84, "ending at 0.2"), (685, "geometric"), (0.97, "a whole number"),
    (5000, "a whole number"), (100, "too early"), (900, "too late"), ([259, 260], "single number"),
])
def test_1_4_names_the_mistake(answer, fragment):
    _wrong("1.4", answer, fragment)


def test_1_4_pinned_value_against_the_schedule():
    from ddpm_edu import linear_schedule
    s = linear_schedule(1000)
    # independent oracle: ᾱ_t < ½ ⇔ SNR < 1; ᾱ from a Python loop over β
    ab, t = 1.0, 0
    for t in range(1, 1001):
        ab *= 1 - (1e-4 + (0.02 - 1e-4) * (t - 1) / 999)
        if ab < 0.5:
            break
    assert t == 260 and s.snr[260] < 1 <= s.snr[259]
