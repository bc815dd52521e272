"""Demystifying contrastive SSL (Purushwalkam & Gupta 2020): which invariances contrastive
learning buys, and whether it needs object-centric images.

1. SimCLR against a supervised (cross-entropy) encoder on the same data (the built-in digits),
   backbone, augmentation, optimiser and epochs, scored by the co-firing invariance score
   (`contrastlab analyze invariance`) on held-out sets: occlusion, viewpoint (stand-in: the
   quarter turns of the rotation sets), illumination, and instance: nine held-out digits of one
   class written by different people (`data.class_sets`, read as an ``.npz`` with groups), the
   paper's "different instances of a category at a similar viewpoint".
2. SimCLR trained on 2-digit scenes against SimCLR trained on the scenes' object-centric crops
   (the `multiobject` probe, ``crops: true``), as many training images and steps, both judged on
   held-out scenes by a linear read-out of each object's class (`contrastlab analyze
   suppression`).
"""

from __future__ import annotations

from typing import Any

from contrastlab.report.grouped_bars import grouped_bars
from contrastlab.reproduce.common import TINY_MODEL, fmt
from contrastlab.reproduce.paper import Context, Paper
from contrastlab.reproduce.papers.demystifying.claims import (
    CONTRAST,
    ILLUMINATION,
    OBJECT_CENTRIC,
    SOURCES,
)
from contrastlab.reproduce.papers.demystifying.steps import (
    TRANSFORMS,
    cifar,
    invariances,
    objects,
)
from contrastlab.reproduce.verdict import Finding, Test, finding, mean_spread, skipped

_NAMES = {"simclr": "SimCLR", "ce": "supervised (CE)"}
SCALES: dict[str, dict[str, Any]] = {
    "tiny": {
        "recipes": "digits", "seeds": [0], "scene_seeds": [0], "settings": TINY_MODEL,
        "scenes": {**TINY_MODEL, "train.epochs": 2}, "images": 48,
    },
    "small": {
        "recipes": "digits", "seeds": [0, 1, 2], "scene_seeds": [0, 1, 2],
        "settings": {"train.epochs": 20, "train.batch_size": 128},
        "scenes": {"data.image_size": 32, "train.epochs": 20, "train.batch_size": 128},
        "images": 500,
    },
    "paper": {
        "recipes": "cifar10", "seeds": [0], "scene_seeds": [0],
        "settings": {"model.backbone": "resnet18"},  # the supervised net on SimCLR's backbone
        "scenes": {"data.image_size": 64, "train.epochs": 200},
        "images": 2000,
    },
}  # fmt: skip


def _mean(values: list[float]) -> float:
    return mean_spread(values)[0]


def run(ctx: Context) -> list[Finding]:
    data = None
    if ctx.settings["recipes"] == "cifar10":
        data = cifar(ctx)
        if data is None:
            reason = "CIFAR-10 JPEG not found under --datasets"
            return [skipped(n, c, reason) for n, c in _FINDINGS]
    inv, found = invariances(ctx, data), objects(ctx, data)
    return [*_contrast_findings(ctx, inv), _object_finding(ctx, found)]


def _contrast_findings(ctx: Context, inv: dict[str, Any]) -> list[Finding]:
    scores, chance = inv["scores"], inv["chance"]
    groups = list(TRANSFORMS)
    series = {
        "SimCLR": [_mean(scores["simclr"][t]) for t in groups],
        "supervised (CE)": [_mean(scores["ce"][t]) for t in groups],
        "random init (SimCLR's)": [_mean(scores["simclr random"][t]) for t in groups],
    }
    errors = {
        "SimCLR": [mean_spread(scores["simclr"][t])[1] for t in groups],
        "supervised (CE)": [mean_spread(scores["ce"][t])[1] for t in groups],
    }
    figure = grouped_bars(
        [g.replace(" (", "\n(") for g in groups], series,
        ctx.workspace.figures / "invariance.png",
        ylabel="invariance score (top-K co-firing, %)", reference=[chance[g] for g in groups],
        errors=errors,
        title="co-firing invariance of held-out sets (dashes: chance; bars: s.d. over seeds)",
    )  # fmt: skip
    figures = [f"figures/{figure.name}"]
    sim = {t: _mean(scores["simclr"][t]) for t in groups}
    ce = {t: _mean(scores["ce"][t]) for t in groups}

    def row(t: str) -> str:
        return (
            f"{t}: SimCLR {fmt(scores['simclr'][t], 1)}, CE {fmt(scores['ce'][t], 1)} "
            f"(random init {_mean(scores['simclr random'][t]):.1f} / "
            f"{_mean(scores['ce random'][t]):.1f}, chance {chance[t]:.1f})"
        )

    tests = [Test(f"occlusion: SimCLR {sim['occlusion']:.1f} > CE {ce['occlusion']:.1f}",
                  sim["occlusion"] > ce["occlusion"])]  # fmt: skip
    for t in ("viewpoint (quarter turns)", "instance"):
        tests.append(Test(f"{t}: CE {ce[t]:.1f} > SimCLR {sim[t]:.1f}", ce[t] > sim[t]))
    contrast = finding(
        "occlusion vs viewpoint and instance",
        CONTRAST,
        "; ".join(row(t) for t in groups if t != "illumination"),
        tests,
        figures,
    )
    t = "illumination"
    tests = []
    for model, name in _NAMES.items():
        value, random = _mean(scores[model][t]), _mean(scores[f"{model} random"][t])
        tests.append(Test(f"{name} {value:.1f} > chance {chance[t]:.1f}", value > chance[t]))
        tests.append(Test(f"{name} {value:.1f} > its random init {random:.1f}", value > random))
    measured = row(t) + (
        "; on grey digits the sets vary brightness and contrast (no hue)"
        if ctx.settings["recipes"] == "digits"
        else ""
    )
    return [contrast, finding("illumination", ILLUMINATION, measured, tests, figures)]


