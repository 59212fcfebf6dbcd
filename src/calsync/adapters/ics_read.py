"""The *read* step for iCalendar data: ``.ics`` bytes -> :class:`SourceEvent` occurrences.

Used by every source that yields iCalendar text (a local ``.ics`` file, an ICS/webcal URL).
Parsing is done by ``icalendar``, recurrence expansion by ``recurring_ical_events`` and
Google's ``X-WR-TIMEZONE`` convention by ``x_wr_timezone``; this module adds what a
planner needs on top: every time resolved into the plan's zone, one broken event skipped
(and named in ``problems``) without losing the feed, and a feed that cannot be read at
all reported as a :class:`SourceError` rather than as an empty calendar.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events
from icalendar.cal.component import Component
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from calsync.core.model import ReadResult, SourceEvent, When, instant, source_order
from calsync.errors import SourceError

_LOG = logging.getLogger(__name__)

READ_BUDGET_SECONDS = 120.0
"""The longest one read of one source may take (parse, expansion, conversion): past it the read
fails and the pass deletes nothing. Every step is bounded on its own; this bounds their sum on a
huge or hostile feed (20,000 events of one day took 11 s)."""
MAX_OCCURRENCES_PER_SERIES = 20_000
"""A series that yields more occurrences than this in the window is cut (and reported)."""

_TIME_PROPERTIES = ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID", "RRULE", "RDATE", "EXDATE")
_SINGLE_TIME_PROPERTIES = ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID")
RRULE_HORIZON_MARGIN = timedelta(days=366)
"""RRULEs are expanded up to the window end plus this (covers THISANDFUTURE moves)."""
MAX_RRULE_STEPS = 500_000
"""A rule that needs more dateutil steps than this to reach the horizon is skipped (no hang)."""
_FREQ_SECONDS = {
    "SECONDLY": 1,
    "MINUTELY": 60,
    "HOURLY": 3600,
    "DAILY": 86400,
    "WEEKLY": 7 * 86400,
    "MONTHLY": 28 * 86400,
    "YEARLY": 365 * 86400,
}
_BY_PERIOD_SECONDS = (
    ("BYMONTH", 28 * 86400),
    ("BYWEEKNO", 7 * 86400),
    ("BYYEARDAY", 86400),
    ("BYMONTHDAY", 86400),
    ("BYHOUR", 3600),
    ("BYMINUTE", 60),
    ("BYSECOND", 1),
)
"""The BY parts that expand each step of a coarser FREQ into several candidates (RFC 5545 3.3.10)."""
_MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
_BOM = b"\xef\xbb\xbf"
_STRUCTURE = re.compile(rb"^(BEGIN|END):(VCALENDAR|VEVENT)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE)
_X_WR_TIMEZONE = "X-WR-TIMEZONE"
_TZID_PARAMETER = re.compile(r';TZID="?([^";:]*)', re.IGNORECASE)
_RRULE_LINE = re.compile(rb"^RRULE[:;][^\r\n]*", re.IGNORECASE | re.MULTILINE)
_RRULE_WITH_SPACES = re.compile(rb"^RRULE[:;][^\r\n]*,[ \t]", re.IGNORECASE | re.MULTILINE)


def read_ics_file(
    path: Path,
    *,
    name: str | None = None,
    zone: ZoneInfo,
    window_start: datetime,
    window_end: datetime,
) -> ReadResult:
    """Read a local ``.ics`` file; see :func:`parse_ics`."""
    label = name or path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SourceError(
            f"{label}: cannot read {path}: {reason}; check the path in [[plan.source]]"
        ) from exc
    return parse_ics(data, name=label, zone=zone, window_start=window_start, window_end=window_end)


def parse_ics(
    data: bytes,
    *,
    name: str,
    zone: ZoneInfo,
    window_start: datetime,
    window_end: datetime,
    budget_seconds: float | None = None,
) -> ReadResult:
    """Parse iCalendar bytes into the occurrences overlapping ``[window_start, window_end)``.

    Raises :class:`SourceError` when the data as a whole is not a readable calendar
    (empty, not iCalendar, or every event in it broken), or when reading it takes longer than
    ``budget_seconds`` (default :data:`READ_BUDGET_SECONDS`).
    """
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise ValueError("parse_ics needs timezone-aware window bounds")
    reader = _Reader(
        name,
        zone,
        horizon=window_end.astimezone(zone) + RRULE_HORIZON_MARGIN,
        budget_seconds=READ_BUDGET_SECONDS if budget_seconds is None else budget_seconds,
    )
    calendars = reader.parse_document(data)
    reader.on_time("parsing")
    events = reader.collect_events(calendars)
    return reader.expand(events, window_start.astimezone(zone), window_end.astimezone(zone))


# --- parsing the document -------------------------------------------------------------------


def _structure_counts(data: bytes) -> dict[bytes, int]:
    """Count BEGIN/END lines of VCALENDAR and VEVENT (to notice truncated feeds)."""
    counts: dict[bytes, int] = defaultdict(int)
    for verb, comp in _STRUCTURE.findall(data):
        counts[verb.upper() + b":" + comp.upper()] += 1
    return counts


def truncation(data: bytes) -> str | None:
    """Why a downloaded calendar is cut off, or None when it ends as a whole calendar does.

    A feed read over the network must end with ``END:VCALENDAR`` (or, for the rare feed of bare
    events, ``END:VEVENT``): a download that stopped early (a closed connection without
    Content-Length, a proxy that gave up) is a failed read, never a calendar with its last weeks
    missing. A local file keeps the event-by-event salvage of :func:`parse_ics`.
    """
    last = data[-4096:].rstrip().replace(b"\r", b"\n").rsplit(b"\n", 1)[-1].strip().upper()
    head = data[:65536].upper()
    if b"BEGIN:VCALENDAR" in head:
        return None if last == b"END:VCALENDAR" else "no END:VCALENDAR at the end"
    if b"BEGIN:VEVENT" in head:
        return None if last == b"END:VEVENT" else "no END:VEVENT at the end"
    return None  # not iCalendar at all: the parse says so


def _repair_rrule_spaces(data: bytes) -> bytes:
    """Compat: Microsoft CDO writes ``BYDAY=MO, TU, WE``; RFC 5545 allows no spaces there."""
    if _RRULE_WITH_SPACES.search(data) is None:
        return data
    return _RRULE_LINE.sub(lambda m: re.sub(rb",[ \t]+", b",", m.group(0)), data)


def _describe_start(data: bytes) -> str:
    """A short, printable excerpt of the start of some data (for error messages)."""
    text = data[:40].decode("utf-8", errors="replace")
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def _raw_value(lines: list[str], prop: str) -> str:
    """The raw value of the first ``prop`` content line in a block (for messages only)."""
    prefix = prop.upper()
    for line in lines:
        upper = line.upper()
        if upper.startswith(prefix) and len(line) > len(prefix) and line[len(prefix)] in ":;":
            return line.split(":", 1)[1].strip() if ":" in line else ""
    return ""


@dataclass
class _Block:
    """The raw lines of one component found by the salvage splitter."""

    kind: str
    lines: list[str]
    x_wr_timezone: str | None = None
    complete: bool = True


def _split_blocks(text: str) -> list[_Block]:
    """Split iCalendar text into VEVENT and VTIMEZONE blocks, tolerating stray lines."""
    blocks: list[_Block] = []
    current: _Block | None = None
    depth = 0
    x_wr: str | None = None
    for raw in text.splitlines():
        if current is not None and raw[:1] in (" ", "\t"):
            current.lines.append(raw)
            continue
        line = raw.strip()
        upper = line.upper()
        if current is None:
            if upper in ("BEGIN:VEVENT", "BEGIN:VTIMEZONE"):
                current = _Block(upper[6:], [line], x_wr)
                depth = 0
            elif upper == "BEGIN:VCALENDAR":
                x_wr = None
            elif upper.startswith(_X_WR_TIMEZONE + ":"):
                x_wr = line.split(":", 1)[1].strip() or None
            continue
        if upper in ("BEGIN:VEVENT", "BEGIN:VCALENDAR", "END:VCALENDAR") or (
            upper == "BEGIN:VTIMEZONE" and current.kind == "VEVENT"
        ):
            # the open block never ended: keep it as incomplete and resynchronise
            current.complete = False
            blocks.append(current)
            current = None
            if upper in ("BEGIN:VEVENT", "BEGIN:VTIMEZONE"):
                current = _Block(upper[6:], [line], x_wr)
                depth = 0
            elif upper == "BEGIN:VCALENDAR":
                x_wr = None
            continue
        current.lines.append(line)
        if upper.startswith("BEGIN:"):
            depth += 1
        elif upper.startswith("END:"):
            if depth == 0:
                blocks.append(current)
                current = None
            else:
                depth -= 1
    if current is not None:
        current.complete = False
        blocks.append(current)
    return blocks


def _as_zone(value: date, zone: tzinfo) -> When:
    """A date stays a date; a datetime becomes aware in ``zone`` (floating = wall time there)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=zone)
        return value.astimezone(zone)
    return value


