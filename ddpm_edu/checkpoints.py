"""Checkpoints that survive crashes and rebuild their model on their own.

A run folder holds two files:

``model.safetensors``
    The EMA weights (the model you sample from) in safetensors, which loads without running any
    code. Its metadata carries the whole run description as JSON strings: the network config
    (``ddpm_edu.nets.build_network`` rebuilds the network from it), the schedule config
    (``Schedule.to_config()``), mean and variance type, the TrainConfig, the data's shape and
    SHA-256, the step and the ddpm_edu version. This file alone is a usable model.
``resume.pt``
    What continuing the run needs beyond that: the raw (non-EMA) weights, the EMA weights, the
    AdamW state, the step, every random-generator state and the loss history. Plain tensors,
    dicts, lists and strings only, so ``torch.load(..., weights_only=True)`` reads it.

Every write goes through :func:`ddpm_edu._files.atomic_write`: a temporary file in the same folder,
flushed to disk (fsync) and renamed over the old file (``os.replace`` is atomic), so a crash,
Ctrl-C or ``kill -9`` at any moment leaves either the old or the new file, never half of one.
``resume.pt`` is written first and is self-contained: resuming reads only it.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import torch
from torch import nn

# atomic_write and sha256_file are re-exported: checkpoints.atomic_write works as before
from ._files import atomic_write, probe_dir, sha256_file
from .errors import NotWritable, UserError

__all__ = ["MODEL_FILE", "RESUME_FILE", "CheckpointError", "save_run", "save_model",
           "read_metadata", "load_model", "build_model", "load_resume_state", "has_checkpoint",
           "check_same_run", "model_path", "prepare_run_dir", "sha256_file", "atomic_write"]

MODEL_FILE = "model.safetensors"
RESUME_FILE = "resume.pt"
FORMAT = "ddpm_edu.checkpoint.v1"


class CheckpointError(UserError):
    """A checkpoint is missing, unreadable, from another run, or of an unknown format."""


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------

def _metadata(description: dict, step: int) -> dict:
    from . import __version__
    meta = {"format": FORMAT, "ddpm_edu_version": __version__, "step": str(int(step)),
            "weights": "ema"}
    for key, value in description.items():
        meta[key] = json.dumps(value)
    return meta


def save_model(path, state_dict: dict, description: dict, step: int) -> None:
    """Write weights + run description as one safetensors file (atomically)."""
    from safetensors.torch import save as st_save
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in state_dict.items()}
    blob = st_save(tensors, metadata=_metadata(description, step))
    atomic_write(path, lambda f: f.write(blob))


def save_run(out_dir, *, net: nn.Module, ema_net: nn.Module, optimizer, step: int, rng: dict,
             loss_history, description: dict) -> None:
    """Write ``resume.pt`` (everything to continue) and then ``model.safetensors`` (EMA weights)."""
    out_dir = Path(out_dir)
    for name in (RESUME_FILE, MODEL_FILE):  # temp files of a write that a kill interrupted
        for stale in out_dir.glob(f".{name}.*.tmp"):
            stale.unlink(missing_ok=True)
    state = {
        "format": FORMAT,
        "step": int(step),
        "description": json.dumps(description),
        "net": {k: v.detach().cpu() for k, v in net.state_dict().items()},
        "ema": {k: v.detach().cpu() for k, v in ema_net.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "rng": {k: v.clone() for k, v in rng.items()},
        "loss_history": torch.tensor(list(loss_history), dtype=torch.float64),
    }
    atomic_write(out_dir / RESUME_FILE, lambda f: torch.save(state, f))
    save_model(out_dir / MODEL_FILE, ema_net.state_dict(), description, step)


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------

def model_path(path) -> Path:
    """A run folder → its ``model.safetensors``; a file path stays as it is. Missing → clear
    error."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
        if not path.exists():
            raise CheckpointError(
                f"{path.parent} has no {MODEL_FILE}: is it a training run folder? "
                "Train one with: ddpm-edu train --recipe tiny --out "
                f"{path.parent}"
            )
    elif not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; give a run folder or a "
                              ".safetensors file written by ddpm-edu train.")
    return path


def _corrupted(path: Path, err: Exception, fix: str) -> CheckpointError:
    return CheckpointError(
        f"{path} is corrupted or truncated ({type(err).__name__}: "
        f"{str(err).splitlines()[0][:120] if str(err) else 'no details'}); {fix}"
    )


def read_metadata(path) -> dict:
    """The run description stored in a ``.safetensors`` checkpoint, JSON values decoded.

    Keys: network, schedule, mean_type, var_type, train, data, extra, step, format,
    ddpm_edu_version.
    """
    from safetensors import safe_open
    path = model_path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types for bad headers
        raise _corrupted(path, e, "delete it and copy or train it again (a shipped model: "
                                  f"git checkout {path}).") from None
    if raw.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a ddpm_edu checkpoint (format {raw.get('format')!r}, "
            f"expected {FORMAT!r}); load it with the version of ddpm_edu that wrote "
            "it, or retrain."
        )
    meta = {}
    for key, value in raw.items():
        if key in ("format", "ddpm_edu_version", "weights"):
            meta[key] = value
        elif key == "step":
            meta[key] = int(value)
        else:
            try:
                meta[key] = json.loads(value)
            except json.JSONDecodeError as e:
                raise _corrupted(
                    path, e, "its metadata is not valid JSON; retrain or restore it."
                ) from None
    return meta


