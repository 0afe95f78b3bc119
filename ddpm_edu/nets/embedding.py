"""Time embedding: paper index t ↦ sinusoid (Transformer positional encoding) ↦ small MLP.

DDPM (Ho et al. 2020, Appendix B) feeds t to every residual block through "the Transformer
sinusoidal position embedding"; this is that embedding, with the cos half first as in
improved-diffusion's ``timestep_embedding`` and diffusers'
``get_timestep_embedding(flip_sin_to_cos=True)``.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from ..errors import InvalidArgument, InvalidType

__all__ = ["check_time_input", "check_labels", "sinusoidal_embedding", "TimeEmbedding",
           "ClassEmbedding", "add_class_embedding"]


def check_time_input(t, batch: int) -> torch.Tensor:
    """A network's t: an integer tensor of shape [batch] (paper indices t ≥ 0). Returns it as
    long."""
    if not isinstance(t, torch.Tensor):
        raise InvalidType(f"t must be a LongTensor of shape [{batch}] (one paper time index per "
                        f"example), got {type(t).__name__}. For one shared t use "
                        f"torch.full(({batch},), t, dtype=torch.long).")
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise InvalidType(f"t must be an integer tensor (torch.long) of paper time indices, got "
                        f"dtype {t.dtype}.")
    if t.shape != (batch,):
        raise InvalidArgument(f"t must have shape [{batch}] (one time index per example), got "
                         f"{tuple(t.shape)}. For one shared t use t.expand({batch}) or "
                         f"torch.full(({batch},), t, dtype=torch.long).")
    if t.numel() and t.min() < 0:
        raise InvalidArgument(f"t must be a non-negative paper time index, got {int(t.min())}.")
    return t.long()


def check_labels(y, batch: int, num_classes: int) -> torch.Tensor | None:
    """A network's class labels y: None, or an integer tensor [batch] in 0..num_classes.

    The value ``num_classes`` is the "no label" (null) token of classifier-free guidance; y = None
    means "no label" for every example. Returns y as long (None stays None). An unconditional
    network (num_classes = 0) accepts only y = None.
    """
    if y is None:
        return None
    if num_classes == 0:
        raise InvalidArgument("this network is unconditional (num_classes = 0): it takes no class "
                              "labels; call it as net(x, t), or build one with num_classes > 0.")
    if not isinstance(y, torch.Tensor):
        raise InvalidType(f"y must be a LongTensor of shape [{batch}] (one class label per "
                          f"example), got {type(y).__name__}. For one shared label use "
                          f"torch.full(({batch},), label, dtype=torch.long).")
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise InvalidType(f"y must be an integer tensor (torch.long) of class labels, got dtype "
                          f"{y.dtype}.")
    if y.shape != (batch,):
        raise InvalidArgument(f"y must have shape [{batch}] (one class label per example), got "
                              f"{tuple(y.shape)}.")
    if y.numel() and (y.min() < 0 or y.max() > num_classes):
        bad = int(y.min()) if y.min() < 0 else int(y.max())
        raise InvalidArgument(f"class labels must lie in 0..{num_classes - 1}, or be {num_classes} "
                              f"for \"no label\"; got {bad}.")
    return y.long()


def sinusoidal_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """[cos(t·ω_k), sin(t·ω_k)] with ω_k = max_period^(−k/(dim/2)), k = 0..dim/2−1.

    t: [N] time indices (used as floats, so t = 1..T directly; no rescaling). Returns [N, dim]
    float32; an odd ``dim`` gets one zero column at the end. The slowest frequency has period
    2π·max_period ≫ T = 1000, so the embedding never wraps around.
    """
    if dim < 2:
        raise InvalidArgument(f"embedding dim must be at least 2, got {dim}.")
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period) * torch.arange(half, dtype=torch.float32) / half
    )  # (half,)
    args = t.float()[:, None] * freqs[None, :].to(t.device)  # (N, half)
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1)  # (N, 2·half)
    if dim % 2:
        emb = torch.nn.functional.pad(emb, (0, 1))  # (N, dim)
    return emb


class TimeEmbedding(nn.Module):
    """t [N] ↦ sinusoid [N, sin_dim] ↦ Linear ↦ SiLU ↦ Linear ↦ [N, out_dim]."""

    def __init__(self, sin_dim: int, out_dim: int):
        super().__init__()
        self.sin_dim = sin_dim
        self.mlp = nn.Sequential(
            nn.Linear(sin_dim, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim)
        )

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal_embedding(t, self.sin_dim))  # (N, out_dim)


class ClassEmbedding(nn.Module):
    """Class label y [N] (0..num_classes−1, or num_classes = "no label") ↦ [N, out_dim], added to
    the time embedding (as improved-diffusion's ``label_emb``, diffusers' ``class_embedding``)."""

    def __init__(self, num_classes: int, out_dim: int):
        super().__init__()
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes + 1, out_dim)  # the last row is the null token

    def forward(self, y: torch.Tensor | None, batch: int, device) -> torch.Tensor:
        y = check_labels(y, batch, self.num_classes)
        if y is None:
            y = torch.full((batch,), self.num_classes, dtype=torch.long)
        return self.embed(y.to(device))  # (N, out_dim)


def add_class_embedding(net: nn.Module, emb: torch.Tensor, y) -> torch.Tensor:
    """The network's conditioning vector: the time embedding ``emb`` [N, D], plus the class
    embedding of y when ``net`` is conditional (``net.class_embed``); y is checked either way."""
    n = emb.shape[0]
    if net.config.num_classes == 0:
        check_labels(y, n, 0)
        return emb
    return emb + net.class_embed(y, n, emb.device)
