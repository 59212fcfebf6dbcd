"""An in-memory calendar as a target: the *apply* step without files or servers, for fast tests.

Same contract as every target (:class:`~calsync.ports.CalendarTarget`), and the
same iCalendar text: sessions are written with :func:`event_ics.session_vevent` and read back with
:func:`event_ics.owned_event`, so fingerprints, ``X-CALSYNC-*`` and adoption behave exactly as in
the real targets. The storage is a :class:`MemoryCalendar` (one iCalendar object per href, like a
CalDAV collection); several targets may share one, as several passes share a real calendar.

Writes carry CalDAV's preconditions: an update or delete of an event whose object changed since
:meth:`MemoryTarget.list_owned` (a person edited it, or it is gone), and a create of a UID that is
already there, raise :class:`~calsync.ports.ConflictError`.

The person-side helpers of :class:`MemoryCalendar` (``edit``, ``delete_event``, ``add_foreign``,
``foreign``) change the calendar behind calsync's back, the way a calendar app would.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Component

from calsync.adapters import event_ics
from calsync.core.model import Session, Version
from calsync.core.reconcile import OwnedEvent
from calsync.ports import ConflictError

log = logging.getLogger(__name__)


@dataclass
class MemoryCalendar:
    """The storage: iCalendar objects (one VCALENDAR text each) by href, like a CalDAV collection."""

    objects: dict[str, str] = field(default_factory=dict)
    writes: int = 0
    """How many times an object was stored or removed (by calsync or by a person)."""

    def put(self, href: str, text: str) -> None:
        """Store an object as it is."""
        self.objects[href] = text
        self.writes += 1

    def remove(self, href: str) -> None:
        """Remove an object."""
        del self.objects[href]
        self.writes += 1

    def href_of(self, uid: str) -> str | None:
        """The href of the object holding an event with this UID (None when there is none)."""
        for href in sorted(self.objects):
            if uid in _uids(self.objects[href]):
                return href
        return None

    # -- a person, behind calsync's back --------------------------------------------------------

    def edit(self, uid: str, **changes: object) -> None:
        """Change an event as a calendar app would: ``edit(uid, summary="Gym", dtstart=...)``.

        Keys are property names (``dtstart``, ``x_foo`` for ``X-FOO``); None removes the
        property. A new DTSTART without DTEND moves the end too (the duration stays). The
        ``X-CALSYNC-*`` properties stay as they are, so calsync sees the edit.
        """
        href = self.href_of(uid)
        if href is None:
            raise KeyError(f"no event with UID {uid!r}")
        calendar = Calendar.from_ical(self.objects[href])
        event = next(c for c in calendar.walk("VEVENT") if event_ics.text(c, "UID") == uid)
        updates = {key.upper().replace("_", "-"): value for key, value in changes.items()}
        new_start = updates.get("DTSTART")
        if isinstance(new_start, date) and "DTEND" not in updates and "DTEND" in event:
            start, end = event_ics.times(event)
            updates["DTEND"] = new_start + (end - start)  # type: ignore[operator]
        for name, value in updates.items():
            event.pop(name, None)
            if value is not None:
                event.add(name, value)
        calendar.add_missing_timezones()
        self.put(href, calendar.to_ical().decode("utf-8"))

    def delete_event(self, uid: str) -> None:
        """Delete the object holding an event, as a person would."""
        href = self.href_of(uid)
        if href is None:
            raise KeyError(f"no event with UID {uid!r}")
        self.remove(href)

    def add_foreign(self, ics_text: str) -> str:
        """Store an object (a VCALENDAR) calsync did not write, at ``<uid>.ics``; its href."""
        uids = sorted(_uids(ics_text))
        if not uids:
            raise ValueError("not a VCALENDAR with an event UID")
        href = f"{uids[0]}.ics"
        if href in self.objects:
            raise ValueError(f"{href} is already there")
        self.put(href, ics_text)
        return href

    def foreign(self, plan_id: str) -> dict[str, str]:
        """Every object that is not this plan's, by href, exactly as stored."""
        out: dict[str, str] = {}
        for href, text in sorted(self.objects.items()):
            try:
                ours = any(event_ics.owns(c, plan_id) for c in Calendar.from_ical(text).walk("VEVENT"))
            except Exception:
                ours = False
            if not ours:
                out[href] = text
        return out


