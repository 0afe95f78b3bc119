"""What this machine can do fast: the device, bf16 autocast, the thread count, a model-card summary.

The training loop asks here instead of assuming: a bf16 switch that is right on one CPU is ~60×
slower on another (emulated bf16), and the best thread count on a busy machine is often not the
number of cores. So bf16 is used only where the CPU has bf16 dot-product instructions, and the
thread count is *measured* (:func:`fastest_thread_count`).

    device = resolve_device("auto")                 # cuda, else mps, else cpu
    dtype = autocast_dtype("auto", device)          # torch.bfloat16 or None (plain fp32)
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        loss = ...

torch is imported inside the functions, so importing this module stays instant.
"""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time

from .errors import InvalidArgument, InvalidType

__all__ = ["cpu_has_native_bf16", "autocast_dtype", "resolve_device", "fastest_thread_count",
           "describe_hardware", "cpu_flags", "cpu_model_name", "usable_cores"]

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "bf16", "fp32")
# x86 flags (Linux /proc/cpuinfo names) of instructions that compute bf16 dot products natively:
# AVX512_BF16 (vdpbf16ps: Cooper Lake, Sapphire Rapids, Zen 4 and later) and AMX-BF16 (tiles).
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def _cpuinfo_field(name: str) -> str | None:
    """The first value of ``name`` in /proc/cpuinfo (Linux), or None where there is no such file."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                if sep and key.strip() == name:
                    return value.strip()
    except OSError:
        return None
    return None


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo ("flags" on x86, "Features" on arm), or empty."""
    return frozenset((_cpuinfo_field("flags") or _cpuinfo_field("Features") or "").split())


def cpu_model_name() -> str:
    """A human name for the CPU, e.g. "AMD EPYC 9R14" (the model card states it)."""
    name = _cpuinfo_field("model name")
    if not name and sys.platform == "darwin":
        import subprocess
        try:
            name = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], text=True,
                                  capture_output=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            name = None
    return name or platform.processor() or platform.machine() or "unknown"


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, e.g. a container's share), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # macOS and Windows have no sched_getaffinity
        return max(1, os.cpu_count() or 1)


def cpu_has_native_bf16() -> bool:
    """True only where this CPU computes bf16 dot products in hardware, so bf16 autocast pays off.

    - x86 (Linux): the ``avx512_bf16`` or ``amx_bf16`` flag in /proc/cpuinfo, and torch built with
      oneDNN (which runs bf16 convolutions and matmuls), unless ``ONEDNN_MAX_CPU_ISA`` caps oneDNN
      below AVX512_CORE_BF16. torch's own ``torch.ops.mkldnn._is_mkldnn_bf16_supported()`` is
      *not* used on x86: it is also True on plain AVX-512 CPUs, where oneDNN emulates bf16
      (slower than fp32). torch 2.13 has no ``torch._C._cpu._is_avx512_bf16_supported``, and
      ``torch.backends.cpu.get_cpu_capability()`` says only "AVX512", with or without bf16.
    - x86 on macOS or Windows: False (no cheap, reliable flag reading; no Intel Mac has
      AVX512_BF16).
    - arm64 Linux (e.g. Graviton 3): torch's ``_is_mkldnn_bf16_supported()``, which on arm reports
      the BF16 extension (BFMMLA/BFDOT) of the CPU.
    - Apple M-series (macOS arm64): False. M1 has no BF16 extension; on M2 and later torch's fp32
      matmuls go through Apple's Accelerate (the AMX matrix unit), which the CPU bf16 path of
      torch does not use, so bf16 autocast is not expected to be faster, and a wrong True is costly.
      (On a Mac, the GPU through ``mps`` is the fast path.)

    When in doubt: False. Plain fp32 is never the slow choice; emulated bf16 was ~60× slower.
    """
    import torch

    if not torch.backends.mkldnn.is_available():
        return False
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64", "i686", "i386"):
        return (sys.platform.startswith("linux") and bool(cpu_flags() & set(NATIVE_BF16_FLAGS))
                and _onednn_isa_allows_bf16())
    if machine in ("aarch64", "arm64") and sys.platform.startswith("linux"):
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def _onednn_isa_allows_bf16() -> bool:
    """False where ONEDNN_MAX_CPU_ISA (set to imitate an older CPU) stops oneDNN below bf16."""
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper()
    return isa in ("", "ALL", "DEFAULT") or "BF16" in isa or "AMX" in isa or isa.startswith("AVX10")


def _device_type(device) -> str:
    import torch

    if isinstance(device, torch.device):
        return device.type
    if isinstance(device, str):
        if device == "auto":
            return resolve_device().type
        try:
            return torch.device(device).type
        except RuntimeError:
            raise InvalidArgument(f"device {device!r} is not a device name; use one of "
                                  f"{', '.join(DEVICES)}.") from None
    raise InvalidType(f"device must be a str such as 'cpu' or a torch.device, "
                      f"got {type(device).__name__}.")


