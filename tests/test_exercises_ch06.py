"""Chapter 6's exercise checks (training a U-Net): each accepts right answers in the forms a learner
may give them and rejects the typical wrong ones with the hint that names the mistake. The right
answers are recomputed here independently: the embedding from Python's math module, element by
element; E[x_0²] of MNIST from a histogram of the raw pixel values; the EMA rule by hand."""
import math

import numpy as np
import pytest
import torch

from exercise_helpers import right as _right, wrong as _wrong


# ---- 6.1 the embedding ---------------------------------------------------------------------------
def _oracle(t, dim, base=10000.0, spread=None, order="cos-sin", shift=0):
    """The embedding row by row with math.cos/math.sin (float64), and its usual variants."""
    half = dim // 2
    spread = half if spread is None else spread
    rows = []
    for ti in t.tolist():
        w = [base ** (-k / spread) for k in range(half)]
        c = [math.cos((ti + shift) * wk) for wk in w]
        s = [math.sin((ti + shift) * wk) for wk in w]
        if order == "cos-sin":
            rows.append(c + s)
        elif order == "sin-cos":
            rows.append(s + c)
        else:
            rows.append([v for pair in zip(c, s) for v in pair])
    return torch.tensor(rows, dtype=torch.float64)


def test_6_1_oracle_matches_the_library_and_known_values():
    from ddpm_edu.nets.embedding import sinusoidal_embedding
    t = torch.tensor([1, 10, 1000])
    torch.testing.assert_close(
        sinusoidal_embedding(t, 16).double(), _oracle(t, 16), atol=2e-4, rtol=0
    )
    e = _oracle(torch.tensor([1]), 4)[0]                    # ω = (1, 0.01)
    assert abs(e[0] - math.cos(1)) < 1e-12 and abs(e[1] - math.cos(0.01)) < 1e-12
    assert abs(e[2] - math.sin(1)) < 1e-12 and abs(e[3] - math.sin(0.01)) < 1e-12


def test_6_1_accepts_float32_float64_and_lists():
    _right("6.1", lambda t, dim: _oracle(t, dim))
    _right("6.1", lambda t, dim: _oracle(t, dim).float())
    _right("6.1", lambda t, dim: _oracle(t, dim).tolist())


