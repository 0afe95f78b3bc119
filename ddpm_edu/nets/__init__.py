"""Networks only: ``forward(x, t) -> tensor`` shaped like x, with t a LongTensor [N] of paper
indices.

A class-conditional network (``config.num_classes = K > 0``) is ``forward(x, t, y=None)``: y a
LongTensor [N] of labels 0..K−1, or K, the "no label" token of classifier-free guidance (y = None:
no label for every example). An unconditional network (K = 0, the default) refuses labels.

They know nothing of diffusion: no schedule, no T, no loss. The diffusion code passes x_t and t in
and reads back whatever the network was trained to predict (ε, x_0 or μ).

The registry turns a plain dict (JSON-able, saved with every checkpoint) into a network and back:

    cfg = architecture("mnist")           # {"kind": "unet", "image_size": 28, ...}
    net = build_network(cfg)              # a UNet with net.kind == "unet", net.config a UNetConfig
    assert network_config(net) == cfg     # the inverse: a checkpoint alone rebuilds its model

Architectures
-------------
Named network configurations (:data:`ARCHITECTURES`, :func:`architecture`). A training recipe
(:mod:`ddpm_edu.recipes`) names one of them, and adds the schedule, data and training settings.

``"mnist"``     28×28×1 U-Net designed for CPU training speed: 28 → 14 → 7, channels 32/32/64, one
                residual block per level, attention only at 7×7 (0.59 M parameters, 160 MFLOP per
                image forward; 4–5× the training images/s of the HF course U-Net on this
                2-core CPU, see benchmarks/README.md).
``"flowers64"`` 64×64×3 U-Net (64 → 32 → 16 → 8, channels 32/64/128/128, attention at 16×16 and
                8×8; 3.2 M parameters, 1.9 GFLOP per image forward: still hours of CPU training).
``"toy2d"``     residual MLP for 2-D points (3 blocks of width 128, 171 k parameters).
"""
from __future__ import annotations

import dataclasses

from torch import nn

from .mlp import MLP, MLPConfig
from .unet import UNet, UNetConfig
from ..errors import InvalidArgument, InvalidType

__all__ = ["UNet", "UNetConfig", "MLP", "MLPConfig", "build_network", "network_config",
           "architecture", "ARCHITECTURES", "count_parameters", "flops_per_image"]

# kind → (network class, config dataclass)
_KINDS = {"unet": (UNet, UNetConfig), "mlp": (MLP, MLPConfig)}

# Each architecture is a full config dict; benchmarks/README.md says why "mnist" looks as it does.
ARCHITECTURES: dict[str, dict] = {
    "mnist": {"kind": "unet", "image_size": 28, "in_channels": 1, "out_channels": 1,
              "base_channels": 32, "channel_mult": [1, 1, 2], "num_res_blocks": 1,
              "attention_resolutions": [7], "num_heads": 1, "dropout": 0.0, "norm_groups": 8,
              "time_embed_mult": 4},
    "flowers64": {"kind": "unet", "image_size": 64, "in_channels": 3, "out_channels": 3,
                  "base_channels": 32, "channel_mult": [1, 2, 4, 4], "num_res_blocks": 1,
                  "attention_resolutions": [16, 8], "num_heads": 4, "dropout": 0.1,
                  "norm_groups": 8, "time_embed_mult": 4},
    "toy2d": {"kind": "mlp", "dim": 2, "hidden": 128, "num_blocks": 3, "time_embed_dim": 32,
              "dropout": 0.0},
}


def _config_to_dict(kind: str, config) -> dict:
    # tuples → lists so the dict equals its own JSON round trip
    fields = {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()
    }
    if fields.get("num_classes") == 0:
        del fields["num_classes"]  # unconditional: the dict (and checkpoints) as before
    return {"kind": kind, **fields}


def build_network(cfg: dict) -> nn.Module:
    """Build a network from ``{"kind": "unet" | "mlp", **fields}`` (the fields of
    UNetConfig/MLPConfig).

    Missing fields take the dataclass defaults; unknown fields are an error (a typo would otherwise
    silently give a different network).
    """
    if not isinstance(cfg, dict):
        raise InvalidType(f"build_network expects a dict like architecture('mnist'), got "
                        f"{type(cfg).__name__}.")
    if "kind" not in cfg:
        raise InvalidArgument(
            f"network config needs a 'kind' entry, one of {sorted(_KINDS)}; got keys {sorted(cfg)}."
        )
    kind = cfg["kind"]
    if kind not in _KINDS:
        raise InvalidArgument(f"unknown network kind {kind!r}; choose one of {sorted(_KINDS)}.")
    net_cls, cfg_cls = _KINDS[kind]
    fields = {k: v for k, v in cfg.items() if k != "kind"}
    known = {f.name for f in dataclasses.fields(cfg_cls)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise InvalidArgument(f"unknown field(s) {unknown} for a {kind!r} network; valid fields: "
                         f"{sorted(known)}.")
    return net_cls(cfg_cls(**fields))


def network_config(net: nn.Module) -> dict:
    """The inverse of build_network: ``{"kind": net.kind, **asdict(net.config)}``, JSON-able."""
    kind = getattr(net, "kind", None)
    config = getattr(net, "config", None)
    if kind not in _KINDS or not dataclasses.is_dataclass(config):
        raise InvalidType(f"network_config needs a ddpm_edu network (with .kind and a dataclass "
                        f".config), got {type(net).__name__}.")
    return _config_to_dict(kind, config)


def architecture(name: str) -> dict:
    """A fresh copy of a named network's config dict: "mnist", "flowers64" or "toy2d"."""
    if name not in ARCHITECTURES:
        raise InvalidArgument(f"unknown network architecture {name!r}; choose one of "
                              f"{sorted(ARCHITECTURES)}.")
    cfg = dict(ARCHITECTURES[name])
    kind = cfg.pop("kind")
    # through the dataclass, so the dict carries every field, validated and normalised
    return _config_to_dict(kind, _KINDS[kind][1](**cfg))


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def flops_per_image(forward, params, shape, batch: int = 4) -> tuple[float, float]:
    """(forward FLOPs, training FLOPs) per image of ``forward(x, t)`` on inputs of ``shape``.

    ``shape`` is one input's shape without the batch axis, e.g. (C, H, W).

    Counted by ``torch.utils.flop_counter.FlopCounterMode`` on a small random batch: convolutions,
    matmuls and attention; GroupNorm, SiLU and additions are memory traffic, not counted. Training
    is forward + backward of a mean squared output (about 3× the forward); the gradients it leaves
    on ``params`` are cleared. ``forward`` is a network or any callable with its signature.
    """
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(batch, *shape)                      # (B, C, H, W)
    t = torch.randint(1, 1001, (batch,))                # (B,)
    with FlopCounterMode(display=False) as fc:
        with torch.no_grad():
            forward(x, t)
    fwd = fc.get_total_flops() / batch
    with FlopCounterMode(display=False) as fc:
        forward(x, t).square().mean().backward()
    for p in params:
        p.grad = None
    return fwd, fc.get_total_flops() / batch
