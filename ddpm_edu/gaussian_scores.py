"""Labelled Gaussian data: every noisy density, class posterior and score in closed form.

The exact oracle for conditioning and guidance (chapter 11). Data: a class y ~ p(y) = w_y, then
x_0 | y ~ N(μ_y, Σ_y) in d dimensions. Since x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε (VP forward process),

    q(x_t | y) = N(x_t; √ᾱ_t μ_y, C_y),      C_y = ᾱ_t Σ_y + (1−ᾱ_t) I,
    q(x_t)     = Σ_y w_y q(x_t | y)           (a mixture with the same weights),
    p(y | x_t) = w_y q(x_t | y) / q(x_t)      (Bayes' rule: the exact noisy classifier),

and the scores (gradients in x_t) follow:

    ∇ log q(x_t | y) = −C_y⁻¹ (x_t − √ᾱ_t μ_y),
    ∇ log q(x_t)     = Σ_y p(y | x_t) ∇ log q(x_t | y),
    ∇ log p(y | x_t) = ∇ log q(x_t | y) − ∇ log q(x_t)      (Bayes' rule on scores).

The best ε-network is ε*(x_t, t, y) = E[ε | x_t, y] = −√(1−ᾱ_t) ∇ log q(x_t | y), and without a
label the same with q(x_t). :meth:`GaussianClasses.network` is that network with the contract of
the course's class-conditional networks (``net(x_t, t, y)``, y = K the "no label" token), so
:func:`ddpm_edu.chain.guided_model` and the samplers run on it exactly as on the digit model.
Everything is float64.
"""
from __future__ import annotations

import math

import torch

from ._checks import check_float
from .chain import label_tensor
from .errors import InvalidArgument
from .schedules import Schedule

__all__ = ["GaussianClasses"]


