"""The run's report: results beside the random-init baseline, the loss curve, the recipe."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contrastlab.config.load import dump_recipe
from contrastlab.config.schema import Recipe
from contrastlab.report.figures import loss_curve
from contrastlab.train.checkpoint import atomic_write_text
from contrastlab.train.rundir import RunDir


def results_table(metrics: Mapping[str, Any], *, k: int, temperature: float) -> str:
    """A markdown table of top-1 accuracy: the trained encoder beside the random-init one."""

    def cell(key: str) -> str:
        value = metrics.get(key)
        return "—" if value is None else f"{value:.3f}"

    rows = [
        ("kNN top-1", "knn_top1", f"weighted, k={k}, t={temperature}"),
        ("linear probe top-1", "linear_top1", "logistic regression on frozen features"),
    ]
    lines = ["| protocol | trained | random init | notes |", "|---|---:|---:|---|"]
    if "cluster_top1" in metrics:
        rows.append(
            ("cluster accuracy", "cluster_top1", "head B, lowest-loss sub-head, Hungarian-matched")
        )
    rotations = sorted(k for k in metrics if k.startswith("rotation_top1"))
    for key in rotations:
        space = key.removeprefix("rotation_top1").removeprefix("_") or "backbone"
        rows.append((f"rotation probe ({space})", key, "4-way, linear, chance 0.25"))
    for label, key, note in rows:
        lines.append(f"| {label} | {cell(key)} | {cell('random_' + key)} | {note} |")
    return "\n".join(lines)


def write_report(
    run: RunDir,
    recipe: Recipe,
    metrics: Mapping[str, Any],
    history: Sequence[Mapping[str, float | int]],
    eval_note: str,
) -> None:
    figure = loss_curve(history, run.figures / "loss.png", title=recipe.name) if history else None
    parts = [
        f"# {recipe.name}",
        "",
        recipe.description.strip() or "",
        "",
        f"- method: {recipe.method.name}, backbone: {recipe.model.backbone} x{recipe.model.width}"
        f"{' (CIFAR stem)' if recipe.model.cifar_stem else ''}",
        f"- training data: {recipe.data.source} ({metrics.get('n_train', '?')} images at "
        f"{recipe.data.image_size}x{recipe.data.image_size})",
        f"- held-out data: {eval_note} ({metrics.get('n_test', '?')} images)",
        f"- epochs: {metrics.get('epochs')}, batch {recipe.train.batch_size}, "
        f"training time {metrics.get('train_seconds', 0):.0f} s",
    ]
    if recipe.gpu_recipe:
        parts.append(f"- full-size recipe for a GPU: `{recipe.gpu_recipe}`")
    parts += ["", "## Results", ""]
    if "knn_top1" in metrics:
        parts.append(
            results_table(metrics, k=recipe.eval.knn_k, temperature=recipe.eval.knn_temperature)
        )
        parts.append("")
        parts.append(
            "The random-init encoder is the trained encoder's own starting point (same seed), "
            "evaluated with the same protocols."
        )
    else:
        parts.append(f"No evaluation: {eval_note}.")
    if figure is not None:
        parts += ["", "## Training loss", "", f"![loss curve]({figure.relative_to(run.path)})"]
    parts += ["", "## Recipe", "", "```yaml", dump_recipe(recipe).rstrip(), "```", ""]
    atomic_write_text(run.report, "\n".join(parts))
