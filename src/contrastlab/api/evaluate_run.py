"""Evaluate a trained encoder (a run directory or a checkpoint) with the evaluation suite:
`evaluate_run`, the library call behind `contrastlab eval`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contrastlab.api.data import prepare_data
from contrastlab.api.evaluation import evaluate_with_baseline, method_metrics
from contrastlab.api.loading import LoadedModel, load_model
from contrastlab.api.outputs import check_out_file, is_eval_json
from contrastlab.config.evaluation import PROTOCOLS
from contrastlab.core.atomic import atomic_write_text
from contrastlab.core.errors import ConfigError, DataError
from contrastlab.evaluate.baseline_check import baseline_summary
from contrastlab.evaluate.suite import protocol_keys

__all__ = ["checked_out", "evaluate_loaded", "evaluate_run", "parse_protocols", "with_protocols"]


def parse_protocols(values: Sequence[str] | None) -> list[str] | None:
    """``--protocol knn --protocol linear,retrieval`` or ``all`` -> the names, in suite order."""
    if not values:
        return None
    names = {name.strip() for value in values for name in value.split(",") if name.strip()}
    if "all" in names:
        return list(PROTOCOLS)
    unknown = sorted(names - set(PROTOCOLS))
    if unknown:
        raise ConfigError(
            f"unknown protocol {', '.join(unknown)}; valid: {', '.join(PROTOCOLS)}, all"
        )
    return [name for name in PROTOCOLS if name in names]


def evaluate_run(
    target: str | Path,
    *,
    protocols: Sequence[str] | None = None,
    overrides: Sequence[tuple[str, Any]] = (),
    baseline: bool = True,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Evaluate a run directory or checkpoint; return the figures (``metrics.json``'s keys).

    ``protocols``: any of knn, linear, retrieval, clustering, finetune (default: the recipe's
    ``eval.protocols``); ``overrides``: recipe keys, e.g. ``[("data.source", "digits"),
    ("eval.knn_k", 20)]``; ``baseline``: also evaluate the baselines, the random-init twin and
    (with ``eval.pixel_baseline``) the raw pixels; ``baseline_check`` and ``below_baseline`` say
    whether the trained encoder beats them. The figures are written to ``out`` when given, else
    merged into a run directory's ``metrics.json``.
    """
    path = checked_out(Path(out) if out else None)
    loaded = load_model(target, with_protocols(list(overrides), protocols))
    return evaluate_loaded(loaded, baseline, path)


def checked_out(out: Path | None) -> Path | None:
    """``out``, refused before any work when it would replace a file eval did not write (a
    checkpoint, a run's training metrics.json, a user's file); see `contrastlab.api.outputs`."""
    if out is not None:
        mine = "figures written by `contrastlab eval --out`"
        check_out_file(out, f"--out {out}", is_eval_json, mine)
    return out


def with_protocols(
    overrides: list[tuple[str, Any]], protocols: Sequence[str] | None
) -> list[tuple[str, Any]]:
    """``overrides`` plus ``eval.protocols`` when protocols are named (see `parse_protocols`)."""
    if protocols is None:
        return overrides
    return [*overrides, ("eval.protocols", parse_protocols(protocols) or [])]


def evaluate_loaded(loaded: LoadedModel, baseline: bool, out: Path | None) -> dict[str, Any]:
    """`evaluate_run` of a model already loaded: its figures, written to ``out`` (or merged
    into its run's ``metrics.json``)."""
    recipe, device = loaded.recipe, loaded.device
    data = prepare_data(recipe.data, progress=recipe.train.progress)
    if data.test is None:
        raise DataError(
            f"nothing to evaluate on: {data.eval_note} (give labelled --data and --eval-data)"
        )
    random = loaded.random_twin() if baseline else None
    random_encoder = None if random is None else loaded.representation(random)
    run = loaded.run if out is None else None  # figures and tables go into the run directory
    figures = run.figures if run is not None else None
    tables = run.path if run is not None else None
    metrics: dict[str, Any] = {
        "checkpoint": str(loaded.checkpoint),
        "epochs": loaded.epoch,
        "data": recipe.data.source,
        "eval_data": data.eval_note,
        "representation": recipe.eval.representation,
    }
    metrics.update(
        evaluate_with_baseline(
            recipe,
            loaded.representation(),
            random_encoder,
            data,
            device,
            figures=figures,
            tables=tables,
            pixels=baseline,
        )
    )
    metrics.update(method_metrics(recipe, loaded.method, random, data, device))
    metrics.update(baseline_summary(metrics))
    for params in metrics["protocols"].values():  # what each protocol's figures were measured on
        params.update(
            data=recipe.data.source, eval_data=data.eval_note, checkpoint_epoch=loaded.epoch
        )
    if out is not None:
        atomic_write_text(out, json.dumps(metrics, indent=2) + "\n")
    elif loaded.run is not None:
        _merge_into(loaded.run.metrics_json, metrics)
    return metrics


def _merge_into(path: Path, metrics: dict[str, Any]) -> None:
    """Update ``path`` (a run's metrics.json) with ``metrics``: every earlier figure of the
    protocols run now is removed (the baselines' included, so a ``--no-baseline`` evaluation
    leaves no stale random-init or pixel figure), the other protocols' figures stay, and so do
    the training figures; ``protocols`` entries are merged the same way, and the baseline check
    is made anew on the merged figures."""
    merged: dict[str, Any] = {}
    if path.is_file():
        try:
            merged = json.loads(path.read_text())
        except json.JSONDecodeError:
            raise DataError(f"{path} is not valid JSON; move it aside and evaluate again") from None
    protocols = {**merged.get("protocols", {}), **metrics["protocols"]}
    for name in metrics["protocols"]:  # no stale figure of a protocol run now survives
        for key in protocol_keys(name, list(merged)):
            del merged[key]
    merged.update(metrics)
    merged["protocols"] = protocols
    merged.update(baseline_summary(merged))
    atomic_write_text(path, json.dumps(merged, indent=2) + "\n")
