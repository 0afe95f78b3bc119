"""Property-based tests (hypothesis): shapes, dtypes and broadcasting of the math core for any
batch layout — x of shape [N], [N, D] or [N, C, H, W], t as an int, a 0-d tensor or an [N] tensor —
checked against the float64 oracle. Example counts are kept small so the file runs in seconds."""
import math

import numpy as np
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import oracle
from ddpm_edu.forward import (
    predict_eps_from_x0,
    predict_x0_from_eps,
    q_mean_variance,
    q_posterior,
    q_sample,
)
from ddpm_edu.losses import (
    discretized_gaussian_log_likelihood,
    normal_kl,
    prior_bpd,
    simple_loss,
    vlb_term,
)
from ddpm_edu.reverse import p_mean_variance
from ddpm_edu.schedules import cosine_schedule, linear_schedule

SCHEDS = {"linear": linear_schedule(100), "cosine": cosine_schedule(100)}
REFS = {
    "linear": oracle.tables(oracle.linear_betas(100)),
    "cosine": oracle.tables(oracle.cosine_betas(100)),
}
# derandomize: the same examples on every run (fixed seeds); no example database written to disk
FAST = settings(max_examples=25, deadline=None, derandomize=True, database=None)

layouts = st.one_of(
    st.tuples(st.integers(1, 5)),  # [N]
    st.tuples(st.integers(1, 5), st.integers(1, 6)),  # [N, D]
    st.tuples(
        st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4)
    ),  # [N, C, H, W]
)
dtypes = st.sampled_from([torch.float32, torch.float64])
t_forms = st.sampled_from(["int", "0-d", "[N]"])


def _t(form, n, data):
    if form == "[N]":
        ts = data.draw(st.lists(st.integers(1, 100), min_size=n, max_size=n))
        return torch.tensor(ts), np.array(ts)
    v = data.draw(st.integers(1, 100))
    return (v if form == "int" else torch.tensor(v)), np.full(n, v)


def _tensor(seed, shape, dtype, lo=-1.0, hi=1.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g, dtype=torch.float64) * (hi - lo) + lo).to(dtype)


def _tol(dtype):
    return 1e-12 if dtype == torch.float64 else 2e-5


@FAST
@given(
    shape=layouts,
    dtype=dtypes,
    form=t_forms,
    kind=st.sampled_from(list(SCHEDS)),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_q_sample_posterior_and_conversions(shape, dtype, form, kind, seed, data):
    sched, ref = SCHEDS[kind], REFS[kind]
    n = shape[0]
    t, t_np = _t(form, n, data)
    x0 = _tensor(seed, shape, dtype)
    eps = torch.randn(
        shape, generator=torch.Generator().manual_seed(seed + 1), dtype=torch.float64
    ).to(dtype)
    xt = q_sample(sched, x0, t, noise=eps)
    assert xt.shape == x0.shape and xt.dtype == dtype
    want = oracle.q_sample(ref, x0.double().numpy(), t_np, eps.double().numpy())
    np.testing.assert_allclose(xt.double().numpy(), want, rtol=0, atol=10 * _tol(dtype))

    mean, var, log_var = q_posterior(sched, x0, xt, t)
    assert mean.shape == shape and mean.dtype == var.dtype == log_var.dtype == dtype
    assert var.shape == (n,) + (1,) * (len(shape) - 1)
    o_mean, o_var, _ = oracle.q_posterior(ref, x0.double().numpy(), xt.double().numpy(), t_np)
    np.testing.assert_allclose(mean.double().numpy(), o_mean, rtol=0, atol=10 * _tol(dtype))
    np.testing.assert_allclose(
        var.double().numpy().reshape(-1),
        np.broadcast_to(o_var, var.shape).reshape(-1),
        rtol=10 * _tol(dtype),
        atol=0,
    )

    m, v, _ = q_mean_variance(sched, x0, t)
    assert m.shape == shape and v.shape == var.shape and m.dtype == dtype

    x0_hat = predict_x0_from_eps(sched, xt, t, eps)
    assert x0_hat.dtype == dtype and x0_hat.shape == shape
    # float32 rounding of x_t is amplified by 1/√ᾱ_t (≤ 1e2 for these T = 100 schedules)
    amp = 1 / math.sqrt(ref.alpha_bar[t_np].min())
    np.testing.assert_allclose(
        x0_hat.double().numpy(), x0.double().numpy(), rtol=0, atol=10 * _tol(dtype) * amp * 5
    )
    eps_back = predict_eps_from_x0(sched, xt, t, x0)
    assert eps_back.dtype == dtype and eps_back.shape == shape


@FAST
@given(
    shape=layouts,
    dtype=dtypes,
    form=t_forms,
    seed=st.integers(0, 2**16),
    data=st.data(),
    mean_type=st.sampled_from(["eps", "x0", "mu"]),
    var_type=st.sampled_from(["fixed_small", "fixed_large"]),
)
def test_p_mean_variance_shapes_dtypes(shape, dtype, form, seed, data, mean_type, var_type):
    sched = SCHEDS["linear"]
    t, _ = _t(form, shape[0], data)
    xt = _tensor(seed, shape, dtype, -3, 3)
    out = _tensor(seed + 7, shape, dtype, -2, 2)
    p = p_mean_variance(sched, out, xt, t, mean_type, var_type)
    bshape = (shape[0],) + (1,) * (len(shape) - 1)
    assert p.mean.shape == p.pred_x0.shape == p.pred_eps.shape == shape
    assert p.variance.shape == p.log_variance.shape == bshape
    assert all(v.dtype == dtype for v in p)
    assert p.pred_x0.abs().max() <= 1


@FAST
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=4, min_dims=0, max_dims=3, max_side=4),
    dtype=dtypes,
    seed=st.integers(0, 2**16),
    as_float=st.lists(st.booleans(), min_size=4, max_size=4),
)
def test_normal_kl_broadcasts(shapes, dtype, seed, as_float):
    """Any mutually broadcastable shapes; any argument (but one) may be a Python float."""
    g = torch.Generator().manual_seed(seed)
    args = [torch.randn(s, generator=g, dtype=torch.float64).to(dtype) for s in shapes.input_shapes]
    as_float[0] = False                                # at least one tensor
    call = [a.flatten()[0].item() if (f and a.numel()) else a for a, f in zip(args, as_float)]
    kl = normal_kl(*call)
    want_shape = torch.broadcast_shapes(
        *[a.shape for a, f in zip(args, as_float) if not (f and a.numel())]
    )
    assert kl.shape == want_shape and kl.dtype == dtype
    want = oracle.normal_kl(
        *[np.asarray(c.double().numpy() if isinstance(c, torch.Tensor) else c) for c in call]
    )
    rtol, atol = (1e-9, 1e-12) if dtype == torch.float64 else (1e-4, 1e-5)
    np.testing.assert_allclose(
        kl.double().numpy(), np.broadcast_to(want, kl.shape), rtol=rtol, atol=atol
    )
    assert (kl >= -1e-6).all()


