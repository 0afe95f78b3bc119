"""Stand-ins for a trained model, for the visualisation tests and the widget gallery notebook.

:class:`ImageOracle` is the exact optimal ε-network for data x_0 ~ N(m, s² I), where the mean m is a
whole image: ε*(x_t, t) = √(1−ᾱ_t) (x_t − √ᾱ_t m) / (ᾱ_t s² + 1 − ᾱ_t) (the posterior mean of ε
given x_t; math-reference.md check 12 with an image for m). A sampler driven by it turns noise into
noisy copies of m, so a chain visibly "finds" the picture — as a trained model would — in
milliseconds. :func:`hand_made_chain` walks a DDIM chain by hand with
:func:`ddpm_edu.reverse.ddim_step`, yielding plain (t, x, x0_hat) tuples, so the GIF and widget
code is tested without ``ddpm_edu.sampling``.
"""
from __future__ import annotations

import torch

from ddpm_edu.reverse import ddim_step
from ddpm_edu.schedules import Schedule, respace


class ImageOracle:
    """``oracle(x_t, t)`` → ε* for data N(m, s²) per pixel; m: (C, H, W) in [−1, 1]; t: paper
    indices [N]."""

    def __init__(self, schedule: Schedule, m: torch.Tensor, s: float = 0.05):
        self.schedule, self.m, self.s = schedule, m.float(), s

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        ab = self.schedule.alpha_bar[t.cpu()].float().reshape(-1, 1, 1, 1)
        return (1 - ab).sqrt() * (x_t - ab.sqrt() * self.m) / (ab * self.s ** 2 + 1 - ab)


def hand_made_chain(model, schedule: Schedule, x_T: torch.Tensor, steps: int = 20):
    """Yield (t, x_t, x̂_0) from t = T to 0 on ``respace(schedule, steps)`` with deterministic
    DDIM."""
    chain = respace(schedule, steps)
    x = x_T
    yield int(chain.timesteps[chain.T]), x, None
    for k in range(chain.T, 0, -1):
        t_orig = torch.full((x.shape[0],), int(chain.timesteps[k]), dtype=torch.long)
        x, x0_hat = ddim_step(chain, x, model(x, t_orig), k, k - 1, eta=0.0)
        yield int(chain.timesteps[k - 1]), x, x0_hat


def ring_image(size: int = 28) -> torch.Tensor:
    """A bright ring on black, (1, size, size) in [−1, 1]: an MNIST-like "0" drawn from a
    formula."""
    yy, xx = torch.meshgrid(
        torch.arange(size, dtype=torch.float32),
        torch.arange(size, dtype=torch.float32),
        indexing="ij",
    )
    c = (size - 1) / 2
    r = ((yy - c) ** 2 / 1.3 + (xx - c) ** 2 / 0.8).sqrt()
    ink = torch.exp(-((r - 0.3 * size) / (0.06 * size)) ** 2)  # a soft ring of radius ≈ 0.3·size
    return (2 * ink - 1)[None]


class FakePretrained:
    """What ``ddpm_edu.load_pretrained`` returns (``.schedule``, ``.eps``, ``.shape``,
    ``.mean_type``, ``.var_type``), with the exact ε* of N(ring, 0.05²) data in place of a trained
    network."""

    def __init__(self, schedule: Schedule, size: int = 28):
        self.schedule = schedule
        self.eps = ImageOracle(schedule, ring_image(size))
        self.shape = (1, size, size)
        self.mean_type, self.var_type = "eps", "fixed_small"
