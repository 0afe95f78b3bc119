"""GIF export: frame choice, round trips read back from disk, bounded memory, the CLI."""
from __future__ import annotations

import sys
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch

from ddpm_edu import cosine_schedule, linear_schedule, to_pixels
from ddpm_edu.viz import _render
from ddpm_edu.viz.frames import SPACINGS, coordinate, frame_times, pick_steps, step_time
from ddpm_edu.viz.gif import forward_chain_gif, read_gif, reverse_chain_gif, save_gif

sys.path.insert(0, str(Path(__file__).parent / "browser"))
from fakes import FakePretrained, ImageOracle, hand_made_chain, ring_image  # noqa: E402

FLOWER = Path(__file__).parents[1] / "data" / "images" / "flower64.png"


# ---- which frames --------------------------------------------------------------------------------
@pytest.mark.parametrize("spacing", SPACINGS)
@pytest.mark.parametrize("make", [linear_schedule, cosine_schedule])
def test_frame_times_are_nearest_to_even_targets(spacing, make):
    s = make(1000)
    ts = frame_times(s, 12, spacing)
    assert ts[0] == 1000 and ts[-1] == 0 and ts == sorted(set(ts), reverse=True)
    # oracle: brute-force nearest t (argmin over the whole table) to each evenly spaced target
    c = np.array([coordinate(s, spacing)(t) for t in range(s.T + 1)])
    top = c[0] if np.isfinite(c[0]) else c[1]
    targets = np.linspace(c[s.T], top, 12 if np.isfinite(c[0]) else 11)
    finite = np.where(np.isfinite(c), c, np.inf)
    expected = {int(np.argmin(np.abs(finite - v))) for v in targets} | {0}
    assert set(ts) == expected


def test_angle_spacing_pinned_and_cosine_nearly_even_in_t():
    # pinned for DDPM's linear schedule (also quoted in the frames module docstring)
    assert frame_times(linear_schedule(1000), 12) == [
        1000,
        614,
        496,
        413,
        345,
        285,
        231,
        181,
        133,
        86,
        41,
        0,
    ]
    # the cosine schedule is (up to its β cap and offset s) linear in the angle: frames ≈ even in t
    ts = np.array(frame_times(cosine_schedule(1000), 11))
    assert np.abs(np.diff(ts) + 100).max() <= 12


def test_pick_steps_streams_and_keeps_last():
    s = linear_schedule(100)
    chain = [(t, None, None) for t in range(80, 9, -1)]  # starts below T and stops before 0
    kept = [step_time(x) for x in pick_steps(iter(chain), s, 6)]
    assert kept[0] == 80 and kept[-1] == 10 and kept == sorted(set(kept), reverse=True)
    with pytest.raises(ValueError, match="noise to data"):
        list(pick_steps([(5, None, None), (9, None, None)], s, 4))
    with pytest.raises(ValueError, match="n_frames"):
        list(pick_steps(chain, s, 1))
    with pytest.raises(ValueError, match="outside"):
        list(pick_steps([(101, None, None)], s, 4))
    assert step_time((torch.tensor([7, 7]), None, None)) == 7


def test_reverse_gif_holds_few_tensors_at_a_time(tmp_path):
    """Memory is bounded by frames kept, not T: chain tensors die as soon as they are passed."""
    s = linear_schedule(300)
    alive = weakref.WeakSet()
    most = 0

    def chain():
        nonlocal most
        for t in range(s.T, -1, -1):
            x = torch.rand(1, 1, 8, 8) * 2 - 1
            alive.add(x)
            most = max(most, len(alive))
            yield t, x, None if t == s.T else x.clone()

    info = read_gif(reverse_chain_gif(chain(), tmp_path / "m.gif", s, n_frames=10, scale=2))
    assert len(info["frames"]) == 10
    assert most <= 3  # the step being read, the previous one, and one just made


# ---- round trips ---------------------------------------------------------------------------------
def test_reverse_chain_gif_round_trip_greyscale_exact(tmp_path):
    s = linear_schedule(1000)
    model = ImageOracle(s, ring_image(8))
    x_T = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    steps = list(hand_made_chain(model, s, x_T, steps=20))
    path = reverse_chain_gif(
        iter(steps),
        tmp_path / "r.gif",
        s,
        n_frames=12,
        duration_ms=60,
        hold_ms=1000,
        scale=3,
        nrow=2,
    )
    info = read_gif(path)
    expected_t = [step_time(x) for x in pick_steps(steps, s, 12)]
    n = len(expected_t)
    assert 10 <= n <= 12
    assert info["frames"].shape[0] == n
    assert info["durations"] == [60] * (n - 1) + [1060]
    assert info["loop"] == 0
    # grid 2×2 of 8×8 with 1-px pads = 17 px; two panels + 4-px gap; ×3; plus a 14-px caption
    assert info["size"] == ((17 + 4 + 17) * 3, 17 * 3 + 14)
    # the last frame shows the final sample's pixels exactly (mode L is lossless)
    last = info["frames"][-1][..., 0]
    x0 = steps[-1][1]
    assert np.array_equal(last[14:14 + 24:3, 0:24:3], to_pixels(x0[0, 0]).numpy())
    right = last[14:, (17 + 4) * 3:]
    assert np.array_equal(right[0:24:3, 0:24:3], to_pixels(steps[-1][2][0, 0]).numpy())
    # the first frame's x̂_0 panel is the grey placeholder (no prediction at t = T yet)
    assert (info["frames"][0][14:, (17 + 4) * 3:, 0] == 128).all()


