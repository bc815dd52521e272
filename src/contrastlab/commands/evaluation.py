"""Evaluating an encoder and its random-init twin with the same protocols, plus what a method
evaluates of its own (IIC's cluster assignments) and the rotation probe (``eval.rotation_probe``)
on every representation of a method."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from contrastlab.commands.datasets import PreparedData
from contrastlab.config.schema import Recipe
from contrastlab.evaluate import evaluate_encoder
from contrastlab.evaluate.rotation import rotation_probe
from contrastlab.methods import method_representations
from contrastlab.models import channels_last_allowed


def evaluate_with_baseline(
    recipe: Recipe,
    encoder: nn.Module,
    random_encoder: nn.Module | None,
    data: PreparedData,
    device: torch.device,
) -> dict[str, Any]:
    """kNN and linear-probe figures for ``encoder`` (keys ``knn_top1``, ``linear_top1``, ...)
    and, when given, the same figures for ``random_encoder`` under the ``random_`` prefix."""
    assert data.test is not None
    ev = recipe.eval
    num_classes = max(
        len(data.train.classes), int(data.train.labels.max()) + 1, int(data.test.labels.max()) + 1
    )
    start = time.perf_counter()
    out: dict[str, Any] = {}
    for prefix, model in (("", encoder), ("random_", random_encoder)):
        if model is None:
            continue
        result = evaluate_encoder(
            model,
            data.train.images,
            data.train.labels,
            data.test.images,
            data.test.labels,
            num_classes=num_classes,
            device=device,
            k=ev.knn_k,
            temperature=ev.knn_temperature,
            seed=recipe.train.seed,
            batch_size=ev.batch_size,
            channels_last=channels_last_allowed(recipe.train.channels_last, device),
        )
        out.update(result.as_dict(prefix))
    out["eval_seconds"] = time.perf_counter() - start
    return out


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
