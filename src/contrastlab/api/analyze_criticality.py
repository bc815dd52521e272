"""`contrastlab analyze criticality RUN`: module criticality of a classifier fine-tuned from the
trained encoder and of one trained from random initialisation (Neyshabur et al. 2020, after
Chatterji et al. 2020): how far each stage can be rewound toward its starting point, with noise,
before the training error rises."""

from __future__ import annotations

import argparse
import dataclasses
import math
from typing import Any

import torch

from contrastlab.analysis.criticality import module_criticality
from contrastlab.analysis.interpolation import Evaluator, classification_evaluator
from contrastlab.api.analyze import AnalysisOutput
from contrastlab.api.data import PreparedData
from contrastlab.api.loading import LoadedModel
from contrastlab.api.transfer_models import fine_tuned, random_encoder
from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate.finetune import FinetuneResult, labelled_subset
from contrastlab.report.criticality_heatmap import criticality_heatmap

STAGES = ("conv1", "layer1", "layer2", "layer3", "layer4")
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)  # coarser than the library default, for the CPU
SIGMAS = (0.01, 0.1, 1.0)


def analyze_criticality(
    loaded: LoadedModel, data: PreparedData, output: AnalysisOutput, args: argparse.Namespace
) -> dict[str, Any]:
    recipe, seed = loaded.recipe, loaded.recipe.train.seed
    fraction = args.fraction if args.fraction is not None else recipe.eval.finetune_fractions[-1]
    if not 0 < fraction <= 1:
        raise ContrastlabError(f"--fraction must be in (0, 1], got {fraction}")
    rows = torch.from_numpy(labelled_subset(data.train.labels, fraction, seed))
    evaluate = classification_evaluator(
        data.train.images[rows],
        data.train.labels[rows],
        batch_size=recipe.eval.batch_size,
        device=loaded.device,
    )
    starts = {"pretrained": loaded.representation(), "random init": random_encoder(loaded, seed)}
    results: dict[str, Any] = {}
    for label, encoder in starts.items():
        tuned = fine_tuned(loaded, data, encoder, fraction, seed)
        results[label] = _criticality_of(tuned, evaluate, seed, output, label)
    _print_table(results)
    return {
        "analysis": "criticality",
        "checkpoint": str(loaded.checkpoint),
        "epoch": loaded.epoch,
        "fraction": fraction,
        "metric": "training error on the labelled subset",
        "alphas": list(ALPHAS),
        "sigmas": list(SIGMAS),
        "modules": results,
    }


def _criticality_of(
    tuned: FinetuneResult,
    evaluate: Evaluator,
    seed: int,
    output: AnalysisOutput,
    label: str,
) -> dict[str, dict[str, Any]]:
    """Each stage's and the head's criticality in one fine-tuned model, drawn as a heatmap."""
    assert tuned.model is not None and tuned.initial_state is not None
    names = dict(tuned.model.named_modules())
    modules = [f"0.backbone.{s}" for s in STAGES if f"0.backbone.{s}" in names] + ["2"]
    found = module_criticality(
        tuned.model,
        tuned.initial_state,
        evaluate,
        modules=modules,
        alphas=ALPHAS,
        sigmas=SIGMAS,
        n_samples=1,
        seed=seed,
    )
    short = {m: "head" if m == "2" else m.removeprefix("0.backbone.") for m in modules}
    criticality_heatmap(
        [dataclasses.replace(r, name=short[r.name]) for r in found],
        output.figures / f"criticality_{label.split()[0]}.png",
        title=f"training error, one module rewound ({label})",
    )
    return {
        short[r.name]: {
            "criticality": None if math.isinf(r.criticality) else r.criticality,
            "rewind_alpha": r.rewind_alpha,
            "distance": r.distance,
            "values": r.values,
        }
        for r in found
    }


def _print_table(results: dict[str, Any]) -> None:
    """Print each module's rewind alpha and criticality, pretrained beside random init."""
    print("| module | pretrained: alpha | pretrained: mu | random init: alpha | random init: mu |")
    print("|---|---:|---:|---:|---:|")
    for name in results["pretrained"]:
        cells = []
        for label in ("pretrained", "random init"):
            row = results[label][name]
            mu = "inf" if row["criticality"] is None else f"{row['criticality']:.3g}"
            cells += [f"{row['rewind_alpha']:.2f}", mu]
        print(f"| {name} | " + " | ".join(cells) + " |")
