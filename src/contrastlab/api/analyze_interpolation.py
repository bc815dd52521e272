"""`contrastlab analyze interpolation RUN`: loss and accuracy along the straight line between two
fine-tuned models, for two fine-tunes of the trained encoder (P-T/P-T) and two models trained
from different random initialisations (RI-T/RI-T), batch-norm statistics re-estimated at every
point (Neyshabur, Sedghi & Zhang 2020: pretrained solutions share a basin)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from contrastlab.analysis.interpolation import (
    barrier_height,
    classification_evaluator,
    interpolation_curve,
)
from contrastlab.api.analyze import AnalysisOutput
from contrastlab.api.data import PreparedData
from contrastlab.api.loading import LoadedModel
from contrastlab.api.transfer_models import fine_tuned, random_encoder
from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate.finetune import FinetuneResult
from contrastlab.report.similarity_curves import similarity_curves

ALPHAS = [i / 10 for i in range(11)]
BN_IMAGES = 2000  # training images the batch-norm statistics are re-estimated on


def analyze_interpolation(
    loaded: LoadedModel, data: PreparedData, output: AnalysisOutput, args: argparse.Namespace
) -> dict[str, Any]:
    assert data.test is not None
    recipe, seed = loaded.recipe, loaded.recipe.train.seed
    fraction = args.fraction if args.fraction is not None else recipe.eval.finetune_fractions[-1]
    if not 0 < fraction <= 1:
        raise ContrastlabError(f"--fraction must be in (0, 1], got {fraction}")
    pairs = _fine_tuned_pairs(loaded, data, fraction, seed)
    evaluate = classification_evaluator(
        data.test.images, data.test.labels, batch_size=recipe.eval.batch_size, device=loaded.device
    )
    bn_images = data.train.images[:BN_IMAGES]
    curves: dict[str, list[dict[str, float]]] = {}
    barriers: dict[str, dict[str, float]] = {}
    for label, (a, b) in pairs.items():
        assert a.model is not None and b.model is not None
        curve = interpolation_curve(
            a.model,
            a.model.state_dict(),
            b.model.state_dict(),
            ALPHAS,
            evaluate,
            bn_images=bn_images,
            batch_size=recipe.eval.batch_size,
            device=loaded.device,
        )
        curves[label] = curve
        barriers[label] = {
            "loss": barrier_height(curve, "loss"),
            "error": barrier_height(curve, "error"),
        }
    figure = _draw_curves(curves, output, recipe.name)
    _print_table(curves, barriers)
    return {
        "analysis": "interpolation",
        "checkpoint": str(loaded.checkpoint),
        "epoch": loaded.epoch,
        "fraction": fraction,
        "finetune_epochs": recipe.eval.finetune_epochs,
        "bn_images": len(bn_images),
        "alphas": ALPHAS,
        "curves": curves,
        "barriers": barriers,
        "figure": str(figure),
    }


def _fine_tuned_pairs(
    loaded: LoadedModel, data: PreparedData, fraction: float, seed: int
) -> dict[str, list[FinetuneResult]]:
    """Two fine-tunes of the trained encoder and two of different random initialisations."""
    return {
        "P-T / P-T": [
            fine_tuned(loaded, data, loaded.representation(), fraction, seed + i) for i in (0, 1)
        ],
        "RI-T / RI-T": [
            fine_tuned(loaded, data, random_encoder(loaded, seed + 1000 + i), fraction, seed + i)
            for i in (0, 1)
        ],
    }


def _draw_curves(
    curves: dict[str, list[dict[str, float]]], output: AnalysisOutput, name: str
) -> Path:
    """Draw the held-out loss and accuracy along each pair's line; returns the figure's path."""
    return similarity_curves(
        {"alpha (loss)": ALPHAS, "alpha (accuracy)": ALPHAS},
        {
            "alpha (loss)": {k: [r["loss"] for r in c] for k, c in curves.items()},
            "alpha (accuracy)": {k: [r["accuracy"] for r in c] for k, c in curves.items()},
        },
        output.figures / "interpolation.png",
        title=f"held-out loss and accuracy between two fine-tuned models: {name}",
        ylabel="held-out loss / accuracy",
    )


def _print_table(
    curves: dict[str, list[dict[str, float]]], barriers: dict[str, dict[str, float]]
) -> None:
    """Print each pair's accuracy at alpha 0, 0.5 and 1 and its loss and error barriers."""
    print("| pair | accuracy at 0 / 0.5 / 1 | loss barrier | error barrier |")
    print("|---|---|---:|---:|")
    for label, curve in curves.items():
        acc = " / ".join(f"{curve[i]['accuracy']:.3f}" for i in (0, 5, 10))
        print(
            f"| {label} | {acc} | {barriers[label]['loss']:.3f} | {barriers[label]['error']:.3f} |"
        )
