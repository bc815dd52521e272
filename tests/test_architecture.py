"""The layers of docs/architecture.md hold: `lint-imports` (import-linter, contracts in
pyproject.toml) passes on the package, fails on a copy given one upward import, and the contract
lists the same layers, in the same order, as the architecture page. Files and functions stay
small (at most 400 lines; a function's body at most 60, its docstring aside)."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "contrastlab"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60


def lint_imports(config: Path, path: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(path)}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports_command; lint_imports_command()",
            "--config",
            str(config),
            "--no-cache",
        ],
        cwd=path,
        capture_output=True,
        text=True,
        check=False,
        env=environment,
    )


def layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c["type"] == "layers"]
    return list(contract["layers"])


def test_the_package_keeps_its_layers() -> None:
    result = lint_imports(ROOT / "pyproject.toml", ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "upward"),
    [
        ("core/errors.py", "contrastlab.train.lock"),  # the bottom layer reaches up
        ("augment/params.py", "contrastlab.data"),  # a sibling of the same layer
        ("api/data.py", "contrastlab.commands"),  # the library imports the command line
    ],
)
def test_an_upward_import_breaks_the_contract(tmp_path: Path, module: str, upward: str) -> None:
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "contrastlab", ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / "contrastlab" / module).open("a") as handle:
        handle.write(f"\nimport {upward}  # noqa\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    result = lint_imports(tmp_path / "pyproject.toml", copy)
    assert result.returncode == 1, result.stdout + result.stderr
    importer = "contrastlab." + module.removesuffix(".py").replace("/", ".")
    assert f"{importer} -> {upward}" in result.stdout


def test_the_contract_is_the_documented_picture() -> None:
    """docs/architecture.md lists the layers in a table, top to bottom; each row names the
    packages of one layer of the contract."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    table = page.split("<!-- layers -->")[1]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    cells = [row.split("|")[2] for row in rows[1:]]  # the packages column
    documented = [set(re.findall(r"`(contrastlab\.\w+)`", cell)) for cell in cells]
    contract = [{part.strip() for part in layer.split("|")} for layer in layers()]
    assert documented == contract


def test_every_package_is_in_a_layer() -> None:
    named = {part.strip() for layer in layers() for part in layer.split("|")}
    packages = {f"contrastlab.{p.name}" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    modules = {f"contrastlab.{p.stem}" for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")}
    assert packages | modules == named


def _body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """A function's lines from its first statement after the docstring to its end (the
    formula and the paper in a docstring do not count)."""
    body = node.body
    first = body[0]
    is_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    start = body[1].lineno if is_doc and len(body) > 1 else first.lineno
    return (node.end_lineno or start) - start + 1


def test_files_and_functions_stay_small() -> None:
    too_long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text()
        where = path.relative_to(ROOT)
        if text.count("\n") > MAX_FILE_LINES:
            too_long.append(f"{where}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = _body_lines(node)
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{where}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, "\n".join(too_long)
