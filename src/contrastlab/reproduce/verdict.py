"""Claims, findings and verdicts: what a paper says, what we measured, and the rule between them.

A finding's verdict is never written by hand: it follows from its tests, each a named comparison
of measured figures. A comparison over seeds (`contrastlab.reproduce.evidence.compare`) passes
only when its confidence interval lies on the claimed side of its threshold, fails when it lies
wholly on the other side and is **inconclusive** otherwise, or when too few seeds learned; a
check of one figure (``Test("loss is finite", True)``) passes or fails outright. Then:

* **reproduced** when every test passes,
* **not reproduced** when no test passes and at least one fails,
* **inconclusive** when no test is decided (each is inconclusive),
* **partly** otherwise (some pass, the others fail or cannot tell),
* **skipped** when the finding could not be measured (its data is absent), with the reason.

A paper's verdict is *reproduced* when all its measured findings are, *not reproduced* when all
are not, *inconclusive* when all are, else *partly*.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "RULE",
    "TAGS",
    "Claim",
    "Finding",
    "Outcome",
    "Test",
    "Verdict",
    "finding",
    "mean_spread",
    "paper_verdict",
    "skipped",
]

Verdict = Literal["reproduced", "partly", "not reproduced", "inconclusive", "skipped"]

RULE = (
    "A test over seeds compares arms by the mean difference and its confidence interval: it "
    "**passes** only when the whole interval lies on the claimed side of its threshold, "
    "**fails** when the whole interval lies on the other side, and is **inconclusive** when it "
    "straddles the threshold or fewer than two seeds per arm learned (a seed learned when it "
    "lies above its own random init and above chance by the stated margin; one that did not is "
    "listed and left out, with its pair). A finding is **reproduced** when every test passes, "
    "**not reproduced** when none passes and one fails, **inconclusive** when none is decided, "
    "else **partly**; **skipped** when it could not be measured. The paper's verdict is "
    "reproduced (not reproduced, inconclusive) when every measured finding is, else partly."
)


# what a claim's tag says about how its statement was checked
TAGS = {
    "[V-code]": "checked in the authors' code",
    "[V-log]": "checked in an official log or notebook output",
    "[V-page]": "checked on a public page (abstract, project page, README)",
    "[MEM]": "recalled from the paper, not re-read: never a target number",
}


@dataclass(frozen=True)
class Claim:
    """A paper's claim in our own words, with its tag (`TAGS`: how it was checked) and its
    source: where the paper or its authors' materials state it."""

    text: str
    tag: str
    source: str  # e.g. "Chen, Luo & Li 2021, the official RandBit-MNIST colab"


Outcome = Literal["pass", "fail", "inconclusive"]


@dataclass(frozen=True)
class Test:
    """One comparison a verdict rests on: what is compared, and its ``outcome`` (`Outcome`;
    ``passed`` is outcome == "pass"). A comparison over seeds (`contrastlab.reproduce.evidence`)
    also carries its ``claim`` as a formula, the ``effect`` (mean difference) with its
    ``level`` confidence interval [``low``, ``high``] by ``method``, Cohen's d, the
    ``threshold``, the ``n`` seeds (pairs) it rests on, what would have failed it
    (``fails_if``) and the ``health`` lines of the seeds it left out. A check of a single
    figure (``Test(text, passed)``) passes or fails outright."""

    __test__ = False  # not a pytest test class
    text: str
    passed: bool
    outcome: Outcome | None = None  # None: from ``passed``
    claim: str = ""
    effect: float | None = None
    low: float | None = None
    high: float | None = None
    cohen_d: float | None = None
    threshold: float | None = None
    level: float | None = None
    method: str = ""
    n: int | None = None
    fails_if: str = ""
    health: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.outcome is None:
            object.__setattr__(self, "outcome", "pass" if self.passed else "fail")
        elif (self.outcome == "pass") != self.passed:
            raise ValueError(f"Test {self.text!r}: outcome {self.outcome} but passed={self.passed}")


@dataclass
class Finding:
    """One claim, our figures for it, and the verdict its tests give."""

    name: str
    claim: Claim
    measured: str
    tests: list[Test]
    verdict: Verdict
    figures: list[str] = field(default_factory=list)  # paths relative to the report
    reason: str = ""  # why a finding was skipped

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _verdict(tests: Sequence[Test]) -> Verdict:
    if not tests:
        raise ValueError("a finding needs at least one test to decide its verdict")
    passed = sum(test.outcome == "pass" for test in tests)
    failed = sum(test.outcome == "fail" for test in tests)
    if passed == len(tests):
        return "reproduced"
    if passed == 0:
        return "not reproduced" if failed else "inconclusive"
    return "partly"


def finding(
    name: str, claim: Claim, measured: str, tests: Sequence[Test], figures: Iterable[str] = ()
) -> Finding:
    """A finding whose verdict follows from ``tests`` by `RULE`."""
    return Finding(name, claim, measured, list(tests), _verdict(tests), list(figures))


def skipped(name: str, claim: Claim, reason: str) -> Finding:
    """A finding that could not be measured, and why."""
    return Finding(name, claim, "not measured", [], "skipped", [], reason)


def paper_verdict(findings: Sequence[Finding]) -> Verdict:
    """The paper's verdict from its measured findings (see `RULE`)."""
    measured = [f.verdict for f in findings if f.verdict != "skipped"]
    if not measured:
        return "skipped"
    decisive: tuple[Verdict, ...] = ("reproduced", "not reproduced", "inconclusive")
    for verdict in decisive:
        if all(v == verdict for v in measured):
            return verdict
    return "partly"


def mean_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0
