"""Does 8-bit quantization hurt the samples? The model versions of an exported page, side by side.

Each ONNX file of the site (fp32, int8, int8-dynamic) drives the library's DDIM sampler
(:func:`ddpm_edu.sampling.sample`) from the same noise, through the Python onnxruntime package
(the same graph and kernels as the page's wasm runtime; the browser test shows the page equals
PyTorch to ~1e-4). The samples are judged by the project's digit classifier
(:func:`ddpm_edu.quality.sample_quality`), and each 8-bit version is compared with fp32 image by
image: how often the classifier gives it the same digit, and how far its pixels move. For a
class-conditional site (manifest ``conditional``, e.g. "mnist-cond") the digits are requested, an
equal number of each class, with the manifest's default guidance (or ``guidance``), and the quality
is :func:`ddpm_edu.quality.conditional_quality`: the share drawn as the requested digit first.

    ddpm-edu compare-web site --n 1000 --steps 50     (or: python -m ddpm_edu.web.compare ...)
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from ..errors import MissingFile, UserError

__all__ = ["onnx_model", "compare_precisions"]


class _OnnxModel:
    """``model(x_t, t)`` or ``model(x_t, t, y)`` (torch tensors) on an ONNX Runtime session."""

    def __init__(self, session, num_classes: int):
        self.session, self.num_classes = session, num_classes
        self.names = [i.name for i in session.get_inputs()]

    def __call__(self, x: torch.Tensor, t: torch.Tensor, y=None) -> torch.Tensor:
        if self.num_classes and y is None:
            y = torch.full_like(t, self.num_classes)  # no label
        feeds = [x.detach().float().numpy(), t.long().numpy()]
        if y is not None:
            feeds.append(y.long().numpy())
        return torch.from_numpy(self.session.run(["out"], dict(zip(self.names, feeds)))[0])


def onnx_model(path, threads: int = 1, num_classes: int = 0):
    """``model(x_t, t) -> output`` (torch tensors, float32) running the ONNX file ``path``; with
    ``num_classes`` K > 0 (a class-conditional network) ``model(x_t, t, y)``, y = K: no label."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise UserError("comparing model versions needs the Python onnxruntime package: "
                        "pip install -e \".[web]\".") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return _OnnxModel(session, num_classes)


# 61 lines: one straight sequence (read the manifest, then sample and judge each exported version).
def compare_precisions(
    site_dir,
    n: int = 1000,
    steps: int = 50,
    seed: int = 0,
    batch_size: int = 250,
    classifier=None,
    threads: int = 1,
    guidance: float | None = None,
) -> dict:
    """Sample ``n`` images with each model version of ``site_dir`` (DDIM, η = 0, ``steps`` steps,
    the same x_T from ``seed``) and judge them. Returns a JSON-able dict per version: file bytes,
    seconds of sampling, the :class:`~ddpm_edu.quality.QualityReport` as a dict, and for the 8-bit
    versions ``same_digit_as_fp32`` (share of images classified as the same digit as the fp32
    image from the same noise) and ``pixel_diff`` (mean and max |Δ| in 0..255 pixel units).
    A class-conditional site: labels 0, 1, .., 9, 0, .. and guidance w (default: the manifest's),
    judged by ``conditional_quality`` (its ``accuracy``: the share drawn as the requested digit)."""
    from ..pixels import to_pixels
    from ..quality import classifier_outputs, conditional_quality, sample_quality
    from ..sampling import sample
    from ..schedules import schedule_from_config

    site_dir = Path(site_dir)
    manifest_file = site_dir / "manifest.json"
    if not manifest_file.is_file():
        raise MissingFile(f"{site_dir} has no manifest.json; export a page first: "
                                f"ddpm-edu export-web --checkpoint mnist --out {site_dir}")
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        schedule = schedule_from_config(manifest["schedule"]["config"])
        shape = tuple(manifest["image"]["shape"])
        cond = manifest.get("conditional") or {}
        k = int(cond.get("num_classes", 0))
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{manifest_file} is not a manifest written by ddpm-edu export-web "
                        f"({type(e).__name__}: {e}); export the page again.") from None
    requested = torch.arange(n) % k if k else None
    w = (float(cond["default_guidance"]) if guidance is None else guidance) if k else 0.0
    report, fp32 = {}, None
    for name, spec in manifest["models"].items():
        model = onnx_model(site_dir / spec["file"], threads, k)
        start = time.perf_counter()
        x = sample(model, schedule, n, shape, sampler="ddim", steps=steps, eta=0.0, seed=seed,
                   batch_size=batch_size, mean_type=manifest["mean_type"], progress=False,
                   labels=requested, guidance=w)
        seconds = time.perf_counter() - start
        quality = (conditional_quality(x, requested, classifier) if k
                   else sample_quality(x, classifier))
        entry = {"bytes": spec["bytes"], "seconds": seconds, "quality": quality.to_dict()}
        labels = classifier_outputs(x, classifier)[0].argmax(1)
        pixels = to_pixels(x).float()
        if fp32 is None and name == "fp32":
            fp32 = (labels, pixels)
        elif fp32 is not None:
            diff = (pixels - fp32[1]).abs()
            entry["same_digit_as_fp32"] = float((labels == fp32[0]).double().mean())
            entry["pixel_diff"] = {"mean": float(diff.mean()), "max": float(diff.max())}
        report[name] = entry
    return {"n": n, "steps": steps, "seed": seed, "sampler": "ddim", "eta": 0.0,
            **({"guidance": w, "labels": f"0..{k - 1} in turn"} if k else {}),
            "versions": report}


if __name__ == "__main__":  # the command line lives in ddpm_edu/commands/compare_web.py
    import sys

    from ddpm_edu.cli import main

    raise SystemExit(main(["compare-web", *sys.argv[1:]]))
