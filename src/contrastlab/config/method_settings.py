"""The recipe's ``method:`` section: which method trains the encoder, and each method's settings.

Split out of `schema` (which re-exports every name here); each ``validate`` states what is valid
for its keys in the one line of `check`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from contrastlab.core.checks import check as _check
from contrastlab.core.checks import did_you_mean
from contrastlab.core.errors import ConfigError
from contrastlab.core.method_registry import METHODS as REGISTRY
from contrastlab.core.method_registry import MethodEntry

# Upper bounds on the settings that size a tensor or multiply the batch: generous (10-1000x the
# papers' values), there so that a typo is refused in one line instead of exhausting memory.
MAX_QUEUE = 2**20  # MoCo's queue: 65536 on ImageNet; 2**20 keys of 128 floats are 512 MiB
MAX_CLASSES = 100_000  # classifier and cluster-head widths (ImageNet-21k has 21843 classes)
MAX_COPIES = 100  # IIC's sub-heads and repeats (the paper: 5)


@dataclass
class MocoConfig:
    """MoCo's ``method.moco:`` settings (He et al. 2020; MoCo v2: Chen et al. 2020)."""

    queue_size: int = 4096  # K negatives; a multiple of the keys enqueued per step
    momentum: float = 0.99  # m in theta_k <- m theta_k + (1 - m) theta_q (0.999 on ImageNet)
    symmetric: bool = False  # loss(q1, k2) + loss(q2, k1), enqueueing both key sets
    shuffle_bn: bool = True  # keys through BN in a shuffled order (across ranks when distributed)
    bn_splits: int = 8  # split-BN emulation of per-GPU BN on one device; 1 = plain BN

    def validate(self) -> None:
        size = self.queue_size
        _check(1 <= size <= MAX_QUEUE, "method.moco.queue_size", f"in [1, {MAX_QUEUE}]", size)
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
        ok = k == 0 or 2 <= k <= MAX_CLASSES
        _check(ok, "method.iic.overclusters", f"0 or in [2, {MAX_CLASSES}]", k)
        for name in ("subheads", "repeats"):
            value = getattr(self, name)
            _check(1 <= value <= MAX_COPIES, f"method.iic.{name}", f"in [1, {MAX_COPIES}]", value)
        for name in ("head_a_steps", "head_b_steps"):
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


METHODS = tuple(REGISTRY)  # the registered methods (`contrastlab.core.method_registry`)
MethodName = str  # one of METHODS


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

    @property
    def facts(self) -> MethodEntry:
        """This method's registry entry."""
        return REGISTRY[self.name]

    @property
    def queue(self) -> bool:
        """Whether it keeps a MoCo queue (a wrapping method, CLAE, as the method it wraps)."""
        if self.facts.wraps is None:
            return self.facts.queue
        section, key = self.facts.wraps.split(".")
        return REGISTRY[getattr(getattr(self, section), key)].queue

    def validate(self) -> None:
        if self.name not in REGISTRY:
            hint = did_you_mean(str(self.name), list(REGISTRY))
            raise ConfigError(
                f"method.name must be one of {', '.join(REGISTRY)}; got {self.name!r}{hint}"
            )
        _check(self.temperature > 0, "method.temperature", "> 0", self.temperature)
        k = self.classes
        ok = k is None or 2 <= k <= MAX_CLASSES
        _check(ok, "method.classes", f"null or in [2, {MAX_CLASSES}]", k)
        self.moco.validate()
        self.supcon.validate()
        self.iic.validate()
        self.clae.validate()
        self.looc.validate()
        self.temporal.validate()
        self.simclr.validate()
        loss, allowed = self.simclr.loss, self.facts.simclr_losses
        ok = allowed is None or loss in allowed
        rule = f"{' or '.join(allowed or ())} with method {self.name}"
        _check(ok, "method.simclr.loss", rule, loss)
        used = "simclr" in self.facts.sections or self.simclr == SimclrConfig()
        _check(used, "method.simclr", f"left at its defaults with method {self.name}", self.simclr)
