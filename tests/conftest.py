"""Test-session settings: torch runs on one thread in every test (deterministic sums, and much
faster than two threads fighting over a busy 2-core machine; the tests use tiny tensors).

This is the only place the tests set torch's thread count. It is set when the tests are collected
(so module-level set-ups run on one thread too) and again after every test, because a few change
it on purpose (the CLI and ``train(config.threads=...)`` set it for their process)."""
import pytest
import torch

ONE_THREAD = 1


def _pin_threads() -> None:
    if torch.get_num_threads() != ONE_THREAD:
        torch.set_num_threads(ONE_THREAD)


_pin_threads()


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Every test starts on one torch thread and leaves it so for the next."""
    _pin_threads()
    yield
    _pin_threads()
