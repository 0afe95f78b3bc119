"""Diagrams drawn by code: the Markov chain with q and p_θ, and the U-Net read from its modules.

Each drawn part carries a gid; the tests find the parts by it, check that arrows point the right
way and that the U-Net's boxes follow its config, and that no two labels overlap (legibility)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.patches import FancyArrowPatch
from matplotlib.text import Text

from ddpm_edu import linear_schedule
from ddpm_edu.errors import InvalidArgument, InvalidType
from ddpm_edu.nets import UNet, UNetConfig, architecture, build_network
from ddpm_edu.viz import chain_diagram, unet_diagram
from ddpm_edu.viz import _render
from ddpm_edu.viz.frames import forward_chain


def _gids(fig, prefix):
    found = fig.findobj(lambda a: (a.get_gid() or "").startswith(prefix))
    return sorted(a.get_gid() for a in found)


def _by_gid(fig, gid):
    (artist,) = fig.findobj(lambda a: a.get_gid() == gid)
    return artist


def _texts(fig):
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _assert_legible(fig):
    """No two labels overlap, and every label lies inside the figure."""
    fig.canvas.draw()  # lays out the legend
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in _texts(fig)]
    page = fig.bbox
    for s, b in boxes:
        assert page.x0 - 1 <= b.x0 and b.x1 <= page.x1 + 1 and page.y0 - 1 <= b.y0 \
            and b.y1 <= page.y1 + 1, f"{s!r} sticks out of the figure"
    for i, (s, a) in enumerate(boxes):
        for r, b in boxes[i + 1:]:
            assert not a.overlaps(b), f"labels {s!r} and {r!r} overlap"


def _ends(arrow: FancyArrowPatch):
    (xa, ya), (xb, yb) = arrow._posA_posB
    return xa, xb


def _chain_pictures(t=300, T=1000):
    x0 = torch.linspace(-1, 1, 28 * 28).reshape(1, 1, 28, 28)
    keep = [0, 1, t - 1, t, T]
    return [x for _, x in forward_chain(linear_schedule(T), x0, torch.Generator().manual_seed(0),
                                        keep=keep)]


def test_chain_diagram_arrows_point_the_right_way():
    fig = chain_diagram()
    nodes = ["x_0", "x_1", "x_{t-1}", "x_t", "x_T"]
    assert _gids(fig, "node:") == sorted([f"node:{n}" for n in nodes]
                                         + [f"node:{n}:text" for n in nodes])
    q, p = [a for a in fig.findobj(FancyArrowPatch) if a.get_gid().startswith("q:")], \
        [a for a in fig.findobj(FancyArrowPatch) if a.get_gid().startswith("p:")]
    assert len(q) == len(p) == 6  # one each way between the 7 nodes (the ⋯ included)
    assert all(_ends(a)[1] > _ends(a)[0] for a in q)  # forward: towards x_T, drawn on the right
    assert all(_ends(a)[1] < _ends(a)[0] for a in p)  # reverse: towards x_0
    assert _by_gid(fig, "q:x_{t-1}→x_t").get_linestyle() == "--"
    assert _by_gid(fig, "label:q").get_text() == r"$q(x_t \mid x_{t-1})$"
    assert _by_gid(fig, "label:p").get_text() == r"$p_\theta(x_{t-1} \mid x_t)$"
    assert r"\mathcal{N}(0, I)" in _by_gid(fig, "label:prior").get_text()
    assert not fig.axes[0].get_images() and not _gids(fig, "term:")
    _assert_legible(fig)


def test_chain_diagram_thumbnails_times_and_terms():
    pictures = _chain_pictures()
    fig = chain_diagram(pictures, t=300, T=1000, terms=True)
    images = fig.axes[0].get_images()
    assert len(images) == 5
    thumb = np.asarray(_by_gid(fig, "thumb:x_{t-1}").get_array())
    assert np.array_equal(thumb, _render.grid(pictures[2])[..., 0])
    times = [_by_gid(fig, f"time:{n}").get_text() for n in ["x_0", "x_1", "x_{t-1}", "x_t", "x_T"]]
    assert times == ["t = 0", "t = 1", "t−1 = 299", "t = 300", "t = 1000"]
    assert "D_{\\mathrm{KL}}" in _by_gid(fig, "term:L_{t-1}").get_text()
    assert _by_gid(fig, "term:L_0").get_text() == r"$L_0 = -\log p_\theta(x_0 \mid x_1)$"
    assert "p(x_T)" in _by_gid(fig, "term:L_T").get_text()
    post = _by_gid(fig, "post:x_t→x_{t-1}")
    assert _ends(post)[1] < _ends(post)[0]  # the posterior runs back, from x_t to x_{t−1}
    jump = _by_gid(fig, "q:x_0→x_T")
    assert _ends(jump)[1] - _ends(jump)[0] > 10  # across the whole chain
    _assert_legible(fig)
    _assert_legible(chain_diagram([None, None, pictures[2], pictures[3], None]))


def test_chain_diagram_bad_input():
    with pytest.raises(InvalidArgument, match="5 pictures"):
        chain_diagram(_chain_pictures()[:4])
    with pytest.raises(InvalidArgument, match="both t and T"):
        chain_diagram(t=5)
    with pytest.raises(InvalidArgument, match="3 ≤ t < T"):
        chain_diagram(t=1000, T=1000)


def _res_texts(fig, path):
    return [_by_gid(fig, f"{g}:text").get_text() for g in _gids(fig, f"res:{path}:")
            if not g.endswith(":text")]


def test_unet_diagram_follows_the_mnist_network():
    cfg = architecture("mnist")
    fig = unet_diagram(cfg)
    net = build_network(cfg)
    levels = {g for g in _gids(fig, "down:") + _gids(fig, "up:") if g.count(":") == 1}
    assert levels == {"down:0", "down:1", "down:2", "up:0", "up:1", "up:2"}
    assert _by_gid(fig, "down:2:title").get_text() == "down 2: 7×7, 64 ch"
    # attention only at 7×7 (level 2) and in the middle: attention_resolutions = [7]
    assert [g for g in _gids(fig, "attn:") if not g.endswith(":text")] == \
        ["attn:down:2:0", "attn:mid:0", "attn:up:2:0"]
    # every residual block's channels are the module's
    up2 = net.up_blocks[0].conv1
    assert _res_texts(fig, "up:2") == [f"Res {up2.in_channels}→{up2.out_channels}"] \
        == ["Res 128→64"]
    assert _res_texts(fig, "mid") == ["Res 64→64", "Res 64→64"]
    assert len([g for g in _gids(fig, "skip:") if not g.endswith("label")]) == 3
    n_res = 2 * 3 * cfg["num_res_blocks"] + 2
    assert len([g for g in _gids(fig, "temb:") if not g.endswith(":text")]) == n_res + 1
    assert _by_gid(fig, "time_embed:text").get_text().endswith("emb (128)")
    assert _by_gid(fig, "downsample:1").get_text() == "stride-2 conv 32→32, 14→7"
    assert _by_gid(fig, "input:text").get_text() == "input $x_t$: (B, 1, 28, 28)"
    _assert_legible(fig)


def test_unet_diagram_changes_with_the_config():
    cfg = {**architecture("mnist"), "channel_mult": [1, 2], "num_res_blocks": 2,
           "attention_resolutions": [14]}
    fig = unet_diagram(cfg)
    levels = {g for g in _gids(fig, "down:") + _gids(fig, "up:") if g.count(":") == 1}
    assert levels == {"down:0", "down:1", "up:0", "up:1"}  # 2 levels, not 3
    attn = [g for g in _gids(fig, "attn:") if not g.endswith(":text")]
    assert attn == ["attn:down:1:0", "attn:down:1:1", "attn:mid:0", "attn:up:1:0", "attn:up:1:1"]
    assert _res_texts(fig, "up:0") == ["Res 64→32", "Res 64→32"]
    assert len([g for g in _gids(fig, "skip:") if not g.endswith("label")]) == 4
    assert _by_gid(fig, "skip:1:label").get_text() == "2 skips, 64 ch each → concatenated"
    _assert_legible(fig)
    flowers = unet_diagram(architecture("flowers64"))
    assert {g.split(":")[2] for g in _gids(flowers, "attn:down:")} == {"2", "3"}  # 16 and 8 px
    assert _by_gid(flowers, "output:text").get_text() == "output: (B, 3, 64, 64)"
    _assert_legible(flowers)
    assert not _gids(fig, "time_embed:class")
    conditional = unet_diagram({**architecture("mnist"), "num_classes": 10})
    assert "(10 classes" in _by_gid(conditional, "time_embed:class").get_text()
    _assert_legible(conditional)


def test_unet_diagram_inputs_and_no_side_effects():
    cfg = architecture("mnist")
    state = torch.random.get_rng_state()
    texts = [t.get_text() for t in _texts(unet_diagram(cfg))]
    assert torch.equal(state, torch.random.get_rng_state())  # built on the meta device
    config = UNetConfig(**{k: v for k, v in cfg.items() if k != "kind"})
    assert [t.get_text() for t in _texts(unet_diagram(config))] == texts
    assert [t.get_text() for t in _texts(unet_diagram(UNet(config)))] == texts
    with pytest.raises(InvalidArgument, match="U-Nets"):
        unet_diagram(architecture("toy2d"))
    with pytest.raises(InvalidType, match="UNetConfig"):
        unet_diagram("mnist")
