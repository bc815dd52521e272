"""The `transfer` reproduction's own computations: the block-shuffle sweep's summary, and the
feature and parameter similarity of fine-tuned pairs (no `contrastlab` command measures CKA
between fine-tuned classifiers, so that step runs in-process through the library).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from torch import nn

from contrastlab.analysis.cka import cka_matrix
from contrastlab.analysis.parameter_distance import parameter_distance, parameters_of
from contrastlab.api.analyze import labelled_data
from contrastlab.api.analyze_cka import default_layers
from contrastlab.api.loading import load_model
from contrastlab.api.transfer_models import fine_tuned, random_encoder
from contrastlab.report.cka_heatmap import cka_heatmap
from contrastlab.reproduce.reproduction_figures import sweep_curves

__all__ = [
    "concordance",
    "faster",
    "pair_similarity",
    "speedup",
    "steps_to_loss",
    "sweep_figures",
    "sweep_summary",
]

PAIRS = ("P-T / P-T", "RI-T / RI-T")


def steps_to_loss(curve: Sequence[Mapping[str, float]], target: float) -> float | None:
    """The first ``step`` of a learning curve whose training ``loss`` is at most ``target``;
    None when none is (rows without a loss, such as the one before training, are skipped)."""
    for row in curve:
        if "loss" in row and row["loss"] <= target:
            return row["step"]
    return None


def faster(steps_pretrained: float | None, steps_scratch: float | None) -> bool:
    """Whether the pretrained run got to a target in fewer steps (None: never, i.e. infinitely
    many; both never: not faster)."""
    p = math.inf if steps_pretrained is None else steps_pretrained
    r = math.inf if steps_scratch is None else steps_scratch
    return p < r


def speedup(pair: tuple[float | None, float | None]) -> float:
    """RI-T's steps over P-T's to a target (> 1: P-T faster); 0 when P-T never got there (it
    is slower than any finite number of steps); NaN when RI-T never did or P-T was there before
    any step (the ratio is then unbounded or undefined)."""
    p, r = pair
    if p is None:
        return 0.0 if r is not None else math.nan
    return r / p if p and r else math.nan


def concordance(x: Sequence[float], y: Sequence[float]) -> float:
    """The share of pairs (i, j) with x_i > x_j in which also y_i > y_j (ties in y count half):
    1 when y rises with x everywhere, 0 when it falls everywhere, 0.5 for no trend. Pairs with
    equal x are left out; NaN when no pair remains."""
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} vs {len(y)}")
    score, pairs = 0.0, 0
    for i in range(len(x)):
        for j in range(len(x)):
            if x[i] > x[j]:
                pairs += 1
                score += 1.0 if y[i] > y[j] else 0.5 if y[i] == y[j] else 0.0
    return score / pairs if pairs else math.nan


def _one_run(speed: Mapping[str, Any]) -> dict[str, Any]:
    """One `analyze speed` JSON: final top-1s, their gap, steps to RI-T's final top-1 and to its
    final training loss."""
    pretrained, scratch = speed["curves"]["pretrained"], speed["curves"]["random init"]
    loss_target = scratch[-1]["loss"]
    steps_loss = (steps_to_loss(pretrained, loss_target), steps_to_loss(scratch, loss_target))
    top1 = (pretrained[-1]["top1"], scratch[-1]["top1"])
    return {
        "pretrained": top1[0],
        "scratch": top1[1],
        "gap": top1[0] - top1[1],
        "steps_top1": (speed["steps_pretrained"], speed["steps_random"]),
        "steps_loss": steps_loss,
        "faster_top1": faster(speed["steps_pretrained"], speed["steps_random"]),
        "faster_loss": faster(*steps_loss),
    }


def sweep_summary(runs: Mapping[int, Sequence[Mapping[str, Any]]]) -> dict[int, dict[str, Any]]:
    """Per block size, the `analyze speed` JSONs of its seeds summarised: lists over seeds of
    the final top-1s (pretrained, scratch), the gap, the steps each needed to reach the scratch
    run's final top-1 and final training loss, and whether the pretrained run was faster."""
    summary: dict[int, dict[str, Any]] = {}
    for block, speeds in runs.items():
        rows = [_one_run(speed) for speed in speeds]
        summary[block] = {key: [row[key] for row in rows] for key in rows[0]}
    return summary


def _nanmean(values: Sequence[float]) -> float:
    kept = [v for v in values if not math.isnan(v)]
    return sum(kept) / len(kept) if kept else math.nan


