"""Exact cosine nearest neighbours of query features in a bank, chunked, with torch or faiss.

Shared by the kNN classifier and the retrieval metrics. Features are L2-normalised and compared by
inner product (the cosine). The search is exact either way: torch computes one
(rows x bank) similarity block at a time, with at most ``chunk_size`` rows and at most
``BLOCK_ELEMENTS`` (2^26, 256 MiB in float32) entries, so the block's memory is bounded whatever
the numbers of queries and bank items; faiss (``faiss-cpu``, when installed) uses a flat
inner-product index, which needs no similarity matrix at all.

Ties: with torch, neighbours tied in similarity come in bank order (lower index first), also
across the k-th place; faiss orders ties its own way, so the two backends can differ only where
similarities are exactly equal.
"""

from __future__ import annotations

import importlib.util
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from contrastlab.core.errors import ContrastlabError

__all__ = ["Backend", "faiss_available", "nearest_neighbours", "resolve_backend"]

Backend = Literal["auto", "torch", "faiss"]

BLOCK_ELEMENTS = 2**26  # largest similarity block the torch search builds (256 MiB in float32)


def faiss_available() -> bool:
    """Whether the optional ``faiss`` package can be imported."""
    return importlib.util.find_spec("faiss") is not None


def resolve_backend(backend: str) -> Literal["torch", "faiss"]:
    """``auto`` -> faiss when installed, else torch; a named backend must be usable."""
    if backend == "auto":
        return "faiss" if faiss_available() else "torch"
    if backend == "faiss" and not faiss_available():
        raise ContrastlabError(
            "the faiss backend needs the faiss package (pip install faiss-cpu); "
            "use backend 'torch' or 'auto'"
        )
    if backend not in ("torch", "faiss"):
        raise ContrastlabError(f"backend must be auto, torch or faiss, got {backend!r}")
    return "faiss" if backend == "faiss" else "torch"


def _stable_top_k(sim: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` largest similarities per row and their columns, ties to the lower column.

    ``topk``'s order among equal values is unspecified, so rows with a tie inside the top k or
    straddling the cut-off (the (k+1)-th value equals the k-th) are re-ranked with a stable
    sort, 64 rows at a time; memory stays O(rows x k) plus that of ``sim`` itself.
    """
    extra = int(k < sim.shape[1])
    values, indices = sim.topk(k + extra, dim=1)
    ambiguous = (values[:, 1:] == values[:, :-1]).any(dim=1)
    values, indices = values[:, :k].contiguous(), indices[:, :k].contiguous()
    rows = ambiguous.nonzero().squeeze(1)
    for start in range(0, len(rows), 64):
        group = rows[start : start + 64]
        order = sim[group].sort(dim=1, descending=True, stable=True)
        values[group] = order.values[:, :k]
        indices[group] = order.indices[:, :k]
    return values, indices


def nearest_neighbours(
    queries: Tensor,
    bank: Tensor,
    k: int,
    *,
    chunk_size: int = 1024,
    backend: str = "torch",
    exclude_self: bool = False,
) -> tuple[Tensor, Tensor]:
    """Cosine similarities and bank indices of each query's ``k`` nearest bank items, best first.

    ``queries`` (Q, D) and ``bank`` (N, D) are floating tensors; both are L2-normalised here.
    With ``exclude_self`` the queries *are* the bank (Q == N) and item i is never its own
    neighbour (leave-one-out retrieval). ``k`` must not exceed the number of candidates
    (N, or N - 1 with ``exclude_self``). The torch backend runs on the device of ``queries`` in
    float32 (float64 when both inputs are float64); faiss runs on the CPU in float32. Returns
    (sims, indices), each (Q, k), on the device of ``queries``.
    """
    if queries.ndim != 2 or bank.ndim != 2 or queries.shape[1] != bank.shape[1]:
        raise ContrastlabError(
            f"queries and bank must be (n, d) with the same d, got {tuple(queries.shape)} and "
            f"{tuple(bank.shape)}"
        )
    if exclude_self and queries.shape[0] != bank.shape[0]:
        raise ContrastlabError("exclude_self needs the queries to be the bank itself")
    candidates = bank.shape[0] - int(exclude_self)
    if not 1 <= k <= candidates:
        raise ContrastlabError(f"k must be in [1, {candidates}], got {k}")
    if chunk_size < 1:
        raise ContrastlabError(f"chunk_size must be at least 1, got {chunk_size}")
    if resolve_backend(backend) == "faiss":
        return _faiss_search(queries, bank, k, exclude_self)

    device = queries.device
    both_double = queries.dtype == torch.float64 and bank.dtype == torch.float64
    dtype = torch.float64 if both_double else torch.float32
    normed_bank = F.normalize(bank.to(device=device, dtype=dtype), dim=1)
    sims, indices = [], []
    rows_per_block = max(1, min(chunk_size, BLOCK_ELEMENTS // bank.shape[0]))
    for start in range(0, queries.shape[0], rows_per_block):
        chunk = queries[start : start + rows_per_block]
        block = F.normalize(chunk.to(dtype), dim=1) @ normed_bank.T
        if exclude_self:
            own = torch.arange(block.shape[0], device=device)
            block[own, own + start] = -torch.inf
        values, idx = _stable_top_k(block, k)
        sims.append(values)
        indices.append(idx)
    return torch.cat(sims), torch.cat(indices)


def _faiss_search(
    queries: Tensor, bank: Tensor, k: int, exclude_self: bool
) -> tuple[Tensor, Tensor]:
    import faiss

    def unit(x: Tensor) -> np.ndarray:
        return np.ascontiguousarray(F.normalize(x.detach().float().cpu(), dim=1).numpy())

    index = faiss.IndexFlatIP(bank.shape[1])
    index.add(unit(bank))
    sims, idx = index.search(unit(queries), k + int(exclude_self))
    if exclude_self:  # drop each query's own row wherever faiss ranked it (ties may move it)
        own = idx == np.arange(len(idx))[:, None]
        own[~own.any(axis=1), -1] = True
        keep = ~own
        sims = sims[keep].reshape(len(idx), k)
        idx = idx[keep].reshape(len(idx), k)
    device = queries.device
    return torch.from_numpy(sims).to(device), torch.from_numpy(idx).long().to(device)
