"""Figures: each returns a Figure whose artists hold the right numbers (checked against the library
and against independent computations: trapezoid integrals, polygon areas, pinned
reference values)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ddpm_edu import VLBTerms, cosine_schedule, discretized_gaussian_log_likelihood, linear_schedule
from ddpm_edu.viz import likelihood_plots as lp
from ddpm_edu.viz import plots
from ddpm_edu.viz.frames import frame_times

FLOWER = Path(__file__).parents[1] / "data" / "images" / "flower64.png"


def _is_agg_figure(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    return isinstance(fig, Figure) and isinstance(fig.canvas, FigureCanvasAgg)


def test_image_grid_shows_the_tiled_pixels():
    x = torch.rand(6, 1, 5, 7) * 2 - 1
    fig = plots.image_grid(x, nrow=3, title="six")
    assert _is_agg_figure(fig)
    (img,) = fig.axes[0].get_images()
    a = img.get_array()
    assert a.shape == (2 * 5 + 1, 3 * 7 + 2)  # 2 rows × 3 columns with 1-px pads
    from ddpm_edu import to_pixels

    assert np.array_equal(np.asarray(a[6:11, 8:15]), to_pixels(x[4, 0]).numpy())  # row 1, column 1
    assert fig.axes[0].get_title() == "six"


def test_schedules_figure_plots_beta_alpha_bar_and_snr():
    fig = plots.schedules_figure(T=200)
    a_beta, a_ab, a_snr = fig.axes
    assert [len(ax.get_lines()) for ax in fig.axes] == [4, 4, 4]
    assert a_beta.get_yscale() == "log" and a_snr.get_yscale() == "log"
    ref = plots.default_schedules(200)
    for line, s in zip(a_beta.get_lines(), ref.values()):
        np.testing.assert_allclose(line.get_ydata(), s.beta[1:].numpy())
    for line, s in zip(a_snr.get_lines(), ref.values()):
        ab = s.alpha_bar[1:].numpy()
        np.testing.assert_allclose(line.get_ydata(), ab / (1 - ab), rtol=1e-12)
    legend = [t.get_text() for t in a_ab.get_legend().get_texts()]
    assert legend[0] == f"ᾱ_T = {linear_schedule(200).alpha_bar[-1].item():.2e}"
    assert set(ref) == {"linear 1e-4→0.02 (DDPM)", "cosine (improved DDPM)", "linear 1e-4→0.2",
                        "geometric 1e-4→0.02"}


def test_forward_strip_titles_and_first_panel():
    s = linear_schedule(100)
    fig = plots.forward_strip(FLOWER, s, n=5, generator=torch.Generator().manual_seed(0))
    ts = sorted(frame_times(s, 5))
    assert [ax.get_title().splitlines()[0] for ax in fig.axes] == [f"t = {t}" for t in ts]
    from PIL import Image

    first = fig.axes[0].get_images()[0].get_array()
    assert np.array_equal(np.asarray(first), np.asarray(Image.open(FLOWER).convert("RGB")))
    with pytest.raises(ValueError, match="0..100"):
        plots.forward_strip(FLOWER, s, ts=[0, 101])


def test_vlb_terms_figure_from_vlbterms_and_from_an_array():
    g = torch.Generator().manual_seed(0)
    terms = torch.rand(3, 20, generator=g, dtype=torch.float64) + 0.01
    terms[:, 7] = float("nan")  # a step not evaluated
    prior = torch.full((3,), 1e-5, dtype=torch.float64)
    v = VLBTerms(terms, prior, prior + terms.nansum(1))
    fig = plots.vlb_terms_figure(v)
    ax = fig.axes[0]
    kl_line, dec, pri = ax.get_lines()
    mean = terms.nanmean(0).numpy()
    expected_t = [t for t in range(2, 21) if t != 8]
    np.testing.assert_array_equal(kl_line.get_xdata(), expected_t)
    np.testing.assert_allclose(kl_line.get_ydata(), mean[np.array(expected_t) - 1])
    assert dec.get_xdata()[0] == 1 and dec.get_ydata()[0] == pytest.approx(mean[0])
    assert pri.get_xdata()[0] == 21 and pri.get_ydata()[0] == pytest.approx(1e-5)
    assert ax.get_yscale() == "log"
    assert f"{np.nansum(mean) + 1e-5:.4g}" in ax.get_title()
    fig2 = plots.vlb_terms_figure(torch.tensor(mean))
    assert len(fig2.axes[0].get_lines()) == 2  # no prior for a bare array
    with pytest.raises(ValueError, match="1-D"):
        plots.vlb_terms_figure(terms)


def test_kl_figure_area_is_the_kl():
    fig = lp.kl_figure()  # math-reference.md: KL(N(0.3, 0.2) ‖ N(−0.1, 0.5)) = 0.318145 nats
    ax_d, ax_i = fig.axes
    assert len(ax_d.get_lines()) == 2 and len(ax_i.collections) == 2  # p, q; green and red areas
    x, f = ax_i.get_lines()[0].get_data()
    assert np.trapezoid(f, x) == pytest.approx(0.318145, abs=2e-4)  # the drawn area (±4σ window)
    assert "closed form 0.3181 nats" in ax_i.get_title() and "numeric ∫ 0.3181" in ax_i.get_title()


@pytest.mark.parametrize(
    "params", [(0.0, 1.0, 0.0, 1.0), (1.0, 0.3, -2.0, 2.5), (0.2, 2.0, 0.1, 0.4)]
)
def test_kl_scene_matches_torch_distributions(params):
    from torch.distributions import Normal, kl_divergence

    s = lp.kl_scene(*params)
    ref = float(kl_divergence(Normal(params[0], params[1]), Normal(params[2], params[3])))
    assert s.closed_form == pytest.approx(ref, rel=1e-6, abs=1e-9)
    assert s.numeric == pytest.approx(ref, rel=1e-6, abs=1e-9)
    with pytest.raises(ValueError, match="standard deviation"):
        lp.kl_scene(0.0, -1.0, 0.0, 1.0)


def _shoelace(v):
    x, y = v[:, 0], v[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))


def test_bucket_figure_shaded_areas_are_the_probabilities():
    from matplotlib.colors import to_rgba

    fig = lp.bucket_figure(0.01, 0.01, pixel=130)
    ax = fig.axes[0]
    (coll,) = ax.collections
    s = lp.bucket_scene(0.01, 0.01, 130)
    paths = coll.get_paths()
    assert len(paths) == len(s.buckets)
    # each interior bucket's shaded polygon has the area of its probability (independent geometry)
    w = 2 / 255
    for (k, xs, _), path in zip(s.buckets, paths):
        if xs[-1] - xs[0] > w * 0.999:
            assert _shoelace(path.vertices) == pytest.approx(s.probs[k], abs=2e-4)
    i = [k for k, _, _ in s.buckets].index(130)
    assert tuple(coll.get_facecolors()[i]) == to_rgba("tab:red")
    assert "Σ_k p(k) = 1.000000" in ax.get_title() and "pixel k = 130" in ax.get_title()


def test_bucket_scene_edges_sum_and_pinned_decoder_values():
    for mean, sigma in [(0.0, 1e-3), (-1.1, 0.05), (0.7, 0.5), (1.3, 0.01)]:
        p = lp.bucket_probabilities(mean, sigma)
        assert abs(p.sum() - 1) < 1e-9 and (p >= 0).all()
    s = lp.bucket_scene(-0.995, 0.02, 0)
    assert s.edge_left and not s.edge_right and s.buckets[0][0] == 0 and s.buckets[0][1][0] == s.lo
    # math-reference.md: oracle decoder (μ = x_0, σ = √β̃_2, linear T=1000), exact CDF
    sig = math.sqrt(linear_schedule(1000).posterior_variance[2].item())
    p = lp.bucket_probabilities(100 / 127.5 - 1, sig)
    assert -math.log2(p[100]) == pytest.approx(1.3054, abs=1e-4)
    assert -math.log2(lp.bucket_probabilities(1.0, sig)[255]) == pytest.approx(0.5098, abs=1e-4)
    sig_c = math.sqrt(cosine_schedule(1000).posterior_variance[2].item())
    assert -math.log2(lp.bucket_probabilities(128 / 127.5 - 1, sig_c)[128]) == pytest.approx(
        0.7390, abs=1e-4
    )
    # the probabilities are the library's
    x = torch.tensor([40 / 127.5 - 1], dtype=torch.float64)
    ref = discretized_gaussian_log_likelihood(
        x,
        torch.tensor([-0.6], dtype=torch.float64),
        torch.tensor([math.log(0.03)], dtype=torch.float64),
    ).exp()
    assert lp.bucket_probabilities(-0.6, 0.03)[40] == pytest.approx(float(ref), rel=1e-12)
    with pytest.raises(ValueError, match="0..255"):
        lp.bucket_scene(0.0, 0.01, 256)


def test_widget_pictures_draw_the_scenes():
    a = lp.kl_image(lp.kl_scene(), width=600, height=200)
    assert a.shape == (200, 600, 3) and a.dtype == np.uint8
    green = np.all(a == np.array([152, 223, 138], np.uint8), axis=-1).sum()
    red = np.all(a == np.array([255, 152, 150], np.uint8), axis=-1).sum()
    assert green > red > 0  # the positive area outweighs the negative one (KL > 0)
    b = lp.bucket_image(lp.bucket_scene(0.0, 0.01, 128), width=500, height=220)
    assert b.shape == (220, 500, 3)
    assert np.all(b == np.array([214, 39, 40], np.uint8), axis=-1).sum() > 100  # the chosen bucket
