"""ddpm_edu.gaussian_scores against independent oracles: the mixture's score from
tests/mixture_oracle.py (explicit 2×2 algebra), the class scores and the class posterior by autograd
of torch.distributions' log-densities, and the exact network through the guided model."""
from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import MultivariateNormal

from mixture_oracle import COVS, MEANS, WEIGHTS, MixtureOracle
from ddpm_edu.chain import guided_model
from ddpm_edu.gaussian_scores import GaussianClasses
from ddpm_edu.schedules import linear_schedule

S = linear_schedule(1000)
DATA = GaussianClasses(WEIGHTS, MEANS, COVS)


def _points(t, n=40, seed=0):
    g = torch.Generator().manual_seed(seed + t)
    return math.sqrt(S.alpha_bar[t]) * 0.5 * torch.randn(n, 2, generator=g, dtype=torch.float64) \
        + 0.3 * torch.randn(n, 2, generator=g, dtype=torch.float64)


def _autograd(fn, x):
    x = x.clone().requires_grad_(True)
    return torch.autograd.grad(fn(x).sum(), x)[0]


def _class_log_density(x, t, y):
    """log q(x_t | y) = log N(x_t; √ᾱ μ_y, ᾱ Σ_y + (1−ᾱ) I), written from the formula."""
    ab = float(S.alpha_bar[t])
    mu = math.sqrt(ab) * torch.tensor(MEANS[y], dtype=torch.float64)
    cov = ab * torch.tensor(COVS[y], dtype=torch.float64) + (1 - ab) * torch.eye(2).double()
    return MultivariateNormal(mu, cov).log_prob(x)


