"""Headless widget tests: set a control's .value, check the picture bytes and the numbers changed
and are right (against the library and independent oracles: torch.distributions, direct
formulas)."""
from __future__ import annotations

import io
import math
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("ipywidgets")

from ddpm_edu import discretized_gaussian_log_likelihood, linear_schedule, to_pixels  # noqa: E402
from ddpm_edu.viz.likelihood_widgets import BucketExplorer, KLExplorer, kl_monte_carlo  # noqa: E402
from ddpm_edu.viz.widgets import ChainScrubber, ForwardExplorer  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent / "browser"))
from fakes import ImageOracle, hand_made_chain, ring_image  # noqa: E402

FLOWER = Path(__file__).parents[1] / "data" / "images" / "flower64.png"


def _decode(png: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG"
        return np.asarray(im)


def _number(text: str, after: str) -> float:
    return float(text.split(after, 1)[1].split()[0])


def test_forward_explorer_shows_q_sample():
    fe = ForwardExplorer(FLOWER, t=0, seed=3)
    before = fe.image.value
    pic0 = _decode(before)
    w = pic0.shape[1]
    k = fe.scale
    assert np.array_equal(pic0[:, : 64 * k], pic0[:, w - 64 * k:])  # t = 0: x_t is x_0
    assert fe.values["snr"] == math.inf and "∞" in fe.info.value

    fe.t.value = 300
    assert fe.image.value != before
    s = linear_schedule(1000)
    ab = s.alpha_bar[300].item()
    assert fe.values["alpha_bar"] == pytest.approx(ab, rel=1e-12)
    assert fe.values["snr"] == pytest.approx(ab / (1 - ab), rel=1e-12)
    assert f"{ab:.4g}" in fe.info.value and f"{math.log(ab / (1 - ab)):.4g}" in fe.info.value
    # the right panel is √ᾱ x_0 + √(1−ᾱ) ε with the explorer's ε, computed here directly
    xt = math.sqrt(ab) * fe.x0 + math.sqrt(1 - ab) * fe.noise
    right = _decode(fe.image.value)[::k, (w - 64 * k)::k]
    expected = to_pixels(xt[0]).permute(1, 2, 0).numpy()
    assert np.abs(right.astype(int) - expected.astype(int)).max() <= 1  # float32 rounding at .5

    fe.schedule.value = "cosine (improved DDPM)"
    f = [
        math.cos((u / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2 for u in (0, 300)
    ]  # Nichol & Dhariwal eq. 17
    assert fe.values["alpha_bar"] == pytest.approx(f[1] / f[0], rel=1e-9) and fe.t.value == 300
    assert repr(fe) == "ForwardExplorer(t=300, schedule='cosine (improved DDPM)')"


def test_forward_explorer_adapts_t_range_to_the_schedule():
    from ddpm_edu import cosine_schedule

    fe = ForwardExplorer(
        ring_image(12),
        schedules={"long": linear_schedule(400), "short": cosine_schedule(50)},
        t=300,
    )
    assert fe.t.max == 400
    fe.schedule.value = "short"
    assert fe.t.max == 50 and fe.t.value == 50 and fe.values["t"] == 50
    with pytest.raises(ValueError, match="empty"):
        ForwardExplorer(ring_image(12), schedules={})


def test_chain_scrubber_scrubs_a_precomputed_chain():
    s = linear_schedule(1000)
    x_T = torch.randn(4, 1, 10, 10, generator=torch.Generator().manual_seed(0))
    steps = list(hand_made_chain(ImageOracle(s, ring_image(10)), s, x_T, steps=12))
    cs = ChainScrubber(steps, schedule=s, nrow=2)
    first = cs.image.value
    pic = _decode(first)
    k = cs.scale
    assert (pic[:, (21 + 4) * k:] == 128).all()  # no x̂_0 before the first update: grey
    assert "t = 1000" in cs.info.value
    cs.frame.value = len(steps) - 1
    assert cs.image.value != first and "<b>t = 0</b>" in cs.info.value
    last = _decode(cs.image.value)
    assert np.array_equal(last[0:10 * k:k, 0:10 * k:k], to_pixels(steps[-1][1][0, 0]).numpy())
    assert cs.play.max == cs.frame.max == len(steps) - 1
    assert cs.link.source == (cs.play, "value") and cs.link.target == (cs.frame, "value")
    with pytest.raises(ValueError, match="empty"):
        ChainScrubber([])


def test_kl_explorer_labels_match_normal_kl_and_monte_carlo():
    from torch.distributions import Normal, kl_divergence

    kx = KLExplorer(n_samples=20000, seed=1)
    before = kx.image.value
    kx.mu_q.value, kx.sigma_q.value = 1.0, 0.5
    assert kx.image.value != before
    mu_p, s_p, mu_q, s_q = kx.params()
    ref = float(
        kl_divergence(
            *(
                Normal(torch.tensor(m, dtype=torch.float64), torch.tensor(v, dtype=torch.float64))
                for m, v in ((mu_p, s_p), (mu_q, s_q))
            )
        )
    )
    assert _number(kx.closed_form.value, "(normal_kl):") == round(ref, 4)
    assert kx.values["closed_form"] == pytest.approx(ref, rel=1e-9)
    assert kx.values["numeric"] == pytest.approx(ref, rel=1e-6)
    mc, se = kx.values["monte_carlo"], kx.values["monte_carlo_se"]
    assert abs(mc - ref) < 4 * se and 0 < se < 0.05
    assert _number(kx.monte_carlo.value, "draws):") == round(mc, 4)
    assert repr(kx) == "KLExplorer(mu_p=0.30, sigma_p=0.45, mu_q=1.00, sigma_q=0.50)"


def test_kl_monte_carlo_is_unbiased_and_honest_about_its_error():
    # equal distributions: every draw gives 0 exactly
    assert kl_monte_carlo(0.3, 0.7, 0.3, 0.7, n=1000) == (0.0, 0.0)
    ests = [kl_monte_carlo(0.0, 1.0, 0.5, 2.0, n=2000, seed=s) for s in range(40)]
    ref = math.log(2.0) + (1 + 0.25) / 8 - 0.5
    z = (np.mean([e for e, _ in ests]) - ref) / (np.mean([s for _, s in ests]) / math.sqrt(40))
    assert abs(z) < 4


def test_bucket_explorer_probabilities_and_sum():
    bx = BucketExplorer(mean=0.0, sigma=0.01, pixel=128)
    assert bx.total.value == "Σ over the 256 buckets = 1.000000000"
    before = bx.image.value

    bx.pixel.value = 131
    bx.mean.value = 0.02
    assert bx.image.value != before
    x = torch.tensor([131 / 127.5 - 1], dtype=torch.float64)
    ref = float(
        discretized_gaussian_log_likelihood(
            x,
            torch.tensor([0.02], dtype=torch.float64),
            torch.tensor([math.log(bx.sigma.value)], dtype=torch.float64),
        ).exp()
    )
    assert bx.values["pixel_prob"] == pytest.approx(ref, rel=1e-12)
    assert f"{ref:.6g}" in bx.probability.value
    assert bx.values["bits"] == pytest.approx(-math.log2(ref))
    assert abs(bx.values["total"] - 1) < 1e-9 and bx.total.value.endswith("1.000000000")
    assert "k=128" in bx.neighbours.value and "k=134" in bx.neighbours.value

    # an edge pixel takes the whole tail: μ far above 1 puts nearly all mass on k = 255
    bx.mean.value, bx.pixel.value = 1.2, 255
    assert bx.values["pixel_prob"] == pytest.approx(1.0, abs=1e-9) and bx.total.value.endswith(
        "1.000000000"
    )

    # DDPM's tanh CDF differs from the exact one by up to 1.8e−4 per CDF value
    bx.mean.value, bx.sigma.value, bx.pixel.value = 0.0, 0.05, 140
    exact = bx.values["pixel_prob"]
    bx.exact.value = False
    assert bx.values["pixel_prob"] != exact and abs(bx.values["pixel_prob"] - exact) < 4e-4
    assert abs(bx.values["total"] - 1) < 1e-9


def test_displays_as_a_widget_with_short_text():
    for w, css in ((KLExplorer(), "ddpm-edu-kl"), (BucketExplorer(), "ddpm-edu-bucket")):
        assert css in w.box._dom_classes
        bundle = w._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle
        assert bundle["text/plain"] == repr(w) and "b'" not in bundle["text/plain"]


def test_static_fallbacks_are_figures():
    from matplotlib.figure import Figure

    s = linear_schedule(1000)
    steps = list(
        hand_made_chain(ImageOracle(s, ring_image(8)), s, torch.randn(1, 1, 8, 8), steps=10)
    )
    figs = [
        ForwardExplorer.static(FLOWER, ts=(0, 100, 1000)),
        ChainScrubber.static(steps, n=4, schedule=s),
        ChainScrubber.static(steps, n=3),
        KLExplorer.static(),
        BucketExplorer.static(0.5, 0.02, 191),
    ]
    assert all(isinstance(f, Figure) for f in figs)
    assert len(figs[0].axes) == 4 * 3  # four schedules × three times
    from ddpm_edu.viz.frames import pick_steps, step_time

    chosen = [step_time(x) for x in pick_steps(steps, s, 4)]
    assert [ax.get_title() for ax in figs[1].axes[:len(chosen)]] == [f"t = {t}" for t in chosen]
    assert [ax.get_title() for ax in figs[2].axes[:3]] == [
        "t = 1000",
        f"t = {step_time(steps[5])}",
        "t = 0",
    ]
    with pytest.raises(ValueError, match="outside"):
        ForwardExplorer.static(FLOWER, ts=(0, 2000))


# ---- the score field of chapter 10, on one Gaussian whose ε* is known in closed form ------------
_M, _S = torch.tensor([0.3, -0.2], dtype=torch.float64), 0.25   # data x_0 ~ N(m, s² I) in 2-D
_SCHED = linear_schedule(100, 1e-3, 0.1)


def _var(t):
    ab = _SCHED.alpha_bar[t]
    return ab, ab * _S ** 2 + 1 - ab                              # q(x_t) = N(√ᾱ m, var I)


def _exact(x, t):
    ab, var = _var(t)
    return (1 - ab).sqrt() * (x - ab.sqrt() * _M) / var           # E[ε | x_t] = −√(1−ᾱ)·score


def _half(x, t):
    return 0.5 * _exact(x, t)                                     # relative error (1 − ½)² = ¼


def _log_q(x, t):
    ab, var = _var(t)
    return -((x - ab.sqrt() * _M) ** 2).sum(1) / (2 * var) - torch.log(2 * math.pi * var)


def _sample(n, g):
    return _M + _S * torch.randn(n, 2, generator=g, dtype=torch.float64)


def test_score_field_explorer_redraws_and_reports_the_error():
    from ddpm_edu.viz.score_widgets import ScoreFieldExplorer

    sx = ScoreFieldExplorer(_SCHED, _exact, _half, _log_q, _sample, t=10)
    before = sx.image.value
    assert _decode(before).shape[:2] == (330, 640)
    assert sx.values["error"] == pytest.approx(0.25, rel=1e-12)
    assert "q(x<sub>t</sub>): 0.250" in sx.info.value
    sx.t.value = 60
    ab = _SCHED.alpha_bar[60].item()
    assert sx.image.value != before and sx.values["alpha_bar"] == ab
    assert f"ᾱ<sub>t</sub> = {ab:.4g}, √(1−ᾱ<sub>t</sub>) = {math.sqrt(1 - ab):.4g}" in \
        sx.info.value
    assert repr(sx) == "ScoreFieldExplorer(t=60)" and "ddpm-edu-score-field" in sx.box._dom_classes
    assert sx.t.max == _SCHED.T


def test_score_field_pictures_show_minus_eps_over_the_density():
    from matplotlib.quiver import Quiver

    from ddpm_edu.viz.plots import new_figure
    from ddpm_edu.viz.score_plots import arrow_scale, draw_score_field, eps_field, grid_points

    t = 30
    scale = arrow_scale(_exact, t)
    xy = grid_points(17)
    assert xy.shape == (289, 2) and xy[0].tolist() == [-1.3, -1.3] and xy[1].tolist()[1] > -1.3
    assert _exact(xy, t).norm(dim=1).max().item() / scale == pytest.approx(0.3)
    fig, ax = new_figure((3, 3), nrows=1, ncols=1)
    draw_score_field(ax, _exact, _log_q, t, scale)
    quiver = next(c for c in ax.collections if isinstance(c, Quiver))
    np.testing.assert_allclose(quiver.U, -_exact(xy, t)[:, 0].numpy())
    np.testing.assert_allclose(quiver.V, -_exact(xy, t)[:, 1].numpy())
    assert quiver.scale == scale
    shade = ax.images[0].get_array()                                # rows: y, columns: x
    ab, var = _var(t)
    y, x = 1.3 * (2 * 7 / 89 - 1), 1.3 * (2 * 80 / 89 - 1)         # row 7, column 80 of the 90 × 90
    d2 = (x - ab.sqrt() * _M[0]) ** 2 + (y - ab.sqrt() * _M[1]) ** 2
    assert shade[7, 80] == pytest.approx(float(torch.exp(-d2 / (2 * var)) / (2 * math.pi * var)))

    calls = []

    def net(x, tt):
        calls.append((x.dtype, tt.dtype, tt.tolist()))
        return 2 * x
    eps = eps_field(net)(xy[:3], 7)
    assert eps.dtype == torch.float64 and torch.allclose(eps, 2 * xy[:3], atol=1e-6)
    assert calls == [(torch.float32, torch.long, [7, 7, 7])]


def test_score_field_static_figures():
    from matplotlib.figure import Figure

    from ddpm_edu.viz.score_plots import points_figure
    from ddpm_edu.viz.score_widgets import ScoreFieldExplorer

    fig = ScoreFieldExplorer.static(_SCHED, _exact, _half, _log_q, ts=(2, 50, 100))
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * 3
    assert [ax.get_title() for ax in fig.axes[:3]] == [
        f"t = {t}, ᾱ_t = {_SCHED.alpha_bar[t].item():.3g}" for t in (2, 50, 100)]
    assert fig.axes[0].get_ylabel() == "exact  −ε*" and fig.axes[3].get_ylabel() == "learned  −ε_θ"
    g = torch.Generator().manual_seed(0)
    pts = points_figure({"data": _sample(50, g), "model": _sample(50, g)}, marks=_M[None])
    assert [ax.get_title() for ax in pts.axes] == ["data", "model"]
    assert len(pts.axes[0].collections) == 2 and pts.axes[0].get_xlim() == (-1.3, 1.3)


# ---- the bound's terms (chapter 3), DDIM's knobs (chapter 8), the fast estimator (chapter 9) -----
def _digits(n=3, size=10, seed=0):
    """n noisy rings quantised to 8 bits, [n, 1, size, size] in [−1, 1]: stand-in test digits."""
    g = torch.Generator().manual_seed(seed)
    x = ring_image(size) + 0.2 * torch.randn(n, 1, size, size, generator=g)
    return to_pixels(x.clamp(-1, 1)).float() / 127.5 - 1


def test_vlb_term_explorer_shows_the_terms_of_vlb_terms():
    from ddpm_edu import q_posterior, vlb_terms
    from ddpm_edu.viz.vlb_widgets import VLBTermExplorer

    s = linear_schedule(100)
    model, x0, steps = ImageOracle(s, ring_image(10), s=0.3), _digits(), [1, 2, 5, 20, 100]
    ve = VLBTermExplorer(model, s, x0, steps, seed=4, labels=["a", "b", "c"], t=20)
    r = vlb_terms(s, model, x0, timesteps=steps, generator=torch.Generator().manual_seed(4))
    assert torch.equal(ve.terms, r.terms[:, [t - 1 for t in steps]])  # same draws, same terms
    before = ve.image.value
    ve.t.value, ve.digit.value = 5, 2
    assert ve.image.value != before and repr(ve) == "VLBTermExplorer(t=5, image=2)"
    term = r.terms[2, 4].item()
    assert ve.values["term"] == term and f"L<sub>4</sub> = <b>{term:.4g}</b>" in ve.info.value
    assert f"{r.terms[:, 4].mean().item():.4g}" in ve.info.value
    # with σ_t² = β̃_t on both sides the KL is only the means': mean(((μ̃ − μ_θ)/σ_t)²)/2 nats
    sc = ve.scenes[2]
    sigma2 = s.posterior_variance[5].item()
    kl = ((sc.true_mean[2] - sc.model_mean[2]) ** 2).mean().item() / (2 * sigma2) / math.log(2)
    assert term == pytest.approx(kl, rel=1e-4)
    assert ve.values["sigma"] == pytest.approx(math.sqrt(sigma2), rel=1e-6)
    assert f"σ<sub>t</sub> = {ve.values['sigma']:.4g}" in ve.info.value
    assert torch.allclose(sc.true_mean, q_posterior(s, x0, sc.xt, 5)[0])
    ve.t.value = 1
    assert "L<sub>0</sub> (the decoder)" in ve.info.value
    assert ve.values["term"] == r.terms[2, 0].item()
    assert "ddpm-edu-vlb-terms" in ve.box._dom_classes
    with pytest.raises(ValueError, match="1..100"):
        VLBTermExplorer(model, s, x0, [0, 5])


def test_ddim_explorer_redraws_samples_from_the_same_noise():
    from ddpm_edu import ddim_steps, respace
    from ddpm_edu.viz.sampling_widgets import DDIMExplorer

    s = linear_schedule(100)
    model = ImageOracle(s, ring_image(8), s=0.3)
    x_T = torch.randn(3, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    de = DDIMExplorer(model, s, x_T, step_options=(2, 5, 10), etas=(0.0, 1.0), steps=5, seed=7)
    before = de.image.value
    assert de.values["kept"] == respace(s, 5).timesteps[1:].flip(0).tolist()
    de.eta.value = 1.0
    assert de.image.value != before and repr(de) == "DDIMExplorer(steps=5, eta=1)"
    g = torch.Generator().manual_seed(7)
    *_, last = ddim_steps(model, s, x_T, steps=5, eta=1.0, generator=g)
    assert torch.equal(de.values["samples"], last.x.clamp(-1, 1))
    assert "<b>η = 1</b>" in de.info.value and "kept steps τ: 100, " in de.info.value
    de.steps.value = 10
    assert len(de.values["kept"]) == 10 and "<b>10 steps</b>" in de.info.value
    de.steps.value = 5                                          # from the cache: the same picture
    assert torch.equal(de.values["samples"], last.x.clamp(-1, 1))
    with pytest.raises(ValueError, match="step_options"):
        DDIMExplorer(model, s, x_T, step_options=(2, 5), steps=10)


def test_fast_from_terms_is_bpd_fasts_estimator():
    from ddpm_edu.evaluation import fast_from_terms, sample_timesteps

    terms = torch.rand(4, 30, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    prior = torch.full((4,), 1e-3, dtype=torch.float64)
    est = fast_from_terms(terms, prior, 6, generator=torch.Generator().manual_seed(3))
    steps = sample_timesteps(4, 30, 6, generator=torch.Generator().manual_seed(3))
    direct = prior + torch.stack([terms[i, steps[i] - 1].sum() * 30 / 6 for i in range(4)])
    torch.testing.assert_close(est, direct)
    torch.testing.assert_close(fast_from_terms(terms, prior, 30), prior + terms.sum(1))  # K = T
    dec = fast_from_terms(terms, prior, 30, always_decoder=True)
    torch.testing.assert_close(dec, prior + terms.sum(1))
    with pytest.raises(ValueError, match="one L_T per image"):
        fast_from_terms(terms, prior[:2], 3)


def test_fast_estimator_explorer_readout_against_a_direct_computation():
    from ddpm_edu.evaluation import fast_from_terms, mean_ci95
    from ddpm_edu.viz.vlb_widgets import FastEstimatorExplorer

    g = torch.Generator().manual_seed(0)
    terms = 0.02 * torch.rand(8, 50, generator=g, dtype=torch.float64)
    terms[:, 0] += 0.8                                          # L_0 dominates, as on MNIST
    prior = torch.full((8,), 1e-5, dtype=torch.float64)
    fe = FastEstimatorExplorer(terms, prior, k=5, seed=2, draws=50)
    assert fe.ks == [1, 2, 3, 5, 10, 20, 50] and fe.k.value == 5
    full, fh = mean_ci95(prior + terms.sum(1))
    assert f"{full:.3f} ± {fh:.3f} bits/dim" in fe.info.value
    before = fe.image.value
    fe.k.value = 10
    g = torch.Generator().manual_seed(2)
    est, half = mean_ci95(fast_from_terms(terms, prior, 10, generator=g))
    assert fe.image.value != before and fe.values["estimate"] == est
    assert f"<b>{est:.3f} ± {half:.3f}</b>" in fe.info.value and 0 <= fe.values["coverage"] <= 1
    fe.k.value = 50                                             # K = T: the full bound, no spread
    assert fe.values["estimate"] == pytest.approx(full) and fe.values["spread"] == pytest.approx(0)
    fe.always_decoder.value = True
    fe.k.value = 1
    assert "K ≥ 2" in fe.info.value
    assert repr(fe) == "FastEstimatorExplorer(k=1, always_decoder=True)"
    fe.k.value = 3                                              # stratified: L_0 never missed
    assert fe.values["spread"] < FastEstimatorExplorer(terms, prior, k=3, draws=50).values["spread"]


def test_bound_and_ddim_static_fallbacks_are_figures():
    from matplotlib.figure import Figure

    from ddpm_edu.viz.sampling_widgets import DDIMExplorer
    from ddpm_edu.viz.vlb_widgets import FastEstimatorExplorer, VLBTermExplorer

    s = linear_schedule(100)
    model = ImageOracle(s, ring_image(8), s=0.3)
    figs = [VLBTermExplorer.static(model, s, _digits(2, 8), [1, 2, 10, 100], ts=(1, 10, 100)),
            DDIMExplorer.static(model, s, torch.randn(2, 1, 8, 8), step_options=(2, 5)),
            FastEstimatorExplorer.static(torch.rand(4, 20, dtype=torch.float64), torch.zeros(4))]
    assert all(isinstance(f, Figure) for f in figs)
    assert len(figs[0].axes) == 3 * 3 and figs[0].axes[3].get_title() == "x_t, t = 10"
    assert [ax.get_title() for ax in figs[1].axes] == ["2 steps, η = 0", "5 steps, η = 0",
                                                        "2 steps, η = 1", "5 steps, η = 1"]


class _DigitNet:
    """A 'conditional network' for 8×8 images with a known output ε = x·(1 + y)/20."""

    num_classes = 10

    def __call__(self, x, t, y):
        return x * (1 + y.to(x).reshape(-1, 1, 1, 1)) / 20


class _Verdict:
    def __init__(self, images, labels):
        self.accuracy = float((labels == 7).double().mean()) / 2
        self.diversity = float(images.var(0).mean())


def test_guidance_explorer_redraws_the_requested_digit_and_its_numbers():
    from ddpm_edu.sampling import sample
    from ddpm_edu.viz.guidance_widgets import GuidanceExplorer

    s, net = linear_schedule(100), _DigitNet()
    ge = GuidanceExplorer(net, s, (1, 8, 8), n=4, ws=(0, 1, 3), w=1, digit=7, steps=5, seed=2,
                          judge=_Verdict)
    assert repr(ge) == "GuidanceExplorer(digit=7, w=1)" and ge.values["accuracy"] == 0.5
    want = sample(net, s, 4, (1, 8, 8), steps=5, seed=2, labels=7, guidance=1.0, progress=False)
    assert torch.equal(ge.values["samples"], want)
    assert "guidance_scale 2" in ge.info.value and "<b>50 %</b>" in ge.info.value
    before = ge.image.value
    ge.w.value = 3.0
    want = sample(net, s, 4, (1, 8, 8), steps=5, seed=2, labels=7, guidance=3.0, progress=False)
    assert ge.image.value != before and torch.equal(ge.values["samples"], want)
    assert f"<b>{float(want.var(0).mean()):.2f}</b>" in ge.info.value
    ge.digit.value = 2
    assert ge.values["accuracy"] == 0 and "<b>digit 2, w = 3</b>" in ge.info.value
    ge.digit.value, ge.w.value = 7, 1.0                         # from the cache: the same picture
    assert ge.image.value == before
    with pytest.raises(ValueError, match="ws"):
        GuidanceExplorer(net, s, (1, 8, 8), ws=(0, 1), w=2, judge=_Verdict)


def test_guidance_static_fallback_is_a_figure():
    from matplotlib.figure import Figure

    from ddpm_edu.viz.guidance_widgets import GuidanceExplorer

    fig = GuidanceExplorer.static(_DigitNet(), linear_schedule(100), (1, 8, 8), digit=3,
                                  ws=(0, 2), n=3, steps=3)
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == ["digit 3, w = 0", "digit 3, w = 2"]
