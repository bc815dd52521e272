"""Weighted kNN on a large bank: our chunked torch and faiss searches against scikit-learn.

All three classify the same queries by the InstDisc vote (Wu et al. 2018): the ``k`` most
cosine-similar bank items vote with weight exp(sim / t).

* ``contrastlab torch``: ``knn_predict(..., backend="torch")``, one (1,024 x N) block at a time;
* ``contrastlab faiss``: ``knn_predict(..., backend="faiss")`` (flat inner-product index);
* ``scikit-learn``: ``KNeighborsClassifier(metric="cosine", algorithm="brute")`` with the weight
  exp((1 - d) / t) on the cosine distance d, chunked by its own ``working_memory`` (1 GiB).

Time is the wall time of one call, the methods taking turns for ``--rounds`` rounds (median).
Memory is the peak resident set above the resident set before the call, read from Linux's
``VmHWM`` after resetting it (``/proc/self/clear_refs``), so it includes every library's
buffers. Predictions are compared with ours (random features: no exact ties).

Run: ``python benchmarks/knn.py --bank 100000 --queries 10000`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from sklearn.neighbors import KNeighborsClassifier

from contrastlab.evaluate import knn_predict
from contrastlab.evaluate.neighbours import faiss_available

Classifier = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], np.ndarray]


def ours(backend: str, k: int, t: float, classes: int) -> Classifier:
    def run(bank: torch.Tensor, labels: torch.Tensor, queries: torch.Tensor) -> np.ndarray:
        predicted = knn_predict(
            bank, labels, queries, num_classes=classes, k=k, temperature=t, backend=backend
        )
        return predicted.numpy()

    return run


def scikit_learn(k: int, t: float) -> Classifier:
    def weights(distances: np.ndarray) -> np.ndarray:
        return np.asarray(np.exp((1.0 - distances) / t))

    def run(bank: torch.Tensor, labels: torch.Tensor, queries: torch.Tensor) -> np.ndarray:
        model = KNeighborsClassifier(k, metric="cosine", algorithm="brute", weights=weights)
        return np.asarray(model.fit(bank.numpy(), labels.numpy()).predict(queries.numpy()))

    return run


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def measured(
    run: Classifier, bank: torch.Tensor, labels: torch.Tensor, queries: torch.Tensor
) -> tuple[float, float, np.ndarray]:
    """(seconds, peak MiB above the start, predictions) of one call."""
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    before = _rss_kib("VmRSS")
    start = time.perf_counter()
    predictions = run(bank, labels, queries)
    seconds = time.perf_counter() - start
    return seconds, (_rss_kib("VmHWM") - before) / 1024, predictions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--k", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    gen = torch.Generator().manual_seed(0)
    bank = torch.randn(args.bank, args.dim, generator=gen)
    queries = torch.randn(args.queries, args.dim, generator=gen)
    labels = torch.randint(0, args.classes, (args.bank,), generator=gen)
    methods = {"contrastlab torch": ours("torch", args.k, 0.1, args.classes)}
    if faiss_available():
        methods["contrastlab faiss"] = ours("faiss", args.k, 0.1, args.classes)
    methods["scikit-learn"] = scikit_learn(args.k, 0.1)

    times: dict[str, list[float]] = {name: [] for name in methods}
    peaks: dict[str, list[float]] = {name: [] for name in methods}
    answers: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, run in methods.items():
            seconds, peak, answers[name] = measured(run, bank, labels, queries)
            times[name].append(seconds)
            peaks[name].append(peak)

    base = statistics.median(times["contrastlab torch"])
    reference = answers["contrastlab torch"]
    print(
        f"weighted kNN, k={args.k}, t=0.1: {args.queries:,} queries, bank {args.bank:,} x "
        f"{args.dim}, {args.classes} classes; median of {args.rounds} rounds\n"
    )
    print("| method | seconds | time vs ours (torch) | peak MiB above start | same predictions |")
    print("|---|---:|---:|---:|---:|")
    rows = {}
    for name in methods:
        seconds, peak = statistics.median(times[name]), max(peaks[name])
        same = float((answers[name] == reference).mean())
        rows[name] = {"seconds": seconds, "peak_mib": peak, "same_predictions": same}
        print(f"| {name} | {seconds:.2f} | {seconds / base:.2f}x | {peak:,.0f} | {same:.4f} |")
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": None}, "rows": rows}))


if __name__ == "__main__":
    main()
