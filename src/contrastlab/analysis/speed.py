"""Optimisation speed: how much faster a pretrained encoder learns a task than a random one.

Neyshabur, Sedghi & Zhang 2020 ("What is being transferred in transfer learning?", NeurIPS
2020) compare the learning curves of fine-tuning from pretrained weights and training from
random initialisation on the same target data: pretrained models reach a given accuracy in far
fewer steps. Here both are fine-tuned with :func:`contrastlab.evaluate.finetune` on the same
labelled subset and schedule, with the test top-1 recorded along the way; the comparison is the
number of steps each needs to reach a target accuracy (by default the random-init run's final
accuracy: how much sooner pretraining gets to where training from scratch ends).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contrastlab.core.errors import ContrastlabError

__all__ = ["speed_summary", "steps_to_target"]


def steps_to_target(curve: Sequence[dict[str, float]], target: float) -> float | None:
    """The first ``step`` of ``curve`` (rows with ``step`` and ``top1``, in order) at which top-1
    reaches ``target``; None when it never does (the curve is sampled, so this is an upper bound
    on the true first step, exact to the sampling interval)."""
    if not curve:
        raise ContrastlabError("the learning curve is empty")
    for row in curve:
        if row["top1"] >= target:
            return row["step"]
    return None


def speed_summary(
    pretrained: Sequence[dict[str, float]],
    random: Sequence[dict[str, float]],
    *,
    target: float | None = None,
) -> dict[str, Any]:
    """Steps to ``target`` (default: the random-init curve's last top-1) for both curves and
    their ratio (random / pretrained; > 1 means pretraining is faster; None when either never
    gets there or is there before any step)."""
    if not pretrained or not random:
        raise ContrastlabError("both learning curves need at least one point")
    goal = random[-1]["top1"] if target is None else target
    if not 0.0 <= goal <= 1.0:
        raise ContrastlabError(f"the target accuracy must be in [0, 1], got {goal}")
    steps_p, steps_r = steps_to_target(pretrained, goal), steps_to_target(random, goal)
    ratio = None
    if steps_p and steps_r:  # both reached it, and after at least one step
        ratio = steps_r / steps_p
    return {
        "target_top1": goal,
        "target_is_random_final": target is None,
        "steps_pretrained": steps_p,
        "steps_random": steps_r,
        "speedup": ratio,
    }
