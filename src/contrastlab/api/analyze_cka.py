"""`contrastlab analyze cka RUN [--other RUN_B]`: layer-by-layer CKA between the trained encoder and
its random-init twin (or another run's encoder) on the held-out images, as a heatmap."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from torch import nn

from contrastlab.analysis.cka import cka_matrix
from contrastlab.api.analyze import AnalysisOutput
from contrastlab.api.data import PreparedData
from contrastlab.api.loading import LoadedModel, load_model
from contrastlab.core.errors import ContrastlabError
from contrastlab.report.cka_heatmap import cka_heatmap

# the stages of our ResNets, in order: the stem's output, the four stages, the pooled features
RESNET_LAYERS = (
    "backbone.relu",
    "backbone.layer1",
    "backbone.layer2",
    "backbone.layer3",
    "backbone.layer4",
    "backbone.avgpool",
)


def default_layers(model: nn.Module) -> list[str]:
    names = dict(model.named_modules())
    found = [name for name in RESNET_LAYERS if name in names]
    if not found:
        raise ContrastlabError(
            "this representation has none of the ResNet stages; name layers with --layers "
            f"(e.g. {', '.join(list(names)[1:5])})"
        )
    return found


def analyze_cka(
    loaded: LoadedModel, data: PreparedData, output: AnalysisOutput, args: argparse.Namespace
) -> dict[str, Any]:
    assert data.test is not None
    recipe = loaded.recipe
    model_a = loaded.representation()
    if args.other:
        other = load_model(args.other, [("eval.representation", recipe.eval.representation)])
        model_b, label_b = other.representation().to(loaded.device), str(other.checkpoint)
    else:
        model_b = loaded.representation(loaded.random_twin())
        label_b = "random init"
    layers = (
        [name.strip() for name in args.layers.split(",") if name.strip()]
        if args.layers
        else default_layers(model_a)
    )
    matrix = cka_matrix(
        model_a,
        model_b,
        data.test.images,
        layers,
        layers,
        kernel=args.kernel,
        batch_size=max(4, min(recipe.eval.batch_size, 256)),
        device=loaded.device,
    )
    short = [name.removeprefix("backbone.") for name in layers]
    short_b = label_b if not args.other else Path(args.other).name
    figure = cka_heatmap(
        matrix,
        short,
        short,
        output.figures / "cka.png",
        title=f"{args.kernel} CKA: trained (rows) vs {short_b} (columns)",
    )
    print(f"{args.kernel} CKA, rows: {loaded.checkpoint}, columns: {label_b}\n")
    print("| layer | " + " | ".join(short) + " |")
    print("|---|" + "---:|" * len(short))
    for name, row in zip(short, matrix, strict=True):
        print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
    return {
        "analysis": "cka",
        "checkpoint": str(loaded.checkpoint),
        "other": label_b,
        "kernel": args.kernel,
        "estimator": "minibatch unbiased HSIC (Nguyen et al. 2021)",
        "images": f"{len(data.test)} held-out images: {data.eval_note}",
        "layers": layers,
        "matrix": matrix.tolist(),
        "diagonal": [float(matrix[i, i]) for i in range(len(layers))],
        "figure": str(figure),
    }
