"""Render: the text calsync writes into a session's event, and its fingerprint.

Part of the *apply* step (PRODUCT.md section 4). Pure: no I/O and no iCalendar objects, so every
target (file, feed, CalDAV, Home Assistant) writes the same words and computes the same hash.

The fingerprint covers exactly what calsync controls in an event (kind, title, description, start,
end), from values that come back unchanged after a trip through an ``.ics`` file. It is written into
the event (``X-CALSYNC-HASH``); when the event read back no longer matches it, a person edited it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime

from calsync.model import Session, SessionKind, When

REST_TEXT = (
    "A full rest day: no run, no strength training, no active recovery. "
    "Rest is when the training of the week turns into fitness."
)
FOOTER = (
    "Placed by calsync. If you move or change this event, calsync keeps your version "
    "and plans the rest of the week around it."
)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def why_here(reasons: tuple[str, ...]) -> str:
    """The "Why here:" paragraph: the rules and runs a session was placed by."""
    return "Why here: " + " ".join(_sentence(r) for r in reasons if r.strip())


def describe(session: Session) -> str:
    """The DESCRIPTION of a session's event: exercises, minutes, then why it is there."""
    parts: list[str] = []
    if session.kind is SessionKind.REST:
        parts.append(REST_TEXT)
    else:
        if session.exercises:
            parts.append("\n".join(f"- {e.name}: {e.prescription}" for e in session.exercises))
        facts = []
        if session.minutes:
            facts.append(f"{session.minutes} minutes")
        if session.load:
            facts.append(f"{session.load} load")
        if session.muscle_groups:
            facts.append("focus: " + ", ".join(session.muscle_groups))
        if facts:
            line = _sentence(", ".join(facts))
            parts.append(line[:1].upper() + line[1:])
    if any(r.strip() for r in session.reasons):
        parts.append(why_here(session.reasons))
    parts.append(FOOTER)
    return "\n\n".join(parts)


def _normal_text(text: str) -> str:
    # iCalendar text escaping turns every line break into "\n"
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _normal_when(when: When) -> str:
    # iCalendar keeps whole seconds; an all-day date is a date (no "T" in its ISO form)
    if isinstance(when, datetime):
        return when.replace(microsecond=0).isoformat()
    if isinstance(when, date):
        return when.isoformat()
    raise TypeError(f"not a date or datetime: {when!r}")


def fingerprint(kind: str, title: str, description: str, start: When, end: When) -> str:
    """A short stable hash (16 hex digits of SHA-256) of what calsync controls in an event."""
    payload = json.dumps(
        [str(kind), _normal_text(title), _normal_text(description), _normal_when(start), _normal_when(end)],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def session_fingerprint(session: Session) -> str:
    """The fingerprint of the event calsync writes for this session."""
    return fingerprint(session.kind, session.title, describe(session), session.start, session.end)
