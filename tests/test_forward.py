"""Forward process and posterior: oracle agreement, checks 2 (Monte Carlo of the chain), 3
(posterior by regression, identities at t = 1, β̃ ≤ β) and 4 (ε ↔ x̂_0 round trip)."""
import math

import numpy as np
import pytest
import torch

import oracle
from oracle import assert_pinned
from ddpm_edu.forward import (
    predict_eps_from_x0, predict_x0_from_eps, predict_x0_from_mean, q_mean_variance, q_posterior,
    q_sample, q_step_sample,
)
from ddpm_edu.schedules import cosine_schedule, linear_schedule

LIN = linear_schedule()
COS = cosine_schedule()
REF = {"linear": (LIN, oracle.tables(oracle.linear_betas())),
       "cosine": (COS, oracle.tables(oracle.cosine_betas()))}


def _batch(seed, shape=(6, 3, 4, 4)):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1
    eps = torch.randn(shape, generator=g, dtype=torch.float64)
    t = torch.tensor([1, 2, 10, 500, 999, 1000])[: shape[0]]
    return x0, eps, t


# ---- agreement with the oracle ------------------------------------------------------------------
@pytest.mark.parametrize("kind", REF)
def test_q_sample_and_q_mean_variance_match_oracle(kind):
    sched, ref = REF[kind]
    x0, eps, t = _batch(0)
    xt = q_sample(sched, x0, t, noise=eps)
    np.testing.assert_allclose(xt.numpy(), oracle.q_sample(ref, x0.numpy(), t.numpy(), eps.numpy()),
                               rtol=0, atol=1e-12)
    mean, var, log_var = q_mean_variance(sched, x0, t)
    np.testing.assert_allclose(
        mean.numpy(),
        np.sqrt(ref.alpha_bar[t.numpy()])[:, None, None, None] * x0.numpy(),
        rtol=0,
        atol=1e-15,
    )
    np.testing.assert_allclose(
        var.flatten().numpy(), ref.one_minus_alpha_bar[t.numpy()], rtol=1e-13
    )
    assert var.shape == (6, 1, 1, 1) and torch.allclose(log_var, var.log())
    # t = 0 is the data itself: mean x_0, variance 0
    m0, v0, _ = q_mean_variance(sched, x0, 0)
    assert torch.equal(m0, x0) and (v0 == 0).all()


@pytest.mark.parametrize("kind", REF)
def test_q_posterior_matches_oracle_and_bayes(kind):
    sched, ref = REF[kind]
    x0, eps, t = _batch(1)
    xt = q_sample(sched, x0, t, noise=eps)
    mean, var, log_var = q_posterior(sched, x0, xt, t)
    o_mean, o_var, o_lv = oracle.q_posterior(ref, x0.numpy(), xt.numpy(), t.numpy())
    np.testing.assert_allclose(mean.numpy(), o_mean, rtol=0, atol=1e-12)
    np.testing.assert_allclose(var.numpy(), o_var, rtol=1e-12, atol=0)
    np.testing.assert_allclose(log_var.numpy(), o_lv, rtol=0, atol=1e-9)
    # Independent derivation (Bayes, completing the square): q(x_{t−1}|x_t,x_0) ∝
    # N(x_t; √α_t x_{t−1}, β_t) · N(x_{t−1}; √ᾱ_{t−1} x_0, 1 − ᾱ_{t−1}); precisions add.
    for i, ti in enumerate(t.tolist()):
        if ti == 1:
            continue
        b, a, om_prev = ref.beta[ti], ref.alpha[ti], ref.one_minus_alpha_bar[ti - 1]
        prec = a / b + 1 / om_prev
        bayes_mean = (math.sqrt(a) / b * xt[i].numpy()
                      + math.sqrt(ref.alpha_bar[ti - 1]) / om_prev * x0[i].numpy()) / prec
        assert var[i].item() == pytest.approx(1 / prec, rel=1e-12)
        np.testing.assert_allclose(mean[i].numpy(), bayes_mean, rtol=0, atol=1e-12)


