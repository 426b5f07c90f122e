"""Data-parallel training through torch.distributed (docs/TORCH.md): the
process group torchrun describes in the environment (WORLD_SIZE, RANK,
LOCAL_RANK, MASTER_ADDR/PORT), gloo on CPU and NCCL on CUDA, and which
chunks of the global batch a rank trains.  Every rank draws the whole global
batch from the same seeded RNG and keeps its own contiguous share, so the
run's data, and (up to float summation order) its weights, are those of one
process with the same global batch."""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's rank among `size` processes and the device it trains on."""
    rank: int
    size: int
    device: torch.device

    @property
    def leader(self) -> bool:
        """Rank 0 writes the log, checkpoints and the model file."""
        return self.rank == 0

    def share(self, batch: int) -> slice:
        """The chunks of a global batch this rank trains (batch must divide evenly)."""
        if batch % self.size:
            raise ValueError(f"--batch {batch} does not split over {self.size} processes: give a multiple of "
                             f"{self.size}")
        per = batch // self.size
        return slice(self.rank * per, (self.rank + 1) * per)

    def mean(self, value: float) -> float:
        """The mean of a per-rank scalar over every rank."""
        if self.size == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return float(t[0]) / self.size


def device_for(name: str) -> torch.device:
    """torch.device of a --device name; ValueError with the reason where it cannot run here."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: CUDA is not available here (torch {torch.__version__}, "
                         f"{'built without CUDA' if torch.version.cuda is None else 'no GPU or driver found'})")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"--device {name}: only cpu and cuda are supported")
    return device


def join(device_name: str) -> World:
    """This process's World: one plain process when WORLD_SIZE is unset, else a member of the
    process group torchrun set up (NCCL on CUDA, one GPU per local rank; gloo on CPU), joined
    once; under torchrun even one process trains through the group (DDP)."""
    device = device_for(device_name)
    if "WORLD_SIZE" not in os.environ:
        return World(0, 1, device)
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), device)


def leave(finished: bool) -> None:
    """Leave the process group (if this process joined one): after a barrier when every rank
    ended its training at the same point (finished), so no rank tears its connections down while
    another still holds them (with gloo a rank died of SIGABRT in a busy test run); without one
    when this rank failed alone (the others would wait in the barrier; torchrun stops them)."""
    if not dist.is_initialized():
        return
    if finished:
        dist.barrier()
    dist.destroy_process_group()
