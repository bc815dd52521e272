"""`contrastlab analyze suppression RUN`: which factors a representation keeps, trained vs random.

Every factor the data carries is read out linearly from the frozen features
(:mod:`contrastlab.analysis.suppression`): the class label, and for the built-in ``shapes`` each
factor of variation; for other data with numeric metadata, each metadata key as a linear factor.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from torch import nn

from contrastlab.analysis.suppression import (
    SHAPE_KINDS,
    FactorKind,
    FactorScore,
    factor_decodability,
    shapes_factors,
)
from contrastlab.api.analyze import AnalysisOutput
from contrastlab.api.data import PreparedData
from contrastlab.api.loading import LoadedModel
from contrastlab.core.errors import ContrastlabError
from contrastlab.data import ImageTensors
from contrastlab.evaluate import extract_features
from contrastlab.models import channels_last_allowed
from contrastlab.report.decodability_bars import decodability_bars

# categorical metadata written by the probe datasets (contrastlab.data.probes)
PROBE_CLASSES = ("randbit", "digit_label")


def _probe_class(key: str) -> bool:
    return key in PROBE_CLASSES or (key.startswith("object") and key[6:].isdigit())


def data_factors(
    data: ImageTensors,
) -> tuple[dict[str, np.ndarray], dict[str, FactorKind]]:
    """The factors of ``data`` and their kinds: shapes' own, else the class and the numeric
    metadata; the probe datasets' labels (RandBit's integer, the overlaid digit, each object's
    class) are class factors either way."""
    factors: dict[str, np.ndarray]
    kinds: dict[str, FactorKind]
    if all(key in data.meta for key in SHAPE_KINDS if key != "shape"):
        factors, kinds = shapes_factors(data.meta, data.labels), dict(SHAPE_KINDS)
    else:
        factors, kinds = {"class": data.labels.numpy()}, {"class": "class"}
        for key, values in sorted(data.meta.items()):
            if not _probe_class(key) and key != "digit_id":
                factors[key], kinds[key] = values.numpy(), "linear"
    for key, values in sorted(data.meta.items()):
        if _probe_class(key):
            factors[key], kinds[key] = values.numpy().astype(np.int64), "class"
    return factors, kinds


def analyze_suppression(
    loaded: LoadedModel, data: PreparedData, output: AnalysisOutput, args: argparse.Namespace
) -> dict[str, Any]:
    assert data.test is not None
    recipe = loaded.recipe
    train_factors, kinds = data_factors(data.train)
    test_factors, _ = data_factors(data.test)
    if args.factors:
        kinds = _chosen_factors(args.factors, kinds)
    encoders = {"trained": loaded.representation()}
    if not args.no_baseline:
        encoders["random init"] = loaded.representation(loaded.random_twin())
    results: dict[str, Any] = {}
    for label, encoder in encoders.items():
        scores = _factor_scores(encoder, loaded, data, train_factors, test_factors, kinds)
        results[label] = {score.name: score.as_dict() for score in scores}
    names = list(kinds)
    first = results["trained"]
    figure = decodability_bars(
        names,
        {label: [results[label][n]["score"] for n in names] for label in results},
        [first[n]["baseline"] for n in names],
        [first[n]["metric"] for n in names],
        output.figures / "suppression.png",
        title=f"linear read-out of each factor: {recipe.eval.representation} of {recipe.name}",
    )
    _print_table(names, results)
    return {
        "analysis": "suppression",
        "checkpoint": str(loaded.checkpoint),
        "epoch": loaded.epoch,
        "representation": recipe.eval.representation,
        "data": recipe.data.source,
        "eval_data": data.eval_note,
        "n_train": len(data.train),
        "n_test": len(data.test),
        "factors": results,
        "figure": str(figure),
    }


def _chosen_factors(factors: str, kinds: dict[str, FactorKind]) -> dict[str, FactorKind]:
    """The factors named in ``--factors`` (comma-separated), in that order, with their kinds."""
    wanted = [name.strip() for name in factors.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in kinds]
    if unknown:
        raise ContrastlabError(
            f"unknown factor {', '.join(unknown)}; this data has: {', '.join(kinds)}"
        )
    return {name: kinds[name] for name in wanted}


def _factor_scores(
    encoder: nn.Module,
    loaded: LoadedModel,
    data: PreparedData,
    train_factors: dict[str, np.ndarray],
    test_factors: dict[str, np.ndarray],
    kinds: dict[str, FactorKind],
) -> list[FactorScore]:
    """How well each factor is read out linearly from ``encoder``'s frozen features."""
    assert data.test is not None
    recipe = loaded.recipe

    def features(images: Any) -> Any:
        return extract_features(
            encoder,
            images,
            batch_size=recipe.eval.batch_size,
            device=loaded.device,
            channels_last=channels_last_allowed(recipe.train.channels_last, loaded.device),
        )

    return factor_decodability(
        features(data.train.images),
        train_factors,
        features(data.test.images),
        test_factors,
        kinds,
        seed=recipe.train.seed,
    )


def _print_table(names: list[str], results: dict[str, Any]) -> None:
    """Print each factor's score, trained beside random init, with its baseline."""
    first = results["trained"]
    print("| factor | kind | metric | trained | random init | baseline |")
    print("|---|---|---|---:|---:|---:|")
    for name in names:
        random = results.get("random init", {}).get(name, {}).get("score")
        cell = "—" if random is None else f"{random:.3f}"
        row = first[name]
        print(
            f"| {name} | {row['kind']} | {row['metric']} | {row['score']:.3f} | {cell} | "
            f"{row['baseline']:.3f} |"
        )
