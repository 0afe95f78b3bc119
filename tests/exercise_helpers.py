"""Shared assertions for the exercise-check tests (tests/test_exercises.py and _chNN.py)."""
from ddpm_edu.exercises import evaluate

# What the chapters' experiment cells measure on a CI run, passed to the "predict, then run and
# compare" exercises (their verdict compares the prediction with the measurement).
MEASURED = {
    "0.2": {"measured": 31.51},    # % of x_T's pixels outside [−1, 1] (ch. 0, section 1)
    "1.3": {"measured": 10.12},    # Var(x_T) of the chain without its shrink (ch. 1, section 2)
    "2.3": {"measured": 26.111},   # KL(wide ‖ narrow) / KL(narrow ‖ wide), ch. 2 section 4
    "3.3": {"measured": 77.4},     # % of the bound carried by t ≤ 10 (ch. 3, section 8)
    "4.4": {"measured": 80.72},    # % of MNIST test pixels that are exactly black (ch. 4)
    "5.2": {"measured": 0.45474},  # w_2 fixed large / w_2 fixed small (ch. 5, section 2)
    "6.4": {"ts": (1, 10, 100, 500, 900, 1000),         # the shipped model's L_simple per t
            "losses": (0.171, 0.121, 0.0546, 0.0121, 1.26e-4, 8.7e-5)},   # (ch. 6, section 5)
    "7.3": {"measured": 32.85},    # PSNR of the first x̂_0, predicted from pure noise (ch. 7)
    "8.3": {"measured": 249.0},    # η = 1, same x_T, two seeds: largest pixel difference (grey)
    "9.1": {"measured": 2.529},    # spread of one plain fast estimate, K = 5 of T = 50 (ch. 9)
    "10.3": {"ts": (2, 10, 20, 40, 80), "errors": (0.173, 0.077, 0.036, 0.002, 0.001)},
    "11.3": {"measured": 0.41},   # diversity at the largest w / at w = 0, live digits (ch. 11)
    "12.3": {"measured": 3.70},    # Heun's error at 20 / at 40 steps, exact Gaussian flow (ch. 12)
}


def wrong(ex_id, answer, *fragments, measured=None):
    """The check rejects ``answer`` ("not yet") with a hint that mentions every fragment."""
    v = evaluate(ex_id, answer, **(MEASURED.get(ex_id, {}) if measured is None else measured))
    assert v.status == "not yet", str(v)
    for f in fragments:
        assert f.lower() in v.message.lower(), (
            f"hint for {ex_id} should mention {f!r}, got: {v.message}"
        )
    return v


def right(ex_id, answer, measured=None):
    """The check accepts ``answer`` (with the chapter's typical measurement, unless given)."""
    v = evaluate(ex_id, answer, **(MEASURED.get(ex_id, {}) if measured is None else measured))
    assert v.status == "correct", str(v)
    return v
