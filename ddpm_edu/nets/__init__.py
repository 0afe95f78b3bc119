"""Networks only: ``forward(x, t) -> tensor`` with t paper indices. They know nothing of diffusion."""
