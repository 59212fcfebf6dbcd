"""Tests of the read step for .ics data (calsync.adapters.ics_read), on hand-written calendars."""

from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from calsync.adapters.ics_read import ReadResult, parse_ics, read_ics_file
from calsync.core.model import SourceEvent
from calsync.errors import SourceError

BERLIN = ZoneInfo("Europe/Berlin")
DATA = Path(__file__).parent / "data" / "read"
PLAN = DATA / "recurring_plan.ics"
START = datetime(2026, 3, 1, tzinfo=BERLIN)
END = datetime(2026, 4, 15, tzinfo=BERLIN)


def cal(*events: str, header: str = "") -> bytes:
    """A VCALENDAR (CRLF) around VEVENT bodies written with LF and no indentation."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calsync tests//EN"]
    lines += [line for line in header.splitlines() if line]
    for body in events:
        lines += ["BEGIN:VEVENT", *[line for line in body.strip().splitlines() if line], "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def read(data: bytes, zone: ZoneInfo = BERLIN, start: datetime = START, end: datetime = END) -> ReadResult:
    """parse_ics with the test defaults."""
    return parse_ics(data, name="plan.ics", zone=zone, window_start=start, window_end=end)


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, zone: ZoneInfo = BERLIN
) -> datetime:
    """An aware datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def timed(value: date) -> datetime:
    """A timed event's start or end (narrowed from ``date | datetime``)."""
    assert isinstance(value, datetime), f"expected a datetime, got {value!r}"
    return value


def reverse_events(data: bytes) -> bytes:
    """The same calendar with its VEVENT components in reverse order."""
    text = data.decode()
    blocks = re.findall(r"BEGIN:VEVENT\r?\n.*?END:VEVENT\r?\n", text, flags=re.DOTALL)
    assert blocks, "no VEVENT to reverse"
    first = text.index(blocks[0])
    rest = text[first + sum(len(b) for b in blocks) :]
    return (text[:first] + "".join(reversed(blocks)) + rest).encode()


def summary(result: ReadResult) -> list[tuple[object, object, str, str | None]]:
    """(start, end, summary, recurrence_id) per event."""
    return [(e.start, e.end, e.summary, e.recurrence_id) for e in result.events]


# --- times ---------------------------------------------------------------------------------


def test_floating_time_is_read_in_the_plan_zone() -> None:
    result = read(cal("UID:f1\nSUMMARY:Easy Run\nDTSTART:20260305T070000\nDTEND:20260305T074000"))
    (event,) = result.events
    assert event.start == at(2026, 3, 5, 7, 0)
    assert timed(event.start).utcoffset() == timedelta(hours=1)
    assert event.end == at(2026, 3, 5, 7, 40)
    assert result.problems == []


def test_floating_time_follows_x_wr_timezone_when_present() -> None:
    data = cal("UID:f2\nSUMMARY:Run\nDTSTART:20260305T070000", header="X-WR-TIMEZONE:America/New_York")
    (event,) = read(data).events
    assert event.start == datetime(2026, 3, 5, 7, 0, tzinfo=ZoneInfo("America/New_York"))
    start = timed(event.start)
    assert start.tzinfo == BERLIN
    assert (start.hour, start.minute) == (13, 0)


def test_utc_and_other_zones_are_converted_to_the_plan_zone() -> None:
    data = cal(
        "UID:u1\nSUMMARY:UTC run\nDTSTART:20260305T060000Z\nDTEND:20260305T070000Z",
        "UID:u2\nSUMMARY:Chicago run\nDTSTART;TZID=US/Central:20260305T060000",
    )
    events = {e.uid: e for e in read(data).events}
    assert events["u1"].start == at(2026, 3, 5, 7, 0)
    assert timed(events["u1"].start).tzinfo == BERLIN
    assert events["u2"].start == at(2026, 3, 5, 13, 0)


def test_windows_zone_name_without_vtimezone() -> None:
    data = cal("UID:w1\nSUMMARY:Run\nDTSTART;TZID=W. Europe Standard Time:20260705T070000")
    (event,) = read(data, end=at(2026, 8, 1)).events
    assert event.start == at(2026, 7, 5, 7, 0)
    assert timed(event.start).utcoffset() == timedelta(hours=2)


