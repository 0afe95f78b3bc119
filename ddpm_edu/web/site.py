"""``export_site``: a trained model as a static web page that samples in the browser.

The folder it writes::

    index.html, app.js, sampler.js    the page (copied unchanged from ddpm_edu/web/)
    train.html, train.js              the training page (2-D points, TensorFlow.js; see .toy)
    manifest.json                     what the page needs to know (see :func:`build_manifest`)
    model-fp32.onnx, model-int8.onnx, model-int8-dynamic.onnx
                                      the network (see :mod:`ddpm_edu.web.onnx_export`)
    ort/                              ONNX Runtime Web (wasm), unless runtime="cdn"
    tfjs/                             TensorFlow.js (the training page), unless runtime="cdn"

Any static web server can serve it (``ddpm-edu serve DIR``); browsers do not run ES modules or
``fetch`` from ``file://`` pages, so double-clicking index.html is not enough.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import UserError
from . import runtime, toy
from .onnx_export import (OUTPUT_NAME, check_onnx, export_onnx, input_names, num_classes,
                          quantize_dynamic_int8, quantize_weights_int8)

__all__ = ["FORMAT", "PAGE_FILES", "PRECISIONS", "ExportResult", "build_manifest", "export_site"]

FORMAT = "ddpm_edu.web.v1"
PAGE_FILES = ("index.html", "app.js", "sampler.js", "train.html", "train.js")
PRECISIONS = ("fp32", "int8", "int8-dynamic")
MODEL_FILES = {p: f"model-{p}.onnx" for p in PRECISIONS}
RUNTIMES = ("copy", "cdn")
SIZES = (1, 4, 9, 16, 25, 36, 64)  # the page's batch choices


@dataclass
class ExportResult:
    """What :func:`export_site` wrote. ``onnx_error``: max |ONNX Runtime − PyTorch| of the fp32 file
    on random inputs (None without the Python onnxruntime package)."""

    out_dir: Path
    manifest: dict
    files: dict = field(default_factory=dict)  # relative path → bytes
    onnx_error: float | None = None
    int8: dict | None = None  # quantize_weights_int8's stats

    def summary(self) -> str:
        total = sum(self.files.values())
        lines = [f"wrote {self.out_dir}: {len(self.files)} files, {total / 1e6:.1f} MB"]
        for name, spec in self.manifest["models"].items():
            lines.append(f"  {spec['file']}: {spec['bytes'] / 1e6:.2f} MB ({name} weights)")
        if self.onnx_error is not None:
            lines.append(f"  ONNX Runtime vs PyTorch (fp32, random inputs): max |difference| = "
                         f"{self.onnx_error:.1e}")
        rt = self.manifest["runtime"]
        lines.append(
            f"  runtime: {rt['name']} {rt['version']} "
            + ("in ort/ (works offline)" if rt["local"] else f"from {rt['cdn']} (needs internet)")
        )
        return "\n".join(lines)


def _check_model(model) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in model.shape)
    if len(shape) != 3:
        raise UserError(f"the web page draws images, but this model makes {shape}-shaped examples "
                        "(a 2-D point model?); export an image model such as the mnist one.")
    if not torch.equal(model.schedule.timesteps, torch.arange(model.schedule.T + 1)):
        raise UserError("this model's schedule is respaced; export the model with its training "
                        "schedule (the page respaces it itself).")
    return shape


def build_manifest(model, name: str, models: dict, runtime_mode: str = "copy", steps: int = 50,
                   n: int = 16, title: str | None = None) -> dict:
    """The manifest the page reads: model files, image shape, schedule, normalisation, defaults.

    ``schedule.alpha_bar`` is ᾱ_t for t = 0..T (float64, written as the shortest decimal that reads
    back to the same float64, in Python and JavaScript alike); the page derives every other
    coefficient from it. ``conditional`` is None for an unconditional model, else {num_classes K,
    null_label K (the "no label" token), default_guidance w, default_label}: the page then offers a
    digit picker and a guidance control (see :func:`ddpm_edu.chain.guided_model`).
    """
    shape = _check_model(model)
    names = input_names(model.net)
    T = model.schedule.T
    from .. import __version__
    return {
        "format": FORMAT,
        "title": title or f"Diffusion in your browser: {name}",
        "checkpoint": name,
        "training_step": model.step,
        "exported_by": f"ddpm_edu {__version__}",
        "models": models,
        "default_model": "fp32" if "fp32" in models else next(iter(models)),
        "onnx": {
            "inputs": list(names),
            "output": OUTPUT_NAME,
            "input_dtypes": {"x": "float32", **{k: "int64" for k in names[1:]}},
        },
        "conditional": _conditional(model),
        "image": {"shape": list(shape)},
        "normalisation": {
            "model_range": [-1.0, 1.0],
            "from_pixel": "x = k / 127.5 - 1",
            "to_pixel": "k = round((x + 1) * 127.5), clipped to 0..255",
        },
        "mean_type": str(getattr(model.mean_type, "value", model.mean_type)),
        "var_type": str(getattr(model.var_type, "value", model.var_type)),
        "clip_x0": True,
        "schedule": {
            "T": T,
            "config": model.schedule.to_config(),
            "alpha_bar": [float(v) for v in model.schedule.alpha_bar.tolist()],
        },
        "sampler_defaults": {
            "sampler": "ddim",
            "steps": int(steps),
            "eta": 0.0,
            "seed": 0,
            "n": int(n),
            "spacing": "linspace",
        },
        "toy": toy.toy_manifest(runtime_mode),
        "runtime": {
            "name": runtime.NAME,
            "version": runtime.VERSION,
            "entry": runtime.ENTRY,
            "local": f"{runtime.SITE_FOLDER}/{runtime.ENTRY}" if runtime_mode == "copy" else None,
            "cdn": runtime.CDN_BASE,
        },
    }


def _conditional(model) -> dict | None:
    k = num_classes(model.net)
    if not k:
        return None
    return {"num_classes": k, "null_label": k, "default_label": min(7, k - 1),
            "default_guidance": float(model.default_guidance), "guidance_max": 5.0}


def _prepare_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir} is a file; give a folder for the web page.")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / "manifest.json").is_file():
        raise UserError(f"{out_dir} is not empty and holds no earlier export (no manifest.json); "
                        "give a new or empty folder so no file of yours is overwritten.")
    out_dir.mkdir(parents=True, exist_ok=True)


def _check_export_args(precisions, runtime_mode, steps, n) -> tuple:
    """:func:`export_site`'s settings, checked; returns the precisions without repeats."""
    precisions = tuple(dict.fromkeys(precisions))
    bad = [p for p in precisions if p not in PRECISIONS]
    if bad or not precisions:
        raise UserError(
            f"precision must be one or more of {', '.join(PRECISIONS)}, got {list(precisions)}."
        )
    if runtime_mode not in RUNTIMES:
        raise UserError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime_mode!r}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise UserError(f"steps must be a positive int, got {steps!r}.")
    if n not in SIZES:
        raise UserError(
            f"n (images per run) must be one of {', '.join(map(str, SIZES))}, got {n!r}."
        )
    return precisions


