"""Feature suppression: how linearly decodable each competing factor is from frozen features.

The measurement behind Chen, Luo & Li 2021 ("Intriguing Properties of Contrastive Losses",
NeurIPS 2021): when two features compete (object class vs an overlaid digit vs random
bits), contrastive learning tends to keep the easier one and suppress the other; a linear read-out
of each factor from the same frozen representation shows which survived. Three kinds of factor:

* ``class``: a categorical factor (object class, digit, the integer of RandBit's bits); score =
  top-1 of the L-BFGS linear probe (:func:`contrastlab.evaluate.linear_probe`), baseline =
  the majority-class rate of the test split;
* ``linear``: a continuous factor (size, position, brightness); score = R^2 of ridge regression
  on standardised features, the penalty chosen by leave-one-out cross-validation on the training
  split (scikit-learn's ``RidgeCV``), baseline 0 (predicting the training mean);
* ``circular``: an angle-like factor given as a fraction of a turn in [0, 1) (hue; rotation
  as a fraction of its symmetry period): ridge regression of (cos 2 pi v, sin 2 pi v), score =
  the R^2 of the two targets pooled, baseline 0.

R^2 can be negative on the test split when a read-out does worse than the mean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import Tensor

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate._checks import check_features, check_same_width
from contrastlab.evaluate.linear import linear_probe

__all__ = [
    "SHAPE_KINDS",
    "FactorKind",
    "FactorScore",
    "factor_decodability",
    "shapes_factors",
]

FactorKind = Literal["class", "linear", "circular"]
RIDGE_ALPHAS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)


@dataclass
class FactorScore:
    """How well one factor is read out linearly from the features."""

    name: str
    kind: FactorKind
    metric: str  # "top1" or "r2"
    score: float
    baseline: float  # what a read-out that ignores the features scores

    def as_dict(self) -> dict[str, float | str]:
        return {
            "kind": self.kind,
            "metric": self.metric,
            "score": self.score,
            "baseline": self.baseline,
        }


def _targets(values: np.ndarray, kind: FactorKind) -> np.ndarray:
    if kind == "circular":
        angle = 2 * math.pi * values
        return np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return values[:, None]


def _regression_r2(
    x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> float:
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=RIDGE_ALPHAS))
    predicted = model.fit(x_train, y_train).predict(x_test).reshape(y_test.shape)
    return float(r2_score(y_test, predicted, multioutput="variance_weighted"))


def factor_decodability(
    train_features: Tensor | np.ndarray,
    train_factors: Mapping[str, Tensor | np.ndarray],
    test_features: Tensor | np.ndarray,
    test_factors: Mapping[str, Tensor | np.ndarray],
    kinds: Mapping[str, FactorKind],
    *,
    seed: int = 0,
) -> list[FactorScore]:
    """Score every factor named in ``kinds`` (see the module docstring), in that order.

    ``*_factors`` map a factor name to one value per sample (integers for ``class`` factors,
    floats otherwise; ``circular`` ones in turns, [0, 1)). The read-outs are fit on the training
    features and scored on the test features.
    """
    train_t = check_features(train_features, split="training")
    test_t = check_features(test_features, split="test")
    check_same_width(train_t, test_t)
    train, test = train_t.double().cpu().numpy(), test_t.double().cpu().numpy()
    if not kinds:
        raise ContrastlabError("name at least one factor to decode")
    scores = []
    for name, kind in kinds.items():
        if name not in train_factors or name not in test_factors:
            known = sorted(set(train_factors) & set(test_factors))
            raise ContrastlabError(f"no factor {name!r} in the data; known: {', '.join(known)}")
        y_train = np.asarray(train_factors[name])
        y_test = np.asarray(test_factors[name])
        if len(y_train) != len(train) or len(y_test) != len(test):
            raise ContrastlabError(
                f"factor {name!r} has {len(y_train)} / {len(y_test)} values for "
                f"{len(train)} / {len(test)} samples"
            )
        if kind == "class":
            y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
            result = linear_probe(train, y_train, test, y_test, seed=seed)
            counts = np.bincount(y_test.astype(np.int64))
            scores.append(FactorScore(name, kind, "top1", result.top1, counts.max() / len(y_test)))
        elif kind in ("linear", "circular"):
            targets = _targets(y_train.astype(np.float64), kind)
            r2 = _regression_r2(train, targets, test, _targets(y_test.astype(np.float64), kind))
            scores.append(FactorScore(name, kind, "r2", r2, 0.0))
        else:
            raise ContrastlabError(
                f"factor {name!r} has kind {kind!r}; valid: class, linear, circular"
            )
    return scores


# rotational symmetry of each built-in shape (circle and ring have none: their rotation is noise)
SHAPE_SYMMETRY = {"circle": 1, "ring": 1, "triangle": 3, "square": 4, "cross": 4, "star": 5}
SHAPE_KINDS: dict[str, FactorKind] = {
    "shape": "class",
    "fg_hue": "circular",
    "fg_value": "linear",
    "bg_hue": "circular",
    "bg_value": "linear",
    "size": "linear",
    "x": "linear",
    "y": "linear",
    "rotation": "circular",
}


def shapes_factors(meta: dict[str, Tensor], labels: Tensor) -> dict[str, np.ndarray]:
    """The built-in ``shapes`` factors (``ImageTensors.meta``) as decodable values: the class,
    hues as turns, and the rotation as a fraction of the shape's symmetry period (a square
    turned by a quarter turn is the same square), see ``SHAPE_KINDS`` for their kinds."""
    from contrastlab.data.shapes import CLASSES

    missing = [key for key in SHAPE_KINDS if key != "shape" and key not in meta]
    if missing:
        raise ContrastlabError(f"not shapes data: its metadata lacks {', '.join(missing)}")
    out = {key: np.asarray(meta[key], dtype=np.float64) for key in SHAPE_KINDS if key != "shape"}
    out["shape"] = np.asarray(labels, dtype=np.int64)
    period = np.array([2 * math.pi / SHAPE_SYMMETRY[name] for name in CLASSES])[out["shape"]]
    out["rotation"] = np.mod(out["rotation"], period) / period
    return out
