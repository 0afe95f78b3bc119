"""Checkpoints: the round trip rebuilds model and schedule, resume equals an uninterrupted run (also
after a real SIGKILL), atomic writes, clear errors for other runs and damaged files, and the
pretrained registry with its checksum."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

from ddpm_edu import _files, checkpoints, pretrained
from ddpm_edu.checkpoints import CheckpointError, load_model, load_resume_state, read_metadata
from ddpm_edu.errors import UserError
from ddpm_edu.hardware import cpu_has_native_bf16
from ddpm_edu.schedules import cosine_schedule, schedule_from_config
from ddpm_edu.training import TrainConfig, resume_run, train

# One setup shared by this process and the child process that gets killed.
SETUP = textwrap.dedent("""
    import torch
    from ddpm_edu.nets import build_network
    from ddpm_edu.datasets.toy import two_moons
    from ddpm_edu.schedules import linear_schedule
    from ddpm_edu.training import TrainConfig

    def setup(steps=40, **changes):
        torch.manual_seed(0)
        net = build_network({"kind": "mlp", "dim": 2, "hidden": 32, "num_blocks": 2,
                             "time_embed_dim": 16, "dropout": 0.1})  # dropout: global RNG matters
        base = dict(steps=steps, batch_size=32, lr=2e-3, warmup_steps=5, ema_decay=0.9,
                    save_every=10, log_every=1, threads=1, seed=3)
        cfg = TrainConfig(**{**base, **changes})
        return net, linear_schedule(50, 2e-3, 0.4), two_moons(256, seed=2), cfg
""")
_ns: dict = {}
exec(SETUP, _ns)
setup = _ns["setup"]

CHILD = SETUP + textwrap.dedent("""
    import sys, time
    from ddpm_edu.training import train
    net, schedule, data, cfg = setup(precision=sys.argv[2])
    # slow the run down a little so that the parent's kill lands in the middle of it
    train(net, schedule, data, cfg, out_dir=sys.argv[1], progress=False,
          callbacks=[lambda state: time.sleep(0.03)])
