"""``ddpm-edu``: the course's command line. Each sub-command lives in
``ddpm_edu/commands/<name>.py`` and defines ``HELP`` (one line), ``DESCRIPTION`` (the longer text
shown by ``--help``), ``add_arguments(parser)`` and ``run(args) -> int``. This file only
dispatches, so ``ddpm-edu --help`` starts instantly (torch is imported by the sub-command that
needs it).

What the error policy (:mod:`ddpm_edu.errors`) means here:

* A user mistake never shows a traceback. A bad option is reported by argparse as one line; a
  :class:`~ddpm_edu.errors.UserError` raised by a command or by the library (InvalidArgument,
  InvalidType, MissingFile, CheckpointError, NotWritable, ...) is printed as
  ``ddpm-edu COMMAND: error: MESSAGE`` (one line, except a download error, which lists every
  mirror it tried) and the exit code is 2.
* An ``OSError`` about a path the user gave on the command line (or a full disk) is a user
  problem too: one line naming the path, exit 2. Running out of memory is reported the same way,
  with the option to make smaller.
* Anything else (a bare ``TypeError`` or ``ValueError`` from inside the library or torch, an
  ``AssertionError``) is a bug in ddpm_edu and is never disguised as a user mistake: one line says
  so, asks for a report, and the exit code is 1.
* ``--debug`` (before or after the command) or the environment variable ``DDPM_EDU_DEBUG=1``
  prints the full traceback as well. Ctrl-C exits with 130.
"""
from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import traceback
from pathlib import Path

from .commands._common import one_line_errors
from .errors import UserError

# sub-command name → module in ddpm_edu.commands (in the order --help lists them)
COMMANDS = {
    "train": "train",
    "sample": "sample",
    "gif": "gif",
    "eval": "evaluate",
    "diagnose": "diagnose",
    "export-web": "export_web",
    "serve": "serve",
    "compare-web": "compare_web",
    "time-web": "time_web",
    "train-classifier": "train_classifier",
}

EPILOG = """examples:
  ddpm-edu sample --checkpoint mnist --n 64 --sampler ddim --steps 50 --out digits.png
  ddpm-edu train --recipe mnist-classroom --out runs/my-first-model
  ddpm-edu train --resume runs/my-first-model
Run 'ddpm-edu COMMAND --help' for what each command does and its options.
Errors are one line; add --debug (or set DDPM_EDU_DEBUG=1) to see the full traceback."""

DEBUG_HELP = "on an error, print the full Python traceback too (also: DDPM_EDU_DEBUG=1)"
# OSError numbers that are about the user's computer, whatever the path: a full or read-only disk
_DISK_ERRNOS = {errno.ENOSPC, errno.EROFS, getattr(errno, "EDQUOT", errno.ENOSPC)}


def _available():
    for name, mod in COMMANDS.items():
        try:
            yield name, importlib.import_module(f"ddpm_edu.commands.{mod}")
        except ModuleNotFoundError as e:
            if e.name != f"ddpm_edu.commands.{mod}":
                raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ddpm-edu",
        description="Train, sample, animate and evaluate the DDPM models of the ddpm_edu course.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    one_line_errors(parser)
    from . import __version__
    parser.add_argument("--version", action="version", version=f"ddpm-edu {__version__}")
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, mod in _available():
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        one_line_errors(p)
        mod.add_arguments(p)
        # SUPPRESS: when not given after the command, the top-level value is kept
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)
        p.set_defaults(_run=mod.run)
    return parser


def _user_paths(args) -> list[Path]:
    """Every path-like value given on the command line (strings and lists of strings)."""
    values = []
    for key, value in vars(args).items():
        if key.startswith("_"):
            continue
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and v:
                values.append(Path(os.path.abspath(v)))
    return values


def _about_user_path(e: OSError, args) -> bool:
    if e.errno in _DISK_ERRNOS:
        return True
    names = [Path(os.path.abspath(os.fsdecode(f))) for f in (e.filename, e.filename2)
             if isinstance(f, (str, bytes, os.PathLike))]
    paths = _user_paths(args)
    # the path itself, a folder above it (mkdir), or a file beside it (a temporary file)
    return any(n == p or n in p.parents or n.parent == p.parent or p in n.parents
               for n in names for p in paths)


def _out_of_memory(e: BaseException) -> bool:
    if isinstance(e, MemoryError) or (isinstance(e, OSError) and e.errno == errno.ENOMEM):
        return True
    torch = sys.modules.get("torch")
    oom = getattr(torch, "OutOfMemoryError", ()) if torch is not None else ()
    return (oom and isinstance(e, oom)) or (
        isinstance(e, RuntimeError) and "can't allocate memory" in str(e))


def _message(e: BaseException, args) -> tuple[int, str]:
    """Exit code and the one line (see the module docstring) for an error a command raised."""
    if isinstance(e, UserError):  # written for the user: printed whole
        return 2, str(e).strip() or type(e).__name__
    if isinstance(e, OSError) and _about_user_path(e, args):
        where = f" {e.filename}" if e.filename is not None else ""
        return 2, f"cannot use{where}: {e.strerror or e}; check the path and its permissions."
    if _out_of_memory(e):
        return 2, ("out of memory: the request is too large for this computer; use a smaller --n, "
                   "--batch-size or image size.")
    first = (str(e).strip().splitlines() or [""])[0][:200]
    return 1, (f"internal error ({type(e).__name__}: {first}) — this is a bug in ddpm_edu, please "
               "report it; run again with --debug for the traceback.")


def _debug(args) -> bool:
    env = os.environ.get("DDPM_EDU_DEBUG", "")
    return bool(getattr(args, "debug", False)) or env not in ("", "0")


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        if _debug(args):
            traceback.print_exc()
        print(f"ddpm-edu {args.command}: interrupted.", file=sys.stderr)
        return 130
    except Exception as e:
        code, msg = _message(e, args)
        if _debug(args):
            traceback.print_exc()
        print(f"ddpm-edu {args.command}: error: {msg}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
