"""Flow matching (ddpm_edu.flow) against closed forms for Gaussian data N(μ, σ²I).

For y_s = (1 − s) x_0 + s ε with x_0 ~ N(μ, σ²), per coordinate: y_s ~ N((1 − s) μ, V(s)),
V(s) = (1 − s)² σ² + s², and the marginal velocity is the linear regression of u = ε − x_0 on y:

    v*(y, s) = E[ε − x_0 | y_s = y] = −μ + C(s) (y − (1 − s) μ) / V(s),   C(s) = s − (1 − s) σ²

Its ODE maps y_1 to y_0 = μ + σ y_1 exactly (the flow is affine, V(1) = 1). The DDPM side uses the
exact ε* of tests/gaussian_oracle.py, written from the papers independently of ddpm_edu.flow.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from ddpm_edu import linear_schedule
from ddpm_edu.errors import InvalidArgument, InvalidType
from ddpm_edu.flow import (eps_from_velocity, flow_from_vp, flow_matching_loss, flow_steps,
                           straight_path, velocity_from_eps, velocity_target)
from ddpm_edu.score import ode_steps

sys.path.insert(0, str(Path(__file__).parent))
from gaussian_oracle import GaussianOracle  # noqa: E402

MU, SIGMA = 0.3, 0.2


def exact_velocity(y: torch.Tensor, s, mu: float = MU, sigma: float = SIGMA) -> torch.Tensor:
    """v*(y, s) for N(μ, σ²) data (s a number or a tensor broadcasting with y)."""
    var = (1 - s) ** 2 * sigma ** 2 + s ** 2
    cov = s - (1 - s) * sigma ** 2
    return -mu + cov * (y - (1 - s) * mu) / var


class ExactVelocity:
    """v*(y, k/K) as a "trained network" model(y, k)."""

    def __init__(self, levels: int = 1000):
        self.levels = levels

    def __call__(self, y, k):
        s = (k.to(y.dtype) / self.levels).reshape(-1, *([1] * (y.ndim - 1)))
        return exact_velocity(y, s)


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _last(steps):
    *_, step = steps
    return step


# ---- the path, the target, the loss -------------------------------------------------------------
def test_straight_path_and_target_by_hand():
    x0, eps = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.5, 0.5]])
    torch.testing.assert_close(straight_path(x0, eps, 0.25), torch.tensor([[0.875, -1.375]]))
    torch.testing.assert_close(straight_path(x0, eps, torch.tensor([1.0])), eps)
    torch.testing.assert_close(velocity_target(x0, eps), torch.tensor([[-0.5, 2.5]]))


class _LinearPerLevel(torch.nn.Module):
    """v(y, k) = w_k y + c_k: the best such predictor is the exact v* (which is linear in y)."""

    def __init__(self, levels):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(levels + 1, dtype=torch.float64))
        self.c = torch.nn.Parameter(torch.zeros(levels + 1, dtype=torch.float64))

    def forward(self, y, k):
        return self.w[k, None] * y + self.c[k, None]


def test_the_loss_minimiser_is_the_exact_marginal_velocity():
    levels, n = 4, 40000
    g = _gen(0)
    x0 = MU + SIGMA * torch.randn(n, 1, generator=g, dtype=torch.float64)
    k = torch.arange(n) % (levels + 1)
    noise = torch.randn(n, 1, generator=g, dtype=torch.float64)
    net = _LinearPerLevel(levels)
    opt = torch.optim.LBFGS(net.parameters(), lr=1, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = flow_matching_loss(net, x0, t=k, noise=noise, levels=levels)
        loss.backward()
        return loss

    opt.step(closure)
    s = torch.arange(levels + 1, dtype=torch.float64) / levels
    var = (1 - s) ** 2 * SIGMA ** 2 + s ** 2
    w_exact = (s - (1 - s) * SIGMA ** 2) / var
    c_exact = -MU - w_exact * (1 - s) * MU
    # least squares on 8000 points per level: parameters within a few 1/√8000 ≈ 0.011 (×spread)
    torch.testing.assert_close(net.w.detach(), w_exact, atol=0.06, rtol=0)
    torch.testing.assert_close(net.c.detach(), c_exact, atol=0.03, rtol=0)


def test_loss_draws_are_seeded_and_the_exact_velocity_scores_the_irreducible_variance():
    x0 = MU + SIGMA * torch.randn(20000, 2, generator=_gen(1), dtype=torch.float64)
    model = ExactVelocity()
    a = flow_matching_loss(model, x0, generator=_gen(2))
    b = flow_matching_loss(model, x0, generator=_gen(2))
    assert a == b
    # E Var(u | y_s) over s ~ U[0, 1]: Var(u) − C²/V = (1 + σ²) − C²/V = σ²/V(s), averaged
    s = torch.linspace(0, 1, 100001, dtype=torch.float64)
    irreducible = (SIGMA ** 2 / ((1 - s) ** 2 * SIGMA ** 2 + s ** 2)).mean()
    assert abs(a.item() - irreducible.item()) < 0.05 * irreducible.item()


# ---- the samplers -------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["euler", "heun"])
def test_ode_carries_noise_to_the_data_distribution(method):
    y1 = torch.linspace(-3, 3, 61, dtype=torch.float64)[:, None]
    steps = list(flow_steps(ExactVelocity(), y1, steps=200, method=method))
    assert [s.t for s in steps[:2]] == [1000, 995] and steps[-1].t == 0
    assert steps[0].x0_hat is None and steps[1].x0_hat.shape == y1.shape
    torch.testing.assert_close(steps[-1].x, MU + SIGMA * y1, atol=1e-2 if method == "euler" else
                               1e-4, rtol=0)


def test_heun_carries_standard_normal_draws_to_the_data_distribution():
    n = 40000
    y1 = torch.randn(n, 1, generator=_gen(7), dtype=torch.float64)
    out = _last(flow_steps(ExactVelocity(), y1, steps=50, method="heun")).x
    z = 4.0                                                   # tolerance in standard errors
    assert abs(out.mean().item() - MU) < z * SIGMA / n ** 0.5
    assert abs(out.std().item() - SIGMA) < z * SIGMA / (2 * n) ** 0.5


def test_heun_is_second_order_and_euler_first_order():
    y1 = torch.linspace(-3, 3, 61, dtype=torch.float64)[:, None]
    exact = MU + SIGMA * y1

    def err(method, steps):
        out = _last(flow_steps(ExactVelocity(), y1, steps=steps, method=method)).x
        return (out - exact).abs().max().item()

    e_euler = [err("euler", n) for n in (10, 20, 40)]
    e_heun = [err("heun", n) for n in (10, 20, 40)]
    for e in (e_euler, e_heun):
        assert e[0] > e[1] > e[2]
    assert 1.6 < e_euler[1] / e_euler[2] < 2.4                  # error ∝ h
    assert 3.2 < e_heun[1] / e_heun[2] < 4.8                    # error ∝ h²
    assert e_heun[2] < e_euler[2] / 20                          # at equal steps, far smaller


def test_draws_x1_with_the_generator():
    a = _last(flow_steps(ExactVelocity(), shape=(5, 2), steps=4, generator=_gen(3))).x
    b = _last(flow_steps(ExactVelocity(), shape=(5, 2), steps=4, generator=_gen(3))).x
    torch.testing.assert_close(a, b)
    assert a.dtype == torch.float32


# ---- the relation to a DDPM ε-model -------------------------------------------------------------
@pytest.fixture(scope="module")
def sched():
    return linear_schedule(1000)


def test_vp_point_on_the_straight_scale_has_the_straight_marginal(sched):
    t = torch.tensor([1, 100, 500, 1000])
    x0 = torch.full((4, 1), 2.0, dtype=torch.float64)
    eps = torch.full((4, 1), -1.0, dtype=torch.float64)
    a, b = sched.sqrt_alpha_bar[t, None], sched.sqrt_one_minus_alpha_bar[t, None]
    y, s = flow_from_vp(sched, a * x0 + b * eps, t)
    assert s.dtype == torch.float64 and s.shape == (4,)
    torch.testing.assert_close(y, straight_path(x0, eps, s))
    torch.testing.assert_close(s, (b / (a + b))[:, 0])


def test_velocity_of_the_exact_eps_is_the_exact_velocity(sched):
    oracle = GaussianOracle(sched, m=MU, s=SIGMA)
    x = torch.randn(64, 3, generator=_gen(4), dtype=torch.float64) * 1.5
    for t in (1, 10, 300, 1000):
        tt = torch.full((64,), t, dtype=torch.long)
        eps = oracle(x, tt)
        y, s = flow_from_vp(sched, x, tt)
        v = velocity_from_eps(sched, x, eps, t)
        torch.testing.assert_close(v, exact_velocity(y, s[:, None]))
        torch.testing.assert_close(eps_from_velocity(sched, x, v, t), eps)


def test_flow_euler_step_is_the_pf_ode_euler_step(sched):
    """DDPM's PF-ODE (ode_steps, Euler = DDIM η = 0) mapped to (y, s) moves by s-steps of v."""
    oracle = GaussianOracle(sched, m=MU, s=SIGMA)
    x_T = torch.randn(8, 2, generator=_gen(5), dtype=torch.float64)
    steps = list(ode_steps(oracle, sched, x_T, steps=10, method="euler"))
    for now, nxt in zip(steps[1:-1], steps[2:-1]):
        y, s = flow_from_vp(sched, now.x, now.t)
        y_next, s_next = flow_from_vp(sched, nxt.x, nxt.t)
        tt = torch.full((8,), now.t, dtype=torch.long)
        v = velocity_from_eps(sched, now.x, oracle(now.x, tt), now.t)
        torch.testing.assert_close(y_next, y + (s_next - s)[:, None] * v)


