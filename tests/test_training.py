"""The training loop: configuration and data checks, the loss weights against the L_vlb terms,
loss decrease, bitwise reproducibility, EMA and warm-up against their recursions, the NaN guard,
callbacks, Ctrl-C."""
import math
import os
import signal

import pytest
import torch

from ddpm_edu.checkpoints import load_model, load_resume_state
from ddpm_edu.losses import nats_to_bits, vlb_term
from ddpm_edu.nets import build_network
from ddpm_edu.datasets.toy import two_moons
from ddpm_edu.schedules import linear_schedule
from ddpm_edu.training import (TrainConfig, TrainingDiverged, as_training_data, ema_decay_at,
                               loss_weights, lr_at, train)
from ddpm_edu.forward import q_posterior

MLP = {"kind": "mlp", "dim": 2, "hidden": 32, "num_blocks": 1, "time_embed_dim": 16}
SCHEDULE = linear_schedule(50, 2e-3, 0.4)  # ᾱ_T ≈ 1e-5 with only 50 steps
POINTS = two_moons(512, seed=1)


def _net(seed=0, **changes):
    torch.manual_seed(seed)
    return build_network({**MLP, **changes})


def _cfg(**changes):
    base = dict(steps=30, batch_size=32, lr=3e-3, warmup_steps=5, ema_decay=0.9, save_every=10,
                log_every=10, threads=1, seed=0)
    return TrainConfig(**{**base, **changes})


def _params(net):
    return [p.detach().clone() for p in net.parameters()]


# ---- configuration ------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, words", [
    ("steps", 0, "steps"), ("batch_size", 2.5, "batch_size"), ("lr", -1e-3, "lr"),
    ("lr", float("nan"), "lr"), ("ema_decay", 1.0, "ema_decay"), ("mean_type", "noise", "'eps'"),
    ("loss", "kl", "vlb"), ("var_type", "learned", "fixed_small"), ("threads", 0, "threads"),
    ("warmup_steps", True, "warmup_steps"), ("grad_clip", -1, "grad_clip"),
])
def test_config_rejects_bad_values_naming_the_field(field, value, words):
    with pytest.raises(ValueError, match=words):
        TrainConfig(**{field: value})


def test_config_round_trip_and_enum_normalisation():
    from ddpm_edu.reverse import MeanType
    cfg = TrainConfig(mean_type=MeanType.X0, steps=7)
    assert cfg.mean_type == "x0" and isinstance(cfg.mean_type, str)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown TrainConfig field"):
        TrainConfig.from_dict({"stpes": 3})
    assert TrainConfig().mean_type == "eps" and TrainConfig().loss == "simple"  # DDPM defaults


# ---- data ---------------------------------------------------------------------------------------

def test_data_layouts_become_nchw_with_the_right_pixels():
    g = torch.Generator().manual_seed(0)
    nhwc = torch.randint(0, 256, (4, 5, 6, 3), generator=g, dtype=torch.uint8)
    d = as_training_data(nhwc)
    assert d.shape == (3, 5, 6) and d.kind == "pixels"
    x = d.batch(torch.tensor([2]))
    assert x[0, 1, 3, 4].item() == pytest.approx(nhwc[2, 3, 4, 1].item() / 127.5 - 1)
    assert as_training_data(nhwc.permute(0, 3, 1, 2)).describe()["sha256"] == d.describe()["sha256"]
    assert as_training_data(nhwc[..., 0]).shape == (1, 5, 6)            # [N, H, W] greyscale
    assert as_training_data(POINTS).shape == (2,)
    assert as_training_data(torch.rand(3, 8, 8) * 2 - 1).kind == "images"


@pytest.mark.parametrize("data, error, words", [
    (torch.rand(4, 8, 8) * 255, ValueError, "uint8"),                 # pixels stored as floats
    (torch.rand(4, 8, 8) * 3 - 1.5, ValueError, r"\[-1, 1\]"),
    (torch.zeros(4, 8, 8, dtype=torch.int64), TypeError, "uint8"),
    (torch.full((4, 2), float("nan")), ValueError, "NaN"),
    (torch.zeros(4, 5, 5, 5, dtype=torch.uint8), ValueError, "channels"),
    ([1, 2, 3], TypeError, "Tensor"),
])
def test_bad_data_is_refused_with_a_fix(data, error, words):
    with pytest.raises(error, match=words):
        as_training_data(data)


def test_images_in_zero_one_warn():
    with pytest.warns(UserWarning, match="2 \\* x - 1"):
        as_training_data(torch.rand(4, 8, 8))


# ---- the loss weights: "vlb" equals the KL terms -----------------------------------------------

