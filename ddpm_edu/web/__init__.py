"""The trained model in a web page: sampling runs in the browser, on the student's own device.

    from ddpm_edu.web import export_site
    export_site("mnist", "site/")        # or: ddpm-edu export-web --checkpoint mnist --out site
    # then: ddpm-edu serve site          → http://127.0.0.1:8000/

Modules: :mod:`.onnx_export` (the network → ONNX, int8 weights), :mod:`.site` (the folder: page,
manifest, models, runtime), :mod:`.runtime` (the vendored ONNX Runtime Web), :mod:`.noise` (noise
files that make the page and PyTorch draw the same chain), :mod:`.server` (a local web server),
:mod:`.compare` (sample quality of the fp32 and 8-bit versions, by the digit classifier),
:mod:`.browser` (ms per step of each version in headless Chromium).
The page itself is ``index.html`` + ``app.js`` (UI, ONNX Runtime calls, drawing) + ``sampler.js``
(DDIM and DDPM updates from the manifest's ᾱ table) beside this file. See docs/teachers_web.md.
"""
from __future__ import annotations

from .noise import read_noise_file, torch_noise, write_noise_file
from .site import ExportResult, build_manifest, export_site

__all__ = ["export_site", "build_manifest", "ExportResult", "write_noise_file", "read_noise_file",
           "torch_noise"]
