"""Bad input gets a clear error that says what is wrong (and, where there is one, the fix)."""
import math
import warnings

import numpy as np
import pytest
import torch

from ddpm_edu._checks import image_range_verdict
from ddpm_edu.forward import predict_x0_from_eps, q_posterior, q_sample, q_step_sample
from ddpm_edu.losses import discretized_gaussian_log_likelihood, normal_kl, vlb_term
from ddpm_edu.pixels import to_model_range, to_pixels
from ddpm_edu.reverse import ddim_step, eps_vlb_weight, p_mean_variance
from ddpm_edu.schedules import (
    Schedule, cosine_schedule, geometric_schedule, linear_schedule, respace, schedule_from_betas,
    schedule_from_config,
)

S = linear_schedule(100)
X = torch.zeros(4, 3, 2, 2)


# ---- time indices -------------------------------------------------------------------------------
def test_t_zero_mentions_the_diffusers_shift():
    with pytest.raises(
        ValueError, match=r"t must lie in 1\.\.100.*got t = 0.*diffusers counts 0\.\.T-1; add 1"
    ):
        q_sample(S, X, 0)
    with pytest.raises(ValueError, match="diffusers"):
        q_sample(S, X, torch.tensor([1, 2, 0, 3]))


@pytest.mark.parametrize("t", [101, -1, torch.tensor([5, 5, 5, 101])])
def test_t_outside_1_to_T(t):
    with pytest.raises(
        ValueError, match=r"t must lie in 1\.\.100 for this schedule, got t = (101|-1)\.$"
    ):
        q_sample(S, X, t)


@pytest.mark.parametrize("t", [3.0, torch.tensor([1.0, 2.0, 3.0, 4.0]), [1, 2, 3, 4]])
def test_float_or_list_t(t):
    with pytest.raises(TypeError, match=r"t must be an (int|integer tensor).*(float|list)"):
        q_sample(S, X, t)


def test_t_bool_and_wrong_t_shape():
    with pytest.raises(TypeError, match="got a bool"):
        q_sample(S, X, True)
    with pytest.raises(
        ValueError, match=r"t must have shape \[4\] \(one time index per example\), got \(3,\)"
    ):
        q_sample(S, X, torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match=r"t must have shape \[4\].*got \(4, 1\)"):
        q_sample(S, X, torch.ones(4, 1, dtype=torch.long))


def test_numpy_integer_t_is_accepted():
    assert torch.equal(q_sample(S, X, np.int64(7), noise=X), q_sample(S, X, 7, noise=X))


# ---- tensors ------------------------------------------------------------------------------------
def test_uint8_pixels_to_q_sample():
    with pytest.raises(
        TypeError,
        match=r"x0 must be a floating-point tensor, got dtype torch.uint8.*to_model_range",
    ):
        q_sample(S, torch.zeros(4, 3, dtype=torch.uint8), 5)


def test_not_a_tensor_and_scalar():
    with pytest.raises(TypeError, match=r"x0 must be a torch.Tensor, got ndarray.*torch.as_tensor"):
        q_sample(S, np.zeros((4, 3)), 5)
    with pytest.raises(ValueError, match=r"batch dimension first.*got a scalar"):
        q_sample(S, torch.tensor(0.5), 5)


def test_nan_in_data_or_model_output():
    bad = X.clone()
    bad[0, 0, 0, 0] = float("nan")
    bad[1, 0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match=r"x0 contains 2 NaN or inf value\(s\)"):
        q_sample(S, bad, 5)
    with pytest.raises(ValueError, match=r"model_output contains 2 NaN or inf"):
        p_mean_variance(S, bad, X, 5)
    with pytest.raises(ValueError, match=r"decoder's mean contains NaN or inf"):
        discretized_gaussian_log_likelihood(X, bad, torch.tensor(-4.0))


