"""The likelihood pieces: normal_kl (check 5), the CDFs (6), the bucket decoder (7), the prior (8),
the ε-weight identity (9), the oracle model (10), bound bookkeeping (11), L_simple (14), and the
"fixed large" reference value — each against the oracle, torch.distributions, Monte Carlo or a
pinned number from math-reference.md."""
import math

import numpy as np
import pytest
import torch

import oracle
from oracle import LN2, PIXELS, assert_pinned
from ddpm_edu.forward import predict_eps_from_x0, q_sample
from ddpm_edu.losses import (
    approx_standard_normal_cdf, discretized_gaussian_log_likelihood, normal_kl, prior_bpd,
    simple_loss, standard_normal_cdf, vlb_term, vlb_terms,
)
from ddpm_edu.reverse import eps_vlb_weight
from ddpm_edu.schedules import cosine_schedule, linear_schedule

LIN = linear_schedule()
COS = cosine_schedule()
X = torch.tensor(PIXELS, dtype=torch.float64)          # the 256 bucket centres


def _pixels(seed, shape):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, shape, generator=g).double() / 127.5 - 1


# ---- check 5: normal_kl -------------------------------------------------------------------------
def test_normal_kl_pinned_and_basic_properties():
    kl = normal_kl(torch.tensor(0.3, dtype=torch.float64), math.log(0.2), -0.1, math.log(0.5))
    assert_pinned(kl.item(), "0.318145", "KL(N(0.3, 0.2) ‖ N(−0.1, 0.5))")
    g = torch.Generator().manual_seed(0)
    m1, m2 = torch.randn(2, 1000, generator=g, dtype=torch.float64)
    l1, l2 = 3 * torch.randn(2, 1000, generator=g, dtype=torch.float64)
    assert (normal_kl(m1, l1, m1, l1) == 0).all()
    assert (normal_kl(m1, l1, m2, l2) >= 0).all()
    forward, backward = normal_kl(m1, l1, m2, l2), normal_kl(m2, l2, m1, l1)
    assert ((forward - backward).abs() > 1e-3).float().mean() > 0.9  # not symmetric
    np.testing.assert_allclose(
        forward.numpy(),
        oracle.normal_kl(m1.numpy(), l1.numpy(), m2.numpy(), l2.numpy()),
        rtol=1e-9,
        atol=1e-12,
    )


def test_normal_kl_matches_torch_distributions():
    D = torch.distributions
    g = torch.Generator().manual_seed(1)
    m1, m2 = torch.randn(2, 500, generator=g, dtype=torch.float64)
    l1, l2 = 2 * torch.randn(2, 500, generator=g, dtype=torch.float64)
    want = D.kl_divergence(D.Normal(m1, (0.5 * l1).exp()), D.Normal(m2, (0.5 * l2).exp()))
    torch.testing.assert_close(normal_kl(m1, l1, m2, l2), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "m1,v1,m2,v2", [(0.3, 0.2, -0.1, 0.5), (0.0, 1.0, 0.0, 4.0), (1.0, 0.01, 0.9, 0.02)]
)
def test_normal_kl_matches_monte_carlo(m1, v1, m2, v2):
    """KL = E_{x~p1}[log p1(x) − log p2(x)]; 5 standard errors of the sample mean."""
    n = 400_000
    x = m1 + math.sqrt(v1) * torch.randn(
        n, generator=torch.Generator().manual_seed(2), dtype=torch.float64
    )
    log_ratio = (-0.5 * math.log(v1) - (x - m1) ** 2 / (2 * v1)) - (
        -0.5 * math.log(v2) - (x - m2) ** 2 / (2 * v2)
    )
    kl = normal_kl(torch.tensor(m1, dtype=torch.float64), math.log(v1), m2, math.log(v2)).item()
    se = log_ratio.std().item() / math.sqrt(n)
    assert abs(log_ratio.mean().item() - kl) < 5 * se


def test_normal_kl_near_equal_variances_keeps_digits():
    """KL(N(0, 1−u) ‖ N(0, 1)) = ½(−u − log(1−u)) = u²/4 + u³/6 + …: the prior's case."""
    u = 4.0358e-5
    kl = normal_kl(torch.tensor(0.0, dtype=torch.float64), math.log1p(-u), 0.0, 0.0).item()
    assert kl == pytest.approx(u * u / 4 + u ** 3 / 6 + u ** 4 / 8, rel=1e-9)


