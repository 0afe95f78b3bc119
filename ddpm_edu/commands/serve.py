"""``ddpm-edu serve``: serve an exported web page on this computer."""
from __future__ import annotations

import argparse

from ..errors import UserError

HELP = "serve a page written by export-web on localhost (Ctrl-C stops it)"

DESCRIPTION = """\
Serve the folder written by `ddpm-edu export-web` and print its address. The default address,
127.0.0.1, is reachable from this computer only. To let phones on the same network open the page,
use --host 0.0.0.0 and give them http://<this computer's address>:PORT/ (it is then served to
anyone on that network).

examples:
  ddpm-edu serve site
  ddpm-edu serve site --port 8080 --open"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="the folder written by ddpm-edu export-web")
    parser.add_argument(
        "--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)"
    )
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this computer only)")
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")
    parser.add_argument("--verbose", action="store_true", help="print one line per request")


def run(args) -> int:
    from pathlib import Path

    from ..web.server import make_server

    if not (Path(args.dir) / "index.html").is_file():
        raise UserError(f"{args.dir} has no index.html; write the page first: "
                        f"ddpm-edu export-web --checkpoint mnist --out {args.dir}")
    if not 0 <= args.port <= 65535:
        raise UserError(f"--port must be between 0 and 65535, got {args.port}.")
    try:
        server = make_server(args.dir, args.host, args.port, verbose=args.verbose)
    except OSError as e:
        import errno
        import socket
        if isinstance(e, socket.gaierror) or e.errno == errno.EADDRNOTAVAIL:
            fix = (f"{args.host} is not an address of this computer: use --host 127.0.0.1 (this "
                   "computer only) or --host 0.0.0.0 (every network it is on).")
        else:
            fix = f"the port is probably in use: try --port {args.port + 1} or --port 0."
        raise UserError(f"cannot listen on {args.host}:{args.port} ({e.strerror or e}); "
                        f"{fix}") from None
    host, port = server.server_address[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    url = f"http://{shown}:{port}/"
    print(f"serving {args.dir} at {url}  (Ctrl-C stops)", flush=True)
    if args.open:
        import webbrowser
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped.")
    finally:
        server.server_close()
    return 0
