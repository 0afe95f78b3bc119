"""Chapter 6 (training a U-Net): the sinusoidal time embedding, the loss a freshly built network
reports at its first step, one EMA update with the library's warm-up, and a prediction of the
noise level at which the trained model's loss is largest (compared with the chapter's measurement).

The right answers come from the library (:func:`ddpm_edu.nets.embedding.sinusoidal_embedding`, the
MNIST training images through :func:`ddpm_edu.pixels.to_model_range`, the EMA decay of the training
loop, :func:`ddpm_edu.training.ema_decay_at`). Wrong answers are compared with the usual slips: sin
and cos in the other order or interleaved, frequencies spread over ``dim`` (or ``dim/2 − 1``)
instead of ``dim/2``, a 0-based t, another period; the ε answer (1) given for an x_0-network, the
variance or the squared mean in place of the mean square, pixels scaled to [0, 1]; the two EMA
weights swapped, the warm-up left out (or taken as a maximum, which is the same), off by a step.
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch

from ..nets.embedding import sinusoidal_embedding
from ..training import TrainConfig, ema_decay_at
from ._core import (Exercise, Hint, as_number, as_tensor, call, close, expect_shape,
                    first_mismatch, fmt, name_slip)

__all__ = ["EXERCISES"]


# ---- 6.1 the sinusoidal time embedding -----------------------------------------------------------
_T_IN = torch.tensor([1, 2, 3, 10, 57, 100, 500, 999, 1000])


def _embed(t: torch.Tensor, dim: int, base: float = 10000.0, spread: float | None = None,
           order: str = "cos-sin") -> torch.Tensor:
    """Variants of the embedding in float64: ``spread``
    divides k in the exponent (default dim/2)."""
    half = dim // 2
    spread = half if spread is None else spread
    freqs = torch.exp(-math.log(base) * torch.arange(half, dtype=torch.float64) / spread)  # (half,)
    args = t.double()[:, None] * freqs[None, :]                                          # (N, half)
    cos, sin = torch.cos(args), torch.sin(args)
    if order == "cos-sin":
        return torch.cat([cos, sin], dim=1)
    if order == "sin-cos":
        return torch.cat([sin, cos], dim=1)
    return torch.stack([cos, sin], dim=2).reshape(t.shape[0], dim)   # interleaved cos_0, sin_0, …


def _embedding_slips(t, dim) -> list[tuple[torch.Tensor, str]]:
    """Typical wrong time embeddings of t, each with its hint."""
    return [
        (
            _embed(t, dim, order="sin-cos"),
            "sin and cos are in the other order: the library (like "
            "improved-diffusion) puts the cos half first, "
            "[cos(t ω_k), sin(t ω_k)].",
        ),
        (
            _embed(t, dim, order="interleaved"),
            "you interleaved cos and sin column by column; the "
            "library concatenates two halves: all cos columns, "
            "then all sin columns.",
        ),
        (
            _embed(t, dim, spread=dim),
            "your frequencies spread over dim: ω_k = 10000^(−k/(dim/2)), "
            "k = 0..dim/2 − 1, so the slowest has period about 2π·10000.",
        ),
        (
            _embed(t, dim, spread=dim // 2 - 1),
            "you divided k by dim/2 − 1: ω_k = 10000^(−k/(dim/2)), "
            "so the last frequency is 10000^(−(dim/2 − 1)/(dim/2)), "
            "not exactly 1/10000.",
        ),
        (
            _embed(t - 1, dim),
            "you shifted t to start at 0: the network is called with the paper's "
            "t = 1..T, and the embedding uses that t as it is.",
        ),
        (
            _embed(t, dim, base=1000.0),
            "the base (max_period) is 10000, as in the Transformer: ω_k = 10000^(−k/(dim/2)).",
        ),
        (
            _embed(t.double() / 1000, dim),
            "the library embeds t itself, not t/T: with ω_0 = 1 the "
            "fastest column changes by a whole radian per step.",
        ),
    ]


def _check_embedding(fn) -> str:
    for dim in (8, 32):
        t = _T_IN.clone()
        want = sinusoidal_embedding(t, dim).double()                   # (N, dim), the library's
        got = call(fn, t, dim, what=f"time_embedding(t, dim={dim})")
        if got.shape == (t.shape[0], dim // 2):
            raise Hint(
                f"your embedding has dim/2 = {dim // 2} columns: it should have dim = {dim}, "
                "the cos half followed by the sin half."
            )
        expect_shape(got, want.shape, "your embedding", like="(N, dim): one row per t")
        if close(got, want, 1e-4, 1e-3):
            continue
        wrong = _embedding_slips(t, dim)
        name_slip(got, wrong, 1e-4, 1e-3)
        i, j = divmod(first_mismatch(got, want, 1e-4, 1e-3), dim)
        raise Hint(
            f"for t = {int(t[i])}, dim = {dim}, column {j} should be {fmt(want[i, j].item())}, "
            f"yours is {fmt(got[i, j].item())}. Columns 0..dim/2 − 1 are cos(t ω_k), the rest "
            "sin(t ω_k), with ω_k = 10000^(−k/(dim/2))."
        )
    return (
        "[cos(t ω_k), sin(t ω_k)], ω_k = 10000^(−k/(dim/2)): fast columns tell neighbouring steps "
        "apart, slow ones say roughly where in the chain t is. The U-Net passes this through a "
        "small MLP before adding it to every residual block."
    )


_SOLUTION_6_1 = '''
import math
import torch

def time_embedding(t, dim):
    """[cos(t ω_k), sin(t ω_k)] for k = 0..dim/2 − 1, ω_k = 10000^(−k/(dim/2));
    t (N,) → (N, dim)."""
    half = dim // 2
    omega = torch.exp(-math.log(10000.0) * torch.arange(half) / half)       # (half,)
    angles = t.float()[:, None] * omega[None, :]                              # (N, half)
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)           # (N, dim)
'''


# ---- 6.2 the loss at step 1 of an x_0-predicting network -----------------------------------------
@lru_cache(maxsize=1)
def _mnist_moments() -> tuple[float, float]:
    """E[x_0²] and E[x_0] over every pixel of the MNIST training set in the model range [−1, 1]."""
    from ..datasets.mnist import load_mnist
    from ..pixels import to_model_range

    images, _ = load_mnist("train")
    x = to_model_range(images).double()          # (60000, 28, 28)
    return x.pow(2).mean().item(), x.mean().item()


def _check_first_loss(answer) -> str:
    mean_sq, mean = _mnist_moments()              # 0.9254, −0.7387
    got = as_number(answer, "your loss")
    rel = 0.01                                    # a few hundred digits estimate it to 0.1 %

    def same(a, b):
        return abs(a - b) <= rel * abs(b)

    if same(got, mean_sq):
        return (
            f"E[x_0²] ≈ {mean_sq:.4f}: the network outputs 0, so its squared error is the target's "
            "own mean square. Mostly the black background (x_0 = −1, error 1) and a few white "
            "strokes. For an ε-network the same argument gives E[ε²] = 1: a first loss near 1 "
            "means the set-up is right."
        )
    var = mean_sq - mean ** 2
    wrong = [
        (
            1.0,
            "1 is the answer for an ε-network (E[ε²] = 1). This network predicts x_0, so the first "
            "loss is E[(x_0 − 0)²] over the MNIST pixels in [−1, 1].",
        ),
        (
            var,
            "that is the variance of the pixels, E[(x_0 − E x_0)²]: the network outputs 0, not the "
            "mean image, so the error is x_0 itself and the loss is E[x_0²].",
        ),
        (
            mean**2,
            "that is (E x_0)², the square of the mean; the loss averages the squares: E[x_0²].",
        ),
        (mean, "that is E[x_0], the mean pixel: the loss is a mean of *squared* errors, E[x_0²]."),
        (
            mean_sq / 2,
            "half of it: the loss in ddpm_edu is the plain mean squared error, without a ½.",
        ),
        (
            0.1120,
            "that is E[x²] for pixels scaled to [0, 1]; the model works in [−1, 1] "
            "(x = k/127.5 − 1), where black is −1.",
        ),
        (math.sqrt(mean_sq), "that is the root mean square; the loss is the mean square itself."),
    ]
    name_slip(got, wrong, same=same)
    if got > 100:
        raise Hint("the loss is computed on pixels mapped to [−1, 1] (x = k/127.5 − 1), not on the "
                   "raw values 0..255.")
    raise Hint(
        f"{fmt(got)} is not it. A new U-Net outputs exactly 0 (its last layer starts at zero), "
        "and an x_0-network's target is the image, so the first loss is the mean of x_0² over "
        "the pixels of the training digits in [−1, 1]."
    )


_SOLUTION_6_2 = """
from ddpm_edu import load_mnist, to_model_range