@pytest.mark.parametrize("fn, fragment", [
    (lambda t, dim: _oracle(t, dim, order="sin-cos"), "cos half first"),
    (lambda t, dim: _oracle(t, dim, order="interleaved"), "interleaved"),
    (lambda t, dim: _oracle(t, dim, spread=dim), "spread over dim"),
    (lambda t, dim: _oracle(t, dim, spread=dim // 2 - 1), "dim/2 − 1"),
    (lambda t, dim: _oracle(t, dim, shift=-1), "start at 0"),
    (lambda t, dim: _oracle(t, dim, base=1000.0), "10000"),
    (lambda t, dim: _oracle(t, dim)[:, : dim // 2], "dim/2"),
    (lambda t, dim: _oracle(t, dim)[:, :3], "shape"),
    (lambda t, dim: _oracle(t, dim) * 1.01, "column"),
    (lambda t, dim: t.sin(), "shape"),
])
def test_6_1_names_the_mistake(fn, fragment):
    _wrong("6.1", fn, fragment)


def test_6_1_t_over_T_is_named():
    _wrong(
        "6.1",
        lambda t, dim: torch.cat(
            [
                torch.cos(t.double()[:, None] / 1000 * _w(dim)),
                torch.sin(t.double()[:, None] / 1000 * _w(dim)),
            ],
            1,
        ),
        "t/T",
    )


def _w(dim):
    half = dim // 2
    return torch.tensor([10000.0 ** (-k / half) for k in range(half)], dtype=torch.float64)[None, :]


# ---- 6.2 the first loss of an x_0-network --------------------------------------------------------
@pytest.fixture(scope="module")
def moments():
    """E[x²], E[x] and Var[x] of the MNIST training pixels in [−1, 1], from a histogram of the raw
    uint8 values (256 bins: exact, and a different route from the check's)."""
    from ddpm_edu import load_mnist
    images, _ = load_mnist("train")
    counts = np.bincount(images.numpy().ravel(), minlength=256).astype(np.float64)
    x = np.arange(256) / 127.5 - 1
    p = counts / counts.sum()
    m2, m1 = float((p * x * x).sum()), float((p * x).sum())
    return m2, m1, m2 - m1 * m1


def test_6_2_oracle_value(moments):
    m2, m1, var = moments
    assert abs(m2 - 0.9254) < 1e-3 and abs(m1 + 0.7387) < 1e-3


def test_6_2_accepts(moments):
    m2 = moments[0]
    for answer in (m2, 0.925, 0.93, 0.92, torch.tensor(m2), np.float32(m2), [m2]):
        _right("6.2", answer)


def test_6_2_names_the_mistakes(moments):
    m2, m1, var = moments
    _wrong("6.2", 1.0, "ε-network")
    _wrong("6.2", var, "variance")
    _wrong("6.2", m1 * m1, "square of the mean")
    _wrong("6.2", m1, "mean pixel")
    _wrong("6.2", m2 / 2, "without a ½")
    _wrong("6.2", 0.112, "[0, 1]")
    _wrong("6.2", math.sqrt(m2), "root mean square")
    _wrong("6.2", 7283.0, "0..255")
    _wrong("6.2", 0.7, "is not it")
    _wrong("6.2", "0.925", "number")


# ---- 6.3 the EMA ---------------------------------------------------------------------------------
def _ema(ema, theta, step, decay):
    d = min(decay, (1 + step) / (10 + step))
    return d * ema + (1 - d) * theta


def test_6_3_oracle_values():
    assert _ema(0.0, 1.0, 1, 0.999) == pytest.approx(9 / 11)         # d = 2/11: θ gets 9/11
    assert min(0.999, 81 / 90) == pytest.approx(0.9)


def test_6_3_accepts():
    _right("6.3", _ema)
    _right("6.3", lambda e, th, s, d: th + min(d, (1 + s) / (10 + s)) * (e - th))   # lerp form
    _right("6.3", lambda e, th, s, d: e.lerp(th, 1 - min(d, (1 + s) / (10 + s))).float())


@pytest.mark.parametrize("fn, fragment", [
    (lambda e, th, s, d: _ema(th, e, s, d), "swapped"),
    (lambda e, th, s, d: d * e + (1 - d) * th, "without the warm-up"),
    (lambda e, th, s, d: max(d, (1 + s) / (10 + s)) * e + (1 - max(d, (1 + s) / (10 + s))) * th,
     "without the warm-up"),                                   # max(...) is decay itself early on
    (lambda e, th, s, d: _ema(e, th, s - 1, d), "off by one"),
    (lambda e, th, s, d: _ema(e, th, s + 1, d), "off by one"),
    (lambda e, th, s, d: min(d, (1 + s) / (10 + s)) * e + th, "(1 − d)"),
    (lambda e, th, s, d: _ema(e, th, s, d)[:2], "shape"),
    (lambda e, th, s, d: _ema(e, th, s, d) + 0.1, "expected"),
])
def test_6_3_names_the_mistake(fn, fragment):
    _wrong("6.3", fn, fragment)


# ---- 6.4 predict, then measure: the noise level with the largest loss ----------------------------
def test_6_4_accepts_the_hardest_step_and_quotes_the_measurement():
    v = _right("6.4", 1)
    assert "1: 0.17" in v.message and "1000: 8.7e-05" in v.message


@pytest.mark.parametrize("answer, fragment", [
    (1000, "pure noise"),             # the intuition: the noisiest input is the hardest
    (500, "not where the loss is largest"),
    (7, "one of the steps"),
])
def test_6_4_names_the_slip_and_quotes_the_measurement(answer, fragment):
    v = _wrong("6.4", answer, fragment)
    assert "1000" in v.message


def test_6_4_follows_the_measurement_not_a_fixed_answer():
    """Were the largest loss measured elsewhere, the check would say so."""
    _right("6.4", 100, measured={"ts": (1, 100), "losses": (0.1, 0.2)})
    _wrong("6.4", 1, "pass the measurement", measured={"ts": (1, 100), "losses": (0.1,)})


def test_6_4_the_shipped_model_measured_as_in_the_chapter():
    """The chapter's measurement, on 8 test digits: the loss falls from t = 1 to t = T."""
    from ddpm_edu import load_mnist, load_pretrained, q_sample, to_model_range
    model = load_pretrained("mnist")
    x0 = to_model_range(load_mnist("test")[0][:8]).unsqueeze(1)
    g, losses = torch.Generator().manual_seed(6), []
    for t in (1, 1000):
        eps = torch.randn(x0.shape, generator=g)
        with torch.no_grad():
            eps_hat = model.eps(q_sample(model.schedule, x0, t, noise=eps), torch.full((8,), t))
        losses.append(((eps_hat - eps) ** 2).mean().item())
    assert losses[0] > 100 * losses[1]