# ---- check 6: the CDFs --------------------------------------------------------------------------
def test_tanh_cdf_properties_and_error_bound():
    y = torch.linspace(-10, 10, 400_001, dtype=torch.float64)
    approx, exact = approx_standard_normal_cdf(y), standard_normal_cdf(y)
    assert approx_standard_normal_cdf(torch.tensor(0.0)).item() == 0.5
    torch.testing.assert_close(approx_standard_normal_cdf(-y), 1 - approx, rtol=0, atol=1e-15)
    err = (approx - exact).abs().max().item()
    assert err <= 1.8e-4
    assert_pinned(err, "1.79e-4", "max |Φ̃ − Φ|")
    # poor tails: Φ̃(−6) ≈ 1.4e−11 against Φ(−6) ≈ 9.9e−10
    y6 = torch.tensor(-6.0, dtype=torch.float64)
    assert_pinned(approx_standard_normal_cdf(y6).item(), "1.4e-11", "Φ̃(−6)")
    assert_pinned(standard_normal_cdf(y6).item(), "9.9e-10", "Φ(−6)")
    assert oracle.phi_tanh(-6.0) == pytest.approx(approx_standard_normal_cdf(y6).item(), rel=1e-4)


def test_exact_cdf_matches_erf():
    ys = np.linspace(-8, 8, 3201)
    got = standard_normal_cdf(torch.tensor(ys)).numpy()
    want = np.array([0.5 * (1 + math.erf(y / math.sqrt(2))) for y in ys])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # and in the lower tail, relative to the erfc form (where 1 + erf would cancel: torch's ndtr
    # is 2 % off at y = −8 and 0 beyond −8.3; float32 ndtr is 4 % off at y = −5)
    tail = np.linspace(-37, -5, 101)
    np.testing.assert_allclose(standard_normal_cdf(torch.tensor(tail)).numpy(),
                               [oracle.phi(y) for y in tail], rtol=1e-12)
    tail32 = standard_normal_cdf(torch.tensor([-5.0, -8.0, -12.0]))
    assert tail32.dtype == torch.float32
    np.testing.assert_allclose(
        tail32.numpy(), [oracle.phi(-5.0), oracle.phi(-8.0), oracle.phi(-12.0)], rtol=1e-5
    )


# ---- check 7: the decoder -----------------------------------------------------------------------
MUS = [-1.7, -1.0, -0.99, -0.31, 0.0, 0.004, 0.5, 0.999, 1.0, 1.3, 3.0]
SIGMAS = [1e-3, 3e-3, 7.3846e-3, 0.02, 0.1, 0.5]


@pytest.mark.parametrize("exact", [True, False])
def test_decoder_sums_to_one_over_the_256_buckets(exact):
    for mu in MUS + list(np.linspace(-1.2, 1.2, 13)):
        for sigma in SIGMAS:
            logp = discretized_gaussian_log_likelihood(
                X,
                torch.tensor(mu, dtype=torch.float64),
                torch.tensor(math.log(sigma), dtype=torch.float64),
                exact,
            )
            total = logp.exp().sum().item()
            assert abs(total - 1) <= 1e-9, (mu, sigma, total)


@pytest.mark.parametrize("exact", [True, False])
def test_decoder_matches_oracle(exact):
    """Library vs the erfc / sinh-cosh oracle, 1e−9 in log p wherever p > 1e−11."""
    for sigma in SIGMAS:
        for mu in MUS:
            got = discretized_gaussian_log_likelihood(
                X,
                torch.tensor(mu, dtype=torch.float64),
                torch.tensor(math.log(sigma), dtype=torch.float64),
                exact,
            ).numpy()
            want = oracle.decoder_log_probs(PIXELS, mu, sigma, exact)
            big = want > math.log(1e-11)
            np.testing.assert_allclose(
                got[big], want[big], rtol=0, atol=1e-9, err_msg=f"μ={mu}, σ={sigma}"
            )
            if not exact:   # DDPM's floor: no probability below 1e−12 (≤ 39.9 bits per pixel)
                assert (got >= math.log(1e-12) - 1e-12).all()
                floored = want < math.log(1e-12)
                np.testing.assert_allclose(got[floored], math.log(1e-12), rtol=0, atol=1e-12)


