"""Random labels: the training split's class labels replaced by draws independent of the images.

Zhang et al. 2017 ("Understanding deep learning requires rethinking generalization") and Maennel
et al. 2020 ("What Do Neural Networks Learn When Trained With Random Labels?", NeurIPS 2020,
arXiv 2006.10455) train on labels that carry no information about the
image. With labels independent of x, the first layer's SGD updates are combinations of input
patches whose coefficients are uncorrelated with x, so its filters' covariance comes to share
the eigenvectors of the patch covariance (Maennel et al.'s first-layer result).

`randomize_labels` replaces ``round(fraction * N)`` labels, at indices chosen uniformly without
replacement, by classes drawn uniformly from all the data's classes (a replaced label may equal
the true one by chance, with probability 1 / classes; ``fraction`` 1 is the paper's fully
random labelling, smaller values the partial corruption of Zhang et al.). Both draws come from
``numpy.random.default_rng(seed)``, so the labelling depends only on the seed and the data's
length. The true label is kept as ``meta["true_label"]`` (float64, exact), so it follows the
images through subsets, and the name gains ``+randomlabels``.
"""

from __future__ import annotations

import numpy as np
import torch

from contrastlab.core.errors import DataError
from contrastlab.data.tensors import ImageTensors

__all__ = ["TRUE_LABEL", "randomize_labels"]

TRUE_LABEL = "true_label"  # the meta key holding each image's original class


def randomize_labels(data: ImageTensors, *, fraction: float = 1.0, seed: int = 0) -> ImageTensors:
    """``data`` with ``round(fraction * len(data))`` labels replaced by uniform random classes.

    The images are shared, not copied (the probe does not change them); classes and the other
    metadata are kept; ``meta["true_label"]`` holds the labels before replacement. DataError
    for unlabelled data or fewer than 2 classes, ValueError for ``fraction`` outside [0, 1].
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    if not data.labelled:
        raise DataError(
            f"data.probe randomlabels replaces class labels, but {data.name} has no labels"
        )
    classes = len(data.classes)
    if classes < 2:
        raise DataError(f"random labels need at least 2 classes, {data.name} has {classes}")
    n = len(data)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(n, size=round(fraction * n), replace=False)
    drawn = rng.integers(0, classes, size=chosen.size)
    labels = data.labels.clone()
    labels[torch.from_numpy(chosen).long()] = torch.from_numpy(drawn).long()
    meta = {key: values.clone() for key, values in data.meta.items()}
    meta[TRUE_LABEL] = data.labels.to(torch.float64)
    return ImageTensors(
        images=data.images,
        labels=labels,
        meta=meta,
        classes=list(data.classes),
        name=f"{data.name}+randomlabels",
    )
