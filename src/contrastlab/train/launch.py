"""Joining a torchrun launch: the process group, this process's device, and leaving it.

``torchrun --nproc_per_node N [--nnodes M --rdzv-endpoint HOST:PORT] -m contrastlab train ...``
starts one process per device and sets RANK, LOCAL_RANK, WORLD_SIZE and the rendezvous address in
each one's environment; `join` reads them and initialises ``torch.distributed`` (NCCL on CUDA,
gloo on the CPU). Without torchrun, or with one process, nothing is initialised and training is
the one-process loop.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from contrastlab.core.errors import ConfigError

__all__ = ["Launch", "barrier", "from_environment", "join", "leave"]


@dataclass(frozen=True)
class Launch:
    """What torchrun told this process."""

    rank: int
    local_rank: int
    world: int
    restarts: int  # TORCHELASTIC_RESTART_COUNT: > 0 when torchrun restarted the workers

    @property
    def writes(self) -> bool:
        """Rank 0 writes the run directory; the other ranks only compute."""
        return self.rank == 0


def from_environment(environ: dict[str, str] | None = None) -> Launch:
    """This process's place in a torchrun launch (rank 0 of 1 when not launched by torchrun)."""
    env = os.environ if environ is None else environ

    def number(name: str, default: int) -> int:
        text = env.get(name, str(default))
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"environment variable {name}={text!r} is not an integer") from None

    world = number("WORLD_SIZE", 1)
    return Launch(
        rank=number("RANK", 0),
        local_rank=number("LOCAL_RANK", 0),
        world=world,
        restarts=number("TORCHELASTIC_RESTART_COUNT", 0),
    )


def join(launch: Launch, device: torch.device) -> torch.device:
    """Initialise the process group of a multi-process launch; the device this rank uses
    (``cuda:LOCAL_RANK`` on GPUs). One process: ``device`` unchanged, nothing initialised."""
    if launch.world == 1:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", launch.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        timeout = timedelta(minutes=30)
        store, _, _ = next(dist.rendezvous("env://", timeout=timeout))
        # torchrun's agent keeps one store for all attempts: a restarted group that read the
        # killed attempt's gloo/NCCL addresses would fail to connect, so each attempt has its own
        # keys (restart counts agree across nodes: every agent restarts its workers together)
        attempt = dist.PrefixStore(f"contrastlab/attempt-{launch.restarts}", store)
        dist.init_process_group(
            backend, store=attempt, rank=launch.rank, world_size=launch.world, timeout=timeout
        )
    return device


def barrier() -> None:
    """Wait for every rank (no-op in one process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def leave() -> None:
    """Wait for every rank, then tear the process group down (no-op in one process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
