"""Chapter 4's exercise checks (the bucket decoder L_0): each accepts right answers in the forms a
learner may give them and rejects the typical wrong ones with the hint that names the mistake. The
right answers are also recomputed here from math.erf alone, independently of the library."""
import math

import numpy as np
import pytest
import torch

from exercise_helpers import right as _right, wrong as _wrong

H = 1 / 255  # half a bucket


def Phi(y):
    return 0.5 * (1 + math.erf(y / math.sqrt(2)))


# ---- 4.1 the edge bucket -------------------------------------------------------------------------
EDGE = Phi((-1 + H + 0.99) / 0.01)  # independent oracle: 0.27165


def test_4_1_oracle_value():
    assert abs(EDGE - 0.27165) < 1e-5


@pytest.mark.parametrize(
    "answer", [EDGE, 0.2716, 0.272, torch.tensor(EDGE), np.float32(EDGE), [EDGE]]
)
def test_4_1_accepts(answer):
    _right("4.1", answer)


@pytest.mark.parametrize("answer, fragment", [
    (Phi((-1 + H + 0.99) / 0.01) - Phi((-1 - H + 0.99) / 0.01), "runs down to −∞"),
    (Phi((-1 + 2 * H + 0.99) / 0.01), "not −1 + 2/255"),
    (Phi((-1 + H / 2 + 0.99) / 0.01), "not −1 + 1/510"),
    (1 - EDGE, "mass *above*"),
    (Phi((-1 + 0.99) / 0.01), "below the pixel value −1 itself"),
    (math.exp(-0.5) / (0.01 * math.sqrt(2 * math.pi)), "density"),
    (-math.log2(EDGE), "in bits"),
    (-math.log(EDGE), "in nats"),
    (Phi((-1 + H + 0.99) / 0.1), "you used √σ"),
    (1.3, "not a probability"),
    (0.5, "is not it"),
])
def test_4_1_names_the_mistake(answer, fragment):
    _wrong("4.1", answer, fragment)


# ---- 4.2 the bits of a pixel ---------------------------------------------------------------------
def _p(x, mu, s, h=H, edges=True, swap=False):
    """Bucket probability with math.erf, elementwise over Python floats (an independent oracle)."""
    plus, minus = Phi((x + h - mu) / s), Phi((x - h - mu) / s)
    if edges and x < -0.999:
        return 1 - minus if swap else plus
    if edges and x > 0.999:
        return plus if swap else 1 - minus
    return plus - minus


def _learner(rule):
    """A learner's pixel_bits built from a per-element rule (x, mu, sigma) → bits."""
    def pixel_bits(k, mu, sigma):
        x = k.double() / 127.5 - 1
        return torch.tensor([rule(float(a), float(b), float(c)) for a, b, c in zip(x, mu, sigma)])
    return pixel_bits


def _log2_cost(p):
    """−log₂ p, +inf for p = 0 (a learner's float64 probability that underflowed)."""
    return -math.log2(p) if p > 0 else math.inf


def _exact_bits(k, mu, sigma):
    x = k.double() / 127.5 - 1
    Phi_t = lambda y: 0.5 * (1 + torch.special.erf(y / math.sqrt(2)))  # noqa: E731
    cp, cm = Phi_t((x + H - mu) / sigma), Phi_t((x - H - mu) / sigma)
    return -torch.log2(torch.where(k == 0, cp, torch.where(k == 255, 1 - cm, cp - cm)))


def test_4_2_accepts_right_answers_in_several_styles():
    from ddpm_edu import discretized_gaussian_log_likelihood as dgll
    _right("4.2", _exact_bits)
    _right("4.2", _learner(lambda x, m, s: _log2_cost(_p(x, m, s))))
    _right("4.2", lambda k, m, s: _exact_bits(k, m, s).float())
    _right("4.2", lambda k, m, s: -dgll(k.double() / 127.5 - 1, m, s.log()) / math.log(2))
    _right("4.2", lambda k, m, s: -dgll(k.double() / 127.5 - 1, m, s.log(), exact=False)
           / math.log(2))  # DDPM's tanh Φ̃ is within the tolerance
    _right("4.2", lambda k, m, s: list(_exact_bits(k, m, s).tolist()))