def _text(component: Component, prop: str) -> str:
    """A text property as ``str`` (``""`` when absent; the first one when repeated)."""
    value = component.get(prop)
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value)


def _categories(component: Component) -> tuple[str, ...]:
    """CATEGORIES flattened over every property and comma-separated value."""
    value = component.get("CATEGORIES")
    if value is None:
        return ()
    props = value if isinstance(value, list) else [value]
    out: list[str] = []
    for prop in props:
        cats = getattr(prop, "cats", None)
        if cats is None:
            out.extend(part.strip() for part in str(prop).split(","))
        else:
            out.extend(str(cat) for cat in cats)
    return tuple(cat for cat in out if cat)


def _label(component: Component) -> str:
    """How a problem line names an event: its UID and summary, where it has them."""
    uid = _text(component, "UID")
    summary = _text(component, "SUMMARY")
    parts = [f'UID "{uid}"' if uid else "event without UID"]
    if summary:
        parts.append(f'("{summary}")')
    return " ".join(parts)


def _first_line(message: object) -> str:
    """The first line of an error message, shortened."""
    text = str(message).strip().splitlines()[0] if str(message).strip() else type(message).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _derived_uid(component: Component) -> str:
    """A stable UID for an event that has none (same file, same UID)."""
    start = component.get("DTSTART")
    raw_start = ""
    if start is not None and not isinstance(start, list):
        try:
            raw_start = start.to_ical().decode() + str(start.params.get("TZID", ""))
        except Exception:  # a broken value still has a stable repr
            raw_start = repr(start)
    digest = hashlib.sha1(f"{_text(component, 'SUMMARY')}|{raw_start}".encode(), usedforsecurity=False)
    return "nouid-" + digest.hexdigest()[:20]


