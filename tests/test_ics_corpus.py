"""The read step against real-world calendars (../shared/ics-corpus, see its MANIFEST.md).

Every file must give a ReadResult or a SourceError (never another exception, never a hang);
the interesting ones are then checked against values read off the files by hand.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from calsync.adapters.ics_read import ReadResult, parse_ics, read_ics_file
from calsync.errors import SourceError
from conftest import CORPUS, corpus_files

pytestmark = pytest.mark.corpus

BERLIN = ZoneInfo("Europe/Berlin")
CHICAGO = ZoneInfo("America/Chicago")
TIME_LIMIT_S = 30
FILES = corpus_files()


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging) when the block runs longer than ``seconds``."""

    def on_alarm(signum: int, frame: object) -> None:
        raise TimeoutError(f"reading took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def read(
    corpus_dir: Path,
    relative: str,
    zone: ZoneInfo = BERLIN,
    start: datetime | None = None,
    end: datetime | None = None,
) -> ReadResult:
    """Read one corpus file (default window: 2000-01-01 to 2030-12-31 in ``zone``)."""
    with time_limit(TIME_LIMIT_S):
        return read_ics_file(
            corpus_dir / relative,
            zone=zone,
            window_start=start or datetime(2000, 1, 1, tzinfo=zone),
            window_end=end or datetime(2030, 12, 31, tzinfo=zone),
        )


def instant(value: date) -> datetime:
    """A start as an aware datetime (all-day: midnight in the test zone) for ordering."""
    if isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=BERLIN)


def test_corpus_is_present(corpus_dir: Path) -> None:
    if not FILES:
        pytest.skip(f"no .ics file in {CORPUS}")
    assert len(FILES) >= 40


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_every_file_reads_or_fails_cleanly(corpus_dir: Path, path: Path) -> None:
    relative = str(path.relative_to(CORPUS))
    try:
        result = read(corpus_dir, relative)
    except SourceError as error:
        message = str(error)
        assert message.startswith(f"{path.name}: ")
        assert "\n" not in message
        return
    assert isinstance(result, ReadResult)
    starts = [e.start if isinstance(e.start, datetime) else None for e in result.events]
    assert all(s is None or s.tzinfo is not None for s in starts), "every timed event must be aware"
    for event in result.events:
        assert isinstance(event.start, datetime) == isinstance(event.end, datetime)
        assert event.end >= event.start
        assert event.uid
    assert all(line.startswith(f"{path.name}: ") for line in result.problems)
    order = [(instant(e.start), e.key) for e in result.events]
    assert order == sorted(order)


_VEVENT = re.compile(rb"^BEGIN:VEVENT\r?\n.*?^END:VEVENT\r?\n", re.DOTALL | re.MULTILINE)


def reversed_events(data: bytes) -> bytes:
    """The same bytes with the VEVENT blocks in reverse order (everything else in place)."""
    blocks = iter(reversed(_VEVENT.findall(data)))
    return _VEVENT.sub(lambda _: next(blocks), data)


def outcome(data: bytes, name: str) -> ReadResult | str:
    """The ReadResult, or the SourceError's message."""
    start, end = datetime(2000, 1, 1, tzinfo=BERLIN), datetime(2030, 12, 31, tzinfo=BERLIN)
    try:
        with time_limit(TIME_LIMIT_S):
            return parse_ics(data, name=name, zone=BERLIN, window_start=start, window_end=end)
    except SourceError as error:
        return str(error)


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(CORPUS)) for p in FILES])
def test_reverse_component_order_gives_the_same_result(corpus_dir: Path, path: Path) -> None:
    data = (corpus_dir / path.relative_to(CORPUS)).read_bytes()
    assert outcome(reversed_events(data), path.name) == outcome(data, path.name)


# --- specific files, values read off the files -------------------------------------------------


