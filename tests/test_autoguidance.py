"""Autoguidance (Karras et al. 2024): a model guided by a weaker model of the same data. The
guided ε against the score of p_good^(1+w) / p_weak^w by autograd of torch.distributions
densities; the wrapper, PretrainedModel.sample(guide=...) and the CLI against the library."""
from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from ddpm_edu._choices import DEFAULT_AUTOGUIDANCE
from ddpm_edu.chain import autoguided_model
from ddpm_edu.cli import main
from ddpm_edu.errors import InvalidArgument, InvalidType
from ddpm_edu.pretrained import load_pretrained
from ddpm_edu.sampling import sample
from ddpm_edu.schedules import linear_schedule

S = linear_schedule(1000)
GOOD, WEAK = 0.3, 0.6   # data N(0, s²): the "good" model knows s = 0.3, the weak one thinks 0.6


def _eps_star(s: float):
    """The exact ε̂(x_t, t) for data N(0, s²): √(1−ᾱ) x_t / (ᾱ s² + 1 − ᾱ)."""
    def eps(x, t):
        ab = S.alpha_bar[t].to(x.dtype).view(-1, *[1] * (x.ndim - 1))
        return (1 - ab).sqrt() * x / (ab * s * s + 1 - ab)
    return eps


@pytest.mark.parametrize("w", [0.5, 1.0, 3.0])
@pytest.mark.parametrize("t", [1, 200, 700])
def test_autoguided_eps_is_the_score_of_the_tempered_ratio(w, t):
    # ε̃ = −√(1−ᾱ) ∇ log( p_good(x_t)^(1+w) / p_weak(x_t)^w ), the densities by torch.distributions
    x = torch.linspace(-2, 2, 9, dtype=torch.float64).view(9, 1, 1, 1)
    ab = float(S.alpha_bar[t])
    xg = x.clone().requires_grad_(True)
    logp = ((1 + w) * Normal(0.0, math.sqrt(ab * GOOD**2 + 1 - ab)).log_prob(xg)
            - w * Normal(0.0, math.sqrt(ab * WEAK**2 + 1 - ab)).log_prob(xg))
    (grad,) = torch.autograd.grad(logp.sum(), xg)
    got = autoguided_model(_eps_star(GOOD), _eps_star(WEAK), w)(x, torch.full((9,), t))
    torch.testing.assert_close(got, -math.sqrt(1 - ab) * grad)


def test_zero_weight_is_the_model_itself_and_bad_input_is_clear():
    good, weak = _eps_star(GOOD), _eps_star(WEAK)
    assert autoguided_model(good, weak, 0.0) is good
    with pytest.raises(InvalidArgument, match="guidance"):
        autoguided_model(good, weak, -1.0)
    with pytest.raises(InvalidType, match="guide must be a network or function"):
        autoguided_model(good, "mnist-guide", 1.0)
    wrong = autoguided_model(good, lambda x, t: x[:, :, :2], 1.0)
    with pytest.raises(InvalidArgument, match="the guide must model the same data"):
        wrong(torch.zeros(2, 1, 4, 4), torch.tensor([5, 5]))


def test_pretrained_sample_with_a_guide_is_the_autoguided_chain():
    torch.set_num_threads(1)
    model, guide = load_pretrained("mnist"), load_pretrained("mnist-guide")
    got = model.sample(3, steps=3, eta=1.0, seed=2, guide=guide, guidance=0.5)
    want = sample(autoguided_model(model.eps, guide.eps, 0.5), model.schedule, 3, model.shape,
                  steps=3, eta=1.0, seed=2, progress=False)
    torch.testing.assert_close(got, want)
    default = model.sample(3, steps=3, eta=1.0, seed=2, guide=guide)
    torch.testing.assert_close(default, sample(
        autoguided_model(model.eps, guide.eps, DEFAULT_AUTOGUIDANCE), model.schedule, 3,
        model.shape, steps=3, eta=1.0, seed=2, progress=False))
    assert not torch.equal(got, model.sample(3, steps=3, eta=1.0, seed=2))
    with pytest.raises(InvalidArgument, match="for unconditional models"):
        load_pretrained("mnist-cond").sample(2, steps=2, guide=guide)
    with pytest.raises(InvalidType, match="guide must be a PretrainedModel"):
        model.sample(2, steps=2, guide="mnist-guide")


def test_eval_quality_with_a_guide_is_the_librarys(capsys):
    import json

    from ddpm_edu.quality import sample_quality
    assert main(["eval", "--quality", "--checkpoint", "mnist", "--guide", "mnist-guide",
                 "--n", "8", "--steps", "3", "--eta", "1", "--json", "--no-progress",
                 "--threads", "1"]) == 0
    got = json.loads(capsys.readouterr().out)
    torch.set_num_threads(1)
    x = load_pretrained("mnist").sample(8, steps=3, eta=1.0, seed=0,
                                        guide=load_pretrained("mnist-guide"),
                                        guidance=DEFAULT_AUTOGUIDANCE)
    want = sample_quality(x).to_dict()
    assert {k: got[k] for k in ("confident_share", "fid")} == pytest.approx(
        {k: want[k] for k in ("confident_share", "fid")})
    assert (got["guide"], got["guidance"], got["eta"]) == ("mnist-guide", DEFAULT_AUTOGUIDANCE, 1.0)


def test_sample_cli_with_a_guide_writes_the_autoguided_digits(tmp_path, capsys):
    import numpy as np
    out = tmp_path / "best.npy"
    assert main(["sample", "--checkpoint", "mnist", "--guide", "mnist-guide", "--guidance", "1",
                 "--n", "2", "--steps", "2", "--out", str(out), "--no-progress",
                 "--threads", "1"]) == 0
    assert "guided by mnist_guide.safetensors with w = 1" in capsys.readouterr().out
    from ddpm_edu.pixels import to_pixels
    torch.set_num_threads(1)
    x = load_pretrained("mnist").sample(2, steps=2, seed=0, guide=load_pretrained("mnist-guide"),
                                        guidance=1.0)
    np.testing.assert_array_equal(np.load(out), to_pixels(x)[:, 0].numpy())


def test_gif_cli_with_a_guide_animates_the_guided_chain(tmp_path, capsys):
    # the GIF's last frame is the guided DDIM sample from the same seed (the step stream unchanged)
    from ddpm_edu.sampling import ddim_steps
    from ddpm_edu.viz.gif import read_gif, reverse_chain_gif
    out = tmp_path / "guided.gif"
    argv = ["gif", "--checkpoint", "mnist", "--guide", "mnist-guide", "--n", "2", "--steps", "3",
            "--frames", "4", "--out", str(out), "--no-x0"]
    assert main(argv) == 0
    torch.set_num_threads(1)
    model = load_pretrained("mnist")
    steps = ddim_steps(model.guided_by(load_pretrained("mnist-guide")), model.schedule,
                       shape=(2, *model.shape), steps=3, generator=torch.Generator().manual_seed(0))
    want = tmp_path / "want.gif"
    reverse_chain_gif(steps, want, model.schedule, n_frames=4, show_x0_hat=False,
                      scale=read_gif(out)["size"][1] // 28)
    got_frames, want_frames = read_gif(out)["frames"], read_gif(want)["frames"]
    assert (got_frames == want_frames).all()
