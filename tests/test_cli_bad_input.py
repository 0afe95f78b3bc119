"""Every option of every ``ddpm-edu`` command, given a bad value, ends in ONE line on stderr that
says what to do, and exit code 2: never a traceback (the error policy in ddpm_edu/cli.py).

The table below has rows for each option; ``test_every_option_has_rows`` walks the parsers that
``build_parser()`` builds, so a new option without a row fails the suite. Commands run in-process
(fast), in a temporary folder holding the bad files: a text file where an image or a checkpoint
is expected, bytes that are no .npy / .safetensors, folders where files are expected, a regular
file where a folder is expected (``afile/sub/...`` cannot be created), and paths under /proc.
The tests run as root, so "cannot be written" is simulated by those, never by chmod.
"""
import argparse

import numpy as np
import pytest
import torch

from ddpm_edu.cli import build_parser, main
from ddpm_edu.pretrained import ROOT

FLOWER = str(ROOT / "data" / "images" / "flower64.png")
HUGE = str(10**30)
GPU = torch.cuda.is_available()

# command → option (or positional) → rows of (argv after the command, words the one line holds)
S = ["--n", "2", "--steps", "2", "--no-progress"]          # keeps a row that slips through quick
OUT = ["--out", "x.png"]
FWD = ["--forward", "--image", FLOWER, "--T", "10", "--frames", "3", "--out", "f.gif"]
REV = ["--checkpoint", "mnist", "--n", "1", "--steps", "2", "--frames", "2", "--out", "r.gif"]
EV = ["--checkpoint", "mnist", "--n", "2", "--fast", "2", "--no-progress"]
TINY = ["--preset", "tiny", "--steps", "2", "--no-progress"]
SITE = ["--out", "site-out"]
BAD = {
    "train": {
        "--recipe": [(["--recipe", "imagenet"], "unknown recipe"),
                     (["--preset", "imagenet"], "unknown recipe")],
        "--out": [(TINY + ["--out", "afile/sub"], "cannot write checkpoints to afile/sub"),
                  (TINY + ["--out", "/proc/ddpm-run"], "cannot write checkpoints"),
                  (TINY + ["--out", "afile"], "cannot write checkpoints to afile"),
                  (TINY + ["--out", "run"], "already holds a training run")],
        "--resume": [(["--resume", "nowhere"], "nothing to resume"),
                     (["--resume", "notes.txt"], "nothing to resume"),
                     (["--resume", "run"], "corrupted or truncated"),
                     (["--resume", "run", "--out", "other"], "drop --out")],
        "--steps": [(["--preset", "tiny", "--steps", "0"], "TrainConfig.steps"),
                    (["--preset", "tiny", "--steps", "-5"], "TrainConfig.steps"),
                    (["--preset", "tiny", "--steps", "1e3"], "invalid int value")],
        "--batch-size": [(["--preset", "tiny", "--batch-size", "0"], "TrainConfig.batch_size"),
                         (["--preset", "tiny", "--batch-size", "x"], "invalid int value"),
                         (TINY + ["--batch-size", str(10**13), "--out", "big"], "out of memory")],
        "--lr": [(["--preset", "tiny", "--lr", "-1"], "TrainConfig.lr"),
                 (["--preset", "tiny", "--lr", "nan"], "TrainConfig.lr"),
                 (["--preset", "tiny", "--lr", "1e300"], "TrainConfig.lr"),
                 (["--preset", "tiny", "--lr", "fast"], "invalid float value")],
        "--warmup-steps": [(["--preset", "tiny", "--warmup-steps", "-1"],
                            "TrainConfig.warmup_steps")],
        "--weight-decay": [(["--preset", "tiny", "--weight-decay", "2"],
                            "TrainConfig.weight_decay")],
        "--grad-clip": [(["--preset", "tiny", "--grad-clip", "-1"], "TrainConfig.grad_clip"),
                        (["--preset", "tiny", "--grad-clip", "inf"], "TrainConfig.grad_clip")],
        "--ema-decay": [(["--preset", "tiny", "--ema-decay", "1"], "TrainConfig.ema_decay")],
        "--mean-type": [(["--preset", "tiny", "--mean-type", "epsilon"],
                         "argument --mean-type: invalid choice")],
        "--loss": [(["--preset", "tiny", "--loss", "l1"], "argument --loss: invalid choice")],
        "--snr-gamma": [(["--preset", "tiny", "--snr-gamma", "0"], "TrainConfig.snr_gamma"),
                        (["--preset", "tiny", "--snr-gamma", "inf"], "TrainConfig.snr_gamma")],
        "--var-type": [(["--preset", "tiny", "--var-type", "learned"],
                        "argument --var-type: invalid choice")],
        "--lr-schedule": [(["--preset", "tiny", "--lr-schedule", "step"],
                           "argument --lr-schedule: invalid choice")],
        "--lr-min-ratio": [(["--preset", "tiny", "--lr-min-ratio", "2"],
                            "TrainConfig.lr_min_ratio")],
        "--precision": [(["--preset", "tiny", "--precision", "fp16"],
                         "argument --precision: invalid choice")],
        "--label-dropout": [(["--preset", "tiny", "--label-dropout", "1"],
                             "TrainConfig.label_dropout")],
        "--minutes": [(["--preset", "tiny", "--minutes", "0"], "TrainConfig.minutes"),
                      (["--preset", "tiny", "--minutes", "-3"], "TrainConfig.minutes"),
                      (["--preset", "tiny", "--minutes", "inf"], "TrainConfig.minutes"),
                      (["--preset", "tiny", "--minutes", "ten"],
                       "argument --minutes: invalid float value")],
        "--memory-format": [(["--preset", "tiny", "--memory-format", "nchw"],
                             "argument --memory-format: invalid choice")],
        "--seed": [(["--preset", "tiny", "--seed", "-1"], "TrainConfig.seed"),
                   (["--preset", "tiny", "--seed", HUGE], "argument --seed")],
        "--threads": [(["--preset", "tiny", "--threads", "0"], "argument --threads"),
                      (["--preset", "tiny", "--threads", "100000"], "argument --threads"),
                      (["--preset", "tiny", "--threads", "fastest"], "argument --threads")],
        "--save-every": [(["--preset", "tiny", "--save-every", "0"], "TrainConfig.save_every")],
        "--log-every": [(["--preset", "tiny", "--log-every", "0"], "TrainConfig.log_every")],
        "--no-progress": [(["--preset", "tiny", "--no-progress=yes"], "ignored explicit argument")],
        "--device": [(TINY + ["--device", "foo"], "must be a torch device such as"),
                     (TINY + ["--device", "meta"], "cpu, cuda or mps")]
                    + ([] if GPU else [(TINY + ["--device", "cuda"], "no CUDA GPU")]),
    },
    "sample": {
        "--checkpoint": [(["--checkpoint", "nowhere"] + OUT, "no such file or folder"),
                         (["--checkpoint", "notes.txt"] + OUT, "corrupted or truncated"),
                         (["--checkpoint", "folder"] + OUT, "has no model.safetensors"),
                         (["--checkpoint", "garbage.safetensors"] + OUT, "corrupted or truncated")],
        "--n": [(["--n", "0"] + OUT, "--n must be at least 1"),
                (["--n", "-3"] + OUT, "--n must be at least 1"),
                (["--n", "many"] + OUT, "invalid int value"),
                (["--n", "100000"] + OUT, "--n must be at most 4,096"),
                (["--n", str(10**12), "--out", "x.npy"], "GB are free")],
        "--sampler": [(["--sampler", "euler"] + OUT, "invalid choice")],
        "--steps": [(["--steps", "0"] + OUT, "--steps must be at least 1"),
                    (["--steps", "5000"] + OUT, "at most T = 1000"),
                    (["--steps", "x"] + OUT, "invalid int value")],
        "--eta": [(["--eta", "-1"] + OUT, "--eta must be ≥ 0"),
                  (S + ["--eta", "nan"] + OUT, "eta must be a finite number"),
                  (S + ["--eta", "inf"] + OUT, "eta must be a finite number")],
        "--seed": [(S + ["--seed", HUGE] + OUT, "argument --seed"),
                   (S + ["--seed", "x"] + OUT, "argument --seed")],
        "--out": [(["--out", "x.jpg"], ".png"),
                  (S + ["--out", "folder.png"], "is a folder"),
                  (S + ["--out", "afile/sub/x.png"], "cannot write --out afile/sub/x.png"),
                  (S + ["--out", "/proc/x.npy"], "cannot write --out /proc/x.npy")],
        "--scale": [(S + ["--scale", "0"] + OUT, "--scale must be between 1 and 32"),
                    (S + ["--scale", "1000"] + OUT, "--scale must be between 1 and 32")],
        "--threads": [(S + ["--threads", "0"] + OUT, "argument --threads"),
                      (S + ["--threads", "99999"] + OUT, "argument --threads")],
        "--no-progress": [(["--no-progress=1"] + OUT, "ignored explicit argument")],
        "--digit": [(S + ["--digit", "3"] + OUT, "--digit needs a class-conditional checkpoint"),
                    (S + ["--digit", "x"] + OUT, "--digit needs a class-conditional checkpoint")],
        "--guidance": [(["--digit", "3", "--guidance", "-1"] + OUT, "--guidance must be a finite"),
                       (["--digit", "3", "--guidance", "nan"] + OUT, "--guidance must be a finite"),
                       (["--guidance", "2"] + OUT, "--guidance needs --digit"),
                       (["--guidance", "x"] + OUT, "invalid float value")],
        "--guide": [(S + ["--guide", "nowhere"] + OUT, "no such file or folder"),
                    (S + ["--guide", "mnist-cond"] + OUT, "mnist_cond.safetensors is class-cond"),
                    (S + ["--checkpoint", "mnist-cond", "--guide", "mnist-guide"] + OUT,
                     "is class-conditional"),
                    (S + ["--checkpoint", "mnist-cond", "--digit", "3", "--guide", "mnist-guide"]
                     + OUT, "drop one of them"),
                    (S + ["--guide", "single-image"] + OUT, "give a weaker copy of the same")],
    },
    "gif": {
        "--checkpoint": [(["--checkpoint", "nowhere", "--out", "r.gif"], "no such file or folder"),
                         (["--checkpoint", "notes.txt", "--out", "r.gif"], "corrupted"),
                         (["--checkpoint", "mnist", "--forward", "--out", "r.gif"], "not allowed")],
        "--forward": [(["--forward=1", "--out", "f.gif"], "ignored explicit argument"),
                      (["--forward", "--out", "f.gif"], "--forward needs --image")],
        "--out": [(FWD[:-2] + ["--out", "f.png"], "must name a .gif"),
                  (FWD[:-2] + ["--out", "nodir/f.gif"], "does not exist"),
                  (FWD[:-2] + ["--out", "folder.gif"], "is a folder"),
                  (FWD[:-2] + ["--out", "/proc/f.gif"], "cannot write --out /proc/f.gif")],
        "--image": [(["--forward", "--image", "notes.txt", "--out", "f.gif"], "not an image"),
                    (["--forward", "--image", "notes.png", "--out", "f.gif"], "not an image"),
                    (["--forward", "--image", "folder", "--out", "f.gif"], "is a folder"),
                    (["--forward", "--image", "nowhere.png", "--out", "f.gif"], "not found"),
                    (REV + ["--image", FLOWER], "--image is for --forward")],
        "--n": [(REV + ["--n", "0"], "--n must be a positive integer"),
                (REV + ["--n", "100000"], "--n must be at most")],
        "--sampler": [(REV + ["--sampler", "euler"], "invalid choice")],
        "--steps": [(REV + ["--steps", "0"], "--steps must be a positive integer")],
        "--eta": [(REV + ["--eta", "-1"], "eta must be a finite number")],
        "--seed": [(REV + ["--seed", HUGE], "argument --seed")],
        "--frames": [(FWD + ["--frames", "0"], "--frames must be a positive integer"),
                     (FWD + ["--frames", "1000000"], "--frames must be at most")],
        "--spacing": [(FWD + ["--spacing", "log"], "invalid choice")],
        "--duration": [(FWD + ["--duration", "-1"], "--duration"),
                       (FWD + ["--duration", "nan"], "--duration"),
                       (FWD + ["--duration", "1e9"], "--duration")],
        "--hold": [(FWD + ["--hold", "-1"], "--hold"), (FWD + ["--hold", "inf"], "--hold")],
        "--scale": [(FWD + ["--scale", "0"], "--scale must be a positive integer"),
                    (FWD + ["--scale", "100000"], "--scale must be at most")],
        "--no-x0": [(REV + ["--no-x0=1"], "ignored explicit argument")],
        "--digit": [(REV + ["--digit", "3"], "--digit needs a class-conditional checkpoint"),
                    (FWD + ["--digit", "3"], "--digit is for a checkpoint's chain")],
        "--guidance": [(REV + ["--digit", "3", "--guidance", "-1"], "--guidance must be a finite"),
                       (REV + ["--guidance", "1"], "--guidance needs --digit")],
        "--guide": [(REV + ["--guide", "nowhere"], "no such file or folder"),
                    (REV + ["--guide", "mnist-cond"], "is class-conditional"),
                    (FWD + ["--guide", "mnist-guide"], "drop --guide")],
        "--schedule": [(FWD + ["--schedule", "quadratic"], "invalid choice")],
        "--T": [(FWD + ["--T", "0"], "--T must be a positive integer"),
                (FWD + ["--T", str(10**9)], "--T must be at most")],
        "--size": [(FWD + ["--size", "0"], "--size must be a positive integer"),
                   (FWD + ["--size", "100000"], "--size must be at most")],
    },
    "eval": {
        "--checkpoint": [(["--checkpoint", "nowhere"], "no such file or folder"),
                         (["--checkpoint", "notes.txt"], "corrupted")],
        "--bpd": [(["--bpd=1"], "ignored explicit argument")],
        "--n": [(["--n", "0"], "--n must be at least 1"),
                (EV + ["--n", str(10**9)], "is more than the 10000 MNIST test images")],
        "--fast": [(["--fast", "0"], "--fast K needs K ≥ 1"),
                   (EV + ["--fast", "5000"], "more than T = 1000")],
        "--always-decoder": [(["--always-decoder"], "add --fast K"),
                             (["--always-decoder", "--fast", "1"], "K ≥ 2")],
        "--batch-size": [(["--batch-size", "0"], "--batch-size must be at least 1"),
                         (["--batch-size", "x"], "invalid int value")],
        "--seed": [(EV + ["--seed", HUGE], "argument --seed")],
        "--var-type": [(["--var-type", "learned"], "invalid choice")],
        "--tanh-cdf": [(["--tanh-cdf=1"], "ignored explicit argument")],
        "--json": [(["--json=1"], "ignored explicit argument")],
        "--per-t": [(["--per-t"], "use it with --json")],
        "--threads": [(["--threads", "0"], "argument --threads")],
        "--no-progress": [(["--no-progress=1"], "ignored explicit argument")],
        "--quality": [(["--quality", "--bpd"], "two separate measurements"),
                      (["--quality", "--fast", "2"], "--fast belongs to --bpd"),
                      (["--quality", "--batch-size", "8"], "--batch-size belongs to --bpd"),
                      (["--quality", "--n", "1"], "--n must be at least 2 digits"),
                      (["--quality", "--n", str(10**6), "--checkpoint", "mnist"],
                       "--n must be at most"),
                      (["--quality", "--checkpoint", "single-image", "--n", "4"],
                       "judges 28×28 digits"),
                      (["--quality", "--checkpoint", "mnist-cond", "--n", "10"],
                       "--n 20 or more")],
        "--sampler": [(["--sampler", "ddpm"], "--sampler belongs to --quality"),
                      (["--quality", "--sampler", "euler"], "invalid choice")],
        "--steps": [(["--steps", "10"], "--steps belongs to --quality"),
                    (["--quality", "--steps", "0"], "--steps must be at least 1"),
                    (["--quality", "--n", "2", "--steps", "5000"], "more than this model's T")],
        "--guidance": [(["--guidance", "1"], "--guidance belongs to --quality"),
                       (["--quality", "--guidance", "-1"], "--guidance must be a finite"),
                       (["--quality", "--n", "2", "--steps", "1", "--guidance", "1"],
                        "needs a class-conditional checkpoint")],
        "--eta": [(["--eta", "1"], "--eta belongs to --quality"),
                  (["--quality", "--eta", "-0.5"], "--eta must be a finite number >= 0"),
                  (["--quality", "--eta", "nan"], "--eta must be a finite number >= 0"),
                  (["--quality", "--eta", "1", "--sampler", "ddpm"],
                   "--eta is the ddim sampler's noise")],
        "--guide": [(["--guide", "mnist-guide"], "--guide belongs to --quality"),
                    (["--quality", "--n", "20", "--steps", "1", "--checkpoint", "mnist-cond",
                      "--guide", "mnist-guide"], "is class-conditional"),
                    (["--quality", "--n", "2", "--steps", "1", "--guide", "nowhere"],
                     "no such file or folder")],
    },
    "diagnose": {
        "--checkpoint": [([], "nothing to diagnose"),
                         (["--checkpoint", "nowhere"], "no such file or folder"),
                         (["--checkpoint", "notes.txt"], "corrupted")],
        "--samples": [(["--samples", "notes.txt"], "no such .npy file"),
                      (["--samples", "folder.npy"], "no such .npy file"),
                      (["--samples", "garbage.npy"], "not a readable .npy array"),
                      (["--samples", "pickled.npy"], "not a readable .npy array"),
                      (["--samples", "words.npy"], "samples must hold numbers"),
                      (["--samples", "flat.npy"], "samples must have shape [N, ...]")],
        "--n": [(["--checkpoint", "mnist", "--n", "0"], "--n must be at least 1"),
                (["--checkpoint", "mnist", "--n", str(10**7)], "--n must be at most")],
        "--seed": [(["--samples", "ok.npy", "--seed", HUGE], "argument --seed")],
        "--json": [(["--samples", "ok.npy", "--json=1"], "ignored explicit argument")],
    },
    "export-web": {
        "--checkpoint": [(["--checkpoint", "nowhere"] + SITE, "no such file or folder"),
                         (["--checkpoint", "notes.txt"] + SITE, "corrupted")],
        "--out": [(["--out", "afile/sub"], "cannot write"), (["--out", "afile"], "cannot write"),
                  (["--out", "/proc/site"], "cannot write")],
        "--precision": [(["--precision", "fp16"] + SITE, "invalid choice")],
        "--runtime": [(["--runtime", "web"] + SITE, "invalid choice")],
        "--steps": [(["--steps", "0"] + SITE, "steps must be a positive int"),
                    (["--steps", "5000"] + SITE, "at most T = 1000")],
        "--n": [(["--n", "7"] + SITE, "must be one of"), (["--n", "0"] + SITE, "must be one of")],
        "--title": [(SITE + ["--title"], "expected one argument")],
    },
    "serve": {
        "dir": [(["nowhere"], "has no index.html"), (["notes.txt"], "has no index.html"),
                ([], "the following arguments are required: DIR")],
        "--port": [(["site", "--port", "-1"], "--port must be between 0 and 65535"),
                   (["site", "--port", "70000"], "--port must be between 0 and 65535"),
                   (["site", "--port", "http"], "invalid int value")],
        "--host": [(["site", "--host", "no-such-host.invalid"], "not an address of this computer"),
                   (["site", "--host", "192.0.2.1"], "not an address of this computer")],
        "--open": [(["site", "--open=1"], "ignored explicit argument")],
        "--verbose": [(["site", "--verbose=1"], "ignored explicit argument")],
    },
    "compare-web": {
        "site": [(["nowhere"], "has no manifest.json"), ([], "required: SITE"),
                 (["bad-site"], "not a manifest written by ddpm-edu export-web")],
        "--n": [(["site", "--n", "0"], "--n must be at least 1"),
                (["site", "--n", str(10**9)], "--n must be at most")],
        "--steps": [(["site", "--steps", "0"], "--steps must be at least 1")],
        "--seed": [(["site", "--seed", HUGE], "argument --seed")],
        "--classifier": [(["site", "--classifier", "nowhere"], "--classifier nowhere: no such"),
                         (["site", "--n", "1", "--classifier", "notes.txt"], "not a ddpm_edu")],
        "--threads": [(["site", "--threads", "0"], "argument --threads")],
        "--json": [(["site", "--json", "afile/sub/q.json"], "cannot write --json"),
                   (["site", "--json", "folder"], "is a folder")],
    },
    "time-web": {
        "site": [(["nowhere"], "has no index.html"), ([], "required: SITE")],
        "--reps": [(["site", "--reps", "0"], "--reps must be at least 1"),
                   (["site", "--reps", str(10**9)], "--reps must be at most")],
        "--n": [(["site", "--n", "7"], "invalid choice")],
        "--steps": [(["site", "--steps", "0"], "--steps must be at least 1")],
    },
    "train-classifier": {
        "--out": [(["--out", "c.pt"], "must end in .safetensors"),
                  (["--out", "afile/sub/c.safetensors"], "cannot write --out"),
                  (["--out", "folder.safetensors"], "is a folder"), ([], "required: --out")],
        "--epochs": [(["--out", "c.safetensors", "--epochs", "0"], "--epochs must be at least 1"),
                     (["--out", "c.safetensors", "--epochs", "1000000"], "must be at most")],
        "--seed": [(["--out", "c.safetensors", "--seed", HUGE], "argument --seed")],
        "--threads": [(["--out", "c.safetensors", "--threads", "0"], "argument --threads")],
    },
}


