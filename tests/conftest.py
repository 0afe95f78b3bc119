"""Test-session settings: one torch thread (deterministic sums, and much faster than two threads
fighting over a busy 2-core machine; the tests use tiny tensors)."""
import torch

torch.set_num_threads(1)
