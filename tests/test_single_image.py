"""The single-image experiment: the loader (resize + centre crop, greyscale, flips), the PSNR
criterion, the "single-image" and "flowers64" recipes, and the shipped checkpoint and its card.

Oracles: Pillow and numpy slicing for the crop, the closed form 10·log₁₀(range²/d²) for a constant
error d, and the image file itself for the checkpoint's criterion."""
import hashlib
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from ddpm_edu import to_model_range, to_pixels
from ddpm_edu.datasets.single_image import (DEFAULT_IMAGE, RECOGNISABLE_PSNR_DB, load_single_image,
                                            psnr_to_nearest, resolve_image_path, with_flips)
from ddpm_edu.errors import UserError
from ddpm_edu.datasets import load_dataset
from ddpm_edu.recipes import get_recipe, recipe_names

ROOT = Path(__file__).resolve().parent.parent
FLOWER = ROOT / DEFAULT_IMAGE
CHECKPOINT = ROOT / "data" / "checkpoints" / "single_image.safetensors"
CARD = ROOT / "data" / "checkpoints" / "single_image.md"


def _png(path, array):
    Image.fromarray(array).save(path)
    return path


# ---- the loader ----------------------------------------------------------------------------------
def test_full_size_is_the_file_itself():
    x = load_single_image(FLOWER)
    want = np.asarray(Image.open(FLOWER).convert("RGB")).transpose(2, 0, 1)  # (3, 64, 64)
    assert x.dtype == torch.uint8 and x.shape == (1, 3, 64, 64)
    assert torch.equal(x[0], torch.from_numpy(want.copy()))


def test_size_none_centre_crops_a_wide_and_a_tall_image_without_resizing(tmp_path):
    rng = np.random.default_rng(0)
    wide = rng.integers(0, 256, (20, 41, 3), dtype=np.uint8)  # H=20, W=41: keep columns 10..29
    x = load_single_image(_png(tmp_path / "wide.png", wide))
    assert torch.equal(x[0], torch.from_numpy(wide[:, 10:30].transpose(2, 0, 1).copy()))
    tall = rng.integers(0, 256, (33, 12, 3), dtype=np.uint8)  # H=33, W=12: keep rows 10..21
    x = load_single_image(_png(tmp_path / "tall.png", tall))
    assert torch.equal(x[0], torch.from_numpy(tall[10:22].transpose(2, 0, 1).copy()))


def test_resize_then_crop_matches_pillow(tmp_path):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    x = load_single_image(_png(tmp_path / "a.png", a), size=12)
    # Pillow as the oracle: shorter side 30 → 12 (50 → 20), bicubic, then the middle 12 columns
    img = Image.fromarray(a).resize((20, 12), Image.Resampling.BICUBIC).crop((4, 0, 16, 12))
    assert torch.equal(x[0], torch.from_numpy(np.asarray(img).transpose(2, 0, 1).copy()))


def test_greyscale_is_pillows_luma(tmp_path):
    x = load_single_image(FLOWER, channels=1)
    want = np.asarray(Image.open(FLOWER).convert("L"))
    assert x.shape == (1, 1, 64, 64) and torch.equal(x[0, 0], torch.from_numpy(want.copy()))
    grey = np.random.default_rng(2).integers(0, 256, (16, 16), dtype=np.uint8)
    y = load_single_image(_png(tmp_path / "g.png", grey), channels=1)  # a grey file stays exact
    assert torch.equal(y[0, 0], torch.from_numpy(grey))


def test_relative_path_is_found_in_the_repository_from_elsewhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_image_path(DEFAULT_IMAGE) == FLOWER
    assert load_single_image(DEFAULT_IMAGE, size=32).shape == (1, 3, 32, 32)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"path": "no/such/picture.png"}, FileNotFoundError, "not found"),
    ({"channels": 2}, ValueError, "channels must be 3"),
    ({"size": 2}, ValueError, "between 4 and 1024"),
    ({"size": 32.0}, ValueError, "int number of pixels"),
])
def test_bad_arguments_say_what_to_do(kwargs, error, message):
    with pytest.raises(error, match=message):
        load_single_image(**{"path": FLOWER, **kwargs})


def test_a_file_that_is_not_an_image(tmp_path):
    (tmp_path / "x.png").write_text("not a picture")
    with pytest.raises(ValueError, match="not an image"):
        load_single_image(tmp_path / "x.png")


def test_with_flips_appends_the_mirror_images():
    x = load_single_image(FLOWER, size=8)
    both = with_flips(torch.cat([x, 255 - x]))
    assert both.shape == (4, 3, 8, 8)
    assert torch.equal(both[:2], torch.cat([x, 255 - x]))
    assert torch.equal(both[2], torch.from_numpy(x[0].numpy()[:, :, ::-1].copy()))
    with pytest.raises(ValueError, match="N, C, H, W"):
        with_flips(x[0])


# ---- the criterion -------------------------------------------------------------------------------
def test_psnr_closed_form_for_a_constant_error():
    ref = torch.zeros(1, 3, 4, 4)
    for d in (0.02, 0.1, 0.5):
        got = psnr_to_nearest(ref + d, ref)
        torch.testing.assert_close(
            got, torch.tensor([10 * math.log10(4 / d**2)], dtype=torch.float64)
        )
    assert torch.isinf(psnr_to_nearest(ref, ref)).all()


def test_psnr_is_the_same_for_pixels_and_the_model_range():
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (3, 3, 8, 8), generator=g, dtype=torch.uint8)
    b = torch.randint(0, 256, (2, 3, 8, 8), generator=g, dtype=torch.uint8)
    torch.testing.assert_close(psnr_to_nearest(a, b),
                               psnr_to_nearest(to_model_range(a), to_model_range(b)))


