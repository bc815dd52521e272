"""The recipe: every setting of a run, as typed dataclasses with their defaults and range checks.

A recipe YAML file, ``--set key=value`` overrides and the CLI's short flags all land here;
``config.yaml`` in a run directory is this tree written back out. Field names are the keys users
type, so they are part of the public interface.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from contrastlab.augment import SimCLRAugment
from contrastlab.config.checks import check as _check
from contrastlab.config.evaluation import EvalConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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
        _check(self.image_size >= 8, "data.image_size", "at least 8", self.image_size)
        _check(self.channels in (1, 3), "data.channels", "1 or 3", self.channels)
        _check(len(self.mean) == self.channels, "data.mean", f"{self.channels} values", self.mean)
        _check(len(self.std) == self.channels, "data.std", f"{self.channels} values", self.std)
        _check(all(s > 0 for s in self.std), "data.std", "positive", self.std)
        _check(0.0 < self.holdout < 1.0, "data.holdout", "in (0, 1)", self.holdout)
        for key, value in (("data.limit", self.limit), ("data.eval_limit", self.eval_limit)):
            _check(value is None or value >= 2, key, "null or at least 2", value)
        _check(self.workers >= 0, "data.workers", "0 or more", self.workers)
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
        _check(self.head_layers >= 1, "model.head_layers", "at least 1", self.head_layers)
        _check(self.head_out_dim >= 1, "model.head_out_dim", "at least 1", self.head_out_dim)
        hidden = self.head_hidden_dim
        _check(hidden is None or hidden >= 1, "model.head_hidden_dim", "null or >= 1", hidden)


@dataclass
class MocoConfig:
    """MoCo's ``method.moco:`` settings (He et al. 2020; MoCo v2: Chen et al. 2020)."""

    queue_size: int = 4096  # K negatives; a multiple of the keys enqueued per step
    momentum: float = 0.99  # m in theta_k <- m theta_k + (1 - m) theta_q (0.999 on ImageNet)
    symmetric: bool = False  # loss(q1, k2) + loss(q2, k1), enqueueing both key sets
    shuffle_bn: bool = True  # keys through BN in a shuffled order (across ranks when distributed)
    bn_splits: int = 8  # split-BN emulation of per-GPU BN on one device; 1 = plain BN

    def validate(self) -> None:
        _check(self.queue_size >= 1, "method.moco.queue_size", "at least 1", self.queue_size)
        _check(0.0 <= self.momentum < 1.0, "method.moco.momentum", "in [0, 1)", self.momentum)
        _check(self.bn_splits >= 1, "method.moco.bn_splits", "at least 1", self.bn_splits)


@dataclass
class SupConConfig:
    """SupCon's ``method.supcon:`` settings (Khosla et al. 2020)."""

    variant: Literal["out", "in"] = "out"  # L_out (the paper's choice) or L_in
    base_temperature: float | None = None  # 0.07 rescales the loss as SupContrast does

    def validate(self) -> None:
        bt = self.base_temperature
        _check(bt is None or bt > 0, "method.supcon.base_temperature", "null or > 0", bt)


@dataclass
class IICConfig:
    """IIC's ``method.iic:`` settings (Ji, Henriques, Vedaldi 2019); head B has method.classes."""

    overclusters: int = 50  # head A's k (5-7x the classes in the paper); 0 = no over-clustering
    subheads: int = 5  # independent linear + softmax heads per head, loss averaged over them
    repeats: int = 3  # r transformed copies paired with each image per step
    head_a_steps: int = 1  # alternation: this many steps on head A, then head_b_steps on head B
    head_b_steps: int = 2
    sobel: bool = False  # greyscale + Sobel x/y gradients as the network's input
    lam: float = 1.0  # lambda weighting the marginal entropies

    def validate(self) -> None:
        k = self.overclusters
        _check(k == 0 or k >= 2, "method.iic.overclusters", "0 or at least 2", k)
        for name in ("subheads", "repeats", "head_a_steps", "head_b_steps"):
            value = getattr(self, name)
            _check(value >= 1, f"method.iic.{name}", "at least 1", value)
        _check(self.lam > 0, "method.iic.lam", "> 0", self.lam)


@dataclass
class ClaeConfig:
    """CLAE's ``method.clae:`` settings (Ho & Vasconcelos 2020): adversarial views by FGSM."""

    base: Literal["simclr", "moco"] = "simclr"  # the method CLAE wraps (moco: our extension)
    eps: float = 0.03  # FGSM step in normalised input units (x the channel std in pixel units)
    alpha: float = 1.0  # weight of the adversarial term
    bn_momentum: float = 0.01  # of the auxiliary batch norms (AdvProp)

    def validate(self) -> None:
        _check(self.base in ("simclr", "moco"), "method.clae.base", "simclr or moco", self.base)
        _check(self.eps >= 0, "method.clae.eps", ">= 0", self.eps)
        _check(self.alpha >= 0, "method.clae.alpha", ">= 0", self.alpha)
        m = self.bn_momentum
        _check(0.0 < m <= 1.0, "method.clae.bn_momentum", "in (0, 1]", m)


LOOC_AUGMENTATIONS = ("color", "rotation", "blur", "flip")


@dataclass
class LoocConfig:
    """LOOC's ``method.looc:`` settings (Xiao et al. 2021); queue and momentum: method.moco."""

    augmentations: tuple[str, ...] = ("color", "rotation")  # the atomic augmentations, in order

    def validate(self) -> None:
        augs = tuple(self.augmentations)
        ok = (
            len(augs) >= 1
            and all(a in LOOC_AUGMENTATIONS for a in augs)
            and len(set(augs)) == len(augs)
        )
        valid = ", ".join(LOOC_AUGMENTATIONS)
        _check(ok, "method.looc.augmentations", f"distinct names among {valid}", augs)


