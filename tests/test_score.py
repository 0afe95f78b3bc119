"""The score-based view (ddpm_edu.score): ε ↔ score against analytic scores, annealed Langevin and
the probability-flow ODE against exact answers for Gaussian data and a 2-D Gaussian mixture.

Oracles: Gaussian data N(m, s²) (tests/gaussian_oracle.py) has q(x_t) = N(√ᾱ m, ᾱ s² + 1 − ᾱ), an
exact probability-flow map, and — for the Langevin chain — a deterministic large-N limit computed
here by a scalar recursion; the mixture (tests/mixture_oracle.py) has an exact score, checked
against autograd of its torch.distributions log-density. Monte Carlo checks use float64, fixed seeds
and tolerances of Z standard errors, with the standard errors computed from the samples.
"""
from __future__ import annotations

import itertools
import math
import operator
import sys
from pathlib import Path

import pytest
import torch

from ddpm_edu import ddim_steps, linear_schedule, respace, to_pixels
from ddpm_edu.schedules import cosine_schedule
from ddpm_edu.score import eps_from_score, langevin_steps, ode_steps, pc_steps, score_from_eps

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent / "browser"))
from gaussian_oracle import M, S, GaussianOracle, affine_chain  # noqa: E402
from mixture_oracle import MixtureOracle, mean_cov_with_se  # noqa: E402

Z = 4.0  # Monte Carlo tolerance in standard errors (two-sided p ≈ 6e-5 per comparison)


@pytest.fixture(scope="module")
def sched():
    return linear_schedule(1000)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _last(steps):
    *_, step = steps
    return step


