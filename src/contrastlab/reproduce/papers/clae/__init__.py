"""CLAE (Ho & Vasconcelos 2020): SimCLR with and without adversarial (FGSM) views, over seeds.

Both arms train from the CLAE recipe; the baseline sets ``method.name=simclr``, so the two runs
share the backbone, views, optimiser, schedule and seed, and differ only by the adversarial term
(the same seed draws the same views). Judged by kNN top-1 on frozen backbone features, paired
by seed (`evidence.compare`: the gain's 95% interval must lie above 0), after a health check:
a seed whose run does not lie above its own random init (and chance) by the margin did not
learn, and its pair is left out. The extra training time is the ratio of the training seconds.
"""

from __future__ import annotations

from typing import Any

from contrastlab.data.shapes import CLASSES
from contrastlab.reproduce.common import (
    QUICK_EVAL,
    TINY_SHAPES,
    checked_arm,
    datasets_settings,
    fmt,
)
from contrastlab.reproduce.evidence import HEALTH_MARGIN, compare
from contrastlab.reproduce.paper import Context, Paper
from contrastlab.reproduce.papers.clae.claims import GAIN, SOURCES
from contrastlab.reproduce.reproduction_figures import seed_bars
from contrastlab.reproduce.verdict import Finding, finding, mean_spread, skipped

CIFAR10 = ("cifar10-jpg/cifar10-train-jpg.tar.gz", "cifar10-jpg/cifar10-test-jpg.tar.gz")
SCALES: dict[str, dict[str, Any]] = {
    "tiny": {"recipe": "clae_resnet18w0.125_shapes_16e", "seeds": [0, 1], "settings": TINY_SHAPES},
    "small": {
        "recipe": "clae_resnet18w0.125_shapes_16e",
        "seeds": [0, 1, 2],
        # the recipe's 16 epochs and steps (fewer steps stay on the early collapsed plateau) on
        # a quarter of the images and batch: 6 runs in the CPU budget
        "settings": {"data.options": {"n_train": 2500}, "train.batch_size": 64},
    },
    "medium": {
        "recipe": "clae_resnet18w0.125_shapes_16e",
        "seeds": [0, 1, 2],
        "data": CIFAR10,
        # 10,000 CIFAR-10 training images (stratified), SimCLR's CIFAR-10 colour distortion,
        # 8 epochs of 39 steps at 32 px: 6 runs in about 45 minutes of a 2-core CPU
        "settings": {
            "data.limit": 10000,
            "augment.jitter_strength": 0.5,
            "augment.gray_p": 0.2,
            "train.epochs": 8,
        },
    },
    "paper": {
        "recipe": "clae_resnet18_cifar10_100e",
        "seeds": [0, 1, 2],
        "data": CIFAR10,
        "settings": {},
    },
}


def run(ctx: Context) -> list[Finding]:
    p = ctx.settings
    settings = {**QUICK_EVAL, **p["settings"]}
    if "data" in p:
        data = datasets_settings(ctx, *p["data"])
        if data is None:
            return [skipped("kNN gain", GAIN, "CIFAR-10 JPEG not found under --datasets")]
        settings.update(data)
    runs: dict[str, dict[int, str]] = {"SimCLR": {}, "SimCLR + CLAE": {}}
    seconds: dict[str, list[float]] = {"SimCLR": [], "SimCLR + CLAE": []}
    for seed in p["seeds"]:
        for arm, label, extra in (
            ("SimCLR", "simclr", {"method.name": "simclr"}),
            ("SimCLR + CLAE", "clae", {}),
        ):
            metrics = ctx.workspace.train(
                f"{label}-s{seed}", p["recipe"], {**settings, **extra, "train.seed": seed}
            )
            runs[arm][seed] = f"{label}-s{seed}"
            seconds[arm].append(float(metrics["train_seconds"]))
    chance = 1 / (10 if "data.source" in settings else len(CLASSES))
    simclr, clae = (checked_arm(ctx, arm, runs[arm], "knn_top1", chance) for arm in runs)
    knn = {arm.name: list(arm.values.values()) for arm in (simclr, clae)}
    gains = [clae.values[s] - simclr.values[s] for s in p["seeds"]]
    mean_gain, spread = mean_spread(gains)
    slower = mean_spread(seconds["SimCLR + CLAE"])[0] / mean_spread(seconds["SimCLR"])[0]
    figure = seed_bars(
        knn,
        ctx.workspace.figures / "knn_top1.png",
        ylabel="kNN top-1",
        title="same recipe and seed; CLAE adds FGSM views; dots: seeds",
    )
    inits = ", ".join(f"{v:.3f}" for v in simclr.floors.values())
    return [
        finding(
            "kNN gain",
            GAIN,
            f"kNN top-1: SimCLR {fmt(knn['SimCLR'])}; SimCLR + CLAE {fmt(knn['SimCLR + CLAE'])}; "
            f"random init {inits} (by seed), chance {chance:.3f}; "
            f"paired gain {100 * mean_gain:+.2f} ± {100 * spread:.2f} points "
            f"({', '.join(f'{100 * g:+.2f}' for g in gains)}); CLAE trains {slower:.2f}x as long "
            f"({fmt(seconds['SimCLR + CLAE'], 0)} s vs {fmt(seconds['SimCLR'], 0)} s)",
            [
                compare(
                    "CLAE's kNN top-1 gain over SimCLR, paired by seed, is above 0 (seeds that "
                    f"did not learn, {HEALTH_MARGIN:.2f} above random init, left out)",
                    clae,
                    simclr,
                ),
            ],
            [f"figures/{figure.name}"],
        )
    ]


PAPER = Paper(
    name="clae",
    title="Contrastive Learning with Adversarial Examples",
    citation="Ho & Vasconcelos, NeurIPS 2020, arXiv 2010.12050",
    sources=SOURCES,
    setup=(
        "SimCLR and SimCLR + CLAE (one FGSM copy of the first view, eps 0.03 in normalised "
        "units, alpha 1, auxiliary batch norms) from one recipe, the baseline with "
        "method.name=simclr, paired by seed (small: shapes, 2,500 training images, ResNet-18 at "
        "1/8 width, batch 64, 16 epochs, 3 seeds; medium: CIFAR-10, 10,000 training images, "
        "the same network, batch 256, 8 epochs, SimCLR's CIFAR-10 colour distortion, 3 seeds, "
        "the 10,000 test images; paper: CIFAR-10, ResNet-18, 100 epochs, 3 seeds, about 6 GPU "
        "hours on one modern GPU by our estimate: about 20 s a SimCLR epoch, CLAE 2.4x as "
        "long); kNN top-1 (weighted, k=200) on frozen backbone features of the held-out split."
    ),
    scales=SCALES,
    run=run,
)