def _uids(text: str) -> set[str]:
    """The UIDs of the events in an object (none when it cannot be parsed)."""
    try:
        calendar = Calendar.from_ical(text)
    except Exception:
        return set()
    return {event_ics.text(c, "UID") for c in calendar.walk("VEVENT")}


@dataclass(frozen=True)
class _Read:
    """Where an owned event was at the last listing, and its object's text then (the "ETag")."""

    href: str
    text: str


class MemoryTarget:
    """An in-memory calendar that calsync writes one plan's sessions into."""

    def __init__(self, plan_id: str, zone: ZoneInfo, calendar: MemoryCalendar | None = None) -> None:
        self.plan_id = plan_id
        self.zone = zone
        self.calendar = calendar if calendar is not None else MemoryCalendar()
        """Pass the same calendar to another target to see the same storage (fresh state)."""
        self._read: dict[str, _Read] = {}

    def __repr__(self) -> str:
        return f"MemoryTarget(plan={self.plan_id!r}, {len(self.calendar.objects)} objects)"

    # -- the calendar contract -------------------------------------------------------------------

    def _owned_components(self, text: str) -> list[Component]:
        calendar = Calendar.from_ical(text)
        return [c for c in calendar.walk("VEVENT") if event_ics.owns(c, self.plan_id)]

    @property
    def label(self) -> str:
        """For messages."""
        return f"memory:{self.plan_id}"

    @property
    def requests(self) -> int:
        """No HTTP."""
        return 0

    def close(self) -> None:
        """Nothing to release."""

    def list_owned(self) -> list[OwnedEvent]:
        """This plan's events in the calendar, each with its href (the object's text is its
        version); an owned event calsync cannot read is skipped."""
        self._read = {}
        owned: list[OwnedEvent] = []
        for href in sorted(self.calendar.objects):
            text = self.calendar.objects[href]
            try:
                components = self._owned_components(text)
            except Exception as err:
                log.warning("%s: skipping %s that calsync cannot read (%s); left as it is", self, href, err)
                continue
            event = event_ics.owned_master(components, self.plan_id, self.zone, "memory")
            if event is not None:
                owned.append(replace(event, href=href))
                self._read[event.uid] = _Read(href, text)
        return owned

    def _store(self, uid: str, href: str, text: str) -> Version:
        self.calendar.put(href, text)
        self._read[uid] = _Read(href, text)
        return href, ""

    def create(self, session: Session, *, now: datetime) -> Version:
        """A new object at ``<uid>.ics``; a UID already there is a conflict."""
        href = f"{session.uid}.ics"
        if href in self.calendar.objects or self.calendar.href_of(session.uid) is not None:
            raise ConflictError("an event with this UID is already there")
        vevent = event_ics.session_vevent(session, self.plan_id, 0, now)
        return self._store(session.uid, href, event_ics.object_calendar(vevent).to_ical().decode("utf-8"))

    def _unchanged(self, uid: str) -> _Read:
        """Where the event is, when its object is still what was listed; else a conflict."""
        read = self._read.get(uid)
        if read is None:
            raise ConflictError("it was not in the last listing")
        if self.calendar.objects.get(read.href) != read.text:
            raise ConflictError("it changed since it was read")
        return read

    def update(self, previous: OwnedEvent, session: Session, *, sequence: int, now: datetime) -> Version:
        """Rewrite the object, when it is still as listed."""
        read = self._unchanged(previous.uid)
        old: Component | None = None
        try:
            current = self._owned_components(read.text)
            old = current[0] if current else None
        except Exception:  # rewrite from the session alone
            log.debug("plan %s: memory: cannot read the old %s", self.plan_id, session.uid)
        vevent = event_ics.updated_vevent(old, session, self.plan_id, sequence, now)
        return self._store(
            session.uid, read.href, event_ics.object_calendar(vevent).to_ical().decode("utf-8")
        )

    def delete(self, previous: OwnedEvent) -> bool:
        """Remove the object, when it is still as listed; False when it is already gone."""
        uid = previous.uid
        read = self._read.get(uid)
        if read is not None and read.href not in self.calendar.objects:
            del self._read[uid]
            return False
        read = self._unchanged(uid)
        self.calendar.remove(read.href)
        del self._read[uid]
        return True


__all__ = ["MemoryCalendar", "MemoryTarget"]