# ---- check 3: identities ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", REF)
def test_posterior_identities(kind):
    sched, _ = REF[kind]
    # t = 1: ᾱ_0 = 1, so the posterior is the point x_0: c1 = 1, c2 = 0, β̃_1 = 0
    assert sched.posterior_mean_coef1[1].item() == pytest.approx(1.0, abs=1e-15)
    assert sched.posterior_mean_coef2[1].item() == 0.0
    assert sched.posterior_variance[1].item() == 0.0
    # the likelihood's log-variance at t = 1 is log β̃_2, not log 0 or a floor
    log_beta_tilde_2 = math.log(sched.posterior_variance[2].item())
    assert sched.posterior_log_variance_clipped[1].item() == pytest.approx(
        log_beta_tilde_2, abs=1e-15
    )
    # β̃_t ≤ β_t (strictly for t ≥ 2: (1−ᾱ_{t−1})/(1−ᾱ_t) < 1)
    assert (sched.posterior_variance[2:] < sched.beta[2:]).all()
    x0, eps, _ = _batch(2, (3, 5))
    xt = q_sample(sched, x0, 1, noise=eps)
    mean, var, _ = q_posterior(sched, x0, xt, 1)
    torch.testing.assert_close(mean, x0, rtol=0, atol=1e-15)
    assert (var == 0).all()


def test_posterior_regression_coefficients_pinned():
    assert_pinned(LIN.posterior_mean_coef2[10].item(), "0.85273", "c2_10 (slope)")
    assert_pinned(LIN.posterior_mean_coef1[10].item() * 0.7, "0.10309", "c1_10 · 0.7 (intercept)")
    assert_pinned(LIN.posterior_variance[10].item(), "2.3818e-4", "β̃_10 (residual variance)")


def test_posterior_by_regression_monte_carlo():
    """Check 3: simulate (x_{t−1}, x_t) from the forward chain at t = 10, x_0 = 0.7, and regress
    x_{t−1} on x_t. Least squares recovers slope c2, intercept c1·x_0, residual variance β̃_t.
    Tolerances are 5 standard errors of the estimates, computed from the sample."""
    t, x0v, n = 10, 0.7, 2_000_000
    g = torch.Generator().manual_seed(1234)
    x0 = torch.full((n,), x0v, dtype=torch.float64)
    x_prev = q_sample(LIN, x0, t - 1, generator=g)
    x_t = q_step_sample(LIN, x_prev, t, generator=g)
    xc = x_t - x_t.mean()
    slope = (xc * (x_prev - x_prev.mean())).sum() / (xc ** 2).sum()
    intercept = x_prev.mean() - slope * x_t.mean()
    resid = x_prev - intercept - slope * x_t
    var = (resid ** 2).sum() / (n - 2)
    se_slope = (var / (xc ** 2).sum()).sqrt()
    se_intercept = (var * (1 / n + x_t.mean() ** 2 / (xc ** 2).sum())).sqrt()
    se_var = var * math.sqrt(2 / (n - 2))
    assert abs(slope - 0.85273) < 5 * se_slope + 5e-6, (slope, se_slope)
    assert abs(intercept - 0.10309) < 5 * se_intercept + 5e-6, (intercept, se_intercept)
    assert abs(var - 2.3818e-4) < 5 * se_var + 5e-9, (var, se_var)
    # ...and the MC tolerances are tight enough to mean something: they reject c2 ± 1 %
    assert 5 * se_slope < 0.0085


