"""A small static web server for an exported page (``ddpm-edu serve DIR``).

Plain ``python -m http.server`` works too. This one adds what the page benefits from:

- the right types for ``.mjs`` (JavaScript: browsers refuse modules served as text/plain) and
  ``.wasm`` (``application/wasm``, so the runtime compiles it while it downloads);
- ``Cross-Origin-Opener-Policy: same-origin`` + ``Cross-Origin-Embedder-Policy: require-corp``:
  the page is then "cross-origin isolated", which lets ONNX Runtime Web use several threads
  (browsers allow that only on localhost or HTTPS);
- ``Cache-Control: no-cache``, so a re-exported model is picked up on reload;
- one line per request only with ``verbose``.
"""
from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from ..errors import MissingFile

__all__ = ["make_server", "serve_in_thread", "TYPES"]

TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".mjs": "text/javascript; charset=utf-8", ".json": "application/json",
         ".wasm": "application/wasm", ".onnx": "application/octet-stream",
         ".bin": "application/octet-stream", ".md": "text/plain; charset=utf-8"}


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}
    verbose = False

    def end_headers(self):
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format, *args):
        if self.verbose:
            super().log_message(format, *args)


def make_server(directory, host: str = "127.0.0.1", port: int = 8000,
                verbose: bool = False) -> http.server.ThreadingHTTPServer:
    """A server for the files under ``directory`` on ``host:port`` (port 0: any free port; read the
    chosen one from ``server.server_address``). Raises OSError if the port is taken."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MissingFile(f"{directory} is not a folder; export a page first: "
                                f"ddpm-edu export-web --checkpoint mnist --out {directory}")
    handler = functools.partial(type("Handler", (_Handler,), {"verbose": verbose}),
                                directory=str(directory))
    server = http.server.ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve_in_thread(directory, host: str = "127.0.0.1", port: int = 0):
    """Start :func:`make_server` in a daemon thread; returns (server, base URL). Stop it with
    ``server.shutdown(); server.server_close()``."""
    server = make_server(directory, host, port)
    threading.Thread(target=server.serve_forever, name="ddpm-edu-serve", daemon=True).start()
    h, p = server.server_address[:2]
    return server, f"http://{h}:{p}/"