def test_psnr_picks_the_nearest_reference():
    refs = torch.stack([torch.full((1, 2, 2), v) for v in (-0.5, 0.0, 0.5)])  # (3, 1, 2, 2)
    samples = torch.stack([torch.full((1, 2, 2), v) for v in (0.45, -0.4)])
    want = torch.tensor([10 * math.log10(4 / 0.05 ** 2), 10 * math.log10(4 / 0.1 ** 2)],
                        dtype=torch.float64)
    torch.testing.assert_close(psnr_to_nearest(samples, refs), want)


def test_psnr_refuses_mixed_types_and_shapes():
    with pytest.raises(TypeError, match="both be uint8"):
        psnr_to_nearest(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2, dtype=torch.uint8))
    with pytest.raises(ValueError, match="same"):
        psnr_to_nearest(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 3, 3))


def test_the_threshold_separates_the_flower_from_look_alikes():
    """The calibration quoted beside RECOGNISABLE_PSNR_DB, on flower64.png at 32×32."""
    x = load_single_image(FLOWER, size=32)
    xf = x.float()
    flat = xf.mean((2, 3), keepdim=True).expand_as(xf).round().to(torch.uint8)
    shifted = torch.roll(x, 2, dims=-1)
    blurred = F.avg_pool2d(F.pad(xf, (1, 1, 1, 1), mode="replicate"), 3, 1).round().to(torch.uint8)
    scores = {name: psnr_to_nearest(v, x).item() for name, v in
              (("flat", flat), ("shift2", shifted), ("blur", blurred))}
    assert scores["flat"] < 16 and scores["shift2"] < RECOGNISABLE_PSNR_DB < scores["blur"], scores


# ---- the recipes ---------------------------------------------------------------------------------
def test_single_image_recipe_data_network_and_a_few_steps():
    from ddpm_edu.training import train

    recipe = get_recipe("single-image")
    assert {"single-image", "flowers64"} <= set(recipe_names())
    data = recipe.load_data()
    assert data.shape == (1, 3, 32, 32) and data.dtype == torch.uint8
    assert torch.equal(data, load_single_image(FLOWER, size=32))
    net, schedule = recipe.build_network(), recipe.build_schedule()
    assert schedule.T == 1000 and recipe.train.mean_type == "x0"
    assert sum(p.numel() for p in net.parameters()) * 4 < 1_000_000  # under 1 MB of float32
    result = train(net, schedule, data, recipe.train.replace(steps=3, batch_size=4), progress=False)
    assert len(result.loss_history) == 3 and all(math.isfinite(v) for v in result.loss_history)


def test_image_dataset_spec_with_flips_and_typos():
    spec = {"name": "image", "path": DEFAULT_IMAGE, "size": 16, "flips": True}
    x = load_dataset(spec)
    assert x.shape == (2, 3, 16, 16) and torch.equal(x[1], x[0].flip(-1))
    with pytest.raises(UserError, match="unknown option"):
        load_dataset({"name": "image", "sise": 16})


def test_flowers64_recipe(tmp_path, monkeypatch):
    from ddpm_edu.datasets.flowers import N_IMAGES, TRAIN_FRACTION, FlowersNotAvailable
    from ddpm_edu.nets import architecture

    recipe = get_recipe("flowers64")
    assert recipe.network == architecture("flowers64") and recipe.dataset["split"] == "train"
    n_train = int(TRAIN_FRACTION * N_IMAGES)
    passes = recipe.train.steps * recipe.train.batch_size / n_train
    assert 249 < passes < 251  # the Keras example's 50 epochs × 5 repetitions
    with pytest.raises(UserError, match="unknown option"):  # a typo is caught before any download
        load_dataset({"name": "flowers", "sise": 64})
    monkeypatch.setenv("DDPM_EDU_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DDPM_EDU_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DDPM_EDU_OFFLINE", "1")
    monkeypatch.setattr("ddpm_edu.datasets.download.repo_data_dir", lambda: tmp_path / "repo")
    with pytest.raises(FlowersNotAvailable, match="102flowers.tgz"):
        recipe.load_data()


# ---- the shipped checkpoint and its card ---------------------------------------------------------
def test_shipped_checkpoint_is_small_and_generates_the_flower():
    from ddpm_edu import load_pretrained
    from ddpm_edu.training import as_training_data

    assert CHECKPOINT.stat().st_size < 1_500_000
    model = load_pretrained(CHECKPOINT)
    assert model.shape == (3, 32, 32) and model.mean_type == "x0" and model.schedule.T == 1000
    assert model.config["extra"]["preset"] == "single-image"
    recipe = get_recipe("single-image")
    # trained on exactly the pixels the loader gives today
    assert (
        model.config["data"]["sha256"] == as_training_data(recipe.load_data()).describe()["sha256"]
    )
    x = model.sample(2, steps=50, seed=0)
    assert (psnr_to_nearest(to_pixels(x), recipe.load_data()) >= RECOGNISABLE_PSNR_DB).all()


def test_card_states_the_files_checksum_size_and_command():
    text = CARD.read_text(encoding="utf-8")
    digest = hashlib.sha256(CHECKPOINT.read_bytes()).hexdigest()
    assert digest in text, "update the SHA-256 in data/checkpoints/single_image.md"
    assert re.search(r"ddpm-edu train --preset single-image", text)
    assert f"{CHECKPOINT.stat().st_size:,}" in text, "the card states the file size in bytes"
