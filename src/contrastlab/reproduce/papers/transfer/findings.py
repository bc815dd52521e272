"""The `transfer` reproduction's findings: each a claim, our figures and the comparisons between
our own measured conditions that decide its verdict (no number of the paper is a target)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from contrastlab.reproduce.common import fmt
from contrastlab.reproduce.papers.transfer.steps import PAIRS, concordance
from contrastlab.reproduce.verdict import Claim, Finding, Test, finding, mean_spread

__all__ = [
    "basin_finding",
    "criticality_finding",
    "gap_finding",
    "similarity_finding",
    "speed_finding",
]

LOWER, HIGHER = ("conv1", "layer1"), ("layer3", "layer4")


def _mean(values: Sequence[float]) -> float:
    return mean_spread(values)[0]


def gap_finding(
    claim: Claim,
    sweep: Mapping[int, Mapping[str, Any]],
    blocks: Sequence[int],
    figures: list[str],
    pretrain: Mapping[str, Any],
) -> Finding:
    """The P-T minus RI-T final top-1 over block sizes: positive unshuffled, smaller at b = 1,
    and falling along the sweep (concordance of block size and gap above one half);
    ``pretrain``: the pretraining run's metrics (its linear probe on the source data)."""
    size, smallest = max(blocks), min(blocks)
    gaps = [_mean(sweep[b]["gap"]) for b in blocks]
    rank = concordance(blocks, gaps)
    source = f"pretrained encoder's linear probe on its source {pretrain['linear_top1']:.3f}. "
    measured = source + "; ".join(
        f"b={b}: P-T {fmt(sweep[b]['pretrained'])}, RI-T {fmt(sweep[b]['scratch'])}, "
        f"gap {fmt(sweep[b]['gap'])}"
        for b in blocks
    )
    full, pixel = _mean(sweep[size]["gap"]), _mean(sweep[smallest]["gap"])
    tests = [
        Test(f"unshuffled (b={size}) gap {full:+.3f} > 0: pretraining helps the target", full > 0),
        Test(f"gap at b={smallest} {pixel:+.3f} < unshuffled gap {full:+.3f}", pixel < full),
        Test(
            f"the gap falls with b: concordance of b and mean gap {rank:.2f} > 0.5 (1: the "
            "larger block always has the larger gap)",
            rank > 0.5,
        ),
    ]
    return finding("block shuffle: accuracy gap", claim, measured, tests, figures)


def _steps(pair: tuple[float | None, float | None]) -> str:
    return " vs ".join("never" if s is None else f"{s:g}" for s in pair)


def speed_finding(
    claim: Claim, sweep: Mapping[int, Mapping[str, Any]], blocks: Sequence[int], figures: list[str]
) -> Finding:
    """Steps P-T vs RI-T needed to reach RI-T's final top-1 and final training loss: fewer for
    P-T at the smallest block in every seed, and at every block size."""
    smallest = min(blocks)
    at = sweep[smallest]
    measured = (
        "steps to RI-T's final top-1, P-T vs RI-T (per seed): "
        + "; ".join(
            f"b={b}: " + ", ".join(_steps(s) for s in sweep[b]["steps_top1"]) for b in blocks
        )
        + f". At b={smallest}, steps to RI-T's final training loss: "
        + ", ".join(_steps(s) for s in at["steps_loss"])
    )
    slower = [b for b in blocks if not all(sweep[b]["faster_top1"])]
    tests = [
        Test(
            f"b={smallest}: P-T reaches RI-T's final top-1 in fewer steps in every seed "
            f"({', '.join(_steps(s) for s in at['steps_top1'])})",
            all(at["faster_top1"]),
        ),
        Test(
            f"b={smallest}: P-T reaches RI-T's final training loss in fewer steps in every seed "
            f"({', '.join(_steps(s) for s in at['steps_loss'])})",
            all(at["faster_loss"]),
        ),
        Test(
            "at every block size P-T reaches RI-T's final top-1 sooner in every seed"
            + (f" (not at b={', '.join(map(str, slower))})" if slower else ""),
            not slower,
        ),
    ]
    return finding("block shuffle: optimisation speed", claim, measured, tests, figures)


