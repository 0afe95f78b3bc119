"""The loop's options beyond DDPM's recipe: bf16 autocast, the cosine learning-rate schedule,
min-SNR-γ weights, v-prediction, class labels with label dropout (classifier-free guidance
training) and the measured thread count; each against a closed form or a pinned value."""
import math
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from ddpm_edu.datasets import load_dataset
from ddpm_edu.datasets.toy import two_moons
from ddpm_edu.errors import InvalidArgument, InvalidType
from ddpm_edu.nets import build_network
from ddpm_edu.reverse import model_eps_x0
from ddpm_edu.schedules import cosine_schedule, linear_schedule
from ddpm_edu.training import (TrainConfig, as_training_data, loss_weights, lr_at, minibatch_loss,
                               train)

MLP = {"kind": "mlp", "dim": 2, "hidden": 32, "num_blocks": 1, "time_embed_dim": 16}
SCHEDULE = linear_schedule(50, 2e-3, 0.4)
POINTS = two_moons(256, seed=1)
LABELS = (POINTS[:, 0] > 0).long() + (POINTS[:, 1] > 0).long()   # 3 classes: 0, 1, 2


def _net(seed=0):
    torch.manual_seed(seed)
    return build_network(MLP)


def _cfg(**changes):
    base = dict(steps=8, batch_size=32, lr=3e-3, warmup_steps=2, ema_decay=0.9, save_every=10,
                log_every=10, threads=1, seed=0)
    return TrainConfig(**{**base, **changes})


def _weights(result):
    return torch.cat([p.detach().flatten() for p in result.net.parameters()])


# ---- configuration -----------------------------------------------------------------------------

def test_new_fields_default_to_ddpm_and_old_configs_load():
    cfg = TrainConfig()
    assert (cfg.precision, cfg.lr_schedule, cfg.lr_min_ratio, cfg.snr_gamma, cfg.label_dropout) \
        == ("fp32", "constant", 0.1, 5.0, 0.1)
    old = {k: v for k, v in cfg.to_dict().items()
           if k not in ("precision", "lr_schedule", "lr_min_ratio", "snr_gamma", "label_dropout")}
    assert TrainConfig.from_dict(old) == cfg


@pytest.mark.parametrize("field, value, words", [
    ("precision", "fp16", "'auto', 'bf16', 'fp32'"), ("lr_schedule", "linear", "'cosine'"),
    ("lr_min_ratio", 1.5, "lr_min_ratio"), ("snr_gamma", 0, "snr_gamma"),
    ("label_dropout", 1.0, "label_dropout"), ("loss", "l1", "'min_snr'"),
    ("mean_type", "velocity", "'v'"), ("threads", "fast", "threads")])
def test_bad_values_are_refused_naming_the_field(field, value, words):
    with pytest.raises(InvalidArgument, match=words):
        TrainConfig(**{field: value})


def test_min_snr_is_refused_for_mu_prediction():
    with pytest.raises(InvalidArgument, match="not for 'mu'"):
        TrainConfig(mean_type="mu", loss="min_snr")


# ---- the learning-rate schedule ------------------------------------------------------------------

