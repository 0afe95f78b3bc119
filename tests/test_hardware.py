"""ddpm_edu.hardware: device and precision choices, the measured thread count, model-card facts."""
import time

import pytest
import torch

from ddpm_edu import hardware
from ddpm_edu.errors import InvalidArgument, InvalidType


# --- resolve_device --------------------------------------------------------------------------

def test_resolve_device_auto_and_cpu():
    want = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available()
                                                     else "cpu")
    assert hardware.resolve_device().type == want
    assert hardware.resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name", ["cuda", "mps"])
def test_resolve_device_missing_says_what_is_there(name, monkeypatch):
    monkeypatch.setattr(hardware, "_available_devices", lambda: ["cpu"])
    with pytest.raises(InvalidArgument, match=rf"'{name}'.*Available here: cpu"):
        hardware.resolve_device(name)


@pytest.mark.parametrize("bad", ["gpu", "CUDA", "", None, 0])
def test_resolve_device_rejects_unknown_names(bad):
    with pytest.raises(InvalidArgument, match="auto, cpu, cuda, mps"):
        hardware.resolve_device(bad)


def test_resolve_device_auto_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(hardware, "_available_devices", lambda: ["cpu", "mps"])
    assert hardware.resolve_device("auto").type == "mps"
    monkeypatch.setattr(hardware, "_available_devices", lambda: ["cpu", "cuda", "mps"])
    assert hardware.resolve_device("auto").type == "cuda"


# --- cpu_has_native_bf16 and autocast_dtype ----------------------------------------------------

