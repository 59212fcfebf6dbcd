"""The iCalendar form of an owned event: a session -> VEVENT, and a VEVENT -> :class:`OwnedEvent`.

Part of the *apply* step (PRODUCT.md section 4): every target that stores iCalendar (the ``.ics``
file, CalDAV) writes a session with the same properties, and reads an owned event back the same
way, so the fingerprint (``X-CALSYNC-HASH``) means the same thing everywhere.

An event is this plan's when its UID follows calsync's scheme for the plan
(``calsync-<plan>-<YYYY>W<WW>-<slot>``) and its ``X-CALSYNC-PLAN``, if any, is the plan id; a copy
under another UID is never calsync's, whatever its ``X-CALSYNC-*`` lines say. An event with a
session UID that lost the ``X-CALSYNC-*``
properties (some clients drop unknown properties when a person edits an event) is adopted too,
as an event a person edited: calsync keeps it and never creates a second one beside it.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Component, Event

from calsync.adapters.vtimezone import add_timezones
from calsync.core.identity import is_session_uid, parse_session_uid
from calsync.core.model import Session, SessionKind, When
from calsync.core.reconcile import OwnedEvent
from calsync.core.render import describe, fingerprint, normal_text, session_fingerprint

log = logging.getLogger(__name__)

PRODID = "-//calsync//calsync//EN"
STRIPPED_HASH = "stripped"
"""``written_hash`` of an adopted event whose ``X-CALSYNC-HASH`` is gone: it counts as edited."""


def text(component: Component, name: str) -> str:
    """A property's text ('' when absent; the first one when given twice)."""
    value = component.get(name)
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0]
    return str(value)


def dt(component: Component, name: str) -> object:
    """The parsed value of a date / time / duration property (the first, when given twice)."""
    prop: Any = component[name]
    if isinstance(prop, list):
        prop = prop[0]
    return prop.dt


def times(event: Component) -> tuple[When, When]:
    """DTSTART and the end (DTEND, else DTSTART + DURATION, else RFC 5545's default), as written."""
    start = dt(event, "DTSTART")
    if not isinstance(start, date):
        raise ValueError("DTSTART is not a date or a date-time")
    end: object
    if "DTEND" in event:
        end = dt(event, "DTEND")
    elif "DURATION" in event:
        duration = dt(event, "DURATION")
        if not isinstance(duration, timedelta):
            raise ValueError("DURATION is not a duration")
        end = start + duration
    elif isinstance(start, datetime):
        end = start
    else:
        end = start + timedelta(days=1)
    if not isinstance(end, date):
        raise ValueError("DTEND is not a date or a date-time")
    return start, end


def owns(component: Component, plan_id: str) -> bool:
    """Whether a component is one of this plan's events: its UID is one calsync makes for the plan
    (and its ``X-CALSYNC-PLAN``, when present, names the plan).

    A copy of a session under another UID (a person duplicated it, or an app re-created it when
    moving it between calendars, ``X-CALSYNC-*`` lines and all) is the person's event: calsync
    never changes or deletes an event whose UID it did not write.
    """
    if component.name != "VEVENT" or not is_session_uid(text(component, "UID"), plan_id):
        return False
    marked = text(component, "X-CALSYNC-PLAN")
    return not marked or marked == plan_id


def is_calsync_event(component: Component) -> bool:
    """Whether a component is an event written by calsync (for any plan)."""
    return component.name == "VEVENT" and (
        bool(text(component, "X-CALSYNC-PLAN")) or is_session_uid(text(component, "UID"))
    )


def _kind(component: Component, slot: str) -> SessionKind:
    """The session kind: ``X-CALSYNC-KIND``, else a kind among the CATEGORIES, else ``rest`` by slot."""
    marked = text(component, "X-CALSYNC-KIND")
    if marked:
        return SessionKind(marked)
    values: list[str] = []
    categories = component.get("CATEGORIES")
    for prop in categories if isinstance(categories, list) else [categories] if categories else []:
        values.extend(str(c) for c in getattr(prop, "cats", []))
    for value in values:
        if value in SessionKind.__members__.values():
            return SessionKind(value)
    if slot.startswith("rest"):
        return SessionKind.REST
    raise ValueError("its kind is unknown (no X-CALSYNC-KIND)")


