"""Few-label fine-tuning: train the whole pretrained network on 1% or 10% of the labels.

The semi-supervised protocol of SimCLR (Chen et al. 2020, section 4.2 and appendix B.5), after
S4L (Zhai et al. 2019): a class-balanced 1% or 10% of the training split keeps its labels, a
linear classifier is put on top of the pretrained encoder and *all* weights are trained with
cross-entropy on those labels; top-1 and top-5 accuracy are measured on the full test split. The
same call on a randomly initialised copy of the encoder gives the baseline (training from scratch
on the same labelled images), which is what the pretraining has to beat.

From SimCLR we keep SGD with Nesterov momentum 0.9, a cosine learning-rate decay stepped per
batch without warm-up (appendix B.5 and ``learning_rate_schedule`` in google-research/simclr),
and random crops with horizontal flips as the only augmentation. Ours, sized for small images
and CPU-scale runs: crops covering 50-100% of the image (SimCLR: Inception crops, 8-100%), weight
decay 5e-4 (SimCLR: none), nn.Linear's default initialisation of the head (SimCLR: N(0, 0.01^2))
and the defaults of :func:`finetune` (SimCLR: 60 epochs for 1% and 30 for 10% of ImageNet,
batch 4096, lr = 0.05 x batch / 256). SimCLR's subsets are fixed lists of ImageNet files; ours
are drawn by :func:`labelled_subset` from a seed.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.optim.lr_scheduler import LambdaLR
from tqdm import tqdm

from contrastlab.augment.geometry import random_crop_flip
from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate._checks import check_images, check_labels
from contrastlab.evaluate.features import extract_features
from contrastlab.evaluate.linear import top_k_accuracy
from contrastlab.models.encoder import use_channels_last
from contrastlab.optim.optimizers import warmup_cosine

__all__ = ["FinetuneResult", "finetune", "labelled_subset"]

CROP_SCALE = (0.5, 1.0)  # ours: small images lose their object under SimCLR's 8% crops
CROP_RATIO = (3 / 4, 4 / 3)  # torchvision's RandomResizedCrop default, as SimCLR
MOMENTUM = 0.9  # SimCLR appendix B.5 (Nesterov)
NOT_SCALAR = ("curve", "model", "initial_state")


@dataclass
class FinetuneResult:
    """Outcome of :func:`finetune` (accuracies are fractions in [0, 1] of the test split)."""

    top1: float
    top5: float
    """Top-k accuracy with k = min(5, num_classes), so it is 1.0 when there are at most 5."""
    fraction: float
    """The fraction of the training labels asked for."""
    n_labelled: int
    """Size of the labelled subset actually trained on (see :func:`labelled_subset`)."""
    epochs: int
    steps: int
    """Optimiser steps taken: epochs x batches per epoch."""
    final_loss: float
    """Mean training cross-entropy over the last epoch (on augmented images)."""
    seconds: float
    """Wall-clock time of the whole call: copying, training and the test pass."""
    curve: list[dict[str, float]] = field(default_factory=list)
    model: nn.Module | None = None
    """With ``keep_model``: the fine-tuned classifier (encoder + flatten + linear head)."""
    initial_state: dict[str, Tensor] | None = None
    """With ``keep_model``: that classifier's state before the first step (its theta_0)."""
    """With ``curve_every``: test top-1 during training, ``{"epoch", "step", "top1", "loss"}``
    rows (epoch 0 is before any step and has no loss)."""

    def as_dict(self, prefix: str = "") -> dict[str, float | int]:
        """The scalar fields as a flat dict, each key prefixed: ``"ft1_"`` -> ``"ft1_top1"``."""
        scalars = [f.name for f in fields(self) if f.name not in NOT_SCALAR]
        return {prefix + name: getattr(self, name) for name in scalars}


def _check_fraction(fraction: object) -> float:
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, (int, float))
        or not 0 < fraction <= 1
    ):
        raise ContrastlabError(f"fraction must be a number in (0, 1], got {fraction!r}")
    return float(fraction)  # NaN fails the range test above