def _uid_of(component: Component) -> str:
    """The event's UID, or a derived one when it has none."""
    return _text(component, "UID").strip() or _derived_uid(component)


class _LenientQuery(recurring_ical_events.CalendarQuery):  # type: ignore[misc]
    """A query that drops any series it cannot build; :class:`_Reader` names them."""

    suppressed_errors = [Exception]  # noqa: RUF012 (the library's own class attribute)


class _Reader:
    """One read of one source: holds the name, the zone and the problems found so far."""

    def __init__(self, name: str, zone: ZoneInfo, *, horizon: datetime, budget_seconds: float) -> None:
        self.name = name
        self.zone = zone
        self.horizon = horizon
        self.budget_seconds = budget_seconds
        self.deadline = time.monotonic() + budget_seconds
        self.problems: list[str] = []
        """Problems with single events (sorted at the end: order-independent)."""
        self.feed_problems: list[str] = []
        """Problems with the feed as a whole (listed first, in the order found)."""
        self.recurring_uids: set[str] = set()
        self.this_and_future_moves: dict[tuple[str, str], timedelta] = {}

    def on_time(self, doing: str) -> None:
        """Fail the read once it has taken longer than its budget (called between events)."""
        if time.monotonic() > self.deadline:
            raise SourceError(
                f"{self.name}: reading the calendar took longer than {self.budget_seconds:g} s "
                f"(stopped while {doing}); nothing was changed. The feed is very large or hostile: "
                "check it, or narrow it to the training plan"
            )

    def problem(self, line: str, *, feed: bool = False) -> None:
        """Record one problem line (and log it)."""
        (self.feed_problems if feed else self.problems).append(f"{self.name}: {line}")
        _LOG.info("%s: %s", self.name, line)

    def skip(self, component: Component, why: str) -> None:
        """Record a skipped event."""
        self.problem(f"skipped {_label(component)}: {why}")

    # -- document -----------------------------------------------------------------------------

    def parse_document(self, data: bytes) -> list[Component]:
        """Parse the bytes into top-level components (VCALENDARs or bare VEVENTs)."""
        if data.startswith(_BOM):
            data = data[len(_BOM) :]
        if b"\n" not in data and b"\r" in data:  # old Mac line ends (CR only): RFC 5545 wants CRLF
            data = data.replace(b"\r", b"\r\n")
        if not data.strip():
            raise SourceError(
                f"{self.name}: the calendar data is empty (0 bytes of iCalendar); "
                "check that the source points to a calendar export"
            )
        counts = _structure_counts(data)
        if not counts[b"BEGIN:VCALENDAR"] and not counts[b"BEGIN:VEVENT"]:
            raise SourceError(
                f'{self.name}: this is not iCalendar data (it starts with "{_describe_start(data)}"); '
                "check that the source points to an .ics export, not a web page"
            )
        truncated = (
            counts[b"BEGIN:VCALENDAR"] > counts[b"END:VCALENDAR"]
            or counts[b"BEGIN:VEVENT"] > counts[b"END:VEVENT"]
        )
        reason = "it is truncated (a BEGIN without its END)" if truncated else ""
        data = _repair_rrule_spaces(data)
        components: list[Component] = []
        if not truncated:
            try:
                parsed = icalendar.Calendar.from_ical(data, multiple=True)
            except Exception as exc:  # icalendar raises many types on bad input
                reason = _first_line(exc)
            else:
                components = [c for c in parsed if c.name in ("VCALENDAR", "VEVENT")]
                if not components:
                    reason = "icalendar found no calendar in it"
        if components:
            return components
        self.problem(f"the calendar is not valid iCalendar ({reason}); read it event by event", feed=True)
        return self._salvage(data, truncated=truncated)

    def _salvage(self, data: bytes, *, truncated: bool) -> list[Component]:
        """Parse each VEVENT block on its own (with the readable VTIMEZONEs)."""
        blocks = _split_blocks(data.decode("utf-8", errors="replace"))
        zones: dict[str, str] = {}
        for block in (b for b in blocks if b.kind == "VTIMEZONE"):
            self.on_time("reading time zones one by one")
            text = "\r\n".join(block.lines) + "\r\n"
            tzid = _raw_value(block.lines, "TZID") or "?"
            try:
                if not block.complete:
                    raise ValueError("truncated")
                icalendar.Calendar.from_ical(f"BEGIN:VCALENDAR\r\n{text}END:VCALENDAR\r\n")
            except Exception as exc:
                self.problem(f'ignored VTIMEZONE "{tzid}": {_first_line(exc)}', feed=True)
            else:
                zones[tzid] = text
        out: list[Component] = []
        events = [b for b in blocks if b.kind == "VEVENT"]
        for block in events:
            self.on_time("reading events one by one")
            uid = _raw_value(block.lines, "UID")
            summary = _raw_value(block.lines, "SUMMARY")
            label = (f'UID "{uid}"' if uid else "event without UID") + (f' ("{summary}")' if summary else "")
            if not block.complete:
                self.problem(f"skipped {label}: the event is cut off (no END:VEVENT)")
                continue
            header = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync//salvage//EN\r\n"
            if block.x_wr_timezone:
                header += f"{_X_WR_TIMEZONE}:{block.x_wr_timezone}\r\n"
            # only the zones the event names: linear in the file however many zones it defines
            used = {m.group(1) for line in block.lines for m in _TZID_PARAMETER.finditer(line)}
            zone_text = "".join(zones[tzid] for tzid in sorted(used) if tzid in zones)
            text = header + zone_text + "\r\n".join(block.lines) + "\r\nEND:VCALENDAR\r\n"
            try:
                calendar = icalendar.Calendar.from_ical(text)
            except Exception as exc:
                self.problem(f"skipped {label}: {_first_line(exc)}")
                continue
            out.append(calendar)
        if truncated and not out:
            raise SourceError(
                f"{self.name}: the calendar is cut off and no event in it is readable; "
                "the download or export is incomplete, try again or re-export it"
            )
        if events and not out:
            first = min(self.problems).split(": ", 1)[-1]
            raise SourceError(
                f"{self.name}: none of the {len(events)} events in the calendar is readable ({first}); "
                "check the feed or re-export it"
            )
        return out

    # -- events -------------------------------------------------------------------------------

    def collect_events(self, components: list[Component]) -> list[Component]:
        """Validate every VEVENT, apply X-WR-TIMEZONE, give UIDs; returns the usable events."""
        usable: list[Component] = []
        total = 0
        for top in components:
            if top.name == "VEVENT":
                candidates, x_wr = [top], None
            else:
                candidates = [c for c in top.subcomponents if c.name == "VEVENT"]
                x_wr = self._x_wr_zone(top)
            total += len(candidates)
            good = []
            for event in candidates:
                self.on_time("checking events")
                if self._check_event(event):
                    good.append(event)
            for event in good:
                uid = _uid_of(event)
                if uid != _text(event, "UID"):
                    event["UID"] = uid
            if x_wr is not None and good:
                good = self._standardise(good, x_wr)
                self.on_time("applying X-WR-TIMEZONE")
            usable.extend(good)
        if total and not usable:
            first = min(self.problems).split(": ", 1)[-1] if self.problems else "no event is readable"
            raise SourceError(
                f"{self.name}: none of the {total} events in the calendar is readable ({first}); "
                "check the feed or re-export it"
            )
        return usable

    def _x_wr_zone(self, calendar: Component) -> tzinfo | None:
        """The calendar's X-WR-TIMEZONE as a zone (None when absent or unknown)."""
        value = calendar.get(_X_WR_TIMEZONE)
        if value is None:
            return None
        key = str(value[0] if isinstance(value, list) else value).strip()
        if not key:
            return None
        try:
            return ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError):
            pass
        mapped = _windows_zone(key)
        if mapped is not None:
            return mapped
        self.problem(
            f'ignored unknown X-WR-TIMEZONE "{key}"; floating times are read in {self.zone.key}', feed=True
        )
        return None

    def _standardise(self, events: list[Component], zone: tzinfo) -> list[Component]:
        """Apply Google's X-WR-TIMEZONE semantics (floating times are in that zone)."""
        import x_wr_timezone  # noqa: PLC0415 - only for calendars that say X-WR-TIMEZONE (it loads click)

        calendar = icalendar.Calendar()
        calendar.subcomponents = events
        try:
            result: Component = x_wr_timezone.to_standard(calendar, timezone=zone)
            return list(result.subcomponents)
        except Exception:
            _LOG.debug("%s: X-WR-TIMEZONE conversion failed as a whole; per event", self.name)
        out: list[Component] = []
        for event in events:
            single = icalendar.Calendar()
            single.subcomponents = [event]
            try:
                out.extend(x_wr_timezone.to_standard(single, timezone=zone).subcomponents)
            except Exception as exc:
                self.skip(event, f"its times cannot be read in X-WR-TIMEZONE ({_first_line(exc)})")
        return out

    def _check_event(self, event: Component) -> bool:
        """Whether an event can be expanded; reports (and repairs, where safe) what is wrong. A
        time Python cannot hold in the plan's zone (year 1, year 9999) skips that event only."""
        try:
            return self._check_event_times(event)
        except OverflowError:
            self.skip(
                event,
                "a date in it is outside what calsync can read (the years 1 to 9999 in the plan's zone)",
            )
            return False

    def _check_event_times(self, event: Component) -> bool:
        for prop, message in event.errors:
            if prop in _TIME_PROPERTIES:
                self.skip(event, f"its {prop} is invalid ({_first_line(message)})")
                return False
        start_prop = event.get("DTSTART")
        if start_prop is None:
            detail = next((m for p, m in event.errors if p is None), "")
            why = "it has no readable DTSTART"
            self.skip(event, f"{why} ({_first_line(detail)})" if detail else why)
            return False
        values: dict[str, Any] = {}
        for prop in _SINGLE_TIME_PROPERTIES:
            prop_value = event.get(prop)
            if prop_value is None:
                continue
            if isinstance(prop_value, list):
                self.skip(event, f"it has {len(prop_value)} {prop} properties")
                return False
            try:
                values[prop] = prop_value.dt
            except Exception as exc:
                self.skip(event, f"its {prop} is invalid ({_first_line(exc)})")
                return False
        start = values["DTSTART"]
        if not isinstance(start, date):
            self.skip(event, "its DTSTART is not a date or a date-time")
            return False
        if "DURATION" in values and not isinstance(values["DURATION"], timedelta):
            del event["DURATION"]
        end = values.get("DTEND")
        if end is not None:
            start_is_day = not isinstance(start, datetime)
            if not isinstance(end, date) or start_is_day != (not isinstance(end, datetime)):
                del event["DTEND"]
                self.problem(f"{_label(event)}: DTEND and DTSTART differ in kind; DTEND ignored")
            elif instant(_as_zone(end, self.zone), self.zone) < instant(
                _as_zone(start, self.zone), self.zone
            ):
                del event["DTEND"]
                self.problem(f"{_label(event)}: DTEND is before DTSTART; DTEND ignored")
        rid = event.get("RECURRENCE-ID")
        uid = _uid_of(event)
        rule_problem = self._check_rrules(event, start)
        if rule_problem is not None:
            self.skip(event, rule_problem)
            return False
        if rid is not None or "RRULE" in event or "RDATE" in event:
            self.recurring_uids.add(uid)
        if rid is not None and str(rid.params.get("RANGE", "")).upper() == "THISANDFUTURE":
            rid_at = instant(_as_zone(values["RECURRENCE-ID"], self.zone), self.zone)
            move = instant(_as_zone(start, self.zone), self.zone) - rid_at
            self.this_and_future_moves[(uid, rid_at.isoformat())] = move
        return True

    def _check_rrules(self, event: Component, start: date) -> str | None:
        """Why an event's RRULE cannot be expanded safely (None when it can).

        Rules without an end are bounded at the horizon (window end + margin) and later
        UNTILs are clamped to it: the occurrences in the window do not change, but a rule
        that never matches (30 February) can no longer make dateutil search to year 9999.
        """
        value: Any = event.get("RRULE")
        if value is None:
            return None
        begin = instant(_as_zone(start, self.zone), self.zone)
        for rule in value if isinstance(value, list) else [value]:
            freq = str((rule.get("FREQ") or [""])[0]).upper()
            if freq not in _FREQ_SECONDS:
                return f"its RRULE has no valid FREQ ({freq or 'none'})"
            try:
                interval = int((rule.get("INTERVAL") or [1])[0])
                count = int(rule["COUNT"][0]) if rule.get("COUNT") else None
            except (TypeError, ValueError):
                return "its RRULE has an invalid INTERVAL or COUNT"
            if interval < 1:
                return f"its RRULE has INTERVAL={interval} (must be 1 or more)"
            if not _month_days_possible(rule):
                return "its RRULE never matches a real date (BYMONTHDAY does not exist in BYMONTH)"
            if count is None:
                self._bound_until(rule, start)
                until: Any = rule["UNTIL"][0]
                end = instant(_as_zone(until, self.zone), self.zone)
                steps = max((end - begin).total_seconds(), 0) / (_FREQ_SECONDS[freq] * interval)
            else:
                steps = count
            steps *= _candidates_per_step(rule, freq)
            if steps > MAX_RRULE_STEPS:
                return (
                    f"its RRULE (FREQ={freq}) needs about {int(steps)} steps to expand, more than "
                    f"{MAX_RRULE_STEPS}; split the series or start it later"
                )
        return None

    def _bound_until(self, rule: Any, start: date) -> None:
        """Give an RRULE without end an UNTIL at the horizon (or clamp a later UNTIL)."""
        horizon = self.horizon
        current = (rule.get("UNTIL") or [None])[0]
        try:
            ends_first = (
                isinstance(current, date) and instant(_as_zone(current, self.zone), self.zone) <= horizon
            )
        except OverflowError:  # UNTIL=99991231T235959Z: far past the horizon, as many exports end a series
            ends_first = False
        if ends_first:
            return
        if isinstance(start, datetime):
            bound: date = (
                horizon.astimezone(ZoneInfo("UTC"))
                if start.tzinfo is not None
                else horizon.replace(tzinfo=None)
            )
        else:
            bound = horizon.date()
        rule["UNTIL"] = [bound]

    # -- expansion ----------------------------------------------------------------------------

    def expand(self, events: list[Component], window_start: datetime, window_end: datetime) -> ReadResult:
        """Expand recurrences over the window and convert every occurrence."""
        events = self._canonical(events)
        calendar = icalendar.Calendar()
        calendar.subcomponents = events
        try:
            query = recurring_ical_events.of(calendar, skip_bad_series=True, calendar_query=_LenientQuery)
        except Exception as exc:
            raise SourceError(
                f"{self.name}: the calendar cannot be expanded ({_first_line(exc)}); check the feed"
            ) from exc
        built = {str(series.uid) for series in query.series}
        by_uid: dict[str, list[Component]] = defaultdict(list)
        for event in events:
            by_uid[_text(event, "UID")].append(event)
        for uid in sorted(set(by_uid) - built):
            self._report_unbuildable(by_uid[uid])
        out: list[SourceEvent] = []
        self.on_time("expanding recurrences")
        for series in sorted(query.series, key=lambda s: str(s.uid)):
            uid = str(series.uid)
            self.on_time("expanding recurrences")
            try:
                for count, occurrence in enumerate(series.between(window_start, window_end)):
                    if count % 256 == 255:
                        self.on_time("expanding recurrences")
                    if count >= MAX_OCCURRENCES_PER_SERIES:
                        self.problem(
                            f'UID "{uid}": more than {MAX_OCCURRENCES_PER_SERIES} occurrences in the '
                            "window; the rest are ignored"
                        )
                        break
                    converted = self._convert(occurrence.as_component(False), uid)
                    if converted is not None and _overlaps(converted, window_start, window_end, self.zone):
                        out.append(converted)
            except SourceError:
                raise
            except Exception as exc:
                self.problem(f'skipped UID "{uid}": its recurrence cannot be expanded ({_first_line(exc)})')
        out.sort(key=lambda e: source_order(e, self.zone))
        return ReadResult(events=out, problems=self.feed_problems + sorted(self.problems))

    def _canonical(self, events: list[Component]) -> list[Component]:
        """Order events canonically (results must not depend on component order).

        Several non-recurring events sharing one UID at different times are kept apart
        (suffixed UIDs) instead of letting one silently replace the others.
        """
        keyed = sorted(events, key=_component_key)
        masters: dict[str, list[Component]] = defaultdict(list)
        for event in keyed:
            if "RECURRENCE-ID" not in event:
                masters[_text(event, "UID")].append(event)
        for uid, group in masters.items():
            if len(group) < 2 or uid in self.recurring_uids:
                continue
            starts = {instant(_as_zone(_dt(e, "DTSTART"), self.zone), self.zone) for e in group}
            if len(starts) < 2:
                continue
            _LOG.info("%s: UID %s is used by %d different events; kept apart", self.name, uid, len(group))
            for event in group:
                at = _as_zone(_dt(event, "DTSTART"), self.zone)
                event["UID"] = f"{uid}#{at.isoformat()}"
        return keyed

    def _report_unbuildable(self, group: list[Component]) -> None:
        """Name the error of a series the lenient query dropped."""
        calendar = icalendar.Calendar()
        calendar.subcomponents = group
        reason = "its recurrence cannot be expanded"
        try:
            recurring_ical_events.of(calendar)
        except Exception as exc:
            reason = f"{reason} ({_first_line(exc)})"
        self.skip(group[0], reason)

    def _convert(self, component: Component, uid: str) -> SourceEvent | None:
        """One expanded occurrence as a SourceEvent (None when cancelled)."""
        if _text(component, "STATUS").strip().upper() == "CANCELLED":
            return None
        raw_start: date = _dt(component, "DTSTART")
        start = _as_zone(raw_start, self.zone)
        end: When | None = _as_zone(_dt(component, "DTEND"), self.zone) if "DTEND" in component else None
        if isinstance(start, datetime):
            if not isinstance(end, datetime) or end < start:
                end = start
        elif isinstance(end, datetime) or end is None or end <= start:
            end = start + timedelta(days=1)
        return SourceEvent(
            uid=uid,
            summary=_text(component, "SUMMARY"),
            start=start,
            end=end,
            recurrence_id=self._recurrence_id(component, uid, raw_start),
            description=_text(component, "DESCRIPTION"),
            categories=_categories(component),
            location=_text(component, "LOCATION"),
            busy=_text(component, "TRANSP").strip().upper() != "TRANSPARENT",
            source=self.name,
        )

    def _recurrence_id(self, component: Component, uid: str, raw_start: date) -> str | None:
        """ISO form of the occurrence's original start (None for a one-off event)."""
        if uid not in self.recurring_uids:
            return None
        rid_prop: Any = component.get("RECURRENCE-ID")
        original: date = rid_prop.dt if rid_prop is not None else raw_start
        if rid_prop is not None and str(rid_prop.params.get("RANGE", "")).upper() == "THISANDFUTURE":
            key = (uid, instant(_as_zone(original, self.zone), self.zone).isoformat())
            move = self.this_and_future_moves.get(key)
            if move:
                shifted = instant(_as_zone(raw_start, self.zone), self.zone) - move
                original = shifted if isinstance(original, datetime) else shifted.date()
        return _as_zone(original, self.zone).isoformat()