images, _ = load_mnist("train")
# ≈ 0.925: the error of predicting 0 is x_0 itself
answer = to_model_range(images).pow(2).mean().item()
"""


# ---- 6.3 one EMA update with the warm-up ---------------------------------------------------------
def _decay(step: int, decay: float) -> float:
    """The decay the training loop uses after step ``step`` with TrainConfig.ema_decay ``decay``."""
    return ema_decay_at(step, TrainConfig(ema_decay=decay))


def _ema(ema, theta, step, decay):
    d = _decay(step, decay)
    return d * ema + (1 - d) * theta


def _check_ema(fn) -> str:
    g = torch.Generator().manual_seed(6)
    ema = torch.randn(5, generator=g, dtype=torch.float64)
    theta = torch.randn(5, generator=g, dtype=torch.float64)
    for step, decay in ((1, 0.999), (10, 0.999), (100, 0.9), (5000, 0.999), (100_000, 0.9999)):
        want = _ema(ema, theta, step, decay)
        got = call(fn, ema.clone(), theta.clone(), step, decay,
                   what=f"ema_update(ema, theta, step={step}, decay={decay})")
        expect_shape(got, want.shape, "your EMA", like="ema")
        if close(got, want, 1e-6, 1e-9):
            continue
        d = _decay(step, decay)
        wrong = [
            (
                d * theta + (1 - d) * ema,
                "the two weights are swapped: the EMA keeps most of itself, "
                "θ_ema ← d·θ_ema + (1 − d)·θ with d close to 1.",
            ),
            (
                decay * ema + (1 - decay) * theta,
                "that is the update without the warm-up: early in training "
                "use d = min(decay, (1 + step)/(10 + step)), so the EMA "
                "does not remember the random initial weights for "
                "thousands of steps.",
            ),
            (
                _ema(ema, theta, step - 1, decay),
                "the warm-up is off by one step: d = (1 + step)/(10 + "
                "step) with the step just finished (1 for the first).",
            ),
            (
                _ema(ema, theta, step + 1, decay),
                "the warm-up is off by one step: d = (1 + step)/(10 + "
                "step) with the step just finished (1 for the first).",
            ),
            (d * ema + theta, "the new weights enter with the factor (1 − d), not 1."),
        ]
        name_slip(got, wrong, 1e-6, 1e-9)
        raise Hint(f"at step {step} with decay {decay} the decay used is d = {fmt(d)} and the EMA "
                   f"d·θ_ema + (1 − d)·θ; your first entry is {fmt(got[0].item())}, expected "
                   f"{fmt(want[0].item())}.")
    return (
        "d = min(decay, (1 + step)/(10 + step)): 2/11 after the first step, 0.9 after 80, and the "
        "full 0.999 only after about 9000 steps. The EMA of a short run follows the recent weights "
        "instead of averaging in the random start."
    )


_SOLUTION_6_3 = '''
def ema_update(ema, theta, step, decay):
    """One EMA update after optimizer step `step` (1, 2, ...), with the library's warm-up."""
    d = min(decay, (1 + step) / (10 + step))
    return d * ema + (1 - d) * theta
