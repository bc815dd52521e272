"""Turning a recipe's ``data`` section into decoded training and held-out tensors."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contrastlab.config.schema import DataConfig
from contrastlab.core.errors import DataError
from contrastlab.data import (
    ImageSource,
    ImageTensors,
    holdout_split,
    materialize,
    open_source,
    take_subset,
)
from contrastlab.data.probes.apply import apply_probe

SPLIT_SEED = 0  # held-out splits and subsets are fixed, whatever the training seed


@dataclass
class PreparedData:
    train: ImageTensors
    test: ImageTensors | None  # None when there is nothing labelled to evaluate on
    eval_note: str  # where the held-out images come from, for the report
    probe: dict[str, Any] = field(default_factory=dict)  # data.probe's draws (apply_probe)
    skipped: list[str] = field(default_factory=list)  # data.on_bad_image=skip: what was left out


def prepare_data(config: DataConfig, *, progress: bool = False) -> PreparedData:
    """Decode the training source once and find its held-out split (eval source, test, hold-out).

    With ``data.probe``, both splits then become the probe's (`apply_probe`); its secondary
    labels are in their ``meta``.
    """
    size, channels, workers = config.image_size, config.channels, config.workers
    skipped: list[str] | None = [] if config.on_bad_image == "skip" else None

    def decode(source: ImageSource) -> ImageTensors:
        return materialize(
            source,
            image_size=size,
            channels=channels,
            workers=workers,
            progress=progress,
            skipped=skipped,
        )

    splits = open_source(config.source, image_size=size, options=config.options)
    train = decode(splits.train)
    test: ImageTensors | None
    if config.eval_source is not None:
        held = open_source(config.eval_source, image_size=size)
        test = decode(held.test if held.test is not None else held.train)
        note = f"{config.eval_source}"
    elif splits.test is not None:
        test = decode(splits.test)
        note = f"the test split of {config.source}"
    elif train.labelled:
        train, test = holdout_split(train, config.holdout, SPLIT_SEED)
        note = f"{config.holdout:.0%} of {config.source} held out (stratified, fixed seed)"
    else:
        test, note = None, "none: the training data has no labels"
    if config.limit is not None and config.limit < len(train):
        train = take_subset(train, config.limit, SPLIT_SEED)
    if test is not None and config.eval_limit is not None and config.eval_limit < len(test):
        test = take_subset(test, config.eval_limit, SPLIT_SEED)
    probe: dict[str, Any] = {}
    if config.probe is not None:  # after the splits and subsets, which see the source's labels
        probed = apply_probe(train, test, config.probe, config.probe_options)
        train, test, probe = probed.train, probed.test, probed.details
    if test is not None:
        _check_classes(train, test)
        if not (train.labelled and test.labelled):
            test, note = (
                None,
                "none: evaluation needs labels on both the training and held-out data",
            )
    return PreparedData(train, test, note, probe, skipped or [])


def _check_classes(train: ImageTensors, test: ImageTensors) -> None:
    if train.classes and test.classes and list(train.classes) != list(test.classes):
        raise DataError(
            f"the classes of {test.name} ({', '.join(test.classes[:6])}...) differ from those of "
            f"{train.name} ({', '.join(train.classes[:6])}...); evaluation needs the same classes"
        )
