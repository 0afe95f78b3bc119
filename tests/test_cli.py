"""``ddpm-edu train`` and ``ddpm-edu sample`` end to end on the "tiny" and "toy2d" recipes, and
their one-line errors (exit 2, no traceback)."""
import subprocess
import sys

import numpy as np
import pytest

from ddpm_edu.cli import main


def _errors(capsys, argv):
    """Exit code and stderr lines of ``ddpm-edu ARGV`` (argparse's own errors exit via
    SystemExit)."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "tiny"
    # --preset, the recipes' earlier name, stays a spelling of --recipe (model cards use it)
    assert (
        main(
            [
                "train", "--preset", "tiny", "--out", str(out), "--steps", "6", "--save-every",
                "3", "--no-progress",
            ]
        )
        == 0
    )
    return out


def test_train_tiny_writes_a_checkpoint_that_names_its_recipe(tiny_run):
    from ddpm_edu.checkpoints import read_metadata
    meta = read_metadata(tiny_run)
    assert meta["step"] == 6 and meta["extra"]["preset"] == "tiny"
    assert meta["train"]["steps"] == 6 and meta["data"]["shape"] == [1, 28, 28]


def test_sample_png_and_npy(tiny_run, tmp_path, capsys):
    from PIL import Image
    png, npy = tmp_path / "x.png", tmp_path / "x.npy"
    assert (
        main(
            [
                "sample", "--checkpoint", str(tiny_run), "--n", "5", "--steps", "4", "--out",
                str(png), "--scale", "2", "--no-progress",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "sample", "--checkpoint", str(tiny_run), "--n", "5", "--steps", "4", "--out",
                str(npy), "--no-progress",
            ]
        )
        == 0
    )
    assert "wrote" in capsys.readouterr().out
    arr = np.load(npy)
    assert arr.shape == (5, 28, 28) and arr.dtype == np.uint8
    with Image.open(png) as im:
        # 5 samples → a 3 × 2 grid of 28-px tiles with 2-px gaps, each pixel doubled
        assert im.size == (2 * (3 * 28 + 2 * 2), 2 * (2 * 28 + 2)) and im.mode == "L"
        grid = np.asarray(im)
    assert np.array_equal(grid[:56:2, :56:2], arr[0])     # the first tile is the first sample
    # the same seed gives the same samples; DDPM's sampler works too
    again = tmp_path / "again.npy"
    assert main(["sample", "--checkpoint", str(tiny_run), "--n", "5", "--steps", "4", "--out",
                 str(again), "--no-progress"]) == 0
    assert np.array_equal(np.load(again), arr)
    assert (
        main(
            [
                "sample", "--checkpoint", str(tiny_run), "--n", "2", "--sampler", "ddpm",
                "--steps", "3", "--out", str(again), "--no-progress",
            ]
        )
        == 0
    )


def test_resume_continues_and_refuses_changed_settings(tiny_run, capsys):
    code, err = _errors(capsys, ["train", "--resume", str(tiny_run), "--lr", "0.5"])
    assert code == 2 and len(err) == 1 and "train.lr" in err[0]
    assert main(["train", "--resume", str(tiny_run), "--steps", "7", "--no-progress"]) == 0
    from ddpm_edu.checkpoints import read_metadata
    assert read_metadata(tiny_run)["step"] == 7


def test_toy2d_points(tmp_path, capsys):
    out = tmp_path / "toy"
    assert main(["train", "--recipe", "toy2d", "--out", str(out), "--steps", "5", "--threads", "1",
                 "--no-progress"]) == 0
    npy, png = tmp_path / "p.npy", tmp_path / "p.png"
    assert main(["sample", "--checkpoint", str(out), "--n", "50", "--steps", "5", "--out", str(npy),
                 "--no-progress"]) == 0
    assert main(["sample", "--checkpoint", str(out), "--n", "50", "--steps", "5", "--out", str(png),
                 "--no-progress"]) == 0
    pts = np.load(npy)
    assert pts.shape == (50, 2) and pts.dtype == np.float32
    from PIL import Image
    with Image.open(png) as im:
        assert im.size == (256, 256) and (np.asarray(im) < 128).any()


def test_train_help_lists_every_recipe_from_its_own_summary(capsys):
    from ddpm_edu.recipes import get_recipe, recipe_summaries
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    # undo the wrapping: argparse breaks lines at spaces and after hyphens ("min-|SNR")
    text = "".join(capsys.readouterr().out.split())
    for name, about in recipe_summaries().items():
        assert "".join(f"{name} {about}".split()) in text and get_recipe(name).about == about


@pytest.mark.parametrize("argv, words", [
    (["sample", "--checkpoint", "runs/does-not-exist", "--out", "x.png"], "no such file or folder"),
    (["sample", "--checkpoint", "mnist", "--out", "x.jpg"], ".png"),
    (["sample", "--n", "0", "--out", "x.png"], "--n must be at least 1"),
    (["sample", "--sampler", "ddpm", "--eta", "1", "--out", "x.png"], "--sampler ddim"),
    (["sample", "--n", "many", "--out", "x.png"], "invalid int value"),
    (["sample", "--sampler", "euler", "--out", "x.png"], "invalid choice"),
    (["train"], "--recipe"),
    (["train", "--preset", "imagenet"], "unknown recipe"),
    (["train", "--preset", "tiny", "--lr", "-1"], "TrainConfig.lr"),
    (["train", "--resume", "runs/never-trained"], "nothing to resume"),
])
def test_bad_arguments_give_one_line_and_exit_2(argv, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = _errors(capsys, argv)
    assert code == 2
    assert len(err) == 1 and words in err[0], err
    assert "Traceback" not in err[0]


def test_a_real_process_prints_one_line_and_exits_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ddpm_edu.cli", "sample", "--out", str(tmp_path / "x.jpg")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_help_teaches_with_examples(capsys):
    for command in ("train", "sample"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        text = capsys.readouterr().out
        assert "examples:" in text and f"ddpm-edu {command} --" in text


# ---- class-conditional checkpoints: --digit and --guidance ------------------------------------
@pytest.fixture(scope="module")
def cond_ckpt(tmp_path_factory):
    """A tiny class-conditional U-Net with random weights (not trained), saved as a checkpoint."""
    import torch

    from ddpm_edu.checkpoints import save_model
    from ddpm_edu.nets import build_network, network_config
    from ddpm_edu.schedules import linear_schedule

    torch.manual_seed(0)
    net = build_network({"kind": "unet", "image_size": 8, "base_channels": 8,
                         "channel_mult": [1, 2], "attention_resolutions": [], "norm_groups": 4,
                         "num_classes": 10})
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.05)
    description = {"network": network_config(net), "schedule": linear_schedule(100).to_config(),
                   "data": {"shape": [1, 8, 8]}, "mean_type": "eps", "var_type": "fixed_large",
                   "extra": {"guidance": 1.5}}
    path = tmp_path_factory.mktemp("cond") / "cond.safetensors"
    save_model(path, net.state_dict(), description, step=0)
    return path


def test_sample_a_digit_with_guidance(cond_ckpt, tmp_path, capsys):
    from ddpm_edu.pretrained import load_pretrained
    base = ["sample", "--checkpoint", str(cond_ckpt), "--n", "3", "--steps", "3", "--no-progress"]
    out = {}
    runs = (("default", ["--digit", "4"]), ("w15", ["--digit", "4", "--guidance", "1.5"]),
            ("w0", ["--digit", "4", "--guidance", "0"]), ("any", ["--digit", "any"]))
    for name, extra in runs:
        assert main(base + ["--out", str(tmp_path / f"{name}.npy")] + extra) == 0
        out[name] = np.load(tmp_path / f"{name}.npy")
    assert "digit 4, guidance 1.5" in capsys.readouterr().out       # the checkpoint's own default
    assert np.array_equal(out["default"], out["w15"]) and not np.array_equal(out["w15"], out["w0"])
    pre = load_pretrained(str(cond_ckpt))
    want = pre.sample(3, steps=3, labels=4, guidance=1.5)
    from ddpm_edu.pixels import to_pixels
    assert np.array_equal(out["w15"], to_pixels(want)[:, 0].numpy())
    assert np.array_equal(out["any"], to_pixels(pre.sample(3, steps=3))[:, 0].numpy())


def test_sample_every_digit_in_turn(cond_ckpt, tmp_path, capsys):
    """--digit all: sample i is of class i mod 10 (the same as the library call with those labels),
    and the PNG grid has one class per column."""
    import torch
    from PIL import Image

    from ddpm_edu.pixels import to_pixels
    from ddpm_edu.pretrained import load_pretrained
    base = ["sample", "--checkpoint", str(cond_ckpt), "--n", "12", "--steps", "3", "--no-progress",
            "--digit", "all"]
    assert main(base + ["--out", str(tmp_path / "all.npy")]) == 0
    assert "digits 0..9 in turn, guidance 1.5" in capsys.readouterr().out
    labels = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1])
    want = load_pretrained(str(cond_ckpt)).sample(12, steps=3, labels=labels, guidance=1.5)
    got = np.load(tmp_path / "all.npy")
    assert np.array_equal(got, to_pixels(want)[:, 0].numpy())
    assert not np.array_equal(got[0], got[1])
    assert main(base + ["--out", str(tmp_path / "all.png"), "--scale", "1"]) == 0
    with Image.open(tmp_path / "all.png") as im:                 # 8×8 digits, 2-pixel gaps
        assert im.size == (10 * 8 + 9 * 2, 2 * 8 + 2)
    assert main(["gif", "--checkpoint", str(cond_ckpt), "--out", str(tmp_path / "all.gif"),
                 "--n", "3", "--steps", "3", "--frames", "3", "--digit", "all"]) == 0


@pytest.mark.parametrize("argv, words", [
    (["--digit", "10"], "--digit must be a class 0..9"),
    (["--digit", "three"], "--digit must be a class 0..9"),
    (["--digit", "3", "--guidance", "-1"], "--guidance must be a finite number >= 0"),
    (["--digit", "3", "--guidance", "nan"], "--guidance must be a finite number >= 0"),
    (["--guidance", "2"], "--guidance needs --digit"),
])
def test_conditional_argument_errors(cond_ckpt, tmp_path, argv, words, capsys):
    for command in ("sample", "gif"):
        code, err = _errors(capsys, [command, "--checkpoint", str(cond_ckpt), "--steps", "2",
                                     "--out", str(tmp_path / "x.gif" if command == "gif" else
                                                  tmp_path / "x.png")] + argv)
        assert code == 2 and len(err) == 1 and words in err[0], (command, err)


def test_digit_for_an_unconditional_checkpoint_is_refused(tiny_run, tmp_path, capsys):
    for command, out in (("sample", "x.png"), ("gif", "x.gif")):
        code, err = _errors(capsys, [command, "--checkpoint", str(tiny_run), "--digit", "3",
                                     "--out", str(tmp_path / out)])
        assert code == 2 and len(err) == 1 and "unconditional" in err[0], err


def test_gif_of_a_digit(cond_ckpt, tmp_path, capsys):
    out = tmp_path / "seven.gif"
    assert main(["gif", "--checkpoint", str(cond_ckpt), "--out", str(out), "--n", "2",
                 "--steps", "4", "--frames", "4", "--digit", "7", "--guidance", "2"]) == 0
    assert out.stat().st_size > 0


def test_a_conditional_recipes_run_samples_at_the_recipes_guidance(tmp_path, tiny_run):
    """A run of mnist-cond-classroom saves the recipe's tuned w (1), so that sampling it
    without --guidance uses that, as the shipped mnist-cond does, not the library's fallback."""
    from ddpm_edu.checkpoints import read_metadata
    from ddpm_edu.pretrained import DEFAULT_GUIDANCE, load_pretrained
    from ddpm_edu.recipes import get_recipe
    out = tmp_path / "cond"
    assert main(["train", "--recipe", "mnist-cond-classroom", "--out", str(out), "--steps", "1",
                 "--threads", "1", "--precision", "fp32", "--no-progress"]) == 0
    model = load_pretrained(str(out))
    assert model.num_classes == 10 and model.default_guidance == 1.0 != DEFAULT_GUIDANCE
    assert get_recipe("mnist-cond").guidance == get_recipe("mnist-cond-classroom").guidance == 1.0
    assert load_pretrained("mnist-cond").default_guidance == get_recipe("mnist-cond").guidance
    assert "guidance" not in read_metadata(tiny_run)["extra"]   # unconditional: nothing saved
    assert load_pretrained(str(tiny_run)).default_guidance == 0.0
