"""Neyshabur, Sedghi & Zhang 2020: what is being transferred in transfer learning?

An encoder pretrained on one dataset (SimCLR on `shapes`; on CIFAR-10 at paper scale) is
fine-tuned on another (scikit-learn's handwritten `digits`; MNIST at paper scale) beside the
same network trained from random initialisation (P-T vs RI-T), and compared as the paper does:
on block-shuffled targets (accuracy gap and optimisation speed per block size), along the
straight line between two fine-tuned models, by CKA and parameter distance between pairs, and by
module criticality.
"""

from __future__ import annotations

from typing import Any

from contrastlab.reproduce.common import QUICK_EVAL, TINY_SHAPES, datasets_settings
from contrastlab.reproduce.paper import Context, Paper
from contrastlab.reproduce.papers.transfer.claims import (
    BASIN,
    CRITICAL,
    GAP,
    SIMILAR,
    SOURCES,
    SPEED,
)
from contrastlab.reproduce.papers.transfer.findings import (
    basin_finding,
    criticality_finding,
    gap_finding,
    similarity_finding,
    speed_finding,
)
from contrastlab.reproduce.papers.transfer.steps import (
    pair_similarity,
    sweep_figures,
    sweep_summary,
)
from contrastlab.reproduce.verdict import Finding, skipped

CLAIMS = {"gap": GAP, "speed": SPEED, "basin": BASIN, "similarity": SIMILAR}
CLAIMS["criticality"] = CRITICAL

SHAPES_RECIPE = "simclr_resnet18w0.125_shapes_16e"
CIFAR_RECIPE = "simclr_resnet18_cifar10_1000e"
CIFAR = ("cifar10-jpg/cifar10-train-jpg.tar.gz", "cifar10-jpg/cifar10-test-jpg.tar.gz")
MNIST = "mnist-test/t10k-images-idx3-ubyte.gz"
CKA_FIGURES = ("cka_pt_pairs.png", "cka_rit_pairs.png")  # written by pair_similarity
PERMUTATION_SEED = 1234  # + the seed, as the paper's p200_pix_shuffle configs

SCALES: dict[str, dict[str, Any]] = {
    "tiny": {
        "recipe": SHAPES_RECIPE,
        "pretrain": TINY_SHAPES,
        "target": "digits",
        "finetune": {"data.limit": 60, "data.eval_limit": 40, "eval.finetune_epochs": 2},
        "fraction": 1.0,
        "every": 1,
        "blocks": [16, 1],
        "seeds": [0],
    },
    "small": {
        "recipe": SHAPES_RECIPE,
        "pretrain": {"train.epochs": 16},  # the recipe as it is: 32 px, 16 epochs
        # digits are 8x8: 16 px loses nothing, and a fine-tune costs a quarter of one at 32 px
        "finetune": {"data.image_size": 16, "eval.finetune_epochs": 30},
        "target": "digits",
        "fraction": 0.1,
        "every": 1,
        "blocks": [16, 8, 4, 2, 1],
        "seeds": [0, 1, 2],
    },
    "paper": {
        "recipe": CIFAR_RECIPE,
        "pretrain": {},
        "target": MNIST,  # under --datasets; 20% held out (only the test split is shared)
        "finetune": {"eval.finetune_epochs": 100},
        "fraction": 0.1,
        "every": 5,
        "blocks": [32, 16, 8, 4, 2, 1],
        "seeds": [0, 1, 2],
    },
}


def _skip_all(reason: str) -> list[Finding]:
    return [skipped(name, claim, reason) for name, claim in CLAIMS.items()]


def _block_shuffle(
    ctx: Context, flags: list[str], finetune: dict[str, Any]
) -> dict[int, list[dict[str, Any]]]:
    """`analyze speed` of the pretrained run on the block-shuffled target, per block size and
    seed (in that order): block size -> the seeds' JSONs."""
    p, ws = ctx.settings, ctx.workspace
    runs: dict[int, list[dict[str, Any]]] = {}
    for block in p["blocks"]:
        for seed in p["seeds"]:
            probe = {"block": block, "seed": PERMUTATION_SEED + seed}
            shuffled = {**finetune, "train.seed": seed, "data.probe": "blockshuffle"}
            # no crop/flip: it would not follow the fixed block permutation (as in the paper)
            shuffled["eval.finetune_augment"] = False
            speed = ws.analyze(
                f"speed-b{block}-s{seed}",
                "speed",
                "pretrain",
                [*flags, "--every", str(p["every"])],
                {**shuffled, "data.probe_options": probe},
            )
            runs.setdefault(block, []).append(speed)
    return runs