def test_reverse_chain_gif_with_the_library_sampler(tmp_path):
    from ddpm_edu.sampling import ddim_steps

    s = linear_schedule(1000)
    steps = ddim_steps(ImageOracle(s, ring_image(12)), s, shape=(2, 1, 12, 12), steps=30,
                       generator=torch.Generator().manual_seed(1))
    info = read_gif(reverse_chain_gif(steps, tmp_path / "d.gif", s, n_frames=16, show_x0_hat=False,
                                      label=False, scale=2))
    assert info["frames"].shape[0] >= 12
    assert info["size"] == ((2 * 12 + 1) * 2, 12 * 2)  # one panel, nrow = ceil(√2) = 2, no caption
    # frames change: the first is noise, the last is close to the ring
    assert not np.array_equal(info["frames"][0], info["frames"][-1])


def test_colour_gif_uses_one_shared_palette(tmp_path):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (20, 24, 3), dtype=np.uint8) for _ in range(6)]
    info = read_gif(save_gif(frames, tmp_path / "c.gif", duration_ms=40, hold_ms=0))
    colours = np.unique(info["frames"].reshape(-1, 3), axis=0)
    assert len(colours) <= 256  # per-frame palettes would give up to 6 × 256 here
    err = np.abs(info["frames"].astype(int) - np.stack(frames).astype(int)).mean()
    assert err < 40  # quantised, but the same pictures (random 0..255 differ by ≈ 85 on average)
    assert info["durations"] == [40] * 6 and info["loop"] == 0


def test_forward_chain_gif_round_trip(tmp_path):
    from PIL import Image

    grey = np.asarray(Image.open(FLOWER).convert("L"))
    s = linear_schedule(1000)
    path = forward_chain_gif(grey, tmp_path / "f.gif", s, n_frames=10, duration_ms=100, hold_ms=500,
                             generator=torch.Generator().manual_seed(0))
    info = read_gif(path)
    k = _render.auto_scale(64, 64)
    assert k == 3 and info["size"] == (64 * k, 64 * k + 14)
    assert info["frames"].shape[0] == 10 and info["durations"] == [100] * 9 + [600]
    assert np.array_equal(info["frames"][0][14::k, ::k, 0], grey)  # t = 0 is the image itself
    # the last frame (t = T) is noise: almost uncorrelated with the image
    noise = info["frames"][-1][14::k, ::k, 0].astype(float)
    assert abs(np.corrcoef(noise.ravel(), grey.ravel().astype(float))[0, 1]) < 0.1


def test_save_gif_checks_its_input(tmp_path):
    f = [np.zeros((4, 4), np.uint8)] * 2
    with pytest.raises(ValueError, match="milliseconds"):
        save_gif(f, tmp_path / "a.gif", duration_ms=5)
    with pytest.raises(ValueError, match=".gif"):
        save_gif(f, tmp_path / "a.png")
    with pytest.raises(ValueError, match="no frames"):
        save_gif([], tmp_path / "a.gif")
    with pytest.raises(ValueError, match="one shape"):
        save_gif([np.zeros((4, 4), np.uint8), np.zeros((5, 4), np.uint8)], tmp_path / "a.gif")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_gif(f, tmp_path / "missing" / "a.gif")
    # durations are stored in GIF's 10-ms unit
    g = [np.zeros((4, 4), np.uint8), np.full((4, 4), 9, np.uint8)]
    assert read_gif(save_gif(g, tmp_path / "a.gif", duration_ms=84, hold_ms=0))["durations"] == [
        80,
        80,
    ]
    # identical neighbours are merged by Pillow into one frame; the total time is kept
    assert read_gif(save_gif(f, tmp_path / "b.gif", duration_ms=50, hold_ms=100))["durations"] == [
        200
    ]


# ---- the command line ----------------------------------------------------------------------------
def test_cli_forward(tmp_path, capsys):
    from ddpm_edu.cli import main

    out = tmp_path / "fwd.gif"
    assert main(["gif", "--forward", "--image", str(FLOWER), "--out", str(out), "--T", "200",
                 "--frames", "12"]) == 0
    info = read_gif(out)
    assert info["frames"].shape[0] == 12 and info["loop"] == 0 and info["bytes"] < 5e6
    assert "12 frames" in capsys.readouterr().out


