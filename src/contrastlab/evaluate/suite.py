"""The evaluation suite: every protocol of ``eval.protocols`` on one encoder, features shared.

Frozen features of the labelled training split (the kNN bank, the probe's training set, the
retrieval gallery) and of the held-out split (the queries) are computed once per encoder; kNN,
the linear probe, retrieval and k-means clustering read them. Few-label fine-tuning and the
augmented SGD probe need the encoder and the images themselves. The figures come back as a flat
dict (``knn_top1``, ``linear_top5``, ``retrieval_map_at_r``, ``kmeans_nmi``,
``finetune_top1_1pct``, ...); :func:`protocol_params` records every parameter that produced them.
kNN uses no more neighbours than the bank supports (:func:`~contrastlab.evaluate.knn.bank_k`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from contrastlab.augment.geometry import random_crop_flip
from contrastlab.config.evaluation import EvalConfig
from contrastlab.evaluate.clustering import cluster_scores, kmeans_clusters
from contrastlab.evaluate.features import extract_features
from contrastlab.evaluate.finetune import FinetuneResult, finetune, labelled_subset
from contrastlab.evaluate.knn import bank_k, knn_scores
from contrastlab.evaluate.linear import linear_probe
from contrastlab.evaluate.linear_sgd import sgd_linear_probe
from contrastlab.evaluate.neighbours import resolve_backend
from contrastlab.evaluate.retrieval import (
    pick_queries,
    retrieval_metrics,
    top_k_indices,
    write_per_query,
)

__all__ = [
    "EvalData",
    "SuiteOptions",
    "finetune_with",
    "fraction_key",
    "protocol_keys",
    "protocol_params",
    "run_protocols",
    "unprefixed",
]

LINEAR_AUGMENT_SCALE = (0.2, 1.0)  # the probe's crops: MoCo's linear protocol uses 0.08-1 at 224


@dataclass
class EvalData:
    """Labelled images for the suite: uint8 (N, C, H, W) on the CPU, labels in range(classes)."""

    train_images: Tensor
    train_labels: Tensor
    test_images: Tensor
    test_labels: Tensor
    num_classes: int
    class_names: tuple[str, ...] = ()
    image_channels: int | None = None  # the picture's channels (RandBit appends bit planes)


@dataclass
class SuiteOptions:
    """How the suite runs (not what it measures): device, seed, memory layout, output."""

    device: torch.device | str = "cpu"
    seed: int = 0
    channels_last: bool = False
    progress: bool = False
    figures: Path | None = None  # where retrieval.png goes (None: no figures)
    tables: Path | None = None  # where retrieval_per_query.csv goes (None: not written)
    # the L-BFGS probe fitted on a stratified subset of at most this many training samples
    # (None: all); the pixel baseline's bound (`contrastlab.evaluate.pixels`)
    linear_max_train: int | None = None


# the figures each protocol writes, by key prefix (the baselines add "random_" and "pixels_")
KEY_PREFIXES = {
    "knn": "knn_",
    "linear": "linear_",
    "retrieval": "retrieval_",
    "clustering": "kmeans_",
    "finetune": "finetune_",
}


def protocol_keys(name: str, keys: Iterable[str]) -> list[str]:
    """Those of ``keys`` that protocol ``name`` writes (trained, random-init or pixels, with
    timing)."""
    owned = (KEY_PREFIXES[name], f"seconds_{name}")
    return [key for key in keys if unprefixed(key).startswith(owned)]


def unprefixed(key: str) -> str:
    """``key`` without its baseline prefix: ``pixels_knn_top1`` -> ``knn_top1``."""
    return key.removeprefix("random_").removeprefix("pixels_")


def fraction_key(fraction: float) -> str:
    """``0.01`` -> ``"1pct"``, ``0.1`` -> ``"10pct"``, ``0.005`` -> ``"0.5pct"``."""
    return f"{fraction * 100:g}pct"


def protocol_params(
    config: EvalConfig, num_classes: int, n_bank: int | None = None
) -> dict[str, dict[str, Any]]:
    """Every parameter of each protocol in ``config.protocols``, as written to metrics.json.

    kNN's ``k`` is the one used on a bank of ``n_bank`` training samples (:func:`bank_k`), with
    the requested ``eval.knn_k`` beside it as ``k_requested``; without ``n_bank``, the requested
    one (the bank is not known yet)."""
    backend = resolve_backend(config.backend)
    knn_k = config.knn_k if n_bank is None else bank_k(config.knn_k, n_bank, num_classes)
    params: dict[str, dict[str, Any]] = {
        "knn": {
            "k": knn_k,
            "k_requested": config.knn_k,
            "temperature": config.knn_temperature,
            "vote": config.knn_vote,
            "similarity": "cosine",
            "backend": backend,
            "bank": "training split",
            **({} if n_bank is None else {"bank_size": n_bank, "classes": num_classes}),
        },
        "linear": {"solver": config.linear_solver, "standardised": True},
        "retrieval": {
            "ks": list(config.retrieval_ks),
            "similarity": "cosine",
            "backend": backend,
            "queries": "held-out split",
            "gallery": "training split",
            "relevant": "same class",
        },
        "clustering": {
            "algorithm": "k-means (scikit-learn, k-means++)",
            "k": config.cluster_k or num_classes,
            "restarts": config.cluster_restarts,
            "features": "held-out split",
            "matching": "Hungarian, one-to-one",
        },
        "finetune": {
            "fractions": list(config.finetune_fractions),
            "epochs": config.finetune_epochs,
            "lr": config.finetune_lr,
            "batch_size": config.finetune_batch_size,
            "weight_decay": config.finetune_weight_decay,
            "optimiser": "SGD, Nesterov momentum 0.9, cosine schedule",
            "augment": "random resized crop (0.5-1) + flip" if config.finetune_augment else "none",
            "labelled subset": "stratified, at least one per class",
        },
    }
    linear = params["linear"]
    if config.linear_solver == "lbfgs":
        linear.update(
            cs=list(config.linear_cs),
            val_fraction=config.linear_val_fraction,
            max_iter=config.linear_max_iter,
        )
    else:
        linear.update(
            epochs=config.linear_epochs,
            lr=config.linear_lr,
            batch_size=config.linear_batch_size,
            weight_decay=config.linear_weight_decay,
            momentum=0.9,
            schedule="x0.1 at 60% and 80% of epochs",
            augment=config.linear_augment,
        )
    return {name: params[name] for name in config.protocols}


def run_protocols(
    encoder: nn.Module, data: EvalData, config: EvalConfig, options: SuiteOptions
) -> dict[str, Any]:
    """Run ``config.protocols`` on ``encoder`` (already on ``options.device``); flat figures.

    Also returns ``n_train``, ``n_test``, ``feature_dim`` and ``seconds_PROTOCOL`` per protocol.
    """

    def features(images: Tensor) -> Tensor:
        return extract_features(
            encoder,
            images,
            batch_size=config.batch_size,
            device=options.device,
            channels_last=options.channels_last,
            progress=options.progress,
        )

    train, test = features(data.train_images), features(data.test_images)
    out: dict[str, Any] = {
        "n_train": train.shape[0],
        "n_test": test.shape[0],
        "feature_dim": train.shape[1],
    }
    for name in config.protocols:
        start = time.perf_counter()
        if name == "knn":
            out.update(_knn(train, test, data, config, options))
        elif name == "linear":
            augmented = None
            if config.linear_solver == "sgd" and config.linear_augment:
                augmented = _augmented_features(features, data.train_images)
            out.update(_linear(train, test, data, config, options, augmented))
        elif name == "retrieval":
            out.update(_retrieval(train, test, data, config, options))
        elif name == "clustering":
            k = config.cluster_k or data.num_classes
            clusters = kmeans_clusters(
                test.numpy(), k, seed=options.seed, restarts=config.cluster_restarts
            )
            scores = cluster_scores(clusters, data.test_labels.numpy())
            out.update({f"kmeans_{key}": value for key, value in scores.items()})
        elif name == "finetune":
            out.update(_finetune(encoder, data, config, options))
        out[f"seconds_{name}"] = round(time.perf_counter() - start, 2)
    return out


def _knn(
    train: Tensor, test: Tensor, data: EvalData, config: EvalConfig, options: SuiteOptions
) -> dict[str, float]:
    k = bank_k(config.knn_k, train.shape[0], data.num_classes)
    if k != config.knn_k and options.progress:
        print(
            f"kNN: k={k} instead of eval.knn_k={config.knn_k}: a {train.shape[0]}-image bank "
            f"of {data.num_classes} classes supports no more",
            file=sys.stderr,
        )
    scores = knn_scores(
        train.to(options.device),
        data.train_labels,
        test.to(options.device),
        data.test_labels,
        num_classes=data.num_classes,
        k=k,
        temperature=config.knn_temperature,
        vote=config.knn_vote,
        backend=config.backend,
    )
    return {"knn_top1": scores["top1"], "knn_top5": scores["top5"]}


def _augmented_features(
    features: Callable[[Tensor], Tensor], images: Tensor
) -> Callable[[torch.Generator], Tensor]:
    """Features of a new crop-and-flip copy of ``images`` on each call (uint8 in, uint8 out)."""

    def draw(generator: torch.Generator) -> Tensor:
        parts = []
        for start in range(0, len(images), 4096):  # bounded memory for the float copies
            views = random_crop_flip(
                images[start : start + 4096].float(), generator, scale=LINEAR_AUGMENT_SCALE
            )
            parts.append(features(views.round_().clamp_(0, 255).to(torch.uint8)))
        return torch.cat(parts)

    return draw


def _linear(
    train: Tensor,
    test: Tensor,
    data: EvalData,
    config: EvalConfig,
    options: SuiteOptions,
    augmented: Callable[[torch.Generator], Tensor] | None,
) -> dict[str, float]:
    if config.linear_solver == "lbfgs":
        labels, subset = data.train_labels, {}
        if options.linear_max_train is not None and len(labels) > options.linear_max_train:
            fraction = options.linear_max_train / len(labels)
            keep = torch.from_numpy(labelled_subset(labels, fraction, options.seed))
            train, labels, subset = train[keep], labels[keep], {"linear_train_subset": len(keep)}
        result = linear_probe(
            train,
            labels,
            test,
            data.test_labels,
            seed=options.seed,
            cs=config.linear_cs,
            val_fraction=config.linear_val_fraction,
            max_iter=config.linear_max_iter,
        )
        top = {"linear_top1": result.top1, "linear_top5": result.top5, "linear_c": result.c}
        return {**top, **subset}
    result = sgd_linear_probe(
        train,
        data.train_labels,
        test,
        data.test_labels,
        num_classes=data.num_classes,
        epochs=config.linear_epochs,
        lr=config.linear_lr,
        batch_size=config.linear_batch_size,
        weight_decay=config.linear_weight_decay,
        seed=options.seed,
        device=options.device,
        augmented_features=augmented,
        progress=options.progress,
    )
    return {"linear_top1": result.top1, "linear_top5": result.top5}


def _retrieval(
    train: Tensor, test: Tensor, data: EvalData, config: EvalConfig, options: SuiteOptions
) -> dict[str, float]:
    if not bool(torch.isin(data.test_labels, data.train_labels).any()):
        # no held-out class occurs in the gallery: every figure would be undefined
        return {"retrieval_queries_without_relevant": len(data.test_labels)}
    result = retrieval_metrics(
        test,
        data.test_labels,
        train,
        data.train_labels,
        ks=config.retrieval_ks,
        backend=config.backend,
    )
    if options.figures is not None and config.retrieval_grid_queries > 0:
        # imported here: the figure module uses this package's input checks
        from contrastlab.evaluate.retrieval_grid import retrieval_grid

        n = min(config.retrieval_grid_queries, len(data.test_labels))
        queries = pick_queries(data.test_labels.numpy(), n, options.seed)
        k = min(config.retrieval_grid_k, train.shape[0])
        neighbours = top_k_indices(test[queries], train, k, backend=config.backend)
        keep = data.image_channels or data.test_images.shape[1]
        retrieval_grid(
            data.test_images[queries][:, :keep],
            data.train_images[:, :keep],
            neighbours,
            data.test_labels[queries],
            data.train_labels,
            options.figures / "retrieval.png",
            class_names=data.class_names or None,
            title=f"top-{k} retrievals from the training split",
        )
    if options.tables is not None:
        write_per_query(result, data.test_labels, options.tables / "retrieval_per_query.csv")
    figures: dict[str, float] = dict(result.as_dict())
    figures["retrieval_queries_without_relevant"] = result.n_without_relevant
    return figures


def finetune_with(
    encoder: nn.Module,
    data: EvalData,
    config: EvalConfig,
    options: SuiteOptions,
    fraction: float,
    **extra: Any,
) -> FinetuneResult:
    """:func:`finetune` of ``encoder`` on ``fraction`` of ``data``'s training labels with the
    ``eval.finetune_*`` schedule of ``config``; ``extra`` (``curve_every``, ``keep_model``) goes
    through."""
    return finetune(
        encoder,
        data.train_images,
        data.train_labels,
        data.test_images,
        data.test_labels,
        num_classes=data.num_classes,
        fraction=fraction,
        epochs=config.finetune_epochs,
        lr=config.finetune_lr,
        batch_size=config.finetune_batch_size,
        weight_decay=config.finetune_weight_decay,
        augment=config.finetune_augment,
        seed=options.seed,
        device=options.device,
        progress=options.progress,
        channels_last=options.channels_last,
        **extra,
    )


def _finetune(
    encoder: nn.Module, data: EvalData, config: EvalConfig, options: SuiteOptions
) -> dict[str, float]:
    out: dict[str, float] = {}
    for fraction in config.finetune_fractions:
        result = finetune_with(encoder, data, config, options, fraction)
        key = fraction_key(fraction)
        out[f"finetune_top1_{key}"] = result.top1
        out[f"finetune_top5_{key}"] = result.top5
        out[f"finetune_labelled_{key}"] = result.n_labelled
    return out