@pytest.mark.parametrize("mean_type", ["eps", "x0", "mu", "v"])
def test_vlb_weights_turn_the_mse_into_the_kl_term(mean_type):
    """Oracle: losses.vlb_term (the KL of two Gaussians, computed from means and variances)."""
    sched = linear_schedule(1000)
    g = torch.Generator().manual_seed(0)
    n = 6
    x0 = torch.rand(n, 1, 4, 4, generator=g, dtype=torch.float64) * 2 - 1
    t = torch.tensor([2, 3, 10, 100, 500, 1000])
    noise = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    sa, s1 = (
        sched.sqrt_alpha_bar[t].view(-1, 1, 1, 1),
        sched.sqrt_one_minus_alpha_bar[t].view(-1, 1, 1, 1),
    )
    xt = sa * x0 + s1 * noise
    target = {"eps": noise, "x0": x0, "mu": q_posterior(sched, x0, xt, t)[0],
              "v": sa * noise - s1 * x0}[mean_type]
    pred = target + 0.1 * torch.randn(x0.shape, generator=g, dtype=torch.float64)
    mse = ((target - pred) ** 2).mean(dim=(1, 2, 3))
    for var_type in ("fixed_small", "fixed_large"):
        w = loss_weights(sched, mean_type, "vlb", var_type)[t]
        kl_bits = vlb_term(sched, pred, x0, xt, t, mean_type, var_type, clip_x0=False)
        # the perfect prediction gives the θ-free constant c_t (0 for fixed_small)
        const_bits = vlb_term(sched, target, x0, xt, t, mean_type, var_type, clip_x0=False)
        torch.testing.assert_close(
            nats_to_bits(w * mse) + const_bits, kl_bits, rtol=1e-9, atol=1e-12
        )
        if var_type == "fixed_small":
            assert const_bits.abs().max() < 1e-12
    assert torch.equal(
        loss_weights(sched, mean_type, "simple")[1:], torch.ones(1000, dtype=torch.float64)
    )


def test_eps_vlb_weights_are_the_reference_values():
    w = loss_weights(linear_schedule(1000), "eps", "vlb")
    for t, ref in [(2, 0.5997), (10, 0.08644), (100, 0.01027), (1000, 0.0102)]:
        assert w[t].item() == pytest.approx(ref, rel=1e-3)


# ---- the loop -----------------------------------------------------------------------------------

@pytest.mark.parametrize("mean_type, loss, ratio", [("eps", "simple", 0.5), ("x0", "simple", 0.85),
                                                     ("eps", "vlb", 0.7)])
def test_loss_decreases_on_two_moons(mean_type, loss, ratio):
    # x_0-prediction starts closer to its optimum (the loss of predicting 0 is E[x_0²] ≈ 0.3)
    res = train(
        _net(),
        SCHEDULE,
        POINTS,
        _cfg(steps=120, batch_size=64, mean_type=mean_type, loss=loss),
        progress=False,
    )
    h = torch.tensor(res.loss_history)
    assert len(h) == 120 and res.step == 120 and torch.isfinite(h).all()
    assert h[-40:].mean() < ratio * h[:10].mean(), (h[:10].mean(), h[-40:].mean())


def test_same_seed_gives_bitwise_identical_weights_and_other_seed_does_not():
    runs = [
        train(_net(dropout=0.2), SCHEDULE, POINTS, _cfg(seed=s), progress=False) for s in (5, 5, 6)
    ]
    for a, b in zip(
        _params(runs[0].net) + _params(runs[0].ema_net),
        _params(runs[1].net) + _params(runs[1].ema_net),
    ):
        assert torch.equal(a, b)
    assert runs[0].loss_history == runs[1].loss_history
    assert runs[0].loss_history != runs[2].loss_history


def test_training_leaves_the_global_rng_and_thread_count_alone():
    threads = torch.get_num_threads()
    net = _net(dropout=0.2)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(net, SCHEDULE, POINTS, _cfg(steps=3, threads=1 if threads != 1 else 2), progress=False)
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize("ema_warmup", [False, True])
def test_ema_follows_its_recursion(ema_warmup):
    """θ_ema,k = d_k θ_ema,k−1 + (1 − d_k) θ_k with θ_ema,0 = θ_0, recomputed in float64."""
    net = _net()
    ema = [p.double() for p in _params(net)]
    d = 0.8

    def track(state):
        dk = min(d, (1 + state.step) / (10 + state.step)) if ema_warmup else d
        for i, p in enumerate(state.net.parameters()):
            ema[i] = dk * ema[i] + (1 - dk) * p.double()

    res = train(
        net,
        SCHEDULE,
        POINTS,
        _cfg(steps=12, log_every=1, ema_decay=d, ema_warmup=ema_warmup),
        callbacks=[track],
        progress=False,
    )
    for mine, theirs in zip(ema, res.ema_net.parameters()):
        torch.testing.assert_close(theirs.double(), mine, rtol=1e-5, atol=1e-6)
    assert not res.ema_net.training and not any(p.requires_grad for p in res.ema_net.parameters())