def autocast_dtype(requested: str = "auto", device="cpu"):
    """The dtype to pass to ``torch.autocast`` on ``device``, or None for plain fp32.

    ``requested``: "auto" → torch.bfloat16 where it is fast (a CPU with native bf16, see
    :func:`cpu_has_native_bf16`; a CUDA GPU with bf16 in hardware, Ampere or later), else None;
    MPS gets None under "auto" (bf16 there depends on the macOS version and is untested here).
    "bf16" → torch.bfloat16 whenever the device can run it at all (on a CPU without native bf16
    it runs, but emulated and much slower). "fp32" → None. The weights stay fp32 either way:
    autocast computes matmuls and convolutions in bf16 and keeps fp32 master weights and
    gradients.
    """
    import torch

    if not isinstance(requested, str) or requested not in PRECISIONS:
        raise InvalidArgument(f"precision must be one of {', '.join(PRECISIONS)}; got "
                              f"{requested!r}. 'auto' picks bf16 only where it is fast here.")
    kind = _device_type(device)
    if requested == "fp32":
        return None
    if kind == "cpu":
        fast = cpu_has_native_bf16()
    elif kind == "cuda":
        fast = torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    elif kind == "mps":
        fast = False
    else:
        raise InvalidArgument(f"autocast_dtype knows the devices cpu, cuda and mps; got {kind!r}.")
    if requested == "auto":
        return torch.bfloat16 if fast else None
    if kind == "cuda" and not fast:
        has = ("this GPU has none" if torch.cuda.is_available() else "no CUDA GPU is visible")
        raise InvalidArgument(f"precision 'bf16' on cuda needs a GPU with bf16 support (Ampere or "
                              f"later), and {has}; use 'fp32' or 'auto'.")
    if kind == "mps" and not (torch.backends.mps.is_available() and _mps_runs_bf16()):
        raise InvalidArgument("precision 'bf16' on mps needs macOS 14 or later and a working MPS "
                              "backend; use 'fp32' or 'auto'.")
    return torch.bfloat16


def _mps_runs_bf16() -> bool:
    import torch

    try:
        torch.ones(1, dtype=torch.bfloat16, device="mps")
        return True
    except (RuntimeError, TypeError):
        return False


def _available_devices() -> list[str]:
    import torch

    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if torch.backends.mps.is_available():
        found.append("mps")
    return found


def resolve_device(requested: str = "auto"):
    """The ``torch.device`` to run on: "auto" → cuda if present, else mps, else cpu.

    "cpu", "cuda" and "mps" are taken as asked; asking for a device that is not here raises
    InvalidArgument naming the devices that are.
    """
    import torch

    if not isinstance(requested, str) or requested not in DEVICES:
        raise InvalidArgument(f"device must be one of {', '.join(DEVICES)}; got {requested!r}.")
    found = _available_devices()
    if requested == "auto":
        return torch.device("cuda" if "cuda" in found else "mps" if "mps" in found else "cpu")
    if requested not in found:
        why = {"cuda": "no CUDA GPU is visible to this torch "
                       f"({torch.__version__}; a '+cpu' build has no CUDA)",
               "mps": "the Apple-GPU backend (MPS) is not available (it needs a Mac with "
                      "Apple silicon and macOS 12.3 or later)"}[requested]
        raise InvalidArgument(f"device {requested!r} was asked for, but {why}. Available here: "
                              f"{', '.join(found)}. Use device='auto' to take the best of these.")
    return torch.device(requested)


def _default_thread_candidates(cores: int) -> list[int]:
    """1, 2, 4, ... below ``cores``, and ``cores`` itself: e.g. 6 → [1, 2, 4, 6]."""
    out, n = [], 1
    while n < cores:
        out.append(n)
        n *= 2
    return out + [cores]


def fastest_thread_count(fn, candidates=None, repeats: int = 3) -> int:
    """The torch thread count at which ``fn()`` (e.g. one training step) runs fastest, measured.

    Times ``fn()`` ``repeats`` times at each count of ``candidates`` (default 1, 2, 4, ... up to
    the cores this process may use), in interleaved rounds (1 2 4, 4 2 1, ...) so that all counts
    see the same load, and returns the count with the smallest median wall time. One untimed
    call first absorbs one-off costs (allocation, kernel selection). The previous thread count is
    restored afterwards, also when ``fn`` raises. Measured, not assumed: on a busy 2-core machine
    two threads were once 7–13× slower than one.
    """
    import torch

    if not callable(fn):
        raise InvalidType(f"fn must be a callable taking no arguments (e.g. one training step), "
                          f"got {type(fn).__name__}.")
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise InvalidArgument(f"repeats must be a positive int, got {repeats!r}.")
    if candidates is None:
        candidates = _default_thread_candidates(usable_cores())
    candidates = list(candidates)
    if not candidates or any(isinstance(c, bool) or not isinstance(c, int) or c < 1
                             for c in candidates):
        raise InvalidArgument(f"candidates must be a non-empty list of positive ints (thread "
                              f"counts), got {candidates!r}.")
    candidates = sorted(set(candidates))
    before = torch.get_num_threads()
    times = {c: [] for c in candidates}
    try:
        fn()
        for r in range(repeats):
            for c in candidates if r % 2 == 0 else candidates[::-1]:
                torch.set_num_threads(c)
                t0 = time.perf_counter()
                fn()
                times[c].append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(before)
    return min(candidates, key=lambda c: (statistics.median(times[c]), c))


def describe_hardware(device="auto") -> dict:
    """What a model card should state about the machine a model was trained or timed on.

    Keys: ``cpu`` (model name), ``cpu_capability`` (the kernel set torch picked: "AVX2",
    "AVX512", ...), ``native_bf16``, ``cores_available`` (this process's share),
    ``cores_total``, ``torch_threads``, ``torch``, ``platform``, ``device``, ``gpu`` (the GPU's
    name, or None on the CPU).
    """
    import torch

    if not isinstance(device, (str, torch.device)):
        raise InvalidType(f"device must be a str such as 'auto' or a torch.device, "
                          f"got {type(device).__name__}.")
    dev = resolve_device(device) if isinstance(device, str) else device
    gpu = None
    if dev.type == "cuda":
        gpu = torch.cuda.get_device_name(dev)
    elif dev.type == "mps":
        gpu = "Apple GPU (MPS)"
    return {"cpu": cpu_model_name(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "native_bf16": cpu_has_native_bf16(), "cores_available": usable_cores(),
            "cores_total": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "platform": f"{sys.platform} {platform.machine()}",
            "device": str(dev), "gpu": gpu}
