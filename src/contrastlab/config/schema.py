"""The recipe: every setting of a run, as typed dataclasses with their defaults and range checks.

A recipe YAML file, ``--set key=value`` overrides and the CLI's short flags all land here;
``config.yaml`` in a run directory is this tree written back out. Field names are the keys users
type, so they are part of the public interface.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Literal

from contrastlab.augment import SimCLRAugment
from contrastlab.config.evaluation import EvalConfig
from contrastlab.config.method_settings import (
    LOOC_AUGMENTATIONS,
    METHODS,
    SIMCLR_LOSSES,
    ClaeConfig,
    IICConfig,
    LoocConfig,
    MethodConfig,
    MethodName,
    MocoConfig,
    SimclrConfig,
    SupConConfig,
    TemporalConfig,
)
from contrastlab.core.checks import check as _check
from contrastlab.core.checks import check_finite, check_int64

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "LOOC_AUGMENTATIONS",
    "MAX_IMAGE_SIZE",
    "MAX_SEED",
    "MAX_WORKERS",
    "METHODS",
    "SIMCLR_LOSSES",
    "ClaeConfig",
    "DataConfig",
    "EvalConfig",
    "IICConfig",
    "LoocConfig",
    "MethodConfig",
    "MethodName",
    "MocoConfig",
    "ModelConfig",
    "OptimConfig",
    "Recipe",
    "SimclrConfig",
    "SupConConfig",
    "TemporalConfig",
    "TrainConfig",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Images are decoded at image_size x image_size and held in memory; 4096 is 16x ImageNet's 224 and
# 48 MiB a colour image, beyond it a typo (100000 would be 28 GiB per image).
MAX_IMAGE_SIZE = 4096
# Worker processes decode once at start-up; a fixed cap (not a multiple of this machine's cores)
# keeps a recipe valid on every machine, and 100000 processes would hang the machine.
MAX_WORKERS = 64
MAX_SEED = 2**32 - 1  # np.random.seed's bound (torch.manual_seed takes more)
MAX_HEAD_DIM = 65536  # model.head_out_dim / head_hidden_dim: 16x the widest ResNet feature
MAX_HEAD_LAYERS = 16


@dataclass
class DataConfig:
    """Where images come from and how they are shaped before augmentation."""

    source: str = "shapes"  # a built-in name (shapes, digits) or a path
    eval_source: str | None = None  # held-out labelled data; default: the source's own test split
    options: dict[str, Any] = field(default_factory=dict)  # source-specific (e.g. shapes' n_train)
    image_size: int = 32
    channels: int = 3
    mean: tuple[float, ...] = IMAGENET_MEAN  # normalisation, applied inside the encoder
    std: tuple[float, ...] = IMAGENET_STD
    holdout: float = 0.2  # fraction held out for evaluation when there is no test split
    limit: int | None = None  # train on at most this many images (a stratified subset)
    eval_limit: int | None = None  # evaluate on at most this many held-out images
    workers: int = 0  # DataLoader worker processes used to decode once at start-up
    # an unreadable image (corrupt, truncated, too small, a decompression bomb): stop naming it
    # (error), or leave it out, count it and list it in the run directory (skip)
    on_bad_image: Literal["error", "skip"] = "error"
    # a probe data set made from the decoded images (contrastlab.data.probes.apply), or null
    probe: Literal["blockshuffle", "randbit", "digits", "multiobject", "randomlabels"] | None = None
    probe_options: dict[str, Any] = field(default_factory=dict)  # the probe's (e.g. randbit's bits)

    def validate(self) -> None:
        size = self.image_size
        _check(8 <= size <= MAX_IMAGE_SIZE, "data.image_size", f"in [8, {MAX_IMAGE_SIZE}]", size)
        _check(self.channels in (1, 3), "data.channels", "1 or 3", self.channels)
        _check(len(self.mean) == self.channels, "data.mean", f"{self.channels} values", self.mean)
        _check(len(self.std) == self.channels, "data.std", f"{self.channels} values", self.std)
        _check(all(s > 0 for s in self.std), "data.std", "positive", self.std)
        _check(0.0 < self.holdout < 1.0, "data.holdout", "in (0, 1)", self.holdout)
        for key, value in (("data.limit", self.limit), ("data.eval_limit", self.eval_limit)):
            _check(value is None or value >= 2, key, "null or at least 2", value)
        workers = self.workers
        _check(0 <= workers <= MAX_WORKERS, "data.workers", f"in [0, {MAX_WORKERS}]", workers)
        from contrastlab.data.generated import check_generated  # the data layer, loaded lazily

        check_generated(self.source, self.options, size, self.channels)
        if self.probe is not None:
            from contrastlab.data.probes.apply import probe_spec  # the data layer, loaded lazily

            probe_spec(self.probe, self.probe_options, image_size=self.image_size)
        else:
            options = self.probe_options
            _check(not options, "data.probe_options", "empty without data.probe", options)

    def randbit_bits(self) -> int:
        """The number of RandBit planes appended to every image (0 without that probe)."""
        return int(self.probe_options["bits"]) if self.probe == "randbit" else 0

    def encoder_inputs(self) -> tuple[int, tuple[float, ...], tuple[float, ...]]:
        """The channels, mean and std of the images the encoder sees: ``channels``, ``mean`` and
        ``std``, then RandBit's planes with mean 0 and std 1 (left as the 0/1 they are)."""
        bits = self.randbit_bits()
        mean, std = tuple(self.mean) + (0.0,) * bits, tuple(self.std) + (1.0,) * bits
        return self.channels + bits, mean, std