@FAST
@given(shape=layouts, dtype=dtypes, seed=st.integers(0, 2**16), exact=st.booleans(),
       log_sigma=st.floats(math.log(1e-3), math.log(0.5)), scalar_mean=st.booleans())
def test_decoder_shapes_dtypes_and_oracle(shape, dtype, seed, exact, log_sigma, scalar_mean):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randint(0, 256, shape, generator=g).double() / 127.5 - 1).to(dtype)
    mean = (
        0.3
        if scalar_mean
        else (x.double() + 0.05 * torch.randn(shape, generator=g, dtype=torch.float64)).to(dtype)
    )
    lp = discretized_gaussian_log_likelihood(x, mean, torch.tensor(log_sigma, dtype=dtype), exact)
    assert (
        lp.shape == shape and lp.dtype == dtype and torch.isfinite(lp).all() and (lp <= 1e-12).all()
    )
    mean_np = mean if scalar_mean else mean.double().numpy()
    sigma = math.exp(float(torch.tensor(log_sigma, dtype=dtype)))     # σ as the library sees it
    want = oracle.decoder_log_probs(x.double().numpy(), mean_np, sigma, exact)
    big = want > math.log(1e-11)
    if dtype == torch.float64:
        np.testing.assert_allclose(lp.numpy()[big], want[big], rtol=0, atol=1e-9)
    else:   # float32 inputs (x, μ, σ) are themselves rounded: relative accuracy of log p
        np.testing.assert_allclose(lp.double().numpy()[big], want[big], rtol=2e-3, atol=2e-4)


@FAST
@given(shape=layouts, dtype=dtypes, form=t_forms, seed=st.integers(0, 2**16), data=st.data())
def test_prior_vlb_term_simple_loss_per_example(shape, dtype, form, seed, data):
    sched = SCHEDS["cosine"]
    n = shape[0]
    t, _ = _t(form, n, data)
    g = torch.Generator().manual_seed(seed)
    x0 = (torch.randint(0, 256, shape, generator=g).double() / 127.5 - 1).to(dtype)
    eps = torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)
    xt = q_sample(sched, x0, t, noise=eps)
    for value in (
        prior_bpd(sched, x0),
        vlb_term(sched, 0.9 * eps, x0, xt, t),
        simple_loss(eps, 0.9 * eps),
    ):
        assert value.shape == (n,) and value.dtype == dtype and torch.isfinite(value).all()
        assert (value >= -1e-6).all()
