"""The local .ics file target: read what calsync owns, apply actions, write atomically."""

from __future__ import annotations

import os
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Component, vCategory, vDDDTypes, vInt

import support
from calsync.adapters.ics_target import IcsFileTarget, write_atomic
from calsync.core.model import Exercise, Session, SessionKind
from calsync.core.reconcile import Create, Delete, Update, fixed_sessions, reconcile
from calsync.errors import TargetError
from calsync.executor import execute

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 27, 7, 30, tzinfo=BERLIN)
WINDOW = (date(2026, 11, 23), date(2027, 3, 1))

FOREIGN = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Someone//Their app//EN\r
X-WR-CALNAME:Strength\r
BEGIN:VEVENT\r
UID:dentist-1@example.org\r
DTSTAMP:20261101T120000Z\r
DTSTART;TZID=America/New_York:20261201T090000\r
DTEND;TZID=America/New_York:20261201T100000\r
SUMMARY:Dentist\\, bring card\r
RRULE:FREQ=MONTHLY;COUNT=3\r
ATTENDEE;CN="Doe, J";ROLE=REQ-PARTICIPANT:mailto:j@example.org\r
X-SOMETHING;FOO=bar:a,b\\,c\r
BEGIN:VALARM\r
ACTION:DISPLAY\r
TRIGGER:-PT15M\r
DESCRIPTION:Reminder\r
END:VALARM\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:calsync-other-2026W49-s1\r
DTSTAMP:20261101T120000Z\r
DTSTART;TZID=Europe/Berlin:20261130T060000\r
DTEND;TZID=Europe/Berlin:20261130T070000\r
SUMMARY:Strength: core\r
X-CALSYNC-PLAN:other\r
X-CALSYNC-KIND:core\r
X-CALSYNC-HASH:0000000000000000\r
END:VEVENT\r
BEGIN:VTODO\r
UID:todo-1@example.org\r
SUMMARY:Buy shoes\r
END:VTODO\r
END:VCALENDAR\r
"""


def session(
    slot: str = "s1",
    day: date = date(2026, 11, 30),
    hour: int = 6,
    kind: SessionKind = SessionKind.HEAVY_LOWER,
) -> Session:
    return support.session(
        day,
        slot,
        kind,
        hour=hour,
        title="Rest day" if kind is SessionKind.REST else f"Strength: {kind.value.replace('_', ' ')}",
        reasons=(support.R8_REASON, "R13: lift first"),
        muscle_groups=("lower",),
        exercises=(Exercise("Back squat", "4 x 5"), Exercise("Copenhagen plank", "3 x 20 s")),
        load="heavy" if kind is SessionKind.HEAVY_LOWER else None,
    )


WEEK = [session(), session(slot="s2", day=date(2026, 12, 3), kind=SessionKind.CORE)]
WEEK.append(session(slot="rest", day=date(2026, 12, 6), kind=SessionKind.REST))


@pytest.fixture
def target(tmp_path: Path) -> IcsFileTarget:
    return IcsFileTarget(tmp_path / "out" / "me-strength.ics", "me", BERLIN)


def sync(target: IcsFileTarget, planned: list[Session], now: datetime = NOW) -> list[object]:
    """One pass: read, reconcile, apply; returns the actions."""
    actions = reconcile(planned, target.list_owned(), now=now, window_start=WINDOW[0], window_end=WINDOW[1])
    execute(actions, target, now=now)
    return list(actions)


def components(path: Path) -> list[Component]:
    return list(Calendar.from_ical(path.read_bytes()).subcomponents)


def vevents(path: Path) -> dict[str, Component]:
    return {str(c["UID"]): c for c in components(path) if c.name == "VEVENT"}


def dt(component: Component, name: str) -> object:
    """A date/time property's value as icalendar reads it."""
    value = component[name]
    assert isinstance(value, vDDDTypes)
    return value.dt


def integer(component: Component, name: str) -> int:
    """An INTEGER property's value."""
    value = component[name]
    assert isinstance(value, vInt)
    return int(value)


def categories(component: Component) -> set[str]:
    """The CATEGORIES of an event, as text."""
    value = component["CATEGORIES"]
    assert isinstance(value, vCategory)
    return {str(c) for c in value.cats}


def test_missing_file_owns_nothing(target: IcsFileTarget) -> None:
    assert target.list_owned() == []


def test_round_trip_written_hash_matches(target: IcsFileTarget) -> None:
    actions = sync(target, WEEK)
    assert all(isinstance(a, Create) for a in actions)
    owned = target.list_owned()
    assert sorted(e.uid for e in owned) == sorted(s.uid for s in WEEK)
    for event in owned:
        assert event.written_hash == event.current_hash
        assert not event.edited
        assert event.sequence == 0
        assert event.plan_id == "me"
    by_uid = {e.uid: e for e in owned}
    for s in WEEK:
        got = by_uid[s.uid]
        assert (got.kind, got.title, got.start, got.end, got.week, got.slot) == (
            s.kind,
            s.title,
            s.start,
            s.end,
            s.week,
            s.slot,
        )
    assert sync(target, WEEK) == []


