"""The network ε_θ(x_t, t) as an ONNX file for a browser runtime, and its int8-weight variant.

``export_onnx(net, path, shape)`` writes one graph with two inputs (three for a class-conditional
network) and one output:

    x    float32 (N, C, H, W)   x_t, in the model range
    t    int64   (N,)           paper time indices (1..T, original schedule indices)
    y    int64   (N,)           class-conditional networks only: labels 0..K−1, or K = "no label"
    out  float32 (N, C, H, W)   whatever the network predicts (ε̂, x̂_0 or μ: see the manifest)

N is dynamic, so the page can draw any batch size. The exporter is PyTorch's TorchScript-based one
(``dynamo=False``): it traces one call and needs only the ``onnx`` package. The newer torch.export
path (``dynamo=True``, needs onnxscript too) stops at the U-Net's input check ``t.min() < 0``, which
depends on the data; tracing records the valid path, and the exported file is checked numerically
against PyTorch (``check_onnx``) instead. Export takes about a second for the "mnist" U-Net.

Two ways to 8 bits (measured sizes, times and sample quality in docs/teachers_web.md):

``quantize_weights_int8(src, dst)`` ("int8"): every Conv and Gemm weight stored as int8 with one
scale per output channel (symmetric, q = round(w / s) ∈ [−127, 127], s = max|w| / 127) behind a
``DequantizeLinear`` node, so the runtime computes in float32 with w̃ = s·q. The file shrinks 3.5×
(biases, norms and activations stay float32); the time per step stays that of float32.

``quantize_dynamic_int8(src, dst)`` ("int8-dynamic"): ONNX Runtime's own dynamic quantization
(``onnxruntime.quantization.quantize_dynamic``; needs the Python onnxruntime package): uint8
weights per output channel, and every Conv/MatMul input quantized to uint8 on the fly
(``DynamicQuantizeLinear`` → ``ConvInteger`` / ``MatMulInteger``). Integer arithmetic makes a step
faster in the browser's wasm runtime, and the output less exact than with int8 weights alone.
(Signed int8 weights run about 8× slower than float32 in onnxruntime-web 1.30's wasm build,
unsigned ones faster: hence uint8.)
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import UserError

__all__ = [
    "OPSET",
    "INPUT_NAMES",
    "LABEL_NAME",
    "OUTPUT_NAME",
    "num_classes",
    "input_names",
    "require_onnx",
    "export_onnx",
    "quantize_weights_int8",
    "quantize_dynamic_int8",
    "check_onnx",
]

OPSET = (
    17  # every op the U-Net needs exists there, and onnxruntime-web's wasm build runs all of them
)
INPUT_NAMES = ("x", "t")
LABEL_NAME = "y"  # the third input of a class-conditional network
OUTPUT_NAME = "out"
QUANTIZED_OPS = {"Conv": 1, "Gemm": 1}  # op type → input index of its weight


def require_onnx():
    """The ``onnx`` module, or a clear error saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise UserError("exporting for the browser needs the onnx package: "
                        "pip install -e \".[web]\" (or pip install onnx).") from None
    return onnx


def num_classes(net: nn.Module) -> int:
    """K of a class-conditional network (``net.config.num_classes``), 0 for an unconditional one."""
    return int(getattr(getattr(net, "config", None), "num_classes", 0) or 0)


def input_names(net: nn.Module) -> tuple[str, ...]:
    """The ONNX inputs of ``net``: ("x", "t"), plus "y" for a class-conditional network."""
    return INPUT_NAMES + ((LABEL_NAME,) if num_classes(net) else ())


def export_onnx(net: nn.Module, path, shape, opset: int = OPSET) -> Path:
    """Write ``net`` (called as ``net(x, t)``, or ``net(x, t, y)`` when class-conditional) to
    ``path`` as ONNX with a dynamic batch size.

    shape: one example's shape (C, H, W). The network is traced in eval mode with a batch of 2 at
    t = 1 (any valid t gives the same graph: t only enters the sinusoidal embedding as data) and,
    if conditional, labels [0, K] (one real label, one "no label": both are rows of one table).
    """
    require_onnx()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = net.training
    net.eval()
    x = torch.zeros((2, *shape), dtype=torch.float32)  # (2, C, H, W)
    t = torch.ones(2, dtype=torch.long)
    names = input_names(net)
    args = (x, t, torch.tensor([0, num_classes(net)])) if len(names) == 3 else (x, t)
    batch = {0: "batch"}
    try:
        with warnings.catch_warnings():
            # the tracer warns about the network's Python-side input checks (they become constants)
            # and that this exporter is the older of the two; both are expected here
            warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
            warnings.simplefilter("ignore", category=DeprecationWarning)
            torch.onnx.export(net, args, str(path), input_names=list(names),
                              output_names=[OUTPUT_NAME], opset_version=opset, dynamo=False,
                              dynamic_axes={**{k: batch for k in names}, OUTPUT_NAME: batch},
                              do_constant_folding=True)
    finally:
        net.train(was_training)
    return path


