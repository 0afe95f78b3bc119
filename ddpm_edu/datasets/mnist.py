"""MNIST as uint8 tensors, offline first and verified byte for byte.

MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, distributed under CC BY-SA 3.0
(see ``data/README.md``). The four IDX files ship gzip-compressed in the repository's
``data/mnist/``; the loader accepts them compressed (``.gz``) or not.

Where the files are looked for, in order (one file at a time): ``root`` if given (and only there);
else ``$DDPM_EDU_DATA/mnist/``, the repository's ``data/mnist/``, the user cache
``ddpm_edu.datasets.download.user_cache_dir()/mnist/``. A file found nowhere is downloaded from the
public mirrors (:data:`MIRRORS`) into ``root`` or the cache, and checked before it gets its name.

Every file read is checked: IDX magic number, header shape (N × 28 × 28), byte count, and the md5 of
the DECOMPRESSED bytes against the checksums that MNIST loaders publish (:data:`MD5`; the ``.gz``
bytes differ between mirrors, the decompressed ones do not). A damaged file raises
:class:`~ddpm_edu.datasets.download.CorruptFileError` naming the file and the fix; it is never
returned as silent garbage.

Pixels stay uint8 0..255 here; map them to the model range [−1, 1] with
``ddpm_edu.pixels.to_model_range``.
"""
from __future__ import annotations

import gzip
import hashlib
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from . import download as _dl
from ..errors import InvalidArgument

__all__ = ["load_mnist", "SPLITS", "MD5", "MIRRORS"]

# split → (images file, labels file, number of examples); names without ".gz"
SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", 60000),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 10000),
}
# md5 of the decompressed files, as published by public MNIST loaders (e.g. torchvision's list)
MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
# tried in order; each serves "<name>.gz"
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
]

_COUNT = {f: n for images, labels, n in SPLITS.values() for f in (images, labels)}
_IMAGES_MAGIC, _LABELS_MAGIC = 0x00000803, 0x00000801  # IDX: ubyte data, 3 dims / 1 dim
_SIDE = 28
_GZIP_MAGIC = b"\x1f\x8b"


def load_mnist(split: str = "train", root=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The MNIST ``split`` ("train": 60 000 digits, "test": 10 000) as ``(images, labels)``.

    images: uint8 tensor ``(N, 28, 28)``, pixels 0..255 (0 = background, 255 = ink).
    labels: int64 tensor ``(N,)``, digits 0..9.

    ``root``: a folder holding the four files (``.gz`` or not); if given, only that folder is
    searched and missing files are downloaded into it. Otherwise see the module docstring.

    Each file is parsed once per process (cached by path, size and modification time); every call
    returns fresh copies, so changing the returned tensors in place never affects a later call.

    Raises ``ValueError`` for an unknown split, ``CorruptFileError`` for a damaged file,
    ``DownloadError`` when a file is missing and cannot be downloaded (the message lists the folders
    searched, the URLs tried and where to put the file by hand).
    """
    if split not in SPLITS:
        raise InvalidArgument(f"split must be one of {sorted(SPLITS)}, got {split!r}.")
    images_name, labels_name, _ = SPLITS[split]
    images = _load_file(_locate(images_name, root), root)  # (N, 28, 28) uint8
    labels = _load_file(_locate(labels_name, root), root)  # (N,) uint8
    return images.clone(), labels.to(torch.int64)  # .to(int64) copies the uint8 cache


def _locate(name: str, root) -> Path:
    """First existing ``name`` or ``name.gz`` in the search folders; else download ``name.gz``."""
    dirs = _dl.search_dirs("mnist", root)
    for d in dirs:
        for candidate in (d / name, d / f"{name}.gz"):
            if candidate.is_file():
                return candidate
    dest_dir = Path(root).expanduser() if root is not None else _dl.user_cache_dir() / "mnist"

    def check(tmp: Path) -> None:  # the published md5 is of the decompressed bytes
        _parse(_read_bytes(tmp), name)

    return _dl.download([m + f"{name}.gz" for m in MIRRORS], dest_dir / f"{name}.gz",
                        check=check, what="MNIST", looked_in=dirs)


def _load_file(path: Path, root) -> torch.Tensor:
    st = path.stat()
    try:
        return _parse_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)
    except ValueError as e:
        again = (
            f"a fresh copy is then downloaded into {Path(root).expanduser()}"
            if root is not None
            else "the next folder in the search order is used, or a fresh copy is downloaded "
            f"into {_dl.user_cache_dir() / 'mnist'}"
        )
        raise _dl.CorruptFileError(
            path, str(e),
            f"Delete it and run again ({again}), or replace it with an intact copy, e.g. from the "
            "course repository's data/mnist/ (git checkout -- data/mnist).") from None


@lru_cache(maxsize=8)
def _parse_cached(path: str, size: int, mtime_ns: int) -> torch.Tensor:
    """Parse once per (file, size, mtime): a replaced or edited file is read again."""
    name = Path(path).name.removesuffix(".gz")
    return _parse(_read_bytes(Path(path)), name)


def _read_bytes(path: Path) -> bytes:
    """The file's IDX bytes, decompressed if it is gzip (detected by content, not by name)."""
    data = path.read_bytes()
    if data[:2] != _GZIP_MAGIC:
        return data
    try:
        return gzip.decompress(data)
    except (
        OSError,
        EOFError,
        zlib.error,
    ) as e:  # BadGzipFile is an OSError; truncation is EOFError
        raise InvalidArgument(f"not a valid gzip file ({e})") from None


def _parse(raw: bytes, name: str) -> torch.Tensor:
    """Check IDX bytes of the MNIST file ``name`` and return them as a uint8 tensor.

    images → ``(N, 28, 28)``; labels → ``(N,)``. Raises ValueError saying what is wrong.
    """
    is_images = "images" in name
    n_expected = _COUNT[name]
    header = 16 if is_images else 8
    if len(raw) < header:
        raise InvalidArgument(f"only {len(raw)} bytes, shorter than the {header}-byte IDX header "
                         "(truncated)")
    magic = int.from_bytes(raw[:4], "big")
    want = _IMAGES_MAGIC if is_images else _LABELS_MAGIC
    if magic != want:
        other = {_IMAGES_MAGIC: "an IDX images file", _LABELS_MAGIC: "an IDX labels file"}
        seen = other.get(magic, "not an IDX file of unsigned bytes")
        raise InvalidArgument(f"magic number 0x{magic:08x}, expected 0x{want:08x}: this is {seen}, "
                         f"not {name} (files swapped or renamed?)")
    dims = [int.from_bytes(raw[i:i + 4], "big") for i in range(4, header, 4)]
    shape = (n_expected, _SIDE, _SIDE) if is_images else (n_expected,)
    if tuple(dims) != shape:
        raise InvalidArgument(f"IDX header gives shape {tuple(dims)}, expected {shape} for {name}")
    size = header + int(np.prod(shape))
    if len(raw) != size:
        what = "truncated" if len(raw) < size else "extra bytes at the end"
        raise InvalidArgument(f"{len(raw)} bytes after decompression, expected {size} ({what})")
    md5 = hashlib.md5(raw).hexdigest()
    if md5 != MD5[name]:
        raise InvalidArgument(f"md5 of the decompressed bytes is {md5}, expected the published "
                         f"{MD5[name]} (the content was altered)")
    # frombuffer views immutable bytes; copy once into memory the tensor owns
    return torch.from_numpy(np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy())