def test_event_contract(target: IcsFileTarget) -> None:
    sync(target, WEEK)
    text = target.path.read_bytes().decode()
    calendar = Calendar.from_ical(target.path.read_bytes())
    assert str(calendar["PRODID"]) == "-//calsync//calsync//EN"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["X-WR-CALNAME"]) == "calsync: me"
    events = vevents(target.path)
    heavy = events[WEEK[0].uid]
    assert heavy["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert "DTSTART;TZID=Europe/Berlin:20261130T060000" in text
    assert dt(heavy, "DTSTAMP") == datetime(2026, 11, 27, 6, 30, tzinfo=UTC)
    assert integer(heavy, "SEQUENCE") == 0
    assert str(heavy["TRANSP"]) == "OPAQUE"
    assert categories(heavy) == {"calsync", "heavy_lower"}
    assert "- Back squat: 4 x 5" in str(heavy["DESCRIPTION"])
    assert "Why here: R8" in str(heavy["DESCRIPTION"])
    for name in ("X-CALSYNC-PLAN", "X-CALSYNC-KIND", "X-CALSYNC-WEEK", "X-CALSYNC-SLOT", "X-CALSYNC-HASH"):
        assert name in heavy
    rest = events[WEEK[2].uid]
    assert "DTSTART;VALUE=DATE:20261206" in text
    assert dt(rest, "DTEND") == date(2026, 12, 7)
    assert str(rest["TRANSP"]) == "TRANSPARENT"


def test_vtimezone_for_every_tzid(target: IcsFileTarget) -> None:
    sync(target, WEEK)
    calendar = Calendar.from_ical(target.path.read_bytes())
    assert [tz.tz_name for tz in calendar.timezones] == ["Europe/Berlin"]
    assert calendar.get_missing_tzids() == set()
    names = [c.name for c in calendar.subcomponents]
    assert names.index("VTIMEZONE") < names.index("VEVENT")


def test_sessions_across_a_dst_change_keep_local_wall_time(target: IcsFileTarget) -> None:
    before = session(slot="s1", day=date(2026, 3, 27))  # CET
    after = session(slot="s1", day=date(2026, 3, 30))  # CEST
    sync(target, [before, after], now=datetime(2026, 3, 20, tzinfo=BERLIN))
    text = target.path.read_bytes().decode()
    assert "DTSTART;TZID=Europe/Berlin:20260327T060000" in text
    assert "DTSTART;TZID=Europe/Berlin:20260330T060000" in text
    starts = {e.uid: e.start for e in target.list_owned()}
    assert isinstance(starts[before.uid], datetime)
    assert isinstance(starts[after.uid], datetime)
    assert starts[before.uid].isoformat() == "2026-03-27T06:00:00+01:00"
    assert starts[after.uid].isoformat() == "2026-03-30T06:00:00+02:00"


def test_second_pass_changes_nothing_byte_for_byte(target: IcsFileTarget) -> None:
    sync(target, WEEK)
    first = target.path.read_bytes()
    mtime = target.path.stat().st_mtime_ns
    assert sync(target, WEEK, now=NOW + timedelta(hours=1)) == []
    execute([], target, now=NOW + timedelta(hours=2))
    assert target.path.read_bytes() == first
    assert target.path.stat().st_mtime_ns == mtime


def test_output_is_deterministic(tmp_path: Path) -> None:
    one = IcsFileTarget(tmp_path / "a.ics", "me", BERLIN)
    two = IcsFileTarget(tmp_path / "b.ics", "me", BERLIN)
    sync(one, WEEK)
    sync(two, WEEK[::-1])
    assert one.path.read_bytes() == two.path.read_bytes()


def test_foreign_components_are_kept_and_never_owned(target: IcsFileTarget) -> None:
    target.path.parent.mkdir(parents=True)
    target.path.write_bytes(FOREIGN)
    original = {
        str(c.name) + str(c.get("UID")): c.to_ical() for c in Calendar.from_ical(FOREIGN).subcomponents
    }
    assert target.list_owned() == []

    sync(target, WEEK)
    after = {str(c.name) + str(c.get("UID")): c.to_ical() for c in components(target.path)}
    for key, data in original.items():
        assert after[key] == data
    calendar = Calendar.from_ical(target.path.read_bytes())
    assert str(calendar["PRODID"]) == "-//Someone//Their app//EN"  # the file's own header stays
    assert str(calendar["X-WR-CALNAME"]) == "Strength"
    assert {tz.tz_name for tz in calendar.timezones} >= {"Europe/Berlin"}
    assert {e.uid for e in target.list_owned()} == {s.uid for s in WEEK}

    # dropping every session deletes only calsync's own events
    sync(target, [])
    assert target.list_owned() == []
    after = {str(c.name) + str(c.get("UID")): c.to_ical() for c in components(target.path)}
    for key, data in original.items():
        assert after[key] == data


def edit(path: Path, old: str, new: str) -> None:
    """A person edits the file (as a calendar app would)."""
    text = path.read_bytes().decode()
    assert old in text
    path.write_bytes(text.replace(old, new, 1).encode())


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("SUMMARY:Strength: heavy lower", "SUMMARY:Squats with Anna"),
        ("DTSTART;TZID=Europe/Berlin:20261130T060000", "DTSTART;TZID=Europe/Berlin:20261130T063000"),
        ("X-CALSYNC-KIND:heavy_lower", "X-CALSYNC-KIND:light_lower"),
    ],
)
def test_a_person_edit_is_detected_and_kept(target: IcsFileTarget, old: str, new: str) -> None:
    sync(target, WEEK)
    edit(target.path, old, new)
    owned = {e.uid: e for e in target.list_owned()}
    heavy = owned[WEEK[0].uid]
    assert heavy.edited
    assert not owned[WEEK[1].uid].edited
    assert [s.uid for s in fixed_sessions(list(owned.values()), now=NOW)] == [heavy.uid]

    moved = [session(day=date(2026, 12, 1)), *WEEK[1:]]
    before = target.path.read_bytes()
    assert sync(target, moved) == []
    assert target.path.read_bytes() == before
    assert sync(target, []) != []  # the other sessions go; the edited one stays
    assert [e.uid for e in target.list_owned()] == [heavy.uid]


