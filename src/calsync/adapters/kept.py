"""What a pass keeps in the state for the next process, as JSON: a source's read and a target's
listing, so that a pass finding a file as the last one left it parses nothing (issue 12).

Only what can be restored exactly is kept: times in IANA zones (``ZoneInfo`` with a key), UTC,
or dates. Anything else makes the ``*_to_json`` functions return None, and the caller then keeps
nothing (the next pass parses again). Reading a kept value back checks every field's type: any
problem with it (:class:`KeptUnusableError`) means "parse again", never a failed pass.

A kept value is valid for the bytes it was made from, read by the same code: :func:`reader_key`
names that code (calsync's reading modules, the iCalendar libraries' versions and the time zone
data), and every key a caller builds starts with it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import zoneinfo
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from calsync import __version__
from calsync.core.model import ReadResult, SessionKind, SourceEvent, When
from calsync.core.reconcile import OwnedEvent
from calsync.ports import SyncStore

_T = TypeVar("_T")
log = logging.getLogger(__name__)

_READING_MODULES = ("kept.py", "ics_read.py", "event_ics.py", "ics_target.py", "vtimezone.py")
"""calsync's modules whose code decides what a read or a listing holds."""
_LIBRARIES = ("icalendar", "recurring_ical_events", "x_wr_timezone", "dateutil", "tzdata")
_DIST_NAMES = {"dateutil": "python_dateutil"}
"""A library whose distribution is not named as the module it installs."""


class KeptUnusableError(ValueError):
    """A kept value that cannot be read back (damaged, or of another shape): parse again."""


@functools.cache
def reader_key() -> str:
    """What a kept value depends on besides its bytes: calsync's reading code, the versions of
    the libraries that parse (found without importing them) and the time zone data in use."""
    digest = hashlib.sha256(__version__.encode())
    here = Path(__file__).parent
    for name in _READING_MODULES:
        try:
            digest.update((here / name).read_bytes())
        except OSError:
            digest.update(name.encode())
    for library in _LIBRARIES:
        digest.update(_library_version(library).encode())
    for folder in zoneinfo.TZPATH:
        stamp = _stamp(Path(folder) / "tzdata.zi")
        if stamp:
            digest.update(stamp.encode())
            break
    return digest.hexdigest()[:24]


def kept_key(*parts: str) -> str:
    """The key a kept value is valid under: the reading code (:func:`reader_key`) and ``parts``,
    what the value was made from (a hash of the bytes, the window, the zone...)."""
    return "|".join((reader_key(), *parts))


def load_kept(
    store: SyncStore | None, key: str, name: str, decode: Callable[[bytes], _T], what: str
) -> _T | None:
    """The value kept in ``store`` as object ``name`` under ``key``, decoded; None when there is
    none (or only its key: it could not be kept), it was made from something else, or it cannot
    be read back (then ``what`` is parsed again)."""
    if store is None or store.token() != key:
        return None
    kept = store.objects().get(name)
    if kept is None:
        return None
    try:
        return decode(kept[1])
    except KeptUnusableError as err:
        log.debug("%s: the kept value is unusable (%s): parsing it again", what, err)
        return None


def save_kept(store: SyncStore | None, key: str, name: str, data: bytes | None) -> None:
    """Keep ``data`` as object ``name`` under ``key``; a value that cannot be kept (None) keeps
    the key alone, saved once, so an idle pass writes nothing."""
    if store is None:
        return
    if data is not None:
        store.save(key, {name: ("1", data)})
    elif store.token() != key:
        store.save(key, {})


