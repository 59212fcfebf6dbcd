"""The source contract: one suite, run against every source kind.

:class:`SourceContract` holds the tests; a ``Test...`` subclass per kind gives its ``calendar``
fixture, a :class:`SourceCalendar`: a real calendar of that kind (a file, a feed on a local HTTP
server, a collection on Radicale and on Xandikos, a Local Calendar on a real Home Assistant) that
"the runner's calendar app" fills, and the adapter calsync reads it with. A new source kind is
one more subclass.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import pytest
from caldav.collection import Calendar as DavCollection

from calsync.adapters.caldav import CaldavReader
from calsync.adapters.homeassistant import HaCalendarSource
from calsync.adapters.ics_file import IcsFileReader
from calsync.adapters.ics_url import IcsUrlReader
from calsync.config import HomeAssistantSource, IcsUrlSource
from calsync.core.model import SourceEvent, When, instant
from calsync.errors import SourceError
from calsync.ports import SourceAdapter
from calsync.schema import load
from calsync.state import MemoryStore
from support import free_port

if TYPE_CHECKING:
    from caldav_servers import DavServer
    from ha_server import HaServer
    from http_feed import HttpFeed

pytest_plugins = ["caldav_servers", "ha_server", "http_feed"]

ZONE = ZoneInfo("Europe/Berlin")
NAME = "plan me: source training"
WINDOW = (datetime(2026, 11, 30, tzinfo=ZONE), datetime(2027, 1, 4, tzinfo=ZONE))


@dataclass(frozen=True)
class Entry:
    """One event as the runner's app writes it (times in Berlin; dates are all-day)."""

    key: str
    summary: str
    start: When
    end: When
    rrule: str | None = None

    def vevent(self) -> str:
        """The VEVENT text."""

        def stamp(name: str, when: When) -> str:
            if isinstance(when, datetime):
                return f"{name};TZID=Europe/Berlin:{when:%Y%m%dT%H%M%S}"
            return f"{name};VALUE=DATE:{when:%Y%m%d}"

        lines = [
            "BEGIN:VEVENT",
            f"UID:{self.key}@runner.example",
            "DTSTAMP:20261101T000000Z",
            stamp("DTSTART", self.start),
            stamp("DTEND", self.end),
            f"SUMMARY:{self.summary}",
            *([f"RRULE:{self.rrule}"] if self.rrule else []),
            "END:VEVENT",
        ]
        return "\r\n".join(lines)


def calendar_text(entries: list[Entry]) -> str:
    """A whole VCALENDAR holding the entries."""
    body = "\r\n".join(entry.vevent() for entry in entries)
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//runner//app//EN\r\n"
    return head + (body + "\r\n" if body else "") + "END:VCALENDAR\r\n"


def at(day: int, hour: int, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=ZONE)


LONG = Entry("long", "Long Run 28 km", at(5, 8), at(5, 11))
EASY = Entry("easy", "Easy Run 40 min", at(2, 18), at(2, 19))
RACE_DAY = Entry("parkrun", "Parkrun 5K", date(2026, 12, 19), date(2026, 12, 20))
BEFORE = Entry("before", "Easy Run 30 min", at(20, 7, 11), at(20, 8, 11))
AFTER = Entry(
    "after", "Easy Run 30 min", datetime(2027, 1, 10, 7, tzinfo=ZONE), datetime(2027, 1, 10, 8, tzinfo=ZONE)
)
TEMPO = Entry("tempo", "Tempo Run 10 km", at(1, 18), at(1, 19), rrule="FREQ=WEEKLY;COUNT=4")


class SourceCalendar(ABC):
    """A calendar of one kind, written as the runner's app would, and calsync's adapter for it."""

    @abstractmethod
    def put(self, entries: list[Entry]) -> None:
        """Make the calendar hold exactly these events."""

    @abstractmethod
    def adapter(self) -> SourceAdapter:
        """A new adapter for the calendar (a new process)."""

    @abstractmethod
    def unreachable(self) -> SourceAdapter:
        """An adapter for a calendar that cannot be read (missing, or nobody listening)."""