def _subparsers():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices


def _options():
    """(command, option) for every option and positional of every command (not --help, --debug)."""
    for name, p in _subparsers().items():
        for a in p._actions:
            if isinstance(a, argparse._HelpAction) or a.dest == "debug":
                continue
            yield name, (a.option_strings[0] if a.option_strings else a.dest)


def test_every_option_has_rows():
    missing = [f"{c} {o}" for c, o in _options() if not BAD.get(c, {}).get(o)]
    assert not missing, f"add rows of bad values to BAD for: {missing}"
    stale = [f"{c} {o}" for c in BAD for o in BAD[c] if (c, o) not in set(_options())]
    assert not stale, f"BAD has rows for options that do not exist: {stale}"


@pytest.fixture
def bad_files(tmp_path, monkeypatch):
    """A working folder full of wrong things (see the module docstring)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("not an image, not a checkpoint\n")
    (tmp_path / "notes.png").write_text("a text file with an image's name\n")
    (tmp_path / "garbage.safetensors").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "garbage.npy").write_bytes(b"\x93NUMPY garbage" * 10)
    for d in ("folder", "folder.png", "folder.gif", "folder.npy", "folder.safetensors", "run",
              "site", "bad-site"):
        (tmp_path / d).mkdir()
    (tmp_path / "site" / "manifest.json").write_text('{"models": {}}')
    (tmp_path / "bad-site" / "manifest.json").write_text("{not json")
    (tmp_path / "afile").write_text("a file where a folder is expected\n")
    (tmp_path / "run" / "resume.pt").write_bytes(b"not a torch file")
    (tmp_path / "site" / "index.html").write_text("<html></html>")
    np.save(tmp_path / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "words.npy", np.array(["a", "b"]))
    np.save(tmp_path / "flat.npy", np.zeros(3, np.float32))
    np.save(tmp_path / "ok.npy", np.zeros((2, 1, 4, 4), np.float32))
    return tmp_path


@pytest.fixture(autouse=True)
def _memory_cap():
    """A row that slips past its check must fail with MemoryError, not take the machine's memory."""
    if GPU:  # CUDA reserves much address space of its own: no cap there
        yield
        return
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * resource.getpagesize()
    cap = used + (4 << 30)
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def run_cli(capsys, argv):
    """Exit code and stderr lines of ``ddpm-edu ARGV`` (argparse's errors exit via SystemExit)."""
    try:
        code = main(argv)   # (conftest puts torch's thread count back after each test)
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err.strip().splitlines()


