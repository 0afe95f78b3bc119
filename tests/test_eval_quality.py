"""``ddpm-edu eval --quality``: the numbers it prints are those of the library's own measurement
(the model cards' one-liners), for an unconditional and a class-conditional model."""
import json

import pytest
import torch

from ddpm_edu.cli import main
from ddpm_edu.pretrained import load_pretrained
from ddpm_edu.quality import conditional_quality, sample_quality


def _json(capsys, argv):
    assert main(["eval", *argv, "--json", "--no-progress", "--threads", "1"]) == 0
    return json.loads(capsys.readouterr().out)


def test_unconditional_quality_is_the_librarys(capsys):
    got = _json(capsys, ["--checkpoint", "mnist-ddpm", "--quality", "--n", "12", "--steps", "4",
                         "--seed", "3"])
    torch.set_num_threads(1)
    want = sample_quality(load_pretrained("mnist-ddpm").sample(12, steps=4, seed=3)).to_dict()
    assert got["class_counts"] == want.pop("class_counts")
    assert got["class_shares"] == pytest.approx(want.pop("class_shares"))
    assert {k: got[k] for k in want} == pytest.approx(want)
    assert (got["sampler"], got["steps"], got["seed"], got["guidance"]) == ("ddim", 4, 3, None)


def test_ddpm_sampler_and_text_report(capsys):
    assert main(["eval", "--checkpoint", "mnist-ddpm", "--quality", "--n", "6", "--steps", "3",
                 "--sampler", "ddpm", "--no-progress", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "6 samples, DDPM 3 steps, seed 0" in out and "confident (p_max > 0.9)" in out


def test_conditional_quality_requests_each_digit_in_turn(capsys):
    got = _json(capsys, ["--checkpoint", "mnist-cond", "--quality", "--n", "20", "--steps", "3",
                         "--guidance", "2"])
    torch.set_num_threads(1)
    labels = torch.arange(20) % 10
    x = load_pretrained("mnist-cond").sample(20, steps=3, seed=0, labels=labels, guidance=2.0)
    want = conditional_quality(x, labels).to_dict()
    assert {k: got[k] for k in want} == pytest.approx(want)
    assert got["guidance"] == 2.0


def test_eta_reaches_the_ddim_sampler(capsys):
    got = _json(capsys, ["--checkpoint", "mnist-ddpm", "--quality", "--n", "12", "--steps", "4",
                         "--eta", "1"])
    torch.set_num_threads(1)
    model = load_pretrained("mnist-ddpm")
    want = sample_quality(model.sample(12, steps=4, eta=1.0, seed=0)).to_dict()
    assert {k: got[k] for k in ("confident_share", "fid")} == pytest.approx(
        {k: want[k] for k in ("confident_share", "fid")})
    assert got["eta"] == 1.0
    # and η = 1 is a different sampler from η = 0 on the same seed
    plain = sample_quality(model.sample(12, steps=4, seed=0)).to_dict()
    assert got["fid"] != pytest.approx(plain["fid"])