def test_stamps_and_alarms_are_not_edits(target: IcsFileTarget) -> None:
    sync(target, WEEK)
    edit(target.path, "DTSTAMP:20261127T063000Z", "DTSTAMP:20261128T090000Z")
    edit(
        target.path,
        "END:VEVENT",
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nDESCRIPTION:go\r\nEND:VALARM\r\nEND:VEVENT",
    )
    assert not any(e.edited for e in target.list_owned())


def test_update_in_place(target: IcsFileTarget) -> None:
    sync(target, WEEK)
    order = [c.get("UID") for c in components(target.path)]
    edit(
        target.path,
        "END:VEVENT",
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT10M\r\nDESCRIPTION:go\r\nEND:VALARM\r\nEND:VEVENT",
    )
    moved = [session(day=date(2026, 12, 1)), *WEEK[1:]]
    later = NOW + timedelta(hours=3)
    actions = sync(target, moved, now=later)
    assert len(actions) == 1
    assert isinstance(actions[0], Update)
    assert [c.get("UID") for c in components(target.path)] == order
    event = vevents(target.path)[WEEK[0].uid]
    assert integer(event, "SEQUENCE") == 1
    assert dt(event, "DTSTART") == datetime(2026, 12, 1, 6, tzinfo=BERLIN)
    assert dt(event, "DTSTAMP") == later.astimezone(UTC)
    assert dt(event, "CREATED") == NOW.astimezone(UTC)
    assert [a.name for a in event.subcomponents] == ["VALARM"]  # the person's alarm stays
    owned = {e.uid: e for e in target.list_owned()}
    assert not owned[WEEK[0].uid].edited
    assert sync(target, moved, now=later) == []


def test_a_change_between_read_and_apply_wins(target: IcsFileTarget) -> None:
    sync(target, WEEK)
    owned = target.list_owned()
    moved = [session(day=date(2026, 12, 1)), *WEEK[1:]]
    actions = reconcile(moved, owned, now=NOW, window_start=WINDOW[0], window_end=WINDOW[1])
    assert len(actions) == 1
    edit(target.path, "SUMMARY:Strength: heavy lower", "SUMMARY:Mine now")
    edited = target.path.read_bytes()
    execute(actions, target, now=NOW)
    assert target.path.read_bytes() == edited


def test_no_duplicate_when_the_event_is_already_there(target: IcsFileTarget) -> None:
    sync(target, WEEK)
    before = target.path.read_bytes()
    execute([Create(WEEK[0])], target, now=NOW)  # e.g. another instance created it meanwhile
    assert target.path.read_bytes() == before


def test_delete_of_a_missing_event_writes_nothing(target: IcsFileTarget) -> None:
    sync(target, WEEK)
    (gone,) = [e for e in target.list_owned() if e.uid == WEEK[0].uid]
    execute([Delete(gone)], target, now=NOW)
    after_delete = target.path.read_bytes()
    assert WEEK[0].uid not in after_delete.decode()
    execute([Delete(gone)], target, now=NOW)
    assert target.path.read_bytes() == after_delete