def run(ctx: Context) -> list[Finding]:
    p, ws = ctx.settings, ctx.workspace
    pretrain, target = {**QUICK_EVAL, **p["pretrain"]}, str(p["target"])
    if p["recipe"] == CIFAR_RECIPE:
        data, mnist = datasets_settings(ctx, *CIFAR), ctx.dataset(MNIST)
        if data is None or mnist is None:
            return _skip_all("CIFAR-10 JPEG or the MNIST test split not found under --datasets")
        pretrain, target = {**pretrain, **data}, str(mnist)
    metrics = ws.train("pretrain", p["recipe"], pretrain)
    fraction, finetune = float(p["fraction"]), dict(p["finetune"])
    flags = ["--data", target, "--fraction", f"{fraction:g}"]
    sweep = sweep_summary(_block_shuffle(ctx, flags, finetune))
    interpolation = ws.analyze("interpolation", "interpolation", "pretrain", flags, finetune)
    criticality = ws.analyze("criticality", "criticality", "pretrain", flags, finetune)
    overrides = [("data.source", target), *finetune.items()]
    pairs_dir = ws.root / "steps" / "similarity"
    similarity = ws.cached(
        "similarity",
        lambda: pair_similarity(ws.run_dir("pretrain"), overrides, fraction, pairs_dir),
    )

    blocks, size = list(p["blocks"]), max(p["blocks"])
    curves = [f"figures/{f.name}" for f in sweep_figures(sweep, blocks, ws.figures)]
    steps, first = ws.root / "steps", min(p["seeds"])
    speed_figures = [
        ws.keep_figure(steps / f"speed-b{b}-s{first}" / "speed.png", f"speed_b{b}.png")
        for b in (size, min(blocks))
    ]
    return [
        gap_finding(GAP, sweep, blocks, curves[:1], metrics),
        speed_finding(SPEED, sweep, blocks, [*curves[1:], *speed_figures]),
        basin_finding(
            BASIN, interpolation, [ws.keep_figure(steps / "interpolation" / "interpolation.png")]
        ),
        similarity_finding(
            SIMILAR,
            similarity,
            [ws.keep_figure(pairs_dir / name) for name in CKA_FIGURES],
        ),
        criticality_finding(
            CRITICAL,
            criticality,
            [
                ws.keep_figure(steps / "criticality" / f"criticality_{kind}.png")
                for kind in ("pretrained", "random")
            ],
        ),
    ]


PAPER = Paper(
    name="transfer",
    title="What is being transferred in transfer learning?",
    citation="Neyshabur, Sedghi & Zhang, NeurIPS 2020, arXiv 2008.11687",
    sources=SOURCES,
    setup=(
        "Source: SimCLR on the built-in `shapes` (its CPU recipe as it is: 32 px, 16 epochs); "
        "target: scikit-learn's handwritten `digits`, another dataset (our CPU-scale stand-in for "
        "the paper's ImageNet to DomainNet; 1,257 training and 540 held-out 8x8 digits, resized "
        "to 16 px, 3 channels), so that what transfers has to cross a domain. P-T fine-tunes the "
        "pretrained ResNet-18 (1/8 width) on 10% of the target labels (126), RI-T trains the same "
        "network from random initialisation on the same labels and schedule (`eval.finetune_*`: "
        "SGD, 30 epochs, 60 steps). Block shuffle (`data.probe=blockshuffle`): one fixed "
        "permutation of b x b blocks (seed 1234 + s) for train and test, b in 16 (unshuffled), 8, "
        "4, 2, 1; 3 seeds s, which also change the fine-tuning seed, the random init and the "
        "labelled subset. Interpolation, CKA and criticality on the unshuffled target. Paper "
        "scale: SimCLR on CIFAR-10 to MNIST at 32 px. The block-shuffle fine-tunes use no crop or "
        "flip (`eval.finetune_augment=false`), as the paper's shuffle runs; interpolation, CKA "
        "and criticality fine-tune with crop + flip."
    ),
    scales=SCALES,
    run=run,
)
