"""An independent float64 reference for the DDPM math core, written from math-reference.md.

It deliberately imports nothing from ``ddpm_edu`` (nor torch): numpy and the standard library's
``math`` only. Where a formula can be evaluated in more than one way it takes a *different* way from
the library (1 − ᾱ_t as an fsum of positive terms instead of expm1 of a log-sum, erfc instead of
``log_ndtr``, a sinh/cosh identity instead of ``logsigmoid``), so that a mistake shared by both
would have to be a mistake in the formulas. Also here: :func:`assert_pinned` (compare with a value
printed in math-reference.md).

Index convention, as in the library: tables have length T+1 and index 0 is the data
(β_0 = 0, ᾱ_0 = 1), so ``tab.alpha_bar[t]`` is ᾱ_t for paper time t = 1..T.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LN2 = math.log(2.0)
HALF_WIDTH = 1.0 / 255.0      # bucket half-width for pixels k/127.5 − 1
TANH_C = math.sqrt(2.0 / math.pi)
SQRT2 = math.sqrt(2.0)
PIXELS = np.arange(256) / 127.5 - 1.0   # the 256 bucket centres x_k


# ---- schedules ----------------------------------------------------------------------------------
def linear_betas(T: int = 1000, start: float = 1e-4, end: float = 0.02) -> np.ndarray:
    """β_1..β_T evenly spaced (DDPM), shape [T]."""
    return (
        np.array([start + (end - start) * i / (T - 1) for i in range(T)])
        if T > 1
        else np.array([start])
    )


def cosine_betas(T: int = 1000, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """β_t = min(1 − f(t/T)/f((t−1)/T), max_beta), f(u) = cos²(((u+s)/(1+s))·π/2), shape [T]."""
    def f(u):
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2
    return np.array([min(1 - f(t / T) / f((t - 1) / T), max_beta) for t in range(1, T + 1)])


@dataclass
class Tables:
    """Float64 tables of length T+1 (index 0 = data), computed with explicit Python loops."""
    beta: np.ndarray
    alpha: np.ndarray
    alpha_bar: np.ndarray
    alpha_bar_prev: np.ndarray
    one_minus_alpha_bar: np.ndarray
    c1: np.ndarray
    c2: np.ndarray
    post_var: np.ndarray
    post_logvar_clipped: np.ndarray

    @property
    def T(self) -> int:
        return len(self.beta) - 1


def tables(betas) -> Tables:
    betas = [float(b) for b in betas]
    T = len(betas)
    beta = [0.0] + betas
    alpha = [1.0 - b for b in beta]
    alpha_bar = [1.0]
    for t in range(1, T + 1):
        alpha_bar.append(alpha_bar[-1] * alpha[t])
    alpha_bar_prev = [1.0] + alpha_bar[:-1]
    # 1 − ᾱ_t = Σ_{k≤t} β_k ᾱ_{k−1}: a sum of positive terms (math.fsum, correctly rounded), so it
    # keeps full relative precision where 1 − ᾱ_t is tiny, with no subtraction at all.
    terms = [beta[k] * alpha_bar[k - 1] for k in range(1, T + 1)]
    om = [0.0] + [math.fsum(terms[:t]) for t in range(1, T + 1)]
    c1, c2, pv = [0.0], [0.0], [0.0]
    for t in range(1, T + 1):
        c1.append(beta[t] * math.sqrt(alpha_bar[t - 1]) / om[t])
        c2.append(om[t - 1] * math.sqrt(alpha[t]) / om[t])
        pv.append(beta[t] * om[t - 1] / om[t])
    # β̃_1 = 0 has no log: the likelihood uses β̃_2 there (β_1 if T = 1). Index 0 is unused.
    clipped = [0.0, math.log(pv[2] if T >= 2 else beta[1])] + [math.log(v) for v in pv[2:]]
    a = np.array
    return Tables(a(beta), a(alpha), a(alpha_bar), a(alpha_bar_prev), a(om), a(c1), a(c2), a(pv),
                  a(clipped))


def _col(table: np.ndarray, t, x: np.ndarray) -> np.ndarray:
    """table[t] for t an int or an [N] array, shaped to broadcast against x [N, ...]."""
    v = np.asarray(table)[np.asarray(t)]
    return v.reshape(v.shape + (1,) * (x.ndim - v.ndim)) if v.ndim else v


# ---- forward process and posterior --------------------------------------------------------------
def q_sample(tab: Tables, x0, t, eps):
    """x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε."""
    ab, om = _col(tab.alpha_bar, t, x0), _col(tab.one_minus_alpha_bar, t, x0)
    return np.sqrt(ab) * x0 + np.sqrt(om) * eps


def q_posterior(tab: Tables, x0, xt, t):
    """(mean, variance, log-variance used by the likelihood) of q(x_{t−1} | x_t, x_0)."""
    mean = _col(tab.c1, t, x0) * x0 + _col(tab.c2, t, x0) * xt
    return mean, _col(tab.post_var, t, x0), _col(tab.post_logvar_clipped, t, x0)


def x0_from_eps(tab: Tables, xt, t, eps):
    """x̂_0 = (x_t − √(1−ᾱ_t) ε̂)/√ᾱ_t."""
    ab, om = _col(tab.alpha_bar, t, xt), _col(tab.one_minus_alpha_bar, t, xt)
    return (xt - np.sqrt(om) * eps) / np.sqrt(ab)


def eps_from_x0(tab: Tables, xt, t, x0):
    """ε̂ = (x_t − √ᾱ_t x̂_0)/√(1−ᾱ_t)."""
    ab, om = _col(tab.alpha_bar, t, xt), _col(tab.one_minus_alpha_bar, t, xt)
    return (xt - np.sqrt(ab) * x0) / np.sqrt(om)


def mu_from_eps(tab: Tables, xt, t, eps):
    """DDPM eq. 11: μ_θ = (x_t − β_t/√(1−ᾱ_t) ε̂)/√α_t."""
    b, a, om = (_col(v, t, xt) for v in (tab.beta, tab.alpha, tab.one_minus_alpha_bar))
    return (xt - b / np.sqrt(om) * eps) / np.sqrt(a)


def reverse_logvar(tab: Tables, t, var_type: str):
    """log σ_t²: β̃_t (fixed_small) or β_t (fixed_large), both log β̃_2 at t = 1; [N] or scalar."""
    t = np.asarray(t)
    small = tab.post_logvar_clipped[t]
    if var_type == "fixed_small":
        return small
    return np.where(t == 1, small, np.log(np.where(t == 0, 1.0, tab.beta[t])))


def p_mean_var(tab: Tables, out, xt, t, mean_type="eps", var_type="fixed_small", clip=True):
    """p_θ(x_{t−1}|x_t) from a model output: (mean, variance [N], x̂_0, ε̂). t is an [N] array."""
    t = np.asarray(t)
    if mean_type == "eps":
        x0 = x0_from_eps(tab, xt, t, out)
    elif mean_type == "x0":
        x0 = out
    else:  # "mu": invert μ = c1 x̂_0 + c2 x_t
        x0 = (out - _col(tab.c2, t, xt) * xt) / _col(tab.c1, t, xt)
    if clip:
        x0 = np.clip(x0, -1.0, 1.0)
    mean = (
        out
        if (mean_type == "mu" and not clip)
        else _col(tab.c1, t, xt) * x0 + _col(tab.c2, t, xt) * xt
    )
    return mean, np.exp(reverse_logvar(tab, t, var_type)), x0, eps_from_x0(tab, xt, t, x0)


def eps_weight(tab: Tables, t: int, var_type: str = "fixed_small") -> float:
    """w_t = β_t² / (2 σ_t² α_t (1 − ᾱ_t))."""
    var = math.exp(float(reverse_logvar(tab, t, var_type)))
    return tab.beta[t] ** 2 / (2 * var * tab.alpha[t] * tab.one_minus_alpha_bar[t])


def one_minus_ratio(tab: Tables, s: int, t: int) -> float:
    """1 − ᾱ_t/ᾱ_s = 1 − ∏_{s<k≤t} α_k = Σ_{s<k≤t} β_k ∏_{s<j<k} α_j (positive terms, fsum)."""
    terms, prod = [], 1.0
    for k in range(s + 1, t + 1):
        terms.append(tab.beta[k] * prod)
        prod *= tab.alpha[k]
    return math.fsum(terms)


def ddim_step(tab: Tables, xt, eps, t: int, s: int, eta: float, noise):
    """DDIM (Song et al. eq. 12) from t to s < t without clipping; returns (x_s, σ²)."""
    x0 = x0_from_eps(tab, xt, t, eps)
    var = (
        eta**2
        * tab.one_minus_alpha_bar[s]
        / tab.one_minus_alpha_bar[t]
        * one_minus_ratio(tab, s, t)
    )
    mean = (
        math.sqrt(tab.alpha_bar[s]) * x0
        + math.sqrt(max(tab.one_minus_alpha_bar[s] - var, 0.0)) * eps
    )
    return mean + math.sqrt(var) * noise, var


# ---- Gaussians ----------------------------------------------------------------------------------
def normal_kl(m1, lv1, m2, lv2):
    """KL(N(m1, e^lv1) ‖ N(m2, e^lv2)) in nats, elementwise, written with variances v = e^lv."""
    v1, v2 = np.exp(lv1), np.exp(lv2)
    return 0.5 * (np.log(v2 / v1) + (v1 + (np.asarray(m1) - m2) ** 2) / v2 - 1.0)


def phi(y: float) -> float:
    """Φ(y) = ½ erfc(−y/√2) (accurate in both tails in relative terms for y < 0)."""
    return 0.5 * math.erfc(-y / SQRT2)


def phi_tanh(y: float) -> float:
    """DDPM's Φ̃(y) = ½(1 + tanh(√(2/π)(y + 0.044715 y³))), the formula as written."""
    return 0.5 * (1.0 + math.tanh(TANH_C * (y + 0.044715 * y ** 3)))


