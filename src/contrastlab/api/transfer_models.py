"""Fine-tuned classifiers for the transfer analyses (Neyshabur et al. 2020): P-T models are
fine-tuned from the trained encoder, RI-T models trained from random initialisation, on the same
labelled fraction of the training split with the ``eval.finetune_*`` schedule."""

from __future__ import annotations

import dataclasses

from torch import nn

from contrastlab.api.data import PreparedData
from contrastlab.api.evaluation import eval_data
from contrastlab.api.loading import LoadedModel
from contrastlab.evaluate.finetune import FinetuneResult
from contrastlab.evaluate.suite import SuiteOptions, finetune_with
from contrastlab.methods import build_method
from contrastlab.models import channels_last_allowed


def random_encoder(loaded: LoadedModel, seed: int) -> nn.Module:
    """A random-init encoder of the run's recipe, drawn with ``seed`` (its own seed: the twin)."""
    train = dataclasses.replace(loaded.recipe.train, seed=seed)
    method = build_method(dataclasses.replace(loaded.recipe, train=train))
    return loaded.representation(method)


def fine_tuned(
    loaded: LoadedModel,
    data: PreparedData,
    encoder: nn.Module,
    fraction: float,
    seed: int,
    *,
    curve_every: int = 0,
) -> FinetuneResult:
    """``encoder`` fine-tuned (a copy) on ``fraction`` of the labels with the recipe's
    ``eval.finetune_*``; the model is kept; ``curve_every`` records the learning curve."""
    recipe = loaded.recipe
    options = SuiteOptions(
        device=loaded.device,
        seed=seed,
        channels_last=channels_last_allowed(recipe.train.channels_last, loaded.device),
        progress=recipe.train.progress,
    )
    suite = eval_data(data, recipe.data.channels)
    return finetune_with(
        encoder, suite, recipe.eval, options, fraction, curve_every=curve_every, keep_model=True
    )
