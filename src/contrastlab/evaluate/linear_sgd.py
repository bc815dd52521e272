"""Linear probe trained by SGD: a linear layer on frozen features, optionally on augmented views.

The schedule is the shape of MoCo's linear classification protocol (He et al. 2020,
``main_lincls.py``): SGD with momentum 0.9, 100 epochs, learning rate divided by 10 at 60% and at
80% of training, no weight decay, cross-entropy. MoCo trains on raw features with lr 30; here the
features are standardised with the training statistics first (as the L-BFGS probe does), so the
default lr is 0.1 for a batch of 256, scaled linearly with the batch (Goyal et al. 2017).

With ``augmented_features`` the layer is trained, epoch by epoch, on features of freshly augmented
training images (random crop and flip, as in MoCo's and SimCLR's linear protocols) instead of
the fixed precomputed features; the test images are never augmented. The standardisation always
uses the statistics of the un-augmented training features.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate._checks import check_features, check_labels, check_same_width
from contrastlab.evaluate.linear import LinearProbeResult, top_k_accuracy

__all__ = ["sgd_linear_probe"]


def sgd_linear_probe(
    train_features: Tensor | np.ndarray,
    train_labels: Tensor | np.ndarray,
    test_features: Tensor | np.ndarray,
    test_labels: Tensor | np.ndarray,
    *,
    num_classes: int,
    epochs: int = 100,
    lr: float = 0.1,
    batch_size: int = 256,
    weight_decay: float = 0.0,
    seed: int = 0,
    device: torch.device | str = "cpu",
    augmented_features: Callable[[torch.Generator], Tensor] | None = None,
    progress: bool = False,
) -> LinearProbeResult:
    """Train ``nn.Linear(D, num_classes)`` on standardised training features; score the test ones.

    ``augmented_features(generator)``, when given, returns (N_train, D) features of a new
    augmented copy of the training images (same order as ``train_labels``), called once per
    epoch with the probe's own seeded generator. Deterministic on the CPU for a given ``seed``.
    The result's ``c`` is NaN and ``val_top1`` is empty (there is no regularisation sweep).
    """
    train = check_features(train_features, split="training").float()
    test = check_features(test_features, split="test").float()
    check_same_width(train, test)
    y_train = check_labels(train_labels, train.shape[0], split="training", num_classes=num_classes)
    y_test = check_labels(test_labels, test.shape[0], split="test", num_classes=num_classes)
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if value < 1:
            raise ContrastlabError(f"{name} must be at least 1, got {value}")
    if not lr > 0 or weight_decay < 0:
        raise ContrastlabError(f"lr must be > 0 and weight_decay >= 0, got {lr}, {weight_decay}")

    mean, std = train.mean(dim=0), train.std(dim=0).clamp_min(1e-6)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # nn.Linear's initialisation
    layer = nn.Linear(train.shape[1], num_classes).to(device)
    batch = min(batch_size, train.shape[0])
    steps_per_epoch = -(-train.shape[0] // batch)
    optimiser = torch.optim.SGD(
        layer.parameters(), lr=lr * batch / 256, momentum=0.9, weight_decay=weight_decay
    )
    milestones = [round(0.6 * epochs) * steps_per_epoch, round(0.8 * epochs) * steps_per_epoch]
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimiser, milestones, gamma=0.1)
    bar = tqdm(range(epochs), desc="linear probe (sgd)", disable=not progress, leave=False)
    loss = torch.zeros(())
    for _ in bar:
        features = train if augmented_features is None else augmented_features(generator).float()
        x_all = ((features.cpu() - mean) / std).to(device)
        order = torch.randperm(train.shape[0], generator=generator)
        for first in range(0, train.shape[0], batch):
            rows = order[first : first + batch]
            loss = F.cross_entropy(layer(x_all[rows.to(device)]), y_train[rows].to(device))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
        bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
    with torch.no_grad():
        logits = layer(((test - mean) / std).to(device)).cpu()
    truth = y_test.numpy()
    top1 = float((logits.argmax(dim=1).numpy() == truth).mean())
    top5 = top_k_accuracy(logits.numpy(), np.arange(num_classes), truth, 5)
    return LinearProbeResult(top1=top1, c=float("nan"), val_top1={}, top5=top5)
