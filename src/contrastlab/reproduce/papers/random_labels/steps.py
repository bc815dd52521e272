"""The measurements of the random-labels reproduction: one training run stopped at several
epochs with the first layer analysed at each stop, the alignment controls, and the early
real-label training from an aligned or a default first layer; and the figures of all three."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from contrastlab.analysis.alignment_controls import mapping_smoothness, random_basis_misalignment
from contrastlab.analysis.covariance import (
    interpolated_mapping,
    weight_covariance,
)
from contrastlab.api.aligned_start import early_training
from contrastlab.api.analyze_covariance import first_conv, stem_patch_covariance
from contrastlab.api.data import prepare_data
from contrastlab.api.loading import load_model
from contrastlab.config import load_recipe
from contrastlab.report.alignment_figures import epoch_curves, mapping_curves, paired_curves
from contrastlab.reproduce.paper import Context

__all__ = ["draw_figures", "early_runs", "stopped_run"]

ROTATIONS = 64  # random bases per chance level


def stopped_run(
    ctx: Context, label: str, recipe: str, settings: Mapping[str, Any], stops: Sequence[int]
) -> dict[str, Any]:
    """Train ``runs/LABEL`` and analyse its first layer after each epoch of ``stops`` (the last
    is the end of the run), then the controls; the figures per stop (epoch 0: the start)."""
    ws = ctx.workspace
    checkpoints, analyses = {}, {}
    for stop in stops:
        checkpoints[stop] = Path(ws.train(label, recipe, settings, stop_after=stop)["checkpoint"])
        analyses[stop] = ws.analyze(f"covariance-{label}-e{stop}", "covariance", checkpoints[stop])

    def controls() -> dict[str, Any]:
        return _controls(checkpoints)

    chance = ws.cached(
        f"controls-{label}",
        controls,
        command=f"(in-process) random-basis chance levels of {label}'s first layer "
        "(contrastlab.analysis.alignment_controls)",
    )
    first = analyses[stops[0]]
    epochs = [0, *stops]
    return {
        "epochs": epochs,
        "misalignment": [first["misalignment"]["random init"]]
        + [analyses[s]["misalignment"]["trained"] for s in stops],
        "mapping": {
            0: first["eigenvalue_mapping"]["random init"],
            **{s: analyses[s]["eigenvalue_mapping"]["trained"] for s in stops},
        },
        "chance_misalignment": chance["chance_misalignment"],
        "smoothness": chance["smoothness"],
        "chance_smoothness": chance["chance_smoothness"],
        "layer": first["layer"],
    }


def _controls(checkpoints: Mapping[int, Path]) -> dict[str, Any]:
    """Per epoch (0 = the start): the random-basis misalignment, and the smoothness of the
    eigenvalue mapping in the data's basis and in random ones."""
    data_cov, covs = None, {}
    for stop, path in checkpoints.items():
        loaded = load_model(path, [])
        if data_cov is None:
            recipe = loaded.recipe
            data = prepare_data(recipe.data)
            _, _, data_cov = stem_patch_covariance(  # as `contrastlab analyze covariance` does
                loaded.representation(), data.train.images, recipe, recipe.train.seed
            )
            start = first_conv(loaded.representation(loaded.random_twin()))[1]
            covs[0] = weight_covariance(start.weight.detach().cpu())
        trained = first_conv(loaded.representation())[1]
        covs[stop] = weight_covariance(trained.weight.detach().cpu())
    assert data_cov is not None
    order = sorted(covs)
    return {
        "epochs": order,
        "chance_misalignment": [
            random_basis_misalignment(covs[e], data_cov, rotations=ROTATIONS) for e in order
        ],
        "smoothness": [mapping_smoothness(covs[e], data_cov) for e in order],
        "chance_smoothness": [
            mapping_smoothness(covs[e], data_cov, basis="random", rotations=ROTATIONS)
            for e in order
        ],
    }


def early_runs(
    ctx: Context,
    recipe: str,
    settings: Mapping[str, Any],
    seeds: Sequence[int],
    epochs: int,
    learned: Mapping[str, Sequence[float]],
) -> dict[str, list[dict[str, Any]]]:
    """Per start (default, aligned), one early real-label training per seed: its history.

    The aligned start samples the first layer with the eigenvalue mapping ``learned``
    (``{"lambda": [...], "sigma": [...]}``, measured on a random-label-trained layer) fitted by
    `interpolated_mapping`, norm-matched to the default draw it replaces."""
    lambdas, sigmas = (torch.tensor(learned[k], dtype=torch.float64) for k in ("lambda", "sigma"))
    mapping = interpolated_mapping(lambdas, sigmas)
    out: dict[str, list[dict[str, Any]]] = {"default": [], "aligned": []}
    for seed in seeds:
        chosen = {**settings, "train.seed": seed, "train.progress": ctx.workspace.progress}
        built = load_recipe(recipe, list(chosen.items()))
        for stem in out:
            name = f"early-{stem}-s{seed}"
            run_dir = ctx.workspace.run_dir(name)

            def train(
                stem: Any = stem, run_dir: Path = run_dir, built: Any = built
            ) -> dict[str, Any]:
                return early_training(
                    built, stem=stem, epochs=epochs, run_dir=run_dir, mapping=mapping
                )

            command = (
                f"(in-process) contrastlab.api.aligned_start.early_training: {recipe}, "
                f"train.seed={seed}, {epochs} epoch(s), first layer {stem} -> runs/{name}"
            )
            out[stem].append(ctx.workspace.cached(name, train, command=command))
    return out


def draw_figures(
    ctx: Context,
    random: dict[int, dict[str, Any]],
    real: dict[str, Any],
    early: dict[str, list[dict[str, Any]]],
    epochs: int,
) -> list[str]:
    """The three figures (misalignment over training, eigenvalue mappings, early training on
    real labels), as paths relative to the report."""
    folder = ctx.workspace.figures
    seed0 = next(iter(random))
    x = random[seed0]["epochs"]
    series = {f"random labels, seed {s}": r["misalignment"] for s, r in random.items()}
    series["real labels, seed 0 (reference)"] = real["misalignment"]
    chance = f"random-basis chance (random labels, seed {seed0})"
    curve = epoch_curves(
        x,
        {**series, chance: random[seed0]["chance_misalignment"]},
        folder / "misalignment.png",
        ylabel="first-layer misalignment (0 = aligned)",
        title=f"{random[seed0]['layer']}: Sigma_w against the patch covariance",
        dashed=[chance],
    )
    mappings = {
        f"{'start' if e == 0 else f'epoch {e}'}": (m["lambda"], m["sigma"])
        for e, m in random[seed0]["mapping"].items()
        if e in (0, x[1], x[-1])
    }
    last = real["mapping"][x[-1]]
    mappings[f"real labels, epoch {x[-1]}"] = (last["lambda"], last["sigma"])
    mapped = mapping_curves(
        mappings,
        folder / "eigenvalue_mapping.png",
        title=f"random labels, seed {seed0}: filter variance along each data eigenvector",
    )
    losses = {
        f"{stem} first layer": [[row["loss"] for row in r["history"][:epochs]] for r in runs]
        for stem, runs in early.items()
    }
    trained = paired_curves(
        list(range(1, epochs + 1)),
        losses,
        folder / "early_training.png",
        xlabel="epoch (real labels)",
        ylabel="training loss (epoch mean)",
        title="first layer: aligned (learned f, norm-matched) vs default",
    )
    return [f"figures/{path.name}" for path in (curve, mapped, trained)]
