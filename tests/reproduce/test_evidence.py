"""Verdicts with statistics (`contrastlab.reproduce.evidence`): intervals checked against hand
computations with tabled t quantiles, synthetic figures that must pass, fail and come out
inconclusive, health checks that keep an arm that did not learn out of the evidence, and the
rate at which a comparison passes when there is no effect."""

from __future__ import annotations

import math
import random

import pytest

from contrastlab.reproduce.evidence import Arm, above, compare, equivalent, unhealthy_seeds
from contrastlab.reproduce.reproduction_report import test_line as report_line
from contrastlab.reproduce.verdict import Claim, Test, finding, paper_verdict

CLAIM = Claim("a claim", "[V-log]", "Someone et al. 2020, Table 1")
T_975_DF2 = 4.302653  # Student t, 97.5% quantile, 2 degrees of freedom (tables)
T_975_DF4 = 2.776445  # ... 4 degrees of freedom


def arm(name: str, values: list[float], floors: list[float] | None = None) -> Arm:
    seeds = range(len(values))
    return Arm(
        name,
        dict(zip(seeds, values, strict=True)),
        dict(zip(seeds, floors, strict=True)) if floors else {},
        chance=0.1,
    )


BASE = [0.50, 0.60, 0.55]


@pytest.mark.parametrize(
    ("gains", "outcome"),
    [
        ([0.03, 0.04, 0.05], "pass"),  # interval [+0.015, +0.065]
        ([0.01, 0.02, 0.03], "inconclusive"),  # [-0.005, +0.045]: straddles 0
        ([-0.05, -0.04, -0.03], "fail"),  # [-0.065, -0.015]
    ],
)
def test_paired_interval_by_hand(gains: list[float], outcome: str) -> None:
    a = arm("A", [b + g for b, g in zip(BASE, gains, strict=True)])
    test = compare("A beats B", a, arm("B", BASE))
    half = T_975_DF2 * 0.01 / math.sqrt(3)  # the gains' sd is 0.01 in each case
    mean = sum(gains) / 3
    assert test.effect == pytest.approx(mean)
    assert (test.low, test.high) == pytest.approx((mean - half, mean + half))
    assert test.cohen_d == pytest.approx(mean / 0.01)
    assert test.outcome == outcome and test.passed == (outcome == "pass")
    assert test.method == "paired t" and test.n == 3 and test.level == 0.95


def test_welch_interval_by_hand() -> None:
    """a = 1, 2, 3 against b = 4, 5, 6: both variances 1, standard error sqrt(2/3), Welch's
    degrees of freedom (2/3)^2 / (2 (1/3)^2 / 2) = 4."""
    test = compare("A beats B", arm("A", [1.0, 2.0, 3.0]), arm("B", [4.0, 5.0, 6.0]), paired=False)
    half = T_975_DF4 * math.sqrt(2 / 3)
    assert (test.effect, test.low, test.high) == pytest.approx((-3.0, -3.0 - half, -3.0 + half))
    assert test.cohen_d == pytest.approx(-3.0) and test.method == "Welch t"
    assert test.outcome == "fail"
    assert compare("B beats A", arm("A", [1.0, 2.0, 3.0]), arm("B", [4.0, 5.0, 6.0]),
                   paired=False, side="less").outcome == "pass"  # fmt: skip


def test_threshold_and_side() -> None:
    a, b = arm("A", [x + 0.04 for x in BASE]), arm("B", BASE)  # every gain exactly 0.04
    assert compare("gain > 0.03", a, b, threshold=0.03).outcome == "pass"
    assert compare("gain > 0.05", a, b, threshold=0.05).outcome == "fail"
    assert compare("A below B", a, b, side="less").outcome == "fail"


