"""The reverse process: p_θ(x_{t−1}|x_t) from a model output against the oracle, the ε-weights,
and DDIM (check 13: η = 1 on the full chain is the posterior step, η = 0 is deterministic)."""

import numpy as np
import pytest
import torch

import oracle
from oracle import assert_pinned
from ddpm_edu.forward import q_posterior, q_sample
from ddpm_edu.reverse import (MeanType, VarianceType, ddim_step, eps_vlb_weight, model_eps_x0,
                              p_mean_variance)
from ddpm_edu.schedules import cosine_schedule, linear_schedule, respace

LIN = linear_schedule()
COS = cosine_schedule()
REF = {"linear": (LIN, oracle.tables(oracle.linear_betas())),
       "cosine": (COS, oracle.tables(oracle.cosine_betas()))}
TS = torch.tensor([1, 2, 3, 10, 100, 500, 999, 1000])


def _data(seed, n=None, d=6):
    n = len(TS) if n is None else n
    g = torch.Generator().manual_seed(seed)
    x0 = torch.rand(n, d, generator=g, dtype=torch.float64) * 2 - 1
    eps = torch.randn(n, d, generator=g, dtype=torch.float64)
    return x0, eps, g


@pytest.mark.parametrize("kind", REF)
@pytest.mark.parametrize("mean_type", ["eps", "x0", "mu"])
@pytest.mark.parametrize("var_type", ["fixed_small", "fixed_large"])
@pytest.mark.parametrize("clip", [True, False])
def test_p_mean_variance_matches_oracle(kind, mean_type, var_type, clip):
    sched, ref = REF[kind]
    x0, eps, g = _data(0)
    xt = q_sample(sched, x0, TS, noise=eps)
    # a made-up "network output" that is off from the truth, and whose x̂_0 sometimes needs clipping
    out = {"eps": eps + 0.3 * torch.randn(eps.shape, generator=g, dtype=torch.float64),
           "x0": 1.3 * x0 + 0.1,
           "mu": q_posterior(sched, 1.3 * x0, xt, TS)[0]}[mean_type]
    p = p_mean_variance(sched, out, xt, TS, mean_type, var_type, clip)
    o_mean, o_var, o_x0, o_eps = oracle.p_mean_var(
        ref, out.numpy(), xt.numpy(), TS.numpy(), mean_type, var_type, clip
    )
    # x̂_0 and ε̂ are divided by √ᾱ_t / √(1−ᾱ_t): compare on the scale those divisions produce
    scale = 1 + np.abs(o_x0).max()
    np.testing.assert_allclose(p.pred_x0.numpy(), o_x0, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(p.mean.numpy(), o_mean, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(p.pred_eps.numpy(), o_eps, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(p.variance.flatten().numpy(), o_var, rtol=1e-12)
    assert torch.allclose(p.log_variance, p.variance.log(), rtol=0, atol=1e-12)
    if clip:
        assert p.pred_x0.abs().max() <= 1.0


def test_variance_choices():
    x0, eps, _ = _data(1)
    xt = q_sample(LIN, x0, TS, noise=eps)
    small = p_mean_variance(LIN, eps, xt, TS, var_type="fixed_small").variance.flatten()
    large = p_mean_variance(LIN, eps, xt, TS, var_type=VarianceType.FIXED_LARGE).variance.flatten()
    rest = TS >= 2
    torch.testing.assert_close(small[rest], LIN.posterior_variance[TS[rest]], rtol=1e-14, atol=0)
    torch.testing.assert_close(large[rest], LIN.beta[TS[rest]], rtol=1e-14, atol=0)
    # at t = 1 both use β̃_2 (DDPM's "better decoder likelihood"), never β̃_1 = 0 or β_1
    assert small[0].item() == pytest.approx(LIN.posterior_variance[2].item(), rel=1e-14)
    assert large[0].item() == pytest.approx(LIN.posterior_variance[2].item(), rel=1e-14)


def test_eps_mean_is_ddpm_eq_11_without_clipping():
    """μ_θ = (x_t − β_t/√(1−ᾱ_t) ε̂)/√α_t equals c1 x̂_0 + c2 x_t when x̂_0 is not clipped."""
    for sched, ref in REF.values():
        x0, eps, g = _data(2)
        xt = q_sample(sched, x0, TS, noise=eps)
        eps_hat = eps + 0.5 * torch.randn(eps.shape, generator=g, dtype=torch.float64)
        p = p_mean_variance(sched, eps_hat, xt, TS, MeanType.EPS, clip_x0=False)
        want = oracle.mu_from_eps(ref, xt.numpy(), TS.numpy(), eps_hat.numpy())
        np.testing.assert_allclose(p.mean.numpy(), want, rtol=0, atol=1e-12)
        assert torch.equal(p.pred_eps, eps_hat)        # nothing clipped: ε̂ is the model output


def test_true_eps_gives_the_posterior():
    """The oracle model: ε̂ = ε makes μ_θ the posterior mean μ̃_t (clipping does nothing to x_0)."""
    x0, eps, _ = _data(3)
    xt = q_sample(LIN, x0, TS, noise=eps)
    p = p_mean_variance(LIN, eps, xt, TS)
    mean, _, _ = q_posterior(LIN, x0, xt, TS)
    torch.testing.assert_close(p.mean, mean, rtol=0, atol=1e-12)


# ---- ε-weights ----------------------------------------------------------------------------------
def test_eps_weights_pinned_and_match_oracle():
    for t, text in [(2, "0.5997"), (10, "0.08644"), (100, "0.01027"), (1000, "0.0102")]:
        assert_pinned(eps_vlb_weight(LIN, t).item(), text, f"w_{t}")
    assert_pinned(eps_vlb_weight(LIN, 2, "fixed_large").item(), "0.2727", "w_2 (σ² = β)")
    ref = REF["linear"][1]
    t = torch.arange(2, 1001)
    for var_type in ("fixed_small", "fixed_large"):
        want = np.array([oracle.eps_weight(ref, k, var_type) for k in t.tolist()])
        np.testing.assert_allclose(eps_vlb_weight(LIN, t, var_type).numpy(), want, rtol=1e-12)
    # an int, a 0-d tensor and a 1-element tensor are the same request
    assert eps_vlb_weight(LIN, 10).tolist() == eps_vlb_weight(LIN, torch.tensor(10)).tolist() \
        == eps_vlb_weight(LIN, torch.tensor([10])).tolist()


# ---- DDIM ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", REF)
@pytest.mark.parametrize("clip", [True, False])
def test_ddim_eta1_full_chain_is_the_posterior_step(kind, clip):
    """η = 1, t_prev = t − 1: mean = DDPM's posterior mean (to 1e−15), σ² = β̃_t, and with the
    same z the update is DDPM's ancestral step x_{t−1} = μ_θ + √β̃_t z."""
    sched, _ = REF[kind]
    t = torch.arange(2, sched.T + 1)
    g = torch.Generator().manual_seed(4)
    x0 = torch.rand(len(t), 5, generator=g, dtype=torch.float64) * 2 - 1
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    xt = q_sample(sched, x0, t, noise=eps)
    mean, x0_hat = ddim_step(
        sched, xt, eps, t, t - 1, eta=1.0, noise=torch.zeros_like(xt), clip_x0=clip
    )
    p = p_mean_variance(sched, eps, xt, t, "eps", "fixed_small", clip_x0=clip)
    assert ((mean - p.mean).abs() <= 1e-15 * mean.abs().clamp(min=1)).all()
    torch.testing.assert_close(x0_hat, p.pred_x0, rtol=0, atol=1e-12)
    # σ from the response to a huge z (so that rounding of the mean does not blur it)
    big, _ = ddim_step(
        sched, xt, eps, t, t - 1, eta=1.0, noise=torch.full_like(xt, 1e8), clip_x0=clip
    )
    sigma2 = (((big - mean) / 1e8) ** 2)[:, 0]
    torch.testing.assert_close(sigma2, sched.posterior_variance[t], rtol=1e-14, atol=0)
    z = torch.randn(xt.shape, generator=g, dtype=torch.float64)
    step, _ = ddim_step(sched, xt, eps, t, t - 1, eta=1.0, noise=z, clip_x0=clip)
    torch.testing.assert_close(
        step, p.mean + sched.posterior_variance[t].sqrt()[:, None] * z, rtol=0, atol=1e-14
    )


@pytest.mark.parametrize("pair", [(3, 1), (10, 0), (500, 100), (1000, 1), (1000, 980), (37, 36)])
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
def test_ddim_any_pair_matches_oracle(pair, eta):
    t, s = pair
    ref = REF["linear"][1]
    x0, eps, g = _data(5, n=4)
    xt = q_sample(LIN, x0, t, noise=eps)
    z = torch.randn(xt.shape, generator=g, dtype=torch.float64)
    got, _ = ddim_step(LIN, xt, eps, t, s, eta=eta, noise=z, clip_x0=False)
    want, var = oracle.ddim_step(ref, xt.numpy(), eps.numpy(), t, s, eta, z.numpy())
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-13)
    if eta > 0 and s > 0:
        big, _ = ddim_step(
            LIN, xt, eps, t, s, eta=eta, noise=torch.full_like(xt, 1e8), clip_x0=False
        )
        mean, _ = ddim_step(LIN, xt, eps, t, s, eta=eta, noise=torch.zeros_like(xt), clip_x0=False)
        assert (((big - mean) / 1e8) ** 2)[0, 0].item() == pytest.approx(var, rel=1e-13)


def test_ddim_eta0_is_deterministic_and_keeps_eps():
    x0, eps, _ = _data(6, n=3)
    t, s = torch.tensor([1000, 400, 7]), torch.tensor([900, 0, 6])
    xt = q_sample(LIN, x0, t, noise=eps)
    a, _ = ddim_step(LIN, xt, eps, t, s, eta=0.0, generator=torch.Generator().manual_seed(1))
    b, _ = ddim_step(LIN, xt, eps, t, s, eta=0, generator=torch.Generator().manual_seed(2),
                     noise=torch.randn(xt.shape, dtype=torch.float64))
    assert torch.equal(a, b)
    # with the true ε, η = 0 moves along the same noise: x_s = √ᾱ_s x_0 + √(1−ᾱ_s) ε (x_0 at s = 0)
    torch.testing.assert_close(
        a,
        q_sample(LIN, x0, torch.tensor([900, 1, 6]), noise=eps).where(s[:, None] > 0, x0),
        rtol=0,
        atol=1e-12,
    )


def test_ddim_on_a_respaced_schedule_is_the_skip_step_of_the_original():
    r = respace(LIN, 20)
    x0, eps, g = _data(7, n=19)
    k = torch.arange(2, 21)
    t, s = r.timesteps[k], r.timesteps[k - 1]
    xt = q_sample(LIN, x0, t, noise=eps)
    torch.testing.assert_close(q_sample(r, x0, k, noise=eps), xt, rtol=0, atol=1e-14)
    z = torch.randn(xt.shape, generator=g, dtype=torch.float64)
    for eta in (0.0, 1.0):
        a, _ = ddim_step(r, xt, eps, k, k - 1, eta=eta, noise=z)
        b, _ = ddim_step(LIN, xt, eps, t, s, eta=eta, noise=z)
        torch.testing.assert_close(a, b, rtol=0, atol=1e-13)


def test_dtypes_follow_the_input():
    for dtype in (torch.float32, torch.float64):
        x0, eps, _ = _data(8, n=3)
        x0, eps = x0.to(dtype), eps.to(dtype)
        xt = q_sample(LIN, x0, 50, noise=eps)
        p = p_mean_variance(LIN, eps, xt, 50)
        assert {v.dtype for v in p} == {dtype}
        out, x0_hat = ddim_step(
            LIN, xt, eps, 50, 49, eta=np.float32(0.5)
        )  # NumPy η is a number too
        assert out.dtype == x0_hat.dtype == dtype


# ---- the one conversion: model output → (ε̂, x̂_0) -------------------------------------------------

@pytest.mark.parametrize("kind", REF)
@pytest.mark.parametrize("mean_type", ["eps", "x0", "mu"])
@pytest.mark.parametrize("clip", [True, False])
def test_model_eps_x0_matches_oracle(kind, mean_type, clip):
    """Oracle: tests/oracle.p_mean_var (float64 NumPy), whose x̂_0 and ε̂ are the same conversion."""
    sched, ref = REF[kind]
    x0, eps, g = _data(4)
    xt = q_sample(sched, x0, TS, noise=eps)
    out = {"eps": eps + 0.3 * torch.randn(eps.shape, generator=g, dtype=torch.float64),
           "x0": 1.3 * x0 + 0.1,
           "mu": q_posterior(sched, 1.3 * x0, xt, TS)[0]}[mean_type]
    eps_hat, x0_hat = model_eps_x0(sched, out, xt, TS, mean_type, clip_x0=clip)
    _, _, o_x0, o_eps = oracle.p_mean_var(ref, out.numpy(), xt.numpy(), TS.numpy(), mean_type,
                                          "fixed_small", clip)
    scale = 1 + np.abs(o_x0).max()
    np.testing.assert_allclose(x0_hat.numpy(), o_x0, rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(eps_hat.numpy(), o_eps, rtol=0, atol=1e-9 * scale)
    if mean_type == "eps" and not clip:
        assert eps_hat is out                      # nothing to convert: ε̂ is the model output


def test_model_eps_x0_reads_mu_on_the_base_chain():
    """On a respaced chain a μ output is the posterior mean of the training chain (``base``): the
    conversion must give the x̂_0 that made it, not read it as the respaced chain's mean."""
    chain = respace(LIN, 10)
    k = torch.tensor([1, 4, 10])
    t_orig = chain.timesteps[k]
    x0, eps, _ = _data(5, n=3)
    xt = q_sample(LIN, x0, t_orig, noise=eps)
    mu = q_posterior(LIN, x0, xt, t_orig)[0]       # what a perfect "mu" model outputs
    eps_hat, x0_hat = model_eps_x0(chain, mu, xt, k, "mu", base=LIN)
    torch.testing.assert_close(x0_hat, x0, rtol=0, atol=1e-9)
    torch.testing.assert_close(eps_hat, eps, rtol=0, atol=1e-7)
    wrong, _ = model_eps_x0(chain, mu, xt, k, "mu")  # read on the wrong chain
    assert (wrong - eps).abs().max() > 0.1
