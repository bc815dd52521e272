"""Intriguing Properties of Contrastive Losses (Chen, Luo & Li 2021): feature suppression and the
generalized contrastive loss, on the built-in digits (small) or MNIST / CIFAR-10 (paper).

Four experiments, every one SimCLR on the same backbone and loop: RandBit (bits x temperature,
the linear probe of the image class), the generalized losses against NT-Xent (linear probe),
digits overlaid from a growing pool (linear read-outs of the image class and of the digit, by
`contrastlab analyze suppression`) and two-object canvases with a growing dominant object (the
read-out of each object).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from typing import Any

from contrastlab.reproduce.common import fmt, train_seeds
from contrastlab.reproduce.paper import Context, Paper
from contrastlab.reproduce.papers.intriguing.claims import LOSSES, MULTI, OVERLAY, RANDBIT, SOURCES
from contrastlab.reproduce.papers.intriguing.scales import (
    SCALES,
    experiment,
    loss_settings,
    run_metrics,
)
from contrastlab.reproduce.reproduction_figures import seed_bars, sweep_curves
from contrastlab.reproduce.verdict import Finding, Test, finding, mean_spread, skipped


def _mean(values: Sequence[float]) -> float:
    return mean_spread(values)[0]


def _pair_top1(ctx: Context, run: str) -> float:
    """The monitored pair top-1 (is a view's nearest view its positive) of the first epoch."""
    with (ctx.workspace.run_dir(run) / "metrics.csv").open() as handle:
        return float(next(csv.DictReader(handle))["pair_top1"])


def randbit(ctx: Context) -> Finding:
    entry, settings = experiment(ctx, "randbit")
    if settings is None:
        return skipped("RandBit", RANDBIT, "MNIST (mnist-test) not found under --datasets")
    bits, taus = entry["bits"], entry["taus"]
    top1: dict[float, list[float]] = {}
    pairs: dict[float, list[float]] = {}
    for tau in taus:
        top1[tau], pairs[tau] = [], []
        for b in bits:
            probe = {"data.probe": "randbit", "data.probe_options": {"bits": b}} if b else {}
            run = {**settings, **probe, "method.temperature": tau}
            values = train_seeds(
                ctx, f"randbit-b{b}-t{tau}", entry["recipe"], run, entry["seeds"], "linear_top1"
            )
            top1[tau].append(_mean(values))
            pairs[tau].append(_pair_top1(ctx, f"randbit-b{b}-t{tau}-s{entry['seeds'][0]}"))
    figure = sweep_curves(
        bits,
        {f"tau={t}": top1[t] for t in taus},
        ctx.workspace.figures / "randbit.png",
        xlabel="random bits",
        ylabel="linear probe top-1 (image class)",
        chance=0.1,
        title="RandBit: class read-out as bits are appended",
    )
    low, high = min(taus), max(taus)
    mid = 1 if len(bits) > 2 else len(bits) - 1
    tests = [
        Test(
            f"tau={t}: top-1 falls with bits: "
            + " > ".join(f"{v:.3f} ({b} bits)" for b, v in zip(bits, top1[t], strict=True)),
            all(a > b for a, b in zip(top1[t], top1[t][1:], strict=False)),
        )
        for t in taus
    ]
    tests.append(
        Test(
            f"at {bits[mid]} bits the higher tau falls further: tau={low} {top1[low][mid]:.3f} > "
            f"tau={high} {top1[high][mid]:.3f} (official: 70.6 > 33.0 at 5 bits)",
            top1[low][mid] > top1[high][mid],
        )
    )
    measured = "; ".join(
        f"tau={t}: " + ", ".join(f"{b} bits {v:.3f}" for b, v in zip(bits, top1[t], strict=True))
        for t in taus
    )
    shortcut = ", ".join(f"{b} bits {p:.2f}" for b, p in zip(bits, pairs[high], strict=True))
    measured += f" (seeds {entry['seeds']}); pair top-1 after epoch 1 at tau={high}: {shortcut}"
    return finding("RandBit", RANDBIT, measured, tests, [f"figures/{figure.name}"])


def losses(ctx: Context) -> Finding:
    entry, settings = experiment(ctx, "losses")
    if settings is None:
        return skipped("generalized losses", LOSSES, "CIFAR-10 JPEG not found under --datasets")
    seeds, tau = ctx.settings["seeds"], 0.2 if ctx.scale != "paper" else 0.5
    top1: dict[str, list[float]] = {}
    for loss in entry["losses"]:
        run = {**settings, "method.temperature": tau, **loss_settings(loss, tau, entry["dim"])}
        top1[loss] = train_seeds(ctx, f"loss-{loss}", entry["recipe"], run, seeds, "linear_top1")
    random = [float(run_metrics(ctx, f"loss-nt_xent-s{s}")["random_linear_top1"]) for s in seeds]
    figure = seed_bars(
        {**top1, "random init": random},
        ctx.workspace.figures / "losses.png",
        ylabel="linear probe top-1",
        title="SimCLR, 2-layer head: NT-Xent vs generalized losses",
    )
    base = _mean(top1["nt_xent"])
    tests: list[Test] = []
    for loss in entry["losses"][1:]:
        mean = _mean(top1[loss])
        tests.append(
            Test(f"{loss} {mean:.3f} within 0.03 of NT-Xent {base:.3f}", abs(mean - base) <= 0.03)
        )
        tests.append(
            Test(
                f"{loss} {mean:.3f} above the random-init encoder {_mean(random):.3f}",
                mean > _mean(random),
            )
        )
    measured = "linear top-1: " + "; ".join(f"{n} {fmt(v)}" for n, v in top1.items())
    measured += f"; random init {fmt(random)}; tau={tau}"
    return finding("generalized losses", LOSSES, measured, tests, [f"figures/{figure.name}"])


def _readouts(ctx: Context, run: str, factors: Sequence[str]) -> dict[str, tuple[float, float]]:
    """`contrastlab analyze suppression`: each factor's (trained, random-init) linear top-1."""
    result = ctx.workspace.analyze(
        f"suppression-{run}", "suppression", run, ["--factors", ",".join(factors)]
    )
    scores = result["factors"]
    return {f: (scores["trained"][f]["score"], scores["random init"][f]["score"]) for f in factors}


def _sweep(
    ctx: Context,
    recipe: str,
    label: str,
    values: Sequence[Any],
    settings_of: Callable[[Any], dict[str, Any]],
    factors_of: Callable[[Any], list[str]],
) -> dict[str, list[list[float]]]:
    """Train every value of a sweep over the seeds and read its factors: factor -> per value,
    the trained read-outs over seeds, and ``FACTOR (random init)``: each seed's starting point."""
    out: dict[str, list[list[float]]] = {}
    for i, value in enumerate(values):
        run = {**settings_of(value), "eval.protocols": ["knn"]}  # the read-outs come after
        train_seeds(ctx, f"{label}{value}", recipe, run, ctx.settings["seeds"], "knn_top1")
        for seed in ctx.settings["seeds"]:
            scores = _readouts(ctx, f"{label}{value}-s{seed}", factors_of(value))
            for factor, (trained, random) in scores.items():
                out.setdefault(factor, [[] for _ in values])[i].append(trained)
                out.setdefault(f"{factor} (random init)", [[] for _ in values])[i].append(random)
    return out


def overlay(ctx: Context) -> Finding:
    entry, settings = experiment(ctx, "overlay")
    if settings is None:
        return skipped("DigitOverlay", OVERLAY, "CIFAR-10 or MNIST not found under --datasets")
    pools = entry["pools"]
    options = {} if entry.get("idx") is None else {"idx": entry["idx"]}
    found = _sweep(
        ctx,
        entry["recipe"],
        "overlay-n",
        pools,
        lambda n: {
            **settings,
            "data.probe": "digits",
            "data.probe_options": {"pool": n, **options},
        },
        lambda n: ["class", "digit_label"] if n > 1 else ["class"],
    )
    nan = float("nan")
    curves = {k: [_mean(v) if v else nan for v in cells] for k, cells in found.items()}
    figure = sweep_curves(
        pools,
        curves,
        ctx.workspace.figures / "overlay.png",
        log_x=True,
        xlabel="unique digits N in the pool",
        ylabel="linear read-out top-1",
        title="digits overlaid: image class vs digit",
        chance=0.1,
    )
    cls, digit = curves["class"], curves["digit_label"]
    tests = [
        Test(
            f"image-class read-out falls: N={pools[-1]} {cls[-1]:.3f} < N={pools[0]} {cls[0]:.3f}",
            cls[-1] < cls[0],
        ),
        Test(
            f"digit read-out rises: N={pools[-1]} {digit[-1]:.3f} > N={pools[1]} {digit[1]:.3f}",
            digit[-1] > digit[1],
        ),
    ]
    measured = "; ".join(
        f"N={n}: class {fmt(found['class'][i])}"
        + (f", digit {fmt(found['digit_label'][i])}" if found["digit_label"][i] else "")
        for i, n in enumerate(pools)
    )
    start, base = curves["digit_label (random init)"], curves["class (random init)"]
    measured += f"; at random init: class N={pools[0]} {base[0]:.3f}, N={pools[-1]} {base[-1]:.3f}"
    measured += "; digit " + ", ".join(
        f"N={n} {v:.3f}" for n, v in zip(pools[1:], start[1:], strict=True)
    )
    if all(d < r for d, r in zip(digit[1:], start[1:], strict=True)):
        measured += " (training suppresses the overlaid digit at every N)"
    return finding("DigitOverlay", OVERLAY, measured, tests, [f"figures/{figure.name}"])


def multiobject(ctx: Context) -> Finding:
    entry, settings = experiment(ctx, "multiobject")
    if settings is None:
        return skipped("multi-object", MULTI, "MNIST (mnist-test) not found under --datasets")
    ratios, size = entry["ratios"], entry["object_size"]
    found = _sweep(
        ctx,
        entry["recipe"],
        "multi-r",
        ratios,
        lambda r: {
            **settings,
            "data.probe": "multiobject",
            "data.probe_options": {"k": 2, "object_size": size, "size_ratio": r},
        },
        lambda r: ["object0", "object1"],
    )
    curves = {k: [_mean(v) for v in cells] for k, cells in found.items()}
    names = {"object0": "dominant", "object1": "small"}
    labelled = {names.get(k.split()[0], k) + k[7:]: v for k, v in curves.items()}
    figure = sweep_curves(
        ratios,
        labelled,
        ctx.workspace.figures / "multiobject.png",
        xlabel="dominant object's size / small object's",
        chance=0.1,
        ylabel="linear read-out top-1 (digit class)",
        title=f"two digits per canvas, the small one {size} px",
    )
    small, big = curves["object1"], curves["object0"]
    tests = [
        Test(
            f"small digit degrades: ratio {ratios[-1]} {small[-1]:.3f} < ratio {ratios[0]} "
            f"{small[0]:.3f}",
            small[-1] < small[0],
        ),
        Test(
            f"dominant still learned: at ratio {ratios[-1]} dominant {big[-1]:.3f} > small "
            f"{small[-1]:.3f}",
            big[-1] > small[-1],
        ),
    ]
    measured = "; ".join(
        f"ratio {r}: dominant {fmt(found['object0'][i])}, small {fmt(found['object1'][i])}"
        for i, r in enumerate(ratios)
    )
    return finding("multi-object", MULTI, measured, tests, [f"figures/{figure.name}"])


def run(ctx: Context) -> list[Finding]:
    return [randbit(ctx), losses(ctx), overlay(ctx), multiobject(ctx)]


PAPER = Paper(
    name="intriguing",
    title="Intriguing Properties of Contrastive Losses",
    citation="Chen, Luo & Li, NeurIPS 2021, arXiv 2011.02803",
    sources=SOURCES,
    setup=(
        "SimCLR (ResNet-18 at 1/8 width, 2-layer head, Adam, 10 epochs) on scikit-learn's digits "
        "with crops as the only augmentation (small; MNIST and CIFAR-10 at paper scale): RandBit "
        "bits x temperature at 16 px (NT-Xent without same-view negatives, as the official "
        "colab), judged by the linear probe of the digit class; NT-Xent vs log-sum-exp and SWD "
        "generalized losses at 16 px (linear probe, 2 seeds); at 24 px, the digits themselves "
        "overlaid with a 3x3 grid of 6-px digits from a pool of N (the small scale's stand-in "
        "for digits on ImageNet) and two-digit canvases with a 6-px digit and a growing "
        "dominant one, judged by `contrastlab analyze suppression`'s linear read-outs of each "
        "label against the same seed's random init (2 seeds)."
    ),
    scales=SCALES,
    run=run,
)