def seen(
    adapter: SourceAdapter, store: MemoryStore | None = None, *, full: bool = False
) -> list[tuple[str, datetime]]:
    """(summary, start instant) of every occurrence read, in order."""
    result = adapter.read(*WINDOW, ZONE, store, full=full)
    assert result.problems == []
    return sorted((event.summary, instant(event.start, ZONE)) for event in result.events)


def expected(entries: list[Entry]) -> list[tuple[str, datetime]]:
    out = []
    for entry in entries:
        count = 4 if entry.rrule else 1
        for week in range(count):
            start = instant(entry.start, ZONE) + timedelta(weeks=week)
            if WINDOW[0] <= start < WINDOW[1]:
                out.append((entry.summary, start))
    return sorted(out)


def all_day_events(adapter: SourceAdapter) -> list[SourceEvent]:
    return [event for event in adapter.read(*WINDOW, ZONE, None, full=False).events if event.all_day]


class SourceContract:
    """What every source promises to the pipeline."""

    def test_reads_timed_and_all_day_events_in_the_window_only(self, calendar: SourceCalendar) -> None:
        calendar.put([LONG, EASY, RACE_DAY, BEFORE, AFTER])
        adapter = calendar.adapter()
        assert seen(adapter) == expected([LONG, EASY, RACE_DAY])
        (all_day,) = all_day_events(adapter)
        assert (all_day.start, all_day.end) == (RACE_DAY.start, RACE_DAY.end)

    def test_a_weekly_series_is_expanded_into_its_occurrences(self, calendar: SourceCalendar) -> None:
        calendar.put([TEMPO])
        assert seen(calendar.adapter()) == expected([TEMPO])
        assert len(expected([TEMPO])) == 4

    def test_an_empty_calendar_is_an_empty_read_not_a_failure(self, calendar: SourceCalendar) -> None:
        calendar.put([])
        result = calendar.adapter().read(*WINDOW, ZONE, MemoryStore(), full=False)
        assert result.events == []
        assert result.problems == []

    def test_a_change_is_seen_by_the_kept_adapter_and_by_a_new_one(self, calendar: SourceCalendar) -> None:
        store = MemoryStore()
        calendar.put([LONG, EASY])
        kept = calendar.adapter()
        assert seen(kept, store) == expected([LONG, EASY])
        assert seen(kept, store) == expected([LONG, EASY])  # an idle read gives the same
        calendar.put([LONG, TEMPO])
        assert seen(kept, store) == expected([LONG, TEMPO])
        assert seen(calendar.adapter(), store) == expected([LONG, TEMPO])  # a new process, same store

    def test_a_full_read_gives_what_an_incremental_one_gives(self, calendar: SourceCalendar) -> None:
        store = MemoryStore()
        calendar.put([LONG, RACE_DAY, TEMPO])
        adapter = calendar.adapter()
        incremental = seen(adapter, store)
        assert seen(adapter, store, full=True) == incremental == expected([LONG, RACE_DAY, TEMPO])

    def test_a_calendar_that_cannot_be_read_fails_in_one_line_naming_it(
        self, calendar: SourceCalendar
    ) -> None:
        with pytest.raises(SourceError) as failure:
            calendar.unreachable().read(*WINDOW, ZONE, MemoryStore(), full=False)
        message = str(failure.value)
        assert "\n" not in message
        assert message.startswith(NAME)


# --- the kinds -------------------------------------------------------------------------------


class FileCalendar(SourceCalendar):
    def __init__(self, path: Path) -> None:
        self.path = path

    def put(self, entries: list[Entry]) -> None:
        self.path.write_text(calendar_text(entries), encoding="utf-8")

    def adapter(self) -> SourceAdapter:
        return IcsFileReader(self.path, NAME)

    def unreachable(self) -> SourceAdapter:
        return IcsFileReader(self.path.with_name("gone.ics"), NAME)


