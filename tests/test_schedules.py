"""Schedules: pinned values from math-reference.md, check 1 (endpoints, monotonicity), agreement of
every table with the independent float64 oracle, and respacing (check 13, third part)."""
import math

import numpy as np
import pytest
import torch

import oracle
from oracle import assert_pinned
from ddpm_edu.schedules import (
    Schedule,
    cosine_schedule,
    extract,
    geometric_schedule,
    linear_schedule,
    one_minus_ratio,
    respace,
    schedule_from_betas,
    schedule_from_config,
)

LIN = linear_schedule()
COS = cosine_schedule()


# ---- pinned values ------------------------------------------------------------------------------
def test_linear_T1000_pinned_values():
    assert_pinned(LIN.alpha_bar[1000].item(), "4.0358e-5", "ᾱ_T")
    assert_pinned(LIN.alpha_bar[500].item(), "0.07859", "ᾱ_500")
    assert_pinned(LIN.sqrt_alpha_bar[1000].item(), "6.353e-3", "√ᾱ_T")
    assert_pinned(LIN.log_snr[1].item(), "9.21", "log-SNR at t=1")
    assert_pinned(LIN.log_snr[1000].item(), "-10.12", "log-SNR at t=T")
    # β̃_1 = 0 has no log: the likelihood uses β̃_2 = 5.4532e−5, σ = 7.3846e−3 in its place
    assert_pinned(LIN.posterior_variance[2].item(), "5.4532e-5", "β̃_2")
    assert_pinned(math.exp(0.5 * LIN.posterior_log_variance_clipped[1].item()), "7.3846e-3", "σ_1")


def test_cosine_T1000_pinned_values():
    assert_pinned(COS.beta[1].item(), "4.1284e-5", "β_1")
    assert_pinned(COS.beta[999].item(), "0.75", "β_{T−1}")
    assert COS.beta[1000].item() == 0.999  # the cap max_beta
    assert_pinned(COS.alpha_bar[500].item(), "0.4938", "ᾱ_500")
    assert_pinned(math.exp(0.5 * COS.posterior_log_variance_clipped[1].item()), "4.6679e-3", "σ_1")


def test_cosine_follows_f_before_the_cap():
    """Below the cap, ᾱ_t = f(t)/f(0) exactly (the ratios telescope)."""
    s = 0.008
    f = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    for t in (1, 10, 250, 500, 900):
        assert COS.alpha_bar[t].item() == pytest.approx(f(t / 1000) / f(0), rel=1e-12)