def test_khal_moved_and_cancelled_occurrences(corpus_dir: Path) -> None:
    # Weekly 07:00-12:00 Europe/Berlin from 30 June 2014 until 6 Aug; RECURRENCE-IDs in UTC:
    # 20140707T050000Z moved to 09:00-14:00, 20140714T050000Z cancelled.
    result = read(corpus_dir, "khal/event_rrule_recuid_cancelled.ics")
    assert [(e.start, e.end) for e in result.events] == [
        (datetime(2014, 6, 30, 7, tzinfo=BERLIN), datetime(2014, 6, 30, 12, tzinfo=BERLIN)),
        (datetime(2014, 7, 7, 9, tzinfo=BERLIN), datetime(2014, 7, 7, 14, tzinfo=BERLIN)),
        (datetime(2014, 7, 21, 7, tzinfo=BERLIN), datetime(2014, 7, 21, 12, tzinfo=BERLIN)),
        (datetime(2014, 7, 28, 7, tzinfo=BERLIN), datetime(2014, 7, 28, 12, tzinfo=BERLIN)),
        (datetime(2014, 8, 4, 7, tzinfo=BERLIN), datetime(2014, 8, 4, 12, tzinfo=BERLIN)),
    ]
    assert result.events[1].recurrence_id == "2014-07-07T07:00:00+02:00"
    assert {e.uid for e in result.events} == {"event_rrule_recurrence_id"}
    assert result.problems == []


def test_office365_windows_tzid_without_vtimezone(corpus_dir: Path) -> None:
    # DTSTART;TZID=W. Europe Standard Time:20240426T140000 (no VTIMEZONE in the file)
    result = read(corpus_dir, "ical/office_365_extended_timezone.ics", zone=ZoneInfo("UTC"))
    (event,) = result.events
    assert event.summary == "Uffe"
    assert event.start == datetime(2024, 4, 26, 14, tzinfo=BERLIN)
    assert event.start == datetime(2024, 4, 26, 12, tzinfo=ZoneInfo("UTC"))
    assert event.end == datetime(2024, 4, 26, 15, tzinfo=BERLIN)


def test_x_wr_timezone_floating_is_brussels(corpus_dir: Path) -> None:
    # X-WR-TIMEZONE:Europe/Brussels, DTSTART:20210916T210000 (floating)
    (event,) = read(corpus_dir, "x-wr-timezone/single-event-no-tz.in.ics", zone=ZoneInfo("UTC")).events
    brussels = ZoneInfo("Europe/Brussels")
    assert event.start == datetime(2021, 9, 16, 21, 0, tzinfo=brussels)
    assert event.end == datetime(2021, 9, 16, 22, 45, tzinfo=brussels)


def test_floating_time_ignores_unused_custom_vtimezone(corpus_dir: Path) -> None:
    # DTSTART:20250610T140000 floating; a "Customized Time Zone 1" VTIMEZONE is defined but unused
    tokyo = ZoneInfo("Asia/Tokyo")
    (event,) = read(corpus_dir, "node-ical/floating-dtstart-custom-vtimezone.ics", zone=tokyo).events
    assert event.start == datetime(2025, 6, 10, 14, tzinfo=tokyo)
    assert isinstance(event.start, datetime)
    assert event.start.tzinfo == tokyo
    assert event.end == datetime(2025, 6, 10, 15, tzinfo=tokyo)


def test_large_file_keeps_every_good_event_and_names_the_bad(corpus_dir: Path) -> None:
    # 401 VEVENTs: 394 good, 6 with impossible dates (Feb 30 ...), 1 with two DTSTARTs at the end.
    result = read(corpus_dir, "node-ical/large-file-with-late-error.ics")
    assert len(result.events) == 394
    assert len(result.problems) == 7
    assert any("event_error@example.com" in p and "2 DTSTART" in p for p in result.problems)
    assert any("event060@example.com" in p and "20240230" in p for p in result.problems)
    assert "event400@example.com" in {e.uid for e in result.events}


