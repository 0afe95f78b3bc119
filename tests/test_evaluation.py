"""Bits/dim estimators (ddpm_edu.evaluation) against closed forms, pinned values and each other.

Models used:
* ``Oracle``: returns the TRUE noise. It holds the images x_0 of the batch and answers
  ε = (x_t − √ᾱ_t x_0)/√(1−ᾱ_t), so it must be called on exactly those images in one batch
  (``batch_size=len(x0)``). Under fixed-small variance every KL term is then 0 and the bound is
  L_T + L_0 (math-reference.md, check 10).
* ``Blend``: (1 − a)·(true ε) + a·ε*(x_t), with ε* the analytic optimum for N(0.3, 0.2²) data
  (tests/gaussian_oracle.py): a non-trivial model whose every term is > 0.
Independent reference numbers come from tests/oracle.py (numpy + math.erfc, no ddpm_edu) and
math-reference.md.
"""
import json
import math

import numpy as np
import pytest
import torch

from gaussian_oracle import GaussianOracle
import oracle as ref

from ddpm_edu.evaluation import Z95, BPDEstimate, as_pixel_floats, bpd_fast, bpd_full, mean_ci95
from ddpm_edu.forward import predict_eps_from_x0
from ddpm_edu.schedules import linear_schedule, respace

# The oracle's "images" are N(0.3, 0.2²) values on the 8-bit grid, mostly in [0, 1] by design: the
# range verdict rightly warns about such data (tests/test_bad_input.py checks that it does).
pytestmark = pytest.mark.filterwarnings(r"ignore:x0 \(8-bit pixels mapped to.*\[0, 1\]:UserWarning")

T_SMALL = 100


@pytest.fixture(scope="module")
def sched():
    # 100 steps from 1e-4 to 0.2: ᾱ_T ≈ 4.5e-5, the same end point as DDPM's 1000-step schedule
    return linear_schedule(T_SMALL, 1e-4, 0.2)


def pixels(n, shape=(1, 2, 2), seed=0):
    """n quantised N(0.3, 0.2²) images on the 8-bit grid, float64."""
    g = torch.Generator().manual_seed(seed)
    k = (
        (0.3 + 0.2 * torch.randn((n, *shape), generator=g, dtype=torch.float64)).clamp(-1, 1) + 1
    ) * 127.5
    return k.round() / 127.5 - 1


class Oracle:
    def __init__(self, schedule, x0):
        self.schedule, self.x0 = schedule, x0

    def __call__(self, xt, t):
        assert xt.shape == self.x0.shape, "the oracle must see the whole set in one batch"
        return predict_eps_from_x0(self.schedule, xt, t, self.x0)


class Blend(Oracle):
    def __init__(self, schedule, x0, a=0.2):
        super().__init__(schedule, x0)
        self.a, self.gauss = a, GaussianOracle(schedule)

    def __call__(self, xt, t):
        return (1 - self.a) * super().__call__(xt, t) + self.a * self.gauss(xt, t)


def ref_oracle_bound(betas, x0: np.ndarray) -> np.ndarray:
    """L_T + L_0 per image (bits/dim) for the true-ε model, from tests/oracle.py: decoder mean x_0,
    σ = √β̃_2 (fixed small, and β̃_2 in place of β̃_1)."""
    tab = ref.tables(betas)
    sigma = math.exp(0.5 * tab.post_logvar_clipped[1])
    dec = -ref.mean_flat(ref.decoder_log_probs(x0, x0, sigma)) / ref.LN2
    return ref.prior_bpd(tab, x0) + dec


# ---- the oracle: every KL term is 0, total = L_T + L_0 -------------------------------------------