def test_cli_checkpoint_with_a_stand_in_model(tmp_path, monkeypatch):
    from ddpm_edu import pretrained
    from ddpm_edu.cli import main

    monkeypatch.setattr(
        pretrained, "load_pretrained", lambda name: FakePretrained(linear_schedule(1000), size=28)
    )
    out = tmp_path / "rev.gif"
    assert main(["gif", "--checkpoint", "mnist", "--out", str(out), "--steps", "30"]) == 0
    info = read_gif(out)
    assert info["frames"].shape[0] >= 10 and info["loop"] == 0 and info["bytes"] < 5e6
    assert info["durations"][-1] == 80 + 1500
    g = 4 * 28 + 3  # 16 samples as a 4×4 grid
    k = _render.auto_scale(g, g)
    assert info["size"] == ((2 * g + 4) * k, g * k + 14)


@pytest.mark.parametrize("argv, message", [
    (["--forward", "--out", "x.gif"], "needs --image"),
    (["--forward", "--image", "nope.png", "--out", "{tmp}/x.gif"], "not found"),
    (["--forward", "--image", str(FLOWER), "--out", "{tmp}/x.png"], ".gif"),
    (["--forward", "--image", str(FLOWER), "--out", "{tmp}/no/x.gif"], "does not exist"),
    (["--forward", "--image", str(FLOWER), "--out", "{tmp}/x.gif", "--frames", "0"], "positive"),
])
def test_cli_errors_are_one_line(tmp_path, capsys, argv, message):
    from ddpm_edu.cli import main

    assert main(["gif"] + [a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_cli_spacing_choices_match_the_library():
    from ddpm_edu.commands import gif

    assert gif.SPACINGS == SPACINGS


def test_cli_checkpoint_file_of_an_untrained_unet(tmp_path):
    """The whole path with real parts: a checkpoint file, load_pretrained, the U-Net,
    ddim/ddpm_steps."""
    from ddpm_edu.checkpoints import save_model
    from ddpm_edu.cli import main
    from ddpm_edu.nets import build_network, network_config

    torch.manual_seed(0)
    net = build_network({"kind": "unet", "image_size": 8, "in_channels": 1, "out_channels": 1,
                         "base_channels": 8, "channel_mult": [1, 2], "num_res_blocks": 1,
                         "attention_resolutions": [], "norm_groups": 4})
    description = {"network": network_config(net), "schedule": linear_schedule(100).to_config(),
                   "data": {"shape": [1, 8, 8]}, "mean_type": "eps", "var_type": "fixed_large"}
    save_model(tmp_path / "tiny.safetensors", net.state_dict(), description, step=0)
    for sampler, steps in (("ddim", "20"), ("ddpm", "100")):
        out = tmp_path / f"{sampler}.gif"
        assert main(["gif", "--checkpoint", str(tmp_path / "tiny.safetensors"), "--out", str(out),
                     "--n", "4", "--sampler", sampler, "--steps", steps, "--frames", "12"]) == 0
        info = read_gif(out)
        assert info["frames"].shape[0] >= 10 and info["loop"] == 0 and info["bytes"] < 5e6
    points = dict(description, network={"kind": "mlp", "dim": 2}, data={"shape": [2]})
    mlp = build_network({"kind": "mlp", "dim": 2})
    save_model(tmp_path / "points.safetensors", mlp.state_dict(), points, step=0)
    assert (
        main(["gif", "--checkpoint", str(tmp_path / "points.safetensors"), "--out", str(out)]) == 2
    )


def test_cli_real_pretrained_mnist(tmp_path):
    """With the shipped MNIST model, when it is installed (skipped until then)."""
    from ddpm_edu.cli import main
    from ddpm_edu.pretrained import load_pretrained

    try:
        load_pretrained("mnist")
    except Exception as e:  # noqa: BLE001 — any failure here means "not available on this machine"
        pytest.skip(f"load_pretrained('mnist') is not available here: {type(e).__name__}: {e}")
    out = tmp_path / "mnist.gif"
    assert main(["gif", "--checkpoint", "mnist", "--out", str(out), "--n", "4"]) == 0
    info = read_gif(out)
    assert info["frames"].shape[0] >= 10 and info["loop"] == 0 and info["bytes"] < 5e6


def test_pick_steps_none_keeps_every_step():
    # a 10-step DDIM chain (11 states): 11 targets spaced in angle keep only 8, None keeps all 11
    s = linear_schedule(1000)
    chain = [(t, None, None) for t in (1000, 889, 778, 667, 556, 445, 334, 223, 112, 1, 0)]
    assert len(list(pick_steps(iter(chain), s, 11))) == 8
    assert [step_time(x) for x in pick_steps(iter(chain), s, None)] == [c[0] for c in chain]