def sweep_figures(
    sweep: Mapping[int, Mapping[str, Any]], blocks: Sequence[int], folder: Path
) -> tuple[Path, Path]:
    """Two curves over the block sizes, means over seeds: the final top-1 of P-T and RI-T with
    their gap, and the speed-up (RI-T's steps over P-T's) to RI-T's final top-1 and loss."""
    seeds = len(next(iter(sweep.values()))["gap"])
    xlabel = f"block size b ({max(blocks)} = unshuffled)"
    mean = {
        key: [_nanmean(sweep[b][key]) for b in blocks] for key in ("pretrained", "scratch", "gap")
    }
    accuracy = sweep_curves(
        blocks,
        {
            "P-T (fine-tuned)": mean["pretrained"],
            "RI-T (from scratch)": mean["scratch"],
            "gap P-T - RI-T": mean["gap"],
        },
        folder / "blockshuffle_sweep.png",
        xlabel=xlabel,
        ylabel="final held-out top-1 / gap",
        title=f"block-shuffled target, mean of {seeds} seed(s)",
        log_x=True,
    )
    speed = sweep_curves(
        blocks,
        {
            f"to RI-T's final {what}": [
                _nanmean([speedup(pair) for pair in sweep[b][key]]) for b in blocks
            ]
            for what, key in (("top-1", "steps_top1"), ("training loss", "steps_loss"))
        },
        folder / "blockshuffle_speedup.png",
        xlabel=xlabel,
        ylabel="speed-up: RI-T steps / P-T steps",
        title=f"mean of {seeds} seed(s); 1: no speed-up, 0: P-T never got there",
        log_x=True,
    )
    return accuracy, speed


def _encoder(classifier: nn.Module) -> nn.Module:
    """The fine-tuned encoder of a `fine_tuned` classifier (encoder, flatten, linear head)."""
    assert isinstance(classifier, nn.Sequential)
    encoder: nn.Module = classifier[0]
    return encoder


def pair_similarity(
    run: Path, overrides: list[tuple[str, Any]], fraction: float, figures: Path
) -> dict[str, Any]:
    """Fine-tune two classifiers from the run's encoder (seeds s, s + 1: P-T / P-T) and train two
    from different random initialisations (RI-T / RI-T), as `analyze interpolation` does (same
    seeds, so the same models on the CPU), on ``fraction`` of the labels of the data the
    ``overrides`` name; then per pair the linear CKA of every ResNet stage on the held-out
    images (a heatmap in ``figures``), the parameter distance between the two and each one's
    distance from its own starting point."""
    loaded = load_model(run, overrides)
    figures.mkdir(parents=True, exist_ok=True)
    data = labelled_data(loaded)
    assert data.test is not None
    seed = loaded.recipe.train.seed
    starts = {
        PAIRS[0]: [loaded.representation(), loaded.representation()],
        PAIRS[1]: [random_encoder(loaded, seed + 1000 + i) for i in (0, 1)],
    }
    out: dict[str, Any] = {"fraction": fraction, "pairs": {}}
    for label, encoders in starts.items():
        a, b = (fine_tuned(loaded, data, e, fraction, seed + i) for i, e in enumerate(encoders))
        assert a.model is not None and b.model is not None
        assert a.initial_state is not None and b.initial_state is not None
        encoder_a, encoder_b = _encoder(a.model), _encoder(b.model)
        layers = default_layers(encoder_a)
        matrix = cka_matrix(
            encoder_a,
            encoder_b,
            data.test.images,
            layers,
            layers,
            batch_size=max(4, min(loaded.recipe.eval.batch_size, 256)),
            device=loaded.device,
        )
        short = [name.removeprefix("backbone.") for name in layers]
        name = "cka_" + label.split()[0].replace("-", "").lower() + "_pairs.png"
        cka_heatmap(
            matrix, short, short, figures / name, title=f"linear CKA between two {label} models"
        )
        moved = []
        for model, initial in ((a.model, a.initial_state), (b.model, b.initial_state)):
            final = parameters_of(model)
            moved.append(parameter_distance(final, {k: initial[k] for k in final}))
        out["pairs"][label] = {
            "layers": short,
            "matrix": matrix.tolist(),
            "diagonal": [float(matrix[i, i]) for i in range(len(layers))],
            "distance": parameter_distance(parameters_of(a.model), parameters_of(b.model)),
            "moved_from_start": moved,
            "top1": [a.top1, b.top1],
            "figure": str(figures / name),
        }
    return out