def _tanh_arg(y: float) -> float:
    return TANH_C * (y + 0.044715 * y ** 3)


def log_phi_tanh(y: float) -> float:
    """log Φ̃(y), using ½(1 + tanh z) = e^z / (2 cosh z) = 1 / (1 + e^{−2z}) (no cancellation)."""
    z = _tanh_arg(y)
    return -math.log1p(math.exp(-2 * z)) if z >= 0 else 2 * z - math.log1p(math.exp(2 * z))


def log_mass_exact(lo: float, hi: float) -> float:
    """log(Φ(hi) − Φ(lo)) with erfc and the upper-tail trick (Φ(−lo) − Φ(−hi) above the mean)."""
    if lo == -math.inf:
        return math.log(phi(hi)) if phi(hi) > 0 else -math.inf
    if hi == math.inf:
        p = 0.5 * math.erfc(lo / SQRT2)
        return math.log(p) if p > 0 else -math.inf
    if lo > 0:      # both above the mean: upper tails ½erfc(y/√2)
        p = 0.5 * (math.erfc(lo / SQRT2) - math.erfc(hi / SQRT2))
    elif hi < 0:    # both below: lower tails
        p = 0.5 * (math.erfc(-hi / SQRT2) - math.erfc(-lo / SQRT2))
    else:           # straddles the mean: 1 − both tails
        p = 1.0 - 0.5 * math.erfc(hi / SQRT2) - 0.5 * math.erfc(-lo / SQRT2)
    return math.log(p) if p > 0 else -math.inf