ROWS = [pytest.param(c, argv, words, id=f"{c} {o} {' '.join(argv)[-40:]}")
        for c, opts in BAD.items() for o, rows in opts.items() for argv, words in rows]


@pytest.mark.parametrize("command, argv, words", ROWS)
def test_bad_value_gives_one_line_and_exit_2(command, argv, words, bad_files, capsys):
    code, err = run_cli(capsys, [command, *argv])
    assert code == 2, err
    assert len(err) == 1, err
    assert words in err[0] and "Traceback" not in err[0], err


VALUE_OPTIONS = [pytest.param(c, o, id=f"{c} {o}") for c, p in _subparsers().items()
                 for a in p._actions if a.option_strings and a.nargs != 0
                 for o in a.option_strings]


@pytest.mark.parametrize("command, option", VALUE_OPTIONS)
def test_missing_value_gives_one_line(command, option, bad_files, capsys):
    code, err = run_cli(capsys, [command, option])
    assert code == 2 and len(err) == 1 and "expected" in err[0], err


def test_unknown_command_and_option(capsys):
    code, err = run_cli(capsys, ["smaple"])
    assert code == 2 and len(err) == 1 and "invalid choice" in err[0]
    code, err = run_cli(capsys, ["sample", "--num", "3", "--out", "x.png"])
    assert code == 2 and len(err) == 1 and "unrecognized arguments: --num 3" in err[0]