@pytest.mark.parametrize(
    "data",
    [
        b"garbage, not a calendar\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n",
        b"BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n",
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:Zürich\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n".encode(
            "latin-1"
        ),
    ],
    ids=["garbage", "truncated", "no-vcalendar", "not-utf8"],
)
def test_corrupt_file_is_an_error_and_untouched(target: IcsFileTarget, data: bytes) -> None:
    target.path.parent.mkdir(parents=True)
    target.path.write_bytes(data)
    with pytest.raises(TargetError) as err:
        target.list_owned()
    message = str(err.value)
    assert "\n" not in message
    assert "me" in message
    assert str(target.path) in message
    with pytest.raises(TargetError):
        execute([Create(WEEK[0])], target, now=NOW)
    assert target.path.read_bytes() == data


def test_a_broken_owned_event_is_skipped_and_left_alone(target: IcsFileTarget) -> None:
    sync(target, WEEK)
    edit(target.path, "DTSTART;TZID=Europe/Berlin:20261130T060000", "DTSTART:not-a-date")
    assert {e.uid for e in target.list_owned()} == {s.uid for s in WEEK[1:]}
    before = target.path.read_bytes()
    execute([Create(WEEK[0])], target, now=NOW)
    assert target.path.read_bytes() == before


def test_atomic_write_leaves_no_temp_files(target: IcsFileTarget) -> None:
    sync(target, WEEK)
    sync(target, WEEK[:1])
    assert sorted(p.name for p in target.path.parent.iterdir()) == ["me-strength.ics"]


def test_write_atomic_keeps_mode_and_cleans_up_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "deep" / "er" / "file.ics"
    write_atomic(path, b"one")
    assert path.read_bytes() == b"one"
    path.chmod(0o640)
    write_atomic(path, b"two")
    assert path.read_bytes() == b"two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640

    def boom(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_atomic(path, b"three")
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in path.parent.iterdir()) == ["file.ics"]


def test_write_failure_is_a_target_error(target: IcsFileTarget, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(src: object, dst: object) -> None:
        raise OSError("read-only file system")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(TargetError, match="read-only file system"):
        execute([Create(WEEK[0])], target, now=NOW)
    assert not target.path.exists()


def test_nothing_to_do_on_a_missing_file_creates_nothing(target: IcsFileTarget) -> None:
    sync(target, WEEK)
    (gone,) = [e for e in target.list_owned() if e.uid == WEEK[0].uid]
    target.path.unlink()
    execute([Delete(gone)], target, now=NOW)
    assert not target.path.exists()


def test_a_pass_that_writes_parses_the_file_once(
    target: IcsFileTarget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The calendar the pass's listing parsed is the one its batch changes, while the file holds
    the same bytes; bytes saved by someone else in between are parsed again (theirs are kept)."""
    from calsync.adapters import ics_target

    sync(target, [session()])
    parses: list[bytes] = []
    monkeypatch.setattr(ics_target.IcsFileTarget, "_load", _counting_load(parses))
    moved = session(day=date(2026, 12, 1))
    ics_target._OWNED_MEMO.clear()
    sync(target, [moved])
    assert len(parses) == 1, "listed and changed from one parse"
    assert [e.start for e in target.list_owned()] == [moved.start]
    # someone saves the file between the listing and the batch: the batch parses their bytes
    ics_target._OWNED_MEMO.clear()
    owned = target.list_owned()
    before = len(parses)
    theirs = target.path.read_bytes().replace(b"END:VCALENDAR", FOREIGN_EVENT + b"END:VCALENDAR")
    target.path.write_bytes(theirs)
    actions = reconcile([session()], owned, now=NOW, window_start=WINDOW[0], window_end=WINDOW[1])
    execute(actions, target, now=NOW)
    assert parses[before:] == [theirs], "the batch parsed the bytes it found, not the listing's"
    assert b"UID:theirs@example.org" in target.path.read_bytes()
    assert [e.start for e in target.list_owned()] == [session().start]


FOREIGN_EVENT = (
    b"BEGIN:VEVENT\r\nUID:theirs@example.org\r\nDTSTAMP:20261101T120000Z\r\n"
    b"DTSTART:20261202T090000Z\r\nSUMMARY:Theirs\r\nEND:VEVENT\r\n"
)


def _counting_load(parses: list[bytes]) -> object:
    """IcsFileTarget._load that notes the bytes of each parse."""
    from calsync.adapters.ics_target import IcsFileTarget

    real = IcsFileTarget._load

    def load(self: IcsFileTarget, data: bytes | None = None) -> object:
        if data is None:
            data = self._read_bytes()
        if data:
            parses.append(data)
        return real(self, data)

    return load
