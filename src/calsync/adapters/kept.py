"""What a pass keeps in the state for the next process, as JSON: a source's read and a target's
listing, so that a pass finding a file as the last one left it parses nothing (issue 12).

Only what can be restored exactly is kept: times in IANA zones (``ZoneInfo`` with a key), UTC,
or dates. Anything else makes the ``*_to_json`` functions return None, and the caller then keeps
nothing (the next pass parses again).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from calsync.core.model import ReadResult, SessionKind, SourceEvent, When
from calsync.core.reconcile import OwnedEvent


def read_to_json(result: ReadResult) -> bytes | None:
    """A read as JSON, or None when one of its times is in a zone that cannot be restored exactly."""
    events = []
    for event in result.events:
        start, end = _when_to_json(event.start), _when_to_json(event.end)
        if start is None or end is None:
            return None
        events.append(
            [
                event.uid,
                event.summary,
                start,
                end,
                event.recurrence_id,
                event.description,
                list(event.categories),
                event.location,
                event.busy,
                event.source,
            ]
        )
    return json.dumps({"events": events, "problems": result.problems}, ensure_ascii=False).encode("utf-8")


def read_from_json(data: bytes) -> ReadResult:
    """The read :func:`read_to_json` wrote."""
    loaded = json.loads(data)
    events = [_event_from_json(row) for row in loaded["events"]]
    return ReadResult(events, [str(p) for p in loaded["problems"]])


def _event_from_json(row: list[Any]) -> SourceEvent:
    uid, summary, start, end, recurrence_id, description, categories, location, busy, source = row
    return SourceEvent(
        uid=str(uid),
        summary=str(summary),
        start=_when_from_json(start),
        end=_when_from_json(end),
        recurrence_id=None if recurrence_id is None else str(recurrence_id),
        description=str(description),
        categories=tuple(str(c) for c in categories),
        location=str(location),
        busy=bool(busy),
        source=str(source),
    )


def _when_to_json(when: When) -> list[str] | None:
    if not isinstance(when, datetime):
        return ["date", when.isoformat()]
    zone = when.tzinfo
    if isinstance(zone, ZoneInfo) and zone.key:
        return ["zone", when.replace(tzinfo=None).isoformat(), zone.key, str(when.fold)]
    if zone is UTC:
        return ["utc", when.replace(tzinfo=None).isoformat()]
    return None


def _when_from_json(value: Any) -> When:
    kind = value[0]
    if kind == "date":
        return date.fromisoformat(value[1])
    if kind == "utc":
        return datetime.fromisoformat(value[1]).replace(tzinfo=UTC)
    if kind == "zone":
        return datetime.fromisoformat(value[1]).replace(tzinfo=ZoneInfo(value[2]), fold=int(value[3]))
    raise ValueError(f"unknown time form {kind!r}")


def owned_to_json(owned: list[OwnedEvent]) -> bytes | None:
    """A target's listing as JSON (None when a time or an extra copy cannot be kept)."""
    rows = []
    for event in owned:
        start, end = _when_to_json(event.start), _when_to_json(event.end)
        if start is None or end is None or event.copies:
            return None
        rows.append(
            [
                event.uid,
                event.plan_id,
                str(event.kind),
                event.week,
                event.slot,
                event.title,
                start,
                end,
                event.sequence,
                event.written_hash,
                event.current_hash,
                event.href,
                event.etag,
            ]
        )
    return json.dumps(rows, ensure_ascii=False).encode("utf-8")


def owned_from_json(data: bytes) -> list[OwnedEvent]:
    """The listing :func:`owned_to_json` wrote."""
    owned = []
    for row in json.loads(data):
        uid, plan_id, kind, week, slot, title, start, end, sequence, written, current, href, etag = row
        owned.append(
            OwnedEvent(
                uid=str(uid),
                plan_id=str(plan_id),
                kind=SessionKind(kind),
                week=str(week),
                slot=str(slot),
                title=str(title),
                start=_when_from_json(start),
                end=_when_from_json(end),
                sequence=int(sequence),
                written_hash=None if written is None else str(written),
                current_hash=str(current),
                href=str(href),
                etag=str(etag),
            )
        )
    return owned