# ---- bad input ----------------------------------------------------------------------------------
def test_bad_input_is_refused_with_a_clear_message(sched):
    model, x = ExactVelocity(), torch.zeros(3, 2)
    cases = [
        (lambda: straight_path(x, x, 1.5), InvalidArgument, r"s must lie in \[0, 1\]"),
        (lambda: straight_path(x, x, "half"), InvalidType, "s must be a number"),
        (lambda: straight_path(x, x, torch.ones(2)), InvalidArgument, r"shape \[3\]"),
        (lambda: straight_path(x, torch.zeros(3, 3), 0.5), InvalidArgument, "shape"),
        (lambda: velocity_target([1.0], x), InvalidType, "x0"),
        (lambda: flow_matching_loss(model, x, levels=0), InvalidArgument, "levels"),
        (lambda: flow_matching_loss(model, x, t=torch.full((3,), 1001)), InvalidArgument,
         "0..1000"),
        (lambda: flow_matching_loss(model, x, t=torch.full((3,), 0.5)), InvalidType, "integer"),
        (lambda: flow_matching_loss(lambda y, k: y[:, :1], x), InvalidArgument,
         "velocity shaped like y"),
        (lambda: flow_steps(model, x, steps=0), InvalidArgument, "between 1 and levels"),
        (lambda: flow_steps(model, x, steps=2.0), InvalidType, "steps must be an int"),
        (lambda: flow_steps(model, x, method="rk4"), InvalidArgument, "method"),
        (lambda: flow_steps(model), InvalidArgument, "shape"),
        (lambda: flow_from_vp(sched, x, 0), InvalidArgument, "1..1000"),
        (lambda: velocity_from_eps(sched, x, torch.zeros(3, 3), 5), InvalidArgument, "shape"),
        (lambda: eps_from_velocity("sched", x, x, 5), InvalidType, "Schedule"),
    ]
    for call, err, match in cases:
        with pytest.raises(err, match=match):
            call()