def test_cosine_schedule_pinned_values():
    cfg = TrainConfig(steps=110, warmup_steps=10, lr=1e-3, lr_schedule="cosine", lr_min_ratio=0.1)
    assert lr_at(5, cfg) == pytest.approx(5e-4, rel=1e-12)           # warm-up, as before
    assert lr_at(10, cfg) == pytest.approx(1e-3, rel=1e-12)          # the peak
    assert lr_at(60, cfg) == pytest.approx(5.5e-4, rel=1e-12)        # half-way: (0.1 + 0.9/2)·lr
    assert lr_at(35, cfg) == pytest.approx(1e-3 * (0.1 + 0.45 * (1 + math.sqrt(0.5))), rel=1e-12)
    assert lr_at(110, cfg) == pytest.approx(1e-4, rel=1e-12)         # lr·lr_min_ratio at the end
    lrs = [lr_at(k, cfg) for k in range(10, 111)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    no_warmup = cfg.replace(warmup_steps=0, lr_min_ratio=0.0)
    assert lr_at(110, no_warmup) == 0.0


def test_constant_schedule_is_bitwise_the_old_formula():
    cfg = TrainConfig(steps=50, warmup_steps=7, lr=3e-3)
    for k in range(1, 51):
        assert lr_at(k, cfg) == cfg.lr * min(1.0, k / cfg.warmup_steps)


# ---- loss weights and v-prediction ---------------------------------------------------------------

@pytest.mark.parametrize("mean_type", ["eps", "x0", "v"])
def test_min_snr_weights_are_the_closed_form(mean_type):
    sched = linear_schedule(1000)
    ab = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)
    snr = ab / (1 - ab)
    g = 5.0
    ref = {"eps": torch.minimum(snr, torch.tensor(g)) / snr,
           "x0": torch.minimum(snr, torch.tensor(g)),
           "v": torch.minimum(snr, torch.tensor(g)) / (snr + 1)}[mean_type]
    w = loss_weights(sched, mean_type, "min_snr", snr_gamma=g)
    assert w[0] == 0 and w.dtype == torch.float64
    torch.testing.assert_close(w[1:], ref, rtol=1e-9, atol=0)
    # for ε: 1 at large t (SNR < γ), γ/SNR_t at small t
    if mean_type == "eps":
        assert w[1000] == 1.0 and w[1] == pytest.approx(5 / snr[0].item(), rel=1e-9)


def test_min_snr_weights_one_error_three_ways():
    """The same x_0-error costs the same for ε, x_0 and v: λ·mse is min(SNR, γ)·‖x̂_0 − x_0‖²."""
    sched = cosine_schedule(200)
    t = torch.arange(1, 201)
    a, s = sched.sqrt_alpha_bar[t], sched.sqrt_one_minus_alpha_bar[t]
    err_x0 = 0.3    # x̂_0 − x_0 at fixed x_t: then ε̂ − ε = −(a/s)·err and v̂ − v = −err/s
    mse = {"x0": err_x0 ** 2, "eps": (a / s * err_x0) ** 2, "v": (err_x0 / s) ** 2}
    out = {k: loss_weights(sched, k, "min_snr")[1:] * m for k, m in mse.items()}
    torch.testing.assert_close(out["eps"], out["x0"] * torch.ones(200, dtype=torch.float64))
    torch.testing.assert_close(out["v"], out["x0"] * torch.ones(200, dtype=torch.float64))


def test_v_prediction_conversion_is_the_float64_closed_form():
    sched = linear_schedule(1000)
    gen = torch.Generator().manual_seed(0)
    x0 = torch.rand(5, 1, 3, 3, generator=gen, dtype=torch.float64) * 2 - 1
    eps = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    t = torch.tensor([1, 10, 300, 700, 1000])
    ab = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64), 0)[t - 1]
    a, s = ab.sqrt().view(-1, 1, 1, 1), (1 - ab).sqrt().view(-1, 1, 1, 1)
    xt, v = a * x0 + s * eps, a * eps - s * x0
    eps_hat, x0_hat = model_eps_x0(sched, v, xt, t, "v")
    torch.testing.assert_close(eps_hat, a * v + s * xt, rtol=0, atol=1e-12)
    torch.testing.assert_close(x0_hat, a * xt - s * v, rtol=0, atol=1e-12)
    torch.testing.assert_close(eps_hat, eps, rtol=0, atol=1e-9)
    torch.testing.assert_close(x0_hat, x0, rtol=0, atol=1e-9)
    eps_c, x0_c = model_eps_x0(sched, 3 * v, xt, t, "v", clip_x0=True)  # clipped; ε̂ re-derived
    assert x0_c.abs().max() <= 1
    torch.testing.assert_close(eps_c, (xt - a * x0_c) / s, rtol=1e-9, atol=1e-9)


class _Zero(nn.Module):
    def forward(self, x, t):
        return torch.zeros_like(x)


