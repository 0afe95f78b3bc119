"""The training page (``train.html``): a small diffusion model on 2-D points, trained in-browser.

The page trains the course's ε-MLP (:mod:`ddpm_edu.nets.mlp`, the "toy2d" design: residual blocks
with LayerNorm, the sinusoidal time embedding added in every block) with TensorFlow.js, on chapter
5's short chain (linear β from 2e-3 to 0.4, T = 50), and samples it with sampler.js's DDPM and
DDIM updates (x̂_0 not clipped: these are points, not pixels). Everything it needs to know is the
``toy`` section of the site's manifest.json (:func:`toy_manifest`). A network trained in PyTorch
runs in the page too: :func:`weights_json` writes its weights in the page's format
(``train.html?weights=FILE``), which is how the browser test checks the page against the library.

TensorFlow.js itself is vendored beside this file (``vendor/tfjs``: the browser bundle of
``@tensorflow/tfjs`` and the WebAssembly backend ``@tensorflow/tfjs-backend-wasm``, 2.0 MB; see its
README): :func:`copy_tfjs` puts it in the site's ``tfjs/`` folder.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..errors import InvalidArgument, UserError

__all__ = ["TFJS_VERSION", "TFJS_FILES", "TFJS_CDN", "TFJS_FOLDER", "TOY_SCHEDULE", "TOY_TRAIN",
           "OFF_RADIUS", "toy_network", "toy_manifest", "weights_json", "write_weights",
           "copy_tfjs"]

TFJS_NAME = "@tensorflow/tfjs"
TFJS_VERSION = "4.22.0"
# file → SHA-256; tf.min.js from @tensorflow/tfjs, the other two from @tensorflow/tfjs-backend-wasm
TFJS_FILES = {
    "tf.min.js": "300dfae273d20b4046f46a06d735688f03675a807561e9bcb5f664eb2f3d2831",
    "tf-backend-wasm.min.js": "691bbec0ef8b5a7f17f212e9c5d85832030f90d030b46e99acb4dea1fb16f009",
    "tfjs-backend-wasm-simd.wasm":
        "77ebb28a6d34f371dbbf2086b7f2de8994acd8ea5a3cf1fa24d2c26c840cac7b",
}
_CDN = "https://cdn.jsdelivr.net/npm/@tensorflow/"
TFJS_CDN = {"tf.min.js": f"{_CDN}tfjs@{TFJS_VERSION}/dist/",
            "tf-backend-wasm.min.js": f"{_CDN}tfjs-backend-wasm@{TFJS_VERSION}/dist/",
            "tfjs-backend-wasm-simd.wasm": f"{_CDN}tfjs-backend-wasm@{TFJS_VERSION}/dist/"}
TFJS_FOLDER = "tfjs"

# chapter 5's toy chain: DDPM's linear β scaled up 20-fold, T = 50 (ᾱ_T ≈ 4e-5)
TOY_SCHEDULE = {"kind": "linear", "T": 50, "beta_start": 2e-3, "beta_end": 0.4}
# the page's training settings (chapter 5: batch 1024, lr 3e-3, 15 warm-up steps, EMA 0.995; the
# page takes half the batch: a laptop runs it on one thread)
TOY_TRAIN = {"batch_size": 512, "lr": 3e-3, "warmup_steps": 15, "grad_clip": 1.0,
             "ema_decay": 0.995, "sample_every": 250, "n_samples": 500, "n_data": 4000}
OFF_RADIUS = 0.1  # chapter 5: a sample is "off the data" farther than this from every data point
TOY_NETWORK = {"hidden": 64, "num_blocks": 3, "time_embed_dim": 32}  # "toy2d" at half the width


def toy_network(**overrides) -> dict:
    """The page's network: the "toy2d" ε-MLP config (:func:`ddpm_edu.nets.architecture`) at half
    its width (64 instead of 128: a quarter of the arithmetic, see docs/teachers_web.md)."""
    from ..nets import architecture
    cfg = {**architecture("toy2d"), **TOY_NETWORK, **overrides}
    unknown = set(cfg) - set(architecture("toy2d"))
    if unknown:
        raise InvalidArgument(f"unknown MLP settings {sorted(unknown)}; the toy network takes "
                              f"{sorted(architecture('toy2d'))}.")
    return cfg


def toy_manifest(runtime_mode: str = "copy") -> dict:
    """The ``toy`` section of manifest.json: schedule (with ᾱ_0..ᾱ_T, as the image page's),
    network config, training settings, sampler defaults, the off-the-data radius, TensorFlow.js."""
    from ..schedules import schedule_from_config
    schedule = schedule_from_config(TOY_SCHEDULE)
    return {
        "page": "train.html",
        "schedule": {"T": schedule.T, "config": schedule.to_config(),
                     "alpha_bar": [float(v) for v in schedule.alpha_bar.tolist()]},
        "network": toy_network(),
        "mean_type": "eps",
        "var_type": "fixed_small",
        "clip_x0": False,
        "train": dict(TOY_TRAIN),
        "sampler_defaults": {"sampler": "ddpm", "ddim_steps": 10, "seed": 1},
        "off_radius": OFF_RADIUS,
        "presets": ["moons", "rings", "spiral"],
        "tfjs": {"name": TFJS_NAME, "version": TFJS_VERSION, "files": list(TFJS_FILES),
                 "local": f"{TFJS_FOLDER}/" if runtime_mode == "copy" else None,
                 "cdn": dict(TFJS_CDN)},
    }


def weights_json(net) -> dict:
    """An :class:`~ddpm_edu.nets.mlp.MLP`'s weights in the page's format: {"network": config,
    "tensors": {state-dict name: {"shape", "data"}}} (float32 values as JSON numbers)."""
    from ..nets import network_config
    config = network_config(net)
    if config.get("kind") != "mlp" or config.get("dim") != 2 or config.get("num_classes"):
        raise InvalidArgument(f"the training page runs unconditional 2-D MLPs (kind 'mlp', dim 2), "
                              f"got {config}.")
    return {"network": config,
            "tensors": {k: {"shape": list(v.shape), "data": v.detach().float().flatten().tolist()}
                        for k, v in net.state_dict().items()}}


def write_weights(net, path) -> Path:
    """:func:`weights_json` as a file (load it with ``train.html?weights=FILE``)."""
    path = Path(path)
    path.write_text(json.dumps(weights_json(net)), encoding="utf-8")
    return path


def copy_tfjs(site_dir) -> Path:
    """Copy TensorFlow.js (checked by SHA-256) and its README to ``site_dir/tfjs/``."""
    from .runtime import _sha256
    src = Path(__file__).resolve().parent / "vendor" / "tfjs"
    bad = [f for f, digest in TFJS_FILES.items()
           if not (src / f).is_file() or _sha256(src / f) != digest]
    if bad:
        raise UserError(f"the vendored TensorFlow.js files {bad} are missing or damaged in {src}; "
                        f"restore them with `git checkout {src}`, or export with --runtime cdn "
                        "(the training page then loads it from cdn.jsdelivr.net, which needs "
                        "internet).")
    dest = Path(site_dir) / TFJS_FOLDER
    dest.mkdir(parents=True, exist_ok=True)
    for name in (*TFJS_FILES, "README.md"):
        shutil.copyfile(src / name, dest / name)
    return dest
