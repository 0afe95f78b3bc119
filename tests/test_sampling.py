"""Samplers (ddpm_edu.sampling) against Gaussian data, whose optimal network and sampled law are
exact.

Oracles (tests/gaussian_oracle.py): ε*, x0*, μ* in closed form for x_0 ~ N(0.3, 0.2²); the exact
mean/std of every (unclipped) chain by a scalar moment recursion; the same recursion's affine
coefficients, which predict each sample of a run given its noise draws. Reference values from
math-reference.md checks 12–13. Everything in float64, on the CPU.
"""
from __future__ import annotations

import gc
import math
import weakref

import pytest
import torch

from ddpm_edu.forward import predict_x0_from_eps, q_posterior
from ddpm_edu.sampling import Step, ddim_steps, ddpm_steps, keep_frames, sample
from ddpm_edu.schedules import linear_schedule, respace

try:  # pytest puts tests/ on sys.path (rootdir-relative "prepend" import mode)
    from gaussian_oracle import M, REFERENCE, S, GaussianOracle, affine_chain, exact_moments
except ImportError:  # if tests/ ever becomes a package
    from tests.gaussian_oracle import M, REFERENCE, S, GaussianOracle, affine_chain, exact_moments

F64 = torch.float64
LIN = linear_schedule(1000)
SHORT = linear_schedule(200)  # for exactness checks, where T does not matter but time does
N_MC = (1000, 20)             # 20 000 i.i.d. scalar samples for Monte Carlo moments; a wide
                              # batch is cheaper than a long one (the schedule lookups are per row)
Z = 4.5                       # tolerance in standard errors (a fixed seed makes each run identical)


def _noise(n, d=1, *, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=F64), g


def _last(it):
    *_, step = it
    return step


def _close(a, b, atol):
    """Same shape and max |a − b| ≤ atol (torch.testing.assert_close would do, but its first call
    imports torch.distributed: 2 s)."""
    assert a.shape == b.shape, (a.shape, b.shape)
    worst = (a - b).abs().max().item()
    assert worst <= atol, f"max |difference| {worst:.3g} > {atol:g}"


def _visited_alpha_bars(schedule, ts):
    return schedule.alpha_bar[torch.tensor(ts)].tolist()


# ---- the oracle itself ------------------------------------------------------------------------
def test_oracle_eps_is_the_regression_of_eps_on_xt():
    # E[ε | x_t] is linear in x_t for Gaussian data: its least-squares slope/intercept by Monte
    # Carlo must equal the closed form's.
    g = torch.Generator().manual_seed(0)
    n = 400_000
    for t in (10, 300):
        x0 = M + S * torch.randn(n, generator=g, dtype=F64)
        eps = torch.randn(n, generator=g, dtype=F64)
        ab = LIN.alpha_bar[t].item()
        xt = math.sqrt(ab) * x0 + math.sqrt(1 - ab) * eps
        cov = ((xt - xt.mean()) * (eps - eps.mean())).mean()
        slope = (cov / xt.var()).item()
        intercept = (eps.mean() - slope * xt.mean()).item()
        o = GaussianOracle(LIN)
        tt = torch.full((2,), t)
        b0, b1 = o(torch.tensor([[0.0], [1.0]], dtype=F64), tt).flatten().tolist()
        # residual sd of ε given x_t is √(ᾱ s²/D); standard error of the slope ≈ that/(sd(x_t)√n)
        d = ab * S * S + 1 - ab
        se = math.sqrt(ab * S * S / d) / math.sqrt(d * n)
        assert abs((b1 - b0) - slope) < Z * se
        assert abs(b0 - intercept) < Z * se * (1 + abs(xt.mean().item()))


def test_oracle_mean_types_are_conversions_of_each_other():
    x = torch.linspace(-2, 2, 9, dtype=F64).reshape(9, 1)
    for t in (1, 2, 37, 1000):
        tt = torch.full((9,), t)
        eps, x0, mu = (GaussianOracle(LIN, mean_type=k)(x, tt) for k in ("eps", "x0", "mu"))
        _close(predict_x0_from_eps(LIN, x, tt, eps), x0, 1e-12)
        _close(q_posterior(LIN, x0, x, tt)[0], mu, 1e-12)


