"""A reproduction's ``report.md``: the claims beside our figures, the verdicts and their rule,
the setup, the figures and every command that produced them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from contrastlab.reproduce.verdict import RULE, TAGS, Finding, Test
from contrastlab.reproduce.workspace import Step

__all__ = ["reproduction_report", "test_line", "verdict_table"]

_MARK = {
    "reproduced": "✅",
    "partly": "◐",
    "not reproduced": "❌",
    "inconclusive": "❔",
    "skipped": "—",
}
_OUTCOME = {"pass": "pass", "fail": "FAIL", "inconclusive": "INCONCLUSIVE"}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _value(value: Any) -> str:
    """A setting for the table: a dict as ``key=value, ...``."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_value(v)}" for k, v in value.items())
    return str(value)


def test_line(test: Test) -> str:
    """A test as a line of the report: its outcome and text and, for a comparison over seeds,
    the claim, effect, interval, method, seeds, Cohen's d, what fails it and the seeds left
    out."""
    line = f"{_OUTCOME[test.outcome or 'fail']}: {test.text}"
    if test.claim:
        line += f" (claim: {test.claim}"
        if test.effect is not None and test.low is not None and test.high is not None:
            level = f"{100 * (test.level or 0):.0f}%"
            d = "undefined" if test.cohen_d is None else f"{test.cohen_d:.2f}"
            line += (
                f"; effect {test.effect:+.3f}, {level} CI [{test.low:+.3f}, {test.high:+.3f}], "
                f"{test.method}, {test.n} seeds, d = {d}"
            )
        else:
            line += f"; {test.n} usable seeds"
        line += f"; {test.fails_if})"
    if test.health:
        line += " Left out: " + "; ".join(test.health) + "."
    return line


def verdict_table(findings: Sequence[Finding]) -> str:
    """The markdown table of findings: claim (with its tag and source), measured, verdict."""
    lines = ["| finding | the paper's claim | measured | verdict |", "|---|---|---|---|"]
    for f in findings:
        claim = f"{_cell(f.claim.text)} {f.claim.tag} (source: {_cell(f.claim.source)})"
        measured = _cell(f.measured if f.verdict != "skipped" else f"skipped: {f.reason}")
        lines.append(f"| {f.name} | {claim} | {measured} | {_MARK[f.verdict]} {f.verdict} |")
    return "\n".join(lines)


def reproduction_report(
    *,
    title: str,
    citation: str,
    sources: str,
    setup: str,
    scale: str,
    settings: Mapping[str, Any],
    findings: Sequence[Finding],
    verdict: str,
    steps: Sequence[Step],
    environment: Mapping[str, str],
    command: str,
) -> str:
    """The whole report as markdown."""
    total = sum(step.seconds for step in steps)
    cpu = sum(step.cpu_seconds for step in steps)
    out = [
        f"# Reproduction: {title}",
        "",
        f"{citation}. Sources: {sources}.",
        "",
        "Each claim is our own summary of the paper, with where the paper or its authors' "
        "materials state it; its tag says how it was checked: "
        + "; ".join(f"{tag} {meaning}" for tag, meaning in TAGS.items())
        + ".",
        "",
        f"**Verdict: {_MARK.get(verdict, '')} {verdict}** at scale `{scale}`, "
        f"{total / 60:.1f} min of steps ({cpu / 60:.1f} CPU min). Regenerate with `{command}`.",
        "",
        *(
            [
                "> Scale `tiny` is a smoke test of the steps (a few images, one epoch): its "
                "verdicts test no claim.",
                "",
            ]
            if scale == "tiny"
            else []
        ),
        "## Findings",
        "",
        verdict_table(findings),
        "",
        "## How the verdicts are decided",
        "",
        RULE,
        "",
    ]
    for f in findings:
        if f.verdict == "skipped":
            out.append(f"- **{f.name}**: skipped ({f.reason})")
            continue
        out.append(f"- **{f.name}** ({f.verdict}):")
        out += [f"  - {test_line(t)}" for t in f.tests]
    out += ["", "## Setup", "", setup, "", "| setting | value |", "|---|---|"]
    out += [f"| {key} | {_cell(_value(value))} |" for key, value in settings.items()]
    out += [f"| {key} | {_cell(value)} |" for key, value in environment.items()]
    figures = list(dict.fromkeys((f.name, p) for f in findings for p in f.figures))
    if figures:
        out += ["", "## Figures", ""]
        out += [f"![{name}]({path})" for name, path in figures]
    out += ["", "## Steps", "", "| step | seconds | CPU s | command |", "|---|---:|---:|---|"]
    for step in steps:
        note = " (reused)" if step.reused else ""
        cmd = f"`{step.command}`" if step.command else "(in-process computation)"
        out.append(f"| {step.name}{note} | {step.seconds:.0f} | {step.cpu_seconds:.0f} | {cmd} |")
    return "\n".join(out) + "\n"
