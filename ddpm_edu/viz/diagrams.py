"""Diagrams drawn by code: the diffusion Markov chain, and the U-Net read from its own modules.

- :func:`chain_diagram`: x_0 → x_1 → ⋯ → x_{t−1} → x_t → ⋯ → x_T with the forward arrows
  q(x_t | x_{t−1}) (fixed, dashed) and the reverse arrows p_θ(x_{t−1} | x_t) (learned, solid), in
  the notation of Ho et al. 2020, Fig. 2 (mirrored: data on the left, noise on the right, as in
  :func:`ddpm_edu.viz.plots.forward_strip`); optionally thumbnails of a real chain, and which
  distributions each term L_0, L_{t−1}, L_T of the bound compares.
- :func:`unet_diagram`: one box per resolution level of a U-Net, with its side, its channels, its
  residual blocks (input → output channels) and attention blocks, the down/up sampling and the
  skip connections. The boxes are read from the modules of a network built from the config, so the
  picture follows the code: change the config, and the diagram changes with it.

Like :mod:`ddpm_edu.viz.plots`, every function returns a pyplot-free ``matplotlib.figure.Figure``.
Each drawn part carries a ``gid`` (``artist.get_gid()``: "node:x_t", "q:x_0→x_1", "res:up:2:0",
"skip:1:0", …) so tests, and curious learners, can find it.
"""
from __future__ import annotations


from . import _render
from .plots import new_figure
from ..errors import InvalidArgument, InvalidType

__all__ = ["chain_diagram", "unet_diagram"]

COLOURS = {"q": "tab:orange", "p": "tab:blue", "post": "tab:green", "time": "tab:purple",
           "res": "#dbe9f6", "attn": "#fde2c8", "level": "#f4f4f4", "ink": "black", "grey": "0.35"}

# the chain's nodes: (mathtext label, how its time reads when t and T are given)
_NODES = (("x_0", "0"), ("x_1", "1"), (r"\cdots", None), ("x_{t-1}", "t-1"), ("x_t", "t"),
          (r"\cdots", None), ("x_T", "T"))
_GAP, _WIDE_GAP = 2.0, 3.6  # node spacing; the x_{t−1}, x_t pair gets room for its labels
_BOX_W, _BOX_H, _THUMB = 0.9, 0.6, 1.1


def _arrow(ax, a, b, gid, color, ls="-", rad=0.0, lw=1.5):
    from matplotlib.patches import FancyArrowPatch

    arrow = FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=13, color=color, lw=lw,
                            linestyle=ls, connectionstyle=f"arc3,rad={rad}", shrinkA=0, shrinkB=0)
    arrow.set_gid(gid)
    ax.add_patch(arrow)
    return arrow


def _box(ax, x, y, w, h, text, gid, fc, fontsize=10, ec="0.3", lw=1.0):
    """A rounded box centred at (x, y), w × h in data units, with ``text`` in its middle."""
    from matplotlib.patches import FancyBboxPatch

    box = FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0,rounding_size=0.08",
                         fc=fc, ec=ec, lw=lw)
    box.set_gid(gid)
    ax.add_patch(box)
    if text:
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, gid=f"{gid}:text")
    return box


def _node_positions() -> list[float]:
    xs = [0.0]
    for i in range(1, len(_NODES)):
        xs.append(xs[-1] + (_WIDE_GAP if _NODES[i][0] == "x_t" else _GAP))
    return xs


def _check_chain_images(images):
    if images is None:
        return [None] * 5
    images = list(images)
    if len(images) != 5:
        raise InvalidArgument(f"images must be 5 pictures, of x_0, x_1, x_(t-1), x_t and x_T (None "
                              f"for a node without one), got {len(images)}. "
                              f"forward_chain(schedule, x0, keep=[0, 1, t - 1, t, T]) yields them.")
    return [None if im is None else _render.grid(im) for im in images]


def _times_text(label: str, t: int | None, T: int | None) -> str | None:
    if t is None or T is None:
        return None
    value = {"0": 0, "1": 1, "t-1": t - 1, "t": t, "T": T}[label]
    return f"t = {value}" if label in "01T" else f"{label.replace('-', '−')} = {value}"