# ---- check 1: endpoints and monotonicity --------------------------------------------------------
SCHEDULES = {
    "linear": lambda: linear_schedule(1000),
    "linear-0.2": lambda: linear_schedule(1000, beta_end=0.2),
    "cosine": lambda: cosine_schedule(1000),
    "geometric": lambda: geometric_schedule(1000),
    "linear-T50": lambda: linear_schedule(50),
    "cosine-T7": lambda: cosine_schedule(7),
    "respaced": lambda: respace(linear_schedule(1000), 25),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_endpoints_and_monotonicity(name):
    sched = SCHEDULES[name]()
    T = sched.T
    for table in ("beta", "alpha", "alpha_bar", "alpha_bar_prev", "posterior_variance",
                  "posterior_mean_coef1", "posterior_mean_coef2", "one_minus_alpha_bar"):
        v = getattr(sched, table)
        assert v.dtype == torch.float64 and v.shape == (T + 1,), table
    assert sched.beta[0] == 0 and sched.alpha_bar[0] == 1 and sched.alpha_bar_prev[1] == 1
    b = sched.beta[1:]
    assert ((b > 0) & (b <= 1)).all()
    assert (sched.alpha_bar[1:] < sched.alpha_bar[:-1]).all(), "ᾱ must decrease strictly"
    assert (sched.alpha_bar[1:] > 0).all()
    # 1 − ᾱ is its own table (accurate where ᾱ ≈ 1); both carry the rounding of T products, ~1e−15
    assert torch.allclose(
        sched.alpha_bar + sched.one_minus_alpha_bar,
        torch.ones(T + 1, dtype=torch.float64),
        rtol=0,
        atol=4e-15,
    )
    assert torch.equal(sched.alpha_bar_prev[1:], sched.alpha_bar[:-1])
    assert len(sched) == T


def test_linear_and_geometric_endpoints():
    assert LIN.beta[1].item() == pytest.approx(1e-4, rel=1e-15)
    assert LIN.beta[1000].item() == pytest.approx(0.02, rel=1e-15)
    geo = geometric_schedule(1000)
    assert geo.beta[1].item() == pytest.approx(1e-4, rel=1e-12)
    assert geo.beta[1000].item() == pytest.approx(0.02, rel=1e-12)
    ratios = geo.beta[2:] / geo.beta[1:-1]           # a geometric series has one common ratio
    assert torch.allclose(ratios, torch.full_like(ratios, 200.0 ** (1 / 999)), rtol=1e-12, atol=0)
    # the endpoint matters: with 1e−4..0.2 the signal is gone by t = 300 (ᾱ ≈ 1.0e−4), with
    # 1e−4..0.02 ᾱ_300 ≈ 0.40
    assert linear_schedule(1000, beta_end=0.2).alpha_bar[300] < 2e-4 and LIN.alpha_bar[300] > 0.39


# ---- the whole tables against the oracle --------------------------------------------------------
@pytest.mark.parametrize("T", [1, 2, 10, 1000])
@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_tables_match_oracle(kind, T):
    lib = linear_schedule(T) if kind == "linear" else cosine_schedule(T)
    ref = oracle.tables(oracle.linear_betas(T) if kind == "linear" else oracle.cosine_betas(T))
    pairs = {
        "beta": ref.beta,
        "alpha": ref.alpha,
        "alpha_bar": ref.alpha_bar,
        "alpha_bar_prev": ref.alpha_bar_prev,
        "one_minus_alpha_bar": ref.one_minus_alpha_bar,
        "sqrt_alpha_bar": np.sqrt(ref.alpha_bar),
        "sqrt_one_minus_alpha_bar": np.sqrt(ref.one_minus_alpha_bar),
        "posterior_variance": ref.post_var,
        "posterior_mean_coef1": ref.c1,
        "posterior_mean_coef2": ref.c2,
    }
    for name, want in pairs.items():
        got = getattr(lib, name).numpy()
        # relative agreement: the small entries (1 − ᾱ_1, β̃_2) must be right to all their digits too
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0, err_msg=name)
    np.testing.assert_allclose(
        lib.posterior_log_variance_clipped[1:].numpy(),
        ref.post_logvar_clipped[1:],
        rtol=0,
        atol=1e-9,
    )
    np.testing.assert_allclose(lib.log_alpha_bar.numpy(), np.log(ref.alpha_bar), rtol=1e-12, atol=0)
    snr = ref.alpha_bar[1:] / ref.one_minus_alpha_bar[1:]
    np.testing.assert_allclose(lib.snr[1:].numpy(), snr, rtol=1e-12)


def test_small_t_tables_keep_full_precision():
    """1 − ᾱ_1 must equal β_1 to the last digit (1.0 − ᾱ_1 would keep only ~12 of them)."""
    assert abs(LIN.one_minus_alpha_bar[1].item() / 1e-4 - 1) < 1e-15
    assert abs(LIN.posterior_mean_coef1[1].item() - 1) < 1e-15


# ---- construction, config, extract --------------------------------------------------------------
def test_schedule_from_betas_and_config_round_trip():
    for sched in (LIN, COS, geometric_schedule(30), schedule_from_betas([0.1, 0.2, 0.3])):
        again = schedule_from_config(sched.to_config())
        assert again.same_as(sched, rtol=0)
    # a schedule can also be built from the full table β_0..β_T; float32 is stored as float64
    direct = Schedule(beta=torch.tensor([0.0, 0.1, 0.2], dtype=torch.float32))
    assert direct.beta.dtype == torch.float64
    assert direct.alpha_bar[2].item() == pytest.approx(0.9 * 0.8, rel=1e-6)