def test_dst_day_and_weekly_series_across_dst_keep_wall_time() -> None:
    data = cal(
        "UID:d1\nSUMMARY:DST day run\nDTSTART:20260329T050000Z\nDTEND:20260329T060000Z",
        "UID:d2\nSUMMARY:Weekly\nDTSTART;TZID=Europe/Berlin:20260322T063000\nRRULE:FREQ=WEEKLY;COUNT=3",
    )
    result = read(data)
    dst_day = next(e for e in result.events if e.uid == "d1")
    assert dst_day.start == at(2026, 3, 29, 7, 0)
    assert timed(dst_day.start).utcoffset() == timedelta(hours=2)
    weekly = [timed(e.start) for e in result.events if e.uid == "d2"]
    assert [(s.day, s.hour, s.minute) for s in weekly] == [(22, 6, 30), (29, 6, 30), (5, 6, 30)]
    assert [s.utcoffset() for s in weekly] == [timedelta(hours=1), timedelta(hours=2), timedelta(hours=2)]


def test_all_day_events_have_dates_and_exclusive_ends() -> None:
    data = cal(
        "UID:a1\nSUMMARY:Long Run\nDTSTART;VALUE=DATE:20260307\nDTEND;VALUE=DATE:20260308",
        "UID:a2\nSUMMARY:Same-day end\nDTSTART;VALUE=DATE:20260308\nDTEND;VALUE=DATE:20260308",
        "UID:a3\nSUMMARY:No end\nDTSTART;VALUE=DATE:20260309",
        "UID:a4\nSUMMARY:Camp\nDTSTART;VALUE=DATE:20260310\nDTEND;VALUE=DATE:20260313",
    )
    events = {e.uid: e for e in read(data).events}
    assert (events["a1"].start, events["a1"].end) == (date(2026, 3, 7), date(2026, 3, 8))
    assert (events["a2"].start, events["a2"].end) == (date(2026, 3, 8), date(2026, 3, 9))
    assert (events["a3"].start, events["a3"].end) == (date(2026, 3, 9), date(2026, 3, 10))
    assert (events["a4"].start, events["a4"].end) == (date(2026, 3, 10), date(2026, 3, 13))
    assert all(e.all_day and not isinstance(e.start, datetime) for e in events.values())


def test_timed_event_without_end_has_zero_length() -> None:
    (event,) = read(cal("UID:z1\nSUMMARY:Run\nDTSTART:20260305T070000Z")).events
    assert event.end == event.start


def test_end_before_start_is_repaired_and_reported() -> None:
    result = read(cal("UID:e1\nSUMMARY:Typo\nDTSTART:20260305T070000Z\nDTEND:20260305T060000Z"))
    (event,) = result.events
    assert event.end == event.start
    assert len(result.problems) == 1
    assert "e1" in result.problems[0]
    assert "DTEND" in result.problems[0]


# --- recurrence ----------------------------------------------------------------------------


def test_recurring_plan_exdate_rdate_overrides_thisandfuture_cancelled() -> None:
    result = read_ics_file(PLAN, zone=BERLIN, window_start=START, window_end=END)
    assert result.problems == []
    easy = [(e.start, e.end, e.summary, e.recurrence_id) for e in result.events if e.uid == "easy-tue@plan"]
    base, moved, evening = (
        "Run: Easy Run 40 min",
        "Run: Easy Run 40 min (moved)",
        "Run: Easy Run 50 min (evenings)",
    )
    assert easy == [
        (at(2026, 3, 3, 7), at(2026, 3, 3, 7, 40), base, "2026-03-03T07:00:00+01:00"),
        # RDATE;VALUE=PERIOD in UTC: 17:00Z-18:00Z
        (at(2026, 3, 5, 18), at(2026, 3, 5, 19), base, "2026-03-05T18:00:00+01:00"),
        # 10 March: EXDATE; 17 March moved to the 18th in the evening
        (at(2026, 3, 18, 18), at(2026, 3, 18, 18, 40), moved, "2026-03-17T07:00:00+01:00"),
        # 24 March: cancelled; from 31 March on (RANGE=THISANDFUTURE, RECURRENCE-ID in UTC) evenings
        (at(2026, 3, 31, 18, 30), at(2026, 3, 31, 19, 20), evening, "2026-03-31T07:00:00+02:00"),
        (at(2026, 4, 7, 18, 30), at(2026, 4, 7, 19, 20), evening, "2026-04-07T07:00:00+02:00"),
        (at(2026, 4, 14, 18, 30), at(2026, 4, 14, 19, 20), evening, "2026-04-14T07:00:00+02:00"),
    ]
    long_runs = [e for e in result.events if e.uid == "long-sat@plan"]
    assert [(e.start, e.end) for e in long_runs] == [
        (date(2026, 3, 7), date(2026, 3, 8)),
        (date(2026, 3, 14), date(2026, 3, 15)),
        (date(2026, 3, 21), date(2026, 3, 22)),
    ]
    assert [e.recurrence_id for e in long_runs] == ["2026-03-07", "2026-03-14", "2026-03-21"]
    assert all(not e.busy for e in long_runs)
    assert not any(e.uid == "race@plan" for e in result.events), "a cancelled event must be dropped"
    keys = [e.key for e in result.events]
    assert len(keys) == len(set(keys))