def _draw_nodes(ax, xs, pictures, t, T):
    """The node boxes, the thumbnails above them and the numeric times above those."""
    real = [i for i, (_, name) in enumerate(_NODES) if name is not None]
    top = _BOX_H / 2
    for i, (label, name) in enumerate(_NODES):
        if name is None:
            ax.text(xs[i], 0, f"${label}$", ha="center", va="center", fontsize=14, gid=f"dots:{i}")
            continue
        _box(ax, xs[i], 0, _BOX_W, _BOX_H, f"${label}$", f"node:{label}", "white", fontsize=13)
        picture = pictures[real.index(i)]
        y = top + 0.1
        if picture is not None:
            cmap = "gray" if picture.shape[2] == 1 else None
            im = ax.imshow(picture[..., 0] if cmap else picture, cmap=cmap, vmin=0, vmax=255,
                           interpolation="nearest",
                           extent=(xs[i] - _THUMB / 2, xs[i] + _THUMB / 2, y, y + _THUMB))
            im.set_gid(f"thumb:{label}")
            y += _THUMB
        when = _times_text(name, t, T)
        if when:
            ax.text(xs[i], y + 0.05, when, ha="center", va="bottom", fontsize=8.5,
                    color=COLOURS["grey"], gid=f"time:{label}")
    return top + 0.1 + (_THUMB if any(p is not None for p in pictures) else 0) + (0.35 if t else 0)


def _draw_chain_arrows(ax, xs):
    """Forward q arrows above the middle line (→), reverse p_θ arrows below it (←)."""
    def edge(i, side):
        half = _BOX_W / 2 if _NODES[i][1] is not None else 0.3
        return xs[i] + side * half

    names = [label for label, _ in _NODES]
    for i in range(len(_NODES) - 1):
        a, b = edge(i, +1), edge(i + 1, -1)
        _arrow(ax, (a, 0.12), (b, 0.12), f"q:{names[i]}→{names[i + 1]}", COLOURS["q"], ls="--")
        _arrow(ax, (b, -0.12), (a, -0.12), f"p:{names[i + 1]}→{names[i]}", COLOURS["p"])
    mid = (xs[3] + xs[4]) / 2
    ax.text(mid, 0.24, r"$q(x_t \mid x_{t-1})$", ha="center", va="bottom", fontsize=12,
            color=COLOURS["q"], gid="label:q")
    ax.text(mid, -0.24, r"$p_\theta(x_{t-1} \mid x_t)$", ha="center", va="top", fontsize=12,
            color=COLOURS["p"], gid="label:p")
    ax.text(xs[0], -0.42, r"data $x_0 \sim q(x_0)$", ha="center", va="top", fontsize=9.5,
            gid="label:data")
    ax.text(xs[-1], -0.42, r"$p(x_T) = \mathcal{N}(0, I)$", ha="center", va="top", fontsize=9.5,
            gid="label:prior")


def _bracket(ax, a, b, y, text, gid):
    """A thin bracket under the nodes a..b, with the term's formula under it."""
    ax.plot([a, a, b, b], [y + 0.12, y, y, y + 0.12], color=COLOURS["grey"], lw=0.9,
            gid=f"{gid}:bracket")
    ax.text((a + b) / 2, y - 0.1, text, ha="center", va="top", fontsize=11, gid=gid)


