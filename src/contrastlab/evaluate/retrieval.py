"""Retrieval metrics of frozen features: precision@k, recall@k, hit@k and mAP@R.

Each query ranks the gallery by cosine similarity (exact search,
:func:`contrastlab.evaluate.neighbours.nearest_neighbours`); a gallery item is *relevant* to a
query when it has the query's label, and ``R`` is the number of relevant items for that query.
Without a separate gallery the queries are their own gallery, leave-one-out: a query is never
ranked against itself (so ``R`` does not count it either). With ``rel(i)`` = 1 when the item at
rank ``i`` is relevant and ``hits(k) = sum_{i<=k} rel(i)``:

* ``precision@k = hits(k) / k``;
* ``recall@k = hits(k) / R`` (the information-retrieval recall);
* ``hit@k = 1 if hits(k) > 0 else 0``. This is what metric-learning papers call "Recall@K"
  (Song et al. 2016, "Deep Metric Learning via Lifted Structured Feature Embedding", and the
  papers following it), which is *not* the recall above;
* ``mAP@R = (1/R) * sum_{i=1..R} P(i) * rel(i)`` with ``P(i) = hits(i) / i`` (Musgrave, Belongie
  & Lim 2020, "A Metric Learning Reality Check", section 3.2): average precision truncated at
  rank ``R``, so it is 1 only when the ``R`` relevant items fill the first ``R`` ranks.

Queries with ``R = 0`` (their label is not in the gallery) have no defined value: they get NaN,
are left out of the averages and are counted. Queries are processed ``chunk_size`` at a time and
only that chunk's neighbour lists exist at once (up to ``max(max(ks), largest R in the chunk)``
of them per query), so memory is O(chunk_size x N_gallery) whatever the number of queries.
Ties in similarity follow :mod:`contrastlab.evaluate.neighbours` (torch: lower gallery index
first).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from contrastlab.core.atomic import atomic_write_text
from contrastlab.core.errors import ContrastlabError
from contrastlab.evaluate._checks import check_features, check_labels
from contrastlab.evaluate.neighbours import nearest_neighbours, resolve_backend

__all__ = [
    "RetrievalResult",
    "pick_queries",
    "retrieval_metrics",
    "top_k_indices",
    "write_per_query",
]


@dataclass
class RetrievalResult:
    """Outcome of :func:`retrieval_metrics`."""

    per_query: dict[str, np.ndarray]
    """Per-query values, each (n_queries,): ``precision_at_{k}``, ``recall_at_{k}``,
    ``hit_at_{k}`` and ``map_at_r`` (float64, NaN where ``r == 0``) and ``r`` (int64)."""
    mean: dict[str, float]
    """The per-query values (not ``r``) averaged over the queries with ``r > 0``."""
    ks: tuple[int, ...]
    """The cut-offs used, ascending, after clipping to the number of candidates."""
    n_queries: int
    n_gallery: int
    """Gallery size; with leave-one-out it is ``n_queries`` (each query ranks the other ones)."""
    n_without_relevant: int
    """Queries with no relevant gallery item, left out of :attr:`mean`."""
    requested_ks: tuple[int, ...] = ()
    """The cut-offs asked for, ascending; differ from :attr:`ks` where a k was clipped."""
    leave_one_out: bool = False

    def as_dict(self, prefix: str = "retrieval_") -> dict[str, float]:
        """The means as a flat dict, e.g. ``retrieval_precision_at_5``, ``retrieval_map_at_r``."""
        return {f"{prefix}{name}": value for name, value in self.mean.items()}


def _check_ks(ks: Sequence[int], candidates: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(requested, used) cut-offs, ascending and distinct; ``used`` is clipped to ``candidates``."""
    values = list(ks) if isinstance(ks, Sequence) and not isinstance(ks, str) else None
    if not values:
        raise ContrastlabError(f"ks must be a non-empty list of positive integers, got {ks!r}")
    for k in values:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ContrastlabError(
                f"every k in ks must be a positive integer, got {k!r} in {tuple(values)!r}"
            )
    requested = tuple(sorted({int(k) for k in values}))
    used = tuple(sorted({min(k, candidates) for k in requested}))
    if used != requested:
        warnings.warn(
            f"retrieval ks {requested} clipped to {used}: only {candidates} gallery items "
            "can be ranked",
            stacklevel=3,
        )
    return requested, used


