"""Data-parallel training over several processes (DistributedDataParallel), started by torchrun.

    torchrun --nproc-per-node 2 -m ddpm_edu.cli train --recipe tiny --out runs/tiny-ddp

torchrun starts one process per device and gives each the environment variables RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; :func:`setup` joins the process group from
them (gloo on the CPU, nccl on CUDA GPUs). The training loop then splits each global minibatch of
``batch_size`` examples evenly: every rank draws the whole minibatch's indices, t and ε from the
same seeded generator and keeps its rows (:func:`shard`), so rank r trains on exactly rows
r·B/N … (r+1)·B/N − 1 of what a single process would draw at that step. DDP averages the
gradients, so the update equals the single-process update of the global batch (up to float
rounding of the sum). Without these variables (or with WORLD_SIZE=1) nothing happens: one process.

torch.distributed is imported inside the functions, so importing this module stays instant.
"""
from __future__ import annotations

import os
from typing import NamedTuple

from .errors import InvalidArgument, UserError

__all__ = ["Dist", "setup", "local_device", "shard", "mean_over_ranks", "from_rank0", "wrap",
           "env_rank", "shutdown"]

ENV_VARS = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


class Dist(NamedTuple):
    """This process's place in a data-parallel run: its rank (0 saves and prints) of world."""
    rank: int
    world: int


def env_rank() -> int:
    """The rank torchrun gave this process (RANK), 0 without torchrun."""
    return int(os.environ.get("RANK", "0") or 0)


def _env_world() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1") or 1)
    except ValueError:
        raise UserError(f"WORLD_SIZE={os.environ['WORLD_SIZE']!r} is not a number of processes; "
                        "start data-parallel training with torchrun --nproc-per-node N.") from None


def setup(device) -> Dist:
    """Join the process group of a torchrun launch (once; later calls reuse it) and return this
    process's (rank, world). One process (no torchrun variables, WORLD_SIZE=1): (0, 1)."""
    import torch
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return Dist(dist.get_rank(), dist.get_world_size())
    if _env_world() <= 1:
        return Dist(0, 1)
    missing = [v for v in ENV_VARS if not os.environ.get(v)]
    if missing:
        raise UserError(f"WORLD_SIZE is set but {', '.join(missing)} is not: start data-parallel "
                        "training with torchrun --nproc-per-node N, which sets them all.")
    backend = "nccl" if torch.device(device).type == "cuda" else "gloo"
    if not dist.is_available() or not (dist.is_gloo_available() if backend == "gloo"
                                       else dist.is_nccl_available()):
        raise UserError(f"this torch build has no {backend} backend for torch.distributed; "
                        "train in one process (without torchrun).")
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0") or 0))
    dist.init_process_group(backend)
    return Dist(dist.get_rank(), dist.get_world_size())


def local_device(device):
    """``device`` for this process: a bare "cuda" becomes cuda:LOCAL_RANK (one GPU per process)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


def shard(batch_size: int, where: Dist) -> slice:
    """The rows of a global minibatch of ``batch_size`` that rank ``where.rank`` trains on."""
    if batch_size % where.world:
        raise InvalidArgument(f"batch_size {batch_size} cannot be split evenly over {where.world} "
                              f"processes; use a multiple of {where.world} (the global batch is "
                              "split, each process takes batch_size / N).")
    per = batch_size // where.world
    return slice(where.rank * per, (where.rank + 1) * per)


def mean_over_ranks(value: float) -> float:
    """The mean of a float over all processes (every process gets the same number)."""
    import torch
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t) / dist.get_world_size()


def from_rank0(*values: float) -> tuple:
    """Rank 0's values, on every process (so that all ranks decide alike: clock, Ctrl-C)."""
    import torch
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64)
    dist.broadcast(t, src=0)
    return tuple(t.tolist())


def wrap(net, device):
    """``net`` inside DistributedDataParallel (its gradients are averaged over the processes)."""
    from torch.nn.parallel import DistributedDataParallel

    device = __import__("torch").device(device)
    return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda"
                                   else None)


def shutdown() -> None:
    """Leave the process group, if this process joined one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