def test_warmup_sets_the_learning_rate_and_adam_moves_by_it():
    lrs = []
    train(_net(), SCHEDULE, POINTS, _cfg(steps=6, lr=1e-2, warmup_steps=4, log_every=1),
          callbacks=[lambda s: lrs.append(s.lr)], progress=False)
    assert lrs == pytest.approx([2.5e-3, 5e-3, 7.5e-3, 1e-2, 1e-2, 1e-2])
    # Adam's first update is lr · g/|g| per weight (bias-corrected moments): |Δθ| = lr_1 = lr / 4
    net = _net()
    before = _params(net)
    train(
        net, SCHEDULE, POINTS, _cfg(steps=1, lr=1e-2, warmup_steps=4, grad_clip=0), progress=False
    )
    moved = torch.cat([(a - b).abs().flatten() for a, b in zip(_params(net), before)])
    assert moved.max().item() == pytest.approx(2.5e-3, rel=1e-3)


def test_lr_and_ema_decay_schedules_pinned_values():
    cfg = TrainConfig(lr=1e-2, warmup_steps=4, ema_decay=0.999)
    assert [lr_at(k, cfg) for k in (1, 2, 4, 5, 100)] == pytest.approx(
        [2.5e-3, 5e-3, 1e-2, 1e-2, 1e-2]
    )
    assert lr_at(1, cfg.replace(warmup_steps=0)) == 1e-2
    assert ema_decay_at(1, cfg) == pytest.approx(2 / 11) and ema_decay_at(80, cfg) == pytest.approx(
        0.9
    )
    assert (
        ema_decay_at(10**6, cfg) == 0.999
        and ema_decay_at(1, cfg.replace(ema_warmup=False)) == 0.999
    )


def test_callbacks_see_the_state_and_do_not_change_the_run():
    seen = []

    def noisy(state):  # uses the global RNG and the EMA network, as a sample preview would
        x = torch.randn(4, 2)
        state.ema_net(x, torch.full((4,), 10))
        state.net.eval()
        seen.append((state.step, state.loss, len(state.loss_history)))

    a = train(
        _net(dropout=0.2), SCHEDULE, POINTS, _cfg(log_every=7), callbacks=[noisy], progress=False
    )
    b = train(_net(dropout=0.2), SCHEDULE, POINTS, _cfg(log_every=7), progress=False)
    assert [s for s, _, _ in seen] == [7, 14, 21, 28, 30]
    assert all(n == s for s, _, n in seen) and seen[-1][1] == a.loss_history[-1]
    assert all(torch.equal(p, q) for p, q in zip(_params(a.net), _params(b.net)))


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_checkpoint(tmp_path):
    net = _net()
    calls = [0]
    forward = net.forward

    def poisoned(x, t):  # the 8th forward pass returns NaN, as a diverging run would
        calls[0] += 1
        out = forward(x, t)
        return out * float("nan") if calls[0] == 8 else out

    net.forward = poisoned
    with pytest.raises(TrainingDiverged) as info:
        train(net, SCHEDULE, POINTS, _cfg(save_every=5), out_dir=tmp_path, progress=False)
    msg = str(info.value)
    assert "step 8" in msg and "nan" in msg.lower() and "learning rate" in msg and "step 5" in msg
    assert "\n" not in msg
    assert info.value.result.step == 7 and len(info.value.result.loss_history) == 7
    assert all(torch.isfinite(p).all() for p in info.value.result.net.parameters())
    assert load_resume_state(tmp_path)["step"] == 5
    saved, meta = load_model(tmp_path)
    assert meta["step"] == 5 and all(torch.isfinite(p).all() for p in saved.parameters())


def test_ctrl_c_saves_a_checkpoint_and_returns(tmp_path):
    def press_ctrl_c(state):
        if state.step == 7:
            os.kill(os.getpid(), signal.SIGINT)

    before = signal.getsignal(signal.SIGINT)
    res = train(_net(), SCHEDULE, POINTS, _cfg(log_every=1, save_every=100), out_dir=tmp_path,
                callbacks=[press_ctrl_c], progress=False)
    assert res.interrupted and res.step == 7
    assert load_resume_state(tmp_path)["step"] == 7
    assert signal.getsignal(signal.SIGINT) is before


def test_wrong_network_for_the_data_is_a_clear_error():
    with pytest.raises(ValueError, match="points of shape"):
        train(_net(dim=3), SCHEDULE, POINTS, _cfg(steps=1), progress=False)


def test_finished_loss_history_is_finite_and_matches_steps():
    res = train(_net(), SCHEDULE, POINTS, _cfg(steps=4), progress=False)
    assert len(res.loss_history) == 4 and all(math.isfinite(v) for v in res.loss_history)
