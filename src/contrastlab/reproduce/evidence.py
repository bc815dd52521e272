"""Evidence over seeds: a claimed difference between arms with its effect size and confidence
interval, and the health checks that keep an arm which did not learn out of the evidence.

An **arm** is one setting trained over seeds: its figure per seed (kNN top-1, say), and where
measured the same seed's random initialisation read out the same way. A seed **learned** when
its figure lies at least ``margin`` above that random init and above chance; a seed that did
not is shown as failed and left out of every comparison (with its pair, when arms are paired).

A **comparison** claims that arm A exceeds arm B by more than ``threshold`` (``side="greater"``)
or falls short of B by more than it (``side="less"``). The effect is the mean difference A - B
over seeds, with a two-sided Student t confidence interval at ``level``: on the per-seed
differences when the arms share seeds (paired, `scipy.stats.ttest_rel`), else Welch's interval
(`scipy.stats.ttest_ind` with unequal variances). Beside it Cohen's d: the mean difference over
the standard deviation of the differences (paired, d_z) or over the pooled standard deviation.
The outcome:

* **pass** when the whole interval lies on the claimed side of the threshold;
* **fail** when the whole interval lies on the other side;
* **inconclusive** when it straddles the threshold, or fewer than two healthy seeds (pairs)
  remain to compute it from.

`equivalent` is the two one-sided form (the arms agree within ``margin``): pass when the whole
interval lies inside (-margin, margin), fail when it lies wholly outside, else inconclusive.
`above` compares one arm with a fixed figure (chance, pixel k-means, a paper's number).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from scipy import stats

from contrastlab.reproduce.verdict import Outcome, Test

__all__ = ["HEALTH_MARGIN", "LEVEL", "Arm", "above", "compare", "equivalent", "unhealthy_seeds"]

LEVEL = 0.95  # two-sided confidence of every interval
HEALTH_MARGIN = 0.02  # a seed learned when it is at least this far above random init and chance
Side = Literal["greater", "less"]


@dataclass(frozen=True)
class Arm:
    """One setting over seeds: ``values`` (seed -> figure), ``floors`` (seed -> the same seed's
    random init, read out alike; empty when not measured) and ``chance`` (the figure of a
    constant guess; None when it has none)."""

    name: str
    values: Mapping[int, float]
    floors: Mapping[int, float] = field(default_factory=dict)
    chance: float | None = None


def unhealthy_seeds(arm: Arm, margin: float = HEALTH_MARGIN) -> dict[int, str]:
    """The seeds of ``arm`` that did not learn, each with why (below its random init plus
    ``margin``, or within ``margin`` of chance)."""
    failed: dict[int, str] = {}
    for seed, value in arm.values.items():
        floor = arm.floors.get(seed)
        if floor is not None and value < floor + margin:
            failed[seed] = f"{value:.3f}, not {margin:.2f} above its random init {floor:.3f}"
        elif arm.chance is not None and value < arm.chance + margin:
            failed[seed] = f"{value:.3f}, within {margin:.2f} of chance {arm.chance:.3f}"
    return failed


def _health_notes(arms: Sequence[Arm], margin: float) -> tuple[dict[str, set[int]], list[str]]:
    """Per arm the seeds that failed its health check, and a line per failed seed."""
    failed: dict[str, set[int]] = {}
    notes = []
    for arm in arms:
        bad = unhealthy_seeds(arm, margin)
        failed[arm.name] = set(bad)
        notes += [f"{arm.name} seed {seed} did not learn ({why})" for seed, why in bad.items()]
    return failed, notes


def _outcome(low: float, high: float, threshold: float, side: Side) -> Outcome:
    above_it, below_it = low > threshold, high < threshold
    if side == "greater":
        return "pass" if above_it else "fail" if below_it else "inconclusive"
    return "pass" if below_it else "fail" if above_it else "inconclusive"


def _cohen_d(a: Sequence[float], b: Sequence[float], paired: bool) -> float | None:
    """The mean difference over the differences' standard deviation (paired, d_z) or over the
    pooled one; None when that deviation is 0 (every seed gave the same difference)."""
    if paired:
        diffs = [x - y for x, y in zip(a, b, strict=True)]
        spread, effect = statistics.stdev(diffs), statistics.fmean(diffs)
    else:
        spread = math.sqrt(
            ((len(a) - 1) * statistics.variance(a) + (len(b) - 1) * statistics.variance(b))
            / (len(a) + len(b) - 2)
        )
        effect = statistics.fmean(a) - statistics.fmean(b)
    return effect / spread if spread > 0 else None


def _interval(
    a: Sequence[float], b: Sequence[float], paired: bool, level: float
) -> tuple[float, float, str]:
    """The two-sided interval of mean(a) - mean(b), and the method's name."""
    if paired:
        diffs = [x - y for x, y in zip(a, b, strict=True)]
        if statistics.stdev(diffs) == 0:  # every seed agrees: the interval is that point
            return diffs[0], diffs[0], "paired t"
        ci = stats.ttest_rel(a, b).confidence_interval(level)
        return float(ci.low), float(ci.high), "paired t"
    if statistics.variance(a) == 0 and statistics.variance(b) == 0:
        effect = statistics.fmean(a) - statistics.fmean(b)
        return effect, effect, "Welch t"
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(level)
    return float(ci.low), float(ci.high), "Welch t"


