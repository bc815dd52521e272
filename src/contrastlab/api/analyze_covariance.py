"""`contrastlab analyze covariance RUN`: is the first layer's filter covariance aligned with the
covariance of the image patches it sees (Maennel et al. 2020)? Trained beside random init."""

from __future__ import annotations

import argparse
from typing import Any

from torch import Tensor, nn

from contrastlab.analysis.covariance import (
    eigenvalue_mapping,
    input_patch_covariance,
    misalignment,
    weight_covariance,
)
from contrastlab.api.analyze import AnalysisOutput
from contrastlab.api.data import PreparedData
from contrastlab.api.loading import LoadedModel
from contrastlab.config.schema import Recipe
from contrastlab.core.errors import ContrastlabError
from contrastlab.report.eigen_mapping import eigenvalue_mapping_plot


def first_conv(module: nn.Module) -> tuple[str, nn.Conv2d]:
    """The first ``nn.Conv2d`` of ``module`` in registration order (the stem), with its name."""
    for name, child in module.named_modules():
        if isinstance(child, nn.Conv2d):
            return name, child
    raise ContrastlabError("this representation has no convolution to analyse")


def stem_patch_covariance(
    module: nn.Module, images: Tensor, recipe: Recipe, seed: int
) -> tuple[str, nn.Conv2d, Tensor]:
    """The first convolution of ``module`` (its name and itself: square and ungrouped, else a
    ContrastlabError) and the covariance of the patches of ``images`` it sees: normalised as the
    encoder does (the recipe's mean and std), with the layer's kernel and stride, sampled from
    ``seed`` (`input_patch_covariance`)."""
    name, conv = first_conv(module)
    if conv.kernel_size[0] != conv.kernel_size[1] or conv.groups != 1:
        raise ContrastlabError(f"{name} is not a square, ungrouped convolution: {conv}")
    _, data_cov = input_patch_covariance(
        images,
        conv.kernel_size[0],
        stride=conv.stride[0],
        mean=recipe.data.mean,
        std=recipe.data.std,
        seed=seed,
    )
    return name, conv, data_cov


def analyze_covariance(
    loaded: LoadedModel, data: PreparedData, output: AnalysisOutput, args: argparse.Namespace
) -> dict[str, Any]:
    recipe = loaded.recipe
    trained = loaded.representation()
    name, conv, data_cov = stem_patch_covariance(
        trained, data.train.images, recipe, recipe.train.seed
    )
    layers = {"trained": conv}
    if not args.no_baseline:
        twin = loaded.representation(loaded.random_twin())
        layers["random init"] = first_conv(twin)[1]
    scores, mappings = {}, {}
    for label, layer in layers.items():
        w_cov = weight_covariance(layer.weight.detach().cpu())
        scores[label] = misalignment(w_cov, data_cov)
        lambdas, sigmas = eigenvalue_mapping(w_cov, data_cov)
        mappings[label] = {"lambda": lambdas.tolist(), "sigma": sigmas.tolist()}
    figure = eigenvalue_mapping_plot(
        mappings["trained"]["lambda"],
        mappings["trained"]["sigma"],
        output.figures / "covariance.png",
        title=f"{name}: filter variance along each data eigenvector",
    )
    print("| first layer | misalignment (0 = aligned with the data) |")
    print("|---|---:|")
    for label, score in scores.items():
        print(f"| {label} | {score:.3f} |")
    return {
        "analysis": "covariance",
        "checkpoint": str(loaded.checkpoint),
        "epoch": loaded.epoch,
        "layer": name,
        "kernel_size": conv.kernel_size[0],
        "data": recipe.data.source,
        "n_images": len(data.train),
        "misalignment": scores,
        "eigenvalue_mapping": mappings,
        "figure": str(figure),
    }