def test_oracle_full_bound_T1000_matches_pinned_decoder_values():
    s = linear_schedule(1000)
    k = torch.tensor(
        [[[[0, 255], [128, 77]]], [[[200, 0], [255, 1]]]]
    )  # (2, 1, 2, 2): 2 edge + 2 interior each
    x0 = k.double() / 127.5 - 1
    r = bpd_full(Oracle(s, x0), s, x0, batch_size=2)
    assert r.per_t.shape == (1000,)
    assert r.per_t[1:].abs().max() < 1e-9                    # KL terms t = 2..T vanish
    # math-reference.md: oracle decoder, linear T=1000, exact CDF: 1.3054 interior / 0.5098 edge
    # bits
    expected_dec = (2 * 1.3054 + 2 * 0.5098) / 4
    assert r.per_t[0].item() == pytest.approx(expected_dec, abs=1e-4)
    # prior: L_T = KL(N(√ᾱ_T x, 1 − ᾱ_T) ‖ N(0, 1)) in closed form; ~1e-5 bits here
    abT = s.alpha_bar[-1].item()
    prior = [np.mean([0.5 * (-math.log(1 - abT) + (1 - abT) + abT * v * v - 1) / math.log(2)
                      for v in img.flatten().tolist()]) for img in x0]
    assert r.prior.tolist() == pytest.approx(prior, rel=1e-9)
    assert r.per_image.tolist() == pytest.approx((r.prior + r.per_t[0]).tolist(), abs=1e-9)
    assert r.per_image.tolist() == pytest.approx(
        ref_oracle_bound(ref.linear_betas(1000), x0.numpy()).tolist(), abs=1e-9)


def test_oracle_full_bound_small_T_and_its_interval(sched):
    x0 = pixels(12, (1, 3, 3), seed=1)
    r = bpd_full(Oracle(sched, x0), sched, x0, batch_size=12)
    expected = ref_oracle_bound(ref.linear_betas(T_SMALL, 1e-4, 0.2), x0.numpy())
    np.testing.assert_allclose(r.per_image.numpy(), expected, atol=1e-9)
    assert r.per_t[1:].abs().max() < 1e-9
    # the interval is mean ± 1.96·sd/√n over images
    m, sd = expected.mean(), expected.std(ddof=1)
    assert r.bpd == pytest.approx(m, abs=1e-9)
    assert r.ci95 == pytest.approx(
        (m - 1.959964 * sd / math.sqrt(12), m + 1.959964 * sd / math.sqrt(12)), abs=1e-6
    )
    assert r.estimator == "full" and r.n == 12 and r.T == T_SMALL and r.k is None