# ---- what is not a user mistake ------------------------------------------------------------------
def _raising(error):
    def run(args):
        raise error
    return run


def test_a_bug_is_reported_as_a_bug(monkeypatch, capsys):
    import ddpm_edu.commands.sample as cmd
    monkeypatch.setattr(cmd, "run", _raising(TypeError("unsupported operand type(s)")))
    code, err = run_cli(capsys, ["sample", "--out", "x.png"])
    assert code == 1 and len(err) == 1
    assert "internal error (TypeError: unsupported operand" in err[0]
    assert "bug in ddpm_edu" in err[0] and "--debug" in err[0]
    monkeypatch.setattr(cmd, "run", _raising(ValueError("bad shape")))
    assert run_cli(capsys, ["sample", "--out", "x.png"])[0] == 1
    monkeypatch.setattr(cmd, "run", _raising(OSError(5, "Input/output error", "/usr/lib/thing")))
    assert run_cli(capsys, ["sample", "--out", "x.png"])[0] == 1   # not the user's path: a bug


def test_an_os_error_about_the_users_path_is_one_line(monkeypatch, capsys, tmp_path):
    import ddpm_edu.commands.sample as cmd
    out = tmp_path / "x.png"
    monkeypatch.setattr(cmd, "run", _raising(PermissionError(13, "Permission denied", str(out))))
    code, err = run_cli(capsys, ["sample", "--out", str(out)])
    assert code == 2 and len(err) == 1 and str(out) in err[0] and "Permission denied" in err[0]
    tmp = tmp_path / ".x.png.abc.tmp"  # a temporary file beside it is the user's too
    monkeypatch.setattr(cmd, "run", _raising(OSError(28, "No space left on device")))
    code, err = run_cli(capsys, ["sample", "--out", str(out)])
    assert code == 2 and "No space left" in err[0]
    monkeypatch.setattr(cmd, "run", _raising(IsADirectoryError(21, "Is a directory", str(tmp))))
    assert run_cli(capsys, ["sample", "--out", str(out)])[0] == 2


