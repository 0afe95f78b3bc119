"""The browser runtime the page uses: ONNX Runtime Web (wasm build), vendored beside this file.

Three files of the npm package ``onnxruntime-web`` (``npm pack onnxruntime-web@1.30.0``, ``dist/``):
the ES-module bundle (the JavaScript API plus the wasm loader), the WebAssembly binary (SIMD;
multi-threaded when the page is cross-origin isolated, single-threaded otherwise) and the
stand-alone loader, which the bundle fetches instead of its own copy when it was loaded from
another origin (the CDN).
:func:`copy_runtime` puts them in ``<site>/ort/``; the page loads them from there and, when they
are missing, from the public CDN below (same version).
"""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

__all__ = [
    "NAME",
    "VERSION",
    "FILES",
    "CDN_BASE",
    "ENTRY",
    "SITE_FOLDER",
    "vendored_dir",
    "missing_files",
    "copy_runtime",
]

NAME = "onnxruntime-web"
VERSION = "1.30.0"
ENTRY = "ort.wasm.bundle.min.mjs"  # the module the page imports
# file → SHA-256, as extracted from the npm tarball (npm integrity sha512-q0y+JrrtukXS…)
FILES = {
    ENTRY: "11e64bd8ffe11bd1a2a2f0d6275fdfbbba7262f0b76b99b53d228a8a22ef3d90",
    "ort-wasm-simd-threaded.wasm":
        "3398c10d07d229bd91b364548e130e0e51a8e5704b88c7c083ebbeb78842dee2",
    "ort-wasm-simd-threaded.mjs":
        "e13f7f94fc51b4ca72b12faeb1ee95f4ace6dfbc8939bc718aabdc0a27c4299b",
}
LICENSE_FILES = ("LICENSE", "README.md")
CDN_BASE = f"https://cdn.jsdelivr.net/npm/{NAME}@{VERSION}/dist/"
SITE_FOLDER = "ort"


def vendored_dir() -> Path:
    """Where the runtime's files ship inside the package."""
    return Path(__file__).resolve().parent / "vendor" / NAME


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def missing_files(folder: Path | None = None) -> list[str]:
    """Runtime files absent from ``folder`` (default: the vendored copy), or whose checksum
    differs."""
    folder = Path(folder) if folder is not None else vendored_dir()
    bad = []
    for name, digest in FILES.items():
        f = folder / name
        if not f.is_file() or _sha256(f) != digest:
            bad.append(name)
    return bad


def copy_runtime(site_dir) -> Path:
    """Copy the runtime (and its licence) to ``site_dir/ort/``; verified by SHA-256. Returns that
    folder."""
    from ..errors import UserError
    src = vendored_dir()
    bad = missing_files(src)
    if bad:
        raise UserError(
            f"the vendored {NAME} {VERSION} files {bad} are missing or damaged in {src}; "
            f"restore them with `git checkout {src}`, or export with --runtime cdn (the "
            f"page then loads the runtime from {CDN_BASE}, which needs internet)."
        )
    dest = Path(site_dir) / SITE_FOLDER
    dest.mkdir(parents=True, exist_ok=True)
    for name in (*FILES, *LICENSE_FILES):
        shutil.copyfile(src / name, dest / name)
    return dest
