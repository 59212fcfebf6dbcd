"""What calsync writes, pinned: the fingerprint recipe and the bundled example's `.ics` output.

The fingerprint (``X-CALSYNC-HASH``) tells a person's edit from calsync's own writing. Tested only
against itself, a change to its recipe would make every deployed session look edited by a person
with every test green; here its value is pinned. The golden files are what each
target kind writes for the bundled example at a fixed ``--now``: the ``ics_file`` target's file
(and the daemon's served feed, the same writer), the bodies the CalDAV target PUTs to a real
Radicale, and the events the Home Assistant target creates in a real Local Calendar. Any change
to the planner, the words or the event contract shows up as a diff to review. After a deliberate
change, write them again with ``CALSYNC_UPDATE_GOLDEN=1 pytest tests/test_golden.py`` and read
the diff before committing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest

from calsync.adapters.caldav import CaldavClient
from calsync.adapters.ha_client import HaClient
from calsync.cli import main
from calsync.core.model import Exercise, Session, SessionKind
from calsync.core.render import describe, fingerprint, session_fingerprint

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "golden" / "example-strength.ics"
GOLDEN_CALDAV = GOLDEN.with_name("example-strength.caldav.ics")
GOLDEN_HA = GOLDEN.with_name("example-strength.homeassistant.json")
NOW = "2026-11-27T07:30:00+01:00"
BERLIN = ZoneInfo("Europe/Berlin")

if TYPE_CHECKING:
    from caldav_servers import DavServer
    from ha_server import HaServer

pytest_plugins = ["caldav_servers", "ha_server"]


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


def check_golden(golden: Path, written: str) -> None:
    """``written`` equals the golden file (rewritten instead with ``CALSYNC_UPDATE_GOLDEN=1``)."""
    if os.environ.get("CALSYNC_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(written.encode("utf-8"))
    assert written == golden.read_bytes().decode("utf-8"), (
        f"what calsync writes for the example changed ({golden.name}): if that is intended, run "
        "CALSYNC_UPDATE_GOLDEN=1 pytest tests/test_golden.py and review the diff"
    )


def rebuild_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str | None = None) -> Path:
    """``calsync rebuild`` of the bundled example (its ``[plan.target]`` body replaced by
    ``target`` when given); returns the folder the example's relative paths start from."""
    folder = tmp_path / "config"
    shutil.copytree(ROOT / "config", folder)
    config = folder / "example.toml"
    if target is not None:
        text = config.read_text(encoding="utf-8")
        text, found = re.subn(
            r"^\[plan\.target\]\n(?:(?!\[).*\n)*", f"[plan.target]\n{target}\n\n", text, flags=re.M
        )
        assert found == 1
        config.write_text(text, encoding="utf-8")
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    assert main(["--config", str(config), "rebuild", "--now", NOW]) == 0
    return tmp_path


def test_the_ics_file_target_writes_the_golden_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rebuild_example(tmp_path, monkeypatch)
    written = (tmp_path / "out" / "example-strength.ics").read_bytes().decode("utf-8")
    check_golden(GOLDEN, without_timezones(written))


def test_the_feed_target_writes_the_same_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``feed`` target (served by the daemon) is written by the same writer, byte for byte."""
    rebuild_example(tmp_path, monkeypatch, 'kind = "feed"')
    written = tmp_path / "state" / "feeds" / "example.ics"
    assert without_timezones(written.read_bytes().decode("utf-8")) == GOLDEN.read_bytes().decode("utf-8")


def test_the_caldav_target_puts_the_golden_objects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, radicale_server: DavServer
) -> None:
    """The bodies of the PUTs calsync sends to a real Radicale, one object per session, in UID order."""
    sent: list[str] = []
    send = CaldavClient.request

    def recording(
        self: CaldavClient, method: str, url: str, body: str = "", *args: Any, **kwargs: Any
    ) -> Any:
        if method == "PUT":
            sent.append(body)
        return send(self, method, url, body, *args, **kwargs)

    monkeypatch.setattr(CaldavClient, "request", recording)
    calendar = radicale_server.calendar()
    monkeypatch.setenv("GOLDEN_DAV_PASSWORD", radicale_server.password or "")
    user = (
        f'username = "{radicale_server.username}"\npassword_env = "GOLDEN_DAV_PASSWORD"'
        if radicale_server.username
        else ""
    )
    rebuild_example(tmp_path, monkeypatch, f'kind = "caldav"\nurl = "{calendar.url}"\n{user}')
    assert len(sent) > 20
    bodies = sorted(without_timezones(body) for body in sent)
    assert len({re.search(r"\r\nUID:(.*)\r\n", b)[1] for b in bodies}) == len(bodies)  # type: ignore[index]
    check_golden(GOLDEN_CALDAV, "".join(bodies))


def test_the_homeassistant_target_creates_the_golden_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ha_server: HaServer
) -> None:
    """The events calsync creates in a real Local Calendar (``calendar/event/create``), in start order."""
    created: list[dict[str, Any]] = []
    command = HaClient.command

    def recording(self: HaClient, kind: str, *, gone_ok: bool = False, **fields: Any) -> Any:
        if kind == "calendar/event/create":
            created.append(fields["event"])
        return command(self, kind, gone_ok=gone_ok, **fields)

    monkeypatch.setattr(HaClient, "command", recording)
    token_file = tmp_path / "ha-token"
    token_file.write_text(ha_server.token + "\n")
    target = (
        f'kind = "homeassistant"\nurl = "{ha_server.url}"\n'
        f'entity_id = "{ha_server.calendar()}"\ntoken_file = "{token_file}"'
    )
    rebuild_example(tmp_path, monkeypatch, target)
    assert len(created) > 20
    created.sort(
        key=lambda event: (str(event.get("dtstart") or event.get("start")), str(event.get("summary")))
    )
    check_golden(GOLDEN_HA, json.dumps(created, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
