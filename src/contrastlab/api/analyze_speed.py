"""`contrastlab analyze speed RUN`: learning curves of fine-tuning from the trained encoder and
from its random-init twin on the same labelled subset, and the steps each needs to a target."""

from __future__ import annotations

import argparse
from typing import Any

from contrastlab.analysis.speed import speed_summary
from contrastlab.api.analyze import AnalysisOutput
from contrastlab.api.data import PreparedData
from contrastlab.api.loading import LoadedModel
from contrastlab.api.transfer_models import fine_tuned, random_encoder
from contrastlab.core.errors import ContrastlabError
from contrastlab.report.learning_curves import learning_curves


def analyze_speed(
    loaded: LoadedModel, data: PreparedData, output: AnalysisOutput, args: argparse.Namespace
) -> dict[str, Any]:
    recipe, ev = loaded.recipe, loaded.recipe.eval
    fraction = args.fraction if args.fraction is not None else ev.finetune_fractions[-1]
    if not 0 < fraction <= 1:
        raise ContrastlabError(f"--fraction must be in (0, 1], got {fraction}")
    twin = random_encoder(loaded, recipe.train.seed)
    curves = {}
    for label, encoder in (("pretrained", loaded.representation()), ("random init", twin)):
        result = fine_tuned(
            loaded, data, encoder, fraction, recipe.train.seed, curve_every=args.every
        )
        curves[label] = result.curve
    summary = speed_summary(curves["pretrained"], curves["random init"], target=args.target_top1)
    figure = learning_curves(
        curves,
        output.figures / "speed.png",
        target=summary["target_top1"],
        title=f"fine-tuning on {fraction:.0%} of the labels: {recipe.name}",
    )
    print("| from | top-1 after 1 epoch | final top-1 | steps to the target |")
    print("|---|---:|---:|---:|")
    for label, key in (("pretrained", "steps_pretrained"), ("random init", "steps_random")):
        curve = curves[label]
        after_one = next((row["top1"] for row in curve if row["epoch"] >= 1), float("nan"))
        steps = summary[key]
        print(
            f"| {label} | {after_one:.3f} | {curve[-1]['top1']:.3f} | "
            f"{'never' if steps is None else int(steps)} |"
        )
    speedup = summary["speedup"]
    print(
        f"\ntarget top-1 {summary['target_top1']:.3f}"
        + (" (the random-init run's final)" if summary["target_is_random_final"] else "")
        + ("" if speedup is None else f"; pretrained gets there {speedup:.1f}x sooner")
    )
    return {
        "analysis": "speed",
        "checkpoint": str(loaded.checkpoint),
        "epoch": loaded.epoch,
        "representation": ev.representation,
        "data": recipe.data.source,
        "eval_data": data.eval_note,
        "fraction": fraction,
        "finetune": {
            "epochs": ev.finetune_epochs,
            "lr": ev.finetune_lr,
            "batch_size": ev.finetune_batch_size,
            "weight_decay": ev.finetune_weight_decay,
            "augment": ev.finetune_augment,
            "curve_every": args.every,
        },
        "curves": curves,
        **summary,
        "figure": str(figure),
    }
