"""The code stays ruff- and mypy --strict-clean: checked on every test run, so CI enforces it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = BIN / name
    if found.exists():
        return str(found)
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: install the test extra (pip install -e '.[test]')")
    return path


HA_PARTS = ("custom_components", "scripts", "tests_ha")
"""The Home Assistant integration, its build script and its phcc tests: ruff only (mypy does not
see Home Assistant's types in this environment; see pyproject's [tool.mypy])."""


def test_ruff_finds_nothing() -> None:
    result = subprocess.run(
        [_tool("ruff"), "check", "src", "tests", "bench", "config", *HA_PARTS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_finds_nothing() -> None:
    result = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
