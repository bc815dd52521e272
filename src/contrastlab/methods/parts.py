"""The pieces every method builds from a recipe: encoder, projection head, view maker, monitors."""

from __future__ import annotations

import torch
from torch import nn

from contrastlab.augment import SimCLRViews, ViewParams
from contrastlab.config.schema import Recipe
from contrastlab.core.errors import ConfigError
from contrastlab.data.probes.randbit import RandBitViews
from contrastlab.models import build_encoder, projection_mlp
from contrastlab.models.encoder import Encoder


def build_encoder_and_head(recipe: Recipe) -> tuple[Encoder, nn.Sequential]:
    """The recipe's encoder and its projection MLP (``model.head_*``)."""
    encoder = build_encoder(recipe.model, recipe.data)
    return encoder, build_head(recipe, encoder.feature_dim)


def build_head(recipe: Recipe, in_dim: int) -> nn.Sequential:
    """A projection MLP from ``in_dim`` features as ``model.head_*`` says."""
    m = recipe.model
    return projection_mlp(
        in_dim,
        hidden_dim=m.head_hidden_dim or in_dim,
        out_dim=m.head_out_dim,
        layers=m.head_layers,
        batchnorm=m.head_batchnorm,
        output_batchnorm=m.head_output_batchnorm,
    )


def build_views(recipe: Recipe) -> SimCLRViews:
    """The recipe's view maker; with ``data.probe: randbit``, wrapped in `RandBitViews` so the bit
    planes skip augmentation and are appended, identical, to every view."""
    views = SimCLRViews(recipe.augment, recipe.data.image_size)
    bits = recipe.data.randbit_bits()
    if not bits:
        return views
    if recipe.method.name == "looc":
        raise ConfigError(
            "data.probe randbit cannot be used with method looc: its views are sampled and "
            "applied in two steps, which the bit planes' wrapper does not support"
        )
    return RandBitSimCLRViews(views, bits)


def set_view_size(method: nn.Module, image_size: int) -> None:
    """Make ``method``'s views (its ``views``, a `SimCLRViews`, and the view maker it wraps, if
    any) ``image_size`` pixels wide: the stages of ``train.view_sizes``."""
    views = getattr(method, "views", None)
    if not isinstance(views, SimCLRViews):
        raise ConfigError(
            f"train.view_sizes needs a method whose views are SimCLR's; {type(method).__name__} "
            "has none: leave train.view_sizes empty"
        )
    views.resize(image_size)
    inner = getattr(views, "views", None)
    if isinstance(inner, SimCLRViews):
        inner.resize(image_size)


class RandBitSimCLRViews(RandBitViews, SimCLRViews):
    """`RandBitViews` around a `SimCLRViews`, usable wherever a method expects a `SimCLRViews`.

    Calling it augments the image channels with the wrapped view maker and re-appends the bit
    planes; ``sample`` and ``apply`` (LOOC's two-step interface) are refused, since they would
    augment the planes too.
    """

    def __init__(self, views: SimCLRViews, n_bits: int) -> None:
        SimCLRViews.__init__(self, views.config, views.image_size)
        RandBitViews.__init__(self, views, n_bits)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        out = RandBitViews.__call__(self, images, generator)
        assert isinstance(out, torch.Tensor)  # SimCLRViews makes one tensor
        return out

    def sample(
        self, batch_size: int, generator: torch.Generator, source_size: tuple[int, int]
    ) -> ViewParams:
        raise ConfigError("RandBit views cannot be sampled and applied in two steps")

    def apply(self, images: torch.Tensor, params: ViewParams) -> torch.Tensor:
        raise ConfigError("RandBit views cannot be sampled and applied in two steps")


def pair_metrics(z_a: torch.Tensor, z_b: torch.Tensor) -> dict[str, torch.Tensor]:
    """Monitoring: mean positive cosine; how often a view's nearest other view is its positive."""
    u_a = nn.functional.normalize(z_a.detach().float(), dim=1)
    u_b = nn.functional.normalize(z_b.detach().float(), dim=1)
    sim = u_a @ u_b.T
    hits = sim.argmax(dim=1) == torch.arange(len(sim), device=sim.device)
    return {"pos_cosine": sim.diagonal().mean(), "pair_top1": hits.float().mean()}


def method_classes(recipe: Recipe) -> int:
    """``method.classes``, which `contrastlab train` fills in from the data when it is null."""
    classes = recipe.method.classes
    if classes is None:
        raise ConfigError(
            f"method {recipe.method.name} needs method.classes (the number of classes or "
            "clusters); `contrastlab train` sets it from the training data, the Python API must"
        )
    return classes


def require_labels(
    labels: torch.Tensor, classes: int, method: str, source: str = "the batch"
) -> None:
    """Supervised methods need every label in [0, classes); ``source`` names where they are from."""
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= classes:
        raise ConfigError(
            f"method {method} trains on labels, but {source} has labels {low}..{high} and "
            f"method.classes is {classes}; use labelled data and --set method.classes="
            f"{max(high + 1, 2)}"
        )