""")


def _tensors(result):
    return list(result.net.state_dict().values()) + list(result.ema_net.state_dict().values())


def _assert_bitwise_equal(a, b):
    ta, tb = _tensors(a), _tensors(b)
    assert len(ta) == len(tb)
    for x, y in zip(ta, tb):
        assert torch.equal(x, y)
    assert a.loss_history == b.loss_history


def _run(tmp_path, name="run", steps=12, **changes):
    net, schedule, data, cfg = setup(steps, **changes)
    return train(net, schedule, data, cfg, out_dir=tmp_path / name, progress=False,
                 extra={"dataset": {"name": "two_moons", "n": 256, "seed": 2}})


# ---- round trip -------------------------------------------------------------------------------

def test_checkpoint_alone_rebuilds_model_and_schedule(tmp_path):
    net, _, data, cfg = setup(6)
    schedule = cosine_schedule(50)
    res = train(net, schedule, data, cfg.replace(mean_type="x0"), out_dir=tmp_path, progress=False)
    model, meta = load_model(tmp_path)
    for (k, v), (k2, v2) in zip(res.ema_net.state_dict().items(), model.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)                      # the EMA weights are the model
    assert not model.training
    assert schedule_from_config(meta["schedule"]).same_as(schedule, rtol=0)
    assert meta["network"]["hidden"] == 32 and meta["mean_type"] == "x0" and meta["step"] == 6
    assert TrainConfig.from_dict(meta["train"]) == cfg.replace(mean_type="x0")
    assert meta["data"]["shape"] == [2] and meta["data"]["n"] == 256
    # the resume state is plain tensors and dicts: torch's weights-only loader reads it
    state = torch.load(tmp_path / "resume.pt", weights_only=True)
    assert state["step"] == 6 and state["loss_history"].shape == (6,)
    for k, v in res.net.state_dict().items():
        assert torch.equal(state["net"][k], v)
    # the shipped file holds only the EMA weights (small); safetensors metadata is JSON text
    assert (tmp_path / "model.safetensors").stat().st_size < (tmp_path / "resume.pt").stat().st_size
    from safetensors import safe_open
    import ddpm_edu
    with safe_open(str(tmp_path / "model.safetensors"), framework="pt") as f:
        raw = f.metadata()
    assert (
        json.loads(raw["network"]) == meta["network"]
        and raw["ddpm_edu_version"] == ddpm_edu.__version__
    )


def test_pretrained_from_a_path_gives_eps_and_samples(tmp_path):
    net, schedule, data, cfg = setup(4)
    res = train(net, schedule, data, cfg.replace(mean_type="x0"), out_dir=tmp_path, progress=False)
    model = pretrained.load_pretrained(tmp_path / "model.safetensors")
    assert model.schedule.same_as(schedule) and model.shape == (2,) and model.mean_type == "x0"
    g = torch.Generator().manual_seed(0)
    xt, t = torch.randn(5, 2, generator=g), torch.tensor([1, 5, 20, 40, 50])
    x0_hat = res.ema_net.eval()(xt, t)
    eps = model.eps(xt, t)
    # ε̂ is the noise that, with the model's x̂_0, reproduces x_t = √ᾱ_t x̂_0 + √(1−ᾱ_t) ε̂
    ab = schedule.alpha_bar[t].float()[:, None]
    torch.testing.assert_close(ab.sqrt() * x0_hat + (1 - ab).sqrt() * eps, xt, rtol=1e-5, atol=1e-5)
    x = model.sample(7, steps=10, seed=1)
    assert x.shape == (7, 2) and torch.equal(x, model.sample(7, steps=10, seed=1))
    with pytest.raises(ValueError, match=r"shape \[N, 2\]"):
        model.eps(torch.zeros(3, 3), 5)


def test_mu_model_eps_gives_back_its_mean(tmp_path):
    net, schedule, data, cfg = setup(3)
    res = train(net, schedule, data, cfg.replace(mean_type="mu"), out_dir=tmp_path, progress=False)
    model = pretrained.load_pretrained(tmp_path)
    xt, t = torch.randn(4, 2, dtype=torch.float32), torch.tensor([2, 9, 30, 50])
    mu = res.ema_net.eval()(xt, t).double()
    eps = model.eps(xt, t).double()
    b, a, ab = (
        schedule.beta[t][:, None],
        schedule.alpha[t][:, None],
        schedule.alpha_bar[t][:, None],
    )
    # DDPM eq. 11: μ_θ = (x_t − β_t/√(1−ᾱ_t) ε̂)/√α_t
    torch.testing.assert_close(
        (xt.double() - b / (1 - ab).sqrt() * eps) / a.sqrt(), mu, rtol=1e-4, atol=1e-5
    )


# ---- resume -----------------------------------------------------------------------------------

def test_stop_and_resume_equals_an_uninterrupted_run(tmp_path):
    full = _run(tmp_path, "full", steps=24)
    _run(tmp_path, "part", steps=13)        # stops at 13: the final save is at an odd step
    resumed = resume_run(tmp_path / "part", steps=24, progress=False)
    _assert_bitwise_equal(full, resumed)
    assert load_resume_state(tmp_path / "part")["step"] == 24


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_sigkill_then_resume_gives_bitwise_the_same_final_weights(tmp_path, precision):
    if precision == "bf16" and not cpu_has_native_bf16():
        pytest.skip("this CPU has no native bf16 (bf16 autocast would be emulated, ~60x slower)")
    out = tmp_path / "killed"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    proc = subprocess.Popen([sys.executable, str(script), str(out), precision],
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while not (out / "resume.pt").exists():  # the first checkpoint (step 10) is on disk
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the child wrote no checkpoint in 60 s"
            time.sleep(0.005)
        time.sleep(0.1)
        assert proc.poll() is None, "the child finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    saved = load_resume_state(out)
    assert 10 <= saved["step"] < 40 and saved["step"] % 10 == 0

    resolved = dict(saved["description"]["resolved"])
    assert resolved.pop("seconds") > 0  # training time so far (it counts against a time budget)
    assert resolved == {"precision": precision, "threads": 1, "memory_format": "contiguous"}
    net, schedule, data, cfg = setup(precision=precision)
    reference = train(net, schedule, data, cfg, progress=False)
    resumed = resume_run(out, data, progress=False)
    assert resumed.step == 40
    _assert_bitwise_equal(reference, resumed)
    assert sorted(os.listdir(out)) == ["model.safetensors", "resume.pt"]  # no temp file left behind


NEW_FIELDS = ("precision", "lr_schedule", "lr_min_ratio", "snr_gamma", "label_dropout")


def test_a_run_saved_before_the_new_fields_resumes_exactly(tmp_path):
    """A resume.pt written before TrainConfig had precision, lr_schedule, ... (and before the
    checkpoint recorded the resolved precision) resumes with the defaults, bitwise as before."""
    full = _run(tmp_path, "full", steps=24)
    _run(tmp_path, "part", steps=13)
    path = tmp_path / "part" / checkpoints.RESUME_FILE
    state = torch.load(path, weights_only=True)
    description = json.loads(state["description"])
    description.pop("resolved")
    for name in NEW_FIELDS:
        description["train"].pop(name)
    state["description"] = json.dumps(description)
    torch.save(state, path)
    resumed = resume_run(tmp_path / "part", steps=24, progress=False)
    _assert_bitwise_equal(full, resumed)


def test_resume_with_another_configuration_names_the_fields(tmp_path):
    _run(tmp_path)
    net, schedule, data, cfg = setup(20)
    with pytest.raises(CheckpointError, match=r"train\.lr \(saved 0\.002, now 0\.01\)"):
        train(
            net,
            schedule,
            data,
            cfg.replace(lr=1e-2),
            out_dir=tmp_path / "run",
            resume=True,
            progress=False,
        )
    from ddpm_edu.nets import build_network

    other = build_network(
        {
            "kind": "mlp",
            "dim": 2,
            "hidden": 16,
            "num_blocks": 2,
            "time_embed_dim": 16,
            "dropout": 0.1,
        }
    )
    with pytest.raises(CheckpointError, match=r"network\.hidden .*schedule\.T"):
        train(
            other,
            cosine_schedule(60),
            data,
            cfg,
            out_dir=tmp_path / "run",
            resume=True,
            progress=False,
        )
    with pytest.raises(CheckpointError, match=r"data\.sha256"):
        train(
            net, schedule, data + 0.01, cfg, out_dir=tmp_path / "run", resume=True, progress=False
        )
    with pytest.raises(CheckpointError, match=r"train\.batch_size"):
        resume_run(tmp_path / "run", batch_size=64, progress=False)


def test_a_folder_with_a_run_is_not_overwritten(tmp_path):
    _run(tmp_path)
    with pytest.raises(UserError, match="already holds a training run"):
        _run(tmp_path)
    with pytest.raises(CheckpointError, match="nothing to resume"):
        resume_run(tmp_path / "empty", progress=False)


# ---- damaged files, atomic writes ---------------------------------------------------------------

def test_truncated_or_garbage_files_give_a_clear_error(tmp_path):
    _run(tmp_path, steps=3)
    run = tmp_path / "run"
    model = run / "model.safetensors"
    blob = model.read_bytes()
    model.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(CheckpointError, match=r"model\.safetensors is corrupted or truncated"):
        load_model(run)
    model.write_bytes(b"\x00" * 3)
    with pytest.raises(CheckpointError, match="corrupted"):
        read_metadata(model)
    resume = run / "resume.pt"
    resume.write_bytes(resume.read_bytes()[:200])
    with pytest.raises(
        CheckpointError, match=r"resume\.pt is corrupted or truncated.*start a new run"
    ):
        load_resume_state(run)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "nope.safetensors")


def test_other_safetensors_files_are_refused(tmp_path):
    from safetensors.torch import save_file
    save_file({"w": torch.zeros(2)}, str(tmp_path / "x.safetensors"))
    with pytest.raises(CheckpointError, match="not a ddpm_edu checkpoint"):
        load_model(tmp_path / "x.safetensors")


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "f.bin"
    checkpoints.atomic_write(target, lambda f: f.write(b"old"))

    def crash(f):
        f.write(b"half of the new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        checkpoints.atomic_write(target, crash)
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.bin"]
    monkeypatch.setattr(_files.os, "replace",
                        lambda a, b: (_ for _ in ()).throw(OSError("no rename")))
    with pytest.raises(OSError, match="no rename"):
        checkpoints.atomic_write(target, lambda f: f.write(b"new"))
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["f.bin"]


# ---- the pretrained registry ------------------------------------------------------------------

def test_named_model_missing_unpinned_corrupted_and_good(tmp_path, monkeypatch):
    monkeypatch.setattr(pretrained, "ROOT", tmp_path)
    entry = {"file": "data/checkpoints/mnist.safetensors", "sha256": None, "about": ""}
    monkeypatch.setitem(pretrained.REGISTRY, "mnist", entry)
    with pytest.raises(
        UserError, match=r"not in this copy.*git checkout data/checkpoints/mnist\.safetensors"
    ):
        pretrained.load_pretrained("mnist")
    _run(tmp_path, steps=2)
    target = tmp_path / entry["file"]
    target.parent.mkdir(parents=True)
    target.write_bytes((tmp_path / "run" / "model.safetensors").read_bytes())
    digest = checkpoints.sha256_file(target)
    with pytest.raises(UserError, match=f"no pinned checksum.*{digest}"):
        pretrained.load_pretrained("mnist")
    entry["sha256"] = digest
    assert pretrained.load_pretrained("mnist").step == 2
    entry["sha256"] = "0" * 64
    with pytest.raises(UserError, match=r"corrupted or was changed.*git checkout"):
        pretrained.load_pretrained("mnist")
    with pytest.raises(FileNotFoundError, match="no pretrained model named 'mnsit'"):
        pretrained.load_pretrained("mnsit")


@pytest.mark.parametrize("name, file", [("mnist", "mnist"), ("mnist-ddpm", "mnist_ddpm")])
def test_shipped_mnist_entries_point_into_data_checkpoints(name, file):
    entry = pretrained.REGISTRY[name]
    assert entry["file"] == f"data/checkpoints/{file}.safetensors"
    path = pretrained.ROOT / entry["file"]
    assert entry["sha256"] and checkpoints.sha256_file(path) == entry["sha256"]
    assert pretrained.load_pretrained(name).shape == (1, 28, 28)


@pytest.mark.parametrize("name, recipe", [("mnist", "mnist"), ("mnist-ddpm", "ddpm")])
def test_mnist_cards_match_the_shipped_files_and_recipes(name, recipe):
    # the model card beside the file states its checksum, size and step, and the recipe's steps
    from ddpm_edu.recipes import get_recipe

    entry = pretrained.REGISTRY[name]
    path = pretrained.ROOT / entry["file"]
    card = path.with_suffix(".md").read_text(encoding="utf-8")
    assert entry["sha256"] in card, f"update the SHA-256 in {path.with_suffix('.md')}"
    assert f"{path.stat().st_size:,}" in card, "the card states the file size in bytes"
    step = int(read_metadata(path)["step"])
    assert get_recipe(recipe).train.steps == step, (
        f"the {recipe} recipe's steps are the shipped model's"
    )
    assert f"{step:,} steps" in card


def test_mnist_cond_ships_checked_with_its_default_guidance():
    model = pretrained.load_pretrained("mnist-cond")
    assert model.num_classes == 10 and model.default_guidance == 1.0
    assert model.step == 6000 and model.shape == (1, 28, 28)
    card = (pretrained.ROOT / "data" / "checkpoints" / "mnist_cond.md").read_text()
    assert pretrained.REGISTRY["mnist-cond"]["sha256"] in card


def test_a_model_not_released_yet_or_not_pinned_gives_a_clear_error(tmp_path, monkeypatch):
    entry = {"file": "data/checkpoints/future.safetensors", "sha256": None, "released": False,
             "about": "a model still being trained"}
    monkeypatch.setitem(pretrained.REGISTRY, "future", entry)
    monkeypatch.setattr(pretrained, "ROOT", tmp_path)
    with pytest.raises(UserError, match=r"'future'.*not released yet"):
        pretrained.load_pretrained("future")
    _run(tmp_path, steps=1)  # once the file exists: the checksum path
    target = tmp_path / entry["file"]
    target.parent.mkdir(parents=True)
    target.write_bytes((tmp_path / "run" / "model.safetensors").read_bytes())
    with pytest.raises(UserError, match="no pinned checksum"):
        pretrained.load_pretrained("future")


def test_mnist_guide_is_the_mnist_network_early_in_the_same_run():
    guide, model = pretrained.load_pretrained("mnist-guide"), pretrained.load_pretrained("mnist")
    assert guide.step == 1000 and model.step == 16000
    for key in ("network", "schedule", "train", "data"):
        assert guide.config[key] == model.config[key], key
    card = (pretrained.ROOT / "data" / "checkpoints" / "mnist_guide.md").read_text()
    path = pretrained.ROOT / pretrained.REGISTRY["mnist-guide"]["file"]
    assert pretrained.REGISTRY["mnist-guide"]["sha256"] in card
    assert f"{path.stat().st_size:,} bytes" in card