def _draw_terms(ax, xs, top):
    """Which distributions L_0, L_{t−1} and L_T compare (DDPM eq. 5), each under its nodes."""
    c, half, y = COLOURS, _BOX_W / 2, -1.5
    # L_{t−1}: the forward posterior, an arc from x_t back to x_{t−1} under the p_θ arrow
    _arrow(ax, (xs[4] - 0.2, -_BOX_H / 2), (xs[3] + 0.2, -_BOX_H / 2), "post:x_t→x_{t-1}",
           c["post"], ls=":", rad=-0.35, lw=1.8)
    ax.text((xs[3] + xs[4]) / 2, -0.98, r"$q(x_{t-1} \mid x_t, x_0)$", ha="center", va="top",
            fontsize=11, color=c["post"], gid="label:posterior")
    _bracket(ax, xs[3] - half, xs[4] + half, y,
             r"$L_{t-1} = D_{\mathrm{KL}}(q(x_{t-1} \mid x_t, x_0)"
             r"\,\|\,p_\theta(x_{t-1} \mid x_t))$",
             "term:L_{t-1}")
    # L_0: the last reverse step, scored on the data
    _bracket(ax, xs[0] - half, xs[1] + half, y, r"$L_0 = -\log p_\theta(x_0 \mid x_1)$", "term:L_0")
    # L_T: where the forward process ends, against the fixed prior
    _bracket(ax, xs[-1] - half - 1.2, xs[-1] + half, y,
             r"$L_T = D_{\mathrm{KL}}(q(x_T \mid x_0)\,\|\,p(x_T))$", "term:L_T")
    y = top + 0.15
    _arrow(ax, (xs[0], y), (xs[-1], y), "q:x_0→x_T", c["q"], ls="--", rad=-0.06)
    arc_top = y + 0.03 * (xs[-1] - xs[0])
    ax.text((xs[0] + xs[-1]) / 2, arc_top + 0.05, r"$q(x_T \mid x_0)$", ha="center", va="bottom",
            fontsize=11, color=c["q"], gid="label:q_T")
    return arc_top + 0.45


def chain_diagram(images=None, t: int | None = None, T: int | None = None, terms: bool = False,
                  figsize=None):
    """The two Markov chains of DDPM over x_0, x_1, …, x_T, drawn as in Ho et al. 2020, Fig. 2.

    Dashed orange arrows (→) are the forward process q(x_t | x_{t−1}), fixed; solid blue arrows (←)
    the reverse process p_θ(x_{t−1} | x_t), learned; x_0 is data, x_T ~ p(x_T) = N(0, I).

    ``images``: optional thumbnails of the nodes x_0, x_1, x_{t−1}, x_t, x_T (5 images, None where
    a node has none; floats in [−1, 1] channel-first or uint8, see :mod:`ddpm_edu.viz._render`),
    e.g. ``[x for _, x in forward_chain(schedule, x0, keep=[0, 1, t - 1, t, T])]``. With ``t`` and
    ``T`` the nodes are also labelled with their times. ``terms=True`` adds the terms of the bound
    L_vlb = L_0 + Σ L_{t−1} + L_T (DDPM eq. 5) under the arrows each one compares: L_{t−1} the
    posterior q(x_{t−1} | x_t, x_0) (green arc) with p_θ(x_{t−1} | x_t), L_0 the last reverse step
    p_θ(x_0 | x_1) with the data, L_T the jump q(x_T | x_0) (top arc) with the prior p(x_T).
    """
    from matplotlib.lines import Line2D

    if (t is None) != (T is None):
        raise InvalidArgument(f"give both t and T (to label the nodes with their times) or "
                              f"neither, got t = {t!r}, T = {T!r}.")
    if t is not None and not (isinstance(t, int) and isinstance(T, int) and 3 <= t < T):
        raise InvalidArgument(f"t and T must be integers with 3 ≤ t < T (so that x_1, x_(t-1), x_t "
                              f"and x_T are different nodes), got t = {t!r}, T = {T!r}.")
    pictures = _check_chain_images(images)
    xs = _node_positions()
    fig, ax = new_figure((10, 3), nrows=1, ncols=1)
    top = _draw_nodes(ax, xs, pictures, t, T)
    _draw_chain_arrows(ax, xs)
    bottom = -0.85
    if terms:
        top, bottom = _draw_terms(ax, xs, top), -2.1
    keys = [("q", "--", "forward $q$: fixed, adds noise"),
            ("p", "-", r"reverse $p_\theta$: learned, removes noise")]
    if terms:
        keys.append(("post", ":", r"posterior $q(x_{t-1} \mid x_t, x_0)$: exact, given $x_0$"))
    ax.legend(handles=[Line2D([], [], color=COLOURS[k], ls=ls, label=text) for k, ls, text in keys],
              loc="lower center", ncol=3, fontsize=9, frameon=False)
    return _fit(fig, ax, (xs[0] - 1.0, xs[-1] + 1.0), (bottom - 0.55, top + 0.1), 0.78, figsize)