@pytest.mark.parametrize("flags, isa, want", [
    ({"avx2", "avx512f"}, "", False),             # AVX-512 without bf16: oneDNN would emulate it
    ({"avx2"}, "", False),                        # the AVX2 kind, where bf16 was ~60× slower
    ({"avx512f", "avx512_bf16"}, "", True),
    ({"amx_bf16", "amx_tile"}, "", True),
    ({"avx512f", "avx512_bf16"}, "AVX2", False),  # oneDNN capped below bf16 by the user
    ({"avx512f", "avx512_bf16"}, "AVX512_CORE_BF16", True),
])
def test_cpu_has_native_bf16_on_linux_x86(flags, isa, want, monkeypatch):
    monkeypatch.setattr(hardware.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(hardware.sys, "platform", "linux")
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", isa)
    want = want and torch.backends.mkldnn.is_available()
    assert hardware.cpu_has_native_bf16() is want


def test_cpu_has_native_bf16_false_on_apple_silicon(monkeypatch):
    monkeypatch.setattr(hardware.platform, "machine", lambda: "arm64")
    monkeypatch.setattr(hardware.sys, "platform", "darwin")
    assert hardware.cpu_has_native_bf16() is False


@pytest.mark.parametrize("native", [True, False])
def test_autocast_dtype_follows_the_cpu(native, monkeypatch):
    monkeypatch.setattr(hardware, "cpu_has_native_bf16", lambda: native)
    assert hardware.autocast_dtype("auto", "cpu") == (torch.bfloat16 if native else None)
    assert hardware.autocast_dtype("auto", torch.device("cpu")) == (
        torch.bfloat16 if native else None)
    assert hardware.autocast_dtype("bf16", "cpu") == torch.bfloat16  # forced: runs, maybe slowly
    assert hardware.autocast_dtype("fp32", "cpu") is None


def test_autocast_dtype_mps_auto_is_fp32():
    assert hardware.autocast_dtype("auto", "mps") is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message where CUDA is absent")
def test_autocast_dtype_bf16_on_missing_cuda_is_a_clear_error():
    assert hardware.autocast_dtype("auto", "cuda") is None
    with pytest.raises(InvalidArgument, match="no CUDA GPU is visible.*'fp32' or 'auto'"):
        hardware.autocast_dtype("bf16", "cuda")


@pytest.mark.parametrize("bad", ["fp16", "BF16", "float32", None, 16])
def test_autocast_dtype_rejects_unknown_precisions(bad):
    with pytest.raises(InvalidArgument, match="auto, bf16, fp32"):
        hardware.autocast_dtype(bad)


def test_autocast_dtype_rejects_bad_devices():
    with pytest.raises(InvalidArgument, match="not a device name"):
        hardware.autocast_dtype("auto", "gpu0")
    with pytest.raises(InvalidType, match="torch.device"):
        hardware.autocast_dtype("auto", 0)


# --- fastest_thread_count ----------------------------------------------------------------------

def _fake_step(best: int):
    """A step that takes 2 ms at ``best`` threads and 12 ms at any other count."""
    def step():
        time.sleep(0.002 if torch.get_num_threads() == best else 0.012)
    return step


@pytest.mark.parametrize("best", [1, 3])
def test_fastest_thread_count_picks_the_fastest_and_restores(best):
    before = torch.get_num_threads()
    assert hardware.fastest_thread_count(_fake_step(best), [1, 2, 3], repeats=3) == best
    assert torch.get_num_threads() == before


def test_fastest_thread_count_restores_when_fn_raises():
    before = torch.get_num_threads()
    calls = []

    def step():
        calls.append(torch.get_num_threads())
        if len(calls) == 3:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        hardware.fastest_thread_count(step, [2, 3])
    assert torch.get_num_threads() == before


def test_fastest_thread_count_default_candidates(monkeypatch):
    assert hardware._default_thread_candidates(1) == [1]
    assert hardware._default_thread_candidates(2) == [1, 2]
    assert hardware._default_thread_candidates(6) == [1, 2, 4, 6]
    monkeypatch.setattr(hardware, "usable_cores", lambda: 2)
    seen = set()
    hardware.fastest_thread_count(lambda: seen.add(torch.get_num_threads()), repeats=1)
    assert seen >= {1, 2}


@pytest.mark.parametrize("kwargs, err", [
    ({"fn": 3}, InvalidType), ({"candidates": []}, InvalidArgument),
    ({"candidates": [0, 1]}, InvalidArgument), ({"candidates": [1.5]}, InvalidArgument),
    ({"repeats": 0}, InvalidArgument), ({"repeats": True}, InvalidArgument),
])
def test_fastest_thread_count_validates(kwargs, err):
    with pytest.raises(err):
        hardware.fastest_thread_count(**{"fn": lambda: None, **kwargs})


# --- describe_hardware ---------------------------------------------------------------------------

def test_describe_hardware_keys():
    d = hardware.describe_hardware("cpu")
    assert set(d) == {"cpu", "cpu_capability", "native_bf16", "cores_available", "cores_total",
                      "torch_threads", "torch", "platform", "device", "gpu"}
    assert d["device"] == "cpu" and d["gpu"] is None and d["torch"] == torch.__version__
    assert isinstance(d["native_bf16"], bool) and d["cores_available"] >= 1
    assert isinstance(d["cpu"], str) and d["cpu"]
    with pytest.raises(InvalidType, match="torch.device"):
        hardware.describe_hardware(1)


def test_import_stays_light():
    import subprocess
    import sys
    code = "import sys, ddpm_edu.hardware; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --- bf16 autocast on the real network -----------------------------------------------------------

@pytest.mark.skipif(not hardware.cpu_has_native_bf16(),
                    reason="this CPU has no native bf16 (avx512_bf16 / amx_bf16): autocast would "
                           "be emulated, and the training loop does not use it here")
def test_bf16_autocast_training_step_keeps_fp32_master_weights():
    from ddpm_edu.nets import architecture, build_network

    torch.manual_seed(0)
    net = build_network(architecture("mnist"))
    x, noise = torch.randn(2, 1, 28, 28), torch.randn(2, 1, 28, 28)
    t = torch.tensor([1, 700])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        eps = net(x, t)
        loss = torch.nn.functional.mse_loss(eps.float(), noise)
    assert eps.dtype == torch.bfloat16  # the autocast really ran in bf16
    loss.backward()
    assert torch.isfinite(loss)
    with torch.no_grad():  # the same loss in fp32, an independent reference
        ref = torch.nn.functional.mse_loss(net(x, t), noise)
    assert abs(loss.item() - ref.item()) < 0.05 * ref.item()
    for name, p in net.named_parameters():
        assert p.dtype == torch.float32, name
        assert p.grad is not None and p.grad.dtype == torch.float32, name
        assert torch.isfinite(p.grad).all(), name