def _library_version(name: str) -> str:
    """``name-1.2.3`` from the package's ``.dist-info`` folder beside it (no import: start-up)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return f"{name}:absent"
    if spec is None or not spec.origin:
        return f"{name}:absent"
    package = Path(spec.origin).parent
    site = package.parent if package.name == name else package
    dist = _DIST_NAMES.get(name, name)
    prefix = dist.replace("_", "-").lower() + "-"
    underscored = dist.lower() + "-"
    try:
        entries = os.listdir(site)
    except OSError:
        return f"{name}:{_stamp(Path(spec.origin))}"
    for entry in entries:
        low = entry.lower()
        if low.endswith(".dist-info") and (low.startswith(prefix) or low.startswith(underscored)):
            return entry
    return f"{name}:{_stamp(Path(spec.origin))}"


def _stamp(path: Path) -> str:
    try:
        st = path.stat()
    except OSError:
        return ""
    return f"{st.st_size}:{st.st_mtime_ns}"


# -- reads --------------------------------------------------------------------------------------


def read_to_json(result: ReadResult, name: str) -> bytes | None:
    """A read as JSON, or None when one of its times is in a zone that cannot be restored exactly.

    ``name`` (the source's name in messages, which names the plan) is left out and put back by
    :func:`read_from_json`: another plan, or the same source renamed, reads the same events."""
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
                None if event.source == name else event.source,
            ]
        )
    problems = [[p[len(name) :], True] if p.startswith(name) else [p, False] for p in result.problems]
    return json.dumps({"events": events, "problems": problems}, ensure_ascii=False).encode("utf-8")


def read_from_json(data: bytes, name: str) -> ReadResult:
    """The read :func:`read_to_json` wrote, with ``name`` put back; :class:`KeptUnusableError` when it
    cannot be read."""
    loaded = _loaded(data)
    rows, problems = _get(loaded, "events", list), _get(loaded, "problems", list)
    try:
        events = [_event_from_json(row, name) for row in rows]
        said = [(name if _of(bool, p[1]) else "") + _of(str, p[0]) for p in problems]
    except (IndexError, TypeError, ValueError, KeyError) as err:
        raise KeptUnusableError(f"a kept read of another shape ({err})") from err
    return ReadResult(events, said)


def _event_from_json(row: list[Any], name: str) -> SourceEvent:
    uid, summary, start, end, recurrence_id, description, categories, location, busy, source = row
    return SourceEvent(
        uid=_of(str, uid),
        summary=_of(str, summary),
        start=_when_from_json(start),
        end=_when_from_json(end),
        recurrence_id=None if recurrence_id is None else _of(str, recurrence_id),
        description=_of(str, description),
        categories=tuple(_of(str, c) for c in _of(list, categories)),
        location=_of(str, location),
        busy=_of(bool, busy),
        source=name if source is None else _of(str, source),
    )


# -- listings -----------------------------------------------------------------------------------


def owned_to_json(owned: list[OwnedEvent], skipped: list[str]) -> bytes | None:
    """A target's listing as JSON, with the messages of the events it skipped (said again when
    it is read back); None when a time or an extra copy cannot be kept."""
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
    return json.dumps({"owned": rows, "skipped": skipped}, ensure_ascii=False).encode("utf-8")


def owned_from_json(data: bytes) -> tuple[list[OwnedEvent], list[str]]:
    """The listing and skip messages :func:`owned_to_json` wrote; :class:`KeptUnusableError` when it
    cannot be read."""
    loaded = _loaded(data)
    try:
        owned = [_owned_from_json(row) for row in _get(loaded, "owned", list)]
        skipped = [_of(str, s) for s in _get(loaded, "skipped", list)]
    except (IndexError, TypeError, ValueError, KeyError) as err:
        raise KeptUnusableError(f"a kept listing of another shape ({err})") from err
    return owned, skipped


def _owned_from_json(row: list[Any]) -> OwnedEvent:
    uid, plan_id, kind, week, slot, title, start, end, sequence, written, current, href, etag = row
    return OwnedEvent(
        uid=_of(str, uid),
        plan_id=_of(str, plan_id),
        kind=SessionKind(_of(str, kind)),
        week=_of(str, week),
        slot=_of(str, slot),
        title=_of(str, title),
        start=_when_from_json(start),
        end=_when_from_json(end),
        sequence=_of(int, sequence),
        written_hash=None if written is None else _of(str, written),
        current_hash=_of(str, current),
        href=_of(str, href),
        etag=_of(str, etag),
    )


# -- pieces -------------------------------------------------------------------------------------


def _loaded(data: bytes) -> dict[str, Any]:
    try:
        loaded = json.loads(data)
    except (ValueError, RecursionError) as err:
        raise KeptUnusableError(f"not JSON ({type(err).__name__})") from err
    if not isinstance(loaded, dict):
        raise KeptUnusableError("not a JSON object")
    return loaded


def _get(loaded: dict[str, Any], key: str, kind: type[_T]) -> _T:
    try:
        return _of(kind, loaded[key])
    except (KeyError, TypeError) as err:
        raise KeptUnusableError(f"no {key}") from err


def _of(kind: type[_T], value: Any) -> _T:
    """``value`` when it is of ``kind`` (``int`` is not satisfied by a bool), else TypeError."""
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise TypeError(f"{value!r} is not {kind.__name__}")
    return value


def _when_to_json(when: When) -> list[str] | None:
    if not isinstance(when, datetime):
        return ["date", when.isoformat()]
    zone = when.tzinfo
    if isinstance(zone, ZoneInfo) and zone.key:
        return ["zone", when.replace(tzinfo=None).isoformat(), zone.key, str(when.fold)]
    if zone is UTC:
        return ["utc", when.replace(tzinfo=None).isoformat()]
    return None


_WHEN: dict[str, Callable[[list[Any]], When]] = {
    "date": lambda v: date.fromisoformat(_of(str, v[1])),
    "utc": lambda v: datetime.fromisoformat(_of(str, v[1])).replace(tzinfo=UTC),
    "zone": lambda v: datetime.fromisoformat(_of(str, v[1])).replace(
        tzinfo=ZoneInfo(_of(str, v[2])), fold=int(_of(str, v[3]))
    ),
}


def _when_from_json(value: Any) -> When:
    reader = _WHEN.get(_of(list, value)[0]) if isinstance(value, list) and value else None
    if reader is None:
        raise ValueError(f"unknown time form {value!r}")
    when = reader(value)
    if isinstance(when, datetime) and (when.tzinfo is None or when.fold not in (0, 1)):
        raise ValueError(f"a time without its zone: {value!r}")
    return when