@pytest.mark.parametrize("sampler, variant", [("ddpm", "fixed_small"), ("ddpm", "fixed_large"),
                                              ("ddim", 0.0)])
def test_exact_moments_reproduce_the_reference_values(sampler, variant):
    ab = _visited_alpha_bars(LIN, list(range(1000, -1, -1)))
    kw = {"var_type": variant} if sampler == "ddpm" else {"eta": variant}
    mean, std = exact_moments(ab, sampler, **kw)
    ref_mean, ref_std = REFERENCE[(sampler, variant)]
    # the reference values are rounded Monte Carlo estimates: agree to a few 1e-4
    assert abs(mean - ref_mean) < 4e-4 and abs(std - ref_std) < 4e-4


# ---- Monte Carlo: the samplers' statistics ----------------------------------------------------
def _check_moments(x0, exact, ref=None, label=""):
    mean, std = x0.mean().item(), x0.std().item()
    se_mean, se_std = exact[1] / math.sqrt(x0.numel()), exact[1] / math.sqrt(2 * x0.numel())
    assert x0.numel() >= 20_000
    print(f"\n{label}: measured mean {mean:.4f} std {std:.4f} | exact {exact[0]:.4f} {exact[1]:.4f}"
          + (f" | reference {ref[0]:.4f} {ref[1]:.4f}" if ref else ""))
    assert abs(mean - exact[0]) < Z * se_mean
    assert abs(std - exact[1]) < Z * se_std
    if ref is not None:
        assert abs(mean - ref[0]) < Z * se_mean + 4e-4
        assert abs(std - ref[1]) < Z * se_std + 4e-4


@pytest.mark.parametrize("sampler, variant", [("ddpm", "fixed_small"), ("ddpm", "fixed_large"),
                                              ("ddim", 0.0)])
def test_full_chain_statistics_match_reference(sampler, variant):
    x_T, g = _noise(*N_MC, seed=12)
    if sampler == "ddpm":
        it = ddpm_steps(GaussianOracle(LIN), LIN, x_T, var_type=variant, clip_x0=False, generator=g)
        exact = exact_moments(
            _visited_alpha_bars(LIN, range(1000, -1, -1)), "ddpm", var_type=variant
        )
    else:
        it = ddim_steps(GaussianOracle(LIN), LIN, x_T, steps=1000, eta=variant, clip_x0=False,
                        generator=g)
        exact = exact_moments(_visited_alpha_bars(LIN, range(1000, -1, -1)), "ddim", eta=variant)
    _check_moments(_last(it).x, exact, REFERENCE[(sampler, variant)], f"{sampler} {variant}")


def test_clipping_x0_barely_matters_for_this_data():
    # Only x̂_0 outside [−1, 1] is changed; for N(0.3, 0.2²) that is the far upper tail (P ≈ 2e−4).
    x_T, _ = _noise(200, 20, seed=3)
    runs = [_last(ddpm_steps(GaussianOracle(LIN), LIN, x_T, steps=250, clip_x0=c,
                             generator=torch.Generator().manual_seed(4))).x for c in (False, True)]
    changed = (runs[0] != runs[1]).flatten()
    assert changed.float().mean() < 0.01
    assert abs(runs[0].mean() - runs[1].mean()) < 1e-4 and abs(runs[0].std() - runs[1].std()) < 1e-4
    assert runs[1].abs().max() <= 1.0


