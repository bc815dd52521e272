"""SupCon (Khosla et al. 2020): supervised contrastive vs cross-entropy vs SimCLR, L_out vs L_in.

Four encoders on the same backbone, augmentation, optimiser, batch and epochs (the shapes CPU
recipes; CIFAR-10 ResNet-50 recipes at paper scale), each over the scale's seeds, compared by
the linear probe on frozen features (the paper's second stage).
"""

from __future__ import annotations

from typing import Any

from contrastlab.reproduce.common import TINY_SHAPES, datasets_settings, fmt, train_seeds
from contrastlab.reproduce.paper import Context, Paper
from contrastlab.reproduce.papers.supcon.claims import RANKING, SOURCES, VARIANTS
from contrastlab.reproduce.reproduction_figures import seed_bars
from contrastlab.reproduce.verdict import Finding, Test, finding, mean_spread, skipped

_SHAPES = {"supcon": "supcon_resnet18w0.125_shapes_16e", "ce": "ce_resnet18w0.125_shapes_16e"}
_SHAPES["simclr"] = "simclr_resnet18w0.125_shapes_16e"
_CIFAR = {
    "supcon": "supcon_resnet50_cifar10_1000e",
    "ce": "ce_resnet50_cifar10_500e",
    "simclr": "simclr_resnet18_cifar10_1000e",
}

SCALES: dict[str, dict[str, Any]] = {
    "tiny": {"recipes": "shapes", "seeds": [0], "settings": TINY_SHAPES},
    # the recipes' 16 epochs (SupCon sits on a collapsed plateau for the first ~300 steps),
    # half the images and batch: about 3 CPU-minutes per run
    "small": {
        "recipes": "shapes",
        "seeds": [0],
        "settings": {"data.options": {"n_train": 5000}, "train.batch_size": 128},
    },
    "paper": {
        "recipes": "cifar10",
        "seeds": [0],
        "settings": {"model.backbone": "resnet50"},  # SimCLR on SupCon's backbone
    },
}


def run(ctx: Context) -> list[Finding]:
    p = ctx.settings
    settings = dict(p["settings"])
    recipes = _SHAPES
    if p["recipes"] == "cifar10":
        data = datasets_settings(
            ctx, "cifar10-jpg/cifar10-train-jpg.tar.gz", "cifar10-jpg/cifar10-test-jpg.tar.gz"
        )
        if data is None:
            reason = "CIFAR-10 JPEG not found under --datasets"
            return [skipped("ranking", RANKING, reason), skipped("L_out vs L_in", VARIANTS, reason)]
        recipes, settings = _CIFAR, {**settings, **data}
    seeds = p["seeds"]
    top1 = {
        "SupCon L_out": train_seeds(
            ctx, "supcon-out", recipes["supcon"], settings, seeds, "linear_top1"
        ),
        "cross-entropy": train_seeds(ctx, "ce", recipes["ce"], settings, seeds, "linear_top1"),
        "SimCLR": train_seeds(ctx, "simclr", recipes["simclr"], settings, seeds, "linear_top1"),
    }
    l_in = {**settings, "method.supcon.variant": "in"}
    top1["SupCon L_in"] = train_seeds(
        ctx, "supcon-in", recipes["supcon"], l_in, seeds, "linear_top1"
    )
    mean = {name: mean_spread(values)[0] for name, values in top1.items()}
    figure = seed_bars(
        top1,
        ctx.workspace.figures / "linear_top1.png",
        ylabel="linear probe top-1",
        title="same backbone, augmentation, optimiser and epochs; dots: seeds",
    )
    figures = [f"figures/{figure.name}"]
    return [_ranking(top1, mean, figures), _variants(top1, mean, figures)]


def _ranking(top1: dict[str, list[float]], mean: dict[str, float], figures: list[str]) -> Finding:
    """SupCon L_out >= cross-entropy > SimCLR, by the mean linear top-1 over seeds."""
    return finding(
        "ranking",
        RANKING,
        "linear top-1: "
        + "; ".join(f"{n} {fmt(top1[n])}" for n in ("SupCon L_out", "cross-entropy", "SimCLR")),
        [
            Test(
                f"SupCon L_out mean {mean['SupCon L_out']:.3f} >= cross-entropy mean "
                f"{mean['cross-entropy']:.3f}",
                mean["SupCon L_out"] >= mean["cross-entropy"],
            ),
            Test(
                f"cross-entropy mean {mean['cross-entropy']:.3f} > SimCLR mean "
                f"{mean['SimCLR']:.3f}",
                mean["cross-entropy"] > mean["SimCLR"],
            ),
        ],
        figures,
    )


def _variants(top1: dict[str, list[float]], mean: dict[str, float], figures: list[str]) -> Finding:
    """L_out > L_in, by the mean linear top-1 over seeds."""
    return finding(
        "L_out vs L_in",
        VARIANTS,
        f"linear top-1: L_out {fmt(top1['SupCon L_out'])}; L_in {fmt(top1['SupCon L_in'])}",
        [
            Test(
                f"L_out mean {mean['SupCon L_out']:.3f} > L_in mean {mean['SupCon L_in']:.3f}",
                mean["SupCon L_out"] > mean["SupCon L_in"],
            )
        ],
        figures,
    )


PAPER = Paper(
    name="supcon",
    title="Supervised Contrastive Learning",
    citation="Khosla et al., NeurIPS 2020, arXiv 2004.11362",
    sources=SOURCES,
    setup=(
        "SupCon (L_out and L_in), cross-entropy and SimCLR trained with the same backbone, "
        "augmentation, optimiser, batch and epochs (small: the shapes CPU recipes, ResNet-18 at "
        "1/8 width, 5,000 training images, batch 128, 16 epochs, one seed; paper: the CIFAR-10 "
        "ResNet-50 recipes), each judged by "
        "an L-BFGS linear probe on frozen backbone features of the held-out split."
    ),
    scales=SCALES,
    run=run,
)
