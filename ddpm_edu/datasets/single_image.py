"""The single-image experiment: one picture as the whole training set, and a measure of how well
samples reproduce it.

The seed paper's first experiment trains a diffusion model on a single image and asks it to
generate that image from pure noise: the smallest complete test of the forward process, the loss
and the sampler, since the right answer is known exactly. The course ships one public-domain
picture for it, ``data/images/flower64.png`` (64×64 RGB, CC0, see ``data/images/README.md``).

* :func:`load_single_image` reads an image file as uint8 pixels (1, C, S, S): the shorter side
  resized to S, then the centre S × S crop, exactly as the Oxford Flowers 102 loader prepares its
  photographs (the same function does it, :func:`ddpm_edu.datasets.flowers._square`).
* :func:`with_flips` adds the mirror image, so that drawing minibatch examples uniformly from the
  two is the same as a random horizontal flip of each copy (augmentation without touching the
  training loop).
* :func:`psnr_to_nearest` scores samples by their peak signal-to-noise ratio to the closest
  training image, and :data:`RECOGNISABLE_PSNR_DB` is the threshold the course calls
  "recognisable" (see its comment for the calibration).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from ..errors import InvalidArgument, InvalidType, MissingFile

__all__ = ["load_single_image", "with_flips", "psnr_to_nearest", "resolve_image_path",
           "DEFAULT_IMAGE", "RECOGNISABLE_PSNR_DB"]

DEFAULT_IMAGE = "data/images/flower64.png"  # relative to the repository (see resolve_image_path)

# A sample counts as "recognisable" when its PSNR to the image is at least 20 dB: a root-mean-square
# error of at most 10 % of the pixel range (25.5 of 255 levels). For flower64.png at 32×32, a flat
# image of the picture's mean colour scores about 12 dB, the picture shifted by 2 pixels about 17
# dB, and the picture blurred with a 3×3 box about 23 dB (see tests/test_single_image.py): 20 dB
# separates "the flower, slightly soft" from "some other picture with similar colours".
RECOGNISABLE_PSNR_DB = 20.0


def resolve_image_path(path) -> Path:
    """``path`` as given if that file exists; otherwise, for a relative path, the same path inside
    the repository (so ``"data/images/flower64.png"`` works from ``notebooks/`` too)."""
    from .download import repo_data_dir

    p = Path(path).expanduser()
    if p.is_file():
        return p
    if not p.is_absolute():
        in_repo = repo_data_dir().parent / p
        if in_repo.is_file():
            return in_repo
    raise MissingFile(f"image file {str(path)!r} not found (looked in the current folder and "
                            f"in the repository); give the path to a PNG or JPEG, e.g. "
                            f"{DEFAULT_IMAGE!r}.")


def load_single_image(
    path=DEFAULT_IMAGE, size: int | None = None, channels: int = 3
) -> torch.Tensor:
    """One image file as uint8 pixels, shape (1, C, S, S), C = ``channels``.

    Args:
        path: a PNG or JPEG (anything Pillow reads); a relative path is also looked up inside the
            repository (:func:`resolve_image_path`).
        size: side S of the square result: the shorter side is resized to S (bicubic), then the
            centre S × S is cropped — the Oxford Flowers 102 loader's processing. None keeps the
            shorter side as it is (a square image is returned unchanged).
        channels: 3 for RGB, 1 for greyscale (Pillow's ITU-R 601 luma, L = 0.299 R + 0.587 G +
            0.114 B).

    Map the pixels to the model range [−1, 1] with ``ddpm_edu.to_model_range``.
    """
    from PIL import Image, UnidentifiedImageError

    from .flowers import _square  # the course's one "shorter side to S, then centre crop"

    if channels not in (1, 3):
        raise InvalidArgument(f"channels must be 3 (RGB) or 1 (greyscale), got {channels!r}.")
    if size is not None and (
        isinstance(size, bool) or not isinstance(size, int) or not 4 <= size <= 1024
    ):
        raise InvalidArgument(
            f"size must be None (keep the image's size) or an int number of pixels "
            f"between 4 and 1024 (the course uses 32 or 64), got {size!r}."
        )
    file = resolve_image_path(path)
    data = file.read_bytes()
    try:
        with Image.open(file) as im:
            side = min(im.size)
    except UnidentifiedImageError:
        raise InvalidArgument(
            f"{file.name} is not an image Pillow can read; give a PNG or JPEG."
        ) from None
    rgb = _square(data, size or side)  # numpy uint8 (3, S, S)
    if channels == 1:
        grey = Image.fromarray(rgb.transpose(1, 2, 0), "RGB").convert("L")
        return torch.from_numpy(np.asarray(grey).copy())[None, None]  # (1, 1, S, S)
    return torch.from_numpy(rgb.copy())[None]  # (1, 3, S, S)


def with_flips(images: torch.Tensor) -> torch.Tensor:
    """``images`` (N, C, H, W) followed by their left–right mirror images: (2N, C, H, W).

    The training loop draws minibatch examples uniformly with replacement, so training on this
    doubled set is training with random horizontal flips (each copy mirrored with probability ½).
    """
    if not isinstance(images, torch.Tensor) or images.ndim != 4:
        raise InvalidArgument(
            f"with_flips expects images (N, C, H, W), got "
            f"{tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}."
        )
    return torch.cat([images, images.flip(-1)])


def psnr_to_nearest(samples: torch.Tensor, references: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio (dB) of each sample to its nearest reference image, shape (N,).

    PSNR = 10 log₁₀(range² / MSE), with MSE the mean squared difference over all pixels and
    channels and range the full pixel range: 255 for uint8 pixels, 2 for images in the model range
    [−1, 1] (the two give the same number for the same picture). ``samples`` (N, C, H, W) and
    ``references`` (K, C, H, W), both uint8 or both float in [−1, 1]; nearest = largest PSNR, i.e.
    smallest MSE. Identical images give +inf. Higher is closer; see :data:`RECOGNISABLE_PSNR_DB`.
    """
    for name, x in (("samples", samples), ("references", references)):
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            raise InvalidArgument(
                f"{name} must be a tensor (N, C, H, W), got "
                f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}."
            )
    if samples.shape[1:] != references.shape[1:]:
        raise InvalidArgument(f"samples {tuple(samples.shape[1:])} and references "
                         f"{tuple(references.shape[1:])} must have the same (C, H, W).")
    if (samples.dtype == torch.uint8) != (references.dtype == torch.uint8):
        raise InvalidType(
            "samples and references must both be uint8 pixels or both floats in [-1, 1] "
            "(convert with ddpm_edu.to_model_range or ddpm_edu.to_pixels)."
        )
    peak = 255.0 if samples.dtype == torch.uint8 else 2.0
    a = samples.double().flatten(1)                                   # (N, D)
    b = references.double().flatten(1)                                # (K, D)
    mse = ((a[:, None, :] - b[None, :, :]) ** 2).mean(-1)             # (N, K)
    best = mse.min(dim=1).values                                      # (N,)
    return 10.0 * torch.log10(peak ** 2 / best)                       # inf where best == 0