@dataclass
class ModelConfig:
    """Backbone (a torchvision ResNet) and projection head."""

    backbone: Literal["resnet18", "resnet34", "resnet50"] = "resnet18"
    width: float = 1.0  # channel multiplier: 1.0 is torchvision's ResNet, 0.125 has 8 stem channels
    cifar_stem: bool = True  # 3x3 stride-1 first conv and no max-pool, for 32x32 inputs
    head_layers: int = 2  # linear layers in the projection MLP (1 = a linear head)
    head_hidden_dim: int | None = None  # default: the backbone's feature width
    head_out_dim: int = 128
    head_batchnorm: bool = False  # BatchNorm after each hidden linear layer (SimCLR v2)
    head_output_batchnorm: bool = False  # BatchNorm without affine on the output (MoCo v3)

    def validate(self) -> None:
        _check(0.0 < self.width <= 8.0, "model.width", "in (0, 8]", self.width)
        _check(round(64 * self.width) >= 1, "model.width", "at least 1/64", self.width)
        layers, out, hidden = self.head_layers, self.head_out_dim, self.head_hidden_dim
        _check(1 <= layers <= MAX_HEAD_LAYERS, "model.head_layers", "in [1, 16]", layers)
        _check(1 <= out <= MAX_HEAD_DIM, "model.head_out_dim", f"in [1, {MAX_HEAD_DIM}]", out)
        ok = hidden is None or 1 <= hidden <= MAX_HEAD_DIM
        _check(ok, "model.head_hidden_dim", f"null or in [1, {MAX_HEAD_DIM}]", hidden)


@dataclass
class OptimConfig:
    """Optimiser and learning-rate schedule (linear warm-up, then cosine), stepped per batch."""

    name: Literal["sgd", "lars", "adam"] = "sgd"
    lr: float = 0.06
    # the effective (global) batch B scales the peak lr: linear lr x B/256 (Goyal et al.,
    # SimCLR with SGD/LARS), sqrt lr x sqrt(B/256) (SimCLR's square-root rule for LARS)
    lr_scaling: Literal["none", "linear", "sqrt"] = "none"
    momentum: float = 0.9
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)  # adam only
    weight_decay: float = 5e-4
    exclude_bias_and_norm: bool = True  # no weight decay (and no LARS adaptation) on 1-d params
    lars_eta: float = 0.001  # LARS trust coefficient
    warmup_epochs: float = 0.0
    final_lr_fraction: float = 0.0  # cosine decays to lr x this
    clip_grad_norm: float | None = None

    def validate(self) -> None:
        _check(self.lr > 0, "optim.lr", "> 0", self.lr)
        _check(0.0 <= self.momentum < 1.0, "optim.momentum", "in [0, 1)", self.momentum)
        _check(all(0.0 <= b < 1.0 for b in self.betas), "optim.betas", "in [0, 1)", self.betas)
        _check(self.weight_decay >= 0, "optim.weight_decay", ">= 0", self.weight_decay)
        _check(self.lars_eta > 0, "optim.lars_eta", "> 0", self.lars_eta)
        _check(self.warmup_epochs >= 0, "optim.warmup_epochs", ">= 0", self.warmup_epochs)
        frac = self.final_lr_fraction
        _check(0.0 <= frac <= 1.0, "optim.final_lr_fraction", "in [0, 1]", frac)
        clip = self.clip_grad_norm
        _check(clip is None or clip > 0, "optim.clip_grad_norm", "null or > 0", clip)