def test_uint8_input_equals_its_float_version(sched):
    k = torch.randint(
        0, 256, (3, 1, 2, 2), generator=torch.Generator().manual_seed(3), dtype=torch.uint8
    )
    x0 = k.float() / 127.5 - 1
    model = GaussianOracle(sched)
    a = bpd_full(model, sched, k, generator=torch.Generator().manual_seed(0))
    b = bpd_full(model, sched, x0, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(a.per_image, b.per_image)


def test_batches_cover_every_image(sched):
    # identical images: the oracle knows x_0 whatever the batch, so every total is exactly L_T + L_0
    one = pixels(1, seed=2)
    x0 = one.expand(5, -1, -1, -1).clone()

    def oracle(xt, t):
        return predict_eps_from_x0(sched, xt, t, one.expand_as(xt))

    expected = ref_oracle_bound(ref.linear_betas(T_SMALL, 1e-4, 0.2), one.numpy())[0]
    full = bpd_full(oracle, sched, x0, batch_size=2)
    fast = bpd_fast(
        oracle, sched, x0, k=T_SMALL, batch_size=2, generator=torch.Generator().manual_seed(0)
    )
    for r in (full, fast):
        assert r.n == 5
        np.testing.assert_allclose(r.per_image.numpy(), expected, atol=1e-9)
        assert r.half_width == pytest.approx(0.0, abs=1e-9)


# ---- the fast estimator ------------------------------------------------------------------------

def test_fast_with_all_steps_is_the_full_bound(sched):
    x0 = pixels(6, seed=4)
    full = bpd_full(Oracle(sched, x0), sched, x0, batch_size=6)
    fast = bpd_fast(Oracle(sched, x0), sched, x0, k=T_SMALL, batch_size=6,
                    generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(fast.per_image, full.per_image, atol=1e-9, rtol=0)
    torch.testing.assert_close(fast.per_t, full.per_t, atol=1e-9, rtol=0)


def test_kept_terms_resample_the_fast_estimator_without_the_network(sched):
    from ddpm_edu.evaluation import fast_from_terms

    x0 = pixels(6, seed=4)
    model = Blend(sched, x0)                      # an imperfect model: every term is non-zero
    full = bpd_full(model, sched, x0, batch_size=6, keep_terms=True,
                    generator=torch.Generator().manual_seed(0))
    assert full.terms.shape == (6, T_SMALL) and bpd_full(Oracle(sched, x0), sched, x0).terms is None
    torch.testing.assert_close(full.per_image, full.prior + full.terms.sum(1), atol=1e-12, rtol=0)
    torch.testing.assert_close(full.per_t, full.terms.mean(0), atol=1e-12, rtol=0)
    # the oracle's terms do not depend on x_t: resampled from kept terms = bpd_fast, same steps
    exact = bpd_full(Oracle(sched, x0), sched, x0, batch_size=6, keep_terms=True)
    for dec in (False, True):
        fast = bpd_fast(Oracle(sched, x0), sched, x0, k=7, batch_size=6, always_decoder=dec,
                        generator=torch.Generator().manual_seed(5))
        again = fast_from_terms(exact.terms, exact.prior, 7, always_decoder=dec,
                                generator=torch.Generator().manual_seed(5))
        torch.testing.assert_close(again, fast.per_image, atol=1e-9, rtol=0)


@pytest.mark.parametrize("replace", [False, True])
def test_fast_estimator_weights_exactly_and_is_unbiased_for_the_oracle(sched, replace):
    # For the oracle only L_0 (the t = 1 term) is non-zero, so an image's estimate is
    # L_T + (T/K)·L_0·(number of times t = 1 was drawn): this pins the weight T/K, and the mean
    # over many images must approach L_T + L_0 (unbiasedness).
    n, K = 2000, 10
    x0 = pixels(1, seed=5).expand(n, -1, -1, -1).clone()
    r = bpd_fast(Oracle(sched, x0), sched, x0, k=K, batch_size=n, replace=replace,
                 generator=torch.Generator().manual_seed(2))
    prior = r.prior[0].item()
    dec = ref_oracle_bound(ref.linear_betas(T_SMALL, 1e-4, 0.2), x0[:1].numpy())[0] - prior
    hits = (r.per_image - prior) / (T_SMALL / K * dec)
    assert torch.allclose(hits, hits.round(), atol=1e-9)      # a whole number of draws of t = 1
    hits = hits.round()
    assert hits.min() == 0 and 1 <= hits.max() <= (K if replace else 1)
    # mean over images → L_T + L_0 within 4 standard errors
    se = r.per_image.std().item() / math.sqrt(n)
    assert abs(r.bpd - (prior + dec)) < 4 * se
    assert r.per_t[0].item() == pytest.approx(dec, abs=1e-9)   # per-t mean of the drawn terms


@pytest.fixture(scope="module")
def full_repeated(sched):
    """The full bound of 4 images under a non-trivial model, each image repeated 300 times."""
    xf = pixels(4, seed=6).repeat(300, 1, 1, 1)
    return bpd_full(
        Blend(sched, xf), sched, xf, batch_size=len(xf), generator=torch.Generator().manual_seed(7)
    )


@pytest.mark.parametrize("replace, always_decoder", [(False, False), (True, False), (False, True)])
def test_fast_mean_over_many_draws_approaches_the_full_bound(
    sched, full_repeated, replace, always_decoder
):
    # Every term is > 0 here; the fast estimator (K = 5) runs 2000 times per image.
    full, xr = full_repeated, pixels(4, seed=6).repeat(2000, 1, 1, 1)
    g = torch.Generator().manual_seed(8)
    fast = bpd_fast(
        Blend(sched, xr),
        sched,
        xr,
        k=5,
        batch_size=len(xr),
        generator=g,
        replace=replace,
        always_decoder=always_decoder,
    )
    assert (full.per_t[1:] > 0).all()
    f, q = full.per_image.view(300, 4), fast.per_image.view(2000, 4)
    se = (f.var(0) / 300 + q.var(0) / 2000).sqrt()
    z = (q.mean(0) - f.mean(0)) / se
    assert z.abs().max() < 4, z
    z_all = (fast.bpd - full.bpd) / math.sqrt(
        full.per_image.var() / full.n + fast.per_image.var() / len(xr)
    )
    assert abs(z_all) < 4


def test_always_decoder_is_exact_for_the_oracle_and_less_noisy(sched):
    x0 = pixels(400, seed=12)
    full = bpd_full(Oracle(sched, x0), sched, x0, batch_size=len(x0))
    fast = bpd_fast(Oracle(sched, x0), sched, x0, k=3, batch_size=len(x0), always_decoder=True,
                    generator=torch.Generator().manual_seed(0))
    # the only non-zero term, L_0, is computed for every image: no sampling noise is left
    torch.testing.assert_close(fast.per_image, full.per_image, atol=1e-9, rtol=0)
    assert fast.always_decoder and fast.to_dict()["always_decoder"] is True
    # a non-trivial model: same images, same K, the spread over images shrinks
    plain = bpd_fast(
        Blend(sched, x0),
        sched,
        x0,
        k=5,
        batch_size=len(x0),
        generator=torch.Generator().manual_seed(1),
    )
    strat = bpd_fast(Blend(sched, x0), sched, x0, k=5, batch_size=len(x0), always_decoder=True,
                     generator=torch.Generator().manual_seed(1))
    assert strat.half_width < 0.5 * plain.half_width
    with pytest.raises(ValueError, match="k ≥ 2"):
        bpd_fast(Blend(sched, x0), sched, x0, k=1, always_decoder=True)


def test_full_and_fast_agree_within_their_intervals(sched):
    x0 = pixels(64, (1, 3, 3), seed=8)
    g = torch.Generator().manual_seed(9)
    full = bpd_full(Blend(sched, x0), sched, x0, batch_size=64, generator=g)
    fast = bpd_fast(Blend(sched, x0), sched, x0, k=10, batch_size=64, generator=g)
    lo, hi = fast.ci95
    assert lo <= full.bpd <= hi
    assert abs(full.bpd - fast.bpd) <= full.half_width + fast.half_width
    # the fast interval is wider (it also carries the step-sampling noise) but still informative
    assert full.half_width < fast.half_width < fast.bpd
    assert fast.estimator == "fast" and fast.k == 10 and fast.replace is False


def test_fast_calls_the_model_with_original_indices_of_a_respaced_schedule(sched):
    short = respace(sched, 10)
    model = GaussianOracle(sched)   # knows only the original schedule
    x0 = pixels(8, seed=10)
    r = bpd_fast(model, short, x0, k=3, generator=torch.Generator().manual_seed(0))
    kept = set(short.timesteps[1:].tolist())
    called = {t for call in model.calls for t in call}
    assert called <= kept and len(called) > 1
    assert r.per_t.shape == (10,) and torch.isfinite(r.per_image).all()


def test_per_t_of_fast_is_nan_where_no_image_drew_the_step(sched):
    x0 = pixels(2, seed=11)
    r = bpd_fast(GaussianOracle(sched), sched, x0, k=3, generator=torch.Generator().manual_seed(0))
    assert int(torch.isfinite(r.per_t).sum()) <= 6
    assert int(torch.isnan(r.per_t).sum()) >= T_SMALL - 6


# ---- the interval, the summary, and bad input --------------------------------------------------

def test_mean_ci95_is_the_normal_approximation():
    v = np.array([1.0, 2.0, 4.0, 7.0, 3.5])
    m, h = mean_ci95(v)
    assert m == pytest.approx(v.mean())
    assert h == pytest.approx(1.959964 * v.std(ddof=1) / math.sqrt(5), rel=1e-6)
    assert Z95 == pytest.approx(1.96, abs=1e-3)
    assert math.isnan(mean_ci95([3.0])[1])
    with pytest.raises(ValueError):
        mean_ci95([])


def test_summary_is_json_and_readable():
    est = BPDEstimate("fast", torch.tensor([1.0, 1.2, 0.8], dtype=torch.float64),
                      torch.zeros(3, dtype=torch.float64),
                      torch.tensor([0.5, float("nan"), 0.1], dtype=torch.float64), 2, False, 0.5)
    d = json.loads(json.dumps(est.to_dict(per_t=True), allow_nan=False))
    assert d["bpd"] == pytest.approx(1.0) and d["n"] == 3 and d["k"] == 2
    assert d["ci95"][0] < 1.0 < d["ci95"][1]
    assert d["per_t"] == [0.5, None, 0.1]
    assert "normal approximation" in d["ci_method"]
    assert "bits/dim" in str(est) and "±" in str(est)
    one = BPDEstimate(
        "full",
        torch.tensor([1.0], dtype=torch.float64),
        torch.zeros(1, dtype=torch.float64),
        torch.zeros(4, dtype=torch.float64),
        None,
        None,
        0.1,
    )
    assert json.loads(json.dumps(one.to_dict(), allow_nan=False))["ci95"] == [None, None]


def test_bad_input_is_explained(sched):
    model = GaussianOracle(sched)
    off_grid = torch.full((2, 1, 2, 2), 0.1234)
    with pytest.raises(ValueError, match="8-bit"):
        bpd_full(model, sched, off_grid)
    with pytest.raises(ValueError, match="8-bit"):
        as_pixel_floats(torch.full((2, 4), 200.0))   # pixels stored as floats 0..255
    with pytest.raises(TypeError, match="uint8"):
        as_pixel_floats(torch.zeros(2, 4, dtype=torch.int64))
    x0 = pixels(2)
    with pytest.raises(ValueError, match="k ≤ T"):
        bpd_fast(model, sched, x0, k=T_SMALL + 1)
    with pytest.raises(ValueError, match="positive int"):
        bpd_fast(model, sched, x0, k=0)
    with pytest.raises(TypeError, match="var_type"):
        bpd_full(model, sched, x0, variance="fixed_small")
    with pytest.raises(ValueError, match="batch_size"):
        bpd_full(model, sched, x0, batch_size=0)


# ---- the command line: ddpm-edu eval ------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A real checkpoint: the 'tiny' recipe (T = 100) trained for 2 steps by the CLI."""
    from ddpm_edu.cli import main
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert (
        main(["train", "--preset", "tiny", "--steps", "2", "--out", str(out), "--no-progress"]) == 0
    )
    return out


def test_eval_cli_json_matches_the_library(tiny_run, capsys):
    from ddpm_edu import load_mnist
    from ddpm_edu.cli import main
    from ddpm_edu.pretrained import load_pretrained

    capsys.readouterr()
    assert (
        main(
            [
                "eval", "--checkpoint", str(tiny_run), "--bpd", "--n", "3", "--fast", "10",
                "--seed", "3", "--json", "--per-t", "--no-progress",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)      # one JSON object, nothing else on stdout
    model = load_pretrained(tiny_run)
    images = load_mnist("test")[0][:3, None]  # the first 3 test images, (3, 1, 28, 28)
    ref = bpd_fast(
        model.eps,
        model.schedule,
        images,
        k=10,
        generator=torch.Generator().manual_seed(3),
        var_type=model.var_type,
    )
    assert out["estimator"] == "fast" and out["n"] == 3 and out["k"] == 10 and out["T"] == 100
    assert out["bpd"] == pytest.approx(ref.bpd, rel=1e-6)
    assert out["ci95"] == pytest.approx(list(ref.ci95), rel=1e-6)
    assert len(out["per_t"]) == 100
    assert [v is None for v in out["per_t"]] == torch.isnan(ref.per_t).tolist()
    assert 0 < out["bpd"] and "normal approximation" in out["ci_method"]


def test_eval_cli_full_bound_human_output_and_errors(tiny_run, capsys):
    from ddpm_edu.cli import main

    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(tiny_run), "--n", "2", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "full bound" in text and "bits/dim" in text and "95 % CI" in text
    assert "normal approximation" in text and "L_0 (decoder" in text and "L_T (prior)" in text
    assert "RealNVP 1.06" in text and "CIFAR-10" in text
    assert (
        main(
            [
                "eval", "--checkpoint", str(tiny_run), "--n", "3", "--fast", "4",
                "--always-decoder", "--no-progress",
            ]
        )
        == 0
    )
    assert "L_0 always" in capsys.readouterr().out
    for argv, says in (
        (["--fast", "0"], "--fast"),
        (["--fast", "101"], "T = 100"),
        (["--always-decoder"], "--fast K"),
        (["--fast", "1", "--always-decoder"], "K ≥ 2"),
        (["--per-t"], "--json"),
        (["--n", "0"], "--n"),
        (["--n", "20000"], "10000"),
    ):
        assert main(["eval", "--checkpoint", str(tiny_run), "--no-progress", *argv]) == 2
        assert says in capsys.readouterr().err
    assert main(["eval", "--checkpoint", str(tiny_run.parent / "nope"), "--no-progress"]) == 2