@pytest.mark.parametrize(
    "sampler, steps, spacing",
    [("ddim", 50, "linspace"), ("ddim", 50, "leading"), ("ddpm", 100, "linspace")],
)
def test_respaced_chain_statistics(sampler, steps, spacing):
    x_T, g = _noise(*N_MC, seed=5)
    o = GaussianOracle(LIN)
    fn = ddim_steps if sampler == "ddim" else ddpm_steps
    run = list(fn(o, LIN, x_T, steps=steps, spacing=spacing, clip_x0=False, generator=g))
    ts = [s.t for s in run]
    assert ts == respace(LIN, steps, spacing).timesteps.flip(0).tolist()
    exact = exact_moments(_visited_alpha_bars(LIN, ts), sampler)
    _check_moments(run[-1].x, exact, None, f"{sampler} respaced {steps} {spacing}")
    # The mean survives respacing; the spread does not: a short chain's law is not the data's.
    # For DDIM-50 on the linear schedule the exact std is 0.176, not 0.2 (the big last jump from
    # t = 21 to 1 shrinks x̂_0 = E[x_0|x_t] towards m) — a discretisation error, not a sampler bug.
    assert abs(run[-1].x.mean().item() - M) < Z * S / math.sqrt(run[-1].x.numel()) + 5e-4
    assert exact[1] < S - 0.01


def test_ddim_50_steps_exact_law_pinned():
    # The value the course quotes for 50-step DDIM on this Gaussian (see the test above).
    ab = _visited_alpha_bars(LIN, respace(LIN, 50).timesteps.flip(0).tolist())
    mean, std = exact_moments(ab, "ddim")
    assert abs(mean - 0.2997) < 1e-4 and abs(std - 0.1758) < 1e-4


# ---- exactness, sample by sample --------------------------------------------------------------
@pytest.mark.parametrize("sampler, kw", [
    ("ddpm", dict(var_type="fixed_small")),
    ("ddpm", dict(var_type="fixed_large")),
    ("ddpm", dict(steps=30, var_type="fixed_small")),
    ("ddpm", dict(steps=30, spacing="leading", var_type="fixed_large")),
    ("ddim", dict(steps=200, eta=0.0)),
    ("ddim", dict(steps=40, eta=0.5, spacing="leading")),
    ("ddim", dict(steps=25, eta=1.0)),
])
def test_every_step_equals_the_affine_oracle(sampler, kw):
    # With the noise draws replayed from the same seed (x_T first, then one z per update, none at
    # the last), the affine oracle predicts every state of the run to rounding error.
    n = 6
    x_T, g = _noise(n, 2, seed=21)
    fn = ddpm_steps if sampler == "ddpm" else ddim_steps
    run = list(fn(GaussianOracle(SHORT), SHORT, x_T, clip_x0=False, generator=g, **kw))
    coefs = affine_chain(_visited_alpha_bars(SHORT, [s.t for s in run]), sampler,
                         var_type=kw.get("var_type", "fixed_small"), eta=kw.get("eta", 0.0))
    replay = torch.Generator().manual_seed(21)
    x = torch.randn(n, 2, generator=replay, dtype=F64)
    for (A, B, sig), step in zip(coefs, run[1:]):
        z = torch.randn(n, 2, generator=replay, dtype=F64) if sig > 0 else 0.0
        x = A * x + B + sig * z
        _close(step.x, x, 1e-10)


def test_ddim_eta1_full_chain_is_the_ddpm_posterior_step():
    x_T, _ = _noise(100, 4, seed=7)
    ddpm = ddpm_steps(GaussianOracle(LIN), LIN, x_T, generator=torch.Generator().manual_seed(8))
    ddim = ddim_steps(GaussianOracle(LIN), LIN, x_T, steps=1000, eta=1.0,
                      generator=torch.Generator().manual_seed(8))
    worst = 0.0
    for a, b in zip(ddpm, ddim, strict=True):
        assert a.t == b.t
        worst = max(worst, (a.x - b.x).abs().max().item())
        if a.x0_hat is not None:
            worst = max(worst, (a.x0_hat - b.x0_hat).abs().max().item())
    assert worst < 1e-12


