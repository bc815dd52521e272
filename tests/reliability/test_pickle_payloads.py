"""CIFAR batches are read without running code: a ``__reduce__`` payload in a batch file is refused
through every data entry point (a folder, a single batch, a .tar.gz; train, eval, embed and
analyze's --data and --eval-data; a checkpoint whose recipe names the folder), and nothing runs."""

from __future__ import annotations

import os
import pickle
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from contrastlab.cli import main
from contrastlab.core.errors import DataError
from contrastlab.data import open_source
from contrastlab.data.safe_pickle import UnsafePickleError, load_data_pickle

SHAPES = ["--set", "data.options.n_train=64", "--set", "data.options.n_test=32"]
TINY = [
    *["--set", "data.image_size=16", "--set", "model.width=0.0625"],
    *["--set", "model.head_out_dim=16", "--set", "train.progress=false"],
    *["--set", "eval.protocols=[knn]", "--set", "eval.random_baseline=false"],
    *["--set", "eval.knn_k=5", "--batch-size", "16", "--epochs", "1"],
]


class RunsCode:
    """Unpickling this runs a shell command, as the issue's probe did."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def batch(n: int, label: int) -> dict[bytes, Any]:
    rows = np.full((n, 3072), 40 * label, dtype=np.uint8)
    return {b"batch_label": b"x", b"data": rows, b"labels": [label] * n}


def cifar_folder(root: Path, marker: Path, bad: str = "data_batch_1") -> Path:
    """A CIFAR-10 folder whose ``bad`` file carries the payload beside plain batches."""
    root.mkdir(parents=True)
    for name, content in (
        ("data_batch_1", batch(8, 0)),
        ("data_batch_2", batch(8, 1)),
        ("test_batch", batch(4, 1)),
        ("batches.meta", {b"label_names": [b"a", b"b"]}),
    ):
        payload = {**content, b"extra": RunsCode(marker)} if name == bad else content
        (root / name).write_bytes(pickle.dumps(payload, protocol=2))
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("trained") / "run"
    assert main(["train", "--out", str(out), *SHAPES, *TINY]) == 0
    return out


def refused(capsys: pytest.CaptureFixture[str], args: list[str], marker: Path, file: Path) -> None:
    """``contrastlab ARGS`` exits 2 with one line naming ``file``, and the payload never ran."""
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    assert err[-1].startswith(f"contrastlab: error: refused CIFAR file {file}"), err
    assert "it calls posix.system" in err[-1] and "nothing in it ran" in err[-1]
    assert not marker.exists()


@pytest.mark.parametrize("protocol", range(6))
def test_plain_data_round_trips_through_every_protocol(protocol: int) -> None:
    data = {
        b"data": np.arange(24, dtype=np.uint8).reshape(2, 12),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "scalar": np.int64(-3),
        "plain": [1, 2.5, None, True, "s", b"b", (1, (2,))],
    }
    loaded = load_data_pickle(pickle.dumps(data, protocol=protocol))
    assert loaded.keys() == data.keys()
    for key in (b"data", "fortran"):
        assert loaded[key].dtype == data[key].dtype
        assert np.array_equal(loaded[key], data[key])
    assert loaded["scalar"] == -3 and loaded["scalar"].dtype == np.int64
    assert loaded["plain"] == data["plain"]


def test_a_python2_batch_reads_as_the_official_files_do() -> None:
    # Written by hand as Python 2's cPickle writes CIFAR: GLOBAL opcodes, py2 str (BINSTRING)
    py2 = (
        b"\x80\x02}q\x00(U\x04dataq\x01"
        b"cnumpy.core.multiarray\n_reconstruct\nq\x02cnumpy\nndarray\nq\x03K\x00\x85U\x01b\x87Rq\x04"
        b"(K\x01K\x01K\x03\x86cnumpy\ndtype\nU\x02u1K\x00K\x01\x87Rq\x05(K\x03U\x01|NNN"
        b"J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89U\x03\x01\x02\x03tb"
        b"U\x06labelsq\x06]q\x07K\x07aU\x0bbatch_labelq\x08U\x01xu."
    )
    expected = pickle.loads(py2, encoding="bytes")
    loaded = load_data_pickle(py2)
    assert loaded.keys() == expected.keys() == {b"data", b"labels", b"batch_label"}
    assert np.array_equal(loaded[b"data"], np.array([[1, 2, 3]], np.uint8))
    assert loaded[b"labels"] == [7] and loaded[b"batch_label"] == b"x"


@pytest.mark.parametrize("protocol", range(6))
def test_a_payload_is_refused_by_name_before_it_runs(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    with pytest.raises(UnsafePickleError, match=r"it calls posix\.system"):
        load_data_pickle(pickle.dumps({b"data": RunsCode(marker)}, protocol=protocol))
    assert not marker.exists()


@pytest.mark.parametrize(
    ("obj", "why"),
    [
        (np.array([None, 1], dtype=object), "dtype object"),
        (np.zeros(2, dtype=[("a", "u1")]), "not a plain numeric"),
        (print, r"builtins?_*\.print"),
        (Path("x"), "pathlib"),
        ({1, 2}, r"builtins?_*\.set"),
    ],
)
def test_anything_but_plain_data_is_refused(obj: object, why: str) -> None:
    with pytest.raises(UnsafePickleError, match=why):
        load_data_pickle(pickle.dumps(obj, protocol=2))


def test_only_latin1_bytes_and_real_arrays_are_admitted() -> None:
    other_codec = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00rot13\x86R."
    with pytest.raises(UnsafePickleError, match="only latin-1"):
        load_data_pickle(other_codec)
    bare_class = b"\x80\x02cnumpy\nndarray\nK\x03\x85R."  # numpy.ndarray((3,)): not admitted
    with pytest.raises(TypeError):
        load_data_pickle(bare_class)


def test_every_opener_refuses_the_payload(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    folder = cifar_folder(tmp_path / "cifar-10-batches-py", marker)
    archive = tmp_path / "cifar.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-py")
    for source, where in (
        (folder, folder / "data_batch_1"),
        (folder / "data_batch_1", folder / "data_batch_1"),
        (archive, f"{archive}:cifar-10-batches-py/data_batch_1"),
    ):
        with pytest.raises(DataError, match=f"refused CIFAR file {where}: it calls posix.system"):
            open_source(str(source))
    assert not marker.exists()
    clean = cifar_folder(tmp_path / "clean", marker, bad="none")
    assert len(open_source(str(clean)).train) == 16  # the same files without the payload load


def test_train_refuses_the_payload_in_a_folder_a_file_and_an_archive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    folder = cifar_folder(tmp_path / "c10", marker)
    archive = tmp_path / "c10.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname="c10")
    base = ["train", "--out", str(tmp_path / "run"), *TINY]
    refused(capsys, [*base, "--data", str(folder)], marker, folder / "data_batch_1")
    batch_file = folder / "data_batch_1"
    refused(capsys, [*base, "--data", str(batch_file)], marker, batch_file)
    refused(capsys, [*base, "--data", str(archive)], marker, Path(f"{archive}:c10/data_batch_1"))
    test_side = cifar_folder(tmp_path / "eval", marker, bad="test_batch")
    refused(
        capsys, [*base, *SHAPES, "--eval-data", str(test_side)], marker, test_side / "test_batch"
    )
    assert not (tmp_path / "run" / "config.yaml").exists()


@pytest.mark.parametrize(
    "command",
    [["eval"], ["embed", "--map", "none"], ["analyze", "cka"]],
    ids=["eval", "embed", "analyze"],
)
def test_commands_on_a_run_refuse_the_payload(
    command: list[str], trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    folder = cifar_folder(tmp_path / "c10", marker)
    args = [*command, str(trained), "--data", str(folder)]
    refused(capsys, args, marker, folder / "data_batch_1")


def test_a_checkpoint_whose_recipe_names_the_folder_refuses_it(
    trained: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "pwned"
    folder = cifar_folder(tmp_path / "c10", marker)
    state = torch.load(trained / "checkpoints" / "last.pt", weights_only=True)
    state["recipe"]["data"]["source"] = str(folder)
    state["recipe"]["data"]["options"] = {}
    checkpoint = tmp_path / "theirs.pt"
    torch.save(state, checkpoint)
    refused(capsys, ["eval", str(checkpoint)], marker, folder / "data_batch_1")
