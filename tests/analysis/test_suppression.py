"""Factor decodability: known answers for encoded, absent and circular factors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from contrastlab.analysis.suppression import (
    SHAPE_KINDS,
    factor_decodability,
    shapes_factors,
)
from contrastlab.core.errors import ContrastlabError
from contrastlab.data import open_source
from contrastlab.report.decodability_bars import decodability_bars


def synthetic(n: int, seed: int) -> tuple[torch.Tensor, dict[str, np.ndarray]]:
    """Features that carry a class (one-hot x 5), a size (linearly) and a hue (as cos/sin), and
    nothing about ``hidden``."""
    rng = np.random.default_rng(seed)
    factors = {
        "cls": rng.integers(0, 3, n),
        "size": rng.uniform(0, 1, n),
        "hue": rng.uniform(0, 1, n),
        "hidden": rng.uniform(0, 1, n),
    }
    angle = 2 * math.pi * factors["hue"]
    columns = [
        5 * np.eye(3)[factors["cls"]],
        factors["size"][:, None],
        np.stack([np.cos(angle), np.sin(angle)], axis=1),
        rng.normal(size=(n, 4)),
    ]
    return torch.from_numpy(np.concatenate(columns, axis=1)), factors


def test_encoded_factors_are_decoded_and_absent_ones_are_not() -> None:
    train, f_train = synthetic(600, 0)
    test, f_test = synthetic(300, 1)
    kinds = {"cls": "class", "size": "linear", "hue": "circular", "hidden": "linear"}
    scores = {s.name: s for s in factor_decodability(train, f_train, test, f_test, kinds)}  # type: ignore[arg-type]
    assert scores["cls"].score == 1.0 and scores["cls"].metric == "top1"
    assert scores["cls"].baseline == pytest.approx(np.bincount(f_test["cls"]).max() / 300)
    assert scores["size"].score > 0.999 and scores["hue"].score > 0.999
    assert abs(scores["hidden"].score) < 0.05 and scores["hidden"].baseline == 0.0


def test_hue_as_a_plain_number_is_not_linear() -> None:
    """Hue enters the features as (cos, sin): read out as a line it is poorly decoded (the
    wrap-around at 1 -> 0), as a circle perfectly: the kind matters."""
    train, f_train = synthetic(600, 2)
    test, f_test = synthetic(300, 3)
    linear, circular = factor_decodability(
        train, f_train, test, f_test, {"hue": "linear"}
    ) + factor_decodability(train, f_train, test, f_test, {"hue": "circular"})
    assert linear.score < 0.8 < 0.999 < circular.score


def test_shapes_factors_fold_rotation_by_symmetry() -> None:
    data = open_source("shapes", image_size=16, options={"n_train": 60, "n_test": 0}).train
    samples = [data[i] for i in range(60)]
    meta = {key: torch.tensor([s.meta[key] for s in samples]) for key in samples[0].meta}
    labels = torch.tensor([s.label for s in samples])
    factors = shapes_factors(meta, labels)
    assert set(factors) == set(SHAPE_KINDS)
    assert ((factors["rotation"] >= 0) & (factors["rotation"] < 1)).all()
    square = int(np.flatnonzero(labels.numpy() == 3)[0])
    expected = (meta["rotation"][square].item() % (math.pi / 2)) / (math.pi / 2)
    assert factors["rotation"][square] == pytest.approx(expected)
    with pytest.raises(ContrastlabError, match="not shapes data"):
        shapes_factors({"size": meta["size"]}, labels)


def test_bad_input() -> None:
    train, f_train = synthetic(50, 4)
    with pytest.raises(ContrastlabError, match="no factor 'colour'"):
        factor_decodability(train, f_train, train, f_train, {"colour": "linear"})
    with pytest.raises(ContrastlabError, match="valid: class, linear, circular"):
        factor_decodability(train, f_train, train, f_train, {"size": "ordinal"})  # type: ignore[dict-item]


def test_bar_chart(tmp_path: Path) -> None:
    path = decodability_bars(
        ["shape", "size"],
        {"trained": [0.9, 0.2], "random init": [0.3, 0.6]},
        [1 / 6, 0.0],
        ["top1", "r2"],
        tmp_path / "bars.png",
    )
    assert path.stat().st_size > 5_000