class GaussianClasses:
    """K classes in d dimensions, class y a Gaussian N(μ_y, Σ_y) of prior weight w_y.

    Args: weights (K,) positive, summing to 1; means (K, d); covs (K, d, d) symmetric positive
    definite. Methods take a :class:`~ddpm_edu.schedules.Schedule`, points x_t [N, d] and one step
    t (an int, 0 = the data); labels y are an int or a LongTensor [N] (None: no label).
    """

    def __init__(self, weights, means, covs):
        self.weights = torch.as_tensor(weights, dtype=torch.float64).flatten()   # (K,)
        self.means = torch.as_tensor(means, dtype=torch.float64)                 # (K, d)
        self.covs = torch.as_tensor(covs, dtype=torch.float64)                   # (K, d, d)
        k = self.weights.shape[0]
        if self.means.ndim != 2 or self.means.shape[0] != k \
                or self.covs.shape != (k, self.means.shape[1], self.means.shape[1]):
            raise InvalidArgument(f"give K weights, K means (K, d) and K covariances (K, d, d); "
                                  f"got weights {tuple(self.weights.shape)}, means "
                                  f"{tuple(self.means.shape)}, covs {tuple(self.covs.shape)}.")
        if (self.weights <= 0).any() or abs(float(self.weights.sum()) - 1) > 1e-9:
            raise InvalidArgument(f"the class weights p(y) must be positive and add up to 1, got "
                                  f"{self.weights.tolist()}.")
        if not torch.allclose(self.covs, self.covs.mT) or \
                torch.linalg.cholesky_ex(self.covs).info.any():
            raise InvalidArgument("every covariance must be symmetric positive definite (e.g. "
                                  "s² I with s > 0).")

    @property
    def num_classes(self) -> int:
        return self.weights.shape[0]

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    # ---- the noisy class densities --------------------------------------------------------------
    def noisy(self, schedule: Schedule, t: int):
        """(√ᾱ_t μ_y (K, d), C_y = ᾱ_t Σ_y + (1−ᾱ_t) I (K, d, d)): q(x_t | y) for every y."""
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= schedule.T:
            raise InvalidArgument(f"t must be one int step in 0..{schedule.T}, got {t!r}.")
        ab = float(schedule.alpha_bar[t])
        eye = torch.eye(self.dim, dtype=torch.float64)
        return ab ** 0.5 * self.means, ab * self.covs + (1 - ab) * eye

    def _points(self, x_t) -> torch.Tensor:
        x = check_float(x_t, "x_t")
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise InvalidArgument(f"x_t must be points [N, {self.dim}], got {tuple(x.shape)}.")
        return x.double()

    def _terms(self, schedule: Schedule, x_t, t: int):
        """(log(w_y q(x_t | y)) (N, K), ∇ log q(x_t | y) (N, K, d)) from one Cholesky factor per
        class: C_y = L Lᵀ, log N = −½ (|L⁻¹ r|² + log det C_y + d log 2π), r = x_t − √ᾱ_t μ_y."""
        x = self._points(x_t)
        means, covs = self.noisy(schedule, t)
        chol = torch.linalg.cholesky(covs)                                     # (K, d, d)
        r = (x[:, None, :] - means).unsqueeze(-1)                              # (N, K, d, 1)
        white = torch.linalg.solve_triangular(chol, r, upper=False)            # L⁻¹ r
        per_class = -torch.cholesky_solve(r, chol).squeeze(-1)                 # −C_y⁻¹ r
        log_det = 2 * chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)            # (K,)
        log_normal = -0.5 * (white.square().sum((-2, -1)) + log_det
                             + self.dim * math.log(2 * math.pi))
        return log_normal + self.weights.log(), per_class

    def log_joint(self, schedule: Schedule, x_t, t: int) -> torch.Tensor:
        """log(w_y q(x_t | y)) for every class, (N, K)."""
        return self._terms(schedule, x_t, t)[0]

    def log_prob(self, schedule: Schedule, x_t, t: int, y=None) -> torch.Tensor:
        """log q(x_t) (y None) or log q(x_t | y), (N,)."""
        joint = self.log_joint(schedule, x_t, t)
        if y is None:
            return torch.logsumexp(joint, 1)
        y = label_tensor(y, joint.shape[0], self.num_classes)
        return joint.gather(1, y[:, None])[:, 0] - self.weights.log()[y]

    def class_posterior(self, schedule: Schedule, x_t, t: int) -> torch.Tensor:
        """p(y | x_t) for every class, (N, K): the exact classifier of noisy points (Bayes)."""
        return torch.softmax(self.log_joint(schedule, x_t, t), dim=1)

    # ---- scores and the exact ε-network ---------------------------------------------------------
    def score(self, schedule: Schedule, x_t, t: int, y=None) -> torch.Tensor:
        """∇ log q(x_t) (y None), or ∇ log q(x_t | y) per row; rows with y = K (the "no label"
        token) get ∇ log q(x_t). (N, d)."""
        joint, per_class = self._terms(schedule, x_t, t)                       # (N, K), (N, K, d)
        post = torch.softmax(joint, dim=1)                                     # p(y | x_t)
        marginal = (post[..., None] * per_class).sum(1)                        # (N, d)
        if y is None:
            return marginal
        y = label_tensor(y, joint.shape[0], self.num_classes, allow_null=True)
        known = y.clamp(max=self.num_classes - 1)
        cond = per_class.gather(1, known[:, None, None].expand(-1, 1, self.dim))[:, 0]
        return torch.where((y == self.num_classes)[:, None], marginal, cond)

    def classifier_score(self, schedule: Schedule, x_t, t: int, y) -> torch.Tensor:
        """∇ log p(y | x_t) = ∇ log q(x_t | y) − ∇ log q(x_t), (N, d): what classifier guidance
        adds."""
        return self.score(schedule, x_t, t, y) - self.score(schedule, x_t, t)

    def eps(self, schedule: Schedule, x_t, t: int, y=None) -> torch.Tensor:
        """The best ε-network ε*(x_t, t, y) = −√(1−ᾱ_t) ∇ log q(x_t | y) (y None: of q(x_t)),
        (N, d); t ≥ 1."""
        score = self.score(schedule, x_t, t, y)
        if t == 0:
            raise InvalidArgument("ε* needs t ≥ 1: at t = 0 there is no noise to predict.")
        return -float(schedule.one_minus_alpha_bar[t]) ** 0.5 * score

    def network(self, schedule: Schedule) -> "ExactNetwork":
        """ε* as a class-conditional network ``net(x_t, t, y=None)`` for the samplers."""
        return ExactNetwork(self, schedule)

    def sample(self, n: int, generator: torch.Generator, y=None):
        """n exact draws (x_0 [n, d], y [n]): y from p(y) unless given, then N(μ_y, Σ_y)."""
        if y is None:
            y = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        else:
            y = label_tensor(y, n, self.num_classes)
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        chol = torch.linalg.cholesky(self.covs)                                   # (K, d, d)
        return self.means[y] + (chol[y] @ z[..., None])[..., 0], y


class ExactNetwork:
    """ε*(x_t, t, y) of :class:`GaussianClasses` with a network's call signature: x_t [N, d],
    t LongTensor [N] (1..T, per row), y LongTensor [N] with K = "no label" (None: all K)."""

    def __init__(self, data: GaussianClasses, schedule: Schedule):
        self.data, self.schedule = data, schedule
        self.num_classes = data.num_classes

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor, y=None) -> torch.Tensor:
        y = torch.full((x_t.shape[0],), self.num_classes) if y is None else y
        out = torch.empty(x_t.shape, dtype=torch.float64)
        for step in t.unique().tolist():                       # usually one t for the batch
            rows = (t == step).cpu()
            out[rows] = self.data.eps(self.schedule, x_t[rows], int(step), y[rows].cpu())
        return out.to(x_t)