def basin_finding(claim: Claim, interpolation: Mapping[str, Any], figures: list[str]) -> Finding:
    """Loss and error barriers along the straight line: lower for P-T / P-T than RI-T / RI-T."""
    barriers, curves = interpolation["barriers"], interpolation["curves"]
    pt, ri = barriers["P-T / P-T"], barriers["RI-T / RI-T"]

    def path(label: str) -> str:
        acc = [row["accuracy"] for row in curves[label]]
        return f"accuracy {acc[0]:.3f} -> min {min(acc):.3f} -> {acc[-1]:.3f}"

    measured = (
        f"P-T / P-T: {path('P-T / P-T')}, barrier loss {pt['loss']:.3f}, error "
        f"{pt['error']:.3f}; RI-T / RI-T: {path('RI-T / RI-T')}, barrier loss {ri['loss']:.3f}, "
        f"error {ri['error']:.3f} ({len(interpolation['alphas'])} points, BN re-estimated)"
    )
    tests = [
        Test(
            f"loss barrier P-T/P-T {pt['loss']:.3f} < RI-T/RI-T {ri['loss']:.3f}",
            pt["loss"] < ri["loss"],
        ),
        Test(
            f"error barrier P-T/P-T {pt['error']:.3f} < RI-T/RI-T {ri['error']:.3f}",
            pt["error"] < ri["error"],
        ),
    ]
    return finding("interpolation: one basin", claim, measured, tests, figures)


def similarity_finding(claim: Claim, similarity: Mapping[str, Any], figures: list[str]) -> Finding:
    """Per-layer linear CKA of the two pairs (P-T/P-T above RI-T/RI-T at every layer) and their
    parameter distances (P-T/P-T closer)."""
    pt, ri = (similarity["pairs"][label] for label in PAIRS)
    layers = pt["layers"]
    rows = list(zip(layers, pt["diagonal"], ri["diagonal"], strict=True))
    above = [name for name, a, b in rows if a > b]
    cells = ", ".join(f"{name} {a:.2f}/{b:.2f}" for name, a, b in rows)
    moved = {label: similarity["pairs"][label]["moved_from_start"] for label in PAIRS}
    measured = (
        f"CKA per layer, P-T/P-T vs RI-T/RI-T: {cells}; parameter distance between the two: "
        f"P-T/P-T {pt['distance']:.2f}, RI-T/RI-T {ri['distance']:.2f}; each model's distance "
        f"from its start: P-T {', '.join(f'{d:.2f}' for d in moved[PAIRS[0]])}, RI-T "
        f"{', '.join(f'{d:.2f}' for d in moved[PAIRS[1]])}"
    )
    tests = [
        Test(
            f"CKA P-T/P-T > RI-T/RI-T at {len(above)} of {len(layers)} layers (all needed)",
            len(above) == len(layers),
        ),
        Test(
            f"parameter distance P-T/P-T {pt['distance']:.2f} < RI-T/RI-T {ri['distance']:.2f}",
            pt["distance"] < ri["distance"],
        ),
    ]
    return finding("feature and parameter similarity", claim, measured, tests, figures)


def _mu(row: Mapping[str, Any]) -> float:
    return math.inf if row["criticality"] is None else float(row["criticality"])


def criticality_finding(
    claim: Claim, criticality: Mapping[str, Any], figures: list[str]
) -> Finding:
    """Module criticality of the P-T model: the lower stages (conv1, layer1) less critical than
    the higher (layer3, layer4), by mu and by the mean training error over the rewind grid."""
    modules = criticality["modules"]
    pt = modules["pretrained"]

    def grid_error(name: str) -> float:
        values = [v for row in pt[name]["values"] for v in row]
        return sum(values) / len(values)

    mu_low, mu_high = (sum(_mu(pt[m]) for m in group) / len(group) for group in (LOWER, HIGHER))
    err_low, err_high = (_mean([grid_error(m) for m in group]) for group in (LOWER, HIGHER))
    table = "; ".join(
        f"{name}: mu {_mu(row):.3g}, rewind alpha {row['rewind_alpha']:.2f} (RI-T: mu "
        f"{_mu(modules['random init'][name]):.3g})"
        for name, row in pt.items()
    )
    measured = f"P-T modules: {table}"
    tests = [
        Test(
            f"P-T mean mu of {'+'.join(LOWER)} {mu_low:.3g} < of {'+'.join(HIGHER)} {mu_high:.3g}",
            mu_low < mu_high,
        ),
        Test(
            f"P-T mean training error over the rewind-and-noise grid: {'+'.join(LOWER)} "
            f"{err_low:.3f} < {'+'.join(HIGHER)} {err_high:.3f}",
            err_low < err_high,
        ),
    ]
    return finding("module criticality", claim, measured, tests, figures)