def _fit(fig, ax, xlim, ylim, scale, figsize):
    """Data units drawn to scale (``scale`` inches per unit), the axes filling the figure (no
    tight_layout pass: a drawing has no ticks to make room for)."""
    ax.set(xlim=xlim, ylim=ylim, aspect="equal")
    ax.axis("off")
    fig.set_size_inches(figsize or (scale * (xlim[1] - xlim[0]), scale * (ylim[1] - ylim[0])))
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1)
    return fig


def _as_unet(network):
    """A UNet from a config dict, a UNetConfig or a UNet, built on the meta device (no weights are
    allocated and no random numbers drawn, so drawing a diagram changes nothing in a notebook)."""
    import torch

    from ..nets import UNet, UNetConfig, build_network

    if isinstance(network, UNet):
        return network
    if isinstance(network, dict) and network.get("kind", "unet") != "unet":
        raise InvalidArgument(f"unet_diagram draws U-Nets; this config is of kind "
                              f"{network.get('kind')!r}. Pass e.g. architecture('mnist').")
    if not isinstance(network, (dict, UNetConfig)):
        raise InvalidType(f"unet_diagram takes a U-Net config dict (architecture('mnist')), a "
                          f"UNetConfig or a UNet, got {type(network).__name__}.")
    with torch.device("meta"):
        return build_network({"kind": "unet", **network}) if isinstance(network, dict) \
            else UNet(network)


def _read_unet(net) -> dict:
    """What the U-Net's modules are, level by level: (in, out) channels of every residual block,
    whether attention follows it, and the resampling convolutions' channels."""
    from ..nets.unet import SelfAttention

    cfg = net.config
    n, L = cfg.num_res_blocks, len(cfg.channels)

    def blocks(res_blocks, attns, k):
        return [((b.conv1.in_channels, b.conv1.out_channels), isinstance(a, SelfAttention))
                for b, a in zip(res_blocks[k * n:(k + 1) * n], attns[k * n:(k + 1) * n])]

    up = {i: blocks(net.up_blocks, net.up_attn, k) for k, i in enumerate(reversed(range(L)))}
    return {
        "levels": [{"side": r, "ch": c, "down": blocks(net.down_blocks, net.down_attn, i),
                    "up": up[i]} for i, (r, c) in enumerate(zip(cfg.resolutions, cfg.channels))],
        "downsample": [(m.conv.in_channels, m.conv.out_channels) for m in net.downsample
                       if hasattr(m, "conv")],
        "upsample": [(m.conv.in_channels, m.conv.out_channels) for m in net.upsample
                     if hasattr(m, "conv")],
        "middle": [((net.mid_block1.conv1.in_channels, net.mid_block1.conv1.out_channels),
                    isinstance(net.mid_attn, SelfAttention)),
                   ((net.mid_block2.conv1.in_channels, net.mid_block2.conv1.out_channels), False)],
        "in": (net.in_conv.in_channels, net.in_conv.out_channels),
        "out": (net.out[-1].in_channels, net.out[-1].out_channels),
        "emb": (net.time_embed.sin_dim, net.time_embed.mlp[-1].out_features),
        "classes": net.class_embed.num_classes if hasattr(net, "class_embed") else 0,
        "size": cfg.image_size,
    }


_SUB_W, _ATTN_W, _SUB_H, _SUB_GAP = 1.35, 0.95, 0.5, 0.15  # blocks inside a level box
_ROW, _LEVEL_H, _SKIP_GAP = 1.75, 1.15, 4.0  # level rows, level box height, room for the skips


def _row_width(blocks) -> float:
    widths = [_SUB_W + (_ATTN_W if attn else 0) for _, attn in blocks]
    return sum(widths) + _SUB_GAP * (len(widths) + sum(a for _, a in blocks) - 1)