def _candidates_per_step(rule: Any, freq: str) -> int:
    """An upper bound of the candidate times one step of the rule makes (what dateutil walks):
    ``FREQ=YEARLY;BYYEARDAY=1..366;BYHOUR=0..23;BYMINUTE=0..59`` makes 527,040 a year."""
    period = _FREQ_SECONDS[freq]
    count = 1
    for by, seconds in _BY_PERIOD_SECONDS:
        if rule.get(by) and period > seconds:
            count *= len(rule[by])
    if rule.get("BYDAY") and period > 86400:
        count *= len(rule["BYDAY"]) * max(1, -(-period // (7 * 86400)))  # every week of the period
    return count


def _month_days_possible(rule: Any) -> bool:
    """Whether BYMONTHDAY names a day that exists in at least one BYMONTH month."""
    days = rule.get("BYMONTHDAY")
    if not days:
        return True
    try:
        months = [int(m) for m in rule.get("BYMONTH") or range(1, 13)]
        return any(1 <= abs(int(d)) <= _MONTH_DAYS.get(m, 31) for d in days for m in months)
    except (TypeError, ValueError):
        return True


def _dt(component: Component, prop: str) -> Any:
    """The Python value of a date/time property (raises when absent or broken)."""
    value: Any = component[prop]
    return value.dt


def _windows_zone(key: str) -> tzinfo | None:
    """An IANA zone for a Windows zone name (e.g. ``W. Europe Standard Time``), if known."""
    olson = WINDOWS_TO_OLSON.get(key)
    if olson is None:
        return None
    try:
        return ZoneInfo(olson)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _component_key(event: Component) -> tuple[str, str, int, str, str, str]:
    """A canonical ordering of raw events (UID, RECURRENCE-ID, SEQUENCE, start, text)."""
    rid = event.get("RECURRENCE-ID")
    start = event.get("DTSTART")
    try:
        sequence = int(event.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        sequence = 0
    return (
        _text(event, "UID"),
        rid.to_ical().decode() if rid is not None else "",
        sequence,
        start.to_ical().decode() if start is not None else "",
        _text(event, "SUMMARY"),
        _text(event, "DESCRIPTION"),
    )


def _overlaps(event: SourceEvent, window_start: datetime, window_end: datetime, zone: tzinfo) -> bool:
    """Whether an occurrence overlaps ``[window_start, window_end)``."""
    start, end = instant(event.start, zone), instant(event.end, zone)
    if start == end:
        return window_start <= start < window_end
    return start < window_end and end > window_start


__all__ = ["MAX_OCCURRENCES_PER_SERIES", "ReadResult", "parse_ics", "read_ics_file"]
