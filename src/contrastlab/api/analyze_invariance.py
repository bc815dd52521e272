"""`contrastlab analyze invariance RUN`: the co-firing invariance score (Purushwalkam & Gupta
2020) of the trained and random-init encoders to occlusion, rotation (viewpoint) and
illumination, with the chance level, and embedding similarity against transformation strength."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from contrastlab.analysis.invariance import analytic_chance, invariance_score
from contrastlab.analysis.transform_sets import (
    illumination_sets,
    instance_sets,
    occlude,
    occlusion_sets,
    rotate,
    rotation_sets,
    similarity_vs_strength,
)
from contrastlab.api.analysis_kinds import DEFAULT_INVARIANCE_SETS, INVARIANCE_SETS
from contrastlab.api.analyze import AnalysisOutput
from contrastlab.api.data import PreparedData
from contrastlab.api.loading import LoadedModel
from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate import extract_features
from contrastlab.report.similarity_curves import similarity_curves

SET_BUILDERS: dict[str, Callable[..., tuple[Tensor, Tensor]]] = {
    "occlusion": lambda images, seed: occlusion_sets(images, seed=seed),
    "rotation": lambda images, seed: rotation_sets(images),
    "illumination": lambda images, seed: illumination_sets(images, seed=seed),
}
STRENGTHS: dict[str, tuple[list[float], Callable[[Tensor, float], Tensor]]] = {
    "occlusion (side fraction)": ([0.0, 0.1, 0.2, 0.3, 0.4, 0.5], occlude),
    "rotation (degrees)": ([0.0, 15.0, 30.0, 45.0, 90.0, 180.0], rotate),
}


def analyze_invariance(
    loaded: LoadedModel, data: PreparedData, output: AnalysisOutput, args: argparse.Namespace
) -> dict[str, Any]:
    assert data.test is not None
    recipe = loaded.recipe
    kinds = _chosen_kinds(args.transforms, data)
    count = min(args.images, len(data.test))
    order = torch.randperm(len(data.test), generator=torch.Generator().manual_seed(0))[:count]
    images, labels = data.test.images[order], data.test.labels[order]
    encoders: dict[str, nn.Module] = {"trained": loaded.representation()}
    if not args.no_baseline:
        encoders["random init"] = loaded.representation(loaded.random_twin())
    scores: dict[str, dict[str, float]] = {label: {} for label in encoders}
    chance: dict[str, float] = {}
    for kind in kinds:
        sets, set_ids, classes, set_size = _transform_sets(
            kind, data, images, labels, count, recipe.train.seed
        )
        for label, encoder in encoders.items():
            features = extract_features(
                encoder, sets, batch_size=recipe.eval.batch_size, device=loaded.device
            )
            top_k = min(args.top_k, features.shape[1])
            result = invariance_score(features, set_ids, classes, top_k=top_k)
            scores[label][kind] = result.score
        chance[kind] = analytic_chance(
            set_size,
            percentile=result.firing_percent,
            sets_per_class=max(1, len(sets) // set_size // max(1, int(classes.unique().numel()))),
            num_neurons=features.shape[1],
            top_k=top_k,
            num_images=len(sets),
        )
    curves, figure = _strength_curves(encoders, images, loaded, output)
    _print_table(kinds, list(encoders), scores, chance)
    return {
        "analysis": "invariance",
        "checkpoint": str(loaded.checkpoint),
        "epoch": loaded.epoch,
        "representation": recipe.eval.representation,
        "images": f"{count} held-out images ({data.eval_note}), one set each",
        "top_k": top_k,
        "scores": scores,
        "chance": chance,
        "similarity_vs_strength": {
            name: {"strengths": STRENGTHS[name][0], **values} for name, values in curves.items()
        },
        "figure": str(figure),
    }


def _chosen_kinds(transforms: str | None, data: PreparedData) -> list[str]:
    """The set kinds asked for with ``--transforms`` (default: all but instance), checked."""
    chosen = transforms or ",".join(DEFAULT_INVARIANCE_SETS)
    kinds = [k.strip() for k in chosen.split(",") if k]
    unknown = [k for k in kinds if k not in INVARIANCE_SETS]
    if unknown:
        raise ContrastlabError(
            f"unknown transform {', '.join(unknown)}; valid: {', '.join(INVARIANCE_SETS)}"
        )
    if "instance" in kinds and "group" not in data.train.meta:
        raise ContrastlabError(
            "--transforms instance needs images grouped by object: an .npz source with a "
            "'groups' array (see contrastlab.data.npz)"
        )
    return kinds


def _transform_sets(
    kind: str, data: PreparedData, images: Tensor, labels: Tensor, count: int, seed: int
) -> tuple[Tensor, Tensor, Tensor, int]:
    """(images, set ids, class of each image, images per set) of one kind of transformation."""
    if kind == "instance":  # the data's own groups, among the training images
        groups = data.train.meta["group"].long()
        sets, set_ids = instance_sets(data.train.images, groups)
        classes = data.train.labels[torch.isin(groups, set_ids)]
        set_size = len(sets) // max(1, int(set_ids.unique().numel()))
    else:
        sets, set_ids = SET_BUILDERS[kind](images, seed)
        classes = labels[set_ids]
        set_size = len(sets) // count
    return sets, set_ids, classes, set_size


def _strength_curves(
    encoders: dict[str, nn.Module], images: Tensor, loaded: LoadedModel, output: AnalysisOutput
) -> tuple[dict[str, dict[str, list[float]]], Path]:
    """Each encoder's similarity to the untransformed image against strength, and its figure."""
    curves: dict[str, dict[str, list[float]]] = {}
    for name, (strengths, transform) in STRENGTHS.items():
        curves[name] = {
            label: similarity_vs_strength(
                encoder, images, transform, strengths, device=loaded.device
            )
            for label, encoder in encoders.items()
        }
    figure = similarity_curves(
        {name: strengths for name, (strengths, _) in STRENGTHS.items()},
        curves,
        output.figures / "invariance.png",
        title=f"feature similarity to the untransformed image: {loaded.recipe.name}",
    )
    return curves, figure


def _print_table(
    kinds: list[str],
    labels_row: list[str],
    scores: dict[str, dict[str, float]],
    chance: dict[str, float],
) -> None:
    """Print each kind's score for every encoder beside the chance level."""
    print("| transform | " + " | ".join(labels_row) + " | chance |")
    print("|---|" + "---:|" * (len(labels_row) + 1))
    for kind in kinds:
        cells = " | ".join(f"{scores[label][kind]:.1f}" for label in labels_row)
        print(f"| {kind} | {cells} | {chance[kind]:.1f} |")
