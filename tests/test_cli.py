"""``ddpm-edu train`` and ``ddpm-edu sample`` end to end on the "tiny" and "toy2d" recipes, and their
one-line errors (exit 2, no traceback)."""
import subprocess
import sys

import numpy as np
import pytest

from ddpm_edu.cli import main


def _errors(capsys, argv):
    """Exit code and stderr lines of ``ddpm-edu ARGV`` (argparse's own errors exit via SystemExit)."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "tiny"
    # --preset, the recipes' earlier name, stays a spelling of --recipe (model cards use it)
    assert main(["train", "--preset", "tiny", "--out", str(out), "--steps", "6", "--save-every", "3",
                 "--no-progress"]) == 0
    return out


def test_train_tiny_writes_a_checkpoint_that_names_its_recipe(tiny_run):
    from ddpm_edu.checkpoints import read_metadata
    meta = read_metadata(tiny_run)
    assert meta["step"] == 6 and meta["extra"]["preset"] == "tiny"
    assert meta["train"]["steps"] == 6 and meta["data"]["shape"] == [1, 28, 28]


def test_sample_png_and_npy(tiny_run, tmp_path, capsys):
    from PIL import Image
    png, npy = tmp_path / "x.png", tmp_path / "x.npy"
    assert main(["sample", "--checkpoint", str(tiny_run), "--n", "5", "--steps", "4", "--out", str(png),
                 "--scale", "2", "--no-progress"]) == 0
    assert main(["sample", "--checkpoint", str(tiny_run), "--n", "5", "--steps", "4", "--out", str(npy),
                 "--no-progress"]) == 0
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
    assert main(["sample", "--checkpoint", str(tiny_run), "--n", "2", "--sampler", "ddpm", "--steps",
                 "3", "--out", str(again), "--no-progress"]) == 0


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
    text = " ".join(capsys.readouterr().out.split())  # undo the wrapping
    for name, about in recipe_summaries().items():
        assert f"{name} {about}" in text and get_recipe(name).about == about


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
    proc = subprocess.run([sys.executable, "-m", "ddpm_edu.cli", "sample", "--out", str(tmp_path / "x.jpg")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_help_teaches_with_examples(capsys):
    for command in ("train", "sample"):
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0
        text = capsys.readouterr().out
        assert "examples:" in text and f"ddpm-edu {command} --" in text