# ---- check 2: the chain of single steps matches the closed form ---------------------------------
@pytest.mark.parametrize("t", [1, 7, 60])
def test_iterated_steps_match_closed_form(t):
    """x ← √(1−β_s) x + √β_s z for s = 1..t has law N(√ᾱ_t x_0, (1−ᾱ_t)); compare the sample
    mean and variance (per x_0 value) with 5-standard-error tolerances, and the law against an
    independent draw from q_sample with a two-sample Kolmogorov–Smirnov statistic."""
    n = 40_000
    g = torch.Generator().manual_seed(10 + t)
    x0 = torch.tensor([-1.0, 0.0, 0.6], dtype=torch.float64).repeat_interleave(n)
    x = x0.clone()
    for s in range(1, t + 1):
        x = q_step_sample(LIN, x, s, generator=g)
    x = x.reshape(3, n)
    m_true = LIN.sqrt_alpha_bar[t].item() * torch.tensor([-1.0, 0.0, 0.6], dtype=torch.float64)
    v_true = LIN.one_minus_alpha_bar[t].item()
    se_mean = math.sqrt(v_true / n)
    se_var = v_true * math.sqrt(2 / (n - 1))
    assert ((x.mean(1) - m_true).abs() < 5 * se_mean).all()
    assert ((x.var(1) - v_true).abs() < 5 * se_var).all()
    direct = q_sample(LIN, x0, t, generator=g).reshape(3, n)
    for a, b in zip(x, direct):
        a, b = a.sort().values, b.sort().values
        grid = torch.cat([a, b]).sort().values
        d = (
            (torch.searchsorted(a, grid, right=True) - torch.searchsorted(b, grid, right=True))
            .abs()
            .max()
            / n
        ).item()
        assert d < 1.95 * math.sqrt(2 / n), d   # KS critical value at α ≈ 0.001


def test_q_sample_uses_its_generator_reproducibly():
    x0 = torch.zeros(4, 3)
    a = q_sample(LIN, x0, 500, generator=torch.Generator().manual_seed(3))
    b = q_sample(LIN, x0, 500, generator=torch.Generator().manual_seed(3))
    c = q_sample(LIN, x0, 500, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


# ---- check 4: ε ↔ x̂_0 ↔ μ conversions ----------------------------------------------------------
@pytest.mark.parametrize("kind", REF)
def test_eps_x0_round_trip(kind):
    sched, ref = REF[kind]
    x0, eps, t = _batch(3)
    xt = q_sample(sched, x0, t, noise=eps)
    x0_hat = predict_x0_from_eps(sched, xt, t, eps)
    # exact inversion of q_sample up to rounding, amplified by 1/√ᾱ_t at large t
    scale = (1 / sched.sqrt_alpha_bar[t]).reshape(-1, 1, 1, 1)
    assert ((x0_hat - x0).abs() <= 1e-15 * scale * (1 + eps.abs())).all()
    torch.testing.assert_close(predict_x0_from_eps(sched, xt, t, eps), x0, rtol=0, atol=1e-10)
    torch.testing.assert_close(predict_eps_from_x0(sched, xt, t, x0), eps, rtol=0, atol=1e-10)
    eps_back = predict_eps_from_x0(sched, xt, t, predict_x0_from_eps(sched, xt, t, eps))
    torch.testing.assert_close(eps_back, eps, rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        x0_hat.numpy(),
        oracle.x0_from_eps(ref, xt.numpy(), t.numpy(), eps.numpy()),
        rtol=0,
        atol=1e-10,
    )
    # the posterior mean determines x̂_0 too (c1 > 0 for every t)
    mean, _, _ = q_posterior(sched, x0, xt, t)
    torch.testing.assert_close(predict_x0_from_mean(sched, xt, t, mean), x0, rtol=0, atol=1e-10)


def test_float32_round_trip_is_accurate_where_signal_remains():
    x0, eps, t = _batch(4)
    x0, eps = x0.float(), eps.float()
    xt = q_sample(LIN, x0, t, noise=eps)
    back = predict_x0_from_eps(LIN, xt, t, eps)
    assert back.dtype == torch.float32
    # float32 rounding of x_t (~6e−8 · |x_t|) is amplified by 1/√ᾱ_t: 157 at t = T
    tol = 4e-7 * (1 / LIN.sqrt_alpha_bar[t]).float().reshape(-1, 1, 1, 1)
    assert ((back - x0).abs() <= tol * (1 + eps.abs())).all()
