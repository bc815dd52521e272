"""Run one paper's reproduction in a workspace and write its report and verdict (its gallery
copy: `contrastlab.reproduce.publish`)."""

from __future__ import annotations

import json
import platform
import tempfile
from pathlib import Path
from typing import Any

import torch

from contrastlab import __version__
from contrastlab.core.atomic import atomic_write_text
from contrastlab.core.errors import ConfigError
from contrastlab.reproduce.numbers import numbers, one_thread
from contrastlab.reproduce.paper import SCALES, Context, Reproduction, load_paper
from contrastlab.reproduce.reproduction_report import reproduction_report
from contrastlab.reproduce.verdict import paper_verdict
from contrastlab.reproduce.workspace import Workspace

__all__ = ["Reproduction", "reproduce", "tiny_numbers"]


def tiny_numbers(name: str) -> dict[str, float]:
    """The numbers of ``name``'s tiny scale (seconds to a minute on a CPU), run on one thread in
    a temporary folder without real data: what the gallery keeps to tell whether its report is
    current (`contrastlab.reproduce.numbers`)."""
    with tempfile.TemporaryDirectory(prefix=f"contrastlab-{name}-tiny-") as folder, one_thread():
        return numbers(reproduce(name, scale="tiny", out=Path(folder) / name).root)


def _claim_root(root: Path, name: str, scale: str) -> None:
    """Make ``root`` the working directory of ``name`` at ``scale`` (its ``reproduction.json``);
    ConfigError when it is a file, another reproduction's, or a folder with other things."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--out {root} is a file, not a directory")
    marker = root / "reproduction.json"
    identity = {"paper": name, "scale": scale}
    if marker.is_file():
        found = json.loads(marker.read_text())
        if {k: found.get(k) for k in identity} != identity:
            raise ConfigError(
                f"{root} holds the reproduction of {found.get('paper')} at scale "
                f"{found.get('scale')}; give another --out"
            )
    elif root.is_dir() and any(root.iterdir()):
        raise ConfigError(f"{root} is not empty and is not a reproduction; give another --out")
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(marker, json.dumps(identity) + "\n")


def _environment(datasets: Path | None) -> dict[str, str]:
    """What the report records of the machine and the versions that ran the reproduction."""
    return {
        "contrastlab": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "processor": platform.machine(),
        "CPU threads": str(torch.get_num_threads()),
        "CUDA": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "datasets folder": str(datasets) if datasets else "absent",
    }


def reproduce(
    name: str,
    *,
    scale: str = "small",
    out: Path | None = None,
    datasets: Path | None = None,
    progress: bool = False,
) -> Reproduction:
    """Run (or resume) the reproduction of ``name`` at ``scale`` in ``out`` (default
    ``runs/reproduce-NAME-SCALE``); write ``report.md`` and ``verdict.json`` there."""
    paper = load_paper(name)
    if scale not in SCALES:
        raise ConfigError(f"unknown --scale {scale!r}; valid: {', '.join(SCALES)}")
    if scale not in paper.scales:
        raise ConfigError(f"{name} has no --scale {scale} yet; it has: {', '.join(paper.scales)}")
    root = out if out is not None else Path("runs") / f"reproduce-{name}-{scale}"
    _claim_root(root, name, scale)
    settings = paper.scales[scale]
    workspace = Workspace(root, progress=progress)
    workspace.figures.mkdir(exist_ok=True)
    usable = datasets if datasets is not None and datasets.is_dir() else None
    findings = paper.run(Context(workspace, scale, settings, usable))
    verdict = paper_verdict(findings)
    command = f"contrastlab reproduce {name} --scale {scale}"
    environment = _environment(usable)
    text = reproduction_report(
        title=paper.title,
        citation=paper.citation,
        sources=paper.sources,
        setup=paper.setup,
        scale=scale,
        settings=settings,
        findings=findings,
        verdict=verdict,
        steps=workspace.steps,
        environment=environment,
        command=command,
    )
    atomic_write_text(root / "report.md", text)
    record: dict[str, Any] = {
        "paper": name,
        "title": paper.title,
        "scale": scale,
        "verdict": verdict,
        "findings": [f.as_dict() for f in findings],
        "minutes": round(sum(s.seconds for s in workspace.steps) / 60, 1),
        "cpu_minutes": round(sum(s.cpu_seconds for s in workspace.steps) / 60, 1),
        "environment": environment,
    }
    atomic_write_text(root / "verdict.json", json.dumps(record, indent=2) + "\n")
    return Reproduction(paper, root, findings, verdict)
