"""The ``ics_file`` source keeps its last read in the state: a pass that finds the file as the
last one left it parses nothing (issue 12), and any change of the file, the window or the zone
reads it again."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import support
from calsync.adapters.ics_file import IcsFileReader
from calsync.adapters.ics_read import parse_ics, read_ics_file
from calsync.adapters.kept import (
    KeptUnusableError,
    load_kept,
    owned_from_json,
    owned_to_json,
    read_from_json,
    read_to_json,
    reader_key,
)
from calsync.core.model import Exercise, ReadResult, SessionKind, SourceEvent
from calsync.state import MemoryStore
from conftest import corpus_files

ROOT = Path(__file__).resolve().parents[1]
ZONE = ZoneInfo("Europe/Berlin")
WINDOW = (datetime(2026, 9, 1, tzinfo=ZONE), datetime(2027, 6, 1, tzinfo=ZONE))
EXAMPLE = ROOT / "config" / "example-plan.ics"


def _same(first: ReadResult, second: ReadResult) -> None:
    """Equal events, and every time in the same zone (== on aware datetimes compares instants only)."""
    assert first == second
    for one, other in zip(first.events, second.events, strict=True):
        for a, b in ((one.start, other.start), (one.end, other.end)):
            assert type(a) is type(b)
            assert getattr(a, "tzinfo", None) == getattr(b, "tzinfo", None)
            assert str(a) == str(b)


@pytest.fixture
def plan_file(tmp_path: Path) -> Path:
    path = tmp_path / "plan.ics"
    path.write_bytes(EXAMPLE.read_bytes())
    return path


def _parses(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Count the parses (the reader imports the parser only when it needs it): the bytes parsed."""
    calls: list[bytes] = []
    real = parse_ics

    def counted(data: bytes, **kwargs: object) -> ReadResult:
        calls.append(data)
        return real(data, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("calsync.adapters.ics_read.parse_ics", counted)
    return calls


def test_an_unchanged_file_is_read_from_the_store_by_a_new_reader(
    plan_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parses = _parses(monkeypatch)
    store = MemoryStore()
    first = IcsFileReader(plan_file, "plan").read(*WINDOW, ZONE, store, full=False)
    again = IcsFileReader(plan_file, "plan").read(*WINDOW, ZONE, store, full=False)  # a new process
    assert len(parses) == 1
    assert len(first.events) > 50
    _same(first, again)


@pytest.mark.parametrize(
    "change",
    ["rewrite same size and times", "another window", "another zone", "rebuild", "replaced file"],
)
def test_any_change_reads_the_file_again(
    plan_file: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    parses = _parses(monkeypatch)
    store = MemoryStore()
    IcsFileReader(plan_file, "plan").read(*WINDOW, ZONE, store, full=False)
    window, zone, full = WINDOW, ZONE, False
    if change == "rewrite same size and times":
        # a person's edit within the file system's time granularity, same length: only the hash sees it
        before = plan_file.stat()
        text = plan_file.read_bytes()
        plan_file.write_bytes(text.replace(b"Long Run", b"Long Ran", 1))
        os.utime(plan_file, ns=(before.st_atime_ns, before.st_mtime_ns))
    elif change == "another window":
        window = (WINDOW[0], datetime(2027, 7, 1, tzinfo=ZONE))
    elif change == "another zone":
        zone = ZoneInfo("America/Denver")
    elif change == "rebuild":
        full = True
    else:  # replaced by another file (as editors save), with other bytes
        replacement = plan_file.with_suffix(".new")
        replacement.write_bytes(plan_file.read_bytes() + b"\r\n")
        replacement.replace(plan_file)
    result = IcsFileReader(plan_file, "plan").read(*window, zone, store, full=full)
    assert len(parses) == 2
    if change == "rewrite same size and times":
        assert any("Long Ran" in event.summary for event in result.events)


def test_a_damaged_kept_read_is_parsed_again(plan_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parses = _parses(monkeypatch)
    store = MemoryStore()
    first = IcsFileReader(plan_file, "plan").read(*WINDOW, ZONE, store, full=False)
    token = store.token()
    store.save(token, {"read": ("1", b'{"events": [["half a row"]], "problems": []}')})
    again = IcsFileReader(plan_file, "plan").read(*WINDOW, ZONE, store, full=False)
    assert len(parses) == 2
    _same(first, again)


def test_times_in_a_zone_that_cannot_be_restored_are_not_kept(
    plan_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fixed offset (or a zone built from a private VTIMEZONE) cannot be restored as it was: the
    read is not kept, the next pass parses the file again."""
    offset = timezone(timedelta(hours=3))
    odd = SourceEvent(
        "run-1", "Easy run", datetime(2026, 12, 1, 7, tzinfo=offset), datetime(2026, 12, 1, 8, tzinfo=offset)
    )
    assert read_to_json(ReadResult([odd]), "plan") is None
    parses: list[int] = []

    def odd_read(*_args: object, **_kwargs: object) -> ReadResult:
        parses.append(1)
        return ReadResult([odd])

    monkeypatch.setattr("calsync.adapters.ics_read.parse_ics", odd_read)
    store = MemoryStore()
    store.save("an older read", {"read": ("1", b"{}")})
    assert IcsFileReader(plan_file, "plan").read(*WINDOW, ZONE, store, full=False).events == [odd]
    key = store.token()
    assert key is not None
    assert key != "an older read"
    assert store.objects() == {}  # the key alone: this file's read is not kept
    # the next process parses again, but does not write the state again
    assert IcsFileReader(plan_file, "plan").read(*WINDOW, ZONE, store, full=False).events == [odd]
    assert len(parses) == 2
    assert store.saves == 2


@pytest.mark.corpus
@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_every_corpus_read_comes_back_the_same_or_is_not_kept(corpus_dir: Path, path: Path) -> None:
    del corpus_dir  # only for its skip when the corpus is absent
    try:
        result = read_ics_file(
            path, zone=ZONE, window_start=WINDOW[0].replace(year=2000), window_end=WINDOW[1]
        )
    except Exception:
        pytest.skip("not readable (see test_ics_corpus.py)")
    data = read_to_json(result, "the source")
    if data is not None:
        _same(result, read_from_json(data, "the source"))


def test_an_idle_sync_of_a_local_plan_parses_no_calendar(tmp_path: Path) -> None:
    """A ``calsync sync`` process with nothing changed imports no iCalendar library, also right
    after a process that wrote: the source's read and the target's listing are the ones the last
    process kept (a write keeps the listing of what it wrote)."""
    (tmp_path / "plan.ics").write_bytes(EXAMPLE.read_bytes())
    config = (ROOT / "config" / "example.toml").read_text(encoding="utf-8")
    config = config.replace('path = "example-plan.ics"', 'path = "plan.ics"').replace(
        'path = "../out/example-strength.ics"', 'path = "out.ics"'
    )
    (tmp_path / "calsync.toml").write_text(config, encoding="utf-8")
    env = {**os.environ, "STATE_DIRECTORY": str(tmp_path / "state")}
    argv = ["--config", str(tmp_path / "calsync.toml"), "sync", "--now", "2026-11-27T07:30"]
    code = (
        "import sys, io, contextlib\nfrom calsync.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    assert main({argv!r}) == 0\n"
        "print(out.getvalue().strip())\n"
        "libraries = ('recurring_ical_events', 'calsync.adapters.ics_read', 'icalendar')\n"
        "print(*(m in sys.modules for m in libraries))"
    )
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert "62 created" in first.stdout
    assert first.stdout.splitlines()[-1] == "True True True"
    # the next process lists the file the first one wrote from the listing that write kept
    listed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert "62 unchanged" in listed.stdout
    assert listed.stdout.splitlines()[-1] == "False False False"
    # a moved run: the source is parsed, the target is parsed once to be changed (by the batch)
    plan = tmp_path / "plan.ics"
    plan.write_bytes(
        plan.read_bytes()
        .replace(b"DTSTART;VALUE=DATE:20261205", b"DTSTART;VALUE=DATE:20261206", 1)
        .replace(b"DTEND;VALUE=DATE:20261206", b"DTEND;VALUE=DATE:20261207", 1)
    )
    moved = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert "updated" in moved.stdout
    assert " 0 updated" not in moved.stdout
    assert moved.stdout.splitlines()[-1] == "True True True"
    # and the process after the write parses nothing
    idle = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert "62 unchanged" in idle.stdout
    assert idle.stdout.splitlines()[-1] == "False False False"
    # the target's file changed by a person: parsed again, their edit kept
    target = tmp_path / "out.ics"
    target.write_bytes(target.read_bytes().replace(b"SUMMARY:Strength", b"SUMMARY:My strength", 1))
    edited = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert "62 unchanged" in edited.stdout
    assert edited.stdout.splitlines()[-1] == "False False True"
    assert b"SUMMARY:My strength" in target.read_bytes()


def test_the_target_listing_is_kept_for_the_next_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from calsync.adapters.ics_target import _OWNED_MEMO, IcsFileTarget

    golden = ROOT / "tests" / "data" / "golden"
    source = golden / "example-strength.ics"
    path = tmp_path / "out.ics"
    path.write_bytes(source.read_bytes())
    plan_id = "example"
    store = MemoryStore()
    parses: list[bytes | None] = []
    real = IcsFileTarget._read_owned

    def counted(self: IcsFileTarget, data: bytes) -> tuple[list[object], list[str]]:
        parses.append(data)
        return real(self, data)  # type: ignore[return-value]

    monkeypatch.setattr(IcsFileTarget, "_read_owned", counted)
    first = IcsFileTarget(path, plan_id, ZONE, store=store).list_owned()
    _OWNED_MEMO.clear()  # a new process
    again = IcsFileTarget(path, plan_id, ZONE, store=store).list_owned()
    assert len(parses) == 1
    assert first
    assert first == again
    assert [(e.href, e.etag, e.start, e.end) for e in first] == [
        (e.href, e.etag, e.start, e.end) for e in again
    ]
    # the same length and times, other bytes: parsed again
    before = path.stat()
    path.write_bytes(path.read_bytes().replace(b"SEQUENCE:0", b"SEQUENCE:1", 1))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    _OWNED_MEMO.clear()
    IcsFileTarget(path, plan_id, ZONE, store=store).list_owned()
    assert len(parses) == 2


def test_what_is_hashed_is_what_is_parsed(plan_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The key names the bytes the kept read was made from: one read of the file serves both."""
    import hashlib

    from calsync.adapters import ics_file

    reads: list[Path] = []
    real = ics_file.read_source_file

    def counted(path: Path, label: str) -> tuple[ics_file.FileIdentity, bytes]:
        reads.append(path)
        return real(path, label)

    monkeypatch.setattr(ics_file, "read_source_file", counted)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} read apart"))
    parses = _parses(monkeypatch)
    store = MemoryStore()
    IcsFileReader(plan_file, "plan").read(*WINDOW, ZONE, store, full=False)
    assert reads == [plan_file], "the file is read once, for the hash and the parse"
    key = store.token()
    assert key is not None
    assert hashlib.sha256(parses[0]).hexdigest() in key
    assert key.startswith(reader_key())


def test_two_plans_reading_one_file_each_keep_their_own_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plans read one file with their own windows, zones and names: each keeps its read, and an
    idle pass of either writes nothing and parses nothing."""
    from calsync.config import parse_config
    from calsync.pipeline import read_sources, window_for
    from calsync.state import State

    (tmp_path / "plan.ics").write_bytes(EXAMPLE.read_bytes() + b"")
    text = "".join(
        f'[[plan]]\nid = "{plan}"\ntimezone = "{zone}"\nhorizon_weeks = {weeks}\n'
        f'[[plan.source]]\nkind = "ics_file"\npath = "plan.ics"\nname = "{plan}\'s plan"\n'
        for plan, zone, weeks in (("alice", "Europe/Berlin", 16), ("bob", "America/New_York", 24))
    )
    config = parse_config(text, tmp_path / "calsync.toml")
    now = datetime(2026, 11, 27, 7, 30, tzinfo=ZONE)
    with State(tmp_path / "state.sqlite") as state:
        first = {p.id: read_sources(p, window_for(p, now), state) for p in config.plan}
        keys = {p.id: f"source:file:{tmp_path / 'plan.ics'}#{p.id}" for p in config.plan}
        before = {plan_id: state.token(key) for plan_id, key in keys.items()}
        saves: list[str] = []
        real_save = State.save_sync

        def counted_save(self: State, key: str, *args: object, **kwargs: object) -> None:
            saves.append(key)
            real_save(self, key, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(State, "save_sync", counted_save)
        parses = _parses(monkeypatch)
        again = {p.id: read_sources(p, window_for(p, now), state) for p in config.plan}
        after = {plan_id: state.token(key) for plan_id, key in keys.items()}
    assert (saves, parses) == ([], []), "an idle pass writes nothing and parses nothing"
    assert before == after
    assert all(before.values())
    for plan_id in ("alice", "bob"):
        assert again[plan_id].events == first[plan_id].events
        assert {e.source for e in again[plan_id].events} == {f"{plan_id}'s plan"}


WRONG_TYPES = (
    b'{"events": [["u", "s", ["date", "2026-12-01"], ["date", "2026-12-02"], null, "", "abc", "",'
    b' "false", null]], "problems": []}'
)


@pytest.mark.parametrize(
    "damage",
    [b"[" * 200_000, WRONG_TYPES, b'{"events": [], "problems": "xy"}', b"\xff"],
    ids=["deep", "wrong types", "problems not a list", "not UTF-8"],
)
def test_a_kept_read_of_another_shape_is_refused(damage: bytes) -> None:
    with pytest.raises(KeptUnusableError):
        read_from_json(damage, "plan")
    with pytest.raises(KeptUnusableError):
        owned_from_json(damage)


@pytest.mark.parametrize(
    ("column", "value"),
    [(0, 7), (2, "no_such_kind"), (6, ["when", "x"]), (7, None), (8, "0"), (10, ["abc"]), (12, 3)],
    ids=["uid", "kind", "start", "end", "sequence", "hash", "etag"],
)
def test_a_kept_listing_row_of_another_shape_is_refused(column: int, value: object) -> None:
    """Every field of a kept listing's row is checked: a damaged one is parsed again, never used."""
    import json

    from calsync.core.reconcile import OwnedEvent

    start = datetime(2026, 11, 30, 6, tzinfo=ZONE)
    event = OwnedEvent(
        "calsync-p-2026W49-s1", "p", SessionKind.HEAVY_LOWER, "2026-W49", "s1", "Strength",
        start, start + timedelta(minutes=45), 0, "abc", "abc",
    )  # fmt: skip
    good = owned_to_json([event], [])
    assert good is not None
    assert owned_from_json(good)[0] == [event]
    row = json.loads(good)["owned"][0]
    row[column] = value
    with pytest.raises(KeptUnusableError):
        owned_from_json(json.dumps({"owned": [row], "skipped": []}).encode())


def test_the_reader_key_names_the_libraries_that_parse() -> None:
    from calsync.adapters import kept

    assert kept._library_version("icalendar").startswith("icalendar-")
    assert kept._library_version("recurring_ical_events").lower().startswith("recurring_ical_events-")
    assert kept._library_version("no_such_library_here") == "no_such_library_here:absent"


def test_what_no_plan_uses_any_more_is_forgotten(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync of every plan forgets the kept reads and listings of files no plan uses: the state
    does not grow with every renamed plan file."""
    from calsync.cli import main
    from calsync.state import State

    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "state"))
    config = tmp_path / "calsync.toml"
    for name in ("first.ics", "second.ics"):
        (tmp_path / name).write_bytes(EXAMPLE.read_bytes())
        config.write_text(
            f'[[plan]]\nid = "me"\ntimezone = "Europe/Berlin"\n[[plan.source]]\nkind = "ics_file"\n'
            f'path = "{name}"\n[plan.target]\nkind = "ics_file"\npath = "out.ics"\n',
            encoding="utf-8",
        )
        assert main(["--config", str(config), "sync", "--now", "2026-11-27T07:30"]) == 0
    with State(tmp_path / "state" / "state.sqlite") as state:
        assert state.token(f"source:file:{tmp_path / 'second.ics'}#me") is not None
        assert state.token(f"source:file:{tmp_path / 'first.ics'}#me") is None
        assert state.objects(f"source:file:{tmp_path / 'first.ics'}#me") == {}


_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=80)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    title=_TEXT,
    reason=_TEXT,
    exercise=_TEXT,
    zone=st.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC", "Asia/Kolkata"]),
    day=st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31)),
    kind=st.sampled_from(list(SessionKind)),
)
def test_the_listing_kept_after_a_write_is_what_parsing_the_written_file_gives(  # noqa: PLR0917
    tmp_path: Path, title: str, reason: str, exercise: str, zone: str, day: date, kind: SessionKind
) -> None:
    """The listing a write keeps for the next process is made from the calendar in memory, not by
    parsing what was written: it must be exactly what a parse gives, whatever the text (commas,
    backslashes, line breaks, long lines, any script), zone or day. Otherwise the next pass would
    take calsync's own session for a person's edit and stop updating it."""
    from calsync.adapters.ics_target import _OWNED_MEMO, IcsFileTarget

    path = tmp_path / f"out-{zone.replace('/', '-')}.ics"
    path.unlink(missing_ok=True)
    store = MemoryStore()
    tz = ZoneInfo(zone)
    written = [
        support.session(
            day,
            "s1",
            kind,
            zone=tz,
            plan_id="p",
            title=title or "Strength",
            reasons=(reason,),
            exercises=(Exercise(exercise or "Squat", "3 x 5"),),
        ),
        support.session(day + timedelta(days=1), "rest", SessionKind.REST, plan_id="p", zone=tz),
    ]
    target = IcsFileTarget(path, "p", tz, store=store)
    with target.batch():
        for one in written:
            target.create(one, now=datetime(2026, 1, 1, tzinfo=UTC))
    _OWNED_MEMO.clear()
    kept = load_kept(store, target._listing_key(path.read_bytes()), "owned", owned_from_json, "test")
    parsed = IcsFileTarget(path, "p", tz)._read_owned(path.read_bytes())
    assert kept is not None, "a write keeps its listing"
    assert kept == parsed
    assert [(e.href, e.etag, e.start, e.end) for e in kept[0]] == [
        (e.href, e.etag, e.start, e.end) for e in parsed[0]
    ]
    assert len(parsed[0]) == 2


class _FullDiskStore(MemoryStore):
    """A state that cannot save (its disk is full)."""

    def save(self, token: str | None, objects: Mapping[str, tuple[str, bytes]]) -> None:  # noqa: ARG002
        raise OSError(28, "No space left on device")


def test_a_write_whose_listing_cannot_be_kept_is_still_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Keeping the listing after a write only spares the next process a parse: when the state
    cannot keep it, the pass that wrote the file still succeeds and says why."""
    from calsync.adapters.ics_target import IcsFileTarget

    path = tmp_path / "out.ics"
    target = IcsFileTarget(path, "p", ZONE, store=_FullDiskStore())
    planned = support.session(date(2026, 12, 1), plan_id="p")
    with target.batch():
        target.create(planned, now=datetime(2026, 11, 27, tzinfo=UTC))
    assert planned.uid.encode() in path.read_bytes()
    assert "cannot keep the listing" in caplog.text


def test_the_daemons_reader_does_not_read_an_unchanged_file_again(
    plan_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reader a daemon keeps remembers its last read while the file's identity stays the
    same: its idle passes neither parse nor even read the file; a changed file is read again."""
    from calsync.adapters import ics_file

    reads: list[Path] = []
    real = ics_file.read_source_file

    def counted(path: Path, label: str) -> tuple[ics_file.FileIdentity, bytes]:
        reads.append(path)
        return real(path, label)

    monkeypatch.setattr(ics_file, "read_source_file", counted)
    parses = _parses(monkeypatch)
    reader = IcsFileReader(plan_file, "plan")
    first = reader.read(*WINDOW, ZONE, MemoryStore(), full=False)
    again = reader.read(*WINDOW, ZONE, MemoryStore(), full=False)
    assert again is first
    assert (len(reads), len(parses)) == (1, 1)
    plan_file.write_bytes(plan_file.read_bytes().replace(b"Long Run 18 km", b"Long Run 19 km", 1))
    changed = reader.read(*WINDOW, ZONE, MemoryStore(), full=False)
    assert (len(reads), len(parses)) == (2, 2)
    assert changed != first