@pytest.mark.parametrize(
    ("relative", "words"),
    [
        ("ical/empty.ics", "empty"),
        ("icalendar/big_bad_calendar.ics", "none of the 20 events"),
        ("icalendar/issue_1050_multiple_calendars.ics", "none of the 2 events"),
        ("icalendar/broken_ical.ics", "none of the 1 events"),
        ("icalendar/pacific_fiji.ics", "2 DTSTART"),
        ("ical/fold.ics", "no readable DTSTART"),
    ],
)
def test_feeds_with_nothing_readable_are_source_errors(corpus_dir: Path, relative: str, words: str) -> None:
    with pytest.raises(SourceError, match=words):
        read(corpus_dir, relative)


def test_stray_line_issue_104_is_salvaged(corpus_dir: Path) -> None:
    # A stray "X" line makes icalendar reject the document; the one VEVENT (no UID) is fine.
    result = read(corpus_dir, "icalendar/issue_104_broken_calendar.ics")
    (event,) = result.events
    assert event.summary == "Broken Eevnt"
    assert event.start == datetime(2014, 4, 1, 2, tzinfo=BERLIN)
    assert event.uid.startswith("nouid-")
    assert event.uid == read(corpus_dir, "icalendar/issue_104_broken_calendar.ics").events[0].uid
    assert len(result.problems) == 1
    assert "event by event" in result.problems[0]


def test_broken_utc_offset_vtimezone_only_is_empty_with_problem(corpus_dir: Path) -> None:
    result = read(corpus_dir, "icalendar/parsing_error_in_UTC_offset.ics")
    assert result.events == []
    assert any("Europe/Prague" in p for p in result.problems)


def test_bom_calendar_is_empty_not_an_error(corpus_dir: Path) -> None:
    assert read(corpus_dir, "icalendar/bom_calendar.ics") == ReadResult(events=[], problems=[])


def test_issue_48_weekly_series_keeps_wall_time_across_us_dst(corpus_dir: Path) -> None:
    # c4p6@google.com: weekly MO,TU,TH,FR 08:15-08:30 America/Chicago; DST began 14 March 2021.
    result = read(
        corpus_dir,
        "python-recurring-ical-events/issue_48_dst.ics",
        zone=CHICAGO,
        start=datetime(2021, 3, 8, tzinfo=CHICAGO),
        end=datetime(2021, 3, 20, tzinfo=CHICAGO),
    )
    series = [e for e in result.events if e.uid == "c4p6@google.com"]
    assert [e.start.day for e in series if isinstance(e.start, datetime)] == [8, 9, 11, 12, 15, 16, 18, 19]
    assert all(isinstance(e.start, datetime) and (e.start.hour, e.start.minute) == (8, 15) for e in series)
    offsets = [e.start.utcoffset() for e in series if isinstance(e.start, datetime)]
    assert offsets == [timedelta(hours=-6)] * 4 + [timedelta(hours=-5)] * 4
    assert all(e.end - e.start == timedelta(minutes=15) for e in series)  # type: ignore[operator]


def test_issue_48_thanksgiving_exdates(corpus_dir: Path) -> None:
    # EXDATE;TZID=America/Chicago 20201126T081500 and 20201127T081500
    result = read(
        corpus_dir,
        "python-recurring-ical-events/issue_48_dst.ics",
        zone=CHICAGO,
        start=datetime(2020, 11, 23, tzinfo=CHICAGO),
        end=datetime(2020, 11, 30, tzinfo=CHICAGO),
    )
    days = [
        e.start.day for e in result.events if e.uid == "c4p6@google.com" and isinstance(e.start, datetime)
    ]
    assert days == [23, 24]


