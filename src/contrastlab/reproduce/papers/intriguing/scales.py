"""The settings of `contrastlab reproduce intriguing` at each scale, the generalized losses'
settings, and how an experiment's settings are resolved against the --datasets folder (kept apart
from the findings in `contrastlab.reproduce.papers.intriguing`).

Small: SimCLR on scikit-learn's digits (1,257 train / 540 test, greyscale) with crops of 50-100%
and no other augmentation, as the RandBit colab; the shapes CPU recipe's backbone, head and Adam.
Paper: MNIST (its test split under --datasets, 80/20) and CIFAR-10 (the JPEG archives under
--datasets) on GPU.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from contrastlab.reproduce.common import TINY_MODEL
from contrastlab.reproduce.paper import Context

__all__ = [
    "DATASET_FILES",
    "DIGITS",
    "RECIPE",
    "SCALES",
    "experiment",
    "loss_settings",
    "resolve",
    "run_metrics",
]

RECIPE = "simclr_resnet18w0.125_shapes_16e"  # Adam lr 5e-3, ResNet-18 at 1/8 width, 2-layer head
# the built-in digits (1,257 train / 540 test, greyscale): crops of 50-100% and nothing else,
# as the RandBit colab; batch 128, a 64-d head output
DIGITS: dict[str, Any] = {
    "data.source": "digits",
    "data.channels": 1,
    "data.mean": [0.5],
    "data.std": [0.5],
    "augment.crop_scale": [0.5, 1.0],
    "augment.flip_p": 0.0,
    "augment.jitter_p": 0.0,
    "augment.gray_p": 0.0,
    "model.head_out_dim": 64,
    "train.batch_size": 128,
    "train.epochs": 10,
}
MNIST = {**DIGITS, "data.source": "$MNIST", "data.image_size": 28, "model.width": 1.0}
MNIST.update({"train.batch_size": 1000, "model.head_out_dim": 64, "optim.lr": 1e-3})
CIFAR = {"data.source": "$CIFAR_TRAIN", "data.eval_source": "$CIFAR_TEST", "train.epochs": 200}
DATASET_FILES = {
    "$MNIST": "mnist-test/t10k-images-idx3-ubyte.gz",
    "$CIFAR_TRAIN": "cifar10-jpg/cifar10-train-jpg.tar.gz",
    "$CIFAR_TEST": "cifar10-jpg/cifar10-test-jpg.tar.gz",
}
_TINY = {**DIGITS, **TINY_MODEL, "data.limit": 96, "data.eval_limit": 48}
_TINY_EXPERIMENTS: dict[str, Any] = {
    "seeds": [0],
    "randbit": {"bits": [0, 5], "taus": [0.05, 0.2], "seeds": [0], "recipe": RECIPE},
    "losses": {"losses": ["nt_xent", "swd_normal"], "dim": 16, "recipe": RECIPE},
    "overlay": {"pools": [1, 10, 100], "recipe": RECIPE},
    "multiobject": {"ratios": [1.0, 2.0], "object_size": 4, "recipe": RECIPE},
}
SCALES: dict[str, dict[str, Any]] = {
    "tiny": {**_TINY_EXPERIMENTS, "settings": _TINY},
    "small": {
        "seeds": [0, 1],
        "settings": DIGITS,
        "randbit": {
            "bits": [0, 5, 10],
            "taus": [0.05, 0.2],
            "seeds": [0],
            "recipe": RECIPE,
            "settings": {"data.image_size": 16, "method.simclr.cross_view_only": True},
        },
        "losses": {
            "losses": ["nt_xent", "logsumexp", "swd_normal", "swd_hypersphere"],
            "dim": 64,
            "recipe": RECIPE,
            "settings": {"data.image_size": 16},
        },
        "overlay": {"pools": [1, 10, 1000], "recipe": RECIPE, "settings": {"data.image_size": 24}},
        "multiobject": {
            "ratios": [1.0, 1.5, 2.0],
            "object_size": 6,
            "recipe": RECIPE,
            "settings": {"data.image_size": 24},
        },
    },
    "paper": {
        "seeds": [0],
        "settings": {},
        "randbit": {
            "bits": [0, 5, 10, 15, 20],
            "taus": [0.05, 0.1, 0.2],
            "seeds": [0],
            "recipe": RECIPE,
            "settings": {**MNIST, "method.simclr.cross_view_only": True},
        },
        "losses": {
            "losses": ["nt_xent", "logsumexp", "swd_normal", "swd_hypersphere", "swd_hypercube"],
            "dim": 128,
            "recipe": "simclr_resnet18_cifar10_1000e",
            "settings": CIFAR,
        },
        "overlay": {
            "pools": [1, 10, 100, 1000],
            "recipe": "simclr_resnet18_cifar10_1000e",
            "settings": {**CIFAR, "data.image_size": 64},
            "idx": "$MNIST",
        },
        "multiobject": {
            "ratios": [1.0, 1.5, 2.0],
            "object_size": 16,
            "recipe": RECIPE,
            "settings": {**MNIST, "data.image_size": 64, "train.epochs": 50},
        },
    },
}


def loss_settings(loss: str, tau: float, dim: int) -> dict[str, Any]:
    """NT-Xent (with the random-init reference); log-sum-exp at NT-Xent's own point (lambda =
    tau / d, scale d / tau: tau x NT-Xent = d x alignment + tau x LSE + const, the generalized
    contrastive loss of Chen, Luo & Li 2021 (our algebra), self term kept as the official
    notebook does); SWD with lambda 1 and scale d (per-vector units)."""
    if loss == "nt_xent":
        return {"eval.random_baseline": True}
    if loss == "logsumexp":
        return {
            "method.simclr.loss": loss,
            "method.simclr.weight": tau / dim,
            "method.simclr.scale": dim / tau,
        }
    return {"method.simclr.loss": loss, "method.simclr.scale": float(dim)}


def resolve(ctx: Context, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """``settings`` with the --datasets placeholders replaced by paths; None when absent."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, str) and value in DATASET_FILES:
            path = ctx.dataset(DATASET_FILES[value])
            if path is None:
                return None
            value = str(path)
        out[key] = value
    return out


def experiment(ctx: Context, name: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The experiment's entry (its ``idx`` resolved) and its resolved settings (the scale's
    common ones, then its own); None when a file of the --datasets folder they name is absent."""
    entry = dict(ctx.settings[name])
    merged = resolve(ctx, {**ctx.settings["settings"], **entry.get("settings", {})})
    idx = resolve(ctx, {"idx": entry.get("idx")})
    if merged is None or idx is None:
        return entry, None
    return {**entry, **idx}, merged


def run_metrics(ctx: Context, run: str) -> dict[str, Any]:
    """A finished run's ``metrics.json``."""
    metrics: dict[str, Any] = json.loads((ctx.workspace.run_dir(run) / "metrics.json").read_text())
    return metrics
