"""Data-parallel training under ``torchrun``: one process per device, gradients averaged (DDP).

``torchrun --nproc-per-node 2 -m emomon train ...`` starts every rank with ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK`` set. :func:`setup` joins the process group (gloo on CPU, nccl on
CUDA, each rank on its own GPU); every rank then runs the same folds on the same data, each step's
batch is split between the ranks (:func:`local_part`) and only rank 0 writes OUT (:func:`is_main`).
Without ``torchrun`` all of this is a no-op: one process, rank 0 of 1.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ranks:
    """This process's ``rank`` among ``world`` processes, and its ``local_rank`` on its node."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def ranks() -> Ranks:
    """The process group's ranks once joined, else what ``torchrun``'s environment says."""
    if dist.is_available() and dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    env = os.environ
    return Ranks(int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0)))


def is_main() -> bool:
    """Whether this process writes outputs (rank 0, or not distributed)."""
    return ranks().main


def setup(compute: str) -> tuple[Ranks, str]:
    """Join ``torchrun``'s process group when ``WORLD_SIZE > 1``; returns the ranks and the torch
    device this rank trains on (``cuda:LOCAL_RANK`` under CUDA, else ``compute`` unchanged)."""
    r = ranks()
    if r.world <= 1 or dist.is_initialized():
        return r, compute
    cuda = compute != "cpu" and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(r.local_rank)
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    log.info("distributed: rank %d of %d (%s)", r.rank, r.world, "nccl" if cuda else "gloo")
    return ranks(), f"cuda:{r.local_rank}" if cuda else "cpu"


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def local_part(indices, r: Ranks | None = None):  # noqa: ANN001, ANN201 - any sliceable
    """This rank's share ``indices[rank::world]`` of a global batch."""
    r = r or ranks()
    return indices[r.rank :: r.world]


def wrap(module: nn.Module) -> nn.Module:
    """``module`` in :class:`~torch.nn.parallel.DistributedDataParallel` when distributed, else itself."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() <= 1:
        return module
    dev = next(module.parameters()).device
    return nn.parallel.DistributedDataParallel(module, device_ids=[dev.index] if dev.type == "cuda" else None)


def all_sum(value: float) -> float:
    """``value`` summed over the ranks (itself when not distributed)."""
    if not (dist.is_available() and dist.is_initialized()):
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t[0])
