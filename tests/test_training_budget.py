"""Time-budgeted training (TrainConfig.minutes, ``ddpm-edu train --minutes``) on a fake clock, the
channels_last memory format, the device choice, and DistributedDataParallel: two CPU processes
(gloo) give the weights of one process with the same global batch."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import ddpm_edu.training as training
from ddpm_edu import checkpoints
from ddpm_edu.datasets.toy import two_moons
from ddpm_edu.errors import InvalidArgument
from ddpm_edu.nets import build_network
from ddpm_edu.recipes import get_recipe
from ddpm_edu.schedules import linear_schedule
from ddpm_edu.training import (TrainConfig, lr_at, minibatch_loss, progress_fraction,
                               resume_run, train)

MLP = {"kind": "mlp", "dim": 2, "hidden": 16, "num_blocks": 1, "time_embed_dim": 8}
SCHEDULE = linear_schedule(50, 2e-3, 0.4)
POINTS = two_moons(64, seed=1)
SECONDS_PER_STEP = 6.0


def _net(seed=0):
    torch.manual_seed(seed)
    return build_network(MLP)


def _cfg(**changes):
    base = dict(steps=1000, batch_size=8, lr=3e-3, warmup_steps=2, ema_decay=0.9, save_every=100,
                log_every=1, threads=1, seed=0, lr_schedule="cosine", lr_min_ratio=0.1)
    return TrainConfig(**{**base, **changes})


@pytest.fixture
def fake_clock(monkeypatch):
    """The loop's clock advances SECONDS_PER_STEP per optimizer step and not otherwise."""
    now = [1000.0]
    step = training._optimizer_step

    def timed_step(run, seconds):
        info = step(run, seconds)
        now[0] += SECONDS_PER_STEP
        return info
    monkeypatch.setattr(training, "_clock", lambda: now[0])
    monkeypatch.setattr(training, "_optimizer_step", timed_step)
    return now


def _lrs():
    seen = []
    return seen, lambda state: seen.append(state.lr)


# ---- the schedule over a budget ----------------------------------------------------------------

def test_progress_fraction_follows_the_steps_or_the_clock():
    steps = _cfg(steps=12, warmup_steps=2)
    assert progress_fraction(7, steps) == pytest.approx(0.5)
    timed = _cfg(minutes=2.0)
    assert progress_fraction(7, timed, 60.0) == pytest.approx(0.5)
    assert progress_fraction(7, timed, 500.0) == 1.0
    with pytest.raises(InvalidArgument, match="needs the training time"):
        progress_fraction(7, timed)


def test_cosine_lr_of_a_time_budget_reaches_its_floor_when_the_time_is_up():
    cfg = _cfg(minutes=1.0, warmup_steps=4)
    assert lr_at(2, cfg, 50.0) == pytest.approx(cfg.lr / 2)       # the warm-up still counts steps
    assert lr_at(10, cfg, 0.0) == pytest.approx(cfg.lr)
    assert lr_at(10, cfg, 30.0) == pytest.approx(cfg.lr * (0.1 + 0.9 * 0.5))
    assert lr_at(10, cfg, 60.0) == pytest.approx(cfg.lr * 0.1)
    assert lr_at(10, cfg.replace(lr_schedule="constant"), 45.0) == cfg.lr


@pytest.mark.parametrize("minutes", [0, -1.0, float("inf"), "10"])
def test_a_bad_budget_is_refused(minutes):
    with pytest.raises(InvalidArgument, match="minutes"):
        _cfg(minutes=minutes)


# ---- the loop on a fake clock ------------------------------------------------------------------

