"""`contrastlab reproduce PAPER --publish DIR`: copy a reproduction's report, verdict and figures
to ``DIR/PAPER/`` (``DIR/medium/PAPER/`` at the medium scale) and rewrite the index
``DIR/README.md``, never touching what it did not write.

``DIR/.contrastlab-publish.json`` (the manifest) lists every file that publishing wrote, by path
relative to DIR, with the SHA-256 of the bytes written. A publish

- refuses, before writing anything, to replace a file that is not in the manifest (the user's
  own README.md, a file in ``DIR/PAPER/``) or that changed since it was written (a hand edit
  would be lost): such a file is the user's;
- removes only files of ``DIR/PAPER/`` that the manifest lists, that it no longer writes, and that
  are unchanged (a changed one is left in place and dropped from the manifest);
- leaves every other file and folder of DIR alone.

The manifest is written before the files, with the new hashes marked ``pending``, and rewritten
after them, so that a publish stopped half-way is completed by the next one, never refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contrastlab.core.atomic import atomic_write_bytes, atomic_write_text
from contrastlab.core.errors import ConfigError
from contrastlab.reproduce.numbers import NUMBERS_FILE

if TYPE_CHECKING:
    from contrastlab.reproduce.paper import Reproduction

__all__ = ["MANIFEST", "Manifest", "check_publish", "gallery_folder", "index_text", "publish"]

MANIFEST = ".contrastlab-publish.json"


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Manifest:
    """The files publishing wrote into ``gallery``: relative path -> SHA-256 of their bytes."""

    gallery: Path
    files: dict[str, str] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)  # being written by a publish

    @property
    def path(self) -> Path:
        return self.gallery / MANIFEST

    @classmethod
    def read(cls, gallery: Path) -> Manifest:
        """The manifest of ``gallery`` (empty when there is none); a foreign or torn one is
        refused, since without it no file there can be told to be ours."""
        path = gallery / MANIFEST
        if not path.exists():
            return cls(gallery)
        try:
            data = json.loads(path.read_text())
            files, pending = dict(data["files"]), dict(data.get("pending", {}))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"cannot read the publish manifest {path} ({type(exc).__name__}: {exc}); "
                "move it aside (publishing then refuses to replace the files it listed)"
            ) from None
        listed = [*files, *pending]
        outside = [k for k in listed if Path(k).is_absolute() or ".." in Path(k).parts]
        if outside:
            raise ConfigError(f"the publish manifest {path} lists {outside[0]}, outside {gallery}")
        return cls(gallery, {str(k): str(v) for k, v in files.items()}, pending)

    def write(self) -> None:
        record: dict[str, Any] = {"written_by": "contrastlab reproduce --publish"}
        record["files"] = dict(sorted(self.files.items()))
        if self.pending:
            record["pending"] = dict(sorted(self.pending.items()))
        atomic_write_text(self.path, json.dumps(record, indent=1) + "\n")

    def owns(self, relative: str) -> bool:
        """Whether ``gallery/relative`` is a file publishing wrote, unchanged since."""
        path = self.gallery / relative
        if not path.is_file() or (relative not in self.files and relative not in self.pending):
            return False
        found = digest(path.read_bytes())
        return found in (self.files.get(relative), self.pending.get(relative))

    def refusal(self, relative: str) -> str | None:
        """Why writing ``gallery/relative`` would destroy something of the user's, or None."""
        path = self.gallery / relative
        for parent in reversed(path.relative_to(self.gallery).parents[:-1]):
            if (self.gallery / parent).exists() and not (self.gallery / parent).is_dir():
                return f"{self.gallery / parent} is a file, where publishing needs a folder"
        if not path.exists() and not path.is_symlink():
            return None
        if path.is_dir():
            return f"{path} is a directory, where publishing writes a file"
        if self.owns(relative):
            return None
        if relative in self.files or relative in self.pending:
            return f"{path} changed since publishing wrote it (see {self.path})"
        return f"{path} was not written by publishing (it is not in {self.path})"


SCALE_FOLDERS = ("medium", "paper")  # published beside the small scale, in SCALE/PAPER/


def gallery_folder(paper: str, scale: str) -> str:
    """Where a reproduction is published in the gallery: ``SCALE/PAPER`` at a scale of
    `SCALE_FOLDERS` (``medium/clae``), else ``PAPER`` (the small scale, the gallery's own; a
    tiny one, a smoke test, replaces it)."""
    return f"{scale}/{paper}" if scale in SCALE_FOLDERS else paper