'''

# ---- 6.4 predict, then measure: at which t is the trained model's loss largest? ------------------
def _check_hardest_t(answer, ts, losses) -> str:
    ts = [int(t) for t in as_tensor(ts, "the ts= you passed").flatten().tolist()]
    losses = as_tensor(losses, "the losses= you passed").flatten().tolist()
    if len(ts) != len(losses) or len(ts) < 2:
        raise Hint("pass the measurement as the cell above does: ts= the steps and losses= one "
                   "loss per step (lists of the same length).")
    got = as_number(answer, "your predicted t")
    table = ", ".join(f"{t}: {v:.2g}" for t, v in zip(ts, losses))
    hardest = ts[max(range(len(ts)), key=losses.__getitem__)]
    said = (f"The measurement, L_simple per t: {table}. At large t, x_t is almost all noise, so "
            "ε̂ ≈ x_t is nearly exact and the loss is tiny. At small t the noise is a hundredth of "
            "the pixel range, hidden in the digit's own detail: to name it the network must know "
            "the clean image almost exactly, so the ε-loss is largest where the noise is smallest. "
            "(Measured on x̂_0 instead, the order reverses: an error in ε̂ is divided by √SNR(t) "
            "on its way to x̂_0.)")
    if got not in ts:
        raise Hint(f"give one of the steps the cell measures, {', '.join(map(str, ts))}; "
                   f"yours is {fmt(got)}.")
    if int(got) == hardest:
        return f"t = {hardest}. {said}"
    if int(got) == max(ts):
        raise Hint(f"t = {int(got)} is where x_t is pure noise, so it looks the hardest, but the "
                   f"network is asked for the noise, not the digit, and there the noise is "
                   f"nearly all of x_t. {said}")
    raise Hint(f"t = {int(got)} is not where the loss is largest. {said}")


_SOLUTION_6_4 = """
# An ε-network is asked for the noise. At t = T the noise is nearly all of x_t (ε̂ ≈ x_t is almost
# exact); at t = 1 it is a hundredth of the pixel range, hidden in the digit's detail.
answer = 1
"""


EXERCISES = {
    "6.1": Exercise("6.1", "the sinusoidal time embedding", "time_embedding", _check_embedding,
                    _SOLUTION_6_1),
    "6.2": Exercise("6.2", "the loss of a new x_0-network at its first step", "answer",
                    _check_first_loss, _SOLUTION_6_2),
    "6.3": Exercise("6.3", "one EMA update with warm-up", "ema_update", _check_ema, _SOLUTION_6_3),
    "6.4": Exercise("6.4", "predict, then measure: the noise level with the largest loss", "answer",
                    _check_hardest_t, _SOLUTION_6_4, measured=("ts", "losses")),
}