def test_text_fields_categories_and_source() -> None:
    result = read_ics_file(PLAN, name="coach", zone=BERLIN, window_start=START, window_end=END)
    first = result.events[0]
    assert first.summary == "Run: Easy Run 40 min"
    assert first.categories == ("Running", "Easy", "Plan")
    assert first.description == "Keep it conversational."
    assert first.location == "Park"
    assert first.busy is True
    assert first.source == "coach"
    moved = next(e for e in result.events if e.summary.endswith("(moved)"))
    assert (moved.description, moved.location, moved.categories) == ("", "", ())


def test_orphan_override_without_master() -> None:
    data = cal(
        "UID:orphan\nSUMMARY:Invited run\nRECURRENCE-ID:20260310T070000\n"
        "DTSTART:20260311T070000\nDTEND:20260311T080000"
    )
    (event,) = read(data).events
    assert event.start == at(2026, 3, 11, 7)
    assert event.recurrence_id == "2026-03-10T07:00:00+01:00"


def test_one_off_event_has_no_recurrence_id() -> None:
    (event,) = read(cal("UID:one\nSUMMARY:Run\nDTSTART:20260305T070000Z")).events
    assert event.recurrence_id is None
    assert event.key == "one"


def test_microsoft_byday_list_with_spaces_is_repaired() -> None:
    data = cal(
        "UID:ms\nSUMMARY:Standup\nDTSTART;TZID=Europe/Berlin:20260302T090000\n"
        "RRULE:FREQ=DAILY;COUNT=5;BYDAY=MO, WE, FR"
    )
    starts = [e.start for e in read(data).events]
    assert starts == [
        at(2026, 3, 2, 9),
        at(2026, 3, 4, 9),
        at(2026, 3, 6, 9),
        at(2026, 3, 9, 9),
        at(2026, 3, 11, 9),
    ]


@pytest.mark.parametrize(
    "rrule",
    [
        "FREQ=SECONDLY",
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;COUNT=3",
        "FREQ=NEVER",
    ],
)
def test_pathological_rrule_is_skipped_quickly(rrule: str) -> None:
    data = cal(
        "UID:good\nSUMMARY:Run\nDTSTART:20260305T070000Z",
        f"UID:bad\nSUMMARY:Loop\nDTSTART:20260305T070000Z\nRRULE:{rrule}",
    )
    began = time.monotonic()
    result = read(data, end=at(2030, 1, 1))
    assert time.monotonic() - began < 5
    assert [e.uid for e in result.events] == ["good"]
    assert len(result.problems) == 1
    assert 'UID "bad"' in result.problems[0]


def test_open_series_far_in_the_future_stays_fast() -> None:
    data = cal("UID:w\nSUMMARY:Run\nDTSTART:20000103T070000Z\nRRULE:FREQ=WEEKLY;UNTIL=99991231T000000Z")
    result = read(data, start=at(2026, 3, 1), end=at(2026, 3, 31))
    assert [e.start.day for e in result.events if isinstance(e.start, datetime)] == [2, 9, 16, 23, 30]


# --- flags, uids, determinism ----------------------------------------------------------------


def test_transparent_is_free_and_opaque_is_busy() -> None:
    data = cal(
        "UID:t1\nSUMMARY:Free\nDTSTART:20260305T070000Z\nTRANSP:TRANSPARENT",
        "UID:t2\nSUMMARY:Busy\nDTSTART:20260305T080000Z\nTRANSP:OPAQUE",
        "UID:t3\nSUMMARY:Default\nDTSTART:20260305T090000Z",
    )
    assert {e.uid: e.busy for e in read(data).events} == {"t1": False, "t2": True, "t3": True}


def test_missing_uid_is_derived_stably() -> None:
    data = cal(
        "SUMMARY:Easy Run\nDTSTART:20260305T070000Z",
        "SUMMARY:Easy Run\nDTSTART:20260306T070000Z",
        "SUMMARY:Tempo\nDTSTART:20260305T070000Z",
    )
    first, second = read(data), read(data)
    uids = [e.uid for e in first.events]
    assert uids == [e.uid for e in second.events]
    assert all(uid.startswith("nouid-") for uid in uids)
    assert len(set(uids)) == 3
    assert sorted(uids) == sorted(e.uid for e in read(reverse_events(data)).events)


