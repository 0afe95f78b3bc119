"""Chapter 0's exercise checks (the welcome): "which phase adds noise" takes a word, the prediction
of x_T's share outside [−1, 1] and "how many network calls" a number. Each accepts the right answer
in the forms a learner may write it and rejects the typical wrong ones with the hint that names the
confusion."""
import numpy as np
import pytest
import torch

from exercise_helpers import right as _right, wrong as _wrong


# ---- 0.1 which phase adds noise ------------------------------------------------------------------
@pytest.mark.parametrize("answer", ["forward", "Forward", "  FORWARD ", "forward process",
                                    "the forward process", "forward-process", "q", "noising"])
def test_0_1_accepts(answer):
    v = _right("0.1", answer)
    assert "fixed" in v.message


@pytest.mark.parametrize("answer, fragment", [
    ("reverse", "removes"),
    ("the reverse process", "removes"),
    ("backward", "learn"),
    ("p_theta", "removes"),
    ("denoising", "removes"),
    ("sideways", "not one of the two phases"),
    ("", "not one of the two phases"),
    (1, "a word in quotes"),
    (True, "a word in quotes"),
    (["forward"], "a word in quotes"),
    (torch.tensor(1.0), "a word in quotes"),
])
def test_0_1_names_the_mistake(answer, fragment):
    _wrong("0.1", answer, fragment)


# ---- 0.2 predict, then measure: x_T outside the image range --------------------------------------
@pytest.mark.parametrize("answer", [31.7, 33, 25, 38, torch.tensor(30.0)])
def test_0_2_accepts_a_prediction_near_the_measurement(answer):
    v = _right("0.2", answer)
    assert "31.5 % of x_T's pixels" in v.message and "31.7 %" in v.message


@pytest.mark.parametrize("answer, fragment", [
    (0, "no edges"),                  # the intuition: noise stays inside the image's range
    (68.3, "inside"),
    (4.6, "two standard deviations"),
    (50, "quartiles"),
    (100, "most of a standard Gaussian"),
    (0.317, "fraction"),
    (12, "too little"),
    (70.5, "too much"),
    (-5, "between 0 and 100"),
])
def test_0_2_names_the_slip_and_quotes_the_measurement(answer, fragment):
    v = _wrong("0.2", answer, fragment)
    assert "31.5 %" in v.message


def test_0_2_a_measurement_that_is_not_a_share_gets_a_hint():
    _wrong("0.2", 30, "not a share in percent", measured={"measured": 250})


# ---- 0.3 network calls ---------------------------------------------------------------------------
@pytest.mark.parametrize("answer", [1000, 1000.0, torch.tensor(1000), np.int64(1000), [1000],
                                    torch.tensor([1000.0])])
def test_0_3_accepts(answer):
    v = _right("0.3", answer)
    assert "whole batch" in v.message


@pytest.mark.parametrize("answer, fragment", [
    (16000, "one call per image"),
    (1001, "one too many"),
    (999, "one too few"),
    (2000, "forward process needs no network"),
    (32000, "forward process needs no network"),
    (16, "count the steps"),
    (1, "T of them"),
    (0, "each call the network"),
    (10, "typical number of DDIM steps"),
    (50, "typical number of DDIM steps"),
    (1000.5, "whole number"),
    (-3, "whole number"),
    (123, "is not it"),
    ("1000", "must be a number"),
    (torch.tensor([1000, 16]), "single number"),
])
def test_0_3_names_the_mistake(answer, fragment):
    _wrong("0.3", answer, fragment)