def _level_box(ax, x, y, w, title, blocks, gid):
    """One level: a box with its title, then its residual blocks (each with a badge for the time
    embedding it receives) and the attention blocks that follow them."""
    _box(ax, x, y, w, _LEVEL_H, None, gid, COLOURS["level"])
    ax.text(x, y + _LEVEL_H / 2 - 0.08, title, ha="center", va="top", fontsize=9,
            gid=f"{gid}:title")
    left, yb = x - _row_width(blocks) / 2, y - 0.17
    for j, ((c_in, c_out), attn) in enumerate(blocks):
        cx = left + _SUB_W / 2
        _box(ax, cx, yb, _SUB_W, _SUB_H, f"Res {c_in}→{c_out}", f"res:{gid}:{j}", COLOURS["res"],
             fontsize=8)
        _time_badge(ax, cx + _SUB_W / 2 - 0.02, yb + _SUB_H / 2 - 0.02, f"temb:{gid}:{j}")
        left += _SUB_W + _SUB_GAP
        if attn:
            _box(ax, left + _ATTN_W / 2, yb, _ATTN_W, _SUB_H, "Attn", f"attn:{gid}:{j}",
                 COLOURS["attn"], fontsize=8)
            left += _ATTN_W + _SUB_GAP


def _time_badge(ax, x, y, gid):
    from matplotlib.patches import Circle

    badge = Circle((x, y), 0.11, fc=COLOURS["time"], ec="white", lw=0.8, zorder=3)
    badge.set_gid(gid)
    ax.add_patch(badge)
    ax.text(x, y, "t", color="white", fontsize=6.5, ha="center", va="center", zorder=4,
            fontweight="bold", gid=f"{gid}:text")


def _label(ax, x, y, text, ha="center", gid=None, **kw):
    ax.text(x, y, text, ha=ha, va="center", fontsize=8, color=COLOURS["grey"], gid=gid, **kw)


def _draw_unet_levels(ax, u, xl, xr, w):
    """The level boxes of both paths, the middle, the skips and the resampling arrows."""
    levels, n_levels = u["levels"], len(u["levels"])
    for i, lev in enumerate(levels):
        y, s, c = -i * _ROW, lev["side"], lev["ch"]
        _level_box(ax, xl, y, w, f"down {i}: {s}×{s}, {c} ch", lev["down"], f"down:{i}")
        _level_box(ax, xr, y, w, f"up {i}: {s}×{s}, {c} ch", lev["up"], f"up:{i}")
        n = len(lev["down"])
        (_, c_skip), _ = lev["down"][-1]           # the skips' channels, as the label says
        for j in range(n):
            ys = y - 0.17 + 0.14 * (j - (n - 1) / 2)
            _arrow(ax, (xl + w / 2, ys), (xr - w / 2, ys), f"skip:{i}:{j}", "0.25", lw=1.2)
        what = f"skip, {c_skip} ch" if n == 1 else f"{n} skips, {c_skip} ch each"
        _label(ax, (xl + xr) / 2, y + 0.12, f"{what} → concatenated", gid=f"skip:{i}:label")
        if i + 1 < n_levels:
            y0, y1 = y - _LEVEL_H / 2, y - _ROW + _LEVEL_H / 2
            s1 = levels[i + 1]["side"]
            (a, b), (p, q) = u["downsample"][i], u["upsample"][n_levels - 2 - i]
            _arrow(ax, (xl, y0), (xl, y1), f"flow:down:{i}→{i + 1}", "0.25")
            _label(ax, xl - 0.12, (y0 + y1) / 2, f"stride-2 conv {a}→{b}, {s}→{s1}", ha="right",
                   gid=f"downsample:{i}")
            _arrow(ax, (xr, y1), (xr, y0), f"flow:up:{i + 1}→{i}", "0.25")
            _label(ax, xr + 0.12, (y0 + y1) / 2, f"×2 nearest + conv {p}→{q}, {s1}→{s}",
                   ha="left", gid=f"upsample:{i}")
    # the middle, under the lowest level: Res, attention (if that level has it), Res
    xm, ym, s = (xl + xr) / 2, -n_levels * _ROW, levels[-1]["side"]
    wm = max(_row_width(u["middle"]) + 0.4, 3.0)
    _level_box(ax, xm, ym, wm, f"middle: {s}×{s}, {levels[-1]['ch']} ch", u["middle"], "mid")
    y_last = -(n_levels - 1) * _ROW - _LEVEL_H / 2
    _arrow(ax, (xl, y_last), (xm - wm / 2, ym), "flow:down:mid", "0.25", rad=0.25)
    _arrow(ax, (xm + wm / 2, ym), (xr, y_last), "flow:up:mid", "0.25", rad=0.25)
    return ym - _LEVEL_H / 2


