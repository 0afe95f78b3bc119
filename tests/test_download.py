"""ddpm_edu.datasets.download against a local HTTP server on 127.0.0.1 (never the internet)."""
from __future__ import annotations

import hashlib
import pickle
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ddpm_edu.datasets import download as dl
from ddpm_edu.errors import UserError

BODY = bytes(range(256)) * 9000 + b"tail"  # ~2.2 MiB: several 1 MiB chunks
SHA256 = hashlib.sha256(BODY).hexdigest()
MD5 = hashlib.md5(BODY).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    requests: list = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        type(self).requests.append(self.path)
        if self.path == "/file.bin":
            self._send(BODY)
        elif self.path == "/other.bin":
            self._send(b"not the file you want")
        elif self.path == "/short.bin":  # announces more than it sends, then hangs up
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[:1000])
            self.close_connection = True
        else:
            self.send_error(404, "Not Found")

    def _send(self, body: bytes):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def closed_url():
    """A URL on a port nobody listens on: connection refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/file.bin"


@pytest.fixture(autouse=True)
def _online(monkeypatch):
    monkeypatch.delenv(dl.OFFLINE_ENV, raising=False)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_streams_verifies_and_creates_folders(server, tmp_path):
    dest = tmp_path / "a" / "b" / "file.bin"
    got = dl.download(f"{server}/file.bin", dest, md5=MD5, sha256=SHA256.upper(), progress=False)
    assert got == dest
    assert dest.read_bytes() == BODY
    assert _leftovers(dest.parent) == ["file.bin"]  # no .part file left beside it


def test_progress_bar_does_not_change_the_result(server, tmp_path, capsys):
    dest = dl.download(f"{server}/file.bin", tmp_path / "f.bin", sha256=SHA256, progress=True)
    assert dest.read_bytes() == BODY
    capsys.readouterr()


def test_mirror_fallback_after_404(server, tmp_path):
    before = len(_Handler.requests)
    dest = dl.download([f"{server}/missing.bin", f"{server}/file.bin"], tmp_path / "f.bin",
                       sha256=SHA256, progress=False)
    assert dest.read_bytes() == BODY
    assert _Handler.requests[before:] == ["/missing.bin", "/file.bin"]


def test_checksum_mismatch_is_an_error_and_leaves_no_file(server, tmp_path):
    dest = tmp_path / "f.bin"
    with pytest.raises(dl.DownloadError) as info:
        dl.download(f"{server}/other.bin", dest, sha256=SHA256, progress=False)
    msg = str(info.value)
    assert "sha256 mismatch" in msg and SHA256 in msg and f"{server}/other.bin" in msg
    assert _leftovers(tmp_path) == []


def test_md5_mismatch_falls_through_to_the_next_mirror(server, tmp_path):
    dest = dl.download([f"{server}/other.bin", f"{server}/file.bin"], tmp_path / "f.bin", md5=MD5,
                       progress=False)
    assert dest.read_bytes() == BODY


def test_transfer_cut_short_leaves_no_file(server, tmp_path):
    # no checksum given: only the Content-Length comparison can notice the missing bytes
    with pytest.raises(dl.DownloadError, match="cut short: received 1000 of"):
        dl.download(f"{server}/short.bin", tmp_path / "f.bin", progress=False)
    assert _leftovers(tmp_path) == []


def test_failed_download_keeps_the_previous_file_intact(server, tmp_path):
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"old version")
    with pytest.raises(dl.DownloadError):
        dl.download([f"{server}/short.bin", f"{server}/other.bin"], dest, sha256=SHA256,
                    progress=False)
    assert dest.read_bytes() == b"old version"
    assert _leftovers(tmp_path) == ["f.bin"]


def test_stale_file_with_wrong_checksum_is_replaced(server, tmp_path):
    dest = tmp_path / "f.bin"
    dest.write_bytes(b"old version")
    dl.download(f"{server}/file.bin", dest, sha256=SHA256, progress=False)
    assert dest.read_bytes() == BODY


def test_ctrl_c_during_download_leaves_no_partial_file(server, tmp_path):
    seen = []

    def interrupt(tmp):
        seen.append(tmp.stat().st_size)  # the whole body is in the temp file at this point
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        dl.download(f"{server}/file.bin", tmp_path / "f.bin", check=interrupt, progress=False)
    assert seen == [len(BODY)]
    assert _leftovers(tmp_path) == []


def test_check_callable_can_reject_a_file(server, tmp_path):
    def reject(tmp):
        raise ValueError("decompressed md5 is wrong")

    with pytest.raises(dl.DownloadError, match="rejected: decompressed md5 is wrong"):
        dl.download(f"{server}/file.bin", tmp_path / "f.bin", check=reject, progress=False)
    assert _leftovers(tmp_path) == []


def test_existing_verified_file_is_used_without_network(closed_url, tmp_path):
    dest = tmp_path / "f.bin"
    dest.write_bytes(BODY)
    assert dl.download(closed_url, dest, sha256=SHA256, progress=False) == dest


def test_every_mirror_failing_gives_an_actionable_error(server, closed_url, tmp_path):
    dest = tmp_path / "weights" / "model.safetensors"
    urls = [closed_url, f"{server}/missing.bin"]
    with pytest.raises(dl.DownloadError) as info:
        dl.download(urls, dest, sha256=SHA256, progress=False, what="pretrained",
                    looked_in=[tmp_path / "somewhere"])
    err = info.value
    assert isinstance(err, UserError)
    first, *rest = str(err).splitlines()
    # the first line alone (what the CLI prints) names the file and where to put it by hand
    assert "model.safetensors" in first and str(dest.parent) in first and "pretrained" in first
    body = "\n".join(rest)
    assert closed_url in body and "connection refused" in body.lower()
    assert f"{server}/missing.bin" in body and "HTTP 404" in body
    assert str(tmp_path / "somewhere") in body and "Offline?" in body
    assert [u for u, _ in err.attempts] == urls and err.folder == dest.parent
    assert str(pickle.loads(pickle.dumps(err))) == str(err)


def test_silent_server_times_out(tmp_path):
    with socket.socket() as s:  # accepts connections (backlog) but never answers
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        url = f"http://127.0.0.1:{s.getsockname()[1]}/f.bin"
        with pytest.raises(dl.DownloadError, match="timed out"):
            dl.download(url, tmp_path / "f.bin", progress=False, timeout=0.3)
    assert _leftovers(tmp_path) == []


def test_offline_switch_skips_the_network(server, tmp_path, monkeypatch):
    monkeypatch.setenv(dl.OFFLINE_ENV, "1")
    before = len(_Handler.requests)
    with pytest.raises(dl.DownloadError, match="DDPM_EDU_OFFLINE"):
        dl.download(f"{server}/file.bin", tmp_path / "f.bin", progress=False)
    assert len(_Handler.requests) == before


def test_file_digest_matches_hashlib(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(BODY)
    assert dl.file_digest(p) == SHA256
    assert dl.file_digest(p, "md5") == MD5
    assert dl.file_digest(p, "sha1") == hashlib.sha1(BODY).hexdigest()
    with pytest.raises(ValueError, match="unknown hash algorithm"):
        dl.file_digest(p, "sha257")


def test_cache_dir_env_var_wins(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.CACHE_ENV, str(tmp_path / "c"))
    assert dl.user_cache_dir() == tmp_path / "c"


@pytest.mark.parametrize("platform, env, expected", [
    ("linux", {"XDG_CACHE_HOME": "/x/cache"}, "/x/cache/ddpm_edu"),
    ("linux", {}, "{home}/.cache/ddpm_edu"),
    ("darwin", {}, "{home}/Library/Caches/ddpm_edu"),
    ("win32", {"LOCALAPPDATA": "/users/me/AppData/Local"}, "/users/me/AppData/Local/ddpm_edu"),
])
def test_platform_cache_dirs(monkeypatch, tmp_path, platform, env, expected):
    monkeypatch.delenv(dl.CACHE_ENV, raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setattr(sys, "platform", platform)
    assert dl.user_cache_dir() == Path(expected.format(home=tmp_path))


def test_search_dirs_order(monkeypatch, tmp_path):
    monkeypatch.setenv(dl.DATA_ENV, str(tmp_path / "data"))
    monkeypatch.setenv(dl.CACHE_ENV, str(tmp_path / "cache"))
    assert dl.search_dirs("mnist") == [tmp_path / "data" / "mnist", dl.repo_data_dir() / "mnist",
                                       tmp_path / "cache" / "mnist"]
    assert dl.search_dirs("mnist", root=tmp_path / "mine") == [tmp_path / "mine"]
    assert (dl.repo_data_dir().parent / "ddpm_edu" / "__init__.py").is_file()
