"""ddpm_edu.load_mnist: the shipped files, their checks, and the download path (local only)."""
from __future__ import annotations

import gzip
import hashlib
import socket

import pytest
import torch

from ddpm_edu import load_mnist
from ddpm_edu.datasets import download as dl
from ddpm_edu.datasets import mnist as mnist_mod
from ddpm_edu.errors import UserError

SHIPPED = dl.repo_data_dir() / "mnist"
# md5 of the decompressed files as published (typed from data/README.md, not read from the module)
PUBLISHED_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture
def closed_mirror():
    """A mirror URL on a port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path, closed_mirror):
    """Never reach the internet; keep the user's cache and DDPM_EDU_* settings out of the tests."""
    monkeypatch.setattr(mnist_mod, "MIRRORS", [closed_mirror])
    monkeypatch.setenv(dl.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(dl.DATA_ENV, raising=False)
    monkeypatch.delenv(dl.OFFLINE_ENV, raising=False)


def _copy_test_split(folder, compressed=True):
    """Copy the shipped test split into ``folder`` (.gz as shipped, or decompressed)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in TEST_FILES:
        gz = (SHIPPED / f"{name}.gz").read_bytes()
        if compressed:
            (folder / f"{name}.gz").write_bytes(gz)
        else:
            (folder / name).write_bytes(gzip.decompress(gz))
    return folder


def test_shipped_files_match_the_published_md5():
    for name, md5 in PUBLISHED_MD5.items():
        raw = gzip.decompress((SHIPPED / f"{name}.gz").read_bytes())
        assert hashlib.md5(raw).hexdigest() == md5, name


def test_train_split_known_facts():
    images, labels = load_mnist("train")
    assert images.shape == (60000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (60000,) and labels.dtype == torch.int64
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the famous first "5"
    counts = torch.bincount(labels, minlength=10)
    assert counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert int(counts.sum()) == 60000
    assert int(images.min()) == 0 and int(images.max()) == 255
    # the normalisation constants everyone uses: mean 0.1307, std 0.3081 of pixels/255
    hist = torch.bincount(images.flatten(), minlength=256).double()  # exact, and no 47M-float copy
    k = torch.arange(256, dtype=torch.float64) / 255
    mean = float((hist * k).sum() / hist.sum())
    std = float(((hist * (k - mean) ** 2).sum() / hist.sum()).sqrt())
    assert abs(mean - 0.1307) < 5e-5 and abs(std - 0.3081) < 5e-5


def test_test_split_known_facts():
    images, labels = load_mnist("test")
    assert images.shape == (10000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (10000,) and labels.dtype == torch.int64
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    counts = torch.bincount(labels, minlength=10)
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert int(labels.min()) == 0 and int(labels.max()) == 9


def test_callers_cannot_corrupt_the_cache():
    images, labels = load_mnist("test")
    first = images[0].clone()
    images.zero_()
    labels.fill_(3)
    again_images, again_labels = load_mnist("test")
    assert torch.equal(again_images[0], first) and again_labels[0] == 7


def test_uncompressed_files_load_the_same(tmp_path):
    root = _copy_test_split(tmp_path / "raw", compressed=False)
    images, labels = load_mnist("test", root=root)
    ref_images, ref_labels = load_mnist("test")
    assert torch.equal(images, ref_images) and torch.equal(labels, ref_labels)


def test_env_var_folder_is_searched_first(tmp_path, monkeypatch):
    _copy_test_split(tmp_path / "mine" / "mnist", compressed=False)
    monkeypatch.setenv(dl.DATA_ENV, str(tmp_path / "mine"))
    assert mnist_mod._locate(TEST_FILES[0], None) == tmp_path / "mine" / "mnist" / TEST_FILES[0]


def test_unknown_split():
    with pytest.raises(ValueError, match="split must be one of"):
        load_mnist("validation")


def _assert_corrupt(root, bad_file, *phrases):
    with pytest.raises(dl.CorruptFileError) as info:
        load_mnist("test", root=root)
    msg = str(info.value)
    assert isinstance(info.value, UserError)
    assert str(bad_file) in msg and "Delete it" in msg
    for phrase in phrases:
        assert phrase in msg


def test_one_changed_label_is_caught_by_md5(tmp_path):
    root = _copy_test_split(tmp_path, compressed=False)
    path = root / "t10k-labels-idx1-ubyte"
    raw = bytearray(path.read_bytes())
    assert raw[8] == 7
    raw[8] = 1  # still a valid digit and a valid IDX file: only the checksum can tell
    path.write_bytes(bytes(raw))
    _assert_corrupt(root, path, "md5", PUBLISHED_MD5["t10k-labels-idx1-ubyte"])


def test_flipped_byte_in_gzip_file(tmp_path):
    root = _copy_test_split(tmp_path)
    path = root / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    _assert_corrupt(root, path)


def test_truncated_gzip_file(tmp_path):
    root = _copy_test_split(tmp_path)
    path = root / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:100_000])
    _assert_corrupt(root, path, "not a valid gzip file")


def test_truncated_uncompressed_file(tmp_path):
    root = _copy_test_split(tmp_path, compressed=False)
    path = root / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-784])  # one image short
    _assert_corrupt(root, path, "truncated", "7839232 bytes")


def test_swapped_files_are_caught_by_the_magic_number(tmp_path):
    root = _copy_test_split(tmp_path, compressed=False)
    (root / "t10k-images-idx3-ubyte").write_bytes((root / "t10k-labels-idx1-ubyte").read_bytes())
    _assert_corrupt(root, root / "t10k-images-idx3-ubyte", "magic number", "IDX labels file")


def test_wrong_header_shape(tmp_path):
    root = _copy_test_split(tmp_path, compressed=False)
    path = root / "t10k-images-idx3-ubyte"
    raw = bytearray(path.read_bytes())
    raw[8:12] = (32).to_bytes(4, "big")  # 32 rows instead of 28
    path.write_bytes(bytes(raw))
    _assert_corrupt(root, path, "(10000, 32, 28)")


def test_a_file_damaged_after_loading_is_not_served_from_the_cache(tmp_path):
    root = _copy_test_split(tmp_path)
    load_mnist("test", root=root)
    path = root / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-10])
    _assert_corrupt(root, path)


def test_missing_file_offline_lists_places_urls_and_fix(tmp_path, monkeypatch, closed_mirror):
    monkeypatch.setattr(dl, "repo_data_dir", lambda: tmp_path / "no-repo-data")
    monkeypatch.setenv(dl.DATA_ENV, str(tmp_path / "env-data"))
    with pytest.raises(dl.DownloadError) as info:
        load_mnist("test")
    err, msg = info.value, str(info.value)
    cache = tmp_path / "cache" / "mnist"
    assert err.filename == "t10k-images-idx3-ubyte.gz" and err.folder == cache
    assert err.looked_in == [tmp_path / "env-data" / "mnist", tmp_path / "no-repo-data" / "mnist",
                             cache]
    first = msg.splitlines()[0]
    assert "MNIST" in first and "t10k-images-idx3-ubyte.gz" in first and str(cache) in first
    for place in err.looked_in:
        assert str(place) in msg
    assert f"{closed_mirror}t10k-images-idx3-ubyte.gz" in msg and "connection refused" in msg
    assert "Offline?" in msg and "DDPM_EDU_DATA" in msg
    assert not cache.exists() or list(cache.iterdir()) == []


def test_missing_file_under_root_is_looked_for_only_there(tmp_path):
    with pytest.raises(dl.DownloadError) as info:
        load_mnist("test", root=tmp_path / "empty")
    assert info.value.looked_in == [tmp_path / "empty"]
    assert info.value.folder == tmp_path / "empty"


def test_download_into_cache_verifies_then_loads(tmp_path, monkeypatch):
    mirror = _copy_test_split(tmp_path / "mirror")
    monkeypatch.setattr(mnist_mod, "MIRRORS", [mirror.as_uri() + "/"])  # urllib reads file:// too
    monkeypatch.setattr(dl, "repo_data_dir", lambda: tmp_path / "no-repo-data")
    monkeypatch.setattr(dl, "_CHUNK", 1 << 16)  # several chunks even for the small labels file
    images, labels = load_mnist("test")
    cache = tmp_path / "cache" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == [f"{n}.gz" for n in TEST_FILES]
    assert labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9] and images.shape[0] == 10000
    for name in TEST_FILES:  # the cached copies are byte-identical to the mirror's
        assert (cache / f"{name}.gz").read_bytes() == (mirror / f"{name}.gz").read_bytes()


def test_download_of_a_wrong_file_is_rejected(tmp_path, monkeypatch):
    mirror = _copy_test_split(tmp_path / "mirror")
    raw = bytearray(gzip.decompress((mirror / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    raw[-1] = (raw[-1] + 1) % 10
    (mirror / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(raw)))
    monkeypatch.setattr(mnist_mod, "MIRRORS", [mirror.as_uri() + "/"])
    monkeypatch.setattr(dl, "repo_data_dir", lambda: tmp_path / "no-repo-data")
    with pytest.raises(dl.DownloadError, match="md5 of the decompressed bytes"):
        load_mnist("test")
    cache = tmp_path / "cache" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == ["t10k-images-idx3-ubyte.gz"]
