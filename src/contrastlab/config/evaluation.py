"""The ``eval`` section of a recipe: which protocols run and every parameter of each.

Used at the end of `contrastlab train` and by `contrastlab eval` (where ``--protocol`` replaces
``protocols`` and ``--set eval.KEY=VALUE`` changes any parameter). Every value here is written
beside the figures it produced in ``metrics.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contrastlab.core.checks import check

Protocol = Literal["knn", "linear", "retrieval", "clustering", "finetune"]
PROTOCOLS: tuple[str, ...] = ("knn", "linear", "retrieval", "clustering", "finetune")


@dataclass
class EvalConfig:
    """Frozen-feature protocols, retrieval, clustering and few-label fine-tuning."""

    protocols: tuple[Protocol, ...] = ("knn", "linear", "retrieval", "clustering")
    random_baseline: bool = True  # the same protocols on the trained encoder's starting point
    pixel_baseline: bool = True  # ... and on the normalised raw pixels (all but finetune)
    batch_size: int = 512  # feature extraction
    representation: str = "backbone"  # which features: backbone, or a method's own (looc++)
    rotation_probe: bool = False  # also score a 4-way rotation probe on every representation
    backend: Literal["auto", "torch", "faiss"] = "auto"  # neighbour search (kNN, retrieval)
    # kNN (Wu et al. 2018; the MoCo monitor): cosine, k neighbours, exp(sim / t) or 1 per vote;
    # k is lowered to what the bank supports: min(knn_k, max(1, n_bank // classes))
    knn_k: int = 200
    knn_temperature: float = 0.1
    knn_vote: Literal["weighted", "majority"] = "weighted"
    # linear probe: L-BFGS logistic regression with C chosen on a validation split (SimCLR B.5),
    # or SGD on a linear layer (MoCo's schedule shape: momentum, step decay at 60% and 80%)
    linear_solver: Literal["lbfgs", "sgd"] = "lbfgs"
    linear_cs: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)  # inverse L2 strengths tried (lbfgs)
    linear_val_fraction: float = 0.2
    linear_max_iter: int = 1000
    linear_epochs: int = 100  # sgd
    linear_lr: float = 0.1  # sgd, for batch 256 (scaled linearly with the batch)
    linear_batch_size: int = 256  # sgd
    linear_weight_decay: float = 0.0  # sgd
    linear_augment: bool = (
        False  # sgd: random crop + flip of training images, re-encoded each epoch
    )
    # retrieval: held-out queries against the training gallery, cosine
    retrieval_ks: tuple[int, ...] = (1, 5, 10)
    retrieval_grid_queries: int = 8  # rows of figures/retrieval.png (0: no picture)
    retrieval_grid_k: int = 8  # neighbours shown per row
    # clustering: k-means on the held-out features (scikit-learn), Hungarian-matched
    cluster_k: int | None = None  # default: the number of classes
    cluster_restarts: int = 10
    # few-label fine-tuning of the whole network on a stratified fraction of the training labels
    finetune_fractions: tuple[float, ...] = (0.01, 0.1)
    finetune_epochs: int = 30
    finetune_lr: float = 0.05
    finetune_batch_size: int = 64
    finetune_weight_decay: float = 5e-4
    # random crop + flip of each fine-tuning batch; false trains on the images as they are (the
    # block-shuffle runs of Neyshabur et al. 2020, where a crop would break the fixed permutation)
    finetune_augment: bool = True

    def validate(self) -> None:
        check(len(self.protocols) > 0, "eval.protocols", "a non-empty list", self.protocols)
        check(self.batch_size >= 1, "eval.batch_size", "at least 1", self.batch_size)
        check(self.knn_k >= 1, "eval.knn_k", "at least 1", self.knn_k)
        check(self.knn_temperature > 0, "eval.knn_temperature", "> 0", self.knn_temperature)
        cs = self.linear_cs
        check(len(cs) > 0 and min(cs) > 0, "eval.linear_cs", "positive numbers", cs)
        frac = self.linear_val_fraction
        check(0 < frac < 1, "eval.linear_val_fraction", "in (0, 1)", frac)
        for key in ("linear_max_iter", "linear_epochs", "linear_batch_size", "finetune_epochs"):
            check(getattr(self, key) >= 1, f"eval.{key}", "at least 1", getattr(self, key))
        check(
            self.finetune_batch_size >= 2,
            "eval.finetune_batch_size",
            "at least 2",
            self.finetune_batch_size,
        )
        for key in ("linear_lr", "finetune_lr"):
            check(getattr(self, key) > 0, f"eval.{key}", "> 0", getattr(self, key))
        for key in ("linear_weight_decay", "finetune_weight_decay"):
            check(getattr(self, key) >= 0, f"eval.{key}", ">= 0", getattr(self, key))
        ks = self.retrieval_ks
        check(len(ks) > 0 and min(ks) >= 1, "eval.retrieval_ks", "integers >= 1", ks)
        for key in ("retrieval_grid_queries",):
            check(getattr(self, key) >= 0, f"eval.{key}", "0 or more", getattr(self, key))
        check(
            self.retrieval_grid_k >= 1, "eval.retrieval_grid_k", "at least 1", self.retrieval_grid_k
        )
        k = self.cluster_k
        check(k is None or k >= 2, "eval.cluster_k", "null or at least 2", k)
        check(
            self.cluster_restarts >= 1, "eval.cluster_restarts", "at least 1", self.cluster_restarts
        )
        if self.linear_augment:
            check(
                self.linear_solver == "sgd",
                "eval.linear_solver",
                "sgd when eval.linear_augment is true (L-BFGS fits fixed features)",
                self.linear_solver,
            )
        fr = self.finetune_fractions
        ok = len(fr) > 0 and all(0 < f <= 1 for f in fr)
        check(ok, "eval.finetune_fractions", "fractions in (0, 1]", fr)