def test_the_run_stops_when_the_budget_is_spent(fake_clock, capsys):
    seen, record = _lrs()
    result = train(_net(), SCHEDULE, POINTS, _cfg(minutes=0.5), callbacks=[record],
                   progress=False)
    assert result.step == 5 and not result.interrupted    # steps begin at 0, 6, …, 24 s of 30 s
    assert result.train_seconds == pytest.approx(30.0)
    assert seen == pytest.approx([lr_at(k + 1, result.config, SECONDS_PER_STEP * k)
                                  for k in range(5)])
    assert result.summary() == "0.5 min: 5 steps of 8 = 40 images"
    assert "time budget of 0.5 min spent: 0.5 min: 5 steps of 8 = 40 images" \
        in capsys.readouterr().err


def test_steps_stay_an_upper_limit_of_a_time_budget(fake_clock):
    assert train(_net(), SCHEDULE, POINTS, _cfg(minutes=10.0, steps=3), progress=False).step == 3


def test_a_resumed_run_continues_its_budget(fake_clock, tmp_path):
    out = tmp_path / "run"
    first = train(_net(), SCHEDULE, POINTS, _cfg(minutes=0.3), out_dir=out, progress=False)
    assert first.step == 3                                # 18 s of 18 s
    meta = checkpoints.load_resume_state(out)
    assert meta["step"] == 3 and meta["description"]["resolved"]["seconds"] == pytest.approx(18.0)
    again = resume_run(out, POINTS, progress=False)       # the same budget: already spent
    assert again.step == 3 and not again.interrupted
    seen, record = _lrs()
    longer = resume_run(out, POINTS, minutes=0.5, callbacks=[record], progress=False)
    assert longer.step == 5 and longer.train_seconds == pytest.approx(30.0)
    assert seen == pytest.approx([lr_at(4, longer.config, 18.0), lr_at(5, longer.config, 24.0)])


def test_a_step_budget_stays_bitwise_with_the_new_fields():
    a = train(_net(), SCHEDULE, POINTS, _cfg(steps=4), progress=False)
    b = train(_net(), SCHEDULE, POINTS, _cfg(steps=4, memory_format="auto"), progress=False)
    assert a.loss_history == b.loss_history               # "auto" is contiguous for an MLP


def test_cli_minutes_without_steps_lifts_the_step_limit():
    from ddpm_edu.cli import build_parser
    from ddpm_edu.commands.train import _overrides
    args = build_parser().parse_args(["train", "--recipe", "tiny", "--minutes", "10"])
    assert _overrides(args) == {"minutes": 10.0, "steps": training.NO_STEP_LIMIT}
    args = build_parser().parse_args(["train", "--recipe", "tiny", "--minutes", "1",
                                      "--steps", "50"])
    assert _overrides(args) == {"minutes": 1.0, "steps": 50}