def test_ddim_eta0_is_deterministic_and_draws_no_noise():
    x_T, _ = _noise(100, 5, seed=9)
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)
    state = g1.get_state()
    a = _last(ddim_steps(GaussianOracle(LIN), LIN, x_T, steps=50, generator=g1)).x
    b = _last(ddim_steps(GaussianOracle(LIN), LIN, x_T, steps=50, generator=g2)).x
    assert torch.equal(a, b)
    assert torch.equal(g1.get_state(), state)


@pytest.mark.parametrize(
    "sampler, kw",
    [
        ("ddpm", {}),
        ("ddpm", dict(steps=17)),
        ("ddim", dict(steps=23)),
        ("ddim", dict(steps=23, eta=0.7)),
    ],
)
@pytest.mark.parametrize("clip", [False, True])
@pytest.mark.parametrize("mean_type", ["x0", "mu"])
def test_x0_and_mu_models_give_the_eps_model_samples(sampler, kw, clip, mean_type):
    x_T, _ = _noise(64, 3, seed=10)
    x_T = 1.5 * x_T  # wide enough that clipping x̂_0 happens at small t
    fn = ddpm_steps if sampler == "ddpm" else ddim_steps
    out = {}
    for mt in ("eps", mean_type):
        run = fn(GaussianOracle(SHORT, mean_type=mt), SHORT, x_T, mean_type=mt, clip_x0=clip,
                 generator=torch.Generator().manual_seed(11), **kw)
        out[mt] = _last(run)
    _close(out[mean_type].x, out["eps"].x, 1e-9)
    _close(out[mean_type].x0_hat, out["eps"].x0_hat, 1e-9)


# ---- the shape of a run -----------------------------------------------------------------------
@pytest.mark.parametrize("sampler, kw, n_updates", [
    ("ddpm", {}, 200), ("ddpm", dict(steps=9), 9), ("ddim", dict(steps=9), 9),
    ("ddim", dict(steps=9, spacing="leading"), 9), ("ddim", dict(steps=1), 1),
])
def test_yield_structure_and_model_calls(sampler, kw, n_updates):
    x_T, g = _noise(5, 4, seed=13)
    o = GaussianOracle(SHORT)
    fn = ddpm_steps if sampler == "ddpm" else ddim_steps
    run = list(fn(o, SHORT, x_T, generator=g, **kw))
    assert all(isinstance(s, Step) for s in run) and len(run) == n_updates + 1
    first = run[0]
    assert first.x is x_T and first.x0_hat is None
    ts = [s.t for s in run]
    assert all(type(t) is int for t in ts)
    assert all(a > b for a, b in zip(ts, ts[1:])) and ts[-1] == 0
    expected = (
        respace(SHORT, kw["steps"], kw.get("spacing", "linspace")).timesteps.flip(0).tolist()
        if "steps" in kw
        else list(range(200, -1, -1))
    )
    assert ts == expected
    if kw.get("spacing") != "leading":
        assert ts[0] == SHORT.T
    # the model is called once per update, with the ORIGINAL index of the state it sees
    assert o.calls == [[t] for t in ts[:-1]]
    assert o.t_info == {(torch.long, (5,), torch.device("cpu"))}
    assert all(s.x0_hat is not None and s.x0_hat.shape == x_T.shape for s in run[1:])


def test_model_sees_original_indices_of_a_respaced_schedule():
    # A schedule that is itself respaced: the model still receives indices of the first schedule.
    sub = respace(SHORT, [1, 5, 10, 50, 120, 200])
    o = GaussianOracle(SHORT)
    run = list(ddim_steps(o, sub, shape=(3, 1), steps=3, dtype=F64))
    # respace(sub, 3) keeps sub's steps 1, 4, 6 (linspace(1, 6, 3) rounded) = original 1, 50, 200
    assert [s.t for s in run] == respace(sub, 3).timesteps.flip(0).tolist() == [200, 50, 1, 0]
    assert o.calls == [[200], [50], [1]]


def test_grad_mode_does_not_leak_and_no_graph_is_built():
    lin = torch.nn.Linear(1, 1).double()

    def model(x, t):
        return lin(x)

    it = ddpm_steps(model, SHORT, shape=(4, 1), steps=5, dtype=F64)
    next(it)
    step = next(it)
    assert torch.is_grad_enabled()
    assert not step.x.requires_grad


