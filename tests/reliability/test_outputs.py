"""Outputs never replace what they do not own: `reproduce --publish DIR` writes and removes only
the files its manifest lists (a user's README.md, or a file changed since, is refused before
anything is written), and `eval`/`embed`/`analyze --out` refuse a run's checkpoints/ and existing
files they did not write. Publishing uses a stand-in reproduction (no training); the `--out`
checks use an untrained tiny network's checkpoint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import torch

from contrastlab.cli import main
from contrastlab.config import METHOD_RECIPES, dump_recipe, load_recipe, recipe_to_dict
from contrastlab.core.errors import ConfigError
from contrastlab.methods import build_method
from contrastlab.reproduce import PAPERS, load_paper
from contrastlab.reproduce.paper import Reproduction
from contrastlab.reproduce.publish import MANIFEST, Manifest, check_publish, publish

if TYPE_CHECKING:
    from conftest import CliError


GALLERY = Path(__file__).resolve().parents[2] / "docs" / "reproductions"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, by relative path, with its bytes."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in files}


# -- reproduce --publish -------------------------------------------------------------------------


TINY_NUMBERS = {"runs/x/metrics.json/final_loss": 1.0}  # the tiny scale's numbers, made up


def reproduction(
    root: Path, figures: list[str], text: str = "# report\n", scale: str = "tiny"
) -> Reproduction:
    """What `reproduce("supcon")` leaves in ``root`` (report, verdict, figures), made by hand."""
    paper = load_paper("supcon")
    (root / "figures").mkdir(parents=True, exist_ok=True)
    for old in (root / "figures").iterdir():
        old.unlink()
    (root / "report.md").write_text(text)
    record = {"paper": "supcon", "title": paper.title, "scale": scale, "verdict": "reproduced"}
    (root / "verdict.json").write_text(json.dumps({**record, "minutes": 0.1, "cpu_minutes": 0.2}))
    for name in figures:
        (root / "figures" / name).write_bytes(b"\x89PNG " + name.encode() + text.encode())
    return Reproduction(paper, root, [], "reproduced")


def test_publish_keeps_unrelated_files_and_republishes_its_own(tmp_path: Path) -> None:
    gallery = tmp_path / "gallery"
    mine = {"notes.txt": b"my notes", "supcon/notes.txt": b"mine", "supcon/own/data.txt": b"x"}
    for name, data in mine.items():
        (gallery / name).parent.mkdir(parents=True, exist_ok=True)
        (gallery / name).write_bytes(data)
    publish(reproduction(tmp_path / "work", ["a.png", "b.png"]), gallery, TINY_NUMBERS)
    first = snapshot(gallery)
    assert first["supcon/figures/b.png"].startswith(b"\x89PNG b.png")
    assert "[supcon/report.md](supcon/report.md)" in first["README.md"].decode()
    # again, over its own files: a new report, and figure b.png no longer made
    publish(reproduction(tmp_path / "work", ["a.png"], "# report, again\n"), gallery, TINY_NUMBERS)
    files = snapshot(gallery)
    assert {name: files[name] for name in mine} == mine  # the user's files, byte for byte
    assert files["supcon/report.md"] == b"# report, again\n"
    assert "supcon/figures/b.png" not in files and "supcon/figures/a.png" in files
    ours = Manifest.read(gallery).files
    assert sorted(ours) == [
        "README.md",
        "supcon/figures/a.png",
        "supcon/numbers.json",
        "supcon/report.md",
        "supcon/verdict.json",
    ]
    assert set(files) == {*mine, *ours, MANIFEST}


def test_the_medium_scale_is_published_beside_the_small_one(tmp_path: Path) -> None:
    """medium/PAPER/ beside PAPER/: each publish replaces its own folder only, and the index
    has a row and a link for each."""
    gallery = tmp_path / "gallery"
    publish(
        reproduction(tmp_path / "small", ["a.png"], "# small\n", "small"), gallery, TINY_NUMBERS
    )
    medium = reproduction(tmp_path / "medium", ["b.png"], "# medium\n", "medium")
    assert publish(medium, gallery, TINY_NUMBERS) == gallery / "medium" / "supcon"
    publish(
        reproduction(tmp_path / "small", ["c.png"], "# small 2\n", "small"), gallery, TINY_NUMBERS
    )
    files = snapshot(gallery)
    assert files["supcon/report.md"] == b"# small 2\n" and "supcon/figures/a.png" not in files
    assert files["medium/supcon/report.md"] == b"# medium\n"
    assert "medium/supcon/figures/b.png" in files and "supcon/figures/c.png" in files
    index = files["README.md"].decode()
    assert "| small | reproduced |" in index and "[supcon/report.md](supcon/report.md)" in index
    assert "| medium | reproduced |" in index
    assert "[medium/supcon/report.md](medium/supcon/report.md)" in index


def test_a_scale_a_paper_lacks_is_refused(cli_error: CliError, tmp_path: Path) -> None:
    message = cli_error("reproduce", "iic", "--scale", "medium", "--out", str(tmp_path / "w"))
    assert "iic has no --scale medium yet; it has: tiny, small, paper" in message
    assert not (tmp_path / "w").exists()


def test_publish_refuses_a_readme_it_did_not_write(cli_error: CliError, tmp_path: Path) -> None:
    """`--publish .` must not overwrite the user's own README.md: refused before the
    reproduction runs, nothing written."""
    gallery, work = tmp_path / "gallery", tmp_path / "work"
    gallery.mkdir()
    (gallery / "README.md").write_text("# my project\n")
    message = cli_error(
        "reproduce",
        "supcon",
        "--scale",
        "tiny",
        "--out",
        str(work),
        "--publish",
        str(gallery),
    )
    assert f"{gallery / 'README.md'} was not written by publishing" in message
    assert snapshot(gallery) == {"README.md": b"# my project\n"}
    assert not work.exists()  # refused before the reproduction ran


def test_publish_refuses_a_file_changed_since_it_wrote_it(
    cli_error: CliError, tmp_path: Path
) -> None:
    gallery = tmp_path / "gallery"
    publish(reproduction(tmp_path / "work", ["a.png"]), gallery, TINY_NUMBERS)
    (gallery / "supcon" / "report.md").write_text("# my edits\n")
    before = snapshot(gallery)
    argv = ["reproduce", "supcon", "--scale", "tiny", "--out", str(tmp_path / "new")]
    message = cli_error(*argv, "--publish", str(gallery))
    assert f"{gallery / 'supcon' / 'report.md'} changed since publishing wrote it" in message
    assert snapshot(gallery) == before


def test_publish_refuses_a_figure_it_did_not_write_before_writing_anything(
    tmp_path: Path,
) -> None:
    """A figure's name is known only after the reproduction: still checked before any write."""
    gallery = tmp_path / "gallery"
    (gallery / "supcon" / "figures").mkdir(parents=True)
    (gallery / "supcon" / "figures" / "a.png").write_bytes(b"my figure")
    with pytest.raises(ConfigError, match=r"a\.png was not written by publishing"):
        publish(reproduction(tmp_path / "work", ["a.png"]), gallery, TINY_NUMBERS)
    assert snapshot(gallery) == {"supcon/figures/a.png": b"my figure"}