def log_mass_tanh(lo: float, hi: float) -> float:
    """log(Φ̃(hi) − Φ̃(lo)) via tanh b − tanh a = sinh(b − a)/(cosh a cosh b), no cancellation."""
    if lo == -math.inf:
        return log_phi_tanh(hi)
    if hi == math.inf:
        return log_phi_tanh(-lo)     # Φ̃ is symmetric: 1 − Φ̃(lo) = Φ̃(−lo)
    a, b = _tanh_arg(lo), _tanh_arg(hi)
    d = b - a
    # log sinh d − log cosh a − log cosh b − log 2, with log cosh z = |z| + log1p(e^{−2|z|}) − log 2
    # and log sinh d = d + log1p(−e^{−2d}) − log 2. The linear parts d − |a| − |b| are summed
    # exactly by cases (no cancellation of two large numbers), the rest are small corrections.
    lead = -2 * a if a >= 0 else (2 * b if b <= 0 else 0.0)
    return (lead + math.log1p(-math.exp(-2 * d))
            - math.log1p(math.exp(-2 * abs(a))) - math.log1p(math.exp(-2 * abs(b))))


def decoder_log_prob(x: float, mean: float, sigma: float, exact: bool = True) -> float:
    """log p(x | μ, σ) of the 256-bucket decoder, one scalar pixel, nats (no floor)."""
    lo = -math.inf if x < -0.999 else (x - HALF_WIDTH - mean) / sigma
    hi = math.inf if x > 0.999 else (x + HALF_WIDTH - mean) / sigma
    return log_mass_exact(lo, hi) if exact else log_mass_tanh(lo, hi)


