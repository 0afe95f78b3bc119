"""The U-Net ε_θ(x_t, t): a convolutional encoder–decoder with skip connections and a time input.

The architecture follows DDPM (Ho et al. 2020, Appendix B; itself PixelCNN++ / Wide ResNet):
residual blocks with GroupNorm + SiLU, the time embedding added inside every block, self-attention
at low resolution, the down path's activations concatenated into the up path. What is configurable
(``UNetConfig``): base channels and a multiplier per resolution level, residual blocks per level,
the resolutions that get self-attention, dropout, GroupNorm groups, in/out channels, image size.

Read top to bottom: config → residual block → attention → resampling → the U-Net itself.

Two choices worth knowing:
- One skip per residual block (not also after the input conv and each downsample, as in
  improved-diffusion / diffusers): the up path then has ``num_res_blocks`` blocks per level, not
  ``num_res_blocks + 1``, which is most of why the "mnist" architecture is fast on a CPU.
- The last conv of every residual block, of every attention block and of the output is initialised
  to zero (as in DDPM's and improved-diffusion's code): at initialisation every block is the
  identity and the network outputs 0 (an ε-predictor's loss then starts at E‖ε‖²/d = 1). The
  zero weights receive gradients at the first step, so nothing stays switched off.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .embedding import (ClassEmbedding, TimeEmbedding, add_class_embedding,
                        check_time_input)
from ..errors import InvalidArgument, InvalidType

__all__ = ["UNetConfig", "UNet"]


@dataclass(frozen=True)
class UNetConfig:
    """Everything that defines a U-Net. Level i works at resolution image_size / 2^i with
    base_channels · channel_mult[i] channels; ``attention_resolutions`` lists the sides (in pixels)
    of the levels that get self-attention after each residual block."""

    image_size: int = 28
    in_channels: int = 1
    out_channels: int = 1
    base_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 1, 2)
    num_res_blocks: int = 1
    attention_resolutions: tuple[int, ...] = (7,)
    num_heads: int = 1
    dropout: float = 0.0
    norm_groups: int = 8
    time_embed_mult: int = 4  # time-embedding width = time_embed_mult · base_channels
    num_classes: int = 0  # > 0: class-conditional, y in 0..num_classes (num_classes = no label)

    def __post_init__(self):
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) \
                or self.num_classes < 0:
            raise InvalidArgument(f"UNetConfig.num_classes must be an int ≥ 0 (0: unconditional), "
                                  f"got {self.num_classes!r}.")
        # lists (from JSON) → tuples, so configs compare equal and stay hashable
        for name in ("channel_mult", "attention_resolutions"):
            value = getattr(self, name)
            if not isinstance(value, (list, tuple)):
                raise InvalidType(f"UNetConfig.{name} must be a list of ints, got {value!r}.")
            object.__setattr__(self, name, tuple(value))
        for name in ("image_size", "in_channels", "out_channels", "base_channels", "num_res_blocks",
                     "num_heads", "norm_groups", "time_embed_mult"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgument(f"UNetConfig.{name} must be a positive int, got {value!r}.")
        if not self.channel_mult or any(isinstance(m, bool) or not isinstance(m, int) or m < 1
                                        for m in self.channel_mult):
            raise InvalidArgument(
                f"UNetConfig.channel_mult must be a non-empty list of positive ints "
                f"(one per resolution level), got {list(self.channel_mult)}."
            )
        if not 0.0 <= float(self.dropout) < 1.0:
            raise InvalidArgument(f"UNetConfig.dropout must lie in [0, 1), got {self.dropout}.")
        # each level halves the side: the image side must divide evenly all the way down
        factor = 2 ** (len(self.channel_mult) - 1)
        if self.image_size % factor:
            chain = " → ".join(f"{self.image_size / 2**i:g}" for i in range(len(self.channel_mult)))
            raise InvalidArgument(
                f"image_size {self.image_size} cannot be halved {len(self.channel_mult) - 1} times "
                f"cleanly ({chain}); with {len(self.channel_mult)} levels it must be a multiple of "
                f"{factor}. Use fewer levels (shorter channel_mult) or pad/resize the images.")
        for ch in self.channels:
            if ch % self.norm_groups:
                raise InvalidArgument(
                    f"every level's channel count must be divisible by norm_groups = "
                    f"{self.norm_groups} (GroupNorm), but one level has {ch} channels "
                    f"({self.base_channels} × mult). Change base_channels or "
                    f"norm_groups."
                )
        bad = sorted(set(self.attention_resolutions) - set(self.resolutions))
        if bad:
            raise InvalidArgument(
                f"attention_resolutions {bad} are not resolutions of this U-Net; its "
                f"levels work at {list(self.resolutions)} pixels."
            )
        for res, ch in zip(self.resolutions, self.channels):
            if res in self.attention_resolutions and ch % self.num_heads:
                raise InvalidArgument(f"the attention level at {res}×{res} has {ch} channels, not "
                                 f"divisible by num_heads = {self.num_heads}.")

    @property
    def resolutions(self) -> tuple[int, ...]:
        """Side length of each level, e.g. (28, 14, 7)."""
        return tuple(self.image_size // 2 ** i for i in range(len(self.channel_mult)))

    @property
    def channels(self) -> tuple[int, ...]:
        """Channels of each level, e.g. (32, 32, 64)."""
        return tuple(self.base_channels * m for m in self.channel_mult)


def _zero(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """x + F(x, emb): GroupNorm → SiLU → conv3×3, add the projected time embedding (per channel),
    GroupNorm → SiLU → dropout → conv3×3 (zero-initialised). A 1×1 conv matches channels on the
    skip."""

    def __init__(self, in_ch: int, out_ch: int, emb_dim: int, groups: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_ch)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.emb = nn.Linear(emb_dim, out_ch)
        self.norm2 = nn.GroupNorm(groups, out_ch)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = _zero(nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip = nn.Identity() if in_ch == out_ch else nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))  # (B, out, H, W)
        h = h + self.emb(F.silu(emb))[:, :, None, None]  # time enters every block, per channel
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))  # (B, out, H, W)
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """x + proj(softmax(QKᵀ/√d) V) over the H·W positions, ``heads`` heads (Vaswani et al. 2017)."""

    def __init__(self, ch: int, heads: int, groups: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(groups, ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = _zero(nn.Conv2d(ch, ch, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, H, W = x.shape
        qkv = self.qkv(self.norm(x)).reshape(B, 3, self.heads, C // self.heads, H * W)
        q, k, v = qkv.transpose(-1, -2).unbind(1)  # each (B, heads, H·W, C/heads)
        h = F.scaled_dot_product_attention(q, k, v)  # (B, heads, H·W, C/heads)
        h = h.transpose(-1, -2).reshape(B, C, H, W)  # (B, C, H, W)
        return x + self.proj(h)


class Downsample(nn.Module):
    """Halve the side with a stride-2 conv3×3: (B, C, H, W) → (B, C, H/2, W/2)."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Double the side (nearest neighbour), then conv3×3: (B, C_in, H, W) → (B, C_out, 2H, 2W)."""

    def __init__(self, in_ch: int, out_ch: int):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class UNet(nn.Module):
    """ε_θ(x, t) (or x_0 / μ — the network does not know): (B, in, S, S), t [B] → (B, out, S, S).

    With ``config.num_classes > 0`` also ε_θ(x, t, y): class labels y [B] in 0..num_classes−1, or
    num_classes ("no label", also what y = None means); their embedding is added to the time
    embedding, so the label reaches every residual block."""

    kind = "unet"

    def __init__(self, config: UNetConfig = UNetConfig()):
        super().__init__()
        if not isinstance(config, UNetConfig):
            raise InvalidType(
                f"UNet expects a UNetConfig, got {type(config).__name__}; build from a "
                f"dict with ddpm_edu.nets.build_network."
            )
        self.config = cfg = config
        chans, res = cfg.channels, cfg.resolutions
        emb_dim = cfg.time_embed_mult * cfg.base_channels
        g, p = cfg.norm_groups, cfg.dropout

        def attention(ch: int, r: int) -> nn.Module:
            at_r = r in cfg.attention_resolutions
            return SelfAttention(ch, cfg.num_heads, g) if at_r else nn.Identity()

        self.time_embed = TimeEmbedding(cfg.base_channels, emb_dim)
        if cfg.num_classes:
            self.class_embed = ClassEmbedding(cfg.num_classes, emb_dim)
        self.in_conv = nn.Conv2d(cfg.in_channels, chans[0], 3, padding=1)

        # down path: level i = num_res_blocks × (ResBlock, attention?), then halve (except the last)
        self.down_blocks, self.down_attn = nn.ModuleList(), nn.ModuleList()
        self.downsample = nn.ModuleList()
        skip_chans, ch = [], chans[0]
        for i, (level_ch, r) in enumerate(zip(chans, res)):
            for _ in range(cfg.num_res_blocks):
                self.down_blocks.append(ResBlock(ch, level_ch, emb_dim, g, p))
                self.down_attn.append(attention(level_ch, r))
                ch = level_ch
                skip_chans.append(ch)
            self.downsample.append(Downsample(ch) if i < len(chans) - 1 else nn.Identity())

        # middle, at the lowest resolution: ResBlock, attention (if that level has it), ResBlock
        self.mid_block1 = ResBlock(ch, ch, emb_dim, g, p)
        self.mid_attn = attention(ch, res[-1])
        self.mid_block2 = ResBlock(ch, ch, emb_dim, g, p)

        # up path, mirror image: each ResBlock takes the concatenation [h, skip], then 2× the side
        self.up_blocks, self.up_attn = nn.ModuleList(), nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i in reversed(range(len(chans))):
            for _ in range(cfg.num_res_blocks):
                self.up_blocks.append(ResBlock(ch + skip_chans.pop(), chans[i], emb_dim, g, p))
                self.up_attn.append(attention(chans[i], res[i]))
                ch = chans[i]
            if i > 0:
                self.upsample.append(Upsample(ch, chans[i - 1]))
                ch = chans[i - 1]
            else:
                self.upsample.append(nn.Identity())

        self.out = nn.Sequential(nn.GroupNorm(g, ch), nn.SiLU(),
                                 _zero(nn.Conv2d(ch, cfg.out_channels, 3, padding=1)))

    def forward(self, x: torch.Tensor, t: torch.Tensor,
                y: torch.Tensor | None = None) -> torch.Tensor:
        cfg = self.config
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            raise InvalidArgument(
                f"x must be a tensor of shape (B, {cfg.in_channels}, {cfg.image_size}, "
                f"{cfg.image_size}), got "
                f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}."
            )
        if tuple(x.shape[1:]) != (cfg.in_channels, cfg.image_size, cfg.image_size):
            raise InvalidArgument(f"this U-Net was built for inputs (B, {cfg.in_channels}, "
                             f"{cfg.image_size}, {cfg.image_size}), got {tuple(x.shape)}.")
        t = check_time_input(t, x.shape[0])
        n = cfg.num_res_blocks

        emb = add_class_embedding(self, self.time_embed(t), y)  # (B, emb_dim), + class embedding
        h = self.in_conv(x)  # (B, C0, S, S)
        skips = []
        for i, down in enumerate(self.downsample):
            for j in range(i * n, (i + 1) * n):
                h = self.down_attn[j](self.down_blocks[j](h, emb))  # (B, C_i, S/2^i, S/2^i)
                skips.append(h)
            h = down(h)  # (B, C_i, S/2^(i+1), ...) except after the last level

        h = self.mid_block2(
            self.mid_attn(self.mid_block1(h, emb)), emb
        )  # (B, C_last, S_min, S_min)

        for i, up in enumerate(self.upsample):
            for j in range(i * n, (i + 1) * n):
                h = torch.cat([h, skips.pop()], dim=1)  # (B, C + C_skip, ...)
                h = self.up_attn[j](self.up_blocks[j](h, emb))
            h = up(h)  # (B, C_{level-1}, 2×side) except after the top level
        return self.out(h)  # (B, out_channels, S, S)