def _object_finding(ctx: Context, objects: dict[str, Any]) -> Finding:
    top1, baseline = objects["top1"], objects["baseline"]
    names = {"object0": "dominant object", "object1": "other object"}
    series = {
        "SimCLR on scenes": [_mean(top1["scenes"][n]) for n in names],
        "SimCLR on object crops": [_mean(top1["crops"][n]) for n in names],
        "random init": [_mean(top1["scenes random"][n]) for n in names],
    }
    errors = {
        "SimCLR on scenes": [mean_spread(top1["scenes"][n])[1] for n in names],
        "SimCLR on object crops": [mean_spread(top1["crops"][n])[1] for n in names],
    }
    figure = grouped_bars(
        list(names.values()), series, ctx.workspace.figures / "objects.png", errors=errors,
        ylabel="linear read-out top-1 on held-out scenes",
        reference=[baseline[n] for n in names], reference_label="majority class",
        title="each object's class read out of held-out scenes (bars: s.d. over seeds)",
    )  # fmt: skip
    crops, scenes = top1["crops"]["object0"], top1["scenes"]["object0"]
    wins = sum(c > s for c, s in zip(crops, scenes, strict=True))
    tests = [
        Test(
            f"dominant object: crops mean {_mean(crops):.3f} > scenes mean {_mean(scenes):.3f}",
            _mean(crops) > _mean(scenes),
        ),
        Test(
            f"dominant object: crops > scenes in every seed (same initial weights): {wins} of "
            f"{len(crops)}",
            wins == len(crops),
        ),
    ]
    measured = "; ".join(
        f"{name} ({key}) top-1: crops {fmt(top1['crops'][key])}, scenes "
        f"{fmt(top1['scenes'][key])}, random init {_mean(top1['scenes random'][key]):.3f}, "
        f"majority {baseline[key]:.3f}"
        for key, name in names.items()
    )
    other = max(_mean(top1["crops"]["object1"]), _mean(top1["scenes"]["object1"]))
    measured += ". The tests read the dominant object; the smaller one is reported only" + (
        " (both within 0.05 of the majority rate)" if other < baseline["object1"] + 0.05 else ""
    )
    return finding(
        "object-centric vs scenes", OBJECT_CENTRIC, measured, tests, [f"figures/{figure.name}"]
    )


_FINDINGS = (
    ("occlusion vs viewpoint and instance", CONTRAST),
    ("illumination", ILLUMINATION),
    ("object-centric vs scenes", OBJECT_CENTRIC),
)

PAPER = Paper(
    name="demystifying",
    title="Demystifying Contrastive Self-Supervised Learning",
    citation="Purushwalkam & Gupta, NeurIPS 2020, arXiv 2007.13916",
    sources=SOURCES,
    setup=(
        "SimCLR and a supervised cross-entropy net with the same backbone, augmentation, "
        "optimiser, batch and epochs (small: the shapes CPU recipes pointed at the built-in "
        "digits, 16 px, ResNet-18 at 1/8 width, crops of 50-100%, brightness/contrast jitter, "
        "20 epochs, 3 seeds; paper: the CIFAR-10 SimCLR recipe and the cross-entropy recipe "
        "on its ResNet-18), scored by the co-firing invariance score (top-25 neurons) on sets "
        "of held-out images: occlusion (the image and 8 copies with a random 30% square "
        "blanked), viewpoint (stand-in: the image turned by 0/90/180/270 degrees), "
        "illumination (the image and 8 copies with random brightness, contrast and gain) and "
        "instance (9 held-out digits of one class by different writers: the paper's different "
        "instances of a category). Then SimCLR on scenes of 2 digits (32 px, the first 1.5 "
        "times the other's size) against SimCLR on the scenes' object-centric crops (half the "
        "epochs: as many images and steps; 3 seeds), both judged on held-out scenes by an "
        "L-BFGS linear read-out of each digit's class."
    ),
    scales=SCALES,
    run=run,
)
