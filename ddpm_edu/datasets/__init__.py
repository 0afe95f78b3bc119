"""Datasets the course uses; each loader works offline from data/ and verifies what it reads.

========================  =========================================================================
module                    data
========================  =========================================================================
``mnist``                 MNIST digits, uint8 [N, 28, 28] (shipped in data/mnist/, checksummed)
``flowers``               Oxford Flowers 102, uint8 [N, 3, S, S] (downloaded on first use)
``single_image``          one picture as the whole training set (data/images/flower64.png)
``toy``                   2-D points: :func:`~ddpm_edu.datasets.toy.two_moons`
``download``              downloads with checksums and clear offline errors
========================  =========================================================================

:func:`load_dataset` loads any of them from a plain dict (a spec), the form in which a training
recipe (:mod:`ddpm_edu.recipes`) names its data and a checkpoint records it, so that a saved run
can reload its own data. The loaders are imported on first use: this package imports no torch.
"""
from __future__ import annotations

from ..errors import UserError

__all__ = ["load_dataset"]


def _image(spec: dict):
    from .single_image import DEFAULT_IMAGE, load_single_image, with_flips
    path, size = spec.pop("path", DEFAULT_IMAGE), spec.pop("size", None)
    channels, flips = spec.pop("channels", 3), spec.pop("flips", False)
    _no_more(spec, "image")
    image = load_single_image(path, size=size, channels=channels)
    return with_flips(image) if flips else image


def _flowers(spec: dict):
    from .flowers import load_flowers
    split, size, limit = spec.pop("split", "train"), spec.pop("size", 64), spec.pop("limit", None)
    _no_more(spec, "flowers")  # before a download of 330 MB, not after
    images = load_flowers(split, size=size)
    return images if limit is None else images[:limit]


def _mnist(spec: dict):
    from .mnist import load_mnist
    limit, labelled = spec.pop("limit", None), spec.pop("labels", False)
    if not isinstance(labelled, bool):
        raise UserError(f"the mnist option 'labels' must be true or false, got {labelled!r}.")
    images, labels = load_mnist(spec.pop("split", "train"))
    _no_more(spec, "mnist")
    images, labels = (images, labels) if limit is None else (images[:limit], labels[:limit])
    return (images, labels) if labelled else images


def _two_moons(spec: dict):
    from .toy import two_moons
    n, noise, seed = spec.pop("n", 8000), spec.pop("noise", 0.05), spec.pop("seed", 0)
    _no_more(spec, "two_moons")
    return two_moons(n, noise, seed)


# spec["name"] → loader(spec without "name"); each loader pops the options it knows
_LOADERS = {"mnist": _mnist, "two_moons": _two_moons, "image": _image, "flowers": _flowers}


def load_dataset(spec: dict):
    """Load a dataset named by a spec (a recipe's ``dataset``, or the one a checkpoint records):

    * ``{"name": "mnist", "split": "train"|"test", "limit": N|None}`` → uint8 [N, 28, 28]; with
      ``"labels": True`` the tuple (images, labels int64 [N] in 0..9) for class-conditional
      training;
    * ``{"name": "two_moons", "n": N, "noise": s, "seed": S}`` → float points [N, 2];
    * ``{"name": "image", "path": P, "size": S, "channels": C, "flips": F}`` → uint8 [1, C, S, S]
      (one picture, centre-cropped; [2, C, S, S] with its mirror image when F is true, i.e. random
      horizontal flips; see :mod:`ddpm_edu.datasets.single_image`);
    * ``{"name": "flowers", "split": "train"|"validation"|"all", "size": S, "limit": N|None}`` →
      uint8 [N, 3, S, S], Oxford Flowers 102 (downloads the archive on first use).
    """
    spec = dict(spec or {})
    name = spec.pop("name", None)
    if not isinstance(name, str) or name not in _LOADERS:
        known = ", ".join(repr(k) for k in _LOADERS)
        raise UserError(f"unknown dataset {name!r} in the recipe; known: {known}.")
    return _LOADERS[name](spec)


def _no_more(spec: dict, name: str) -> None:
    if spec:
        raise UserError(f"unknown option(s) {sorted(spec)} for dataset {name!r}.")