class FeedCalendar(SourceCalendar):
    def __init__(self, feed: HttpFeed) -> None:
        self.feed = feed

    def put(self, entries: list[Entry]) -> None:
        self.feed.set("/plan.ics", calendar_text(entries).encode())

    def _reader(self, url: str) -> SourceAdapter:
        source = load(IcsUrlSource, {"kind": "ics_url", "url": url, "timeout_seconds": 5})
        return IcsUrlReader(source, name=NAME, where="plan[me].source[0]")

    def adapter(self) -> SourceAdapter:
        return self._reader(self.feed.url())

    def unreachable(self) -> SourceAdapter:
        return self._reader(f"http://127.0.0.1:{free_port()}/plan.ics")


class DavCalendarSource(SourceCalendar):
    def __init__(self, server: DavServer) -> None:
        self.calendar = server.calendar()

    def put(self, entries: list[Entry]) -> None:
        with self.calendar.server.dav() as client:
            objects = DavCollection(client=client, url=self.calendar.url).events()
            assert isinstance(objects, list), "the synchronous client answers with a list"
            for obj in objects:
                obj.delete()
            for entry in entries:
                body = calendar_text([entry])
                answer = client.put(
                    f"{self.calendar.url}{entry.key}.ics", body, {"Content-Type": "text/calendar"}
                )
                assert answer.status in (201, 204), answer.status

    def _reader(self, url: str) -> SourceAdapter:
        target = self.calendar.server.at(url)
        return CaldavReader(NAME, client=lambda: target.client(name=NAME, error=SourceError))

    def adapter(self) -> SourceAdapter:
        return self._reader(self.calendar.url)

    def unreachable(self) -> SourceAdapter:
        return self._reader(f"http://127.0.0.1:{free_port()}/calsync/gone/")


class HaSourceCalendar(SourceCalendar):
    def __init__(self, server: HaServer, token_file: Path) -> None:
        self.server = server
        self.entity_id = server.calendar()
        self.token_file = token_file

    def put(self, entries: list[Entry]) -> None:
        with self.server.person() as person:
            for event in self.server.events(self.entity_id):
                person.delete(self.entity_id, event["uid"])
            for entry in entries:
                fields: dict[str, Any] = {
                    "summary": entry.summary,
                    "dtstart": entry.start.isoformat(),
                    "dtend": entry.end.isoformat(),
                }
                if entry.rrule:
                    fields["rrule"] = entry.rrule
                person.create(self.entity_id, **fields)

    def _reader(self, url: str) -> SourceAdapter:
        source = load(
            HomeAssistantSource,
            {"kind": "homeassistant", "url": url, "entity_id": self.entity_id, "token_file": self.token_file},
        )
        return HaCalendarSource(source, name=NAME, where="plan[me].source[0]")

    def adapter(self) -> SourceAdapter:
        return self._reader(self.server.url)

    def unreachable(self) -> SourceAdapter:
        return self._reader(f"http://127.0.0.1:{free_port()}")


class TestIcsFileSource(SourceContract):
    @pytest.fixture
    def calendar(self, tmp_path: Path) -> SourceCalendar:
        return FileCalendar(tmp_path / "plan.ics")


class TestIcsUrlSource(SourceContract):
    @pytest.fixture
    def calendar(self, http_feed: HttpFeed) -> SourceCalendar:
        return FeedCalendar(http_feed)


class TestRadicaleSource(SourceContract):
    @pytest.fixture
    def calendar(self, radicale_server: DavServer) -> SourceCalendar:
        return DavCalendarSource(radicale_server)


class TestXandikosSource(SourceContract):
    @pytest.fixture
    def calendar(self, xandikos_server: DavServer) -> SourceCalendar:
        return DavCalendarSource(xandikos_server)


class TestHomeAssistantSource(SourceContract):
    @pytest.fixture
    def calendar(self, ha_server: HaServer, tmp_path: Path) -> SourceCalendar:
        token_file = tmp_path / "ha-token"
        token_file.write_text(ha_server.token + "\n")
        return HaSourceCalendar(ha_server, token_file)
