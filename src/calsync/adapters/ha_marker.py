"""How calsync recognises its own events in a Home Assistant calendar: a marker line.

Part of the *apply* step for Home Assistant targets (PRODUCT.md section 4). HA's calendar API keeps
an event's summary, start, end, description, location and recurrence, and assigns its own ``uid``
(``calendar/event/create`` does not even return it); there is no room for ``X-CALSYNC-*``
properties. So calsync ends the description of every session it writes with one line (here
wrapped)::

    [calsync plan=me uid=calsync-me-2026W49-s1 kind=heavy_lower week=2026-W49 slot=s1
     seq=0 hash=0123456789abcdef]

carrying what the ``X-CALSYNC-*`` properties and ``SEQUENCE`` carry elsewhere: the deterministic
calsync UID (so an event written just before a crash is adopted, never written twice), the kind,
week and slot, and the fingerprint of what calsync wrote. The fingerprint covers the description
*without* the marker line, so an unedited event reads back with ``current_hash == written_hash``
and any change a person makes in HA's UI (summary, times, description text) shows as an edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MARKER = re.compile(r"^\[calsync (?P<fields>(?:[a-z]+=[^\s\]]+ ?)+)\]$", re.MULTILINE)
"""The marker line (anywhere in the description; calsync writes it last)."""
FIELDS = ("plan", "uid", "kind", "week", "slot", "seq", "hash")


@dataclass(frozen=True)
class Marker:
    """What the marker line of an owned event says."""

    plan: str
    uid: str
    kind: str
    week: str
    slot: str
    sequence: int
    written_hash: str

    def line(self) -> str:
        """The marker as written at the end of a description."""
        return (
            f"[calsync plan={self.plan} uid={self.uid} kind={self.kind} week={self.week} "
            f"slot={self.slot} seq={self.sequence} hash={self.written_hash}]"
        )


def with_marker(body: str, marker: Marker) -> str:
    """The description calsync writes: the session's text, a blank line, the marker."""
    return f"{body}\n\n{marker.line()}"


def split(description: str) -> tuple[str, Marker] | None:
    """The text without the marker, and the marker; None when the description has no valid one.

    The marker calsync wrote is the last line after a blank line; a marker a person moved
    elsewhere still counts (the text around it is then whatever the person left).
    """
    text = description.replace("\r\n", "\n").replace("\r", "\n")
    matches = list(MARKER.finditer(text))
    if not matches:
        return None
    found = matches[-1]
    fields = dict(pair.split("=", 1) for pair in found["fields"].split())
    if any(name not in fields for name in FIELDS):
        return None
    try:
        sequence = int(fields["seq"])
    except ValueError:
        return None
    marker = Marker(
        fields["plan"],
        fields["uid"],
        fields["kind"],
        fields["week"],
        fields["slot"],
        sequence,
        fields["hash"],
    )
    before, after = text[: found.start()], text[found.end() :]
    if not after and before.endswith("\n\n"):
        body = before[:-2]
    else:
        body = "\n\n".join(part for part in (before.rstrip("\n"), after.strip("\n")) if part)
    return body, marker