def test_the_project_gallery_can_be_republished(tmp_path: Path) -> None:
    """docs/reproductions (published before the manifest) has one listing every file, so
    `reproduce PAPER --publish docs/reproductions` replaces them; checked on a copy."""
    manifest = Manifest.read(GALLERY)
    assert set(snapshot(GALLERY)) == {*manifest.files, MANIFEST}
    for name in PAPERS:
        check_publish(name, GALLERY)  # read-only
    copy = Path(shutil.copytree(GALLERY, tmp_path / "gallery"))
    work = Path(shutil.copytree(GALLERY / "supcon", tmp_path / "work"))
    result = Reproduction(load_paper("supcon"), work, [], "reproduced")
    tiny = json.loads((GALLERY / "supcon" / "numbers.json").read_text())["numbers"]
    publish(result, copy, tiny)
    assert snapshot(copy) == snapshot(GALLERY)  # the same files make the same gallery


# -- eval / embed / analyze --out ----------------------------------------------------------------

TINY = [
    ("data.options", {"n_train": 32, "n_test": 32}),
    ("data.image_size", 16),
    ("model.width", 0.0625),
    ("model.head_out_dim", 16),
    ("method.moco.queue_size", 32),
    ("train.batch_size", 16),
    ("train.progress", False),
    ("eval.protocols", ["knn"]),
    ("eval.random_baseline", False),
]


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A run directory (config.yaml, checkpoints/last.pt, a training metrics.json) holding an
    untrained tiny MoCo."""
    recipe = load_recipe(METHOD_RECIPES["moco"], TINY)
    state = {"model": build_method(recipe).state_dict(), "recipe": recipe_to_dict(recipe)}
    path = tmp_path / "run"
    (path / "checkpoints").mkdir(parents=True)
    (path / "config.yaml").write_text(dump_recipe(recipe))
    (path / "metrics.json").write_text(json.dumps({"knn_top1": 0.5, "train_seconds": 1.0}))
    torch.save({**state, "epoch": 0}, path / "checkpoints" / "last.pt")
    return path


@pytest.mark.parametrize("out", ["checkpoints/last.pt", "checkpoints/new.json"])
def test_eval_out_refuses_the_runs_checkpoint_folder(
    cli_error: CliError, run: Path, out: str
) -> None:
    before = snapshot(run)
    message = cli_error("eval", str(run), "--out", str(run / out))
    assert f"is inside the run's checkpoint folder {run / 'checkpoints'}" in message
    assert snapshot(run) == before


@pytest.mark.parametrize("name", ["metrics.json", "config.yaml", "notes.txt"])
def test_eval_out_refuses_a_file_it_did_not_write(
    cli_error: CliError, run: Path, name: str
) -> None:
    """The training metrics.json (no figures of eval --out), the recipe, a user's file."""
    target = run / name
    if not target.exists():
        target.write_text("my notes\n")
    before = snapshot(run)
    message = cli_error("eval", str(run), "--out", str(target))
    assert (
        f"--out {target} exists and is not figures written by `contrastlab eval --out`" in message
    )
    assert snapshot(run) == before


