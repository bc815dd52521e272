"""One markdown table of every protocol's figures: the trained encoder beside its baselines, the
random-init encoder and the raw pixels.

Rows appear for the figures present in ``metrics`` (flat keys as written by the evaluation suite,
the random-init twin under the ``random_`` prefix, the raw pixels under ``pixels_``; "—" where a
baseline has no figure, e.g. fine-tuning on pixels); the notes come from the protocol parameters
recorded under ``metrics["protocols"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["results_table"]

_MEASURES = ("precision", "recall", "hit")


def _notes(params: Mapping[str, Any]) -> dict[str, str]:
    knn = params.get("knn", {})
    linear = params.get("linear", {})
    retrieval = params.get("retrieval", {})
    clustering = params.get("clustering", {})
    finetune = params.get("finetune", {})
    if linear.get("solver") == "sgd":
        aug = ", augmented" if linear.get("augment") else ""
        linear_note = f"SGD on frozen features, {linear.get('epochs')} epochs{aug}"
    else:
        linear_note = "logistic regression (L-BFGS) on frozen features, C on a val split"
    if "pixels_train_subset" in linear:
        linear_note += f"; pixels: fitted on {linear['pixels_train_subset']} training images"
    return {
        "knn": _knn_note(knn),
        "linear": linear_note,
        "retrieval": "held-out queries vs training gallery, cosine" if retrieval else "",
        "kmeans": f"k-means, k={clustering.get('k')}, on held-out features" if clustering else "",
        "finetune": f"whole network, {finetune.get('epochs')} epochs; random init: from scratch"
        if finetune
        else "",
    }


def _knn_note(knn: Mapping[str, Any]) -> str:
    """``weighted, k=8 (200 requested; 160-image bank, 20 classes), t=0.1`` when the bank lowered
    k (`contrastlab.evaluate.knn.bank_k`), else ``weighted, k=200, t=0.1``."""
    k, requested = knn.get("k"), knn.get("k_requested")
    lowered = ""
    if requested is not None and requested != k:
        lowered = f" ({requested} requested"
        if "classes" in knn:
            lowered += f"; {knn['bank_size']}-image bank, {knn['classes']} classes"
        lowered += ")"
    return f"{knn.get('vote', 'weighted')}, k={k}{lowered}, t={knn.get('temperature')}"


def _rows(metrics: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    notes = _notes(metrics.get("protocols", {}))
    rows = [
        ("kNN top-1", "knn_top1", notes["knn"]),
        ("kNN top-5", "knn_top5", ""),
        ("linear probe top-1", "linear_top1", notes["linear"]),
        ("linear probe top-5", "linear_top5", ""),
    ]
    left_out = metrics.get("retrieval_queries_without_relevant", 0)
    if left_out:
        notes["retrieval"] += f"; {left_out} queries of classes not in the gallery left out"
    if "retrieval_map_at_r" in metrics:
        rows.append(("retrieval mAP@R", "retrieval_map_at_r", notes["retrieval"]))
    ranked = []
    for key in metrics:
        measure, _, k = key.removeprefix("retrieval_").rpartition("_at_")
        if key.startswith("retrieval_") and measure in _MEASURES and k.isdigit():
            ranked.append((_MEASURES.index(measure), int(k), measure, key))
    rows += [(f"retrieval {measure}@{k}", key, "") for _, k, measure, key in sorted(ranked)]
    rows += [
        ("k-means accuracy", "kmeans_acc", notes["kmeans"] + ", Hungarian-matched"),
        ("k-means NMI", "kmeans_nmi", ""),
        ("k-means ARI", "kmeans_ari", ""),
        ("cluster accuracy (IIC head)", "cluster_top1", "head B, lowest-loss sub-head, Hungarian"),
    ]
    shares = [k for k in metrics if k.startswith("finetune_top1_")]
    for key in sorted(shares, key=lambda k: float(k.removeprefix("finetune_top1_")[:-3])):
        share = key.removeprefix("finetune_top1_").replace("pct", "%")
        labelled = metrics.get(key.replace("top1", "labelled"))
        rows.append((f"fine-tune {share} labels top-1", key, notes["finetune"]))
        if labelled is not None:
            rows[-1] = (rows[-1][0], key, f"{labelled} labelled images; " + notes["finetune"])
    for key in sorted(k for k in metrics if k.startswith("rotation_top1")):
        space = key.removeprefix("rotation_top1").removeprefix("_") or "backbone"
        rows.append((f"rotation probe ({space})", key, "4-way, linear, chance 0.25"))
    return [row for row in rows if row[1] in metrics]


def results_table(metrics: Mapping[str, Any]) -> str:
    """A markdown table: protocol | trained | random init | pixels | notes (fractions to 3
    decimals, "—" for a figure not measured)."""

    def cell(key: str) -> str:
        value = metrics.get(key)
        return "—" if value is None else f"{value:.3f}"

    lines = ["| protocol | trained | random init | pixels | notes |", "|---|---:|---:|---:|---|"]
    for label, key, note in _rows(metrics):
        baselines = f"{cell('random_' + key)} | {cell('pixels_' + key)}"
        lines.append(f"| {label} | {cell(key)} | {baselines} | {note} |")
    return "\n".join(lines)