def owned_event(component: Component, plan_id: str, zone: ZoneInfo) -> OwnedEvent:
    """An owned VEVENT as an :class:`OwnedEvent` (raises ValueError when it cannot be read).

    Floating times are read in the plan's zone. An event adopted by its UID alone (its
    ``X-CALSYNC-*`` properties were dropped) counts as edited by a person.
    """
    uid = text(component, "UID")
    if not uid:
        raise ValueError("no UID")
    named = parse_session_uid(uid)
    week = text(component, "X-CALSYNC-WEEK") or (named.week if named else "")
    slot = text(component, "X-CALSYNC-SLOT") or (named.slot if named else "")
    kind = _kind(component, slot)
    start, end = times(component)
    title = normal_text(text(component, "SUMMARY"))  # the same in memory as read back from a file
    current = fingerprint(kind.value, title, text(component, "DESCRIPTION"), start, end)
    written: str | None = text(component, "X-CALSYNC-HASH") or None
    if written is None and not text(component, "X-CALSYNC-PLAN"):
        written = STRIPPED_HASH
    try:
        sequence = int(component.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        sequence = 0

    def aware(when: When) -> When:
        if isinstance(when, datetime) and when.tzinfo is None:
            return when.replace(tzinfo=zone)
        return when

    return OwnedEvent(
        uid=uid,
        plan_id=plan_id,
        kind=kind,
        week=week,
        slot=slot,
        title=title,
        start=aware(start),
        end=aware(end),
        sequence=sequence,
        written_hash=written,
        current_hash=current,
    )


def owned_master(components: list[Component], plan_id: str, zone: ZoneInfo, where: str) -> OwnedEvent | None:
    """The owned event of one calendar object (its master; an override alone stands for itself),
    or None when calsync cannot read it: that event is left as it is, with a warning."""
    masters = [c for c in components if "RECURRENCE-ID" not in c] or components[:1]
    for component in masters[:1]:
        try:
            return owned_event(component, plan_id, zone)
        except Exception as err:  # a broken event must not lose the others
            log.warning(
                "plan %s: %s: skipping event %r that calsync cannot read (%s); left as it is",
                plan_id,
                where,
                text(component, "UID"),
                err,
            )
    return None


def session_vevent(
    session: Session, plan_id: str, sequence: int, now: datetime, created: object = None
) -> Event:
    """The VEVENT of a session (PRODUCT.md section 4); ``now`` becomes DTSTAMP / LAST-MODIFIED."""
    event = Event()
    event.add("uid", session.uid)
    event.add("dtstamp", now)
    event.add("created", created if created is not None else now)
    event.add("last-modified", now)
    event.add("sequence", sequence)
    event.add("dtstart", session.start)
    event.add("dtend", session.end)
    event.add("summary", session.title)
    event.add("description", describe(session))
    event.add("categories", ["calsync", session.kind.value])
    event.add("transp", "OPAQUE" if session.kind.is_strength else "TRANSPARENT")
    event.add("x-calsync-plan", plan_id)
    event.add("x-calsync-kind", session.kind.value)
    event.add("x-calsync-week", session.week)
    event.add("x-calsync-slot", session.slot)
    event.add("x-calsync-hash", session_fingerprint(session))
    if session.rules:
        event.add("x-calsync-rules", ",".join(session.rules))
    return event


def object_calendar(event: Event) -> Calendar:
    """A VCALENDAR holding one event and the VTIMEZONEs its times need (one CalDAV object)."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add_component(event)
    add_timezones(calendar)
    return calendar


def previous_details(event: Component) -> tuple[int, object, list[Component]]:
    """What an update carries over from the event it replaces: SEQUENCE, CREATED, sub-components.

    Alarms a person added to an owned event stay when calsync rewrites it.
    """
    try:
        sequence = int(event.get("SEQUENCE", 0))
    except (TypeError, ValueError):
        sequence = 0
    try:
        created = dt(event, "CREATED") if "CREATED" in event else None
    except Exception:
        created = None
    return sequence, created, list(event.subcomponents)


CONTROLLED = frozenset(
    {
        "UID",
        "DTSTAMP",
        "CREATED",
        "LAST-MODIFIED",
        "SEQUENCE",
        "DTSTART",
        "DTEND",
        "DURATION",
        "SUMMARY",
        "DESCRIPTION",
        "CATEGORIES",
        "TRANSP",
        "X-CALSYNC-PLAN",
        "X-CALSYNC-KIND",
        "X-CALSYNC-WEEK",
        "X-CALSYNC-SLOT",
        "X-CALSYNC-HASH",
    }
)
"""The properties calsync writes; everything else on an owned event is a person's or an app's."""


def updated_vevent(
    previous: Component | None, session: Session, plan_id: str, sequence: int, now: datetime
) -> Event:
    """The VEVENT that replaces ``previous`` for a moved or changed session.

    SEQUENCE goes past both the planned one and the event's own; CREATED stays; what a person or
    an app added (a LOCATION, a COLOR, X- properties, alarms) is carried over as it was.
    """
    if previous is None:
        return session_vevent(session, plan_id, sequence, now)
    old_sequence, created, subcomponents = previous_details(previous)
    event = session_vevent(session, plan_id, max(sequence, old_sequence + 1), now, created)
    for name, value in previous.property_items(recursive=False):
        if name not in CONTROLLED and name not in ("BEGIN", "END") and name not in event:
            event.add(name, value, encode=False)
    for sub in subcomponents:
        event.add_component(sub)
    return event
