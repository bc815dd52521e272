"""One entry per method: every fact about it that code outside `contrastlab.methods` needs.

The command line (its choices and `contrastlab train METHOD`'s recipe), the recipe schema (which
``method.<section>:`` settings a method reads, its checks), the recipe loader (CPU and GPU
recipes) and the trainer (labels, frame sequences, the queue's batch-norm split, DDP's unused
parameters) all read this table, and none of them compares a method's name. It holds plain
facts only, so the command line reads it without importing torch; ``builder`` names the
function in `contrastlab.methods` that makes the network (`contrastlab.methods.build_method`).
A new method is one entry here and one module in `contrastlab.methods`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["METHODS", "MethodEntry", "entry"]


@dataclass(frozen=True)
class MethodEntry:
    """What a method is to the rest of contrastlab."""

    name: str  # `method.name` in a recipe, `contrastlab train NAME`
    summary: str  # one line: what it trains, and the paper
    builder: str  # "MODULE:FUNCTION" in contrastlab.methods: FUNCTION(recipe) -> nn.Module
    cpu_recipe: str  # `contrastlab train NAME` trains this bundled recipe
    gpu_recipe: str  # the full-size recipe the CPU one stands in for
    sections: tuple[str, ...] = ()  # the `method.<section>:` settings it reads
    queue: bool = False  # a MoCo queue and momentum encoder (method.moco's batch rules apply)
    wraps: str | None = None  # "SECTION.KEY" naming the method it wraps, whose facts it shares
    labels: bool = False  # trains on class labels (supervised)
    sequences: bool = False  # positives are neighbouring frames of a sequence
    unused_parameters: bool = False  # some parameters get no gradient in a step (DDP must know)
    symmetric_queue: bool = True  # method.moco.symmetric may be true
    simclr_losses: tuple[str, ...] | None = None  # the method.simclr.loss values it allows


_ENTRIES = (
    MethodEntry(
        "simclr",
        "SimCLR: NT-Xent between two views of each image (Chen et al. 2020)",
        "simclr:build_simclr",
        "simclr_resnet18w0.125_shapes_16e",
        "simclr_resnet18_cifar10_1000e",
        sections=("simclr",),
    ),
    MethodEntry(
        "moco",
        "MoCo v2: InfoNCE against a queue of momentum-encoded keys (He et al. 2020)",
        "moco:build_moco",
        "moco_resnet18w0.125_shapes_16e",
        "moco_resnet18_cifar10_200e",
        sections=("moco",),
        queue=True,
    ),
    MethodEntry(
        "supcon",
        "SupCon: every same-class view is a positive, L_out or L_in (Khosla et al. 2020)",
        "supcon:build_supcon",
        "supcon_resnet18w0.125_shapes_16e",
        "supcon_resnet50_cifar10_1000e",
        sections=("supcon",),
        labels=True,
    ),
    MethodEntry(
        "ce",
        "cross-entropy: the supervised baseline of SupCon and of the transfer studies",
        "supcon:build_cross_entropy",
        "ce_resnet18w0.125_shapes_16e",
        "ce_resnet50_cifar10_500e",
        labels=True,
    ),
    MethodEntry(
        "iic",
        "IIC: mutual information between the cluster heads of two views (Ji et al. 2019)",
        "iic:build_iic",
        "iic_resnet18w0.125_digits_200e",
        "iic_resnet18_mnist_3200e",
        sections=("iic",),
        unused_parameters=True,
    ),
    MethodEntry(
        "clae",
        "CLAE: adds FGSM adversarial views to SimCLR or MoCo (Ho and Vasconcelos 2020)",
        "clae:build_clae",
        "clae_resnet18w0.125_shapes_16e",
        "clae_resnet18_cifar10_100e",
        sections=("clae", "simclr", "moco"),
        wraps="clae.base",
        simclr_losses=("nt_xent",),  # its attack maximises NT-Xent
    ),
    MethodEntry(
        "looc",
        "LooC: one embedding space per left-out augmentation (Xiao et al. 2021)",
        "looc:build_looc",
        "looc_resnet18w0.125_digits_100e",
        "looc_resnet50_imagenet100_500e",
        sections=("looc", "moco"),
        queue=True,
        symmetric_queue=False,
    ),
    MethodEntry(
        "temporal",
        "temporal positives: MoCo with a neighbouring frame as the positive",
        "moco:build_temporal",
        "temporal_resnet18w0.125_sequences_16e",
        "temporal_resnet50_frames_200e",
        sections=("temporal", "moco"),
        queue=True,
        sequences=True,
    ),
)

METHODS: Mapping[str, MethodEntry] = {method.name: method for method in _ENTRIES}


def entry(name: str) -> MethodEntry:
    """The entry of ``name``; KeyError naming the valid ones otherwise."""
    try:
        return METHODS[name]
    except KeyError:
        raise KeyError(f"unknown method {name!r}; valid: {', '.join(METHODS)}") from None
