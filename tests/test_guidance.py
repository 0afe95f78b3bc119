"""Classifier-free guidance: the guided ε against closed forms, the guided model wrapper, and
sampling with class labels."""
from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import MultivariateNormal

from mixture_oracle import MixtureOracle
from ddpm_edu.chain import guided_model
from ddpm_edu.reverse import guided_eps, model_eps_x0
from ddpm_edu.schedules import linear_schedule

S = linear_schedule(1000)
# two classes in 2-D, each a Gaussian; p(y) = PRIOR
PRIOR = (0.6, 0.4)
MEANS = ((-0.5, -0.3), (0.4, 0.5))
COVS = (((0.04, 0.015), (0.015, 0.02)), ((0.01, 0.0), (0.0, 0.03)))


def _oracles():
    """ε*(x_t, y) per class (a one-component 'mixture') and ε*(x_t), the mixture's."""
    cond = [MixtureOracle(S, (1.0,), (m,), (c,)) for m, c in zip(MEANS, COVS)]
    return cond, MixtureOracle(S, PRIOR, MEANS, COVS)


def _log_components(x, t: int):
    """log N(x; √ᾱ μ_k, ᾱ Σ_k + (1−ᾱ) I) for k = 0, 1: (2, N), by torch.distributions."""
    ab = float(S.alpha_bar[t])
    mu = math.sqrt(ab) * torch.tensor(MEANS, dtype=torch.float64)
    eye = torch.eye(2, dtype=torch.float64)
    cov = ab * torch.tensor(COVS, dtype=torch.float64) + (1 - ab) * eye
    return torch.stack([MultivariateNormal(mu[k], cov[k]).log_prob(x) for k in range(2)])


def _guided_score(x, t: int, y: int, w: float):
    """∇ log p(x_t) + (1+w) ∇ log p(y | x_t), by autograd of the exact densities."""
    x = x.clone().requires_grad_(True)
    log_joint = _log_components(x, t) + torch.tensor(PRIOR, dtype=torch.float64).log()[:, None]
    log_px = torch.logsumexp(log_joint, 0)                 # log p(x_t)
    log_py_x = log_joint[y] - log_px                       # log p(y | x_t), Bayes
    return torch.autograd.grad((log_px + (1 + w) * log_py_x).sum(), x)[0]


