"""Oxford Flowers 102 loader, on a small synthetic archive with the official layout.

The archive the tests build is a .tgz holding ``jpg/image_00001.jpg`` … of random sizes (plus a
directory entry and a stray file, which must be ignored). The real archive's checks stay on: the
tests pass the synthetic archive's md5 and count explicitly (``md5=…, expected_count=…``), and
one test shows the default 8,189-image check rejecting it.
"""
import hashlib
import io
import tarfile

import numpy as np
import pytest
import torch
from PIL import Image

from ddpm_edu.datasets import flowers
from ddpm_edu.datasets.download import CorruptFileError
from ddpm_edu.datasets.flowers import FlowersNotAvailable, load_flowers, split_order

N = 20
# (width, height) per image: landscape, portrait and square, all larger than the output sizes
SIZES = [(96 + 16 * (i % 3), 72 + 24 * (i % 4)) for i in range(N)]


def ramp_image(i: int) -> Image.Image:
    """Image i: blue = 10·i + 20 everywhere (says which image it is); red ramps 0 → 255 from left
    to right, green from top to bottom (bicubic resizing keeps a linear ramp linear)."""
    w, h = SIZES[i]
    a = np.empty((h, w, 3), np.uint8)
    a[..., 0] = np.round(255 * (np.arange(w) + 0.5) / w)[None, :]
    a[..., 1] = np.round(255 * (np.arange(h) + 0.5) / h)[:, None]
    a[..., 2] = 10 * i + 20
    return Image.fromarray(a)