def test_an_arm_that_did_not_learn_is_left_out() -> None:
    """The gallery's CLAE case: two of three baseline seeds below their random init. Their pairs
    are left out, one pair remains, and the comparison cannot tell."""
    floors = [0.30, 0.30, 0.30]
    clae = arm("CLAE", [0.50, 0.52, 0.51], floors)
    simclr = arm("SimCLR", [0.23, 0.27, 0.49], floors)
    assert set(unhealthy_seeds(simclr)) == {0, 1} and unhealthy_seeds(clae) == {}
    test = compare("CLAE beats SimCLR", clae, simclr)
    assert test.outcome == "inconclusive" and test.n == 1 and test.effect is None
    assert any("SimCLR seed 0 did not learn" in line for line in test.health)
    line = report_line(test)
    assert line.startswith("INCONCLUSIVE: CLAE beats SimCLR") and "seed 1 did not learn" in line
    # had they learned, the same gains would have passed
    healthy = compare("CLAE beats SimCLR", clae, arm("SimCLR", [0.46, 0.48, 0.485], floors))
    assert healthy.outcome == "pass" and healthy.health == []


def test_near_chance_is_not_learning() -> None:
    collapsed = arm("A", [0.11, 0.50, 0.52])  # chance 0.1, margin 0.02
    assert set(unhealthy_seeds(collapsed)) == {0}
    assert set(unhealthy_seeds(collapsed, margin=0.005)) == set()


@pytest.mark.parametrize(
    ("gains", "outcome"),
    [
        ([0.00, 0.005, 0.01], "pass"),  # [-0.007, +0.017] inside ±0.03
        ([0.05, 0.06, 0.07], "fail"),  # wholly above +0.03
        ([0.01, 0.03, 0.05], "inconclusive"),  # [-0.020, +0.080] across +0.03
    ],
)
def test_equivalence(gains: list[float], outcome: str) -> None:
    a = arm("A", [b + g for b, g in zip(BASE, gains, strict=True)])
    assert equivalent("A matches B", a, arm("B", BASE), within=0.03).outcome == outcome


def test_above_a_fixed_figure() -> None:
    a = arm("A", [0.60, 0.62, 0.64])  # mean 0.62, sd 0.02
    half = T_975_DF2 * 0.02 / math.sqrt(3)
    test = above("A above pixel k-means", a, 0.526)
    assert (test.low, test.high) == pytest.approx((0.094 - half, 0.094 + half))
    assert test.outcome == "pass"
    assert above("A above 0.6", a, 0.60).outcome == "inconclusive"
    assert above("A above 0.7", a, 0.70).outcome == "fail"


def test_no_effect_rarely_passes() -> None:
    """With no true difference, a 95% two-sided interval lies wholly above 0 in about 2.5% of
    experiments (3 seeds, seeded noise): the rule is not a coin toss."""
    rng = random.Random(0)
    runs = 4000
    passed = 0
    for _ in range(runs):
        base = [rng.gauss(0.5, 0.05) for _ in range(3)]
        a = arm("A", [b + rng.gauss(0, 0.02) for b in base])
        b = arm("B", [b + rng.gauss(0, 0.02) for b in base])
        passed += compare("A beats B", a, b).outcome == "pass"
    assert 0.015 < passed / runs < 0.035


def test_verdicts_with_inconclusive_tests() -> None:
    yes, no = Test("a", True), Test("b", False)
    maybe = Test("c", False, outcome="inconclusive")
    assert finding("f", CLAIM, "m", [yes, yes]).verdict == "reproduced"
    assert finding("f", CLAIM, "m", [yes, maybe]).verdict == "partly"
    assert finding("f", CLAIM, "m", [no, maybe]).verdict == "not reproduced"
    assert finding("f", CLAIM, "m", [maybe, maybe]).verdict == "inconclusive"
    unsure = finding("u", CLAIM, "m", [maybe])
    assert paper_verdict([unsure, unsure]) == "inconclusive"
    assert paper_verdict([unsure, finding("g", CLAIM, "m", [yes])]) == "partly"
    with pytest.raises(ValueError, match="outcome pass but passed=False"):
        Test("d", False, outcome="pass")


def test_report_line_states_effect_interval_and_what_fails_it() -> None:
    a = arm("A", [b + g for b, g in zip(BASE, [0.03, 0.04, 0.05], strict=True)])
    line = report_line(compare("A beats B", a, arm("B", BASE)))
    assert line.startswith("pass: A beats B (claim: A - B > +0.000; effect +0.040, 95% CI [+0.015")
    assert "paired t, 3 seeds" in line and "interval below +0.000 fails" in line
    assert report_line(Test("loss is finite", False)) == "FAIL: loss is finite"
