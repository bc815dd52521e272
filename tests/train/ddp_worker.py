"""One rank of a parity run: train each named method for 3 steps, save its parameters.

Run as ``python ddp_worker.py RANK WORLD INIT_FILE OUT_DIR METHOD[:VARIANT] ...``; WORLD 1 is the
one-process reference. Every method trains with the global batch BATCH, split over the ranks.

The method computes in float64 (views are drawn in float32 and cast on entry). In float32 the
pooled batch statistics round differently from one-process ones (~1e-7), and where a
pre-activation lies that close to zero a ReLU flips: measured for moco with the output batch norm,
one ReLU of layer1.1 at the second step moved its gradient by 1 % and the parameters by 2.2e-3
after 3 steps. A kink hit by rounding is not a distribution bug; float64 puts it out of reach, so
a difference above 1e-5 is one.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist

from contrastlab.api.data import prepare_data
from contrastlab.api.training import with_classes
from contrastlab.config import METHOD_RECIPES, load_recipe
from contrastlab.methods import build_method
from contrastlab.train.pairs import temporal_pairs
from contrastlab.train.rundir import RunDir
from contrastlab.train.trainer import Trainer

BATCH, STEPS = 16, 3
TINY = [
    "data.image_size=16",
    "model.width=0.0625",
    "model.head_out_dim=16",
    "train.progress=false",
    f"train.batch_size={BATCH}",
    "train.epochs=1",
    "optim.name=sgd",  # Adam and LARS divide by gradient norms: rounding of ~0 entries shows
    "optim.lr=0.005",  # a wrong gradient moves weights by > 1e-4; rounding stays < 1e-6
    "optim.lr_scaling=none",
    "optim.warmup_epochs=0",
    "method.moco.queue_size=64",
]
SOURCE = {  # data small enough for STEPS steps of BATCH
    "iic": ["data.source=digits", "optim.lr=0.5"],  # its gradients are ~100x smaller
    "looc": ["data.source=digits"],
    "temporal": ["data.source=sequences"],
}
VARIANTS = {  # variant -> extra overrides
    "sync": ["train.sync_bn=true", "method.moco.bn_splits=1"],
    "lse": ["train.sync_bn=true", "method.simclr.loss=logsumexp", "method.simclr.weight=0.5"],
    "swd": ["train.sync_bn=true", "method.simclr.loss=swd_hypersphere", "optim.lr=0.05"],
    "lin": ["train.sync_bn=true", "method.supcon.variant=in"],
    "obn": ["train.sync_bn=true", "method.moco.bn_splits=1", "model.head_output_batchnorm=true"],
    "perrank": ["method.moco.bn_splits=1"],  # per-rank BN: parity impossible (see the test)
}


def overrides(name: str) -> list[tuple[str, object]]:
    import yaml

    method, _, variant = name.partition(":")
    texts = TINY + SOURCE.get(method, [f"data.options.n_train={BATCH * STEPS}"])
    texts += VARIANTS[variant or "sync"]
    return [(key, yaml.safe_load(value)) for key, value in (t.split("=", 1) for t in texts)]


def in_float64(method: torch.nn.Module) -> torch.nn.Module:
    """``method`` in float64, casting every float32 tensor a submodule receives."""

    def widen(module: torch.nn.Module, args: tuple[object, ...]) -> tuple[object, ...]:
        return tuple(
            a.double() if isinstance(a, torch.Tensor) and a.dtype == torch.float32 else a
            for a in args
        )

    for module in method.modules():
        module.register_forward_pre_hook(widen)
    return method.double()


def train(name: str, out: Path, rank: int) -> None:
    method_name = name.partition(":")[0]
    recipe = load_recipe(METHOD_RECIPES[method_name], overrides(name))
    data = prepare_data(recipe.data)
    recipe = with_classes(recipe, data.train)
    method = in_float64(build_method(recipe))
    pairs = (
        temporal_pairs(data.train, recipe.method.temporal.max_gap)
        if method_name == "temporal"
        else None
    )
    run = RunDir(out / f"run-{name.replace(':', '-')}-r{rank}").make()
    trainer = Trainer(recipe, method, data.train, run, torch.device("cpu"), pairs=pairs)
    trainer.steps_per_epoch = STEPS  # exactly STEPS optimiser steps, whatever the data size
    start = {k: p.detach().clone() for k, p in trainer.method.named_parameters()}
    trainer.fit()
    if rank == 0:
        params = {k: p.detach().clone() for k, p in trainer.method.named_parameters()}
        torch.save(
            {"start": start, "params": params, "history": trainer.history}, out / f"{name}.pt"
        )


def main() -> None:
    rank, world, init, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    torch.set_num_threads(1)
    if world > 1:
        dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=world)
    for name in sys.argv[5:]:
        train(name, out, rank)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
