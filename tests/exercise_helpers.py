"""Shared assertions for the exercise-check tests (tests/test_exercises.py and _chNN.py)."""
from ddpm_edu.exercises import evaluate


def wrong(ex_id, answer, *fragments):
    """The check rejects ``answer`` ("not yet") with a hint that mentions every fragment."""
    v = evaluate(ex_id, answer)
    assert v.status == "not yet", str(v)
    for f in fragments:
        assert f.lower() in v.message.lower(), f"hint for {ex_id} should mention {f!r}, got: {v.message}"
    return v


def right(ex_id, answer):
    """The check accepts ``answer``."""
    v = evaluate(ex_id, answer)
    assert v.status == "correct", str(v)
    return v