def test_v_loss_is_the_closed_form_on_the_same_draws():
    """With a network that outputs 0 the loss is mean_b λ_t · mean(v²), v = √ᾱ_t ε − √(1−ᾱ_t) x_0,
    rebuilt here from the documented draw order (indices, t, ε)."""
    cfg = _cfg(mean_type="v", loss="min_snr", batch_size=16)
    data = as_training_data(POINTS)
    w = loss_weights(SCHEDULE, "v", "min_snr")
    loss = minibatch_loss(_Zero(), SCHEDULE, data, w.float(), cfg, torch.Generator().manual_seed(3))
    g = torch.Generator().manual_seed(3)
    idx = torch.randint(data.n, (16,), generator=g)
    t = torch.randint(1, SCHEDULE.T + 1, (16,), generator=g)
    eps = torch.randn(16, 2, generator=g).double()
    x0 = POINTS[idx].double()
    ab = SCHEDULE.alpha_bar[t].double().view(-1, 1)
    v = ab.sqrt() * eps - (1 - ab).sqrt() * x0
    assert loss.item() == pytest.approx((w[t] * (v ** 2).mean(1)).mean().item(), rel=1e-5)


def test_v_prediction_trains():
    res = train(_net(), SCHEDULE, POINTS, _cfg(steps=80, batch_size=64, mean_type="v"),
                progress=False)
    first, last = sum(res.loss_history[:10]) / 10, sum(res.loss_history[-10:]) / 10
    assert last < 0.9 * first


# ---- bf16 autocast ------------------------------------------------------------------------------

def test_bf16_trains_fp32_weights_with_a_float32_loss_close_to_fp32():
    fp32 = train(_net(), SCHEDULE, POINTS, _cfg(), progress=False)
    bf16 = train(_net(), SCHEDULE, POINTS, _cfg(precision="bf16"), progress=False)
    assert all(p.dtype == torch.float32 for p in bf16.net.parameters())
    assert all(p.dtype == torch.float32 for p in bf16.ema_net.parameters())
    assert bf16.loss_history != fp32.loss_history                  # bf16 did compute in bf16 …
    for a, b in zip(bf16.loss_history, fp32.loss_history):         # … to about 3 digits
        assert a == pytest.approx(b, rel=0.05)
    again = train(_net(), SCHEDULE, POINTS, _cfg(precision="bf16"), progress=False)
    assert torch.equal(_weights(again), _weights(bf16))             # and reproducibly


def test_minibatch_loss_is_float32_under_autocast():
    cfg = _cfg()
    w = loss_weights(SCHEDULE).float()
    loss = minibatch_loss(_net(), SCHEDULE, as_training_data(POINTS), w, cfg,
                          torch.Generator().manual_seed(0), autocast=torch.bfloat16)
    assert loss.dtype == torch.float32


# ---- class labels -------------------------------------------------------------------------------

@dataclass
class _CondConfig:
    num_classes: int = 3


class _CondNet(nn.Module):
    """A stand-in class-conditional network: an MLP plus a label embedding (num_classes + 1 rows,
    the last one the "no label" token). Records the labels it was called with."""

    def __init__(self, num_classes=3):
        super().__init__()
        torch.manual_seed(0)
        self.config = _CondConfig(num_classes)
        self.body = build_network(MLP)
        self.embed = nn.Embedding(num_classes + 1, 2)
        self.seen = []

    def forward(self, x, t, y=None):
        self.seen.append(None if y is None else y.clone())
        return self.body(x + (0 if y is None else self.embed(y)), t)


def test_conditional_net_gets_labels_and_the_null_token_at_the_dropout_rate():
    net = _CondNet()
    train(net, SCHEDULE, (POINTS, LABELS), _cfg(steps=40, batch_size=64, label_dropout=0.25),
          progress=False)
    ys = torch.cat(net.seen[:40])
    assert ys.shape == (40 * 64,) and ys.min() >= 0 and ys.max() <= 3
    dropped = (ys == 3).double().mean().item()
    assert dropped == pytest.approx(0.25, abs=0.04)                 # 2,560 draws: σ ≈ 0.009
    kept = ys != 3
    assert set(ys[kept].tolist()) == {0, 1, 2}


def test_the_labels_of_a_minibatch_are_the_examples_labels():
    net, data = _CondNet(), as_training_data((POINTS, LABELS))
    cfg = _cfg(label_dropout=0.0)
    g = torch.Generator().manual_seed(5)
    minibatch_loss(net, SCHEDULE, data, loss_weights(SCHEDULE).float(), cfg, g)
    g = torch.Generator().manual_seed(5)
    idx = torch.randint(data.n, (cfg.batch_size,), generator=g)
    assert torch.equal(net.seen[-1], LABELS[idx])


