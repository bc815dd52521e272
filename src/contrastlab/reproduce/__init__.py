"""`contrastlab reproduce PAPER`: each seed paper's key finding rerun at small scale and reported.

The framework is here; each paper (`PAPERS`) is a package of `contrastlab.reproduce.papers`
exporting a `Paper` whose steps are `contrastlab` commands run in a resumable `Workspace`, with its
claims (our own words, each with its tag and where the paper states it) in its ``claims`` module;
`reproduce` writes ``report.md`` with the claims, our figures and the verdicts their stated rule
gives (`verdict`).
"""

from contrastlab.reproduce.paper import PAPERS, SCALES, Context, Paper, load_paper
from contrastlab.reproduce.verdict import Claim, Finding, Test, finding, paper_verdict, skipped
from contrastlab.reproduce.workspace import Workspace

__all__ = [
    "PAPERS",
    "SCALES",
    "Claim",
    "Context",
    "Finding",
    "Paper",
    "Test",
    "Workspace",
    "finding",
    "load_paper",
    "paper_verdict",
    "skipped",
]
