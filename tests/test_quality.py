"""Digit classifier and sample-quality report: closed-form Fréchet distances, real digits vs noise,
input validation, and the pinned SHA-256 of the shipped weights."""
from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import torch

from ddpm_edu.classifier import (CLASSIFIER_SHA256, as_classifier_input, default_classifier,
                                 load_classifier, save_classifier, shipped_classifier_path,
                                 train_classifier, _random_shift)
from ddpm_edu.quality import (QualityReport, feature_statistics, frechet_distance, sample_quality)


# ---- Fréchet distance against closed forms ---------------------------------------------------

def test_frechet_distance_1d_closed_form():
    # N(m1, s1²) vs N(m2, s2²): (m1 − m2)² + (s1 − s2)²
    f64 = dict(dtype=torch.float64)
    d = frechet_distance(torch.tensor([0.3], **f64), torch.tensor([[0.25]], **f64),
                         torch.tensor([-0.2], **f64), torch.tensor([[4.0]], **f64))
    assert d == pytest.approx(0.5 ** 2 + (0.5 - 2.0) ** 2, rel=1e-12)


def test_frechet_distance_2x2_non_commuting_closed_form():
    # for 2×2 PSD M: tr √M = √(tr M + 2 √det M); here M = Σ₁Σ₂ (same eigenvalues as Σ₁^½Σ₂Σ₁^½)
    c1 = torch.tensor([[2.0, 0.6], [0.6, 0.5]], dtype=torch.float64)
    c2 = torch.tensor([[1.0, -0.3], [-0.3, 3.0]], dtype=torch.float64)
    m1, m2 = torch.tensor([1.0, 2.0]), torch.tensor([0.0, -1.0])
    prod = c1 @ c2
    tr_sqrt = math.sqrt(prod.trace() + 2 * math.sqrt(torch.linalg.det(prod)))
    expected = 1.0 + 9.0 + c1.trace() + c2.trace() - 2 * tr_sqrt
    assert frechet_distance(m1, c1, m2, c2) == pytest.approx(float(expected), rel=1e-10)
    assert frechet_distance(m1, c1, m1, c1) == pytest.approx(0.0, abs=1e-10)
    assert frechet_distance(m1, c1, m2, c2) == pytest.approx(frechet_distance(m2, c2, m1, c1),
                                                             rel=1e-10)


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes do not match"):
        frechet_distance(torch.zeros(2), torch.eye(2), torch.zeros(3), torch.eye(3))


def test_feature_statistics_match_numpy():
    f = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    mu, cov = feature_statistics(f)
    np.testing.assert_allclose(mu.numpy(), f.double().numpy().mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov.numpy(), np.cov(f.double().numpy(), rowvar=False), rtol=1e-10)
    with pytest.raises(ValueError, match="at least 2"):
        feature_statistics(f[:1])


# ---- input convention ------------------------------------------------------------------------

def test_classifier_input_accepts_uint8_and_model_range():
    px = torch.tensor([[0, 255], [128, 64]], dtype=torch.uint8).repeat(14, 14)[None]  # (1, 28, 28)
    x = as_classifier_input(px)
    assert x.shape == (1, 1, 28, 28)
    torch.testing.assert_close(x, px[:, None].float() / 127.5 - 1)
    torch.testing.assert_close(as_classifier_input(x[:, 0]), x)  # floats in [−1, 1] pass through


@pytest.mark.parametrize("images, err, match", [
    (torch.rand(4, 28, 28) * 255, ValueError, r"\[-1, 1\]"),      # 0..255 as floats
    (torch.zeros(4, 3, 28, 28), ValueError, r"\(N, 28, 28\)"),    # colour
    (torch.zeros(4, 32, 32), ValueError, r"\(N, 28, 28\)"),
    (torch.zeros(4, 28, 28, dtype=torch.int64), TypeError, "uint8"),
    (torch.full((4, 28, 28), float("nan")), ValueError, "NaN"),
])
def test_classifier_input_refuses_ambiguous_images(images, err, match):
    with pytest.raises(err, match=match):
        as_classifier_input(images)


def test_classifier_input_warns_on_zero_one_images():
    # the one verdict on data ranges (ddpm_edu._checks.image_range_verdict): [0, 1] is a warning
    with pytest.warns(UserWarning, match=r"\[0, 1\].*2 \* x - 1"):
        as_classifier_input(torch.rand(4, 28, 28))


def test_random_shift_moves_the_image_and_fills_background():
    x = -torch.ones(1, 1, 28, 28)
    x[0, 0, 10, 12] = 1.0
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        y = _random_shift(x, 2, g)
        (r, c), = (y[0, 0] == 1).nonzero().tolist()
        assert abs(r - 10) <= 2 and abs(c - 12) <= 2
        assert (y == -1).sum() == 28 * 28 - 1


# ---- the shipped classifier and the report ---------------------------------------------------

@pytest.fixture(scope="module")
def mnist_test():
    from ddpm_edu.datasets.mnist import load_mnist

    return load_mnist("test")