def test_labels_leave_an_unconditional_run_bitwise_unchanged():
    plain = train(_net(), SCHEDULE, POINTS, _cfg(), progress=False)
    labelled = train(_net(), SCHEDULE, (POINTS, LABELS), _cfg(), progress=False)
    assert torch.equal(_weights(plain), _weights(labelled))
    assert plain.loss_history == labelled.loss_history


def test_label_errors_are_clear():
    with pytest.raises(InvalidArgument, match="no labels"):
        train(_CondNet(), SCHEDULE, POINTS, _cfg(steps=1), progress=False)
    with pytest.raises(InvalidArgument, match="out of range .* 3 classes"):
        train(_CondNet(), SCHEDULE, (POINTS, LABELS + 1), _cfg(steps=1), progress=False)
    with pytest.raises(InvalidType, match="integers"):
        as_training_data((POINTS, LABELS.float()))
    with pytest.raises(InvalidArgument, match=r"shape \[256\]"):
        as_training_data((POINTS, LABELS[:10]))
    with pytest.raises(InvalidArgument, match="≥ 0"):
        as_training_data((POINTS, LABELS - 1))
    with pytest.raises(InvalidArgument, match="tuple"):
        as_training_data((POINTS, LABELS, LABELS))


def test_labelled_data_records_its_labels():
    plain, labelled = as_training_data(POINTS), as_training_data((POINTS, LABELS))
    assert "labels_sha256" not in plain.describe()
    assert labelled.describe()["sha256"] == plain.describe()["sha256"]
    assert labelled.describe()["labels_sha256"] != as_training_data(
        (POINTS, 2 - LABELS)).describe()["labels_sha256"]


def test_mnist_with_labels():
    images, labels = load_dataset({"name": "mnist", "split": "test", "limit": 50, "labels": True})
    assert images.shape == (50, 28, 28) and labels.shape == (50,) and labels.dtype == torch.int64
    assert labels.max() <= 9
    alone = load_dataset({"name": "mnist", "split": "test", "limit": 50})
    assert torch.equal(alone, images)


# ---- threads="auto" ------------------------------------------------------------------------------

def test_auto_threads_measures_on_copies_and_records_the_count(tmp_path, capsys):
    from ddpm_edu.checkpoints import load_resume_state
    res = train(_net(), SCHEDULE, POINTS, _cfg(threads="auto"), out_dir=tmp_path / "run",
                progress=False)
    n = load_resume_state(tmp_path / "run")["description"]["resolved"]["threads"]
    assert isinstance(n, int) and n >= 1
    assert f"threads=auto: {n}" in capsys.readouterr().err
    fixed = train(_net(), SCHEDULE, POINTS, _cfg(threads=n), progress=False)
    assert torch.equal(_weights(res), _weights(fixed))   # the trial steps left the run untouched


# ---- recipes and the command line ---------------------------------------------------------------

# settings that change the weights a run makes (steps aside: the shipped files record the target
# of a resumed or longer run; threads: the recipes measure the fastest count)
_WEIGHT_SHAPING = ("batch_size", "lr", "warmup_steps", "weight_decay", "grad_clip", "ema_decay",
                   "ema_warmup", "mean_type", "loss", "var_type", "seed")


@pytest.mark.parametrize("recipe_name, checkpoint, extra", [
    ("ddpm", "mnist-ddpm", {}),
    ("mnist", "mnist", {"precision": "auto", "lr_schedule": "cosine", "snr_gamma": 5.0,
                        "lr_min_ratio": 0.1}),
    ("mnist-cond", "mnist-cond", {"precision": "auto", "lr_schedule": "cosine",
                                  "label_dropout": 0.1}),
])
def test_recipe_is_that_of_its_shipped_model(recipe_name, checkpoint, extra):
    from ddpm_edu.checkpoints import read_metadata
    from ddpm_edu.pretrained import registry_path
    from ddpm_edu.recipes import get_recipe
    recipe, meta = get_recipe(recipe_name), read_metadata(registry_path(checkpoint))
    assert (recipe.network, recipe.schedule) == (meta["network"], meta["schedule"])
    for key in _WEIGHT_SHAPING + tuple(extra):
        assert getattr(recipe.train, key) == meta["train"].get(key, getattr(recipe.train, key)), key
    for key, value in extra.items():
        assert meta["train"][key] == value, key