def test_wrong_shapes():
    with pytest.raises(
        ValueError, match=r"x and noise must have the same shape, got \(4, 3, 2, 2\) and \(4, 3\)"
    ):
        q_sample(S, X, 5, noise=torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"x0 and xt must have the same shape"):
        q_posterior(S, X, X[:2], torch.tensor([1, 2, 3, 4]))
    with pytest.raises(ValueError, match=r"xt and model_output must have the same shape"):
        p_mean_variance(S, X[..., :1], X, 5)
    with pytest.raises(ValueError, match=r"xt and eps must have the same shape"):
        predict_x0_from_eps(S, X, 5, X[:1])
    with pytest.raises(ValueError, match=r"xt and eps must have the same shape"):
        ddim_step(S, X, X.flatten(1), 5, 4)
    with pytest.raises(ValueError, match=r"xt and noise must have the same shape"):
        ddim_step(S, X, X, 5, 4, eta=1.0, noise=torch.zeros(4, 12))
    with pytest.raises(ValueError, match=r"x_prev and noise|x and noise"):
        q_step_sample(S, X, 5, noise=X[:1])
    with pytest.raises(ValueError, match=r"x0 and xt must have the same shape"):
        vlb_term(S, X, X, X[:, :1], 5)


# ---- schedules ----------------------------------------------------------------------------------
@pytest.mark.parametrize("betas,msg", [
    ([0.1, 0.0, 0.2], r"every β_t must lie in \(0, 1\), but β_2 = 0\..*Give β_1\.\.β_T only"),
    ([0.1, 1.0], r"every β_t must lie in \(0, 1\), but β_2 = 1\."),
    ([-0.1], r"but β_1 = -0\.1"),
    ([0.1, float("nan")], r"betas must be finite, but β_2 = nan"),
    ([[0.1, 0.2]], r"betas must be a 1-D array of β_1\.\.β_T, got shape \(1, 2\)"),
    ([], r"betas is empty"),
])
def test_bad_betas(betas, msg):
    with pytest.raises(ValueError, match=msg):
        schedule_from_betas(betas)


def test_bad_schedule_arguments():
    with pytest.raises(ValueError, match=r"T must be a positive integer number of steps, got 0"):
        linear_schedule(0)
    with pytest.raises(ValueError, match=r"T must be a positive integer.*got 10\.0"):
        cosine_schedule(10.0)
    with pytest.raises(ValueError, match=r"max_beta must lie in \(0, 1\)"):
        cosine_schedule(10, max_beta=1.0)
    with pytest.raises(ValueError, match=r"every β_t must lie in \(0, 1\)"):
        geometric_schedule(10, beta_end=1.5)
    with pytest.raises(ValueError, match=r"unknown schedule kind 'quadratic'"):
        schedule_from_config({"kind": "quadratic", "T": 10})
    with pytest.raises(
        ValueError, match=r"expects the table β_0\.\.β_T.*β_0 = 0.*schedule_from_betas"
    ):
        Schedule(beta=torch.tensor([0.1, 0.2], dtype=torch.float64))


def test_respace_bad_requests():
    with pytest.raises(ValueError, match=r"number of steps must be between 1 and T = 100, got 200"):
        respace(S, 200)
    with pytest.raises(ValueError, match=r"number of steps must be between 1 and T = 100, got 0"):
        respace(S, 0)
    with pytest.raises(ValueError, match=r"timesteps to keep must lie in 1\.\.100, got 0\.\.50"):
        respace(S, [0, 50])
    with pytest.raises(ValueError, match=r"timesteps to keep must be whole numbers.*got 2\.5"):
        respace(S, [2.5, 50])
    with pytest.raises(ValueError, match=r"number of steps must be a whole number, got 10\.5"):
        respace(S, 10.5)
    with pytest.raises(ValueError, match=r"spacing must be 'linspace' or 'leading', got 'log'"):
        respace(S, 10, spacing="log")
    with pytest.raises(ValueError, match=r"the list of timesteps to keep is empty"):
        respace(S, [])
    with pytest.raises(
        ValueError, match=r"respaced schedule has no config of its own.*respace\(\) again"
    ):
        respace(S, 10).to_config()


# ---- reverse process ----------------------------------------------------------------------------
def test_unknown_mean_or_variance_type():
    with pytest.raises(
        ValueError, match=r"mean_type must be one of 'eps', 'x0', 'mu', 'v', got 'epsilon'"
    ):
        p_mean_variance(S, X, X, 5, mean_type="epsilon")
    with pytest.raises(
        ValueError, match=r"var_type must be one of 'fixed_small', 'fixed_large', got 'learned'"
    ):
        p_mean_variance(S, X, X, 5, var_type="learned")
    with pytest.raises(ValueError, match=r"var_type must be one of"):
        eps_vlb_weight(S, 5, "small")