def _healthy(
    arms: Sequence[Arm], paired: bool, margin: float
) -> tuple[list[list[float]], list[str]]:
    """Each arm's figures over the seeds that learned (paired: the seeds every arm ran and
    learned on, in the same order), and a line per seed left out."""
    failed, notes = _health_notes(arms, margin)
    if paired:
        seeds = sorted(set.intersection(*(set(arm.values) for arm in arms)))
        seeds = [s for s in seeds if not any(s in failed[arm.name] for arm in arms)]
        return [[arm.values[s] for s in seeds] for arm in arms], notes
    columns = [
        [v for s, v in sorted(arm.values.items()) if s not in failed[arm.name]] for arm in arms
    ]
    return columns, notes


def _test(
    text: str,
    xs: list[float],
    ys: list[float],
    *,
    paired: bool,
    claim: str,
    decide: Callable[[float, float], Outcome],
    threshold: float,
    level: float,
    fails_if: str,
    notes: list[str],
) -> Test:
    n = min(len(xs), len(ys))
    if n < 2:
        return Test(
            text,
            False,
            outcome="inconclusive",
            claim=claim,
            threshold=threshold,
            n=n,
            fails_if=fails_if,
            health=[*notes, f"fewer than 2 healthy {'pairs' if paired else 'seeds'} per arm"],
        )
    low, high, method = _interval(xs, ys, paired, level)
    outcome = decide(low, high)
    return Test(
        text,
        outcome == "pass",
        outcome=outcome,
        claim=claim,
        effect=statistics.fmean(xs) - statistics.fmean(ys),
        low=low,
        high=high,
        cohen_d=_cohen_d(xs, ys, paired),
        threshold=threshold,
        level=level,
        method=method,
        n=n,
        fails_if=fails_if,
        health=notes,
    )


def compare(
    text: str,
    a: Arm,
    b: Arm,
    *,
    threshold: float = 0.0,
    side: Side = "greater",
    paired: bool = True,
    level: float = LEVEL,
    margin: float = HEALTH_MARGIN,
) -> Test:
    """The `Test` "mean ``a`` - ``b`` is ``side`` than ``threshold``" over the seeds that
    learned (paired: the seeds both arms ran), with its effect, interval and outcome."""
    (xs, ys), notes = _healthy((a, b), paired, margin)
    relation, other = (">", "below") if side == "greater" else ("<", "above")
    return _test(
        text,
        xs,
        ys,
        paired=paired,
        claim=f"{a.name} - {b.name} {relation} {threshold:+.3f}",
        decide=lambda low, high: _outcome(low, high, threshold, side),
        threshold=threshold,
        level=level,
        fails_if=f"the whole interval {other} {threshold:+.3f} fails; one across it is "
        "inconclusive",
        notes=notes,
    )


def above(
    text: str,
    arm: Arm,
    value: float,
    *,
    side: Side = "greater",
    level: float = LEVEL,
    margin: float = HEALTH_MARGIN,
) -> Test:
    """The `Test` "``arm``'s mean is ``side`` than the fixed figure ``value``" (a one-sample t
    interval over the seeds that learned)."""
    (xs,), notes = _healthy((arm,), False, margin)
    relation, other = (">", "below") if side == "greater" else ("<", "above")
    return _test(
        text,
        xs,
        [value] * len(xs),
        paired=True,
        claim=f"{arm.name} {relation} {value:.3f}",
        decide=lambda low, high: _outcome(low, high, 0.0, side),
        threshold=value,
        level=level,
        fails_if=f"the whole interval {other} {value:.3f} fails; one across it is inconclusive",
        notes=notes,
    )


def equivalent(
    text: str,
    a: Arm,
    b: Arm,
    *,
    within: float,
    paired: bool = True,
    level: float = LEVEL,
    margin: float = HEALTH_MARGIN,
) -> Test:
    """The `Test` "``a`` and ``b`` agree within ``within``": pass when the interval of a - b
    lies inside (-within, within), fail when it lies wholly outside, else inconclusive."""
    (xs, ys), notes = _healthy((a, b), paired, margin)

    def decide(low: float, high: float) -> Outcome:
        if -within < low and high < within:
            return "pass"
        return "fail" if high < -within or low > within else "inconclusive"

    return _test(
        text,
        xs,
        ys,
        paired=paired,
        claim=f"|{a.name} - {b.name}| < {within:.3f}",
        decide=decide,
        threshold=within,
        level=level,
        fails_if=f"an interval wholly outside ±{within:.3f} fails; one across either bound is "
        "inconclusive",
        notes=notes,
    )
