"""Fetch a file from a list of mirrors, verify it, and only then give it its final name.

Used for every file the course may need that is not in the repository (MNIST when ``data/`` is
missing, Flowers 102 archives, pretrained weights). The rules:

* Mirrors are tried in order with ``urllib`` and a short timeout, so an offline machine fails in
  seconds, not minutes. ``DDPM_EDU_OFFLINE=1`` skips the network altogether.
* Bytes stream into ``<dest>.<random>.part`` in the destination folder while md5 / sha256 are
  computed on the fly; the temp file is checked (size, checksums, an optional ``check`` callable)
  and then renamed with ``os.replace``, which is atomic. A crash, a dropped connection, a checksum
  mismatch or Ctrl-C therefore never leaves a half-written file under the final name (the ``.part``
  file is removed, except after a hard kill, when it is harmless litter).
* When every mirror fails, :class:`DownloadError` says which file, every URL with its error, the
  folder where the file can be put by hand, and what to do offline.

Where files are looked for (:func:`search_dirs`): ``$DDPM_EDU_DATA/<name>``, then the repository's
``data/<name>``, then the user cache ``user_cache_dir()/<name>``.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import secrets
import socket
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ..errors import InvalidArgument, UserError

__all__ = ["DownloadError", "CorruptFileError", "user_cache_dir", "repo_data_dir", "search_dirs",
           "file_digest", "download"]

CACHE_ENV = "DDPM_EDU_CACHE"      # overrides the user cache folder
DATA_ENV = "DDPM_EDU_DATA"        # an extra data folder searched before the repository's data/
OFFLINE_ENV = "DDPM_EDU_OFFLINE"  # "1": never touch the network, fail at once with the offline fix
DEFAULT_TIMEOUT = 10.0            # seconds per socket operation (connect, each read)
_CHUNK = 1 << 20                  # 1 MiB


class DownloadError(UserError):
    """No mirror delivered a correct copy of a file.

    Attributes: ``filename``; ``attempts`` — list of ``(url, error text)``; ``folder`` — where the
    file can be put by hand; ``looked_in`` — folders already searched (may be empty).
    The first line of the message is a complete instruction (the CLI prints only that line); the
    following lines list every URL tried and its error.
    """

    def __init__(self, filename: str, attempts: Sequence[tuple[str, str]], folder,
                 looked_in: Sequence = (), what: str = ""):
        self.filename = str(filename)
        self.attempts = [(str(u), str(e)) for u, e in attempts]
        self.folder = Path(folder)
        self.looked_in = [Path(p) for p in looked_in]
        self.what = what
        super().__init__(self._message())

    def __reduce__(self):  # keep it picklable (e.g. raised inside a DataLoader worker)
        return (type(self), (self.filename, self.attempts, self.folder, self.looked_in, self.what))

    def _message(self) -> str:
        name = f"{self.what} file {self.filename}" if self.what else self.filename
        head = (f"Could not get {name}: "
                + (f"not found in {len(self.looked_in)} folder(s) and " if self.looked_in else "")
                + (f"every download failed ({len(self.attempts)} URL(s) tried)" if self.attempts
                   else "no URL was tried")
                + f". Put the file by hand into {self.folder} and run again.")
        lines = [head]
        if self.looked_in:
            lines.append("Looked in:")
            lines += [f"  - {p}" for p in self.looked_in]
        if self.attempts:
            lines.append("Tried:")
            lines += [f"  - {u}\n      -> {e}" for u, e in self.attempts]
        where = str(self.folder)
        if self.looked_in:
            where += (f" or any folder listed under 'Looked in' (data/README.md explains "
                      f"{DATA_ENV}, an extra data folder searched first)")
        lines.append(
            f"Offline? Copy {self.filename} from a machine that has it (or that can open one of "
            f"the URLs above) into {where}. Set {OFFLINE_ENV}=1 to skip download attempts."
        )
        return "\n".join(lines)


class CorruptFileError(UserError):
    """A file exists but its bytes are wrong (truncated, damaged, another file under this name).

    Attributes: ``path`` (the file) and ``problem`` (what is wrong). The message names both and
    the fix.
    """

    def __init__(self, path, problem: str, fix: str):
        self.path = Path(path)
        self.problem = problem
        self.fix = fix
        super().__init__(f"{self.path} is damaged: {problem}. {fix}")

    def __reduce__(self):
        return (type(self), (self.path, self.problem, self.fix))


def user_cache_dir() -> Path:
    """Folder for downloaded data and weights (created on first download, not here).

    ``$DDPM_EDU_CACHE`` if set; otherwise ``%LOCALAPPDATA%\\ddpm_edu`` on Windows,
    ``~/Library/Caches/ddpm_edu`` on macOS, ``$XDG_CACHE_HOME/ddpm_edu`` or ``~/.cache/ddpm_edu``
    elsewhere.
    """
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    if sys.platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA")
        return (Path(base) if base else Path.home() / "AppData" / "Local") / "ddpm_edu"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ddpm_edu"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ddpm_edu"


def repo_data_dir() -> Path:
    """The repository's ``data/`` folder: the repo root is the parent of the ``ddpm_edu`` package.

    (After a non-editable install this folder does not exist; the loaders then use the cache.)
    """
    return Path(__file__).resolve().parents[2] / "data"


def search_dirs(name: str, root=None) -> list[Path]:
    """Folders to look in for dataset ``name``, in order.

    ``root`` given → just ``[root]`` (the caller said where the files are). Otherwise
    ``$DDPM_EDU_DATA/<name>`` (if the variable is set), ``<repo>/data/<name>``,
    ``user_cache_dir()/<name>``.
    """
    if root is not None:
        return [Path(root).expanduser()]
    dirs = []
    env = os.environ.get(DATA_ENV)
    if env:
        dirs.append(Path(env).expanduser() / name)
    dirs.append(repo_data_dir() / name)
    dirs.append(user_cache_dir() / name)
    return dirs


def _hasher(algo: str):
    try:
        return hashlib.new(algo)
    except (ValueError, TypeError):
        raise InvalidArgument(
            f"unknown hash algorithm {algo!r}; use one of "
            f"{sorted(hashlib.algorithms_guaranteed)}, e.g. 'sha256' or 'md5'."
        ) from None


def file_digest(path, algo: str = "sha256") -> str:
    """Hex digest of the file's bytes with ``hashlib`` algorithm ``algo`` (read in 1 MiB chunks)."""
    h = _hasher(algo)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _describe(err: BaseException, timeout: float) -> str:
    """One line saying why a URL failed, without a traceback."""
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        if not isinstance(err.reason, BaseException):
            return str(err.reason)
        err = err.reason
    if isinstance(err, (socket.timeout, TimeoutError)):
        return f"timed out (no answer within {timeout:g} s)"
    if isinstance(err, socket.gaierror):
        return f"host name not resolved ({err.strerror or err}); is this machine offline?"
    if isinstance(err, ConnectionRefusedError):
        return "connection refused"
    return f"{type(err).__name__}: {err}"