def build_model(network_config: dict | None, build: Callable | None = None) -> nn.Module:
    """A fresh network from its saved config: ``build(config)`` if given, else ddpm_edu.nets."""
    if network_config is None:
        raise CheckpointError(
            "this checkpoint has no network config, so it cannot rebuild its network."
        )
    # the random initial weights are overwritten at once: do not let them use up the caller's RNG
    with torch.random.fork_rng(devices=[]):
        if build is not None:
            return build(dict(network_config))
        from .nets import build_network
        try:
            return build_network(dict(network_config))
        except ValueError as e:
            raise CheckpointError(
                f"cannot rebuild the network {network_config.get('kind')!r} of this "
                f"checkpoint ({e}); for your own network class pass build=... ."
            ) from None


def load_model(path, build: Callable | None = None, device="cpu") -> tuple[nn.Module, dict]:
    """Rebuild the network of a checkpoint with its EMA weights, in eval mode.

    ``path``: a run folder or a ``.safetensors`` file. Returns (network, metadata) where metadata
    is :func:`read_metadata`'s dict (so ``schedule_from_config(meta["schedule"])`` gives the
    schedule).
    """
    from safetensors.torch import load_file
    path = model_path(path)
    meta = read_metadata(path)
    try:
        state = load_file(str(path), device=str(device))
    except Exception as e:
        raise _corrupted(path, e, "delete it and copy or train it again (a shipped model: "
                                  f"git checkout {path}).") from None
    net = build_model(meta.get("network"), build).to(device)
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"the weights in {path} do not fit the network its config describes "
                              f"(missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]}); "
                              "the file was probably written by another version: retrain it.")
    return net.eval().requires_grad_(False), meta


def has_checkpoint(out_dir) -> bool:
    """True when ``out_dir`` holds a resumable run (a ``resume.pt``)."""
    return (Path(out_dir) / RESUME_FILE).exists()


def prepare_run_dir(out_dir, resume: bool = False) -> Path:
    """Make sure checkpoints can be written to ``out_dir`` before training starts, so that a
    folder that cannot be written fails now, not at the first save with the steps lost.

    Creates the folder if needed and writes and deletes a probe file in it. Without ``resume`` a
    folder that already holds a run is refused (a new run would overwrite it). Raises
    :class:`~ddpm_edu.errors.NotWritable` or :class:`UserError` with the fix."""
    out_dir = Path(out_dir)
    if resume and not out_dir.is_dir():
        return out_dir  # nothing to resume: load_resume_state says so, without a new empty folder
    if not resume and has_checkpoint(out_dir):
        raise UserError(f"{out_dir} already holds a training run; continue it with "
                        f"--resume {out_dir} (resume=True), or choose another output folder.")
    try:
        probe_dir(out_dir)
    except OSError as e:
        raise NotWritable(f"cannot write checkpoints to {out_dir} ({e.strerror or e}); choose a "
                          "folder you can write to (--out DIR, or out_dir=...).") from None
    return out_dir


def load_resume_state(out_dir) -> dict:
    """Read ``resume.pt`` of a run folder (weights_only: no code runs). ``description`` is
    decoded."""
    out_dir = Path(out_dir)
    path = out_dir / RESUME_FILE
    if not path.exists():
        hint = (f" (it has {MODEL_FILE}, which can be sampled from but not resumed)"
                if (out_dir / MODEL_FILE).exists() else "")
        raise CheckpointError(
            f"nothing to resume in {out_dir}: {RESUME_FILE} is missing{hint}. Start "
            "a new run with --out instead of --resume."
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise _corrupted(path, e, f"this run cannot be resumed; start a new run (its {MODEL_FILE} "
                                  "may still be sampled from).") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a ddpm_edu resume file of format {FORMAT!r}; start a "
                              "new run.")
    state["description"] = json.loads(state["description"])
    return state


def _differences(saved, given, prefix: str) -> list[str]:
    if isinstance(saved, dict) and isinstance(given, dict):
        out = []
        for key in sorted(set(saved) | set(given), key=str):
            out += _differences(
                saved.get(key), given.get(key), f"{prefix}.{key}" if prefix else str(key)
            )
        return out
    return [] if saved == given else [f"{prefix} (saved {_short(saved)}, now {_short(given)})"]


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_same_run(out_dir, saved: dict, given: dict, allowed_train_changes=()) -> None:
    """Raise :class:`CheckpointError` naming every field in which ``given`` differs from the saved
    run description (fields of the TrainConfig listed in ``allowed_train_changes`` may differ)."""
    saved = json.loads(json.dumps(saved))  # the same normalisation (tuples → lists) on both sides
    given = json.loads(json.dumps(given))
    for d in (saved, given):
        for name in allowed_train_changes:
            d.get("train", {}).pop(name, None)
        d.pop("extra", None)
    diff = _differences(saved, given, "")
    if diff:
        raise CheckpointError(
            f"cannot resume {out_dir}: the run now differs from the saved one in "
            f"{'; '.join(diff)}. Resume with the saved settings, or start a new run "
            "in another folder."
        )