def test_ctrl_c_exits_130(monkeypatch, capsys):
    import ddpm_edu.commands.sample as cmd
    monkeypatch.setattr(cmd, "run", _raising(KeyboardInterrupt()))
    code, err = run_cli(capsys, ["sample", "--out", "x.png"])
    assert code == 130 and err == ["ddpm-edu sample: interrupted."]


@pytest.mark.parametrize("how", ["before", "after", "env"])
def test_debug_shows_the_traceback(how, monkeypatch, capsys, bad_files):
    argv = ["sample", "--checkpoint", "nowhere", "--out", "x.png"]
    if how == "before":
        argv = ["--debug", *argv]
    elif how == "after":
        argv = [*argv, "--debug"]
    else:
        monkeypatch.setenv("DDPM_EDU_DEBUG", "1")
    code, err = run_cli(capsys, argv)
    assert code == 2 and err[0].startswith("Traceback") and "MissingFile" in "\n".join(err)
    assert err[-1].startswith("ddpm-edu sample: error: no pretrained model named 'nowhere'")


# ---- the fixes behind some rows ------------------------------------------------------------------
def test_sample_npy_is_written_batch_by_batch(monkeypatch, capsys, tmp_path):
    import ddpm_edu.commands.sample as cmd
    argv = ["sample", "--checkpoint", "mnist", "--n", "5", "--steps", "2", "--no-progress"]
    assert main([*argv, "--out", str(tmp_path / "one.npy")]) == 0
    monkeypatch.setattr(cmd, "BATCH", 2)
    assert main([*argv, "--out", str(tmp_path / "three.npy")]) == 0
    one, three = np.load(tmp_path / "one.npy"), np.load(tmp_path / "three.npy")
    from ddpm_edu.pixels import to_pixels
    from ddpm_edu.pretrained import load_pretrained
    same = to_pixels(load_pretrained("mnist").sample(5, steps=2, seed=0))[:, 0].numpy()
    assert np.array_equal(one, same)           # one batch: exactly model.sample(n, seed=seed)
    assert three.shape == one.shape == (5, 28, 28) and three.dtype == np.uint8
    assert not np.array_equal(one, three)      # three batches draw their noise in another order
    assert main([*argv, "--out", str(tmp_path / "again.npy")]) == 0
    assert np.array_equal(np.load(tmp_path / "again.npy"), three)   # ... reproducibly
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_train_refuses_an_unwritable_folder_before_the_first_step(bad_files):
    from ddpm_edu.errors import NotWritable
    from ddpm_edu.recipes import get_recipe
    from ddpm_edu.training import train
    recipe = get_recipe("tiny")
    seen = []
    with pytest.raises(NotWritable, match="cannot write checkpoints to afile/sub"):
        train(recipe.build_network(), recipe.build_schedule(), recipe.load_data(), recipe.train,
              out_dir="afile/sub", callbacks=[seen.append], progress=False)
    assert seen == []


@pytest.mark.parametrize("module, words", [("ddpm_edu.web.compare", "has no manifest.json"),
                                           ("ddpm_edu.web.browser", "has no index.html")])
def test_the_python_m_entry_points_are_the_commands(module, words, tmp_path):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", module, str(tmp_path / "nowhere")],
                          capture_output=True, text=True, timeout=120)
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(err) == 1 and words in err[0], proc.stderr


def test_time_web_offers_the_page_sizes():
    from ddpm_edu.commands.time_web import SIZES
    from ddpm_edu.web.site import SIZES as PAGE_SIZES
    assert SIZES == PAGE_SIZES  # written out in the command so that --help stays light
