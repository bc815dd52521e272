"""Claims, findings and verdicts: what a paper says, what we measured, and the rule between them.

A finding's verdict is never written by hand: it follows from its tests, each a named comparison
of measured figures (``Test("top-1 at 5 bits: tau 0.05 > tau 0.2", 0.71 > 0.33)``):

* **reproduced** when every test passes,
* **partly** when some pass,
* **not reproduced** when none does,
* **skipped** when the finding could not be measured (its data is absent), with the reason.

A paper's verdict is *reproduced* when all its measured findings are, *not reproduced* when none
is (partly counts as neither), else *partly*.
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
    "Test",
    "Verdict",
    "finding",
    "mean_spread",
    "paper_verdict",
    "skipped",
]

Verdict = Literal["reproduced", "partly", "not reproduced", "skipped"]

RULE = (
    "A finding is **reproduced** when every one of its tests passes, **partly** when some pass, "
    "**not reproduced** when none does; **skipped** when it could not be measured. The paper's "
    "verdict is reproduced when every measured finding is, not reproduced when none is, "
    "else partly."
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


@dataclass(frozen=True)
class Test:
    """One comparison a verdict rests on: what is compared, and whether it held."""

    __test__ = False  # not a pytest test class
    text: str
    passed: bool


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
    passed = sum(test.passed for test in tests)
    if not tests:
        raise ValueError("a finding needs at least one test to decide its verdict")
    if passed == len(tests):
        return "reproduced"
    return "partly" if passed else "not reproduced"


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
    if all(v == "reproduced" for v in measured):
        return "reproduced"
    if all(v == "not reproduced" for v in measured):
        return "not reproduced"
    return "partly"


def mean_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0
