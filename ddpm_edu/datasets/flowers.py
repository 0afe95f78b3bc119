"""Oxford Flowers 102 as uint8 tensors (N, 3, S, S), S = 64 (or 32), with the course's split.

The dataset is by Maria-Elena Nilsback and Andrew Zisserman (Visual Geometry Group, Oxford; ICVGIP
2008): 8,189 photographs of flowers of 102 kinds, published as one archive, ``102flowers.tgz``
(about 330 MB; images ``jpg/image_00001.jpg`` … ``jpg/image_08189.jpg``). It is not shipped with
the course: the first call downloads it (with checksums) and decodes it once.

Where the archive is looked for: ``root`` if given (only there); otherwise
``$DDPM_EDU_DATA/flowers102/``, the repository's ``data/flowers102/``, then the user cache
``user_cache_dir()/flowers102/``. If it is found nowhere it is downloaded into ``root`` or the
user cache (``ddpm_edu.datasets.download``), verified against the published md5 (the one
torchvision pins) and SHA-256, and only then kept. Offline, the error names the URL and the folder
to put the archive in.

Processing (the "seed" split of the course, fixed forever):
1. every ``jpg/image_NNNNN.jpg`` of the archive, in name order (the count must be 8,189);
2. each photo resized with Pillow so its shorter side is S pixels (bicubic, after JPEG draft
   decoding at a reduced scale ≥ 2 S), then centre-cropped to S × S;
3. the images ordered by SHA-256 of ``"<seed>:<file name>"`` (a shuffle with a fixed seed that
   does not depend on any library's random generator); the first 80 % (floor) are "train", the
   rest "validation".
The decoded array of all images (name order) is cached as one ``.npy`` in the user cache, so later
loads take a fraction of a second.
"""
from __future__ import annotations

import hashlib
import io
import re
import tarfile
import zlib
from pathlib import Path

import numpy as np
import torch

from . import download as _dl
from .download import CorruptFileError, DownloadError
from ..errors import InvalidArgument

__all__ = ["load_flowers", "split_order", "FlowersNotAvailable", "URL", "ARCHIVE", "MD5", "SHA256",
           "N_IMAGES", "SPLITS"]

NAME = "flowers102"                     # folder name under the data / cache folders
URL = "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/102flowers.tgz"
ARCHIVE = "102flowers.tgz"
MD5 = "52808999861908f626f3c1f4e79d11fa"  # as pinned by torchvision.datasets.Flowers102
SHA256 = "2d01ecc807db462958cfe3d92f57a8c252b4abd240eb955770201e45f783b246"
N_IMAGES = 8189
SPLITS = ("train", "validation", "all")
TRAIN_FRACTION = 0.8
SPLIT_SEED = 0
PROCESSING = "v1"  # bump when the resize/crop changes, so that old decoded caches are not used
_MEMBER = re.compile(r"^(?:\./)?jpg/(image_(\d{5})\.jpg)$")


class FlowersNotAvailable(DownloadError):
    """The archive is in none of the folders and could not be downloaded (e.g. offline).

    The first line of the message says where to get the archive and where to put it.
    """

    def _message(self) -> str:
        return (f"Oxford Flowers 102 is not available: download {URL} (about 330 MB) and put "
                f"{ARCHIVE} into {self.folder}, then run again.\n" + super()._message())


def split_order(names, seed: int = SPLIT_SEED) -> list[int]:
    """Indices into ``names`` in shuffled order: sorted by SHA-256 of ``f"{seed}:{name}"``."""
    keys = [hashlib.sha256(f"{seed}:{n}".encode()).hexdigest() for n in names]
    return sorted(range(len(names)), key=keys.__getitem__)


def _check_args(split, size):
    if split not in SPLITS:
        raise InvalidArgument(f"split must be one of {', '.join(SPLITS)}, got {split!r}.")
    if isinstance(size, bool) or not isinstance(size, int) or not 8 <= size <= 512:
        raise InvalidArgument(
            f"size must be an int number of pixels between 8 and 512 (the course uses "
            f"64, or 32 for speed), got {size!r}."
        )


def _verify(path: Path, md5, sha256) -> None:
    for algo, want in (("md5", md5), ("sha256", sha256)):
        if want and _dl.file_digest(path, algo) != want.lower():
            raise CorruptFileError(path, f"its {algo} is not the published {want}",
                                   f"Delete it and run again to download it afresh from {URL}.")


def _find_archive(root, download: bool, progress: bool, md5, sha256) -> Path:
    dirs = _dl.search_dirs(NAME, root)
    for d in dirs:
        path = d / ARCHIVE
        if path.is_file():
            _verify(path, md5, sha256)
            return path
    dest = (Path(root).expanduser() if root is not None else _dl.user_cache_dir() / NAME) / ARCHIVE
    what = "Oxford Flowers 102 archive"
    if not download:
        raise FlowersNotAvailable(
            ARCHIVE, [(URL, "not tried: download=False")], dest.parent, dirs, what
        )
    try:
        return _dl.download(URL, dest, md5=md5, sha256=sha256, progress=progress, what=what,
                            looked_in=dirs)
    except FlowersNotAvailable:
        raise
    except DownloadError as e:
        raise FlowersNotAvailable(e.filename, e.attempts, e.folder, e.looked_in, e.what) from None