def test_extract_shapes_and_dtype():
    t = torch.tensor([1, 500, 1000])
    like = torch.zeros(3, 2, 4, 4, dtype=torch.float32)
    v = extract(LIN.alpha_bar, t, like)
    assert v.shape == (3, 1, 1, 1) and v.dtype == torch.float32
    assert torch.equal(v.flatten(), LIN.alpha_bar[t].float())


# ---- respacing ----------------------------------------------------------------------------------
@pytest.mark.parametrize("steps", [1, 10, 50, 999, 1000])
@pytest.mark.parametrize("spacing", ["linspace", "leading"])
def test_respace_keeps_alpha_bar_at_kept_steps(steps, spacing):
    for base in (LIN, COS):
        r = respace(base, steps, spacing)
        assert r.T == steps
        kept = r.timesteps[1:]
        assert (kept[1:] > kept[:-1]).all() and kept.min() >= 1 and kept.max() <= 1000
        # ᾱ'_k = ᾱ at the k-th kept step, so the marginals q(x_t|x_0) are unchanged. Tolerance: a
        # schedule is stored as β, and a β' near 1 carries α' = 1 − β' only to ~1e−16 absolute.
        torch.testing.assert_close(r.alpha_bar[1:], base.alpha_bar[kept], rtol=1e-13, atol=1e-16)
        if spacing == "linspace":
            assert kept[-1] == 1000 and (steps == 1 or kept[0] == 1)
        else:
            assert kept[0] == 1 and torch.equal(kept, torch.arange(steps) * (1000 // steps) + 1)


def test_respace_explicit_list_and_respacing_twice():
    r = respace(LIN, [1, 10, 100, 1000])
    assert r.timesteps.tolist() == [0, 1, 10, 100, 1000]
    assert r.beta[1].item() == pytest.approx(LIN.beta[1].item(), rel=1e-14)  # first step unchanged
    assert r.beta[2].item() == pytest.approx(
        1 - LIN.alpha_bar[10].item() / LIN.alpha_bar[1].item(), rel=1e-10
    )
    rr = respace(r, [2, 4])                       # indices of r; timesteps map back to the original
    assert rr.timesteps.tolist() == [0, 10, 1000]
    torch.testing.assert_close(rr.alpha_bar[1:], LIN.alpha_bar[[10, 1000]], rtol=1e-13, atol=1e-16)


def test_respace_count_given_as_numpy_or_tensor_scalar():
    """Regression: np.int64(50) used to be read as the list [50] (a one-step schedule)."""
    want = respace(LIN, 50).timesteps
    for count in (np.int64(50), torch.tensor(50), 50.0):
        assert torch.equal(respace(LIN, count).timesteps, want)
    assert respace(LIN, [50]).timesteps.tolist() == [0, 50]     # a list still means "these steps"


def test_respacing_to_every_step_is_the_identity():
    for base in (LIN, COS):
        r = respace(base, base.T)
        assert torch.equal(r.beta, base.beta) and torch.equal(r.timesteps, torch.arange(base.T + 1))


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_one_minus_ratio_matches_oracle(kind):
    """1 − ᾱ_t/ᾱ_s (the noise added from s to t, used by respace and DDIM) to full relative
    precision."""
    base = LIN if kind == "linear" else COS
    ref = oracle.tables(oracle.linear_betas() if kind == "linear" else oracle.cosine_betas())
    pairs = [
        (1, 0),
        (2, 1),
        (3, 1),
        (10, 0),
        (50, 40),
        (500, 499),
        (500, 100),
        (1000, 1),
        (1000, 999),
        (999, 900),
    ]
    t = torch.tensor([p[0] for p in pairs])
    s = torch.tensor([p[1] for p in pairs])
    got = one_minus_ratio(base, t, s).numpy()
    want = np.array([oracle.one_minus_ratio(ref, b, a) for a, b in pairs])
    np.testing.assert_allclose(got, want, rtol=2e-14)


def test_snr_at_the_data_is_plus_infinity():
    import math as _m
    from ddpm_edu import linear_schedule as _lin
    s = _lin()
    assert s.snr[0].item() == _m.inf and s.log_snr[0].item() == _m.inf