def test_kiev_alias_with_override_before_master(corpus_dir: Path) -> None:
    # Daily 14:00-15:00 Europe/Kiev (UTC+3 in summer) 25-28 Aug 2016; 26 Aug re-titled "bla bla".
    result = read(corpus_dir, "node-ical/google-calendar-kiev-tz.ics", zone=ZoneInfo("Europe/Kyiv"))
    assert [
        (e.start.day, e.start.hour, e.summary) for e in result.events if isinstance(e.start, datetime)
    ] == [
        (25, 14, "repeated"),
        (26, 14, "bla bla"),
        (27, 14, "repeated"),
        (28, 14, "repeated"),
    ]
    assert all(
        e.start.utcoffset() == timedelta(hours=3) for e in result.events if isinstance(e.start, datetime)
    )


def test_each_week_but_one_deleted_exdate_in_utc(corpus_dir: Path) -> None:
    # Weekly COUNT=8 from Mon 4 March 2019 00:30 Europe/Berlin; EXDATE:20190310T233000Z = 11 March 00:30.
    result = read(corpus_dir, "python-recurring-ical-events/each_week_but_one_deleted.ics")
    assert [(e.start.month, e.start.day) for e in result.events if isinstance(e.start, datetime)] == [
        (3, 4),
        (3, 18),
        (3, 25),
        (4, 1),
        (4, 8),
        (4, 15),
        (4, 22),
    ]
    assert all(
        isinstance(e.start, datetime) and (e.start.hour, e.start.minute) == (0, 30) for e in result.events
    )


def test_strava_training_plan_all_day_events(corpus_dir: Path) -> None:
    result = read(corpus_dir, "strava-mcp/training_plan.ics")
    assert len(result.events) == 24
    assert result.problems == []
    assert all(e.all_day and e.end == e.start + timedelta(days=1) for e in result.events)
    first = result.events[0]
    assert (first.start, first.summary) == (date(2026, 2, 8), "🏃 Long Run 8.5km")
    assert first.uid == "2026-02-08T00:00:00-long_run-🏃 Long Run 8.5km@leo-mcp"
    assert first.description == "8.5km @ Long Run pace (8:04/km - 7:00/km)"
    assert first.busy is False  # TRANSP:TRANSPARENT
    same_day = [e.summary for e in result.events if e.start == date(2026, 2, 13)]
    assert same_day == ["🏃 Easy Run 4.5km", "💪 Strength: Full Body"]


def test_calendar_labs_same_day_dtend_is_one_day(corpus_dir: Path) -> None:
    (event,) = read(corpus_dir, "ical/calendar_labs_same_day_dtend.ics").events
    assert (event.start, event.end) == (date(2025, 12, 8), date(2025, 12, 9))


def test_orphan_override_floating(corpus_dir: Path) -> None:
    (event,) = read(corpus_dir, "khal/event_dt_recuid_no_master.ics").events
    assert event.start == datetime(2017, 3, 29, 16, 0, tzinfo=BERLIN)
    assert event.recurrence_id is not None


def test_cancelled_events_are_dropped(corpus_dir: Path) -> None:
    # Formula 1 feed: 123 VEVENTs of which 15 STATUS:CANCELLED.
    assert len(read(corpus_dir, "ics_calendar/issue34.ics").events) == 108
    apple = read(corpus_dir, "node-ical/tentative-apple-calendar.ics").events
    assert len(apple) == 3


def test_microsoft_byday_with_spaces_expands(corpus_dir: Path) -> None:
    # Daily on weekdays 10:00, 3 July to 22 July 2015 ("BYDAY=MO, TU, WE, TH, FR")
    result = read(corpus_dir, "icalendar/issue_165_missing_event.ics")
    assert len(result.events) == 14
    assert result.events[0].start == datetime(2015, 7, 3, 10, tzinfo=BERLIN)


def test_reading_is_deterministic(corpus_dir: Path) -> None:
    first = read(corpus_dir, "python-recurring-ical-events/daylight_saving_time.ics")
    assert first == read(corpus_dir, "python-recurring-ical-events/daylight_saving_time.ics")