def _fetch_one(url: str, tmp: Path, algos: Iterable[str], timeout: float, progress: bool,
               label: str) -> dict:
    """Stream ``url`` into ``tmp``; return {algo: hexdigest}. Raises on any transfer problem."""
    hashers = {a: _hasher(a) for a in algos}
    req = urllib.request.Request(url, headers={"User-Agent": "ddpm-edu (urllib)"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        length = resp.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        bar = None
        if progress:
            from tqdm.auto import tqdm  # optional dependency, imported only when a bar is shown
            bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                       leave=False)
        got = 0
        try:
            with open(tmp, "xb") as out:
                while chunk := resp.read(_CHUNK):
                    out.write(chunk)
                    for h in hashers.values():
                        h.update(chunk)
                    got += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
                out.flush()
                os.fsync(out.fileno())
        finally:
            if bar is not None:
                bar.close()
    # http.client returns b"" (no exception) when a server closes early: compare with the header.
    if total is not None and got != total:
        raise _Failed(f"transfer cut short: received {got} of {total} bytes")
    return {a: h.hexdigest() for a, h in hashers.items()}


def download(urls, dest, md5: str | None = None, sha256: str | None = None, progress: bool = True,
             *, check: Callable[[Path], None] | None = None, timeout: float = DEFAULT_TIMEOUT,
             what: str = "", looked_in: Sequence = ()) -> Path:
    """Download one file to ``dest``, trying each URL of ``urls`` (a string or a list) in turn.

    If ``dest`` already exists and matches the given checksums (or none are given), it is returned
    without any network access. Otherwise each mirror is tried until one delivers a file whose size
    matches ``Content-Length``, whose ``md5``/``sha256`` (hex, of the downloaded bytes) match, and
    that ``check(temp_path)`` accepts (``check`` raises to reject — use it when the published
    checksum is of something derived, e.g. the decompressed bytes). Only then is the temp file
    renamed to ``dest`` (atomically; an older ``dest`` is replaced). A failed mirror never leaves a
    file behind.

    ``timeout`` (seconds) bounds each connect and each read. ``what`` and ``looked_in`` only enrich
    the error message. ``progress`` shows a tqdm bar (``TQDM_DISABLE=1`` hides it).

    Returns ``Path(dest)``. Raises :class:`DownloadError` when no mirror succeeds (or when
    ``$DDPM_EDU_OFFLINE`` is ``1``), ``KeyboardInterrupt`` as is (after removing the temp file).
    """
    urls = [urls] if isinstance(urls, str) else list(urls)
    dest = Path(dest).expanduser()
    expected = {a: v.lower() for a, v in (("md5", md5), ("sha256", sha256)) if v}
    if dest.is_file() and all(file_digest(dest, a) == v for a, v in expected.items()):
        return dest
    if os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes"):
        raise DownloadError(dest.name, [(u, f"not tried: {OFFLINE_ENV} is set") for u in urls],
                            dest.parent, looked_in, what)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(dest.name, [(u, f"not tried: cannot create {dest.parent} ({e})")
                                        for u in urls], dest.parent, looked_in, what) from None

    attempts = []
    for url in urls:
        tmp = dest.with_name(f"{dest.name}.{secrets.token_hex(4)}.part")
        try:
            digests = _fetch_one(url, tmp, expected, timeout, progress, dest.name)
            bad = [f"{a} mismatch: expected {v}, got {digests[a]}"
                   for a, v in expected.items() if digests[a] != v]
            if bad:
                raise _Failed("; ".join(bad) + " (wrong or damaged file on this mirror)")
            if check is not None:
                try:
                    check(tmp)
                except (UserError, ValueError, OSError, EOFError) as e:
                    raise _Failed(f"downloaded file rejected: {e}") from None
            os.replace(tmp, dest)
            return dest
        except _Failed as e:
            attempts.append((url, str(e)))
        except (OSError, http.client.HTTPException, ValueError) as e:
            attempts.append((url, _describe(e, timeout)))
        finally:
            tmp.unlink(missing_ok=True)  # no-op after a successful rename; runs on Ctrl-C too
    raise DownloadError(dest.name, attempts, dest.parent, looked_in, what)


class _Failed(Exception):
    """Internal: a mirror answered, but not with the complete, expected file (message says why)."""
