"""Linear interpolation between two solutions and the performance barrier along the path.

The interpolation experiment of Neyshabur, Sedghi & Zhang 2020 ("What is being transferred in
transfer learning?", NeurIPS 2020): two trained networks theta_1 and theta_2 of the same
architecture are mixed entry by entry, theta(a) = (1 - a) theta_1 + a theta_2, and the mixture is
evaluated on a grid of a in [0, 1] (the official ``ckpt_interpolation.py`` uses 50 points for
DomainNet, 20 for CheXpert; every state-dict entry is interpolated [V-code]). Two fine-tunes of
one pretrained checkpoint show a flat curve (one basin), two runs from random initialisation a
bump: a *performance barrier*.

The paper's models are Fixup ResNets without BatchNorm. For BN models the running statistics of the
mixture are those of neither endpoint, so they have to be recomputed at every a (our adaptation to
BN models): :func:`reestimate_batchnorm` does that, in train mode with a cumulative average over
images.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate._checks import check_images, check_labels
from contrastlab.evaluate.features import extract_features

__all__ = [
    "barrier_height",
    "classification_evaluator",
    "interpolate_state",
    "interpolation_curve",
    "reestimate_batchnorm",
]

Evaluator = Callable[[nn.Module], Mapping[str, float]]


def _check_alpha(alpha: object, what: str = "alpha") -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha):
        raise ContrastlabError(f"{what} must be a finite number, got {alpha!r}")
    return float(alpha)


def _check_same_layout(state_a: Mapping[str, Tensor], state_b: Mapping[str, Tensor]) -> None:
    """Raise naming the first key (in ``state_a``'s order, then ``state_b``'s) that differs."""
    for key, a in state_a.items():
        if key not in state_b:
            raise ContrastlabError(f"the two states differ: {key!r} is in the first only")
        b = state_b[key]
        if a.shape != b.shape:
            raise ContrastlabError(
                f"the two states differ in the shape of {key!r}: "
                f"{tuple(a.shape)} vs {tuple(b.shape)}"
            )
        if a.dtype != b.dtype:
            raise ContrastlabError(
                f"the two states differ in the dtype of {key!r}: {a.dtype} vs {b.dtype}"
            )
    for key in state_b:
        if key not in state_a:
            raise ContrastlabError(f"the two states differ: {key!r} is in the second only")


def interpolate_state(
    state_a: Mapping[str, Tensor], state_b: Mapping[str, Tensor], alpha: float
) -> dict[str, Tensor]:
    """The state dict (1 - alpha) theta_a + alpha theta_b, entry by entry.

    Every floating-point (or complex) entry is interpolated, parameters and buffers alike (BN
    running means and variances included), as in the official code of Neyshabur et al. 2020
    (``ckpt_interpolation.py``, [V-code]). ``alpha`` 0 and 1 return exact copies of the endpoints;
    other finite values outside [0, 1] extrapolate along the line. Integer and boolean entries
    (such as BatchNorm's ``num_batches_tracked``) cannot be mixed: they are taken from the nearer
    endpoint, ``state_a`` for alpha <= 0.5 and ``state_b`` above (our choice; it keeps both
    endpoints exact). The result holds new tensors on ``state_a``'s devices, in ``state_a``'s key
    order.

    Raises unless the two states have the same keys, shapes and dtypes, naming the first key that
    differs.
    """
    alpha = _check_alpha(alpha)
    _check_same_layout(state_a, state_b)
    out: dict[str, Tensor] = {}
    for key, a in state_a.items():
        b = state_b[key].to(a.device)
        mixable = a.is_floating_point() or a.is_complex()
        if alpha == 0.0 or (not mixable and alpha <= 0.5):
            out[key] = a.detach().clone()
        elif alpha == 1.0 or not mixable:
            out[key] = b.detach().clone()
        else:
            out[key] = (1.0 - alpha) * a.detach() + alpha * b.detach()
    return out


@torch.no_grad()
def reestimate_batchnorm(
    model: nn.Module,
    images: Tensor,
    *,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
) -> int:
    """Recompute every BatchNorm's running statistics over ``images``; return how many BN layers.

    Each BatchNorm layer that tracks running statistics is reset (mean 0, variance 1, count 0)
    and switched to train mode with ``momentum=None``, PyTorch's cumulative average; every other
    module is put in eval mode (dropout off). ``images`` (uint8 (N, C, H, W) on CPU) are then
    passed through ``model`` once, without gradient, in ceil(N / batch_size) batches of
    near-equal size, each moved to ``device`` and scaled by 1/255 like
    :func:`~contrastlab.evaluate.features.extract_features`. The model must already live on
    ``device``. Afterwards every module gets back its train/eval mode and every BN its momentum.

    Inside each batch a BN normalises with that batch's statistics (train mode), so a layer's
    inputs are those of the train-mode network, as in ``torch.optim.swa_utils.update_bn``. The
    cumulative average makes the running mean the mean of the batch means and the running
    variance the mean of the unbiased batch variances: with one batch (``batch_size >= N``) they
    are exactly the mean and unbiased variance of the layer's inputs over all images; with equal
    batches the mean is still exact, while the variance leaves out the spread between batch means.
    A model without BatchNorm is left unchanged (0 is returned).
    """
    check_images(images, what="reestimate_batchnorm's input")
    if images.shape[0] == 0:
        raise ContrastlabError("reestimate_batchnorm needs at least one image, got none")
    if batch_size < 1:
        raise ContrastlabError(f"batch_size must be at least 1, got {batch_size}")
    norms = [m for m in model.modules() if isinstance(m, _BatchNorm) and m.track_running_stats]
    if not norms:
        return 0

    modes = [(module, module.training) for module in model.modules()]
    momenta = [(norm, norm.momentum) for norm in norms]
    model.eval()
    try:
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None
            norm.train()
        n_batches = math.ceil(images.shape[0] / batch_size)
        for batch in torch.tensor_split(images, n_batches):
            model(batch.to(device, non_blocking=True).float().div_(255.0))
    finally:
        for module, was_training in modes:
            module.training = was_training
        for norm, momentum in momenta:
            norm.momentum = momentum
    return len(norms)


def interpolation_curve(
    model: nn.Module,
    state_a: Mapping[str, Tensor],
    state_b: Mapping[str, Tensor],
    alphas: Sequence[float],
    evaluate: Evaluator,
    *,
    bn_images: Tensor | None = None,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
) -> list[dict[str, float]]:
    """Evaluate the network at theta(a) = (1 - a) theta_a + a theta_b for each a of ``alphas``.

    ``model`` is the vessel: for every a it is loaded (strictly) with
    :func:`interpolate_state` (``state_a``, ``state_b``, a), its BatchNorm statistics are
    re-estimated over ``bn_images`` with :func:`reestimate_batchnorm` (``batch_size``,
    ``device``) when those are given, and ``evaluate(model)`` returns the metrics, for example
    :func:`classification_evaluator`'s loss and accuracy. Each row is ``{"alpha": a, **metrics}``,
    in the order of ``alphas``. The model must live on ``device``; it gets its own weights back
    afterwards.

    At a = 0 and a = 1 the loaded weights are exact copies of the endpoints, so the rows equal
    ``evaluate`` of the endpoint models, provided (with ``bn_images``) the endpoints' BN
    statistics were re-estimated the same way on the same images.
    """
    if not alphas:
        raise ContrastlabError("interpolation_curve needs at least one alpha, got none")
    grid = [_check_alpha(a, "every alpha") for a in alphas]
    _check_same_layout(state_a, state_b)
    if bn_images is not None:
        check_images(bn_images, what="bn_images")
    own = {key: value.detach().clone() for key, value in model.state_dict().items()}
    curve: list[dict[str, float]] = []
    try:
        for alpha in grid:
            model.load_state_dict(interpolate_state(state_a, state_b, alpha))
            if bn_images is not None:
                reestimate_batchnorm(model, bn_images, batch_size=batch_size, device=device)
            metrics = evaluate(model)
            if "alpha" in metrics:
                raise ContrastlabError("evaluate must not return a metric named 'alpha'")
            curve.append({"alpha": alpha, **{k: float(v) for k, v in metrics.items()}})
    finally:
        model.load_state_dict(own)
    return curve


def barrier_height(
    curve: Sequence[Mapping[str, float]], key: str = "loss", *, higher_is_better: bool = False
) -> float:
    """Height of the performance barrier: max over a of [v(a) - ((1 - a) v(0) + a v(1))].

    The largest rise of metric ``key`` along the path above the straight line joining its two
    endpoints, over the rows of ``curve`` with a in [0, 1] (the rows with a = 0 and a = 1 must be
    present; rows outside [0, 1] are ignored). The endpoints contribute 0, so the height is
    >= 0, and exactly 0 for a curve that is linear or convex in a. This is the Frankle-style
    formalisation of the barrier of Neyshabur et al. 2020, as we recall it ([MEM]: the paper may
    only plot the curves; it uses test error).

    For a metric where higher is better (accuracy) pass ``higher_is_better=True``: the metric is
    negated, so the height for accuracy equals the height for the error 1 - accuracy.
    """
    if not curve:
        raise ContrastlabError("barrier_height needs a curve with at least two rows, got none")
    sign = -1.0 if higher_is_better else 1.0
    points: dict[float, float] = {}
    for row in curve:
        if "alpha" not in row or key not in row:
            missing = "alpha" if "alpha" not in row else key
            raise ContrastlabError(
                f"every row of the curve needs {missing!r}; a row has {sorted(row)}"
            )
        alpha = float(row["alpha"])
        if alpha in points:
            raise ContrastlabError(f"the curve has alpha={alpha} twice")
        points[alpha] = sign * float(row[key])
    for end in (0.0, 1.0):
        if end not in points:
            raise ContrastlabError(
                f"barrier_height needs the endpoint alpha={end:g} in the curve, "
                f"got alphas {sorted(points)}"
            )
    v0, v1 = points[0.0], points[1.0]
    return max(v - ((1.0 - a) * v0 + a * v1) for a, v in points.items() if 0.0 <= a <= 1.0)


def classification_evaluator(
    images: Tensor,
    labels: Tensor,
    *,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
) -> Evaluator:
    """An ``evaluate`` for :func:`interpolation_curve`: a classifier's loss, accuracy and error.

    The returned function runs a model mapping float images in [0, 1] to (N, K) logits over
    ``images`` (uint8 (N, C, H, W) on CPU) in eval mode, through
    :func:`~contrastlab.evaluate.features.extract_features` (``x / 255``, modes restored), and
    returns ``{"loss": mean cross-entropy, "accuracy": top-1, "error": 1 - top-1}`` against
    ``labels`` (integers in range(K)). Ties between logits go to the smaller class.
    """
    check_images(images, what="the evaluation images")
    y = check_labels(labels, images.shape[0], split="evaluation")
    if batch_size < 1:
        raise ContrastlabError(f"batch_size must be at least 1, got {batch_size}")

    def evaluate(model: nn.Module) -> dict[str, float]:
        logits = extract_features(model, images, batch_size=batch_size, device=device)
        check_labels(y, len(y), split="evaluation", num_classes=logits.shape[1])
        accuracy = int((logits.argmax(dim=1) == y).sum()) / len(y)
        loss = float(F.cross_entropy(logits.double(), y))
        return {"loss": loss, "accuracy": accuracy, "error": 1.0 - accuracy}

    return evaluate