@pytest.mark.parametrize("sched,exact,interior,edge", [
    (LIN, False, "1.3057", "0.5099"),
    (LIN, True, "1.3054", "0.5098"),
    (COS, True, "0.7390", "0.3227"),
])
def test_oracle_decoder_bits_pinned(sched, exact, interior, edge):
    """μ = x_0 and σ = √β̃_2 (what the decoder uses at t = 1): bits for an interior / edge pixel."""
    log_sigma = 0.5 * sched.posterior_log_variance_clipped[1]
    bits = -discretized_gaussian_log_likelihood(X, X, log_sigma, exact) / LN2
    assert_pinned(bits[128].item(), interior, "interior pixel")
    assert_pinned(bits[0].item(), edge, "edge pixel x = −1")
    assert_pinned(bits[255].item(), edge, "edge pixel x = +1")
    torch.testing.assert_close(bits[1:255], bits[1:255].mean().expand(254), rtol=0, atol=1e-12)
    s = math.exp(log_sigma.item())
    want = -oracle.decoder_log_prob(PIXELS[128], PIXELS[128], s, exact) / LN2
    assert bits[128].item() == pytest.approx(want, abs=1e-9)
    assert_pinned(-math.log2(1e-12), "39.9", "the floor in bits")


def test_decoder_float32_far_from_the_mean_is_finite_and_accurate():
    """μ = 0, σ = 0.01, k = 136: mass 1.745e−10, which C⁺ − C⁻ in float32 cancels to 0."""
    x32 = X.float()
    logp = discretized_gaussian_log_likelihood(x32, torch.zeros(()), torch.tensor(math.log(0.01)))
    assert logp.dtype == torch.float32 and torch.isfinite(logp).all()
    assert_pinned(logp[136].exp().item(), "1.745e-10", "p(k = 136)")
    assert logp[136].item() == pytest.approx(
        oracle.decoder_log_prob(PIXELS[136], 0.0, 0.01), rel=1e-5
    )
    naive = standard_normal_cdf((x32[136] + 1 / 255) / 0.01) - standard_normal_cdf(
        (x32[136] - 1 / 255) / 0.01
    )
    assert naive.item() == 0.0      # the cancellation the upper-tail formula avoids
    # every bucket, every far-off mean: float32 agrees with float64 to float32 accuracy
    for exact in (True, False):
        for mu in (-3.0, -1.0, 0.0, 0.6, 1.0, 3.0):
            for sigma in (1e-3, 0.01, 0.5):
                args = (torch.tensor(mu), torch.tensor(math.log(sigma)))
                lp32 = discretized_gaussian_log_likelihood(x32, *[a.float() for a in args], exact)
                lp64 = discretized_gaussian_log_likelihood(X, *[a.double() for a in args], exact)
                assert torch.isfinite(lp32).all(), (mu, sigma, exact)
                assert ((lp32.double() - lp64).abs() <= 2e-4 * lp64.abs().clamp(min=1)).all(), (
                    mu,
                    sigma,
                    exact,
                )


def test_decoder_gradient_is_finite_in_float32():
    mu = (
        X.float() + 0.02 * torch.randn(256, generator=torch.Generator().manual_seed(3))
    ).requires_grad_()
    discretized_gaussian_log_likelihood(
        X.float(), mu, torch.tensor(math.log(7.3846e-3))
    ).sum().backward()
    assert torch.isfinite(mu.grad).all()


# ---- check 8: the prior -------------------------------------------------------------------------
def test_prior_values_pinned_and_match_oracle():
    ref = oracle.tables(oracle.linear_betas())
    for value, text in [(0.0, "5.9e-10"), (0.5, "7.28e-6"), (1.0, "2.91e-5")]:
        x0 = torch.full((2, 1, 3, 3), value, dtype=torch.float64)
        got = prior_bpd(LIN, x0)
        assert got.shape == (2,)
        assert_pinned(got[0].item(), text, f"L_T at x_0 = {value}")
        np.testing.assert_allclose(
            got.numpy(), oracle.prior_bpd(ref, x0.numpy()), rtol=1e-6, atol=1e-15
        )
    # x_0 = 0 in closed form: ½(−u − log(1−u)) nats with u = ᾱ_T
    u = LIN.alpha_bar[-1].item()
    assert prior_bpd(LIN, torch.zeros(1, 4, dtype=torch.float64)).item() == pytest.approx(
        (u * u / 4 + u ** 3 / 6) / LN2, rel=1e-9)