def test_same_uid_on_different_one_off_events_keeps_both() -> None:
    data = cal(
        "UID:dup\nSUMMARY:Run A\nDTSTART:20260305T070000Z",
        "UID:dup\nSUMMARY:Run B\nDTSTART:20260306T070000Z",
    )
    result = read(data)
    assert [e.summary for e in result.events] == ["Run A", "Run B"]
    assert len({e.key for e in result.events}) == 2


@pytest.mark.parametrize(
    "data",
    [
        PLAN.read_bytes(),
        cal(
            "UID:x\nSUMMARY:First copy\nDTSTART:20260305T070000Z",
            "UID:x\nSUMMARY:Second copy\nDTSTART:20260305T070000Z",
            "SUMMARY:No uid\nDTSTART;VALUE=DATE:20260306",
            "UID:r\nSUMMARY:Series\nDTSTART:20260302T070000Z\nRRULE:FREQ=DAILY;COUNT=4",
            "UID:r\nSUMMARY:Moved\nRECURRENCE-ID:20260303T070000Z\nDTSTART:20260303T120000Z",
        ),
        cal(
            "UID:ok\nSUMMARY:Run\nDTSTART:20260305T070000Z",
            "UID:b1\nSUMMARY:Broken 1\nDTSTART:20260230T070000Z",
            "UID:b2\nSUMMARY:Broken 2\nDTSTART:20260306T070000Z\nDTSTART:20260307T070000Z",
            "UID:b3\nSUMMARY:Backwards\nDTSTART:20260308T070000Z\nDTEND:20260308T060000Z",
        ),
    ],
    ids=["recurring_plan", "duplicates", "broken"],
)
def test_reverse_component_order_gives_the_same_result(data: bytes) -> None:
    assert read(reverse_events(data)) == read(data)


# --- window ---------------------------------------------------------------------------------


def test_window_clipping() -> None:
    data = cal(
        "UID:before\nSUMMARY:x\nDTSTART:20260228T220000Z\nDTEND:20260228T230000Z",
        "UID:straddles-start\nSUMMARY:x\nDTSTART:20260228T223000Z\nDTEND:20260228T233000Z",
        "UID:inside\nSUMMARY:x\nDTSTART:20260310T070000Z",
        "UID:straddles-end\nSUMMARY:x\nDTSTART:20260414T213000Z\nDTEND:20260414T223000Z",
        "UID:at-end\nSUMMARY:x\nDTSTART:20260414T220000Z",
        "UID:allday-last\nSUMMARY:x\nDTSTART;VALUE=DATE:20260414",
        "UID:allday-after\nSUMMARY:x\nDTSTART;VALUE=DATE:20260415",
        "UID:series\nSUMMARY:x\nDTSTART:20260201T070000Z\nRRULE:FREQ=MONTHLY;COUNT=6",
    )
    result = read(data)  # window: 1 March 00:00 to 15 April 00:00, Berlin (23:00Z / 22:00Z)
    assert [e.key for e in result.events] == [
        "straddles-start",
        "series/2026-03-01T08:00:00+01:00",
        "inside",
        "series/2026-04-01T09:00:00+02:00",
        "allday-last",
        "straddles-end",
    ]


def test_naive_window_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_ics(cal(), name="x", zone=BERLIN, window_start=datetime(2026, 1, 1), window_end=END)


# --- robustness -----------------------------------------------------------------------------


def test_missing_file_is_a_source_error_naming_path_and_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ics"
    with pytest.raises(SourceError) as info:
        read_ics_file(missing, name="coach", zone=BERLIN, window_start=START, window_end=END)
    message = str(info.value)
    assert message.startswith(f"coach: cannot read {missing}: ")
    assert message.endswith("; check the path in [[plan.source]]")
    assert "No such file" in message


def test_file_name_is_the_default_source_name(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"^nope\.ics: cannot read"):
        read_ics_file(tmp_path / "nope.ics", zone=BERLIN, window_start=START, window_end=END)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"  \r\n", "empty"),
        (b"\xef\xbb\xbf", "empty"),
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "not iCalendar"),
        (b"\x00\x01\x02\xff garbage", "not iCalendar"),
    ],
)
def test_unreadable_data_is_a_source_error(data: bytes, words: str) -> None:
    with pytest.raises(SourceError) as info:
        read(data)
    assert str(info.value).startswith("plan.ics: ")
    assert words in str(info.value)
    assert "\n" not in str(info.value)


def test_valid_calendar_without_events_is_empty_not_an_error() -> None:
    assert read(cal()) == ReadResult(events=[], problems=[])