def _class_quotas(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` over classes in proportion to ``counts`` (largest remainder, ties to the
    smaller class), then move single samples from the most over-served classes to empty ones."""
    share = total * counts / counts.sum()
    quota = np.floor(share).astype(np.int64)
    leftover = total - int(quota.sum())
    quota[np.argsort(-(share - quota), kind="stable")[:leftover]] += 1
    for empty in np.flatnonzero(quota == 0):
        surplus = np.where(quota > 1, quota - share, -np.inf)
        quota[int(np.argmax(surplus))] -= 1
        quota[empty] = 1
    return quota


def labelled_subset(labels: Tensor | np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a stratified random subset holding ``fraction`` of the samples.

    The subset has ``max(round(fraction * N), number of classes present)`` samples (rounded half
    up), so every class present keeps at least one label. Each class gets its proportional share,
    rounded by largest remainder; a class whose share rounds to zero takes one sample from the
    class most above its share. Within a class the samples are drawn without replacement by
    ``numpy.random.default_rng(seed)``, class by class in label order: the same labels and seed
    always give the same subset, whoever calls it. Raises for ``fraction`` outside (0, 1] and for
    negative ("unlabelled") labels.
    """
    fraction = _check_fraction(fraction)
    y_any = torch.as_tensor(labels)
    y = check_labels(y_any, y_any.shape[0] if y_any.ndim else 0, split="training").numpy()
    classes, counts = np.unique(y, return_counts=True)
    total = max(math.floor(fraction * len(y) + 0.5), len(classes))
    quota = _class_quotas(counts, total)
    members = np.split(np.argsort(y, kind="stable"), np.cumsum(counts)[:-1])  # rows by class
    rng = np.random.default_rng(seed)
    picked = [
        rng.choice(rows, size=int(k), replace=False) for rows, k in zip(members, quota, strict=True)
    ]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def _check_settings(
    num_classes: int, epochs: int, lr: float, batch_size: int, weight_decay: float
) -> None:
    if num_classes < 1:
        raise ContrastlabError(f"num_classes must be at least 1, got {num_classes}")
    if epochs < 1:
        raise ContrastlabError(f"epochs must be at least 1, got {epochs}")
    if not (math.isfinite(lr) and lr > 0):
        raise ContrastlabError(f"lr must be a positive number, got {lr}")
    if batch_size < 1:
        raise ContrastlabError(f"batch_size must be at least 1, got {batch_size}")
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise ContrastlabError(f"weight_decay must be a number >= 0, got {weight_decay}")


def _check_splits(train: Tensor, test: Tensor, augment: bool) -> None:
    check_images(train, what="training images")
    check_images(test, what="test images")
    if train.shape[1:] != test.shape[1:]:
        raise ContrastlabError(
            "training and test images differ in shape: "
            f"{tuple(train.shape[1:])} vs {tuple(test.shape[1:])}"
        )
    height, width = train.shape[-2:]
    if augment and height != width:
        raise ContrastlabError(
            f"augment=True needs square images (crops are resized to a square), got "
            f"{height}x{width}; pass augment=False"
        )


def _classifier(
    encoder: nn.Module,
    image: Tensor,
    num_classes: int,
    g: torch.Generator,
    device: torch.device,
    channels_last: bool,
) -> nn.Module:
    """A trainable copy of ``encoder`` (on ``device``) + flatten + a new linear layer, initialised
    like ``nn.Linear`` but from ``g``; its input width is found by encoding one uint8 ``image`` in
    eval mode. ``channels_last`` lays the whole classifier out channels-last."""
    encoder = copy.deepcopy(encoder).to(device).requires_grad_(True)
    dim = int(extract_features(encoder, image[:1], device=device).shape[1])
    head = nn.utils.skip_init(nn.Linear, dim, num_classes, device=device)
    bound = 1 / math.sqrt(dim)  # nn.Linear.reset_parameters: kaiming_uniform_(a=sqrt(5)), bias
    with torch.no_grad():
        head.weight.copy_(torch.rand(head.weight.shape, generator=g) * 2 * bound - bound)
        head.bias.copy_(torch.rand(head.bias.shape, generator=g) * 2 * bound - bound)
    model = nn.Sequential(encoder, nn.Flatten(1), head)
    if channels_last:
        use_channels_last(model)
    return model


def _n_batches(n: int, batch_size: int) -> int:
    return math.ceil(n / min(batch_size, n))


def _batches(n: int, batch_size: int, generator: torch.Generator) -> tuple[Tensor, ...]:
    """One shuffled epoch as ceil(n / batch) batches of near-equal size (none dropped)."""
    return torch.tensor_split(torch.randperm(n, generator=generator), _n_batches(n, batch_size))


def _top_k(logits: Tensor, labels: Tensor) -> tuple[float, float]:
    """Top-1 and top-5 of ``logits`` (N, classes) by :func:`top_k_accuracy` (k clipped to the
    classes; tied scores rank the smaller class first)."""
    scores, classes = logits.detach().cpu().numpy(), np.arange(logits.shape[1])
    truth = labels.cpu().numpy()
    return top_k_accuracy(scores, classes, truth, 1), top_k_accuracy(scores, classes, truth, 5)


def _test_top_k(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    batch_size: int,
    device: torch.device,
    channels_last: bool,
) -> tuple[float, float]:
    """Top-1 and top-5 of ``model`` on the test split (eval mode, batches of at least 256)."""
    logits = extract_features(
        model, images, batch_size=max(batch_size, 256), device=device, channels_last=channels_last
    )
    return _top_k(logits, labels)


def finetune(
    encoder: nn.Module,
    train_images: Tensor,
    train_labels: Tensor | np.ndarray,
    test_images: Tensor,
    test_labels: Tensor | np.ndarray,
    *,
    num_classes: int,
    fraction: float,
    epochs: int = 30,
    lr: float = 0.05,
    batch_size: int = 64,
    weight_decay: float = 5e-4,
    seed: int = 0,
    device: torch.device | str = "cpu",
    augment: bool = True,
    progress: bool = False,
    channels_last: bool = False,
    curve_every: int = 0,
    keep_model: bool = False,
) -> FinetuneResult:
    """Fine-tune a copy of ``encoder`` plus a linear head on ``fraction`` of the training labels.

    ``encoder`` maps float images in [0, 1] (N, C, H, W) to (N, D) features and normalises
    internally (see :func:`extract_features`); it is deep-copied, never modified. A new
    ``nn.Linear(D, num_classes)`` goes on top (D from one eval-mode forward pass on one image)
    and every parameter of the copy is trained, even ones the caller froze (buffers such as
    `Sobel`'s kernels stay fixed).

    Images are uint8 (N, C, H, W) CPU tensors; labels integers in ``range(num_classes)``. Only
    ``labelled_subset(train_labels, fraction, seed)`` of the training split is used, so a
    pretrained and a randomly initialised encoder see exactly the same labelled images.

    Training: cross-entropy, SGD with Nesterov momentum 0.9 and ``weight_decay`` on all
    parameters, the learning rate falling from ``lr`` to 0 on a cosine stepped per batch, no
    warm-up. Each epoch reshuffles the subset into ceil(n / batch) batches of near-equal size, at
    most ``min(batch_size, n)``. With ``augment`` every training image gets a random resized crop
    (50-100% of the area, aspect 3/4-4/3, bilinear) and a horizontal flip with probability 0.5,
    by contrastlab's batched augmentation (square images only). BatchNorm is in train mode while
    training and uses its running statistics for the test pass. The defaults (30 epochs, lr 0.05,
    batch 64, weight decay 5e-4) are ours, for small images; see the module docstring.

    The head's initialisation, the shuffling and the augmentation are all drawn from one
    ``torch.Generator`` seeded with ``seed``, so on the CPU a call is deterministic for a given
    seed (provided the encoder draws no random numbers of its own, e.g. dropout); the global RNG
    is left untouched. ``channels_last`` lays the network out channels-last (callers decide with
    :func:`~contrastlab.models.encoder.channels_last_allowed`). ``progress`` shows a tqdm bar over
    epochs on stderr with the epoch's running loss. With ``curve_every`` = n > 0 the test top-1
    is also measured before training and after every n-th epoch (and the last): the learning
    curve of the optimisation-speed comparison (Neyshabur et al. 2020), in ``result.curve``.
    ``keep_model`` returns the fine-tuned classifier and its initial state in the result (for
    interpolation and criticality). All inputs are checked before any work.
    """
    start = time.perf_counter()
    _check_settings(num_classes, epochs, lr, batch_size, weight_decay)
    _check_splits(train_images, test_images, augment)
    y_train = check_labels(
        train_labels, train_images.shape[0], split="training", num_classes=num_classes
    )
    y_test = check_labels(test_labels, test_images.shape[0], split="test", num_classes=num_classes)
    subset = torch.from_numpy(labelled_subset(y_train, fraction, seed))
    images, labels = train_images[subset], y_train[subset]

    device = torch.device(device)
    use_cl = channels_last
    generator = torch.Generator().manual_seed(seed)
    model = _classifier(encoder, images, num_classes, generator, device, use_cl)
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()} if keep_model else None
    total = epochs * _n_batches(len(subset), batch_size)
    optimizer, scheduler = _optimiser(model, lr, weight_decay, total)

    if curve_every < 0:
        raise ContrastlabError(f"curve_every must be 0 (off) or more, got {curve_every}")
    test_top_k = partial(_test_top_k, model, test_images, y_test, batch_size, device, use_cl)

    def train_epoch() -> float:
        return _train_epoch(
            model, optimizer, scheduler, generator, images, labels, batch_size, augment, use_cl
        )

    final_loss, curve = _run_epochs(
        train_epoch,
        lambda: test_top_k()[0],
        epochs=epochs,
        lr=lr,
        per_epoch=_n_batches(len(subset), batch_size),
        curve_every=curve_every,
        progress=progress,
    )
    top1, top5 = test_top_k()
    return FinetuneResult(
        top1=top1,
        top5=top5,
        fraction=float(fraction),
        n_labelled=len(subset),
        epochs=epochs,
        steps=total,
        final_loss=final_loss,
        seconds=time.perf_counter() - start,
        curve=curve,
        model=model if keep_model else None,
        initial_state=initial,
    )


def _optimiser(
    model: nn.Module, lr: float, weight_decay: float, total: int
) -> tuple[torch.optim.SGD, LambdaLR]:
    """SGD with Nesterov momentum and a cosine decay to 0 over ``total`` steps, no warm-up."""
    optimizer = torch.optim.SGD(
        model.parameters(), lr=lr, momentum=MOMENTUM, nesterov=True, weight_decay=weight_decay
    )
    schedule = partial(warmup_cosine, total_steps=total, warmup_steps=0, final_fraction=0.0)
    return optimizer, LambdaLR(optimizer, schedule)


def _run_epochs(
    train_epoch: Callable[[], float],
    test_top1: Callable[[], float],
    *,
    epochs: int,
    lr: float,
    per_epoch: int,
    curve_every: int,
    progress: bool,
) -> tuple[float, list[dict[str, float]]]:
    """All epochs of training: (the last epoch's mean loss, the learning curve if asked for)."""
    curve: list[dict[str, float]] = []
    if curve_every:
        curve.append({"epoch": 0, "step": 0, "top1": test_top1()})
    final_loss = math.nan
    with tqdm(range(epochs), desc="fine-tuning", unit="epoch", disable=not progress) as bar:
        for epoch in bar:
            final_loss = train_epoch()
            if not math.isfinite(final_loss):
                raise ContrastlabError(
                    f"fine-tuning diverged: the training loss is {final_loss} in epoch "
                    f"{epoch + 1} of {epochs}; try a smaller lr than {lr}"
                )
            bar.set_postfix(loss=f"{final_loss:.4f}")
            done = epoch + 1
            if curve_every and (done % curve_every == 0 or done == epochs):
                row = {"epoch": done, "step": done * per_epoch, "loss": final_loss}
                curve.append({**row, "top1": test_top1()})
    return final_loss, curve


def _train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: LambdaLR,
    generator: torch.Generator,
    images: Tensor,
    labels: Tensor,
    batch_size: int,
    augment: bool,
    channels_last: bool,
) -> float:
    """One shuffled pass over the labelled images; returns the mean loss per image."""
    model.train()
    device = next(model.parameters()).device
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    loss_sum = torch.zeros((), device=device)
    for rows in _batches(len(images), batch_size, generator):
        x = images[rows].to(device, non_blocking=True).float()
        x = random_crop_flip(x, generator, scale=CROP_SCALE, ratio=CROP_RATIO) if augment else x
        x = x.div_(255.0).clamp_(0.0, 1.0).contiguous(memory_format=memory_format)
        y = labels[rows].to(device, non_blocking=True)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        loss_sum += loss.detach() * len(rows)
    return float(loss_sum) / len(images)