def test_ddpm_recipe_is_ddpms_own():
    from ddpm_edu.recipes import get_recipe
    ddpm = get_recipe("ddpm")
    assert (ddpm.train.mean_type, ddpm.train.loss, ddpm.train.lr_schedule, ddpm.train.precision) \
        == ("eps", "simple", "constant", "fp32")


def test_mnist_cond_recipe_settings_and_build():
    from ddpm_edu.recipes import get_recipe
    recipe = get_recipe("mnist-cond")
    cfg = recipe.train
    assert (cfg.precision, cfg.lr_schedule, cfg.loss, cfg.label_dropout, cfg.batch_size, cfg.lr,
            cfg.warmup_steps, cfg.ema_decay, cfg.steps, cfg.threads) == \
        ("auto", "cosine", "min_snr", 0.1, 128, 2e-3, 200, 0.999, 6000, None)
    assert recipe.network["num_classes"] == 10 and recipe.dataset["labels"] is True
    assert recipe.build_network().config.num_classes == 10


def test_the_conditional_classroom_recipe_is_the_classroom_one_told_the_digit():
    """mnist-cond-classroom = mnist-classroom (same budget, network, schedule and settings) plus
    the label embedding, labelled data and mnist-cond's label dropout, and nothing else."""
    from ddpm_edu.recipes import get_recipe
    plain, cond = get_recipe("mnist-classroom"), get_recipe("mnist-cond-classroom")
    assert cond.network == {**plain.network, "num_classes": 10}
    assert cond.dataset == {**plain.dataset, "labels": True} and cond.schedule == plain.schedule
    assert cond.train == plain.train   # label_dropout only acts on a class-conditional network
    assert cond.train.label_dropout == get_recipe("mnist-cond").train.label_dropout == 0.1
    assert cond.train.minutes == 10.0
    assert cond.build_network().config.num_classes == 10


def test_choice_lists_match_the_enums():
    from ddpm_edu._choices import MEAN_TYPES, VAR_TYPES
    from ddpm_edu.reverse import MeanType, VarianceType
    assert MEAN_TYPES == tuple(m.value for m in MeanType)
    assert VAR_TYPES == tuple(m.value for m in VarianceType)


def test_cli_options_reach_the_config(tmp_path, capsys):
    from ddpm_edu.checkpoints import load_resume_state
    from ddpm_edu.cli import main
    out = tmp_path / "toy"
    assert main(["train", "--recipe", "toy2d", "--out", str(out), "--steps", "4", "--threads",
                 "auto", "--precision", "fp32", "--lr-schedule", "cosine", "--loss", "min_snr",
                 "--mean-type", "v", "--no-progress"]) == 0
    saved = load_resume_state(out)["description"]
    assert {k: saved["train"][k] for k in ("threads", "precision", "lr_schedule", "loss",
                                          "mean_type")} == \
        {"threads": "auto", "precision": "fp32", "lr_schedule": "cosine", "loss": "min_snr",
         "mean_type": "v"}
    assert saved["resolved"]["precision"] == "fp32" and saved["resolved"]["threads"] >= 1
    assert "threads=auto:" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["--threads", "0"], "argument --threads"), (["--threads", "many"], "or 'auto'"),
    (["--precision", "fp16"], "invalid choice"), (["--lr-schedule", "step"], "invalid choice"),
    (["--label-dropout", "1"], "TrainConfig.label_dropout")])
def test_cli_bad_options_give_one_line(argv, words, capsys, tmp_path, monkeypatch):
    from ddpm_edu.cli import main
    monkeypatch.chdir(tmp_path)
    try:
        code = main(["train", "--recipe", "toy2d", *argv])
    except SystemExit as e:
        code = e.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and words in err[0], err
