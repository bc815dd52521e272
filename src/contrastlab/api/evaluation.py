"""Evaluating an encoder beside its baselines, its random-init twin and the raw pixels, with the
same protocols (the suite of ``eval.protocols``), plus what a method evaluates of its own (IIC's
cluster assignments) and the rotation probe (``eval.rotation_probe``) on every representation of
a method."""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from contrastlab.api.data import PreparedData
from contrastlab.config.evaluation import EvalConfig
from contrastlab.config.schema import Recipe
from contrastlab.evaluate.pixels import PixelFeatures, pixel_linear_max_train, pixels_too_large
from contrastlab.evaluate.rotation import rotation_probe
from contrastlab.evaluate.suite import EvalData, SuiteOptions, protocol_params, run_protocols
from contrastlab.methods import method_representations
from contrastlab.models import channels_last_allowed


def eval_data(data: PreparedData, image_channels: int | None = None) -> EvalData:
    """The suite's view of decoded data with a held-out split; ``image_channels``: how many
    leading channels are the picture (the rest, e.g. RandBit's bit planes, are not drawn)."""
    assert data.test is not None
    num_classes = max(
        len(data.train.classes), int(data.train.labels.max()) + 1, int(data.test.labels.max()) + 1
    )
    return EvalData(
        data.train.images,
        data.train.labels,
        data.test.images,
        data.test.labels,
        num_classes,
        tuple(data.train.classes),
        image_channels,
    )


def evaluate_with_baseline(
    recipe: Recipe,
    encoder: nn.Module,
    random_encoder: nn.Module | None,
    data: PreparedData,
    device: torch.device,
    *,
    figures: Path | None = None,
    tables: Path | None = None,
    pixels: bool = True,
) -> dict[str, Any]:
    """Every protocol of ``recipe.eval.protocols`` on ``encoder`` (keys ``knn_top1``, ...), when
    given on ``random_encoder`` under the ``random_`` prefix, and with ``pixels`` and
    ``eval.pixel_baseline`` on the normalised raw pixels under the ``pixels_`` prefix (no
    fine-tuning there; the L-BFGS probe on a stratified subset: `contrastlab.evaluate.pixels`);
    the parameters of each protocol under ``protocols``. For the trained encoder only, the
    retrieval picture goes to ``figures/retrieval.png`` and the per-query retrieval figures to
    ``tables/retrieval_per_query.csv`` when those folders are given."""
    suite = eval_data(data, recipe.data.channels)
    start = time.perf_counter()
    params = protocol_params(recipe.eval, suite.num_classes, n_bank=len(suite.train_labels))
    out: dict[str, Any] = {"protocols": params}
    for prefix, model in (("", encoder), ("random_", random_encoder)):
        if model is None:
            continue
        _announce(recipe, "random-init encoder" if prefix else "trained encoder", recipe.eval)
        options = _options(recipe, device, None if prefix else figures, None if prefix else tables)
        result = run_protocols(model, suite, recipe.eval, options)
        out.update({prefix + key: value for key, value in result.items()})
    if pixels and recipe.eval.pixel_baseline:
        out.update(_pixel_figures(recipe, suite, device, params))
    out["eval_seconds"] = round(time.perf_counter() - start, 2)
    return out


def _options(
    recipe: Recipe, device: torch.device, figures: Path | None, tables: Path | None
) -> SuiteOptions:
    """How the suite runs for ``recipe`` on ``device``, its pictures and tables to these folders."""
    return SuiteOptions(
        device=device,
        seed=recipe.train.seed,
        channels_last=channels_last_allowed(recipe.train.channels_last, device),
        progress=recipe.train.progress,
        figures=figures,
        tables=tables,
    )


def _announce(recipe: Recipe, who: str, config: EvalConfig) -> None:
    """One stderr line (with ``train.progress``) before each pass: evaluation is the slow part."""
    if recipe.train.progress:
        print(f"evaluating the {who}: {', '.join(config.protocols)}", file=sys.stderr)


def _pixel_figures(
    recipe: Recipe, suite: EvalData, device: torch.device, params: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The protocols but fine-tuning on the normalised, flattened raw pixels (``pixels_`` keys);
    notes in ``params`` what the pixel row left out or bounded (`contrastlab.evaluate.pixels`)."""
    protocols = tuple(name for name in recipe.eval.protocols if name != "finetune")
    if "finetune" in params:
        params["finetune"]["pixels"] = "not run: raw pixels have no network to fine-tune"
    values = math.prod(suite.train_images.shape[1:])
    too_large = pixels_too_large(len(suite.train_labels) + len(suite.test_labels), values)
    if too_large is not None:
        for name in protocols:
            params[name]["pixels"] = too_large
        if recipe.train.progress:
            print(f"raw-pixel baseline {too_large}", file=sys.stderr)
    if not protocols or too_large is not None:
        return {}
    config = dataclasses.replace(recipe.eval, protocols=protocols)
    _announce(recipe, "raw pixels", config)
    _, mean, std = recipe.data.encoder_inputs()
    options = _options(recipe, device, None, None)
    options.linear_max_train = pixel_linear_max_train(values)
    result = run_protocols(PixelFeatures(mean, std).to(device), suite, config, options)
    subset = result.pop("linear_train_subset", None)
    if subset is not None:
        params["linear"]["pixels_train_subset"] = subset
    return {"pixels_" + key: value for key, value in result.items()}


def method_metrics(
    recipe: Recipe,
    method: nn.Module,
    random_method: nn.Module | None,
    data: PreparedData,
    device: torch.device,
) -> dict[str, Any]:
    """A method's own figures on the held-out data, for methods that have them: IIC's
    Hungarian-matched accuracy of its cluster heads (``cluster_top1``, ...), and under the
    ``random_`` prefix that of its random-init twin. With ``eval.rotation_probe``, the rotation
    probe's top-1 on each representation: ``rotation_top1`` (backbone), ``rotation_top1_NAME``."""
    out: dict[str, Any] = {}
    if data.test is None:
        return out
    for prefix, model in (("", method), ("random_", random_method)):
        cluster = getattr(model, "cluster_metrics", None)
        if model is None or cluster is None:
            continue
        model.to(device)
        figures = cluster(
            data.test.images, data.test.labels, device=device, batch_size=recipe.eval.batch_size
        )
        out.update({prefix + key: value for key, value in figures.items()})
    if recipe.eval.rotation_probe:
        for prefix, model in (("", method), ("random_", random_method)):
            if model is not None:
                out.update(_rotation_figures(recipe, model.to(device), data, device, prefix))
    return out


def _rotation_figures(
    recipe: Recipe, method: nn.Module, data: PreparedData, device: torch.device, prefix: str
) -> dict[str, float]:
    assert data.test is not None
    out = {}
    for name, features in method_representations(method).items():
        key = prefix + "rotation_top1" + ("" if name == "backbone" else f"_{name}")
        out[key] = rotation_probe(
            features,
            data.test.images,
            device=device,
            batch_size=recipe.eval.batch_size,
            seed=recipe.train.seed,
            channels_last=channels_last_allowed(recipe.train.channels_last, device),
        )
    return out