def _square(data: bytes, size: int) -> np.ndarray:
    """JPEG bytes → uint8 (3, size, size): shorter side to ``size``, then the centre crop."""
    from PIL import Image
    with Image.open(io.BytesIO(data)) as img:
        w, h = img.size  # the geometry follows the original size, whatever the draft scale
        img.draft(
            "RGB", (2 * size, 2 * size)
        )  # decode at 1/2, 1/4 or 1/8 scale when that is ≥ 2·size
        img = img.convert("RGB")
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        img = img.resize((nw, nh), Image.Resampling.BICUBIC)
        left, top = (nw - size) // 2, (nh - size) // 2
        img = img.crop((left, top, left + size, top + size))
        return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)  # (3, S, S)


def _decode(archive: Path, size: int, expected_count: int, progress: bool) -> np.ndarray:
    """All images of the archive in name order, uint8 (N, 3, S, S)."""
    try:
        import PIL  # noqa: F401  (Pillow decodes the JPEGs; it comes with the "viz" extra)
    except ImportError:
        raise ImportError("decoding Oxford Flowers 102 needs Pillow: pip install 'ddpm-edu[viz]' "
                          "(or pip install pillow).") from None
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=expected_count, desc=f"decoding Flowers 102 at {size} px", unit="img")
    found: dict[str, np.ndarray] = {}
    try:
        with tarfile.open(archive, "r|gz") as tar:  # one streaming pass, no seeking
            for member in tar:
                m = _MEMBER.match(member.name)
                if not (m and member.isfile()):
                    continue
                data = tar.extractfile(member).read()
                try:
                    found[m.group(1)] = _square(data, size)
                except Exception as e:  # PIL raises several types for a broken JPEG
                    raise CorruptFileError(
                        archive,
                        f"{member.name} is not a readable JPEG ({e})",
                        f"Delete it and run again to download it afresh from {URL}.",
                    ) from None
                if bar is not None:
                    bar.update(1)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise CorruptFileError(
            archive,
            f"it is not a complete .tgz archive ({e})",
            f"Delete it and run again to download it afresh from {URL}.",
        ) from None
    finally:
        if bar is not None:
            bar.close()
    names = _names(expected_count)
    if len(found) != expected_count or set(found) != set(names):
        raise CorruptFileError(
            archive,
            f"it holds {len(found)} images jpg/image_NNNNN.jpg, not the "
            f"{expected_count} (image_00001.jpg … image_{expected_count:05d}"
            ".jpg) of Oxford Flowers 102",
            f"Delete it and run again to download the official archive from {URL}.",
        )
    return np.stack([found[n] for n in names])  # (N, 3, S, S), name order


def _names(count: int) -> list[str]:
    return [f"image_{i:05d}.jpg" for i in range(1, count + 1)]


def _cache_file(size: int, md5, sha256) -> Path:
    tag = (sha256 or md5 or "unverified")[:12]
    return _dl.user_cache_dir() / NAME / f"{NAME}-{size}px-{PROCESSING}-{tag}.npy"


def _load_cache(path: Path, size: int, expected_count: int):
    try:
        images = np.load(path, mmap_mode="r")  # nothing is read until indexed
    except (OSError, ValueError):  # a damaged cache is only a cache: decode again
        return None
    if images.dtype != np.uint8 or images.shape != (expected_count, 3, size, size):
        return None
    return images


def load_flowers(split: str = "train", size: int = 64, root=None, *, download: bool = True,
                 progress: bool = True, return_ids: bool = False, md5: str | None = MD5,
                 sha256: str | None = SHA256, expected_count: int = N_IMAGES):
    """Oxford Flowers 102 images of ``split`` as a uint8 tensor (N, 3, size, size), pixels 0..255.

    Args:
        split: "train" (80 %: 6,551 images), "validation" (the other 1,638) or "all" (8,189, in
            name order). Train and validation are in the shuffled order of the split, so the first
            N images of either are a random sample.
        size: side in pixels of the square images (64 for the course, 32 for speed).
        root: a folder holding (or to receive) ``102flowers.tgz``; only that folder is searched.
        download: False never touches the network. progress: tqdm bars (download, decoding).
        return_ids: also return the image numbers (1..8189, as in ``image_00001.jpg``) as int64 [N],
            e.g. to look up the labels of ``imagelabels.mat``.
        md5, sha256, expected_count: what the archive must be (the published values; tests pass a
            small synthetic archive's). ``None`` skips a checksum.

    Map pixels to the model range with ``ddpm_edu.to_model_range``. Raises ``ValueError`` for a
    bad split or size, :class:`FlowersNotAvailable` if the archive cannot be found or downloaded,
    ``CorruptFileError`` for a damaged archive (wrong checksum, truncated, wrong contents).
    """
    _check_args(split, size)
    cache = _cache_file(size, md5, sha256)
    images = _load_cache(cache, size, expected_count) if cache.is_file() else None
    if images is None:
        archive = _find_archive(root, download, progress, md5, sha256)
        images = _decode(archive, size, expected_count, progress)
        from .._files import atomic_write
        atomic_write(cache, lambda f: np.save(f, images))
    if split == "all":
        idx = list(range(expected_count))
    else:
        order = split_order(_names(expected_count))
        n_train = int(TRAIN_FRACTION * expected_count)
        idx = order[:n_train] if split == "train" else order[n_train:]
    out = torch.from_numpy(
        np.ascontiguousarray(images[idx])
    )  # (N, 3, S, S), a copy the caller owns
    if return_ids:
        return out, torch.tensor(idx, dtype=torch.long) + 1  # image_00001.jpg is id 1
    return out