def test_cli_minutes_prints_what_came_out(fake_clock, capsys, tmp_path):
    from ddpm_edu.cli import main
    out = tmp_path / "run"
    assert main(["train", "--recipe", "tiny", "--minutes", "0.2", "--memory-format",
                 "channels_last", "--no-progress", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "0.2 minutes of 8" in printed and "trained 0.2 min: 2 steps of 8 = 16 images" in printed
    resolved = checkpoints.load_resume_state(out)["description"]["resolved"]
    assert resolved["memory_format"] == "channels_last" and resolved["seconds"] == 12.0


# ---- channels_last -----------------------------------------------------------------------------

def _tiny_unet():
    return get_recipe("tiny").build_network()


def test_channels_last_gives_the_same_loss_on_a_tiny_unet():
    schedule = get_recipe("tiny").build_schedule()
    images = torch.randint(0, 256, (16, 28, 28), dtype=torch.uint8)
    data = training.as_training_data(images)
    cfg = TrainConfig(batch_size=6)
    weights = training.loss_weights(schedule).float()
    plain = minibatch_loss(_tiny_unet(), schedule, data, weights, cfg,
                           torch.Generator().manual_seed(3))
    net = _tiny_unet().to(memory_format=torch.channels_last)
    fast = minibatch_loss(net, schedule, data, weights, cfg, torch.Generator().manual_seed(3),
                          channels_last=True)
    torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("fmt, net, dtype, expected", [
    ("auto", "unet", None, True), ("auto", "unet", torch.bfloat16, False),
    ("auto", "mlp", None, False), ("channels_last", "mlp", None, True),
    ("contiguous", "unet", None, False)])
def test_memory_format_auto_is_channels_last_for_fp32_unets_on_the_cpu(fmt, net, dtype, expected):
    module = _tiny_unet() if net == "unet" else _net()
    assert training._use_channels_last(fmt, module, dtype, torch.device("cpu")) is expected


# ---- devices -----------------------------------------------------------------------------------

def test_device_auto_is_the_cpu_here_and_a_missing_gpu_is_a_clear_error():
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("this machine has a GPU")
    result = train(_net(), SCHEDULE, POINTS, _cfg(steps=1), progress=False, device="auto")
    assert next(result.net.parameters()).device.type == "cpu"
    for device in ("cuda", "mps"):
        with pytest.raises(InvalidArgument, match="Available here: cpu"):
            train(_net(), SCHEDULE, POINTS, _cfg(steps=1), progress=False, device=device)


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_cli_train_on_a_missing_gpu_exits_2_in_one_line(device, capsys, tmp_path):
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("this machine has a GPU")
    from ddpm_edu.cli import main
    code = main(["train", "--recipe", "tiny", "--device", device, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and device in err[0] and "auto" in err[0]


# ---- DistributedDataParallel -------------------------------------------------------------------

WORKER = Path(__file__).with_name("ddp_worker.py")
gloo = pytest.mark.skipif(not (torch.distributed.is_available()
                               and torch.distributed.is_gloo_available()),
                          reason="torch.distributed with the gloo backend is not in this build")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@gloo
def test_two_processes_give_the_weights_of_one_with_the_same_global_batch(tmp_path):
    env = {**os.environ, "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(_free_port()), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, str(WORKER), str(tmp_path / f"rank{r}.pt")],
                              env={**env, "RANK": str(r), "LOCAL_RANK": str(r)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for r in range(2)]
    logs = [p.communicate(timeout=600)[0] for p in procs]  # seconds on a quiet machine
    assert [p.returncode for p in procs] == [0, 0], logs
    sys.path.insert(0, str(WORKER.parent))
    try:
        from ddp_worker import run_tiny
    finally:
        sys.path.remove(str(WORKER.parent))
    one = run_tiny()
    for r in range(2):
        ranked = torch.load(tmp_path / f"rank{r}.pt", weights_only=True)
        assert ranked["history"] == pytest.approx(one["history"], rel=1e-5, abs=1e-6)
        for name, value in one["ema"].items():
            torch.testing.assert_close(ranked["ema"][name], value, rtol=1e-5, atol=1e-5)
        for name, value in one["net"].items():
            torch.testing.assert_close(ranked["net"][name], value, rtol=1e-5, atol=1e-5)


def test_a_batch_that_does_not_split_over_the_processes_is_refused():
    from ddpm_edu.distributed import Dist, shard
    assert shard(8, Dist(1, 2)) == slice(4, 8)
    with pytest.raises(InvalidArgument, match="multiple of 3"):
        shard(8, Dist(0, 3))


def test_the_classroom_recipe_is_ten_minutes_and_a_step_budget_replaces_it():
    import argparse

    from ddpm_edu.commands import train as train_command
    cfg = get_recipe("mnist-classroom").train
    assert cfg.minutes == 10.0 and cfg.steps == training.NO_STEP_LIMIT
    assert cfg.lr_schedule == "cosine" and cfg.threads == "auto"   # the fastest count, measured
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    steps_only = train_command._overrides(parser.parse_args(["--steps", "500"]))
    assert steps_only == {"steps": 500, "minutes": None}  # the cosine decays over the 500 steps
    minutes_only = train_command._overrides(parser.parse_args(["--minutes", "3"]))
    assert minutes_only == {"minutes": 3.0, "steps": training.NO_STEP_LIMIT}
