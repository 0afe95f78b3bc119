"""``ddpm-edu``: the course's command line. Each sub-command lives in ``ddpm_edu/commands/<name>.py``
and defines ``HELP`` (one line), ``DESCRIPTION`` (the longer text shown by ``--help``),
``add_arguments(parser)`` and ``run(args) -> int``. This file only dispatches, so ``ddpm-edu --help``
starts instantly (torch is imported by the sub-command that needs it)."""
from __future__ import annotations

import argparse
import importlib
import sys

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
}

EPILOG = """examples:
  ddpm-edu sample --checkpoint mnist --n 64 --sampler ddim --steps 50 --out digits.png
  ddpm-edu train --recipe mnist-classroom --out runs/my-first-model
  ddpm-edu train --resume runs/my-first-model
Run 'ddpm-edu COMMAND --help' for what each command does and its options."""


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
    from . import __version__
    parser.add_argument("--version", action="version", version=f"ddpm-edu {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, mod in _available():
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except (UserError, ValueError, TypeError, FileNotFoundError) as e:
        # A UserError is written for the user (a download error lists every mirror tried), so it is
        # printed whole; other errors are cut to their first line.
        msg = str(e).strip() or type(e).__name__
        if not isinstance(e, UserError):
            msg = msg.splitlines()[0]
        print(f"ddpm-edu {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ddpm-edu {args.command}: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