def test_bom_and_crlf_and_lf_only() -> None:
    data = cal("UID:b\nSUMMARY:Run\nDTSTART:20260305T070000Z")
    expected = read(data)
    assert len(expected.events) == 1
    assert read(b"\xef\xbb\xbf" + data) == expected
    assert read(data.replace(b"\r\n", b"\n")) == expected


def test_bare_vevent_without_vcalendar() -> None:
    data = b"BEGIN:VEVENT\r\nUID:bare\r\nSUMMARY:Run\r\nDTSTART;VALUE=DATE:20260305\r\nEND:VEVENT\r\n"
    (event,) = read(data).events
    assert (event.uid, event.start) == ("bare", date(2026, 3, 5))


def test_two_concatenated_calendars_are_both_read_with_their_own_x_wr_timezone() -> None:
    first = cal("UID:a\nSUMMARY:A\nDTSTART:20260305T070000")
    second = cal("UID:b\nSUMMARY:B\nDTSTART:20260305T070000", header="X-WR-TIMEZONE:Europe/London")
    events = {e.uid: e.start for e in read(first + second).events}
    assert events == {"a": at(2026, 3, 5, 7), "b": at(2026, 3, 5, 8)}


def test_broken_event_is_skipped_and_named_the_rest_survive() -> None:
    data = cal(
        "UID:ok1\nSUMMARY:Run 1\nDTSTART:20260305T070000Z",
        "UID:feb30\nSUMMARY:Impossible\nDTSTART:20260230T070000Z",
        "UID:twice\nSUMMARY:Two starts\nDTSTART:20260306T070000Z\nDTSTART:20260307T070000Z",
        "UID:nostart\nSUMMARY:No start",
        "UID:semi\nSUMMARY:Bad line\nDTSTART;;VALUE=DATE-TIME:20260308T070000",
        "UID:ok2\nSUMMARY:Run 2\nDTSTART:20260309T070000Z",
    )
    result = read(data)
    assert [e.uid for e in result.events] == ["ok1", "ok2"]
    assert len(result.problems) == 4
    for uid, why in [
        ("feb30", "DTSTART"),
        ("twice", "2 DTSTART"),
        ("nostart", "DTSTART"),
        ("semi", "DTSTART"),
    ]:
        line = next(p for p in result.problems if f'"{uid}"' in p)
        assert line.startswith("plan.ics: skipped ")
        assert why in line


def test_every_event_broken_is_a_source_error_not_an_empty_plan() -> None:
    data = cal("UID:x\nSUMMARY:No start", "UID:y\nSUMMARY:Also no start")
    with pytest.raises(SourceError, match=r"^plan\.ics: none of the 2 events"):
        read(data)


def test_stray_line_makes_the_document_unparsable_but_events_are_salvaged() -> None:
    data = cal("UID:s1\nSUMMARY:Run\nDTSTART:20260305T070000Z").replace(
        b"END:VEVENT\r\n", b"END:VEVENT\r\nX\r\n"
    )
    result = read(data)
    assert [e.uid for e in result.events] == ["s1"]
    assert any("event by event" in p for p in result.problems)


def test_truncated_file_salvages_complete_events() -> None:
    data = cal(
        "UID:t1\nSUMMARY:Run\nDTSTART;TZID=Europe/Berlin:20260305T070000",
        "UID:t2\nSUMMARY:Cut\nDTSTART:20260306T070000Z",
    )
    data = data[: data.index(b"DTSTART:20260306")]
    result = read(data)
    assert [(e.uid, e.start) for e in result.events] == [("t1", at(2026, 3, 5, 7))]
    assert any('"t2"' in p and "cut off" in p for p in result.problems)


def test_truncated_file_with_nothing_readable_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="cut off"):
        read(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTA")


def test_unknown_x_wr_timezone_is_reported_and_ignored() -> None:
    data = cal("UID:m\nSUMMARY:Run\nDTSTART:20260305T070000", header="X-WR-TIMEZONE:Mars/Olympus")
    result = read(data)
    assert [e.start for e in result.events] == [at(2026, 3, 5, 7)]
    assert len(result.problems) == 1
    assert "Mars/Olympus" in result.problems[0]


def test_result_is_sorted_by_start_then_key() -> None:
    data = cal(
        "UID:b\nSUMMARY:x\nDTSTART:20260305T070000Z",
        "UID:a\nSUMMARY:x\nDTSTART:20260305T070000Z",
        "UID:c\nSUMMARY:x\nDTSTART;VALUE=DATE:20260305",
    )
    events: list[SourceEvent] = read(data).events
    assert [e.uid for e in events] == ["c", "a", "b"]
