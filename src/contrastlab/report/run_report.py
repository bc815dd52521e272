"""The run's report: results beside the baselines (random init, raw pixels) with a plain verdict
on whether the trained encoder beats them, the loss curve, the recipe."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contrastlab.config.load import dump_recipe
from contrastlab.config.schema import Recipe
from contrastlab.core.atomic import atomic_write_text
from contrastlab.core.figures import loss_curve
from contrastlab.evaluate.baseline_check import baseline_check, warning_lines
from contrastlab.report.results_table import results_table
from contrastlab.train.rundir import RunDir


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
    adaptations = metrics.get("adaptations") or []
    if adaptations:
        parts += ["", "## Fitted to the data", ""]
        parts += [f"- {note}" for note in adaptations]
    parts += ["", "## Results", ""]
    if "n_test" in metrics:
        parts += _verdict(metrics)
        parts.append(results_table(metrics))
        parts.append("")
        parts.append(
            "The random-init encoder is the trained encoder's own starting point (same seed), "
            "evaluated with the same protocols; pixels: the same protocols (no fine-tuning) on "
            "the normalised raw pixels at the evaluation resolution."
        )
    else:
        parts.append(f"No evaluation: {eval_note}.")
    if (run.figures / "retrieval.png").is_file():
        parts += ["", "## Retrievals", "", "![top-k retrievals](figures/retrieval.png)"]
    if figure is not None:
        parts += ["", "## Training loss", "", f"![loss curve]({figure.relative_to(run.path)})"]
    parts += ["", "## Recipe", "", "```yaml", dump_recipe(recipe).rstrip(), "```", ""]
    atomic_write_text(run.report, "\n".join(parts))


def _verdict(metrics: Mapping[str, Any]) -> list[str]:
    """Bold lines before the table: each baseline the trained encoder does not beat, or that it
    beats them all (nothing when no baseline was measured)."""
    check = metrics.get("baseline_check")
    lines = warning_lines(baseline_check(metrics) if check is None else check)
    return [line for text in lines for line in (f"**{text}**", "")]