def _draw_unet_ends(ax, u, xl, xr):
    """Input, output and the time embedding, above the top level."""
    s, y0, y = u["size"], _LEVEL_H / 2, _LEVEL_H / 2 + 0.85
    (ci, c0), (c1, co), (d_sin, d_emb) = u["in"], u["out"], u["emb"]
    _box(ax, xl, y, 2.6, 0.45, f"input $x_t$: (B, {ci}, {s}, {s})", "input", "white", fontsize=9)
    _arrow(ax, (xl, y - 0.225), (xl, y0), "in_conv", "0.25")
    _label(ax, xl - 0.12, (y + y0 - 0.225) / 2, f"conv 3×3, {ci}→{c0}", ha="right", gid="in:label")
    _box(ax, xr, y, 2.6, 0.45, f"output: (B, {co}, {s}, {s})", "output", "white", fontsize=9)
    _arrow(ax, (xr, y0), (xr, y - 0.225), "out_conv", "0.25")
    _label(ax, xr + 0.12, (y + y0 - 0.225) / 2, f"GroupNorm, SiLU, conv 3×3, {c1}→{co}",
           ha="left", gid="out:label")
    xm, k = (xl + xr) / 2, u["classes"]
    lines = [(f"$t$ → sinusoidal ({d_sin}) → MLP → emb ({d_emb})", "text", "black", 8.5)]
    if k:  # a class-conditional network adds the label's embedding to the time embedding
        lines.append((f"+ class embedding of $y$ ({k} classes, or none)", "class", "black", 8))
    lines.append(("added inside every residual block", "note", COLOURS["time"], 8))
    h = 0.28 * len(lines) + 0.09
    yc = y + 0.1 + (h - 0.65) / 2  # the box grows upwards
    _box(ax, xm, yc, 4.0, h, None, "time_embed", "white", ec=COLOURS["time"], lw=1.5)
    for i, (text, key, colour, size) in enumerate(lines):
        ax.text(xm, yc + h / 2 - 0.18 - 0.28 * i, text, ha="center", va="center", fontsize=size,
                color=colour, gid=f"time_embed:{key}")
    _time_badge(ax, xm + 4.0 / 2, yc + h / 2, "temb:source")
    return yc + h / 2


def unet_diagram(network, figsize=None):
    """The U-Net, as its modules are: one box per resolution level, down path on the left, up path
    on the right, the middle at the bottom, skip connections across.

    ``network``: a config dict (``ddpm_edu.nets.architecture("mnist")``), a
    :class:`~ddpm_edu.nets.UNetConfig` or a :class:`~ddpm_edu.nets.UNet`. The network is built (on
    PyTorch's meta device: no memory, no random numbers) and its modules are read, so every number
    drawn is the code's: each level's side and channels, each residual block's input → output
    channels (an up block receives its skip concatenated, hence more channels in), the attention
    blocks where ``attention_resolutions`` puts them, the stride-2 downsampling and ×2 upsampling
    convolutions. The purple "t" badge on every residual block is the time embedding entering it
    (for a class-conditional network, ``num_classes > 0``, with the label's embedding added).
    """
    u = _read_unet(_as_unet(network))
    rows = [lev["down"] for lev in u["levels"]] + [lev["up"] for lev in u["levels"]]
    w = max(max(_row_width(b) for b in rows) + 0.4, 3.0)
    xl, xr = 0.0, w + _SKIP_GAP
    fig, ax = new_figure((10, 6), nrows=1, ncols=1)
    bottom = _draw_unet_levels(ax, u, xl, xr, w)
    top = _draw_unet_ends(ax, u, xl, xr)
    return _fit(fig, ax, (xl - w / 2 - 2.8, xr + w / 2 + 2.8), (bottom - 0.2, top + 0.2), 0.7,
                figsize)