def _chunk_metrics(rel: Tensor, r: Tensor, ks: tuple[int, ...]) -> dict[str, Tensor]:
    """Metrics of one chunk from ``rel`` (n, K) (relevance in rank order, K >= every R and k)."""
    hits = rel.cumsum(dim=1).double()  # hits[:, i - 1] = relevant items in the top i
    r = r.double()
    out: dict[str, Tensor] = {}
    for k in ks:
        out[f"precision_at_{k}"] = hits[:, k - 1] / k
    for k in ks:
        out[f"recall_at_{k}"] = hits[:, k - 1] / r
    for k in ks:
        out[f"hit_at_{k}"] = (hits[:, k - 1] > 0).double()
    ranks = torch.arange(1, rel.shape[1] + 1, device=rel.device, dtype=torch.float64)
    within_r = ranks[None, :] <= r[:, None]
    out["map_at_r"] = (hits / ranks * (rel & within_r)).sum(dim=1) / r
    return out


def retrieval_metrics(
    query_features: Tensor | np.ndarray,
    query_labels: Tensor | np.ndarray,
    gallery_features: Tensor | np.ndarray | None = None,
    gallery_labels: Tensor | np.ndarray | None = None,
    *,
    ks: Sequence[int] = (1, 5, 10),
    chunk_size: int = 256,
    backend: str = "torch",
) -> RetrievalResult:
    """Precision@k, recall@k, hit@k and mAP@R of cosine retrieval (see the module docstring).

    ``query_features`` (Q, D) rank ``gallery_features`` (N, D); with no gallery, the queries rank
    each other leave-one-out. Every k must be at least 1; a k above the number of candidates
    (N, or Q - 1 leave-one-out) is clipped to it, with a warning, and the clipped value names
    the metric (see :attr:`RetrievalResult.ks`). ``backend`` is ``torch``, ``faiss`` or ``auto``
    (as in :func:`~contrastlab.evaluate.neighbours.nearest_neighbours`); torch runs on the
    device of ``query_features``. Raises :class:`ContrastlabError` on bad input or when no query
    has a relevant gallery item.
    """
    queries = check_features(query_features, split="query")
    q_labels = check_labels(query_labels, queries.shape[0], split="query")
    leave_one_out = gallery_features is None
    gallery, g_labels = _check_gallery(queries, q_labels, gallery_features, gallery_labels)
    if chunk_size < 1:
        raise ContrastlabError(f"chunk_size must be at least 1, got {chunk_size}")
    resolve_backend(backend)
    candidates = gallery.shape[0] - int(leave_one_out)
    requested, used = _check_ks(ks, candidates)

    n_classes = int(max(q_labels.max(), g_labels.max())) + 1
    counts = torch.bincount(g_labels, minlength=n_classes)
    r_all = counts[q_labels] - int(leave_one_out)  # leave-one-out: the query is not its own match
    per_query = _per_query_metrics(
        queries,
        q_labels,
        gallery,
        g_labels,
        r_all,
        used,
        leave_one_out=leave_one_out,
        chunk_size=chunk_size,
        backend=backend,
    )

    answered = r_all.numpy() > 0
    if not answered.any():
        raise ContrastlabError(
            "no query has a relevant gallery item (an item with its label), so retrieval "
            "metrics are undefined; check that query and gallery labels share classes"
        )
    mean = {name: float(values[answered].mean()) for name, values in per_query.items()}
    per_query["r"] = r_all.numpy().astype(np.int64)
    return RetrievalResult(
        per_query=per_query,
        mean=mean,
        ks=used,
        n_queries=queries.shape[0],
        n_gallery=gallery.shape[0],
        n_without_relevant=int((~answered).sum()),
        requested_ks=requested,
        leave_one_out=leave_one_out,
    )


def _check_gallery(
    queries: Tensor,
    q_labels: Tensor,
    gallery_features: Tensor | np.ndarray | None,
    gallery_labels: Tensor | np.ndarray | None,
) -> tuple[Tensor, Tensor]:
    """The checked gallery features and labels; the queries themselves when there is no gallery."""
    if gallery_features is None:
        if gallery_labels is not None:
            raise ContrastlabError(
                "gallery_labels were given without gallery_features; pass both, or neither "
                "for leave-one-out retrieval among the queries"
            )
        if queries.shape[0] < 2:
            raise ContrastlabError(
                "leave-one-out retrieval needs at least 2 queries, got 1; pass a gallery"
            )
        return queries, q_labels
    if gallery_labels is None:
        raise ContrastlabError("gallery_features were given without gallery_labels")
    gallery = check_features(gallery_features, split="gallery")
    if gallery.shape[1] != queries.shape[1]:
        raise ContrastlabError(
            f"query and gallery features differ in dimension: {queries.shape[1]} vs "
            f"{gallery.shape[1]}"
        )
    return gallery, check_labels(gallery_labels, gallery.shape[0], split="gallery")