@pytest.mark.parametrize("t", [10, 300, 800])
@pytest.mark.parametrize("y", [0, 1])
@pytest.mark.parametrize("w", [0.0, 1.0, 3.5])
def test_guided_eps_is_the_score_of_p_x_times_classifier_to_the_1_plus_w(t, y, w):
    cond, uncond = _oracles()
    g = torch.Generator().manual_seed(t + 7 * y)
    x = math.sqrt(S.alpha_bar[t]) * torch.tensor(MEANS[y], dtype=torch.float64) \
        + 0.4 * torch.randn(50, 2, generator=g, dtype=torch.float64)
    tt = torch.full((50,), t)
    eps_c, eps_u = cond[y](x, tt), uncond(x, tt)
    got = guided_eps(eps_c, eps_u, w)
    want = -math.sqrt(float(S.one_minus_alpha_bar[t])) * _guided_score(x, t, y, w)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)
    # diffusers' convention: guidance_scale s = 1 + w, ε̃ = ε_u + s (ε_c − ε_u)
    torch.testing.assert_close(got, eps_u + (1 + w) * (eps_c - eps_u), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mean_type", ["eps", "x0", "mu", "v"])
def test_guiding_raw_outputs_of_any_mean_type_is_guiding_eps(mean_type):
    g = torch.Generator().manual_seed(0)
    x, oc, ou = (torch.randn(5, 1, 4, 4, generator=g, dtype=torch.float64) for _ in range(3))
    assert guided_eps(oc, ou, 0.0) is oc
    t = torch.tensor([1, 10, 100, 500, 999])
    w = 2.5
    # each output is affine in ε̂ at fixed (x_t, t) and the weights (1+w, −w) add up to 1, so
    # guiding the raw outputs gives the output of the guided ε
    ec, eu = (model_eps_x0(S, o, x, t, mean_type)[0] for o in (oc, ou))
    got = model_eps_x0(S, guided_eps(oc, ou, w), x, t, mean_type)[0]
    torch.testing.assert_close(got, guided_eps(ec, eu, w), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("w", [-0.5, float("nan"), float("inf"), "2", True])
def test_bad_guidance_is_refused(w):
    with pytest.raises((ValueError, TypeError), match="guidance"):
        guided_eps(torch.zeros(2), torch.zeros(2), w)


# ---- the guided model and sampling with labels -----------------------------------------------
class _Recorder(torch.nn.Module):
    """A 'conditional network' with known output ε = x·(1 + y) / 10 that records its calls."""

    def __init__(self, num_classes: int = 3):
        super().__init__()
        self.config = type("Cfg", (), {"num_classes": num_classes})()
        self.calls = []

    def forward(self, x, t, y=None):
        self.calls.append((x.shape[0], None if y is None else y.clone()))
        y = torch.full((x.shape[0],), self.config.num_classes) if y is None else y
        return x * (1 + y.to(x).reshape(-1, *[1] * (x.ndim - 1))) / 10


def test_guided_model_makes_one_call_on_the_doubled_batch():
    net = _Recorder()
    x, t = torch.randn(4, 2), torch.full((4,), 5)
    out = guided_model(net, torch.tensor([0, 1, 2, 1]), 1.5)(x, t)
    assert len(net.calls) == 1 and net.calls[0][0] == 8
    assert net.calls[0][1].tolist() == [0, 1, 2, 1, 3, 3, 3, 3]   # [y; null]
    want = guided_eps(net(x, t, torch.tensor([0, 1, 2, 1])), net(x, t, torch.full((4,), 3)), 1.5)
    torch.testing.assert_close(out, want)
    net.calls.clear()
    out0 = guided_model(net, 2, 0.0)(x, t)                 # w = 0: the conditional half only
    assert len(net.calls) == 1 and net.calls[0][1].tolist() == [2, 2, 2, 2]
    torch.testing.assert_close(out0, x * 3 / 10)
    assert guided_model(net, None, 0.0) is net                      # no labels: model unchanged


@pytest.mark.parametrize("kwargs, err, match", [
    (dict(labels=3), ValueError, r"out of range.*0\.\.2"),
    (dict(labels=-1), ValueError, "out of range"),
    (dict(labels=torch.tensor([0.0, 1.0])), TypeError, "integer"),
    (dict(labels="3"), TypeError, "int"),
    (dict(labels=None, guidance=2.0), ValueError, "needs labels"),
    (dict(labels=1, guidance=-1.0), ValueError, "guidance"),
    (dict(labels=1, guidance=float("nan")), ValueError, "guidance"),
])
def test_guided_model_errors(kwargs, err, match):
    with pytest.raises(err, match=match):
        guided_model(_Recorder(), **kwargs)


def test_labels_for_an_unconditional_model_are_refused():
    from ddpm_edu.sampling import sample
    with pytest.raises(ValueError, match="unconditional"):
        sample(lambda x, t: x, S, 2, (2,), steps=3, labels=1, progress=False)


@pytest.mark.parametrize("sampler", ["ddim", "ddpm"])
def test_sample_with_labels_and_guidance_batches_and_matches_the_guided_chain(sampler):
    from ddpm_edu.sampling import ddim_steps, ddpm_steps, sample
    net = _Recorder()
    labels = torch.tensor([0, 1, 2, 0, 1])
    kw = dict(sampler=sampler, steps=4, seed=3, progress=False, labels=labels, guidance=2.0)
    x = sample(net, S, 5, (2,), **kw)
    assert all(n == 10 for n, _ in net.calls) and len(net.calls) == 4
    net.calls.clear()
    # chunks of the doubled batch give the same samples
    assert torch.equal(sample(net, S, 5, (2,), batch_size=3, **kw), x)
    assert max(n for n, _ in net.calls) == 3
    steps = (ddim_steps if sampler == "ddim" else ddpm_steps)(
        net, S, shape=(5, 2), steps=4, generator=torch.Generator().manual_seed(3), labels=labels,
        guidance=2.0)
    assert torch.equal(list(steps)[-1].x.clamp(-1, 1), x)
    with pytest.raises(ValueError, match=r"shape \[4\]"):
        sample(net, S, 4, (2,), **kw)                            # 5 labels for 4 samples


def test_conditional_unet_samples_and_pretrained_model_takes_labels(tmp_path):
    from ddpm_edu.nets import build_network
    from ddpm_edu.pretrained import DEFAULT_GUIDANCE, PretrainedModel
    torch.manual_seed(0)
    net = build_network({"kind": "unet", "image_size": 8, "base_channels": 8,
                         "channel_mult": [1, 2], "attention_resolutions": [], "norm_groups": 4,
                         "num_classes": 10}).eval()
    for p in net.parameters():                      # random weights: the output depends on y
        torch.nn.init.normal_(p, std=0.05)
    pre = PretrainedModel(net, S, "eps", "fixed_small", (1, 8, 8), {"extra": {}}, tmp_path)
    assert pre.num_classes == 10 and pre.default_guidance == DEFAULT_GUIDANCE
    x, t = torch.randn(3, 1, 8, 8), torch.tensor([5, 50, 500])
    torch.testing.assert_close(pre.eps(x, t, 4), net(x, t, torch.full((3,), 4)))
    assert torch.equal(pre.eps(x, t), net(x, t))
    a = pre.sample(3, steps=3, labels=7)            # default guidance
    b = pre.sample(3, steps=3, labels=7, guidance=DEFAULT_GUIDANCE)
    assert a.shape == (3, 1, 8, 8) and torch.equal(a, b)
    assert not torch.equal(a, pre.sample(3, steps=3, labels=7, guidance=0.0))
    with pytest.raises(ValueError, match="out of range"):
        pre.sample(3, steps=3, labels=10)


@pytest.mark.parametrize("which", ["langevin", "ode"])
def test_score_samplers_take_labels_and_guidance(which):
    from ddpm_edu.score import langevin_steps, ode_steps
    net = _Recorder()
    kw = dict(shape=(4, 2), generator=torch.Generator().manual_seed(0), labels=1, guidance=3.0)
    if which == "langevin":
        steps = langevin_steps(net, S, levels=3, steps_per_level=2, **kw)
    else:
        steps = ode_steps(net, S, steps=3, **kw)
    assert list(steps)[-1].x.shape == (4, 2)
    assert net.calls and all(n == 8 and y.tolist() == [1] * 4 + [3] * 4 for n, y in net.calls)