def test_eval_out_replaces_its_own_figures(
    capsys: pytest.CaptureFixture[str], run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "figures.json"
    for _ in range(2):
        assert main(["eval", str(run), "--out", str(out), "--no-baseline"]) == 0
        assert json.loads(out.read_text())["checkpoint"] == str(run / "checkpoints" / "last.pt")
    capsys.readouterr()


def test_embed_out_refuses_what_it_did_not_write(
    cli_error: CliError, run: Path, tmp_path: Path
) -> None:
    """A features file inside checkpoints/, a user's file, and a user's PNG where the map goes."""
    user = tmp_path / "mine.npz"
    user.write_bytes(b"not features")
    photo = tmp_path / "photo.png"
    photo.write_bytes(b"\x89PNG\r\n\x1a\n a photo")
    before = snapshot(tmp_path)
    inside = run / "checkpoints" / "last.npz"
    inside_message = cli_error("embed", str(run), "--out", str(inside))
    assert "is inside the run's checkpoint folder" in inside_message
    user_message = cli_error("embed", str(run), "--out", str(user))
    assert "is not a features file written by `contrastlab embed`" in user_message
    message = cli_error("embed", str(run), "--out", str(tmp_path / "photo.npz"))
    assert f"the map's path {photo} (beside --out) exists and is not a map drawn by" in message
    assert snapshot(tmp_path) == before


def test_analyze_out_refuses_the_checkpoint_folder_and_a_users_json(
    cli_error: CliError, run: Path, tmp_path: Path
) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "covariance.json").write_text("[1, 2]")
    before = snapshot(tmp_path)
    folder = run / "checkpoints"
    message = cli_error("analyze", "covariance", str(run), "--out", str(folder))
    assert f"is inside the run's checkpoint folder {folder}" in message
    message = cli_error("analyze", "covariance", str(run), "--out", str(tmp_path / "mine"))
    assert "covariance.json exists and is not the covariance.json of" in message
    assert snapshot(tmp_path) == before
