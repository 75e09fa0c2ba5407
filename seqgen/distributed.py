"""Multi-process training on torch.distributed (launched by torchrun), as thin as it can be.

Each rank owns a contiguous slice of the global batch's streams and DistributedDataParallel
averages gradients, so N ranks with batch B/N each step exactly like one process with batch B.
Rank 0 alone evaluates, logs and writes checkpoints; the carried hidden state is gathered to it so
that ``last.pt`` resumes with any number of ranks.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist

from seqgen.errors import SeqgenError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.size > 1

    def rows(self, batch_size: int) -> slice:
        """This rank's streams out of the global batch."""
        if batch_size % self.size:
            raise SeqgenError(f"batch size {batch_size} must be divisible by the {self.size} processes")
        per = batch_size // self.size
        return slice(self.rank * per, (self.rank + 1) * per)


def init_world(device_type: str) -> World:
    """Join the process group torchrun set up (env WORLD_SIZE > 1); a single process otherwise."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    world = World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    if device_type == "cuda":
        torch.cuda.set_device(world.local_rank)
    return world


def agree(flags: list[bool], world: World) -> list[bool]:
    """Each flag becomes true on every rank if it is true on any (one all-reduce for all flags)."""
    if not world.active:
        return flags
    t = torch.tensor([float(f) for f in flags], device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def agree_max(value: float, world: World) -> float:
    """The largest of every rank's ``value``, on every rank."""
    if not world.active:
        return value
    t = torch.tensor([float(value)], device="cuda" if dist.get_backend() == "nccl" else "cpu")
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.item()


def gather_rows(tensor: torch.Tensor, world: World) -> torch.Tensor:
    """Concatenate every rank's slice of a (layers, rows, hidden) state along the rows."""
    if not world.active:
        return tensor
    parts = [torch.empty_like(tensor) for _ in range(world.size)]
    dist.all_gather(parts, tensor.contiguous())
    return torch.cat(parts, dim=1)


def barrier(world: World) -> None:
    if world.active:
        dist.barrier()


def shutdown(world: World) -> None:
    if world.active and dist.is_initialized():
        dist.destroy_process_group()


def launch(nproc: int, argv: list[str]) -> int:
    """Re-run ``seqgen`` under torchrun with ``nproc`` local processes (``--nproc`` flag)."""
    from torch.distributed.run import main as torchrun

    # Share the cores between the processes (torchrun would otherwise pick 1 thread and warn).
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    try:
        torchrun(["--standalone", f"--nproc-per-node={nproc}", "-m", "seqgen", *argv])
    except Exception:  # ChildFailedError: each rank has already printed its own error line
        print(f"Error: distributed training failed in one of its {nproc} processes (see above)", file=sys.stderr)
        return 1
    return 0
