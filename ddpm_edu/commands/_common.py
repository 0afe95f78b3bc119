"""Helpers shared by the ``ddpm-edu`` sub-commands: argparse errors as one line, option types for
seeds and thread counts, and checks that run before any slow work (an output path that cannot be
written, a device that does not exist), so that a mistake costs seconds, not a finished run."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._files import probe_dir
from ..errors import InvalidArgument, NotWritable

MAX_THREADS = 1024
SEED_MIN, SEED_MAX = -2**63, 2**64 - 1  # what torch.Generator.manual_seed accepts


def one_line_errors(parser: argparse.ArgumentParser) -> None:
    """Make argparse report a bad option as one line with the fix (exit 2) instead of the usage."""
    prog = parser.prog

    def error(message):
        print(f"{prog}: error: {message} (see: {prog} --help)", file=sys.stderr)
        sys.exit(2)

    parser.error = error


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None


def seed(text: str) -> int:
    """argparse type of ``--seed``: a whole number torch can seed a generator with."""
    value = _whole(text)
    if not SEED_MIN <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be a whole number between 0 and 2**64 - 1, got "
                                         f"{text}")
    return value


def threads(text: str) -> int:
    """argparse type of ``--threads``: 1 .. MAX_THREADS."""
    value = _whole(text)
    if not 1 <= value <= MAX_THREADS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_THREADS} (CPU threads), got "
                                         f"{text}")
    return value


def at_most(option: str, value, limit, why: str) -> None:
    """Refuse ``value > limit`` for ``option``, saying why there is a limit."""
    if value is not None and value > limit:
        raise InvalidArgument(f"{option} must be at most {limit:,} ({why}), got {value:,}.")


def writable_dir(text: str, option: str = "--out") -> Path:
    """Check, before any slow work, that files can be written into the folder ``text`` (it is
    created if needed). Returns it as a Path."""
    try:
        return probe_dir(text)
    except OSError as e:
        raise NotWritable(f"cannot write {option} {text} ({e.strerror or e}); choose a folder you "
                          "can write to.") from None


def writable_file(text: str, option: str = "--out") -> Path:
    """Check, before any slow work, that the file ``text`` can be written: it is not a folder, and
    its folder exists or can be created and takes a new file. Returns it as a Path."""
    path = Path(text)
    if path.is_dir():
        raise NotWritable(f"{option} {text} is a folder; give a file name, e.g. "
                          f"{path / ('out' + (path.suffix or '.png'))}.")
    try:
        probe_dir(path.parent)
    except OSError as e:
        raise NotWritable(f"cannot write {option} {text} ({e.strerror or e}); choose a path in a "
                          "folder you can write to.") from None
    return path


def check_device(name: str) -> str:
    """``--device``: a torch device that exists on this computer (cpu, cuda, cuda:N or mps), or
    "auto" (cuda if present, else mps, else cpu); returns the device's name ("auto" resolved)."""
    import torch

    from .._checks import check_device as torch_device
    from ..hardware import resolve_device
    if name == "auto":
        return str(resolve_device("auto"))
    device = torch_device(name)            # a name torch does not know → InvalidArgument
    if device.type not in ("cpu", "cuda", "mps"):
        raise InvalidArgument(f"--device {name!r}: ddpm-edu runs on cpu, cuda or mps.")
    resolve_device(device.type)  # one that is not here → InvalidArgument naming those present
    if device.type == "cuda" and device.index is not None:
        at_most("the GPU number of --device", device.index, torch.cuda.device_count() - 1,
                "GPUs are numbered from 0")
    return name