def _per_query_metrics(
    queries: Tensor,
    q_labels: Tensor,
    gallery: Tensor,
    g_labels: Tensor,
    r_all: Tensor,
    used: tuple[int, ...],
    *,
    leave_one_out: bool,
    chunk_size: int,
    backend: str,
) -> dict[str, np.ndarray]:
    """Every metric of every query, ``chunk_size`` queries at a time (NaN where ``R == 0``)."""
    candidates = gallery.shape[0] - int(leave_one_out)
    device = queries.device
    g_labels_dev = g_labels.to(device)
    names = [f"{m}_at_{k}" for m in ("precision", "recall", "hit") for k in used] + ["map_at_r"]
    per_query = {name: np.full(queries.shape[0], np.nan) for name in names}
    for start in range(0, queries.shape[0], chunk_size):
        stop = min(start + chunk_size, queries.shape[0])
        rows = torch.arange(start, stop)[r_all[start:stop] > 0]  # R = 0: nothing to rank for
        if rows.numel() == 0:
            continue
        r = r_all[rows]
        depth = min(candidates, max(used[-1], int(r.max())))
        # Leave-one-out: one neighbour more, then drop the query itself (or, where ties pushed
        # it out of the list, the last one); the others keep their order.
        _, idx = nearest_neighbours(
            queries[rows],
            gallery,
            depth + int(leave_one_out),
            chunk_size=chunk_size,
            backend=backend,
        )
        if leave_one_out:
            own = idx == rows.to(idx.device)[:, None]
            own[~own.any(dim=1), -1] = True
            idx = idx[~own].reshape(len(rows), depth)
        rel = g_labels_dev[idx] == q_labels.to(device)[rows.to(device)][:, None]
        for name, values in _chunk_metrics(rel, r.to(device), used).items():
            per_query[name][rows.numpy()] = values.cpu().numpy()
        del idx, rel
    return per_query


def top_k_indices(
    query_features: Tensor | np.ndarray,
    gallery_features: Tensor | np.ndarray,
    k: int,
    *,
    exclude_self: bool = False,
    backend: str = "torch",
) -> Tensor:
    """Gallery indices (Q, k) of each query's ``k`` most cosine-similar items, best first.

    With ``exclude_self`` the queries are the gallery and none is its own neighbour. ``k`` must
    be in [1, number of candidates]. For pictures such as
    :func:`contrastlab.evaluate.retrieval_grid.retrieval_grid`.
    """
    queries = check_features(query_features, split="query")
    gallery = check_features(gallery_features, split="gallery")
    if gallery.shape[1] != queries.shape[1]:
        raise ContrastlabError(
            f"query and gallery features differ in dimension: {queries.shape[1]} vs "
            f"{gallery.shape[1]}"
        )
    _, idx = nearest_neighbours(queries, gallery, k, backend=backend, exclude_self=exclude_self)
    return idx


def pick_queries(labels: Tensor | np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` distinct sample indices taken round-robin over the classes, for a retrieval picture.

    Each class's samples are shuffled with ``numpy.random.default_rng(seed)``; then picks go to
    the classes in ascending label order (class 0's first pick, class 1's, ..., class 0's second
    pick, ...), skipping exhausted classes, until ``n`` are taken. Deterministic for a seed.
    Returns int64 indices in pick order.
    """
    y = check_labels(labels, len(labels), split="query").numpy()
    if not 1 <= n <= len(y):
        raise ContrastlabError(f"n must be in [1, {len(y)}] (the number of samples), got {n}")
    rng = np.random.default_rng(seed)
    pools = [rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)]
    picks: list[int] = []
    for turn in range(max(len(p) for p in pools)):
        picks.extend(int(p[turn]) for p in pools if turn < len(p))
        if len(picks) >= n:
            break
    return np.asarray(picks[:n], dtype=np.int64)


def write_per_query(result: RetrievalResult, labels: Tensor, path: Path) -> None:
    """One CSV row per held-out query: its index, label, R and every retrieval figure."""
    names = ["r", *(name for name in result.per_query if name != "r")]
    rows = [",".join(["query", "label", *names])]
    for i, label in enumerate(labels.tolist()):
        values = [f"{result.per_query[name][i]:.6g}" for name in names]
        rows.append(",".join([str(i), str(label), *values]))
    atomic_write_text(path, "\n".join(rows) + "\n")