def index_text(records: Mapping[str, dict[str, Any]]) -> str:
    """``gallery/README.md``: a row per paper and scale published, from ``records`` (each
    folder's published verdict.json, keyed by `gallery_folder`)."""
    from contrastlab.reproduce.paper import PAPERS, SCALES

    rows = [
        "| paper | scale | verdict | wall min | CPU min | report |",
        "|---|---|---|---:|---:|---|",
    ]
    for name in PAPERS:
        if name not in records:
            rows.append(f"| {name} | small | not generated | — | — | — |")
        for scale in SCALES:
            folder = gallery_folder(name, scale)
            record = records.get(folder)
            if record is None or record.get("scale", "small") != scale:
                continue
            rows.append(
                f"| {record['title']} | {scale} | {record['verdict']} | "
                f"{record['minutes']} | {record.get('cpu_minutes', '—')} | "
                f"[{folder}/report.md]({folder}/report.md) |"
            )
    return (
        "# Reproductions\n\nGenerated by `contrastlab reproduce PAPER --scale small "
        "--publish docs/reproductions` (and `--scale medium`, on CIFAR-10 and MNIST from "
        "`--datasets`, into `medium/PAPER/`); each report states its claims, figures, rule and "
        "commands. Wall minutes depend on what else ran on the machine; CPU minutes (the "
        "process's CPU time, all threads) do not.\n\n" + "\n".join(rows) + "\n"
    )


def _published_records(manifest: Manifest) -> dict[str, dict[str, Any]]:
    """The verdict.json of every paper and scale published in the gallery, keyed by
    `gallery_folder` (ours and unchanged only: a file the user put there, or edited, does not
    feed the index)."""
    from contrastlab.reproduce.paper import PAPERS, SCALES

    records = {}
    for name in PAPERS:
        for scale in SCALES:
            relative = f"{gallery_folder(name, scale)}/verdict.json"
            if manifest.owns(relative):
                records[relative.removesuffix("/verdict.json")] = json.loads(
                    (manifest.gallery / relative).read_text()
                )
    return records


def _refuse(manifest: Manifest, relatives: list[str]) -> None:
    """One error naming the first file publishing may not write, before it writes any."""
    for relative in relatives:
        reason = manifest.refusal(relative)
        if reason is not None:
            raise ConfigError(
                f"--publish {manifest.gallery}: {reason}; nothing was published. Move the file "
                "aside (or publish into another folder) and rerun"
            )


def check_publish(paper: str, gallery: Path, scale: str = "small") -> Manifest:
    """What can be checked before the reproduction runs: the gallery is a folder whose manifest
    reads and whose index and report paths are free or ours (figure names come later)."""
    if gallery.exists() and not gallery.is_dir():
        raise ConfigError(f"--publish {gallery} is a file, not a directory")
    manifest = Manifest.read(gallery)
    folder = gallery_folder(paper, scale)
    _refuse(manifest, ["README.md", f"{folder}/report.md", f"{folder}/verdict.json"])
    return manifest


def publish(result: Reproduction, gallery: Path, tiny: Mapping[str, float]) -> Path:
    """Copy the report, verdict and figures to ``gallery/FOLDER/`` (`gallery_folder`: ``NAME``
    at the small scale, ``medium/NAME`` at the medium one), with ``tiny`` (the numbers of the
    paper's tiny scale, by the same code: `contrastlab.reproduce.numbers`) as ``numbers.json``,
    and rewrite the gallery index, under the manifest's rules (see the module's docstring);
    returns ``gallery/FOLDER``."""
    name = result.paper.name
    verdict = json.loads((result.root / "verdict.json").read_text())
    folder = gallery_folder(name, str(verdict["scale"]))
    manifest = check_publish(name, gallery, str(verdict["scale"]))
    sources = {
        f"{folder}/report.md": result.root / "report.md",
        f"{folder}/verdict.json": result.root / "verdict.json",
        **{f"{folder}/figures/{p.name}": p for p in sorted(result.root.glob("figures/*.png"))},
    }
    plan = {relative: source.read_bytes() for relative, source in sources.items()}
    record = {"paper": name, "scale": "tiny", "numbers": dict(sorted(tiny.items()))}
    plan[f"{folder}/{NUMBERS_FILE}"] = (json.dumps(record, indent=1) + "\n").encode()
    records = {**_published_records(manifest), folder: json.loads(plan[f"{folder}/verdict.json"])}
    plan["README.md"] = index_text(records).encode()
    _refuse(manifest, list(plan))
    old = [r for r in manifest.files if r.startswith(f"{folder}/") and r not in plan]
    stale = [r for r in old if manifest.owns(r)]  # a changed one is the user's now: kept
    manifest.pending = {relative: digest(data) for relative, data in plan.items()}
    manifest.write()
    for relative, data in plan.items():
        atomic_write_bytes(gallery / relative, data)
    for relative in stale:
        _remove(gallery, relative)
    for relative in old:
        del manifest.files[relative]
    manifest.files.update(manifest.pending)
    manifest.pending = {}
    manifest.write()
    return gallery / folder


def _remove(gallery: Path, relative: str) -> None:
    """Delete ``gallery/relative`` and the folders it leaves empty (up to, not including,
    ``gallery``): a folder holding anything else stays."""
    path = gallery / relative
    path.unlink(missing_ok=True)
    for parent in path.relative_to(gallery).parents[:-1]:
        try:
            (gallery / parent).rmdir()
        except OSError:  # not empty: something not ours is in it
            return