# ---- ε ↔ score -----------------------------------------------------------------------------------
def test_score_from_eps_gives_the_analytic_gaussian_score(sched):
    oracle = GaussianOracle(sched)
    x = torch.randn(64, 3, generator=_gen(0), dtype=torch.float64) * 1.5
    t = torch.randint(1, sched.T + 1, (64,), generator=_gen(1))
    t[:4] = torch.tensor([1, 2, 999, 1000])
    # ᾱ_t = ∏_{i ≤ t} (1 − β_i) from DDPM's β's, not from the library's tables
    ab_table = list(
        itertools.accumulate(
            (1 - (1e-4 + (0.02 - 1e-4) * i / 999) for i in range(1000)), operator.mul, initial=1.0
        )
    )
    ab = torch.tensor([ab_table[k] for k in t.tolist()], dtype=torch.float64)[:, None]
    exact = -(x - ab.sqrt() * M) / (ab * S * S + 1 - ab)  # ∇ log N(x; √ᾱ m, ᾱ s² + 1 − ᾱ)
    score = score_from_eps(sched, oracle(x, t), t)
    torch.testing.assert_close(score, exact, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(
        eps_from_score(sched, score, t), oracle(x, t), rtol=1e-12, atol=1e-12
    )
    # an int t broadcasts over the batch
    torch.testing.assert_close(
        score_from_eps(sched, oracle(x, torch.full((64,), 7)), 7),
        score_from_eps(sched, oracle(x, torch.full((64,), 7)), torch.full((64,), 7)),
    )


@pytest.mark.parametrize("t", [1, 10, 100, 400, 1000])
def test_score_from_eps_gives_the_mixture_score_of_autograd(sched, t):
    oracle = MixtureOracle(sched)
    ab = float(sched.alpha_bar[t])
    x0 = oracle.sample_data(200, _gen(t))
    noise = torch.randn(200, 2, generator=_gen(t + 1), dtype=torch.float64)
    x = math.sqrt(ab) * x0 + math.sqrt(1 - ab) * noise   # exact draws of q(x_t)
    x.requires_grad_(True)
    log_q = oracle.marginal(t).log_prob(x).sum()
    (autograd_score,) = torch.autograd.grad(log_q, x)   # independent: autograd of the log-density
    x = x.detach()
    tt = torch.full((200,), t)
    score = score_from_eps(sched, oracle(x, tt), tt)
    torch.testing.assert_close(score, autograd_score, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(score, oracle.score(x, tt), rtol=1e-12, atol=1e-12)
    # per-example times (a mixed batch) give the same values as one t at a time
    mixed = torch.tensor([t, 1] * 100)
    sc = score_from_eps(sched, oracle(x, mixed), mixed)
    torch.testing.assert_close(sc[::2], score[::2], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        sc[1::2],
        score_from_eps(sched, oracle(x, torch.ones(200, dtype=torch.long)), 1)[1::2],
        rtol=1e-12,
        atol=1e-12,
    )


def test_tweedie_consistency_score_and_x0(sched):
    """E[x_0 | x_t] = (x_t + (1−ᾱ_t) score)/√ᾱ_t equals the Gaussian posterior mean x0*."""
    from ddpm_edu import predict_x0_from_eps

    eps_oracle, x0_oracle = GaussianOracle(sched), GaussianOracle(sched, mean_type="x0")
    x = torch.randn(32, 2, generator=_gen(2), dtype=torch.float64)
    t = torch.randint(1, sched.T + 1, (32,), generator=_gen(3))
    score = score_from_eps(sched, eps_oracle(x, t), t)
    ab = sched.alpha_bar[t][:, None]
    torch.testing.assert_close(
        (x + (1 - ab) * score) / ab.sqrt(), x0_oracle(x, t), rtol=1e-9, atol=1e-10
    )
    torch.testing.assert_close(predict_x0_from_eps(sched, x, t, eps_oracle(x, t)), x0_oracle(x, t),
                               rtol=1e-9, atol=1e-10)


# ---- annealed Langevin ---------------------------------------------------------------------------
def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def _langevin_moments(mu, w, ab, r, m=M, s=S):
    """(mean, variance) after one large-batch Langevin update at the level with ᾱ = ``ab``, from
    x ~ N(mu, w) (see :func:`langevin_large_n_limit`)."""
    a, v = math.sqrt(ab) * m, ab * s * s + 1 - ab
    d, sw = mu - a, math.sqrt(w)
    e_abs = sw * math.sqrt(2 / math.pi) * math.exp(-d * d / (2 * w)) + d * (1 - 2 * _phi(-d / sw))
    alpha = 2 * (r * math.sqrt(2 / math.pi) * v / e_abs) ** 2
    return mu + alpha / v * (a - mu), (1 - alpha / v) ** 2 * w + 2 * alpha


def langevin_large_n_limit(schedule, levels, steps_per_level, r, m=M, s=S):
    """(mean, std) of x_0 from the library's Langevin chain on 1-D N(m, s²) data, x_T ~ N(0, 1), in
    the limit of a large batch, written from the algorithm's definition:

    at level t, q(x_t) = N(a, v) with a = √ᾱ m, v = ᾱ s² + 1 − ᾱ; score(x) = −(x − a)/v. With x ~
    N(μ, w) the batch means of ‖z‖ and ‖score‖ tend to E|z| = √(2/π) and E|x − a|/v (a folded
    normal), so the step is α = 2 (r E|z| v / E|x − a|)², and x ← (1 − α/v) x + (α/v) a + √(2α) z
    maps (μ, w) to (μ + (α/v)(a − μ), (1 − α/v)² w + 2α). The last step is Tweedie's x_0 = m + √ᾱ s²
    (x − a)/v.
    """
    ts = respace(schedule, levels).timesteps.tolist()[1:][::-1]
    mu, w = 0.0, 1.0
    for t in ts:
        for _ in range(steps_per_level):
            mu, w = _langevin_moments(mu, w, float(schedule.alpha_bar[t]), r, m, s)
    ab = float(schedule.alpha_bar[ts[-1]])
    slope = math.sqrt(ab) * s * s / (ab * s * s + 1 - ab)
    return m + slope * (mu - math.sqrt(ab) * m), slope * math.sqrt(w)


def test_one_langevin_update_by_hand(sched):
    """The update x ← x + α s + √(2α) z with α = 2 (r
    · mean‖z‖ / mean‖s‖)², from the analytic score."""
    r, n = 0.2, 64
    x_T = torch.randn(n, 3, generator=_gen(60), dtype=torch.float64)
    steps = list(
        langevin_steps(
            GaussianOracle(sched),
            sched,
            x_T,
            levels=[300],
            steps_per_level=2,
            snr=r,
            generator=_gen(61),
        )
    )
    assert [st.t for st in steps] == [300, 300, 0]
    g, x = _gen(61), x_T
    ab = float(sched.alpha_bar[300])
    for _ in range(2):
        score = -(x - math.sqrt(ab) * M) / (ab * S * S + 1 - ab)
        z = torch.randn(x.shape, generator=g, dtype=torch.float64)
        alpha = 2 * (r * z.norm(dim=1).mean() / score.norm(dim=1).mean()) ** 2
        x = x + alpha * score + (2 * alpha).sqrt() * z
    torch.testing.assert_close(steps[1].x, x, rtol=0, atol=1e-12)
    x0_star = GaussianOracle(sched, mean_type="x0")(x, torch.full((n,), 300))
    torch.testing.assert_close(steps[2].x, x0_star, rtol=1e-10, atol=1e-12)


def test_langevin_on_gaussian_data_matches_its_large_n_limit_and_the_data(sched):
    n, levels, k, r = 20000, 10, 100, 0.16
    x = _last(
        langevin_steps(
            GaussianOracle(sched),
            sched,
            shape=(n, 1),
            levels=levels,
            steps_per_level=k,
            snr=r,
            generator=_gen(10),
            dtype=torch.float64,
        )
    ).x
    mean, std = x.mean().item(), x.std().item()
    se_mean = std / math.sqrt(n)
    se_std = std / math.sqrt(2 * (n - 1))          # Gaussian output: SE of the sample std
    lim_mean, lim_std = langevin_large_n_limit(sched, levels, k, r)
    assert abs(mean - lim_mean) < Z * se_mean, (mean, lim_mean, se_mean)
    assert abs(std - lim_std) < Z * se_std, (std, lim_std, se_std)
    # the limit itself is the data up to the unadjusted-Langevin bias: variance × 1/(1 − r²) at most
    assert abs(lim_mean - M) < 1e-3
    assert S < lim_std < S / math.sqrt(1 - r * r) + 1e-4
    # and hence the samples reproduce the data within Monte Carlo error plus that known bias
    assert abs(mean - M) < Z * se_mean + abs(lim_mean - M)
    assert abs(std - S) < Z * se_std + (lim_std - S)


def test_langevin_on_a_2d_mixture_reproduces_its_mean_and_covariance(sched):
    # Known limit of annealed Langevin (see langevin_steps): the modes' weights are settled where
    # samples still cross between modes. With 20 × 100 updates and N = 20000 the heaviest mode came
    # out at 0.491 ± 0.0035 (mean of x: +0.008 ≈ 1 standard error at the N = 4000 used here); with
    # 20 × 1000 updates at 0.506. So this test checks the sampler at the resolution of N = 4000
    # (SE ≈ 0.008 in the mean, 0.003 in the covariance); the Gaussian test above checks it sharply.
    oracle = MixtureOracle(sched)
    x = _last(
        langevin_steps(
            oracle,
            sched,
            shape=(4000, 2),
            levels=20,
            steps_per_level=100,
            snr=0.1,
            generator=_gen(11),
            dtype=torch.float64,
        )
    ).x
    mean, cov, se_mean, se_cov = mean_cov_with_se(x)
    assert ((mean - oracle.data_mean()).abs() < Z * se_mean).all(), (
        mean,
        oracle.data_mean(),
        se_mean,
    )
    assert ((cov - oracle.data_cov()).abs() < Z * se_cov).all(), (cov, oracle.data_cov(), se_cov)


def test_langevin_yields_steps_and_calls_the_model_with_long_original_t(sched):
    oracle = GaussianOracle(sched)
    steps = list(
        langevin_steps(
            oracle,
            sched,
            shape=(5, 2),
            levels=[1000, 500, 20],
            steps_per_level=3,
            generator=_gen(12),
            dtype=torch.float64,
        )
    )
    assert [s.t for s in steps] == [1000, 1000, 500, 20, 0]
    assert steps[0].x0_hat is None and all(s.x0_hat.shape == (5, 2) for s in steps[1:])
    assert [c[0] for c in oracle.calls] == [1000] * 3 + [500] * 3 + [20] * 3 + [20]  # levels·K + 1
    assert oracle.t_info == {(torch.long, (5,), torch.device("cpu"))}
    torch.testing.assert_close(steps[-1].x, steps[-1].x0_hat)
    # the final step is Tweedie's denoiser applied to the last level's x
    x0_star = GaussianOracle(sched, mean_type="x0")(steps[-2].x, torch.full((5,), 20))
    torch.testing.assert_close(steps[-1].x, x0_star, rtol=1e-10, atol=1e-12)
    # same generator → same chain
    again = list(langevin_steps(GaussianOracle(sched), sched, shape=(5, 2), levels=[1000, 500, 20],
                                steps_per_level=3, generator=_gen(12), dtype=torch.float64))
    assert all(torch.equal(a.x, b.x) for a, b in zip(steps, again))


def test_langevin_with_an_x0_model_equals_the_eps_model(sched):
    x_T = torch.randn(50, 2, generator=_gen(13), dtype=torch.float64)
    runs = [
        list(
            langevin_steps(
                GaussianOracle(sched, mean_type=mt),
                sched,
                x_T,
                levels=5,
                steps_per_level=4,
                mean_type=mt,
                generator=_gen(14),
            )
        )
        for mt in ("eps", "x0")
    ]
    for a, b in zip(*runs):
        assert a.t == b.t
        torch.testing.assert_close(a.x, b.x, rtol=1e-9, atol=1e-9)


# ---- the probability-flow ODE --------------------------------------------------------------------
# ---- predictor–corrector --------------------------------------------------------------------
def pc_large_n_limit(schedule, steps, eta, corrector_steps, r, m=M, s=S):
    """(mean, std) of x_0 from the library's PC chain on 1-D N(m, s²) data, x_T ~ N(0, 1), for a
    large batch: each predictor is DDIM's affine update with ε* (gaussian_oracle.affine_chain), then
    ``corrector_steps`` Langevin updates at the level reached (not at t = 0), as in the Langevin
    limit."""
    ts = respace(schedule, steps).timesteps.tolist()[::-1]           # τ_S … τ_1, 0
    abs_ = [float(schedule.alpha_bar[t]) for t in ts]
    mu, w = 0.0, 1.0
    for (A, B, sig), ab_next in zip(affine_chain(abs_, "ddim", eta=eta, m=m, s=s), abs_[1:]):
        mu, w = A * mu + B, A * A * w + sig * sig
        for _ in range(corrector_steps if ab_next < 1 else 0):
            mu, w = _langevin_moments(mu, w, ab_next, r, m, s)
    return mu, math.sqrt(w)


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_pc_without_corrector_is_ddim_draw_for_draw(sched, eta):
    x_T = torch.randn(40, 3, generator=_gen(70), dtype=torch.float64)
    pc = list(pc_steps(GaussianOracle(sched), sched, x_T, steps=12, eta=eta, corrector_steps=0,
                       generator=_gen(71)))
    dd = list(ddim_steps(GaussianOracle(sched), sched, x_T, steps=12, eta=eta, clip_x0=False,
                         generator=_gen(71)))
    assert [a.t for a in pc] == [b.t for b in dd]
    for a, b in zip(pc, dd):
        assert torch.equal(a.x, b.x)


def test_one_pc_step_by_hand(sched):
    """First step of the 3-step chain: predictor (DDIM η = 1, τ_3 → τ_2), 2 Langevin updates at
    τ_2."""
    r, n = 0.2, 64
    x_T = torch.randn(n, 3, generator=_gen(72), dtype=torch.float64)
    oracle = GaussianOracle(sched)
    steps = list(pc_steps(oracle, sched, x_T, steps=3, eta=1.0, corrector_steps=2, snr=r,
                          generator=_gen(73)))
    tau = respace(sched, 3).timesteps.tolist()[::-1]                       # τ_3, τ_2, τ_1, 0
    assert [st.t for st in steps] == tau and 1 < tau[1] < tau[0]
    # S + (S − 1)·C calls: no corrector at t = 0
    assert [c[0] for c in oracle.calls] == [tau[0]] + [tau[1]] * 3 + [tau[2]] * 3
    g = _gen(73)
    (A, B, sig) = affine_chain([float(sched.alpha_bar[t]) for t in tau], "ddim", eta=1.0)[0]
    x = A * x_T + B + sig * torch.randn(x_T.shape, generator=g, dtype=torch.float64)
    ab = float(sched.alpha_bar[tau[1]])
    for _ in range(2):
        score = -(x - math.sqrt(ab) * M) / (ab * S * S + 1 - ab)
        z = torch.randn(x.shape, generator=g, dtype=torch.float64)
        alpha = 2 * (r * z.norm(dim=1).mean() / score.norm(dim=1).mean()) ** 2
        x = x + alpha * score + (2 * alpha).sqrt() * z
    torch.testing.assert_close(steps[1].x, x, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("eta, corrector_steps, r", [(1.0, 1, 0.16), (0.0, 2, 0.3)])
def test_pc_on_gaussian_data_matches_its_large_n_limit(sched, eta, corrector_steps, r):
    n, steps = 20000, 20
    x = _last(pc_steps(GaussianOracle(sched), sched, shape=(n, 1), steps=steps, eta=eta,
                       corrector_steps=corrector_steps, snr=r, generator=_gen(74),
                       dtype=torch.float64)).x
    mean, std = x.mean().item(), x.std().item()
    se_mean, se_std = std / math.sqrt(n), std / math.sqrt(2 * (n - 1))
    lim_mean, lim_std = pc_large_n_limit(sched, steps, eta, corrector_steps, r)
    assert abs(mean - lim_mean) < Z * se_mean, (mean, lim_mean, se_mean)
    assert abs(std - lim_std) < Z * se_std, (std, lim_std, se_std)
    # the corrector brings the predictor's coarse 20-step chain closer to the data N(m, s²)
    pred_mean, pred_std = pc_large_n_limit(sched, steps, eta, 0, r)
    assert abs(lim_std - S) < abs(pred_std - S), (lim_std, pred_std)
    assert abs(lim_mean - M) < 2e-3


def test_pc_on_a_2d_mixture_reproduces_its_mean_and_covariance(sched):
    oracle = MixtureOracle(sched)
    x = _last(pc_steps(oracle, sched, shape=(4000, 2), steps=250, eta=0.0, corrector_steps=1,
                       snr=0.1, generator=_gen(75), dtype=torch.float64)).x
    mean, cov, se_mean, se_cov = mean_cov_with_se(x)
    assert ((mean - oracle.data_mean()).abs() < Z * se_mean).all(), (mean, se_mean)
    assert ((cov - oracle.data_cov()).abs() < Z * se_cov).all(), (cov, oracle.data_cov(), se_cov)


def test_pc_refuses_bad_settings_with_a_clear_message(sched):
    bad = dict(shape=(3, 2), generator=_gen(0))
    model = GaussianOracle(sched)
    for kwargs, err, match in [
        (dict(corrector_steps=-1), ValueError, "corrector_steps"),
        (dict(corrector_steps=1.5), ValueError, "corrector_steps"),
        (dict(snr=0.0), ValueError, "snr"),
        (dict(eta=-0.5), ValueError, "eta"),
        (dict(steps=0), ValueError, "steps"),
    ]:
        with pytest.raises(err, match=match):
            next(pc_steps(model, sched, **bad, **kwargs))
    with pytest.raises(ValueError, match="pc_steps.*score is 0"):
        list(pc_steps(lambda x, t: torch.zeros_like(x), sched, shape=(3, 2), steps=3))


def test_ode_euler_is_ddim_eta0_step_by_step(sched):
    """DDIM η = 0 is exactly Euler on dx̄/dσ = ε̂ (x̄ = x/√ᾱ, σ = √((1−ᾱ)/ᾱ)), for a non-linear ε̂."""
    oracle = MixtureOracle(sched)
    x_T = torch.randn(300, 2, generator=_gen(20), dtype=torch.float64)
    for steps, spacing in ((25, "linspace"), (7, "leading"), (200, "linspace")):
        ode = list(ode_steps(oracle, sched, x_T, steps=steps, method="euler", spacing=spacing))
        ddim = list(
            ddim_steps(oracle, sched, x_T, steps=steps, eta=0.0, spacing=spacing, clip_x0=False)
        )
        assert len(ode) == len(ddim) == steps + 1
        for a, b in zip(ode, ddim):
            assert a.t == b.t
            torch.testing.assert_close(a.x, b.x, rtol=0, atol=1e-12)
            if b.x0_hat is not None:
                torch.testing.assert_close(a.x0_hat, b.x0_hat, rtol=0, atol=1e-12)
    # and by hand, in the ODE's own variables, for the first two Euler steps of a 10-step run
    chain = respace(sched, 10)
    ab = chain.alpha_bar
    sig = lambda k: math.sqrt((1 - float(ab[k])) / float(ab[k]))  # noqa: E731
    ode = list(ode_steps(oracle, sched, x_T, steps=10, method="euler"))
    xbar = x_T / ab[10].sqrt()
    for k in (10, 9):
        eps = oracle(ab[k].sqrt() * xbar, torch.full((300,), int(chain.timesteps[k])))
        xbar = xbar + (sig(k - 1) - sig(k)) * eps
        torch.testing.assert_close(ode[10 - k + 1].x, ab[k - 1].sqrt() * xbar, rtol=0, atol=1e-12)


def test_one_heun_step_and_the_last_euler_step_by_hand(sched):
    oracle = MixtureOracle(sched)
    x_T = torch.randn(200, 2, generator=_gen(22), dtype=torch.float64)
    chain = respace(sched, 10)
    ab, ts = chain.alpha_bar, chain.timesteps
    sig = [math.sqrt((1 - float(a)) / float(a)) for a in ab]
    ode = list(ode_steps(oracle, sched, x_T, steps=10, method="heun"))
    h = sig[9] - sig[10]
    d = oracle(x_T, torch.full((200,), int(ts[10])))
    xbar = x_T / ab[10].sqrt()
    d2 = oracle(ab[9].sqrt() * (xbar + h * d), torch.full((200,), int(ts[9])))
    torch.testing.assert_close(
        ode[1].x, ab[9].sqrt() * (xbar + h * (d + d2) / 2), rtol=0, atol=1e-12
    )
    # the last step (to σ = 0) is Euler: x_0 = x_1/√ᾱ_1 − σ_1 ε̂(x_1, 1)
    x1 = ode[-2].x
    expected = x1 / ab[1].sqrt() - sig[1] * oracle(x1, torch.full((200,), int(ts[1])))
    torch.testing.assert_close(ode[-1].x, expected, rtol=0, atol=1e-12)


def test_ode_is_deterministic(sched):
    oracle = MixtureOracle(sched)
    x_T = torch.randn(100, 2, generator=_gen(21), dtype=torch.float64)
    g = _gen(99)
    state = g.get_state()
    for method in ("euler", "heun"):
        a = [s.x for s in ode_steps(oracle, sched, x_T, steps=12, method=method, generator=g)]
        b = [s.x for s in ode_steps(oracle, sched, x_T.clone(), steps=12, method=method)]
        assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert torch.equal(g.get_state(), state)  # no noise drawn once x_T is given
    # drawing x_T from a generator is the only randomness: same seed, same samples
    a = _last(
        ode_steps(oracle, sched, shape=(10, 2), steps=5, generator=_gen(3), dtype=torch.float64)
    ).x
    b = _last(
        ode_steps(oracle, sched, shape=(10, 2), steps=5, generator=_gen(3), dtype=torch.float64)
    ).x
    assert torch.equal(a, b)


def _exact_flow(schedule, t_from: int, t_to: int, x: torch.Tensor, m=M, s=S) -> torch.Tensor:
    """The exact probability-flow map for N(m, s²) data. In x̄ = x/√ᾱ, σ² = (1−ᾱ)/ᾱ, the ODE is
    dx̄/dσ = ε*(x̄) = σ (x̄ − m)/(s² + σ²), so d log(x̄ − m) = d log √(s² + σ²):
    x̄_to − m = (x̄_from − m) √((s² + σ_to²)/(s² + σ_from²))."""
    ab0, ab1 = float(schedule.alpha_bar[t_from]), float(schedule.alpha_bar[t_to])
    s0, s1 = (1 - ab0) / ab0, (1 - ab1) / ab1
    return math.sqrt(ab1) * (m + (x / math.sqrt(ab0) - m) * math.sqrt((s * s + s1) / (s * s + s0)))


def test_heun_is_closer_than_euler_to_the_exact_flow(sched):
    oracle = GaussianOracle(sched)
    x_T = torch.linspace(-3, 3, 13, dtype=torch.float64)[:, None]
    exact = _exact_flow(sched, 1000, 1, x_T)  # the Step before the last is at t = 1 (linspace grid)
    err = {}
    for method in ("euler", "heun"):
        for n in (20, 40, 80):
            steps = list(ode_steps(oracle, sched, x_T, steps=n, method=method))
            assert steps[-2].t == 1
            err[method, n] = (steps[-2].x - exact).abs().max().item()
    for n in (20, 40, 80):
        assert err["heun", n] < err["euler", n] / 3, err
    # orders: halving the step halves Euler's error (1st order) and quarters Heun's (2nd order)
    for n in (20, 40):
        assert 1.6 < err["euler", n] / err["euler", 2 * n] < 2.4, err
        assert 3.2 < err["heun", n] / err["heun", 2 * n] < 4.8, err
    # the intermediate steps follow the exact flow too
    steps = list(ode_steps(oracle, sched, x_T, steps=80, method="heun"))
    worst = max((s.x - _exact_flow(sched, 1000, s.t, x_T)).abs().max().item() for s in steps[1:-1])
    assert worst < 5e-3


def test_ode_network_calls(sched):
    for method, calls in (("euler", 10), ("heun", 19)):
        oracle = GaussianOracle(sched)
        steps = list(
            ode_steps(oracle, sched, shape=(4, 1), steps=10, method=method, generator=_gen(0))
        )
        assert len(oracle.calls) == calls
        assert [s.t for s in steps] == respace(sched, 10).timesteps.flip(0).tolist()
        assert oracle.t_info == {(torch.long, (4,), torch.device("cpu"))}


def test_ode_on_gaussian_data_gives_the_exact_flows_moments(sched):
    # The ideal sampler: the exact flow from T to t = 1 (the last grid point), then the library's
    # last step x_0 = x̂_0 = E[x_0 | x_1]. Both are affine, so x_0 = b + a·x_T and x_T ~ N(0, 1)
    # gives N(b, a²): the data N(m, s²) up to the prior mismatch (x_T ~ N(0, 1), not q(x_T); ≈ −4e−4
    # in the mean) and the last step's shrinkage (factor s/√(s² + σ_1²): ≈ −2.5e−4 in the std).
    ends = _exact_flow(sched, sched.T, 1, torch.tensor([0.0, 1.0], dtype=torch.float64))
    ab1 = float(sched.alpha_bar[1])
    ends = M + math.sqrt(ab1) * S * S / (ab1 * S * S + 1 - ab1) * (ends - math.sqrt(ab1) * M)
    flow_mean, flow_std = ends[0].item(), (ends[1] - ends[0]).item()
    assert abs(flow_mean - M) < 5e-4 and abs(flow_std - S) < 3e-4
    # 250 Heun steps: the solver's own error in a is then 0.05 % (1.3 % at 50 steps, which would be
    # 2.7 standard errors here), so what remains is Monte Carlo error
    n = 20000
    x = _last(ode_steps(GaussianOracle(sched), sched, shape=(n, 1), steps=250, method="heun",
                        generator=_gen(30), dtype=torch.float64)).x
    mean, std = x.mean().item(), x.std().item()
    assert abs(mean - flow_mean) < Z * std / math.sqrt(n), (mean, flow_mean)
    assert abs(std - flow_std) < Z * std / math.sqrt(2 * (n - 1)), (std, flow_std)


def test_ode_on_a_2d_mixture_reproduces_its_mean_and_covariance(sched):
    oracle = MixtureOracle(sched)
    x = _last(
        ode_steps(
            oracle,
            sched,
            shape=(20000, 2),
            steps=100,
            method="heun",
            generator=_gen(31),
            dtype=torch.float64,
        )
    ).x
    mean, cov, se_mean, se_cov = mean_cov_with_se(x)
    assert ((mean - oracle.data_mean()).abs() < Z * se_mean).all(), (
        mean,
        oracle.data_mean(),
        se_mean,
    )
    assert ((cov - oracle.data_cov()).abs() < Z * se_cov).all(), (cov, oracle.data_cov(), se_cov)


def test_ode_with_an_x0_model_and_a_cosine_schedule():
    cos = cosine_schedule(200)
    x_T = torch.randn(30, 3, generator=_gen(40), dtype=torch.float64)
    a = _last(ode_steps(GaussianOracle(cos), cos, x_T, steps=20)).x
    b = _last(ode_steps(GaussianOracle(cos, mean_type="x0"), cos, x_T, steps=20, mean_type="x0")).x
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


# ---- the same Step interface: GIF export and the chain scrubber ----------------------------------
@pytest.mark.parametrize("which", ["langevin", "ode"])
def test_gif_and_scrubber_take_the_new_samplers_unchanged(tmp_path, which):
    from fakes import ImageOracle, ring_image

    from ddpm_edu.viz.gif import read_gif, reverse_chain_gif

    s = linear_schedule(1000)
    model = ImageOracle(s, ring_image(8))

    def run():
        if which == "langevin":
            return langevin_steps(model, s, shape=(4, 1, 8, 8), levels=15, steps_per_level=2,
                                  generator=_gen(50))
        return ode_steps(model, s, shape=(4, 1, 8, 8), steps=15, generator=_gen(50))

    steps = list(run())
    info = read_gif(
        reverse_chain_gif(
            run(), tmp_path / f"{which}.gif", s, n_frames=8, scale=2, nrow=2, label=False
        )
    )
    assert 6 <= info["frames"].shape[0] <= 8
    last = info["frames"][-1][
        ..., 0
    ]  # grid 2×2 of 8×8 (1-px pads): the first sample at 0..7, scaled ×2
    assert (last[0:16:2, 0:16:2] == to_pixels(steps[-1].x[0, 0].float()).numpy()).all()
    pytest.importorskip("ipywidgets")
    from ddpm_edu.viz.widgets import ChainScrubber

    cs = ChainScrubber(steps, schedule=s, nrow=2)
    cs.frame.value = len(steps) - 1
    assert "<b>t = 0</b>" in cs.info.value and cs.play.max == len(steps) - 1


# ---- bad input -----------------------------------------------------------------------------------
def test_bad_input_is_refused_with_a_clear_message(sched):
    model = GaussianOracle(sched)
    eps = torch.zeros(3, 2)
    with pytest.raises(ValueError, match="1..1000"):
        score_from_eps(sched, eps, 0)
    with pytest.raises(TypeError, match="integer"):
        score_from_eps(sched, eps, torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(TypeError, match="Schedule"):
        eps_from_score("linear", eps, 5)
    with pytest.raises(TypeError, match="torch.Tensor"):
        score_from_eps(sched, [[0.0, 0.0]], 5)
    bad = dict(shape=(3, 2), generator=_gen(0))
    for kwargs, err, match in [
        (dict(levels=0), ValueError, "levels"),
        (dict(levels=1001), ValueError, "levels"),
        (dict(levels=True), TypeError, "levels"),
        (dict(levels=2.5), TypeError, "levels"),
        (dict(steps_per_level=0), ValueError, "steps_per_level"),
        (dict(steps_per_level=True), ValueError, "steps_per_level"),
        (dict(spacing="cosine"), ValueError, "spacing"),
        (dict(snr=0.0), ValueError, "snr"),
        (dict(snr=float("nan")), ValueError, "snr"),
        (dict(snr=True), ValueError, "snr"),
        (dict(mean_type="score"), ValueError, "mean_type"),  # "v" is a MeanType now
    ]:
        with pytest.raises(err, match=match):
            next(langevin_steps(model, sched, **bad, **kwargs))
    with pytest.raises(ValueError, match="x_T"):
        langevin_steps(model, sched)
    with pytest.raises(ValueError, match="score is 0"):
        list(langevin_steps(lambda x, t: torch.zeros_like(x), sched, shape=(3, 2), levels=2))
    with pytest.raises(ValueError, match="method"):
        ode_steps(model, sched, **bad, method="rk4")
    with pytest.raises(ValueError, match="steps"):
        ode_steps(model, sched, **bad, steps=0)
    with pytest.raises(TypeError, match="steps"):
        ode_steps(model, sched, **bad, steps=12.5)
    with pytest.raises(ValueError, match="shape"):
        ode_steps(model, sched, torch.zeros(3, 2), shape=(4, 2))
    with pytest.raises(ValueError, match="NaN"):
        list(ode_steps(lambda x, t: x * float("nan"), sched, **bad, steps=3))