def test_shipped_classifier_is_accurate(mnist_test):
    images, labels = mnist_test
    net = default_classifier()
    with torch.no_grad():
        pred = net(as_classifier_input(images[:2000])).argmax(1)
    assert (pred == labels[:2000]).double().mean() >= 0.985


def test_corrupted_classifier_copy_is_refused(tmp_path):
    good = tmp_path / "good.safetensors"
    shutil.copy(shipped_classifier_path(), good)
    load_classifier(good)  # an intact copy passes the pinned SHA-256
    data = bytearray(good.read_bytes())
    data[-5] ^= 0xFF  # flip one weight byte: still a valid safetensors file
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"SHA-256.*expected {CLASSIFIER_SHA256[:12]}"):
        load_classifier(bad)
    load_classifier(bad, sha256=None)  # loads without the check: the bytes are still parseable
    with pytest.raises(FileNotFoundError, match="train one"):
        load_classifier(tmp_path / "missing.safetensors")


def test_real_digits_score_well_and_noise_scores_badly(mnist_test):
    images, labels = mnist_test
    real = sample_quality(images[:1000])
    assert isinstance(real, QualityReport) and real.n == 1000
    assert real.confident_share > 0.95
    assert real.min_class_share > 0.06  # MNIST test: every digit is 8.5–11.4 % of the set
    assert sum(real.class_counts) == 1000
    assert real.class_shares[1] == pytest.approx(real.class_counts[1] / 1000)
    noise = sample_quality(torch.rand(1000, 28, 28, generator=torch.Generator().manual_seed(0))
                           * 2 - 1)
    # measured: real 1000 → FID ≈ 0.6, confident 98 %; noise → FID ≈ 400, confident 0 %
    assert noise.fid > 100 * real.fid
    assert noise.confident_share < 0.05
    d = real.to_dict()
    assert d["fid"] == real.fid and d["class_counts"] == list(real.class_counts)
    assert "not Inception FID" in str(real) and "not Inception FID" in d["fid_kind"]


def test_one_digit_repeated_is_mode_collapse(mnist_test):
    images, labels = mnist_test
    sevens = images[labels == 7][:200]
    r = sample_quality(sevens)
    assert r.min_class_share == 0.0 and r.class_counts[7] >= 195
    assert r.fid > sample_quality(images[:200]).fid  # one class only is far from the test set


def test_train_save_load_round_trip(tmp_path):
    # four steps on 256 digits: the training path runs end to end and survives a save and load
    net, info = train_classifier(epochs=1, batch_size=64, limit=256, outliers_per_batch=6,
                                 seed=3, log=lambda msg: None)
    assert info["train_images"] == 256 and 0.0 <= info["test_accuracy"] <= 1.0
    digest = save_classifier(net, tmp_path / "c.safetensors", info)
    again = load_classifier(tmp_path / "c.safetensors", sha256=digest)
    x = torch.rand(4, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    torch.testing.assert_close(again(as_classifier_input(x)), net(as_classifier_input(x)))
    with pytest.raises(ValueError, match="SHA-256"):  # the pinned hash is the shipped file's
        load_classifier(tmp_path / "c.safetensors")


def test_foreign_safetensors_file_is_not_a_classifier(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"), metadata={"x": "1"})
    with pytest.raises(ValueError, match="not a ddpm_edu digit classifier"):
        load_classifier(tmp_path / "other.safetensors", sha256=None)


def test_conditional_quality_of_real_digits_with_their_labels():
    from ddpm_edu.datasets.mnist import load_mnist
    from ddpm_edu.quality import conditional_quality
    images, labels = load_mnist("test")
    r = conditional_quality(images[:2000], labels[:2000])
    assert r.accuracy > 0.98 and r.min_class_accuracy > 0.95
    # the same images as the reference's first 2000: as varied as real digits, up to sampling
    assert 0.85 < r.diversity < 1.15
    shuffled = conditional_quality(images[:2000], torch.as_tensor(labels[:2000]).roll(1))
    assert shuffled.accuracy < 0.2                      # asked for other digits than drawn
    labels_t = torch.as_tensor(labels).long()
    first = torch.stack([(labels_t == c).nonzero()[0, 0] for c in range(10)])  # one image per class
    copies = torch.as_tensor(images)[first].repeat_interleave(50, 0)  # 50 copies of each prototype
    r_copies = conditional_quality(copies, labels_t[first].repeat_interleave(50))
    assert r_copies.diversity < 1e-6                     # copies: no variety at all
    assert "requested digit" in str(r) and set(r.to_dict()) >= {"accuracy", "diversity", "fid"}


def test_conditional_quality_refuses_labels_that_do_not_fit():
    from ddpm_edu.datasets.mnist import load_mnist
    from ddpm_edu.errors import InvalidArgument
    from ddpm_edu.quality import conditional_quality
    images, labels = load_mnist("test")
    with pytest.raises(InvalidArgument, match="labels must be 20 digits"):
        conditional_quality(images[:20], labels[:19])
    with pytest.raises(InvalidArgument, match="labels must be 20 digits"):
        conditional_quality(images[:20], torch.full((20,), 10))
