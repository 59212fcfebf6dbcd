"""Hostile and odd input (issue 13): one bad event never loses a feed, no text stalls a pass."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from calsync.adapters.ics_read import parse_ics
from calsync.core.classify import classify_event
from calsync.core.model import ReadResult, SourceEvent
from calsync.core.settings import Classification

BERLIN = ZoneInfo("Europe/Berlin")
WINDOW = (datetime(2026, 11, 30, tzinfo=BERLIN), datetime(2027, 1, 30, tzinfo=BERLIN))
GOOD = (
    "BEGIN:VEVENT\r\nUID:good\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261201T070000Z\r\n"
    "DTEND:20261201T080000Z\r\nSUMMARY:Easy Run 40 min\r\nEND:VEVENT\r\n"
)


def feed(*events: str) -> bytes:
    body = "".join(events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//odd//EN\r\n{body}END:VCALENDAR\r\n".encode()


def read(*events: str) -> ReadResult:
    return parse_ics(
        feed(*events), name="training", zone=BERLIN, window_start=WINDOW[0], window_end=WINDOW[1]
    )


@pytest.mark.parametrize(
    ("label", "event"),
    [
        (
            "far-future start",
            "BEGIN:VEVENT\r\nUID:far\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:99991231T220000Z\r\n"
            "DTEND:99991231T230000Z\r\nSUMMARY:Far\r\nEND:VEVENT\r\n",
        ),
        (
            "year-1 start",
            "BEGIN:VEVENT\r\nUID:early\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Asia/Tokyo:"
            "00010101T010000\r\nDTEND;TZID=Asia/Tokyo:00010101T020000\r\nSUMMARY:Early\r\nEND:VEVENT\r\n",
        ),
    ],
)
def test_a_date_python_cannot_hold_is_one_skipped_event_not_a_lost_feed(label: str, event: str) -> None:
    result = parse_ics(
        feed(GOOD, event), name="training", zone=BERLIN, window_start=WINDOW[0], window_end=WINDOW[1]
    )
    assert [e.summary for e in result.events] == ["Easy Run 40 min"], label
    assert len(result.problems) == 1
    assert "skipped" in result.problems[0]
    assert "\n" not in result.problems[0]


def test_a_far_away_until_is_an_ordinary_series() -> None:
    """Exported calendars often end a series at 9999-12-31: it is clamped to the horizon."""
    tokyo = (
        "BEGIN:VEVENT\r\nUID:tempo\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Asia/Tokyo:20261202T070000\r\n"
        "DTEND;TZID=Asia/Tokyo:20261202T080000\r\nRRULE:FREQ=WEEKLY;UNTIL=99991231T235959Z\r\n"
        "SUMMARY:Tempo Run\r\nEND:VEVENT\r\n"
    )
    result = parse_ics(
        feed(GOOD, tokyo), name="training", zone=BERLIN, window_start=WINDOW[0], window_end=WINDOW[1]
    )
    assert result.problems == []
    assert sum(1 for e in result.events if e.summary == "Tempo Run") == 9  # Dec 2 .. Jan 27, weekly


def _seconds(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _classify(summary: str, description: str = "") -> object:
    event = SourceEvent(
        uid="u",
        summary=summary,
        start=datetime(2026, 12, 1, 7, tzinfo=BERLIN),
        end=datetime(2026, 12, 1, 8, tzinfo=BERLIN),
        description=description,
    )
    return classify_event(event, Classification(), pace_min_per_km=6.0)


@pytest.mark.parametrize(
    "filler",
    ["1", " ", "1 ", "1x", "1-", "1:", "1.", "a", "ab1 ", "1m "],
)
def test_no_text_makes_classification_slow(filler: str) -> None:
    """Long runs of digits, spaces and number-like text (a pasted ID) in the title or the
    description: each classification stays fast, and grows about linearly with the text."""
    text = (filler * 5000)[:5000]
    for summary, description in ((f"Easy Run {text}", ""), ("Easy Run", text), (f"{text} strides", text)):
        _classify(summary[:50], description[:50])  # warm the pattern caches
        spent = _seconds(lambda s=summary, d=description: _classify(s, d))  # type: ignore[misc]
        assert spent < 0.5, (filler, len(summary), len(description), spent)


def test_the_reported_digit_run_classifies_within_a_tenth_of_a_second() -> None:
    """Issue 13's reproduction: 800 digits took 8.4 s (cubic backtracking in the strides pattern)."""
    _classify("Easy Run 1")
    assert _seconds(lambda: _classify("Easy Run " + "1" * 5000)) < 0.1
