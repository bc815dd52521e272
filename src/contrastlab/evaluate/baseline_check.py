"""Does the trained encoder beat its baselines? One comparison per protocol's headline figure.

A contrastive run can finish without error and still have learned nothing useful (a collapse, a
diverged learning rate, too few steps): its figures then sit at or below those of its own
random-init starting point, or of the raw pixels. The table shows the numbers; this module turns
them into a verdict that `contrastlab train`, `contrastlab eval` and the run report state in
words, so that a losing run cannot pass unnoticed.

Pure Python on the flat figures of ``metrics.json`` (the trained value under ``KEY``, the
baselines under ``random_KEY`` and ``pixels_KEY``); no torch. "Beats" means strictly greater: a
tie does not count as a win, and neither does a NaN.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "BASELINES",
    "HEADLINES",
    "baseline_check",
    "baseline_summary",
    "below_baseline",
    "warning_lines",
]

# the headline figure of each protocol and its label in the results table
HEADLINES = {
    "knn_top1": "kNN top-1",
    "linear_top1": "linear probe top-1",
    "retrieval_map_at_r": "retrieval mAP@R",
    "kmeans_acc": "k-means accuracy",
}
# baseline name in the check -> (key prefix of its figures, how it is called in a sentence)
BASELINES = {"random": ("random_", "random init"), "pixels": ("pixels_", "raw pixels")}
_FINETUNE = "finetune_top1_"


def _headline_keys(metrics: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, label) of every headline figure present: the fixed ones, then each fine-tuning
    fraction (``finetune_top1_1pct`` -> "fine-tune 1% labels top-1") by ascending fraction."""
    keys = [(key, label) for key, label in HEADLINES.items() if key in metrics]
    shares = [key for key in metrics if key.startswith(_FINETUNE) and key.endswith("pct")]
    for key in sorted(shares, key=lambda k: float(k.removeprefix(_FINETUNE)[:-3])):
        share = key.removeprefix(_FINETUNE).replace("pct", "%")
        keys.append((key, f"fine-tune {share} labels top-1"))
    return keys


def baseline_check(metrics: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """For each headline figure with a trained value and at least one baseline value:
    ``{"trained": t, "random": r, "pixels": p, "beats_random": t > r, "beats_pixels": t > p}``.

    A baseline that was not measured (no ``random_KEY``/``pixels_KEY``, e.g. fine-tuning has no
    pixel twin) is left out of the entry together with its ``beats_`` flag; a figure with no
    baseline at all gets no entry. Values are kept as written (floats)."""
    check: dict[str, dict[str, Any]] = {}
    for key, _label in _headline_keys(metrics):
        trained = metrics[key]
        entry: dict[str, Any] = {"trained": trained}
        for name, (prefix, _) in BASELINES.items():
            value = metrics.get(prefix + key)
            if value is not None:
                entry[name] = value
                entry[f"beats_{name}"] = bool(trained > value)
        if len(entry) > 1:
            check[key] = entry
    return check


def _losses(check: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, float, float]]:
    """(figure label, baseline wording, trained, baseline) of every comparison not won."""
    labels = dict(_headline_keys(check))
    out = []
    for key, entry in check.items():
        for name, (_, wording) in BASELINES.items():
            if name in entry and not entry[f"beats_{name}"]:
                out.append((labels.get(key, key), wording, entry["trained"], entry[name]))
    return out


def below_baseline(check: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One line per comparison the trained encoder does not win, e.g.
    ``"kNN top-1: trained 0.162 <= random init 0.475"``; empty when it wins them all."""
    return [
        f"{label}: trained {trained:.3f} <= {wording} {value:.3f}"
        for label, wording, trained, value in _losses(check)
    ]


def warning_lines(check: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """What to print under the results table: one ``WARNING: ...`` line per comparison not won,
    or a single line saying the trained encoder beats every baseline measured on every headline
    figure; nothing when no baseline was measured."""
    losses = _losses(check)
    if losses:
        return [
            f"WARNING: the trained encoder does not beat {wording} on {label} "
            f"({trained:.3f} vs {value:.3f})"
            for label, wording, trained, value in losses
        ]
    measured = [w for name, (_, w) in BASELINES.items() if any(name in e for e in check.values())]
    if not measured:
        return []
    return [f"The trained encoder beats {' and '.join(measured)} on every protocol."]


def baseline_summary(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """``{"baseline_check": ..., "below_baseline": [...]}`` of ``metrics``, for metrics.json."""
    check = baseline_check(metrics)
    return {"baseline_check": check, "below_baseline": below_baseline(check)}