# ---- the bound ----------------------------------------------------------------------------------
class Spy:
    """A made-up ε-network that records every (x_t, t) it is called with and its answers."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, xt, t):
        out = self.fn(xt, t)
        self.calls.append((xt.clone(), t.clone(), out.clone()))
        return out


@pytest.mark.parametrize("var_type", ["fixed_small", "fixed_large"])
@pytest.mark.parametrize("exact", [True, False])
def test_vlb_terms_match_oracle_and_bookkeeping(var_type, exact):
    """Check 11 and oracle agreement: T columns, column 0 is the decoder, total = Σ + prior; each
    term recomputed by the oracle from the x_t the network actually saw."""
    sched = linear_schedule(30)
    ref = oracle.tables(oracle.linear_betas(30))
    x0 = _pixels(4, (3, 1, 4, 4))
    spy = Spy(lambda xt, t: 0.8 * torch.tanh(2 * xt) + 0.01 * t.reshape(-1, 1, 1, 1))
    res = vlb_terms(
        sched, spy, x0, var_type=var_type, exact=exact, generator=torch.Generator().manual_seed(5)
    )
    assert res.terms.shape == (3, 30) and res.prior.shape == (3,) and res.total.shape == (3,)
    assert len(spy.calls) == 30
    torch.testing.assert_close(res.total, res.prior + res.terms.sum(1), rtol=0, atol=1e-12)
    torch.testing.assert_close(res.prior, prior_bpd(sched, x0), rtol=0, atol=1e-15)
    for xt, t, out in spy.calls:
        s = int(t[0])
        assert (t == s).all()
        want = oracle.vlb_term_eps(
            ref, x0.numpy(), xt.numpy(), s, out.numpy(), var_type, True, exact
        )
        np.testing.assert_allclose(
            res.terms[:, s - 1].numpy(), want, rtol=0, atol=1e-9, err_msg=f"t={s}"
        )
        # column s−1 is vlb_term at step s (the decoder for s = 1)
        torch.testing.assert_close(
            res.terms[:, s - 1],
            vlb_term(sched, out, x0, xt, t, "eps", var_type, True, exact),
            rtol=0,
            atol=0,
        )
    # the x_t were fresh draws of q(x_t | x_0): 30 different noises, not one reused
    noises = [
        (xt - sched.sqrt_alpha_bar[int(t[0])] * x0) / sched.sqrt_one_minus_alpha_bar[int(t[0])]
        for xt, t, _ in spy.calls
    ]
    assert min((a - b).abs().max().item() for a, b in zip(noises, noises[1:])) > 0.1


def test_vlb_terms_subset_of_steps():
    sched = linear_schedule(30)
    x0 = _pixels(6, (2, 8))
    res = vlb_terms(sched, lambda xt, t: torch.zeros_like(xt), x0, timesteps=[1, 7, 30],
                    generator=torch.Generator().manual_seed(0))
    filled = ~torch.isnan(res.terms)
    assert filled.sum(1).tolist() == [3, 3] and filled[:, [0, 6, 29]].all()
    torch.testing.assert_close(res.total, res.prior + res.terms.nansum(1), rtol=0, atol=1e-12)


def _true_eps_model(sched, x0):
    """The oracle model: ε̂(x_t, t) = the noise that made x_t from this x_0."""
    return lambda xt, t: predict_eps_from_x0(sched, xt, t, x0)


def test_oracle_model_fixed_small_has_only_prior_and_decoder():
    """Check 10: with ε̂ = ε every KL term is 0 under "fixed small"; total = L_T + L_0, and L_0
    is the oracle decoder value for each pixel (1.3054 bits interior, 0.5098 edge)."""
    x0 = _pixels(7, (3, 1, 4, 4))
    x0[0, 0, 0, :2] = torch.tensor([-1.0, 1.0])          # make sure some edge pixels are there
    res = vlb_terms(LIN, _true_eps_model(LIN, x0), x0, generator=torch.Generator().manual_seed(8))
    assert res.terms[:, 1:].abs().max().item() < 1e-12
    torch.testing.assert_close(res.total, res.prior + res.terms[:, 0], rtol=0, atol=1e-12)
    sigma = math.exp(0.5 * LIN.posterior_log_variance_clipped[1].item())
    per_pixel = -oracle.decoder_log_probs(x0.numpy(), x0.numpy(), sigma) / LN2
    np.testing.assert_allclose(
        res.terms[:, 0].numpy(), per_pixel.reshape(3, -1).mean(1), rtol=0, atol=1e-9
    )


@pytest.mark.parametrize("sched,name,text", [(LIN, "linear", "0.4864"), (COS, "cosine", "0.4324")])
def test_fixed_large_with_the_true_eps(sched, name, text):
    """With ε̂ = ε the means of p_θ and q agree (x̂_0 = x_0), so each KL term is the pure variance
    mismatch KL(N(m, β̃_t) ‖ N(m, β_t)): a function of the schedule alone, identical for every image.
    All (image, t) pairs go through one vectorised vlb_term call (vlb_terms would loop over t)."""
    T, n = sched.T, 3
    x0 = _pixels(9, (n, 1, 3, 3))
    t = torch.arange(2, T + 1).repeat_interleave(n)                    # (T−1)·n rows
    x0_rows = x0.repeat(T - 1, 1, 1, 1)
    eps = torch.randn(
        x0_rows.shape, generator=torch.Generator().manual_seed(10), dtype=torch.float64
    )
    xt = q_sample(sched, x0_rows, t, noise=eps)
    terms = vlb_term(sched, eps, x0_rows, xt, t, var_type="fixed_large").reshape(T - 1, n)
    kl_sum = terms.sum(0)
    torch.testing.assert_close(kl_sum, kl_sum[0].expand(n), rtol=0, atol=1e-12)   # data-independent
    assert_pinned(kl_sum[0].item(), text, f"Σ_{{t≥2}} KL, fixed large, {name}")
    ref = oracle.tables(oracle.linear_betas() if name == "linear" else oracle.cosine_betas())
    assert kl_sum[0].item() == pytest.approx(oracle.fixed_large_true_eps_bits(ref), abs=1e-9)
    # the same terms through vlb_terms' own loop, at a few steps (an oracle model gets only x_t, t)
    few = vlb_terms(
        sched,
        _true_eps_model(sched, x0),
        x0,
        var_type="fixed_large",
        timesteps=[2, 500, T],
        generator=torch.Generator().manual_seed(12),
    )
    torch.testing.assert_close(
        few.terms[:, [1, 499, T - 1]], terms[[0, 498, T - 2]].T, rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("t", [2, 3, 10, 100, 999, 1000])
def test_eps_weight_identity(t):
    """Check 9: with σ² = β̃_t the KL term is w_t · mean((ε − ε̂)²) (nats; the library gives bits).
    With σ² = β_t it is the same weighted MSE (with w for σ² = β_t) plus the variance mismatch."""
    g = torch.Generator().manual_seed(t)
    x0 = _pixels(t, (4, 10))
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    eps_hat = eps + 0.7 * torch.randn(x0.shape, generator=g, dtype=torch.float64)
    xt = q_sample(LIN, x0, t, noise=eps)
    mse = ((eps - eps_hat) ** 2).mean(1)
    small = vlb_term(LIN, eps_hat, x0, xt, t, clip_x0=False)
    torch.testing.assert_close(small * LN2, eps_vlb_weight(LIN, t) * mse, rtol=1e-10, atol=1e-15)
    large = vlb_term(LIN, eps_hat, x0, xt, t, var_type="fixed_large", clip_x0=False)
    zero = torch.tensor(0.0, dtype=torch.float64)
    mismatch = normal_kl(zero, LIN.posterior_variance[t].log(), zero, LIN.beta[t].log())
    torch.testing.assert_close(large * LN2, eps_vlb_weight(LIN, t, "fixed_large") * mse + mismatch,
                               rtol=1e-10, atol=1e-15)


def test_zero_network_has_simple_loss_about_one():
    """Check 14: L_simple = E‖ε − ε̂‖² per dimension; for ε̂ = 0 it is E[ε²] = 1 (5 s.e. of the
    mean)."""
    g = torch.Generator().manual_seed(11)
    x0 = _pixels(11, (64, 1, 16, 16))
    t = torch.randint(1, 1001, (64,), generator=g)
    noise = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    xt = q_sample(LIN, x0, t, noise=noise)
    pred = torch.zeros_like(xt)
    loss = simple_loss(noise, pred)
    assert loss.shape == (64,)
    n = noise.numel()
    assert abs(loss.mean().item() - 1) < 5 * math.sqrt(2 / n)
