"""A residual MLP ε_θ(x, t) for 2-D (or any D-dimensional) points: the toy-data network.

x (N, dim) → Linear → num_blocks residual blocks → LayerNorm → SiLU → Linear → (N, dim).
Each block adds the time embedding after its first layer, as the U-Net's residual blocks do.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .embedding import (ClassEmbedding, TimeEmbedding, add_class_embedding,
                        check_time_input)
from ..errors import InvalidArgument, InvalidType

__all__ = ["MLPConfig", "MLP"]


@dataclass(frozen=True)
class MLPConfig:
    """A residual MLP on points of ``dim`` coordinates."""

    dim: int = 2
    hidden: int = 128
    num_blocks: int = 3
    time_embed_dim: int = 32  # width of the sinusoid; the MLP after it maps to ``hidden``
    dropout: float = 0.0
    num_classes: int = 0  # > 0: class-conditional, y in 0..num_classes (num_classes = no label)

    def __post_init__(self):
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) \
                or self.num_classes < 0:
            raise InvalidArgument(f"MLPConfig.num_classes must be an int ≥ 0 (0: unconditional), "
                                  f"got {self.num_classes!r}.")
        for name in ("dim", "hidden", "num_blocks", "time_embed_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidArgument(f"MLPConfig.{name} must be a positive int, got {value!r}.")
        if self.time_embed_dim < 2:
            raise InvalidArgument(f"MLPConfig.time_embed_dim must be at least 2 (cos and sin), got "
                             f"{self.time_embed_dim}.")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise InvalidArgument(f"MLPConfig.dropout must lie in [0, 1), got {self.dropout}.")


class _Block(nn.Module):
    """h + Linear(Dropout(SiLU(Linear(SiLU(LayerNorm(h))) + emb)))."""

    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.fc1 = nn.Linear(hidden, hidden)
        self.emb = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, hidden)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        z = self.fc1(F.silu(self.norm(h))) + self.emb(F.silu(emb))  # (N, hidden)
        return h + self.fc2(self.dropout(F.silu(z)))  # (N, hidden)


class MLP(nn.Module):
    """(N, dim) points, t [N] (and class labels y [N] if conditional) → (N, dim)."""

    kind = "mlp"

    def __init__(self, config: MLPConfig = MLPConfig()):
        super().__init__()
        if not isinstance(config, MLPConfig):
            raise InvalidType(
                f"MLP expects an MLPConfig, got {type(config).__name__}; build from a "
                f"dict with ddpm_edu.nets.build_network."
            )
        self.config = cfg = config
        self.time_embed = TimeEmbedding(cfg.time_embed_dim, cfg.hidden)
        if cfg.num_classes:
            self.class_embed = ClassEmbedding(cfg.num_classes, cfg.hidden)
        self.inp = nn.Linear(cfg.dim, cfg.hidden)
        self.blocks = nn.ModuleList(_Block(cfg.hidden, cfg.dropout) for _ in range(cfg.num_blocks))
        self.out = nn.Sequential(
            nn.LayerNorm(cfg.hidden), nn.SiLU(), nn.Linear(cfg.hidden, cfg.dim)
        )

    def forward(self, x: torch.Tensor, t: torch.Tensor,
                y: torch.Tensor | None = None) -> torch.Tensor:
        cfg = self.config
        if not isinstance(x, torch.Tensor) or x.ndim != 2 or x.shape[1] != cfg.dim:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise InvalidArgument(f"x must be points of shape (N, {cfg.dim}), got {got}.")
        t = check_time_input(t, x.shape[0])
        emb = add_class_embedding(self, self.time_embed(t), y)  # (N, hidden)
        h = self.inp(x)  # (N, hidden)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h)  # (N, dim)
