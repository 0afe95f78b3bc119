"""Writing and fingerprinting files: the low-level helpers every layer may use (checkpoints, the
data sets, the command line). Nothing here knows about models or data.

Every write goes to a temporary file in the same folder, is flushed to disk (fsync) and then
renamed over the old file (``os.replace`` is atomic), so a crash, Ctrl-C or ``kill -9`` at any
moment leaves either the old or the new file, never half of one.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

__all__ = ["FILE_MODE", "atomic_path", "atomic_write", "probe_dir", "sha256_file"]

FILE_MODE = 0o644


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open a folder; the rename is still atomic there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path) -> Iterator[Path]:
    """Yield the path of a temporary file beside ``path``; when the block ends without an error the
    file is fsync'ed and renamed over ``path``, on any error it is deleted (the old file stays).
    For writers that want a file name rather than an open file (``np.lib.format.open_memmap``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)  # mkstemp makes 0600 files; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write(path, write: Callable) -> None:
    """Create or replace ``path`` atomically: ``write(file)`` fills a temporary file in the same
    folder, which is fsync'ed and then renamed over ``path``. On any error the old file is
    untouched."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        write(f)


def probe_dir(folder) -> Path:
    """Create ``folder`` if needed and write and delete a file in it: raises ``OSError`` now if
    it cannot be written, instead of after a long computation."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".write-test-", suffix=".tmp", dir=folder)
    os.close(fd)
    os.unlink(tmp)
    return folder


def sha256_file(path) -> str:
    """SHA-256 of a file, hex (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