@dataclass
class TrainConfig:
    """The training loop."""

    epochs: int = 30
    batch_size: int = 256
    seed: int = 0
    device: str = "auto"  # auto (cuda when available), cpu, cuda, cuda:N
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    # channels-last memory for the convolutions: auto (on CUDA only), true (also on the CPU,
    # where it is faster for wide networks; see models.encoder.use_channels_last), false
    channels_last: Literal["auto", True, False] = "auto"
    log_every: int = 10  # steps between TensorBoard points
    progress: bool = True
    checkpoint_every: int = 0  # also checkpoint every N steps within an epoch (0: epoch ends only)
    sync_bn: bool = False  # under torchrun: batch-norm statistics pooled over all processes
    # a NaN or infinite loss or gradient: stop naming the step and the last good checkpoint (stop),
    # or leave the batch out, count it, and stop only after max_skips_in_a_row such steps (skip)
    on_nonfinite: Literal["stop", "skip"] = "stop"
    max_skips_in_a_row: int = 10
    # progressive resolution (Kocyigit et al. 2023; FixRes): stages [fraction of the run's steps
    # at which the stage starts, side of the training views in pixels], the first at 0.0; the
    # images stay at data.image_size and evaluation sees them so. [] : data.image_size throughout
    view_sizes: tuple[tuple[float, int], ...] = ()

    def view_size_at(self, step: int, total_steps: int, image_size: int) -> int:
        """The side of the training views at ``step`` of ``total_steps``."""
        size = image_size
        for start, side in self.view_sizes:
            if step >= start * total_steps:
                size = side
        return size

    def validate(self) -> None:
        _check(0 <= self.seed <= MAX_SEED, "train.seed", f"in [0, {MAX_SEED}]", self.seed)
        _check(self.epochs >= 1, "train.epochs", "at least 1", self.epochs)
        _check(self.batch_size >= 2, "train.batch_size", "at least 2", self.batch_size)
        _check(self.log_every >= 1, "train.log_every", "at least 1", self.log_every)
        every = self.checkpoint_every
        _check(every >= 0, "train.checkpoint_every", "0 (off) or a number of steps", every)
        skips = self.max_skips_in_a_row
        _check(skips >= 1, "train.max_skips_in_a_row", "at least 1", skips)
        ok = self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")
        _check(ok, "train.device", "auto, cpu, cuda or cuda:N", self.device)
        self._check_view_sizes()

    def _check_view_sizes(self) -> None:
        stages = self.view_sizes
        if not stages:
            return
        starts = [float(start) for start, _ in stages]
        rule = "[[0.0, SIDE], [FRACTION, SIDE], ...]: starts from 0.0, rising, below 1"
        ok = starts[0] == 0.0 and all(a < b < 1.0 for a, b in itertools.pairwise(starts))
        _check(ok, "train.view_sizes", rule, stages)
        sides = [side for _, side in stages]
        ok = all(isinstance(s, int) and 8 <= s <= MAX_IMAGE_SIZE for s in sides)
        _check(ok, "train.view_sizes", f"sides in [8, {MAX_IMAGE_SIZE}] pixels", stages)


@dataclass
class Recipe:
    """A whole run: ``contrastlab train --recipe NAME`` loads one from ``configs/NAME.yaml``."""

    name: str = "custom"
    description: str = ""
    gpu_recipe: str | None = None  # the full-size recipe this CPU recipe stands in for
    data: DataConfig = field(default_factory=DataConfig)
    augment: SimCLRAugment = field(default_factory=SimCLRAugment)
    model: ModelConfig = field(default_factory=ModelConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def validate(self) -> None:
        check_finite(self)  # first: NaN and infinity slip through range checks
        for part in (self.data, self.augment, self.model, self.method, self.optim, self.train):
            part.validate()
        self.eval.validate()
        check_int64(self)  # last: the range checks above name tighter bounds where there are
        method = self.method
        if method.moco.symmetric and not method.facts.symmetric_queue:
            _check(False, "method.moco.symmetric", f"false for {method.name}", True)
        if "looc" in method.facts.sections:
            _check_looc_augmentations(method.looc, self.augment)
        if method.queue:
            _check_moco_batch(method.moco, self.train.batch_size)


_LOOC_PROBABILITY = {
    "color": "jitter_p",
    "rotation": "rotation_p",
    "blur": "blur_p",
    "flip": "flip_p",
}


def _check_looc_augmentations(looc: LoocConfig, augment: SimCLRAugment) -> None:
    """Each of LOOC's atomic augmentations must actually happen, or its space learns nothing."""
    for name in looc.augmentations:
        key = _LOOC_PROBABILITY[name]
        value = getattr(augment, key)
        if name == "color":
            value = max(value, augment.gray_p)
        _check(
            value > 0,
            f"augment.{key}",
            f"> 0 when method.looc.augmentations includes {name}",
            getattr(augment, key),
        )


def _check_moco_batch(moco: MocoConfig, batch_size: int) -> None:
    """The queue takes whole batches of keys, and split-BN whole splits of the batch."""
    per_step = batch_size * (2 if moco.symmetric else 1)
    _check(
        moco.queue_size % per_step == 0,
        "method.moco.queue_size",
        f"a multiple of the {per_step} keys enqueued per step (train.batch_size"
        + (" x 2, symmetric)" if moco.symmetric else ")"),
        moco.queue_size,
    )
    _check(
        batch_size % moco.bn_splits == 0,
        "method.moco.bn_splits",
        f"a divisor of train.batch_size {batch_size}",
        moco.bn_splits,
    )
