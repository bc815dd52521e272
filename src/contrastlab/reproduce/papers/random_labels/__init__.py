"""Random labels (Maennel et al. 2020): the first layer's covariance aligns with the data's.

A cross-entropy ResNet-18 is trained on random labels (``data.probe=randomlabels``) and stopped
at several epochs; `contrastlab analyze covariance` measures at each stop how far its first
layer's filter covariance is from sharing the eigenvectors of the input-patch covariance, and
the eigenvalue mapping; in-process controls give the same figures' chance levels in random
eigenbases. Fresh networks whose first layer is sampled from the covariance with the learned
mapping (norm-matched) then train on real labels beside the default draw, paired by seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from contrastlab.reproduce.common import datasets_settings, fmt
from contrastlab.reproduce.paper import Context, Paper
from contrastlab.reproduce.papers.random_labels.claims import ALIGNMENT, MAPPING, SAMPLING, SOURCES
from contrastlab.reproduce.papers.random_labels.steps import draw_figures, early_runs, stopped_run
from contrastlab.reproduce.verdict import Finding, Test, finding, mean_spread, skipped

_PLAIN = {  # the paper's random-label runs use no augmentation: the views are the images
    "augment.crop_scale": [1.0, 1.0],
    "augment.crop_ratio": [1.0, 1.0],
    "augment.jitter_p": 0.0,
    "augment.gray_p": 0.0,
    "optim.name": "sgd",
    "optim.warmup_epochs": 0,
    "eval.protocols": ["knn"],  # the run's own evaluation is not used
    "eval.random_baseline": False,
}
_SHAPES = "ce_resnet18w0.125_shapes_16e"
# 1/2 width: 32 first-layer filters of 27 weights (at 1/8 width, 8 filters, the sampling noise of
# Sigma_w hid the alignment); 16 pixels keep the runs within the CPU budget
_SMALL = {**_PLAIN, "data.image_size": 16, "model.width": 0.5, "train.batch_size": 32}
_TINY = {
    **_PLAIN,
    "data.image_size": 16,
    "model.width": 0.0625,
    "train.batch_size": 32,
    "eval.knn_k": 20,
    "eval.batch_size": 64,
}

SCALES: dict[str, dict[str, Any]] = {
    "tiny": {
        "recipe": _SHAPES,
        "settings": {**_TINY, "data.options": {"n_train": 96, "n_test": 48}, "train.epochs": 2},
        "stops": [1, 2],
        "seeds": [0],
        "downstream": {**_TINY, "data.options": {"n_train": 96, "n_test": 48}},
        "downstream_seeds": [0, 1],
        "downstream_epochs": 1,
    },
    "small": {
        "recipe": _SHAPES,
        "settings": {
            **_SMALL,
            "data.options": {"n_train": 512, "n_test": 200},
            "optim.lr": 0.05,
            "train.epochs": 12,
        },
        "stops": [1, 2, 4, 12],
        "seeds": [0, 1],
        # real labels at the largest learning rate of {0.05, 0.02} whose default-start loss
        # falls from epoch 1 on (at 0.05 it rose above chance in epoch 2 for some seeds, at 1/4
        # width)
        "downstream": {
            **_SMALL,
            "data.options": {"n_train": 1000, "n_test": 200},
            "optim.lr": 0.02,
            "train.epochs": 8,
        },
        "downstream_seeds": list(range(16)),
        "downstream_epochs": 2,
    },
    "paper": {
        "recipe": "ce_resnet50_cifar10_500e",
        "settings": {
            **_PLAIN,
            "model.backbone": "resnet18",
            "train.batch_size": 128,
            "optim.lr": 0.01,
            "train.epochs": 50,
        },
        "stops": [1, 5, 20, 50],
        "seeds": [0, 1],
        "downstream": {
            **_PLAIN,
            "model.backbone": "resnet18",
            "train.batch_size": 128,
            "optim.lr": 0.01,
            "train.epochs": 50,
        },
        "downstream_seeds": list(range(5)),
        "downstream_epochs": 2,
    },
}


def run(ctx: Context) -> list[Finding]:
    p = ctx.settings
    settings, downstream = dict(p["settings"]), dict(p["downstream"])
    if p["recipe"] != _SHAPES:
        data = datasets_settings(
            ctx, "cifar10-jpg/cifar10-train-jpg.tar.gz", "cifar10-jpg/cifar10-test-jpg.tar.gz"
        )
        if data is None:
            reason = "CIFAR-10 JPEG not found under --datasets"
            return [
                skipped("misalignment falls", ALIGNMENT, reason),
                skipped("eigenvalue mapping", MAPPING, reason),
                skipped("aligned initialisation", SAMPLING, reason),
            ]
        settings, downstream = {**settings, **data}, {**downstream, **data}
    stops = list(p["stops"])
    random = {
        seed: stopped_run(
            ctx,
            f"random-s{seed}",
            p["recipe"],
            {**settings, "data.probe": "randomlabels", "train.seed": seed},
            stops,
        )
        for seed in p["seeds"]
    }
    real = stopped_run(ctx, "real-s0", p["recipe"], {**settings, "train.seed": 0}, stops)
    seed0 = random[p["seeds"][0]]
    early = early_runs(
        ctx,
        p["recipe"],
        downstream,
        p["downstream_seeds"],
        p["downstream_epochs"],
        seed0["mapping"][stops[-1]],
    )
    figures = draw_figures(ctx, random, real, early, p["downstream_epochs"])
    return [
        _alignment(random, real, figures[0]),
        _mapping(random, figures[1]),
        _sampling(early, p["downstream_epochs"], figures[2]),
    ]


def _at(runs: dict[int, dict[str, Any]], key: str, index: int) -> list[float]:
    return [float(r[key][index]) for r in runs.values()]


def _alignment(random: dict[int, dict[str, Any]], real: dict[str, Any], figure: str) -> Finding:
    epochs = next(iter(random.values()))["epochs"]
    start, first, end = (_at(random, "misalignment", i) for i in (0, 1, -1))
    chance = _at(random, "chance_misalignment", -1)
    m = {k: mean_spread(v)[0] for k, v in (("s", start), ("1", first), ("e", end), ("c", chance))}
    curve = "; ".join(
        f"{f'epoch {e}' if e else 'start'} {fmt(_at(random, 'misalignment', i))}"
        for i, e in enumerate(epochs)
    )
    measured = (
        f"first-layer misalignment (0 = aligned) with random labels: {curve}; random-basis "
        f"chance for the same layers at epoch {epochs[-1]}: {fmt(chance)}; real labels "
        f"(reference, seed 0): {real['misalignment'][0]:.3f} -> {real['misalignment'][-1]:.3f}"
    )
    tests = [
        Test(f"epoch {epochs[-1]} mean {m['e']:.3f} < start mean {m['s']:.3f}", m["e"] < m["s"]),
        Test(
            f"still falling after epoch {epochs[1]}: epoch {epochs[-1]} mean {m['e']:.3f} < "
            f"epoch {epochs[1]} mean {m['1']:.3f}",
            m["e"] < m["1"],
        ),
        Test(
            f"epoch {epochs[-1]} mean {m['e']:.3f} < random-basis chance mean {m['c']:.3f}",
            m["e"] < m["c"],
        ),
    ]
    return finding("misalignment falls", ALIGNMENT, measured, tests, [figure])


def _mapping(random: dict[int, dict[str, Any]], figure: str) -> Finding:
    runs = list(random.values())
    epochs = runs[0]["epochs"]
    start, end = _at(random, "smoothness", 0), _at(random, "smoothness", -1)
    chance = _at(random, "chance_smoothness", -1)
    ms, me, mc = (mean_spread(v)[0] for v in (start, end, chance))
    mapping = runs[0]["mapping"][epochs[-1]]
    sigma = np.asarray(mapping["sigma"], dtype=float)
    rank = len(sigma) - int(np.argmax(sigma))  # the mapping's lambdas are ascending
    shape = (
        f"seed {next(iter(random))} at epoch {epochs[-1]}: sigma peaks at lambda rank {rank} "
        f"of {len(sigma)} (1 = largest); sigma at the largest lambda is "
        f"{sigma[-1] / sigma.max():.2f} x its peak"
    )
    measured = (
        f"R^2 of a quadratic in log lambda fitted to sigma_i: start {fmt(start)}, epoch "
        f"{epochs[-1]} {fmt(end)}; in random bases at epoch {epochs[-1]} {fmt(chance)}. "
        f"Shape ({shape}; a hump would peak inside and fall at the top, not tested)"
    )
    tests = [
        Test(f"R^2 at epoch {epochs[-1]} mean {me:.3f} > at the start mean {ms:.3f}", me > ms),
        Test(f"R^2 at epoch {epochs[-1]} mean {me:.3f} > in random bases mean {mc:.3f}", me > mc),
    ]
    return finding("eigenvalue mapping", MAPPING, measured, tests, [figure])


def _early(runs: list[dict[str, Any]], key: str, epochs: int) -> list[float]:
    """Per seed, the mean of ``key`` over the first ``epochs`` epochs."""
    return [float(np.mean([row[key] for row in r["history"][:epochs]])) for r in runs]


def _sampling(early: dict[str, list[dict[str, Any]]], epochs: int, figure: str) -> Finding:
    loss = {stem: _early(runs, "loss", epochs) for stem, runs in early.items()}
    top1 = {stem: _early(runs, "train_top1", epochs) for stem, runs in early.items()}
    diff = [a - d for a, d in zip(loss["aligned"], loss["default"], strict=True)]
    dm, ds = mean_spread(diff)
    se = ds / float(np.sqrt(len(diff)))
    lower = sum(d < 0 for d in diff)
    la, ld = mean_spread(loss["aligned"])[0], mean_spread(loss["default"])[0]
    ta, td = mean_spread(top1["aligned"])[0], mean_spread(top1["default"])[0]
    span = "epoch 1" if epochs == 1 else f"epochs 1-{epochs}"
    measured = (
        f"real labels, mean training loss over {span}: aligned first layer "
        f"{fmt(loss['aligned'])}, default {fmt(loss['default'])}; paired difference "
        f"{dm:+.4f} (standard error {se:.4f}, aligned lower in {lower} of {len(diff)} seeds); "
        f"training top-1: aligned {fmt(top1['aligned'])}, default {fmt(top1['default'])}"
    )
    tests = [
        Test(f"loss: aligned mean {la:.4f} < default mean {ld:.4f}", la < ld),
        Test(
            f"paired loss difference {dm:+.4f} below minus one standard error {-se:.4f}",
            dm < -se,
        ),
        Test(f"training top-1: aligned mean {ta:.3f} > default mean {td:.3f}", ta > td),
    ]
    return finding("aligned initialisation", SAMPLING, measured, tests, [figure])


PAPER = Paper(
    name="random-labels",
    title="What Do Neural Networks Learn When Trained With Random Labels?",
    citation="Maennel et al., NeurIPS 2020, arXiv 2006.10455",
    sources=SOURCES,
    setup=(
        "A cross-entropy ResNet-18 (CIFAR stem, 3x3 first layer) trained with SGD and no "
        "augmentation on random labels (data.probe=randomlabels: every training label drawn "
        "uniformly, the held-out split keeping its true ones), stopped at several epochs; at "
        "each stop `contrastlab analyze covariance` compares the first layer's filter "
        "covariance with the covariance of the normalised 3x3 input patches, beside chance "
        "levels in random eigenbases and a twin trained on the real labels (small: the shapes "
        "at 16 pixels, 1/2 width, 32 filters, 512 images, 12 epochs, 2 seeds). Then fresh "
        "networks whose first layer is sampled from N(0, U f(Lambda) U^T) with the mapping f "
        "learnt under random labels, rescaled to the norm of the default draw it replaces, "
        "train on real labels beside the same networks left at their default draw, paired by "
        "seed (small: 1,000 images, 2 epochs, 16 seeds)."
    ),
    scales=SCALES,
    run=run,
)
