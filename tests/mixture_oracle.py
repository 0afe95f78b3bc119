"""A 2-D Gaussian mixture as an exact oracle for the score-based samplers.

Data x_0 ~ Σ_k w_k N(μ_k, Σ_k). Since x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε, every noisy marginal is again a
mixture with the same weights:

    q(x_t) = Σ_k w_k N(x_t; √ᾱ_t μ_k, C_k),      C_k = ᾱ_t Σ_k + (1−ᾱ_t) I,

and its score is the responsibility-weighted sum of the component scores:

    ∇ log q(x_t) = −Σ_k γ_k(x_t) C_k⁻¹ (x_t − √ᾱ_t μ_k),   γ_k ∝ w_k N(x_t; √ᾱ_t μ_k, C_k).

The optimal ε-network is E[ε | x_t] = −√(1−ᾱ_t) ∇ log q(x_t). Everything here is float64 and written
from these formulas with explicit 2×2 algebra (no ``ddpm_edu`` math); :meth:`MixtureOracle.marginal`
gives the same q(x_t) as a ``torch.distributions`` object, so tests can check the score against
autograd of its log-density.
"""
from __future__ import annotations

import math

import torch

WEIGHTS = (0.5, 0.3, 0.2)
MEANS = ((-0.5, -0.3), (0.4, 0.5), (0.5, -0.5))
COVS = (((0.04, 0.015), (0.015, 0.02)),
        ((0.01, 0.0), (0.0, 0.03)),
        ((0.02, -0.01), (-0.01, 0.02)))


class MixtureOracle:
    """``oracle(x_t, t)`` → ε*(x_t, t) for the mixture above; x_t [N, 2] float64, t LongTensor [N]
    of indices into ``schedule``. Also: the exact score, the data's moments, exact samples."""

    def __init__(self, schedule, weights=WEIGHTS, means=MEANS, covs=COVS):
        self.schedule = schedule
        self.w = torch.tensor(weights, dtype=torch.float64)      # (K,)
        self.mu = torch.tensor(means, dtype=torch.float64)       # (K, 2)
        self.cov = torch.tensor(covs, dtype=torch.float64)       # (K, 2, 2)
        self.t_info: set = set()

    # -- the data -------------------------------------------------------------------------------
    def data_mean(self) -> torch.Tensor:
        """E[x_0] = Σ w_k μ_k, (2,)."""
        return self.w @ self.mu

    def data_cov(self) -> torch.Tensor:
        """Cov[x_0] = Σ w_k (Σ_k + μ_k μ_kᵀ) − E[x_0] E[x_0]ᵀ, (2, 2)."""
        m = self.data_mean()
        second = (
            self.w[:, None, None] * (self.cov + self.mu[:, :, None] * self.mu[:, None, :])
        ).sum(0)
        return second - torch.outer(m, m)

    def marginal(self, t: int):
        """q(x_t) as a torch.distributions mixture (t = 0 is the data)."""
        from torch.distributions import Categorical, MixtureSameFamily, MultivariateNormal

        ab = float(self.schedule.alpha_bar[t])
        cov = ab * self.cov + (1 - ab) * torch.eye(2, dtype=torch.float64)
        return MixtureSameFamily(
            Categorical(probs=self.w), MultivariateNormal(math.sqrt(ab) * self.mu, cov)
        )

    def sample_data(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n exact draws of x_0, (n, 2): pick a component, then μ_k + L_k z (L_k the 2×2 Cholesky
        factor)."""
        k = torch.multinomial(self.w, n, replacement=True, generator=generator)
        z = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        a, b, c = self.cov[:, 0, 0], self.cov[:, 0, 1], self.cov[:, 1, 1]
        l11 = a.sqrt()
        l21 = b / l11
        l22 = (c - l21 ** 2).sqrt()
        x = torch.stack([l11[k] * z[:, 0], l21[k] * z[:, 0] + l22[k] * z[:, 1]], dim=1)
        return self.mu[k] + x

    # -- the score of q(x_t) ---------------------------------------------------------------------
    def score(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """∇ log q(x_t), (N, 2), via responsibilities and closed-form 2×2 inverses.

        Arrays are laid out (K, N), components first, so the sums over components are cheap."""
        t = t.cpu()
        if bool((t == t[0]).all()):   # the samplers' case: one t for the batch, C_k computed once
            t = t[:1]
        ab = self.schedule.alpha_bar[t].to(x_t)[None, :]                            # (1, N or 1)
        # C_k = ᾱ Σ_k + (1−ᾱ) I = [[a, b], [b, c]] and C_k⁻¹ = [[c, −b], [−b, a]]/det: (K, N or 1)
        a = ab * self.cov[:, 0, 0, None] + (1 - ab)
        b = ab * self.cov[:, 0, 1, None]
        c = ab * self.cov[:, 1, 1, None] + (1 - ab)
        det = a * c - b * b
        d0 = x_t[:, 0] - ab.sqrt() * self.mu[:, 0, None]  # x_t − √ᾱ μ_k: (K, N)
        d1 = x_t[:, 1] - ab.sqrt() * self.mu[:, 1, None]
        p0 = (c * d0 - b * d1) / det  # C_k⁻¹ (x_t − √ᾱ μ_k)
        p1 = (a * d1 - b * d0) / det
        # log(w_k N(x_t; √ᾱ μ_k, C_k)) up to a constant, then γ_k by a stable softmax over k
        logit = (self.w.log()[:, None] - 0.5 * det.log()) - 0.5 * (d0 * p0 + d1 * p1)
        e = (logit - logit.max(0).values).exp()
        gamma = e / e.sum(0)                                                        # γ_k: (K, N)
        return -torch.stack([(gamma * p0).sum(0), (gamma * p1).sum(0)], dim=1)

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        self.t_info.add((t.dtype, tuple(t.shape), t.device))
        one_minus = self.schedule.one_minus_alpha_bar[t.cpu()].to(x_t)[:, None]
        return -one_minus.sqrt() * self.score(x_t, t)


def mean_cov_with_se(x: torch.Tensor):
    """Sample mean (d,), covariance (d, d) and their Monte Carlo standard errors, for iid rows of x.

    SE of the mean: sd/√n. SE of cov_ij: the standard deviation of the products
    (x_i − x̄_i)(x_j − x̄_j) over √n (the delta-method SE of a sample covariance).
    """
    n = x.shape[0]
    mean = x.mean(0)
    c = x - mean
    prods = c[:, :, None] * c[:, None, :]                 # (n, d, d)
    cov = prods.sum(0) / (n - 1)
    return mean, cov, x.std(0) / math.sqrt(n), prods.std(0) / math.sqrt(n)
