"""Shared test fixtures: where the shared folder (PRODUCT.md, the ICS corpus, plan_check) lives."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CALSYNC_SHARED", ROOT.parent / "shared"))
CORPUS = SHARED / "ics-corpus"
PLAN_CHECK = SHARED / "checks" / "plan_check.py"


def corpus_files() -> list[Path]:
    """Every .ics file of the real-world corpus (empty when the folder is absent)."""
    if not CORPUS.is_dir():
        return []
    return sorted(CORPUS.rglob("*.ics"))


@pytest.fixture
def corpus_dir() -> Path:
    """The corpus folder; skips the test with a reason when it is absent."""
    if not CORPUS.is_dir():
        pytest.skip(f"the real-world ICS corpus is not at {CORPUS} (set CALSYNC_SHARED)")
    return CORPUS


@pytest.fixture
def plan_check_path() -> Path:
    """shared/checks/plan_check.py; skips with a reason when it is absent."""
    if not PLAN_CHECK.is_file():
        pytest.skip(f"plan_check.py is not at {PLAN_CHECK} (set CALSYNC_SHARED)")
    return PLAN_CHECK


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own state folder: nothing reads or writes the real ~/.local/state."""
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """``calsync.cli.main`` configures logging for its process (``logs.configure``); tests that
    call it in-process must not leave its stderr handler and levels to the tests after them."""
    root = logging.getLogger()
    names = ("calsync", "apscheduler", "urllib3", "websockets", "caldav")
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)