# ---- sample() ---------------------------------------------------------------------------------
class _OracleNet(torch.nn.Module):
    """The ε* oracle as an nn.Module that records its training flag at every call."""

    def __init__(self, schedule):
        super().__init__()
        self.oracle = GaussianOracle(schedule)
        self.dummy = torch.nn.Parameter(torch.zeros((), dtype=F64))  # sets sample()'s dtype
        self.modes, self.batches = set(), []

    def forward(self, x, t):
        self.modes.add(self.training)
        self.batches.append(x.shape[0])
        return self.oracle(x, t)


@pytest.mark.parametrize(
    "sampler, kw",
    [("ddim", dict(steps=20)), ("ddim", dict(steps=20, eta=1.0)), ("ddpm", dict(steps=20))],
)
def test_sample_is_reproducible_by_seed_whatever_the_batch_size(sampler, kw):
    net = _OracleNet(SHORT)
    outs = [
        sample(net, SHORT, 10, (2, 3), sampler=sampler, seed=0, batch_size=b, progress=False, **kw)
        for b in (None, 3, 7)
    ]
    assert outs[0].shape == (10, 2, 3) and outs[0].dtype == F64
    assert all(torch.equal(outs[0], o) for o in outs[1:])
    assert 3 in net.batches and 7 in net.batches and max(net.batches) == 10
    other = sample(net, SHORT, 10, (2, 3), sampler=sampler, seed=1, progress=False, **kw)
    assert not torch.equal(outs[0], other)
    assert outs[0].abs().max() <= 1.0
    # sample() is the last state of the step generator seeded the same way
    g = torch.Generator().manual_seed(0)
    fn = ddim_steps if sampler == "ddim" else ddpm_steps
    last = _last(fn(net, SHORT, shape=(10, 2, 3), generator=g, dtype=F64, **kw))
    assert torch.equal(outs[0], last.x.clamp(-1, 1))


def test_sample_uses_eval_mode_and_restores_it():
    net = _OracleNet(SHORT)
    net.train()
    sample(net, SHORT, 4, (1,), steps=5, seed=0, progress=False)
    assert net.modes == {False} and net.training
    net.eval()
    sample(net, SHORT, 4, (1,), steps=5, seed=0, progress=False)
    assert not net.training


def test_sample_ddpm_steps_none_runs_the_full_chain_and_generator_works():
    o = GaussianOracle(SHORT)
    x = sample(
        o,
        SHORT,
        3,
        (2,),
        sampler="ddpm",
        steps=None,
        generator=torch.Generator().manual_seed(0),
        progress=False,
        device="cpu",
    )
    assert len(o.calls) == SHORT.T and x.shape == (3, 2) and x.dtype == torch.float32


def test_sample_progress_bar_switches(monkeypatch):
    import tqdm.auto

    made = []

    class FakeBar:
        def __init__(self, it, total=None, **kw):
            made.append(total)
            self.it = it

        def __iter__(self):
            return iter(self.it)

    monkeypatch.setattr(tqdm.auto, "tqdm", FakeBar)
    o = GaussianOracle(SHORT)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    sample(o, SHORT, 2, (1,), steps=4, seed=0, progress=True)
    assert made == [5]
    sample(o, SHORT, 2, (1,), steps=4, seed=0, progress=False)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    sample(o, SHORT, 2, (1,), steps=4, seed=0, progress=True)
    assert made == [5]


# ---- keep_frames ------------------------------------------------------------------------------
def test_keep_frames_keeps_only_the_requested_steps_and_frees_the_rest():
    refs = []

    def tracked(it):
        for s in it:
            refs.append(weakref.ref(s.x))
            yield s

    wanted = {200, 150, 7, 0}
    frames = list(keep_frames(tracked(ddpm_steps(GaussianOracle(SHORT), SHORT, shape=(2, 1),
                                                 dtype=F64)), wanted))
    assert [f.t for f in frames] == [200, 150, 7, 0]
    gc.collect()
    alive = sum(r() is not None for r in refs)
    assert len(refs) == 201 and alive == len(frames)


