"""The virtual environment of the Home Assistant integration's tests: a pytest plugin module.

``pytest-homeassistant-custom-component`` (phcc) pins its own pytest and Home Assistant, so it
cannot live in the main test environment. ``phcc_python`` (session scope) installs
``tests/phcc-requirements-py311.txt`` (phcc 0.13.109 = Home Assistant 2024.3.3, the component's
requirements, what the loaded integrations import) into
``~/.cache/calsync-tests/phcc-2024.3.3-py311-<hash of the lock>`` with ``uv pip install`` (pip
when uv cannot be installed), the way ``ha_server`` builds its environment: in a temporary folder
renamed into place when complete, under a lock file. The same environment runs a real Home
Assistant for the end-to-end test (``ha_server.start_server`` takes any Python).

``CALSYNC_SKIP_HA=1`` skips these tests; on a Python other than 3.11 (no lock for it) they skip
with that reason; an install that fails FAILS them.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from ha_server import BUILDING, COMPLETE, InstallError, _run, _runs

HERE = Path(__file__).resolve().parent
LOCK = HERE / "phcc-requirements-py311.txt"
HA_RELEASE = "2024.3.3"


def cache_dir() -> Path:
    """Where the environment lives (a new lock makes a new one)."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:12]
    return Path.home() / ".cache" / "calsync-tests" / f"phcc-{HA_RELEASE}-py311-{digest}"


def _install(venv: Path) -> None:
    _run([sys.executable, "-m", "venv", str(venv)], "creating a virtual environment")
    python = venv / "bin" / "python"
    try:
        _run([str(python), "-m", "pip", "install", "-q", "uv"], "installing uv")
        _run(
            [str(venv / "bin" / "uv"), "pip", "install", "-q", "--python", str(python), "-r", str(LOCK)],
            "uv pip install",
        )
    except InstallError:
        _run([str(python), "-m", "pip", "install", "-q", "-r", str(LOCK)], "pip install")
    _run(
        [
            str(python),
            "-c",
            "import pytest_homeassistant_custom_component, homeassistant.__main__, icalendar",
        ],
        "importing phcc",
    )


def ensure_installed() -> Path:
    """The Python of a complete phcc environment, installed when missing."""
    target = cache_dir()
    python = target / "bin" / "python"
    if (target / COMPLETE).is_file() and _runs(python):
        return python
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f"{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / COMPLETE).is_file() and _runs(python):
            return python
        if target.exists():
            if not ((target / COMPLETE).is_file() or (target / BUILDING).is_file()):
                raise InstallError(f"{target} is in the way and was not made by these tests")
            shutil.rmtree(target)
        building = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        try:
            (building / "venv").mkdir()
            (building / "venv" / BUILDING).write_text("an unfinished install of the calsync tests\n")
            _install(building / "venv")
            (building / "venv" / COMPLETE).write_text(f"phcc for homeassistant=={HA_RELEASE}\n")
            (building / "venv" / BUILDING).unlink()
            os.rename(building / "venv", target)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    return python


@pytest.fixture(scope="session")
def phcc_python() -> Path:
    """The phcc environment's Python (installed on first use)."""
    if os.environ.get("CALSYNC_SKIP_HA") == "1":
        pytest.skip("CALSYNC_SKIP_HA=1: Home Assistant tests skipped")
    if sys.version_info[:2] != (3, 11):
        pytest.skip(
            f"the phcc lock is for Python 3.11 (Home Assistant {HA_RELEASE}); this is "
            f"{sys.version_info[0]}.{sys.version_info[1]}"
        )
    try:
        return ensure_installed()
    except InstallError as err:
        failure = str(err)
    pytest.fail(
        f"the phcc environment could not be installed into {cache_dir()}: {failure}\n"
        "It needs the package registry once (CALSYNC_SKIP_HA=1 skips these tests).",
        pytrace=False,
    )