@pytest.mark.parametrize(
    "fn, fragment",
    [
        (lambda k, m, s: _exact_bits(k, m, s) * math.log(2), "nats"),
        (lambda k, m, s: _exact_bits(k, m, s) * math.log10(2), "log₁₀"),
        (lambda k, m, s: 2.0 ** -_exact_bits(k, m, s), "probability p itself"),
        (lambda k, m, s: -_exact_bits(k, m, s), "sign is flipped"),
        (
            _learner(lambda x, m, s: _log2_cost(_p(x, m, s, edges=False))),
            "edge buckets run to −∞ and +∞",
        ),
        (_learner(lambda x, m, s: _log2_cost(_p(x, m, s, swap=True))), "edges are swapped"),
        (_learner(lambda x, m, s: _log2_cost(_p(x, m, s, h=2 * H))), "twice too wide"),
        (_learner(lambda x, m, s: _log2_cost(_p(x, m, s, h=H / 2))), "half as wide"),
        (_learner(lambda x, m, s: _log2_cost(_p(x, m, math.sqrt(s)))), "square root"),
        (_learner(lambda x, m, s: _log2_cost(_p(x, m, s * s))), "used σ²"),
        (lambda k, m, s: _exact_bits(k, m, s).sum(), "did you sum"),
        (lambda k, m, s: _exact_bits(k, m, s) + 0.1, "yours is"),
    ],
)
def test_4_2_names_the_mistake(fn, fragment):
    _wrong("4.2", fn, fragment)


def test_4_2_names_the_pixel_map_mistakes():
    def bits_with_x(xmap):
        def pixel_bits(k, mu, sigma):
            x = xmap(k.double())
            Phi_t = lambda y: 0.5 * (1 + torch.special.erf(y / math.sqrt(2)))  # noqa: E731
            cp, cm = Phi_t((x + H - mu) / sigma), Phi_t((x - H - mu) / sigma)
            return -torch.log2(torch.where(k == 0, cp, torch.where(k == 255, 1 - cm, cp - cm)))
        return pixel_bits
    _wrong("4.2", bits_with_x(lambda k: k / 255), "x = k/127.5 − 1", "[0, 1]")
    _wrong("4.2", bits_with_x(lambda k: k), "x = k/127.5 − 1", "not k itself")


def test_4_2_only_the_edges_wrong_is_named_even_when_off_by_another_amount():
    def fn(k, m, s):
        b = _exact_bits(k, m, s)
        return torch.where((k == 0) | (k == 255), b + 0.3, b)
    _wrong("4.2", fn, "wrong at the edges")


# ---- 4.3 σ for 8 bits ----------------------------------------------------------------------------
def _sigma_for(bits, h=H):
    lo, hi = 1e-3, 100.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if 2 * Phi(h / mid) - 1 > 2 ** -bits else (lo, mid)
    return mid


SIGMA8 = _sigma_for(8)


def test_4_3_oracle_value_and_the_density_approximation():
    assert abs(SIGMA8 - 0.80101) < 1e-4
    assert (
        abs(256 * (2 / 255) / math.sqrt(2 * math.pi) - SIGMA8) < 1e-4
    )  # (2/255) N(0; 0, σ²) = 1/256


@pytest.mark.parametrize(
    "answer", [SIGMA8, 0.801, 0.80, 0.8, torch.tensor(SIGMA8), np.float64(SIGMA8)]
)
def test_4_3_accepts(answer):
    _right("4.3", answer)


@pytest.mark.parametrize("answer, fragment", [
    (_sigma_for(8, 2 * H), "twice too wide"),
    (_sigma_for(8, H / 2), "half as wide"),
    (_sigma_for(8 / math.log(2)), "8 nats"),
    (SIGMA8 ** 2, "variance"),
    (1 / math.sqrt(3), "uniform distribution"),
    (-0.8, "must be positive"),
    (0.0074, "too small"),
    (1.2, "too large"),
])
def test_4_3_names_the_mistake(answer, fragment):
    _wrong("4.3", answer, fragment)


# ---- 4.4 predict, then measure: the share of black pixels ----------------------------------------
@pytest.mark.parametrize("answer, measured", [(80, 80.72), (70, 80.72), (95, 80.72),
                                              (torch.tensor(85.0), 80.72), (50, 60.0)])
def test_4_4_accepts_a_prediction_near_the_measurement(answer, measured):
    v = _right("4.4", answer, measured={"measured": measured})
    assert f"{measured:.1f} % of the test digits' pixels are exactly black" in v.message


@pytest.mark.parametrize("answer, fragment", [
    (50, "too few"),                  # the intuition: about half ink, half background
    (0.8, "looks like a fraction"),
    (99, "too many"),
    (120, "between 0 and 100"),
])
def test_4_4_names_the_slip_and_quotes_the_measurement(answer, fragment):
    v = _wrong("4.4", answer, fragment)
    assert "80.7 % of the test digits' pixels" in v.message


def test_4_4_a_measurement_that_is_not_a_share_gets_a_hint():
    _wrong("4.4", 80, "not a share in percent", measured={"measured": 807.2})
