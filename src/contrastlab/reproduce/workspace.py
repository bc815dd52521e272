"""A reproduction's working directory: resumable steps, each a `contrastlab` command or a
cached computation, recorded with its command line and its time.

Layout of ``ROOT`` (the `contrastlab reproduce --out` directory)::

    runs/NAME/          one `contrastlab train` run directory per trained encoder
    steps/NAME.json     the figures of every finished step (evaluation, analysis, computation)
    steps/NAME/         what an analysis writes beside its JSON (figures)
    log.txt             what the commands printed
    figures/            the reproduction's own figures
    report.md, verdict.json

A step whose output exists is not run again, so an interrupted reproduction resumes where it
stopped: a training run is continued from its last checkpoint (`contrastlab train --resume`),
a finished one is reused, and every finished evaluation or analysis is read back.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from contrastlab.commands import run_command
from contrastlab.core.atomic import atomic_write_text
from contrastlab.core.errors import ContrastlabError, error_line

__all__ = ["Step", "Workspace", "set_flags"]


def set_flags(settings: Mapping[str, Any]) -> list[str]:
    """``{"train.epochs": 2, "data.probe_options": {"bits": 5}}`` -> ``--set KEY=VALUE`` flags
    (values written as YAML flow, which `--set` parses back to the same value)."""
    flags: list[str] = []
    for key, value in settings.items():
        text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
        text = text.removesuffix("\n...").removesuffix("...").strip()
        flags += ["--set", f"{key}={text}"]
    return flags


@dataclass
class Step:
    """One finished step: its name, the command that produced it (if any) and its seconds."""

    name: str
    command: str
    seconds: float  # wall-clock
    reused: bool
    cpu_seconds: float = 0.0  # this process's CPU time (all threads): robust to a busy machine


@dataclass
class Workspace:
    """Where a reproduction runs: ``root``, and whether the steps show their progress."""

    root: Path
    progress: bool = False
    steps: list[Step] = field(default_factory=list)

    @property
    def figures(self) -> Path:
        return self.root / "figures"

    def keep_figure(self, source: Path, name: str | None = None) -> str:
        """Copy ``source`` into ``figures/`` (as ``name``); its path relative to the report."""
        target = self.figures / (name or source.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        return f"figures/{target.name}"

    def run_dir(self, name: str) -> Path:
        return self.root / "runs" / name

    def _say(self, message: str) -> None:
        print(f"[reproduce] {message}", file=sys.stderr, flush=True)

    def _cli(self, argv: Sequence[str]) -> None:
        """Run the command line ``contrastlab ARGV`` in this process, its output in log.txt."""
        self.root.mkdir(parents=True, exist_ok=True)
        line = f"contrastlab {shlex.join(argv)}"
        with (self.root / "log.txt").open("a") as log, contextlib.redirect_stdout(log):
            print(f"$ {line}", flush=True)
            try:
                code = run_command(list(argv))
            except (ContrastlabError, OSError) as exc:
                raise ContrastlabError(
                    f"step failed: {line}: {error_line(exc)}; fix it and rerun the same "
                    f"reproduce command to continue from {self.root}"
                ) from None
        if code != 0:
            raise ContrastlabError(
                f"step failed (exit {code}): {line}; fix it and rerun "
                f"the same reproduce command to continue from {self.root}"
            )

    def _check_same(self, name: str, before: Any, now: str, path: Path) -> None:
        """A finished step is reused only for the same command: other settings (a changed scale
        or code default) would mix figures of two setups in one report."""
        if before is not None and before != now:
            raise ContrastlabError(
                f"step {name} in {self.root} was made by another command (the settings changed "
                f"since): give a fresh --out, or delete {path} (and its run) to redo it"
            )

    def _record(
        self, name: str, command: str, seconds: float, reused: bool, cpu: float = 0.0
    ) -> None:
        if any(step.name == name for step in self.steps):
            return  # the same step asked for again in this reproduction: counted once
        self.steps.append(Step(name, command, round(seconds, 1), reused, round(cpu, 1)))

    def train(
        self,
        name: str,
        recipe: str,
        settings: Mapping[str, Any],
        *,
        stop_after: int | None = None,
    ) -> dict[str, Any]:
        """`contrastlab train --recipe RECIPE --set ...` into ``runs/NAME``; its ``metrics.json``.

        A finished run is reused; an interrupted one is continued from its last checkpoint.
        With ``stop_after=K`` the run stops (resumably) after epoch K and its checkpoint is kept
        as ``checkpoints/epochK.pt``: the result is ``{"epoch": K, "checkpoint": PATH}`` (call
        again with a larger K, or None, to go on)."""
        run = self.run_dir(name)
        flags = ["--recipe", recipe, "--out", str(run), *set_flags(settings)]
        if not self.progress:
            flags += ["--set", "train.progress=false"]
        command = "contrastlab train " + shlex.join(flags)
        metrics_path = run / "metrics.json"
        label = name if stop_after is None else f"{name}@{stop_after}"
        timing = self.root / "steps" / f"{label}.time.json"
        kept = run / "checkpoints" / f"epoch{stop_after}.pt"
        done = kept.is_file() if stop_after is not None else metrics_path.is_file()
        if done:
            spent = _read_json(timing) if timing.is_file() else {}
            self._check_same(label, spent.get("command"), command, timing)
            seconds, cpu = float(spent.get("seconds", 0.0)), float(spent.get("cpu_seconds", 0.0))
            self._record(label, command, seconds, True, cpu)
        else:
            start, cpu = time.perf_counter(), time.process_time()
            until = [] if stop_after is None else ["--stop-after", str(stop_after)]
            if (run / "config.yaml").is_file():
                self._say(f"{label}: continuing the run {run}")
                self._cli(["train", "--resume", str(run), *until])
            else:
                self._say(f"{label}: {command}")
                self._cli(["train", *flags, *until])
            if stop_after is not None:
                shutil.copy2(run / "checkpoints" / "last.pt", kept)
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            spent = {"seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1), "command": command}
            atomic_write_text(timing, json.dumps(spent) + "\n")
            self._record(label, command, seconds, False, cpu)
        if stop_after is not None:
            return {"epoch": stop_after, "checkpoint": str(kept)}
        return _read_json(metrics_path)

    def command(self, name: str, argv: Sequence[str]) -> dict[str, Any]:
        """A `contrastlab` command that writes ``steps/NAME.json`` (its ``--out``, given as the
        ``{out}`` / ``{dir}`` placeholders in ``argv``); the JSON, from the cache when present."""
        path = self.root / "steps" / f"{name}.json"
        directory = self.root / "steps" / name
        argv = [a.replace("{out}", str(path)).replace("{dir}", str(directory)) for a in argv]
        command = "contrastlab " + shlex.join(argv)

        def run() -> dict[str, Any]:
            self._say(f"{name}: {command}")
            self._cli(argv)
            produced = directory / f"{argv[1]}.json" if argv[0] == "analyze" else path
            return _read_json(produced)

        return self.cached(name, run, command=command)

    def target(self, run: str | Path) -> str:
        """A run's name (``runs/RUN``) or a checkpoint's path, as a command's TARGET."""
        return str(run if isinstance(run, Path) else self.run_dir(run))

    def evaluate(
        self, name: str, run: str | Path, protocols: str, settings: Mapping[str, Any] = {}
    ) -> dict[str, Any]:
        """`contrastlab eval runs/RUN --protocol P` into ``steps/NAME.json`` (``run``: a run's
        name, or a checkpoint's Path)."""
        argv = ["eval", self.target(run), "--protocol", protocols, "--out", "{out}"]
        return self.command(name, [*argv, *set_flags(settings)])

    def analyze(
        self,
        name: str,
        kind: str,
        run: str | Path,
        flags: Sequence[str] = (),
        settings: Mapping[str, Any] = {},
    ) -> dict[str, Any]:
        """`contrastlab analyze KIND runs/RUN --out steps/NAME/`; its JSON (also copied to
        ``steps/NAME.json``), and its figures stay in ``steps/NAME/`` (``run``: a run's name, or
        a checkpoint's Path)."""
        argv = ["analyze", kind, self.target(run), "--out", "{dir}", *flags]
        return self.command(name, [*argv, *set_flags(settings)])

    def cached(
        self, name: str, compute: Callable[[], dict[str, Any]], *, command: str = ""
    ) -> dict[str, Any]:
        """``compute()``'s JSON-able figures, stored in ``steps/NAME.json`` (read back when
        present, so an interrupted reproduction does not redo it)."""
        path = self.root / "steps" / f"{name}.json"
        if path.is_file():
            stored = _read_json(path)
            self._check_same(name, stored.get("_command"), command, path)
            seconds, cpu = float(stored.get("_seconds", 0.0)), float(stored.get("_cpu_seconds", 0))
            self._record(name, command, seconds, True, cpu)
            return stored
        start, cpu = time.perf_counter(), time.process_time()
        figures = compute()
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        timing = {"_seconds": round(seconds, 1), "_cpu_seconds": round(cpu, 1), "_command": command}
        atomic_write_text(path, json.dumps({**figures, **timing}, indent=2))
        self._record(name, command, seconds, False, cpu)
        return figures


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ContrastlabError(f"cannot read {path} ({exc}); delete it to redo that step") from None
    if not isinstance(data, dict):
        raise ContrastlabError(f"{path} is not a JSON object; delete it to redo that step")
    return data