def decoder_log_probs(x, mean, sigma, exact: bool = True) -> np.ndarray:
    """Elementwise :func:`decoder_log_prob` over broadcast arrays."""
    x, mean, sigma = np.broadcast_arrays(np.asarray(x, float), np.asarray(mean, float),
                                         np.asarray(sigma, float))
    out = np.empty(x.shape)
    for i in np.ndindex(x.shape):
        out[i] = decoder_log_prob(float(x[i]), float(mean[i]), float(sigma[i]), exact)
    return out


# ---- the bound ----------------------------------------------------------------------------------
def mean_flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[0], -1).mean(axis=1)


def prior_bpd(tab: Tables, x0: np.ndarray) -> np.ndarray:
    """L_T = KL(N(√ᾱ_T x_0, 1 − ᾱ_T) ‖ N(0, 1)), mean over dims, bits; [N]."""
    abT, omT = tab.alpha_bar[-1], tab.one_minus_alpha_bar[-1]
    return mean_flat(normal_kl(math.sqrt(abT) * x0, math.log(omT), 0.0, 0.0)) / LN2


def vlb_term_eps(tab: Tables, x0, xt, t: int, eps_hat, var_type="fixed_small", clip=True,
                 exact=True) -> np.ndarray:
    """The bound's term at step t (bits/dim, [N]) for an ε-prediction: KL for t ≥ 2, decoder at
    t = 1."""
    tt = np.full(x0.shape[0], t)
    mean, _, _, _ = p_mean_var(tab, eps_hat, xt, tt, "eps", var_type, clip)
    lv = float(reverse_logvar(tab, t, var_type))
    if t == 1:
        return -mean_flat(decoder_log_probs(x0, mean, math.exp(0.5 * lv), exact)) / LN2
    true_mean = tab.c1[t] * x0 + tab.c2[t] * xt
    return mean_flat(normal_kl(true_mean, tab.post_logvar_clipped[t], mean, lv)) / LN2


def fixed_large_true_eps_bits(tab: Tables) -> float:
    """Σ_{t≥2} KL(N(m, β̃_t) ‖ N(m, β_t)) in bits: equal means, so only the variances count."""
    return sum(float(normal_kl(0.0, math.log(tab.post_var[t]), 0.0, math.log(tab.beta[t])))
               for t in range(2, tab.T + 1)) / LN2


# ---- pinned reference values --------------------------------------------------------------------
def assert_pinned(value: float, text: str, what: str = "") -> None:
    """``value`` rounds to the reference value ``text`` as printed in math-reference.md.

    The tolerance is half a unit in the last printed digit ("4.0358e-5" → ±5e−10), i.e. exactly
    what "the reference, rounded" claims — no more slack than the document itself gives.
    """
    mantissa, _, exponent = text.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    tol = 0.5 * 10.0 ** (-decimals + (int(exponent) if exponent else 0))
    ref = float(text)
    assert abs(value - ref) <= tol * (1 + 1e-9), (
        f"{what or 'value'} = {value!r}, reference {text} (±{tol:g})"
    )