@pytest.mark.parametrize("eta", [-0.5, float("nan"), float("inf"), "1", True])
def test_bad_eta(eta):
    with pytest.raises(
        ValueError, match=r"eta must be a finite number ≥ 0 \(0: deterministic DDIM, 1: DDPM-like\)"
    ):
        ddim_step(S, X, X, 5, 4, eta=eta)


def test_ddim_t_prev_not_before_t():
    with pytest.raises(ValueError, match=r"t_prev must be smaller than t"):
        ddim_step(S, X, X, 5, 5)
    with pytest.raises(ValueError, match=r"t must lie in 0\.\.100.*got t = -1"):
        ddim_step(S, X, X, 5, -1)


# ---- likelihood ---------------------------------------------------------------------------------
def test_decoder_x_outside_minus1_1():
    msg = r"x must be 8-bit pixels mapped to \[-1, 1\].*values in \[0, 255\].*to_model_range"
    with pytest.raises(ValueError, match=msg):
        discretized_gaussian_log_likelihood(torch.tensor([0.0, 255.0]), 0.0, torch.tensor(-3.0))
    with pytest.raises(ValueError, match=r"values in \[-1\.2, 1\]"):
        discretized_gaussian_log_likelihood(torch.tensor([-1.2, 1.0]), 0.0, torch.tensor(-3.0))
    with pytest.raises(ValueError, match=r"decoder's log_scale contains NaN or inf"):
        discretized_gaussian_log_likelihood(torch.tensor([0.0]), 0.0, torch.tensor(float("nan")))


def test_normal_kl_needs_a_tensor():
    with pytest.raises(TypeError, match=r"normal_kl needs at least one torch.Tensor argument"):
        normal_kl(0.0, 0.0, 1.0, math.log(2.0))


# ---- pixels -------------------------------------------------------------------------------------
def test_pixel_conversions():
    msg = r"to_model_range expects uint8 pixels 0\.\.255, got dtype torch.float32.*\[0, 1\]"
    with pytest.raises(TypeError, match=msg):
        to_model_range(torch.rand(2, 2))
    with pytest.raises(
        TypeError, match=r"to_pixels expects a float tensor in \[-1, 1\], got dtype torch.uint8"
    ):
        to_pixels(torch.zeros(2, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"to_pixels got NaN or inf values"):
        to_pixels(torch.tensor([0.0, float("nan")]))
    # and the round trip the messages point to works exactly
    k = torch.arange(256, dtype=torch.uint8)
    assert torch.equal(to_pixels(to_model_range(k)), k)
    assert torch.equal(to_pixels(to_model_range(k, torch.float64)), k)


# ---- one verdict on the range of image data ------------------------------------------------------

def _range_outcome(fn, x) -> str:
    """"error" if ``fn(x)`` raises a ValueError, "warning" if it warns, else "ok"."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fn(x)
        except ValueError:
            return "error"
    return "warning" if any(issubclass(w.category, UserWarning) for w in caught) else "ok"


@pytest.mark.parametrize("k_lo, as_pixels, severity", [
    (0, False, "ok"),          # k/127.5 − 1 over the whole range
    (128, False, "warning"),   # on the grid, but nothing below 0: [0, 1]-looking
    (0, True, "error"),        # 8-bit pixels 0..255 stored as floats
])
def test_training_evaluation_classifier_and_diagnose_give_one_verdict(k_lo, as_pixels, severity):
    from ddpm_edu.classifier import as_classifier_input
    from ddpm_edu.diagnose import check_data
    from ddpm_edu.evaluation import as_pixel_floats
    from ddpm_edu.training import as_training_data

    g = torch.Generator().manual_seed(0)
    k = torch.randint(k_lo, 256, (4, 1, 28, 28), generator=g).float()
    k[0, 0, 0, :2] = torch.tensor([k_lo, 255.0])  # both ends present
    x = k if as_pixels else k / 127.5 - 1
    assert image_range_verdict(x, "x").severity == severity
    assert check_data(x)[0].severity == severity
    for fn in (as_training_data, as_pixel_floats, as_classifier_input):
        assert _range_outcome(fn, x) == severity, fn.__name__