@dataclass
class TemporalConfig:
    """Frame Temporal Invariance (Purushwalkam & Gupta 2020): MoCo v2 on frame pairs."""

    max_gap: int = 4  # the two frames of a positive pair are at most this many frames apart

    def validate(self) -> None:
        _check(self.max_gap >= 1, "method.temporal.max_gap", "at least 1", self.max_gap)


SIMCLR_LOSSES = ("nt_xent", "logsumexp", "swd_normal", "swd_hypersphere", "swd_hypercube")


@dataclass
class SimclrConfig:
    """SimCLR's ``method.simclr:`` loss: NT-Xent (the default), or a generalized contrastive loss
    of Chen, Luo & Li 2021, ``scale x (alignment + weight x distribution term)``
    (`contrastlab.losses.generalized`; its log-sum-exp temperature is ``method.temperature``)."""

    loss: Literal["nt_xent", "logsumexp", "swd_normal", "swd_hypersphere", "swd_hypercube"] = (
        "nt_xent"
    )
    cross_view_only: bool = False  # nt_xent: no same-view negatives (the RandBit colab's loss)
    weight: float = 1.0  # generalized: lambda, the distribution term's weight
    scale: float = 1.0  # generalized: the notebook's loss_scaling, a factor on the whole loss
    normalize: bool | None = None  # generalized: L2-normalise first; null: the paper's pairing
    mask_self: bool = False  # logsumexp: drop the self-similarity (SimCLR-style); paper keeps it

    def validate(self) -> None:
        valid = ", ".join(SIMCLR_LOSSES)
        _check(self.loss in SIMCLR_LOSSES, "method.simclr.loss", f"one of {valid}", self.loss)
        generalized = self.loss != "nt_xent"
        for key, default in (("weight", 1.0), ("scale", 1.0), ("normalize", None)):
            value = getattr(self, key)
            _check(
                generalized or value == default,
                f"method.simclr.{key}",
                f"{default if default is not None else 'null'} with loss nt_xent",
                value,
            )
        cross = self.cross_view_only
        _check(not cross or not generalized, "method.simclr.cross_view_only", "false", cross)
        mask = self.mask_self
        ok = not mask or self.loss == "logsumexp"
        _check(ok, "method.simclr.mask_self", "false unless loss is logsumexp", mask)
        _check(self.weight >= 0, "method.simclr.weight", ">= 0", self.weight)
        _check(self.scale > 0, "method.simclr.scale", "> 0", self.scale)

    def normalized(self) -> bool:
        """Whether the generalized loss L2-normalises: ``normalize``, else the paper's pairing
        (log-sum-exp and hypersphere normalise; normal and hypercube do not)."""
        if self.normalize is not None:
            return self.normalize
        return self.loss in ("logsumexp", "swd_hypersphere")


METHODS = ("simclr", "moco", "supcon", "ce", "iic", "clae", "looc", "temporal")
MethodName = Literal["simclr", "moco", "supcon", "ce", "iic", "clae", "looc", "temporal"]


@dataclass
class MethodConfig:
    """Which method trains the encoder, and its settings (each method reads its own section)."""

    name: MethodName = "simclr"
    temperature: float = 0.5  # of the contrastive loss (all but ce and iic)
    classes: int | None = None  # ce's classifier width, iic's head-B clusters; None: the data's
    moco: MocoConfig = field(default_factory=MocoConfig)
    supcon: SupConConfig = field(default_factory=SupConConfig)
    iic: IICConfig = field(default_factory=IICConfig)
    clae: ClaeConfig = field(default_factory=ClaeConfig)
    looc: LoocConfig = field(default_factory=LoocConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    simclr: SimclrConfig = field(default_factory=SimclrConfig)  # simclr's loss (clae: nt_xent)

    def validate(self) -> None:
        _check(self.temperature > 0, "method.temperature", "> 0", self.temperature)
        k = self.classes
        _check(k is None or k >= 2, "method.classes", "null or at least 2", k)
        self.moco.validate()
        self.supcon.validate()
        self.iic.validate()
        self.clae.validate()
        self.looc.validate()
        self.temporal.validate()
        self.simclr.validate()
        loss = self.simclr.loss
        ok = self.name != "clae" or loss == "nt_xent"
        _check(ok, "method.simclr.loss", "nt_xent with method clae (its attack is NT-Xent)", loss)
        used = self.name in ("simclr", "clae") or self.simclr == SimclrConfig()
        _check(used, "method.simclr", f"left at its defaults with method {self.name}", self.simclr)


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

    def validate(self) -> None:
        _check(self.epochs >= 1, "train.epochs", "at least 1", self.epochs)
        _check(self.batch_size >= 2, "train.batch_size", "at least 2", self.batch_size)
        _check(self.log_every >= 1, "train.log_every", "at least 1", self.log_every)
        every = self.checkpoint_every
        _check(every >= 0, "train.checkpoint_every", "0 (off) or a number of steps", every)
        skips = self.max_skips_in_a_row
        _check(skips >= 1, "train.max_skips_in_a_row", "at least 1", skips)
        ok = self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")
        _check(ok, "train.device", "auto, cpu, cuda or cuda:N", self.device)


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
        for part in (self.data, self.augment, self.model, self.method, self.optim, self.train):
            part.validate()
        self.eval.validate()
        method = self.method
        if method.name == "looc":
            _check(not method.moco.symmetric, "method.moco.symmetric", "false for looc", True)
            _check_looc_augmentations(method.looc, self.augment)
        if method.name in ("moco", "looc", "temporal") or (
            method.name == "clae" and method.clae.base == "moco"
        ):
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
