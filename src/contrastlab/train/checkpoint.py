"""Checkpoint I/O: written atomically, read with ``weights_only=True``.

A checkpoint is written to a temporary file in the same directory, flushed and fsynced, then
renamed over the old one (``os.replace`` is atomic on POSIX), so a crash at any moment leaves either
the previous checkpoint or the new one, never a torn file.
"""

from __future__ import annotations

import pickle
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import torch
from torch import nn

from contrastlab.core.atomic import atomic_write
from contrastlab.core.errors import CheckpointError


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    def write(handle: IO[bytes]) -> None:
        try:
            torch.save(state, handle)
        except RuntimeError as exc:  # torch's zip writer hides a failed write() behind its own
            if isinstance(exc.__context__, OSError):
                raise exc.__context__ from None
            raise

    atomic_write(path, write)


def load_checkpoint(path: Path, needs: Sequence[str] = ("model",)) -> dict[str, Any]:
    """Load a checkpoint without unpickling arbitrary objects (``weights_only=True``).

    ``needs``: the entries the caller reads (a command rebuilding the network needs its
    ``recipe``); a checkpoint lacking one is refused here, naming it, not with a KeyError later."""
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    if path.stat().st_size == 0:
        raise CheckpointError(
            f"cannot read checkpoint {path}: the file is empty (0 bytes), so it holds no weights"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for torn or foreign files
        found = re.search(r"GLOBAL (\S+)", str(exc))
        if isinstance(exc, pickle.UnpicklingError) and found:
            raise CheckpointError(
                f"refused to load {path}: it holds a pickled Python object ({found.group(1)}), "
                "which could run code when loaded; contrastlab checkpoints hold only tensors and "
                "plain values, and are read with torch.load(weights_only=True)"
            ) from None
        reason = " ".join(str(exc).split())[:300] or f"{type(exc).__name__} (no detail given)"
        raise CheckpointError(
            f"cannot read checkpoint {path}: {reason}; it is torn or not a torch checkpoint"
        ) from None
    if not isinstance(state, dict) or "model" not in state:
        raise CheckpointError(f"{path} is not a contrastlab checkpoint (no 'model' entry)")
    require_entries(state, needs, path)
    return state


def require_entries(state: Mapping[str, Any], needs: Sequence[str], path: Path) -> None:
    """Refuse a checkpoint that lacks any of the entries ``needs``, naming them and the file."""
    missing = [repr(name) for name in needs if name not in state]
    if missing:
        raise CheckpointError(
            f"{path} lacks the checkpoint entr{'ies' if len(missing) > 1 else 'y'} "
            f"{', '.join(missing)}, which every checkpoint written by `contrastlab train` "
            "(RUN_DIR/checkpoints/last.pt) holds"
        )


def load_weights(module: nn.Module, weights: object, what: str) -> None:
    """``module.load_state_dict(weights)``, refused as CheckpointError(``what``: the reason) when
    the weights do not fit: the reason names the missing and unexpected keys and the first shape
    that differs (torch's own message starts with a line that names none of them)."""
    if not isinstance(weights, Mapping):
        kind = type(weights).__name__
        raise CheckpointError(f"{what}: its 'model' entry is a {kind}, not the network's weights")
    problem = weights_mismatch(module.state_dict(), weights)
    if problem:
        raise CheckpointError(f"{what}: {problem}")
    try:
        module.load_state_dict(weights)
    except (RuntimeError, TypeError) as exc:  # anything the comparison above does not foresee
        raise CheckpointError(f"{what}: {' '.join(str(exc).split())[:300]}") from None


def weights_mismatch(expected: Mapping[str, torch.Tensor], found: Mapping[str, Any]) -> str:
    """One line saying how ``found`` (a checkpoint's weights) differs from ``expected`` (the
    network's state dict): its missing and unexpected keys (the first few) and the first entry
    of another shape; empty when they fit."""
    missing = [key for key in expected if key not in found]
    unexpected = [str(key) for key in found if key not in expected]
    reshaped = [
        (key, _shape(found[key]), list(value.shape))
        for key, value in expected.items()
        if key in found and _shape(found[key]) != list(value.shape)
    ]
    parts = []
    if missing:
        parts.append(f"missing {_first(missing)}")
    if unexpected:
        parts.append(f"unexpected {_first(unexpected)}")
    if reshaped:
        key, theirs, ours = reshaped[0]
        more = f" ({len(reshaped) - 1} more shapes differ)" if len(reshaped) > 1 else ""
        parts.append(f"{key} is {theirs} in the checkpoint, {ours} in the network{more}")
    return "; ".join(parts)


def _shape(value: object) -> list[int] | str:
    return list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__


def _first(keys: Sequence[str], shown: int = 3) -> str:
    """``N key(s) a, b, c and K more``: enough to recognise the part of the network at fault."""
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return f"{len(keys)} key{'s' if len(keys) > 1 else ''}: {', '.join(keys[:shown])}{more}"