@pytest.mark.parametrize("t", [0, 1, 50, 400, 1000])
def test_the_marginal_score_is_the_mixture_oracles(t):
    x = _points(t)
    torch.testing.assert_close(DATA.score(S, x, t), MixtureOracle(S).score(x, torch.full((40,), t)),
                               rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(DATA.log_prob(S, x, t), MixtureOracle(S).marginal(t).log_prob(x))


@pytest.mark.parametrize("t", [1, 200, 900])
def test_class_scores_posterior_and_bayes_rule_on_scores(t):
    x = _points(t, seed=5)
    for y in range(3):
        want = _autograd(lambda z, y=y: _class_log_density(z, t, y), x)
        torch.testing.assert_close(DATA.score(S, x, t, y), want, rtol=1e-10, atol=1e-10)
        torch.testing.assert_close(DATA.log_prob(S, x, t, y), _class_log_density(x, t, y))
    joint = torch.stack([_class_log_density(x, t, y) + math.log(WEIGHTS[y]) for y in range(3)], 1)
    post = torch.softmax(joint, 1)
    torch.testing.assert_close(DATA.class_posterior(S, x, t), post)
    # ∇ log p(y | x_t) by autograd of Bayes' rule, against score(y) − score()
    for y in range(3):
        want = _autograd(lambda z, y=y: torch.log_softmax(torch.stack(
            [_class_log_density(z, t, k) + math.log(WEIGHTS[k]) for k in range(3)], 1), 1)[:, y], x)
        torch.testing.assert_close(DATA.classifier_score(S, x, t, y), want, rtol=1e-9, atol=1e-9)


def test_per_row_labels_and_the_null_token():
    x, t = _points(300), 300
    y = torch.tensor([0, 1, 2, 3] * 10)                     # 3 = K: "no label"
    got = DATA.score(S, x, t, y)
    for k in range(3):
        torch.testing.assert_close(got[y == k], DATA.score(S, x[y == k], t, k))
    torch.testing.assert_close(got[y == 3], DATA.score(S, x[y == 3], t))
    torch.testing.assert_close(DATA.eps(S, x, t, y), -math.sqrt(S.one_minus_alpha_bar[t]) * got)


@pytest.mark.parametrize("w", [0.0, 1.0, 4.0])
def test_the_guided_exact_network_is_the_score_of_p_x_times_p_y_given_x_to_the_1_plus_w(w):
    """guided_model (one call on [x; x] with labels [y; ∅]) on ε* gives
    −√(1−ᾱ_t) ∇ log (q(x_t|y) p(y|x_t)^w) = −√(1−ᾱ_t) ∇ (log q(x_t) + (1+w) log p(y|x_t))."""
    net = DATA.network(S)
    for t in (5, 300, 800):
        x = _points(t, seed=9)
        y = torch.tensor([0, 1, 2, 1] * 10)
        got = guided_model(net, y, w)(x, torch.full((40,), t))

        def log_target(z, t=t, y=y):
            joint = torch.stack([_class_log_density(z, t, k) + math.log(WEIGHTS[k])
                                 for k in range(3)], 1)
            log_cond = joint.gather(1, y[:, None])[:, 0] - torch.log(torch.tensor(WEIGHTS))[y]
            log_class = torch.log_softmax(joint, 1).gather(1, y[:, None])[:, 0]
            return log_cond + w * log_class
        want = -math.sqrt(S.one_minus_alpha_bar[t]) * _autograd(log_target, x)
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_exact_samples_have_the_class_moments():
    x, y = DATA.sample(20000, torch.Generator().manual_seed(1), y=1)
    assert (y == 1).all()
    torch.testing.assert_close(x.mean(0), torch.tensor(MEANS[1]).double(), atol=0.005, rtol=0)
    torch.testing.assert_close(x.T.cov(), torch.tensor(COVS[1]).double(), atol=0.002, rtol=0)
    _, y = DATA.sample(20000, torch.Generator().manual_seed(2))
    torch.testing.assert_close(torch.bincount(y).double() / 20000, torch.tensor(WEIGHTS).double(),
                               atol=0.01, rtol=0)


@pytest.mark.parametrize("args, match", [
    (((0.5, 0.6), MEANS[:2], COVS[:2]), "add up to 1"),
    (((0.5, 0.5), MEANS, COVS), "K weights"),
    (((1.0,), MEANS[:1], (((1.0, 2.0), (2.0, 1.0)),)), "positive definite"),
])
def test_bad_data_is_refused(args, match):
    with pytest.raises(ValueError, match=match):
        GaussianClasses(*args)


def test_bad_calls_are_refused():
    with pytest.raises(ValueError, match=r"0\.\.1000"):
        DATA.score(S, torch.zeros(2, 2), 1001)
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        DATA.score(S, torch.zeros(2, 3), 10)
    with pytest.raises(ValueError, match="out of range"):
        DATA.score(S, torch.zeros(2, 2), 10, 4)
    with pytest.raises(ValueError, match="t ≥ 1"):
        DATA.eps(S, torch.zeros(2, 2), 0)


def test_sampling_the_exact_conditional_network_gives_the_class_and_guidance_narrows_it():
    """Ancestral sampling with ε*(x_t, y) (w = 0) draws from about N(μ_y, Σ_y) (the mean within
    Monte Carlo error, the covariance up to the short chain's shrinking); with w = 2 the same chain
    (same noise) is surer of the class and less spread."""
    from mixture_oracle import mean_cov_with_se
    from ddpm_edu.sampling import ddpm_steps

    s = linear_schedule(200, beta_end=0.1)
    net = DATA.network(s)
    x_T = torch.randn(4000, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    out = {}
    for w in (0.0, 2.0):
        *_, last = ddpm_steps(net, s, x_T, labels=1, guidance=w, clip_x0=False,
                              generator=torch.Generator().manual_seed(4))
        out[w] = last.x
    mean, cov, se_mean, _ = mean_cov_with_se(out[0.0])
    assert ((mean - torch.tensor(MEANS[1])).abs() < 4 * se_mean).all()
    # a 200-step chain shrinks a narrow class's variance (chapter 10: the chain's error is O(1/T))
    torch.testing.assert_close(cov, torch.tensor(COVS[1]).double(), rtol=0.3, atol=1e-3)
    doubt = {w: float(1 - DATA.class_posterior(s, x, 0)[:, 1].mean()) for w, x in out.items()}
    assert doubt[2.0] < 0.5 * doubt[0.0]                  # 1 − E p(y|x_0): the classifier's doubt
    assert out[2.0].T.cov().trace() < 0.95 * out[0.0].T.cov().trace()