def test_keep_frames_reports_steps_a_run_never_visits():
    run = lambda: ddim_steps(GaussianOracle(SHORT), SHORT, shape=(2, 1), steps=5)  # noqa: E731
    visited = respace(SHORT, 5).timesteps.tolist()
    assert 99 not in visited
    with pytest.raises(ValueError, match=r"never reached t = \[99\]"):
        list(keep_frames(run(), [visited[-1], 99]))
    assert [f.t for f in keep_frames(run(), [visited[-1], 99], strict=False)] == [visited[-1]]
    with pytest.raises(ValueError, match="ints"):
        keep_frames(run(), [1.5])
    assert [f.t for f in keep_frames(run(), [torch.tensor(0)])] == [0]


# ---- bad input --------------------------------------------------------------------------------
_O = GaussianOracle(SHORT)
_X = torch.zeros(2, 1)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sample(_O, SHORT, 2, (1,), sampler="euler"), "unknown sampler 'euler'"),
        (lambda: ddim_steps(_O, SHORT, _X, steps=0), "between 1 and T = 200"),
        (lambda: ddim_steps(_O, SHORT, _X, steps=201), "between 1 and T = 200"),
        (lambda: ddpm_steps(_O, SHORT, _X, steps=500), "between 1 and T = 200"),
        (lambda: ddim_steps(_O, SHORT, _X, steps=True), "steps must be an int"),
        (lambda: ddim_steps(_O, SHORT, _X, steps=10.0), "steps must be an int"),
        (
            lambda: ddim_steps(_O, SHORT, _X, shape=(3, 1)),
            r"x_T has shape \(2, 1\) but shape=\(3, 1\)",
        ),
        (lambda: ddpm_steps(_O, SHORT), "give the initial noise x_T, or shape"),
        (lambda: ddpm_steps(_O, SHORT, shape=(2, 0)), "positive ints"),
        (lambda: ddim_steps(_O, SHORT, _X, eta=-0.1), "eta must be a finite number ≥ 0"),
        (lambda: ddim_steps(_O, SHORT, _X, eta=float("nan")), "eta must be a finite number ≥ 0"),
        (lambda: ddpm_steps(_O, SHORT, _X, var_type="learned"), "var_type must be one of"),
        (lambda: ddim_steps(_O, SHORT, _X, mean_type="velocity"), "mean_type must be one of"),
        (lambda: ddim_steps(_O, SHORT, _X, spacing="quad"), "spacing must be"),
        (lambda: sample(_O, SHORT, 0, (1,)), "n .* must be a positive int"),
        (lambda: sample(_O, SHORT, 2, 5), "shape"),
        (lambda: sample(_O, SHORT, 2, (1,), seed=0, generator=torch.Generator()), "not both"),
        (lambda: sample(_O, SHORT, 2, (1,), sampler="ddpm", eta=1.0), "eta is DDIM's"),
        (
            lambda: sample(_O, SHORT, 2, (1,), var_type="fixed_large"),
            "var_type applies to sampler='ddpm'",
        ),
        (lambda: sample(_O, SHORT, 2, (1,), batch_size=0), "batch_size"),
        (lambda: ddim_steps(_O, "linear", _X), "must be a ddpm_edu Schedule"),
    ],
)
def test_bad_input_fails_at_call_time_with_a_clear_message(call, match):
    # Errors come from the call itself, before any iteration (the generators validate eagerly).
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_a_model_returning_nan_is_named():
    def broken(x, t):
        return torch.full_like(x, float("nan"))

    for fn in (ddpm_steps, ddim_steps):
        it = fn(broken, SHORT, shape=(2, 1), steps=3)
        next(it)
        with pytest.raises(ValueError, match="NaN"):
            next(it)