def _int8_per_channel(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 per output channel (axis 0): (q int8 like w, scale float32 [C_out])."""
    flat = w.reshape(w.shape[0], -1).astype(np.float64)
    scale = (np.abs(flat).max(axis=1) / 127.0).astype(np.float32)  # stored as float32: round to it
    scale[scale == 0] = 1.0  # an all-zero channel: any scale represents it exactly
    q = np.clip(np.rint(flat / scale[:, None].astype(np.float64)), -127, 127)
    return q.astype(np.int8).reshape(w.shape), scale


def quantize_weights_int8(src, dst) -> dict:
    """Copy the ONNX model ``src`` to ``dst`` with int8 Conv/Gemm weights (see the module
    docstring).

    Returns {"tensors": number quantized, "float_bytes": bytes of those weights as float32,
    "int8_bytes": bytes as int8 + scales}.
    """
    onnx = require_onnx()
    from onnx import helper, numpy_helper

    model = onnx.load(str(src))
    graph = model.graph
    inits = {init.name: init for init in graph.initializer}
    weight_names = []
    for node in graph.node:
        i = QUANTIZED_OPS.get(node.op_type)
        if i is not None and len(node.input) > i and node.input[i] in inits:
            if node.op_type == "Gemm" and not any(
                a.name == "transB" and a.i == 1 for a in node.attribute
            ):
                continue  # axis 0 is an output channel only for B stored as (N, K), i.e. transB = 1
            if node.input[i] not in weight_names:
                weight_names.append(node.input[i])
    stats = {"tensors": 0, "float_bytes": 0, "int8_bytes": 0}
    new_nodes = []
    for name in weight_names:
        w = numpy_helper.to_array(inits[name])
        if w.dtype != np.float32:
            continue
        q, scale = _int8_per_channel(w)
        graph.initializer.remove(inits[name])
        graph.initializer.extend([
            numpy_helper.from_array(q, f"{name}_int8"),
            numpy_helper.from_array(scale, f"{name}_scale"),
            numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), f"{name}_zero"),
        ])
        # the dequantized tensor takes the weight's old name, so the consuming nodes are unchanged
        new_nodes.append(helper.make_node("DequantizeLinear", [f"{name}_int8", f"{name}_scale",
                                                                f"{name}_zero"], [name], axis=0,
                                          name=f"dequantize_{name}"))
        stats["tensors"] += 1
        stats["float_bytes"] += w.nbytes
        stats["int8_bytes"] += q.nbytes + 5 * scale.size
    # nodes must stay in topological order: the dequantize nodes read only initializers, so first
    old = list(graph.node)
    del graph.node[:]
    graph.node.extend(new_nodes + old)
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return stats


def quantize_dynamic_int8(src, dst) -> None:
    """Write ``src`` with dynamic 8-bit quantization to ``dst`` (see the module docstring)."""
    require_onnx()
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise UserError(
            "the int8-dynamic precision uses ONNX Runtime's quantizer: pip install "
            'onnxruntime (or pip install -e ".[web]"), or export fp32/int8 only.'
        ) from None
    import logging
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)  # the quantizer logs advice about pre-processing on every call
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QUInt8, per_channel=True)
    finally:
        logger.setLevel(level)


def check_onnx(
    path, net: nn.Module, shape, t_values=(1, 500), n: int = 3, seed: int = 0
) -> float | None:
    """max |ONNX Runtime(path) − net| over a random batch at a few t (float32), or None when the
    Python onnxruntime package is not installed. Inputs: x ~ N(0, I) of (n, *shape); labels
    K ("no label"), 0, 1, .. for a class-conditional network."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed))
    k = num_classes(net)
    y = ((torch.arange(n) - 1) % (k + 1),) if k else ()  # the null token first, then 0, 1, ..
    worst = 0.0
    with torch.no_grad():
        for t_val in t_values:
            t = torch.full((n,), int(t_val), dtype=torch.long)
            feeds = dict(zip(input_names(net), (v.numpy() for v in (x, t, *y))))
            got = session.run([OUTPUT_NAME], feeds)[0]
            worst = max(worst, float(np.abs(got - net(x, t, *y).numpy()).max()))
    return worst
