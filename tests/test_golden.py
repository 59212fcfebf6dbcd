"""What calsync writes, pinned: the fingerprint recipe and the bundled example's `.ics` output.

The fingerprint (``X-CALSYNC-HASH``) tells a person's edit from calsync's own writing. Tested only
against itself, a change to its recipe would make every deployed session look edited by a person
with every test green; here its value is pinned. The golden `.ics` is the file the ``ics_file``
target writes for the bundled example at a fixed ``--now``: any change to the planner, the words
or the event contract shows up as a diff to review. After a deliberate change, write it again
with ``CALSYNC_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and read the diff before committing.
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from calsync.cli import main
from calsync.core.model import Exercise, Session, SessionKind
from calsync.core.render import describe, fingerprint, session_fingerprint

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "golden" / "example-strength.ics"
NOW = "2026-11-27T07:30:00+01:00"
BERLIN = ZoneInfo("Europe/Berlin")


def without_timezones(text: str) -> str:
    """The calendar without its VTIMEZONE blocks: those come from the tz database and the
    icalendar library of the machine (their form is pinned where calsync builds them)."""
    return re.sub(r"BEGIN:VTIMEZONE\r\n.*?END:VTIMEZONE\r\n", "", text, flags=re.DOTALL)


def test_the_fingerprint_recipe_is_pinned() -> None:
    """16 hex digits of SHA-256 over kind, title, description, start and end; line ends and
    microseconds normalised. Changing it would turn every deployed session into "edited"."""
    start = datetime(2026, 11, 30, 6, 0, tzinfo=BERLIN)
    end = datetime(2026, 11, 30, 6, 50, 0, 123456, tzinfo=BERLIN)
    value = fingerprint("heavy_lower", "Strength: heavy lower body", "Line one\r\nLine two", start, end)
    assert value == "b9123576b87c6657"
    assert fingerprint("rest", "Rest day", "", date(2026, 12, 4), date(2026, 12, 5)) == "e58ef4dd179e780d"


def test_a_sessions_fingerprint_covers_its_description() -> None:
    session = Session(
        uid="calsync-me-2026W49-s1",
        kind=SessionKind.HEAVY_LOWER,
        title="Strength: heavy lower body",
        start=datetime(2026, 11, 30, 6, 0, tzinfo=BERLIN),
        end=datetime(2026, 11, 30, 6, 50, tzinfo=BERLIN),
        week="2026-W49",
        slot="s1",
        exercises=(Exercise("Back squat", "4 x 5"),),
        reasons=("Heavy legs today, 5 days before Saturday's 30 km long run, so they are fresh for it.",),
    )
    assert session_fingerprint(session) == fingerprint(
        session.kind, session.title, describe(session), session.start, session.end
    )


def test_the_bundled_example_writes_the_golden_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "config"
    shutil.copytree(ROOT / "config", folder)
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    assert main(["--config", str(folder / "example.toml"), "rebuild", "--now", NOW]) == 0
    written = without_timezones((tmp_path / "out" / "example-strength.ics").read_bytes().decode("utf-8"))
    if os.environ.get("CALSYNC_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_bytes(written.encode("utf-8"))
    assert written == GOLDEN.read_bytes().decode("utf-8"), (
        "the example's output changed: if that is intended, run "
        "CALSYNC_UPDATE_GOLDEN=1 pytest tests/test_golden.py and review the diff"
    )
