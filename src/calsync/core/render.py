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

from calsync.core.model import Session, SessionKind, When

REST_TEXT = (
    "A full rest day: no run, no strength training, no other training. "
    "Rest is when the training of the week turns into fitness."
)
FOOTER = "Placed by calsync around your run plan."
"""True wherever the event is read: an editable calendar, a read-only feed, Home Assistant."""
_GROUP_WORDS = {"lower": "lower body", "upper": "upper body", "core": "core"}


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def why_here(reasons: tuple[str, ...]) -> str:
    """The "Why here:" paragraph: plain sentences naming the runs a session was placed around
    (the rule ids travel in ``X-CALSYNC-RULES``, never in the text a runner reads)."""
    return "Why here: " + " ".join(_sentence(r) for r in reasons if r.strip())


def _facts(session: Session) -> str:
    facts = []
    if session.minutes:
        facts.append(f"{session.minutes} minutes")
    if session.load:
        facts.append(f"{session.load} load")
    if session.muscle_groups:
        facts.append("works " + " and ".join(_GROUP_WORDS.get(g, g) for g in session.muscle_groups))
    line = _sentence(", ".join(facts)) if facts else ""
    return line[:1].upper() + line[1:]


def describe(session: Session) -> str:
    """The DESCRIPTION of a session's event: what to do (warm-up, exercises with sets x reps,
    effort, a no-gym alternative), then why it is there."""
    parts: list[str] = []
    if session.kind is SessionKind.REST:
        parts.append(REST_TEXT)
    else:
        facts = _facts(session)
        if facts:
            parts.append(facts)
        if session.warmup:
            parts.append(f"Warm-up: {session.warmup}")
        if session.exercises:
            parts.append("\n".join(f"- {e.name}: {e.prescription}" for e in session.exercises))
        if session.effort:
            parts.append(f"Effort: {_sentence(session.effort)}")
        if session.alternative:
            alternative = _sentence(session.alternative)
            no_gym = alternative.lower().startswith("no gym")
            parts.append(alternative if no_gym else f"No gym: {alternative}")
    if any(r.strip() for r in session.reasons):
        parts.append(why_here(session.reasons))
    parts.append(FOOTER)
    return "\n\n".join(parts)


def normal_text(text: str) -> str:
    """Text as it reads back from an iCalendar file: its escaping turns every line break into
    "\\n" (so a "\\r" written comes back a "\\n")."""
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
        [str(kind), normal_text(title), normal_text(description), _normal_when(start), _normal_when(end)],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def session_fingerprint(session: Session) -> str:
    """The fingerprint of the event calsync writes for this session."""
    return fingerprint(session.kind, session.title, describe(session), session.start, session.end)