def make_archive(path, n=N):
    with tarfile.open(path, "w:gz") as tar:
        d = tarfile.TarInfo("jpg")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
        for i in reversed(range(n)):  # not in name order inside the archive
            buf = io.BytesIO()
            ramp_image(i).save(buf, format="JPEG", quality=95, subsampling=0)  # no chroma blur
            info = tarfile.TarInfo(f"jpg/image_{i + 1:05d}.jpg")
            info.size = buf.tell()
            buf.seek(0)
            tar.addfile(info, buf)
        extra = b"not an image"
        info = tarfile.TarInfo("jpg/README.txt")
        info.size = len(extra)
        tar.addfile(info, io.BytesIO(extra))
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def env(tmp_path, monkeypatch):
    """An isolated cache and data folder, and a synthetic archive in ``root``."""
    monkeypatch.setenv("DDPM_EDU_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("DDPM_EDU_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("DDPM_EDU_OFFLINE", "1")
    root = tmp_path / "root"
    root.mkdir()
    md5 = make_archive(root / flowers.ARCHIVE)
    return {"root": root, "md5": md5, "kw": {"md5": md5, "sha256": None, "expected_count": N,
                                              "progress": False}}


def test_all_images_in_name_order_resized_and_centre_cropped(env):
    for size in (16, 8):
        x = load_flowers("all", size=size, root=env["root"], **env["kw"])
        assert x.dtype == torch.uint8 and x.shape == (N, 3, size, size)
        for i, (w, h) in enumerate(SIZES):
            img = x[i].float()  # (3, S, S)
            # image i in place i (name order), blue unchanged (JPEG: ± a few levels)
            assert (img[2] - (10 * i + 20)).abs().max() <= 4, i
            # the crop is centred: resized to S × round(S·long/short), the long side keeps its
            # middle S pixels (offset floor of half the excess), whose ramp averages to the ramp's
            # value at the crop's centre; the short side keeps its whole ramp (mean 127.5)
            long_axis, short_axis = (0, 1) if w >= h else (1, 0)  # red ramps along x, green along y
            n_long = round(size * max(w, h) / min(w, h))
            centre = (n_long - size) // 2 + size / 2
            assert img[long_axis].mean() == pytest.approx(255 * centre / n_long, abs=4), i
            assert img[short_axis].mean() == pytest.approx(127.5, abs=4), i


def test_split_is_80_20_disjoint_and_fixed(env):
    kw = dict(size=8, root=env["root"], return_ids=True, **env["kw"])
    train, train_ids = load_flowers("train", **kw)
    val, val_ids = load_flowers("validation", **kw)
    everything, all_ids = load_flowers("all", **kw)
    assert len(train) == 16 and len(val) == 4          # floor(0.8 · 20)
    assert set(train_ids.tolist()) | set(val_ids.tolist()) == set(range(1, N + 1))
    assert not set(train_ids.tolist()) & set(val_ids.tolist())
    assert all_ids.tolist() == list(range(1, N + 1))
    torch.testing.assert_close(train, everything[train_ids - 1])
    torch.testing.assert_close(val, everything[val_ids - 1])
    # the order is SHA-256 of "0:<file name>", independent of any random generator
    keys = {i: hashlib.sha256(f"0:image_{i:05d}.jpg".encode()).hexdigest() for i in range(1, N + 1)}
    assert train_ids.tolist() + val_ids.tolist() == sorted(keys, key=keys.get)


def test_split_of_the_real_dataset_is_pinned():
    # Pinned so that a change of the split (which would move validation images into training for
    # anyone comparing with older numbers) cannot pass unnoticed.
    order = split_order([f"image_{i:05d}.jpg" for i in range(1, flowers.N_IMAGES + 1)])
    n_train = int(flowers.TRAIN_FRACTION * flowers.N_IMAGES)
    assert (n_train, flowers.N_IMAGES - n_train) == (6551, 1638)
    assert [i + 1 for i in order[n_train:n_train + 5]] == [7420, 4217, 6076, 2515, 3973]
    digest = hashlib.sha256(
        ",".join(str(i + 1) for i in sorted(order[:n_train])).encode()
    ).hexdigest()
    assert digest == "8d6770bf4e01d301ce21575da155b1bbcc0c00c026e1273a1c4886e3290f48fc"


def test_second_load_uses_the_cache_without_the_archive(env, tmp_path):
    first = load_flowers("validation", size=8, root=env["root"], **env["kw"])
    cached = list((tmp_path / "cache" / "flowers102").glob("*.npy"))
    assert len(cached) == 1 and np.load(cached[0]).shape == (N, 3, 8, 8)
    (env["root"] / flowers.ARCHIVE).unlink()
    again = load_flowers("validation", size=8, root=env["root"], **env["kw"])
    torch.testing.assert_close(first, again)
    again[0] += 1  # the caller owns its copy
    torch.testing.assert_close(
        first, load_flowers("validation", size=8, root=env["root"], **env["kw"])
    )
    # a damaged cache is rebuilt from the archive, not returned
    cached[0].write_bytes(b"garbage")
    with pytest.raises(FlowersNotAvailable):
        load_flowers("validation", size=8, root=env["root"], **env["kw"])


def test_the_default_checks_reject_an_archive_that_is_not_the_real_one(env):
    with pytest.raises(CorruptFileError, match="md5"):
        load_flowers("all", size=8, root=env["root"], progress=False)   # the published md5
    with pytest.raises(CorruptFileError, match=f"holds {N} images.*8189"):
        load_flowers("all", size=8, root=env["root"], md5=env["md5"], sha256=None, progress=False)


def test_damaged_archives_are_reported(env, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    data = (env["root"] / flowers.ARCHIVE).read_bytes()
    (bad / flowers.ARCHIVE).write_bytes(data[: len(data) // 2])        # truncated
    with pytest.raises(CorruptFileError, match="complete"):
        load_flowers(
            "all", size=8, root=bad, md5=None, sha256=None, expected_count=N, progress=False
        )
    with tarfile.open(bad / flowers.ARCHIVE, "w:gz") as tar:         # a JPEG that is not one
        info = tarfile.TarInfo("jpg/image_00001.jpg")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"oops"))
    with pytest.raises(CorruptFileError, match="image_00001.jpg"):
        load_flowers(
            "all", size=8, root=bad, md5=None, sha256=None, expected_count=1, progress=False
        )


def test_offline_error_names_the_url_and_the_folder(env, tmp_path):
    empty = tmp_path / "empty"
    with pytest.raises(FlowersNotAvailable) as e:
        load_flowers("train", size=8, root=empty, **env["kw"])
    first = str(e.value).splitlines()[0]
    assert flowers.URL in first and str(empty) in first
    with pytest.raises(FlowersNotAvailable) as e:            # no root: the user cache is the place
        load_flowers("train", size=8, download=False, **env["kw"])
    assert str(tmp_path / "cache" / "flowers102") in str(e.value).splitlines()[0]


def test_download_goes_through_the_shared_helper_with_the_checksum(env, tmp_path, monkeypatch):
    monkeypatch.delenv("DDPM_EDU_OFFLINE")
    monkeypatch.setattr(flowers, "URL", (env["root"] / flowers.ARCHIVE).as_uri())  # file:// mirror
    x = load_flowers("all", size=8, **env["kw"])
    kept = tmp_path / "cache" / "flowers102" / flowers.ARCHIVE
    assert kept.is_file() and hashlib.md5(kept.read_bytes()).hexdigest() == env["md5"]
    assert x.shape == (N, 3, 8, 8)
    kept.unlink()
    for f in kept.parent.glob("*.npy"):
        f.unlink()
    with pytest.raises(FlowersNotAvailable, match="download"):
        load_flowers("all", size=8, md5="0" * 32, sha256=None, expected_count=N, progress=False)
    assert not kept.exists()                                  # a wrong file never gets the name


def test_published_constants_and_bad_arguments():
    assert flowers.MD5 == "52808999861908f626f3c1f4e79d11fa"  # torchvision's Flowers102 pin
    assert flowers.N_IMAGES == 8189
    assert flowers.URL == "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/102flowers.tgz"
    with pytest.raises(ValueError, match="split"):
        load_flowers("test")
    with pytest.raises(ValueError, match="size"):
        load_flowers("train", size=4)