def export_site(model, out_dir, name: str | None = None, precisions=PRECISIONS, runtime_mode="copy",
                steps: int = 50, n: int = 16, title: str | None = None) -> ExportResult:
    """Write the web page for ``model`` (a :class:`ddpm_edu.pretrained.PretrainedModel`, or a name
    or path that :func:`ddpm_edu.load_pretrained` accepts) into ``out_dir``.

    precisions: any of "fp32", "int8" (int8 weights) and "int8-dynamic" (8-bit weights and
    activations), see :mod:`ddpm_edu.web.onnx_export`; the page offers each.
    runtime_mode: "copy" puts ONNX Runtime Web in ``ort/`` (works offline; 14.3 MB), "cdn" leaves
    it out (the page loads it from the CDN). steps, n: the page's initial steps and number of
    images.
    """
    from ..pretrained import load_pretrained

    precisions = _check_export_args(precisions, runtime_mode, steps, n)
    if isinstance(model, (str, Path)):
        model = load_pretrained(model)
    if name is None:  # runs/NAME/model.safetensors → NAME; mnist.safetensors → mnist
        path = Path(model.path)
        name = path.parent.name if path.stem == "model" else path.stem
    shape = _check_model(model)
    if steps > model.schedule.T:
        raise UserError(
            f"steps must be at most T = {model.schedule.T} for this model, got {steps}."
        )
    out_dir = Path(out_dir)
    _prepare_out_dir(out_dir)

    result = ExportResult(out_dir, {})
    fp32 = export_onnx(model.net, out_dir / MODEL_FILES["fp32"], shape)
    result.onnx_error = check_onnx(fp32, model.net, shape)
    if "int8" in precisions:
        result.int8 = quantize_weights_int8(fp32, out_dir / MODEL_FILES["int8"])
    if "int8-dynamic" in precisions:
        quantize_dynamic_int8(fp32, out_dir / MODEL_FILES["int8-dynamic"])
    if "fp32" not in precisions:
        fp32.unlink()
    for stale in (p for p in PRECISIONS if p not in precisions):
        (out_dir / MODEL_FILES[stale]).unlink(missing_ok=True)
    models = {p: {"file": MODEL_FILES[p], "bytes": (out_dir / MODEL_FILES[p]).stat().st_size}
              for p in precisions}

    here = Path(__file__).resolve().parent
    for page_file in PAGE_FILES:
        shutil.copyfile(here / page_file, out_dir / page_file)
    if runtime_mode == "copy":
        runtime.copy_runtime(out_dir)
        toy.copy_tfjs(out_dir)
    else:
        shutil.rmtree(out_dir / runtime.SITE_FOLDER, ignore_errors=True)
        shutil.rmtree(out_dir / toy.TFJS_FOLDER, ignore_errors=True)
    manifest = build_manifest(model, name, models, runtime_mode, steps, n, title)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    result.manifest = manifest
    result.files = {str(p.relative_to(out_dir)): p.stat().st_size
                    for p in sorted(out_dir.rglob("*")) if p.is_file()}
    return result
