"""Home Assistant source and target: runs from any HA calendar entity, sessions into a Local Calendar.

The *read* and *apply* steps for Home Assistant (PRODUCT.md sections 1, 4 and 6).

* :class:`HaCalendarSource` reads ``GET /api/calendars/<entity_id>`` over the window. HA expands
  recurring events itself (each occurrence its own item, a moved occurrence at its new time,
  cancelled ones absent), so the runs match what the ``.ics`` reader gives for the same plan.
  What HA does not expose (categories, ``TRANSP``) is absent: every event counts as busy.
  Sessions calsync wrote (any plan: they carry the marker) are left out, so a calendar can be both
  a plan's source and its target.
* :class:`HaCalendarTarget` lists the entity once per pass (``list_owned``) and writes through the
  websocket API (``calendar/event/create`` / ``update`` / ``delete``, by HA's own ``uid``).
  Owned events are recognised by the marker line at the end of their description
  (:mod:`calsync.adapters.ha_marker`), which carries the calsync UID and the fingerprint of what
  calsync wrote: a person's edit (summary, times, description text) is seen and kept.
* :class:`HaSensorPublisher` posts the two sensors of :mod:`calsync.adapters.ha_sensors`.

Concurrency: HA has no ETags or If-Match. Inside :meth:`HaCalendarTarget.batch` the entity is
listed once more before the first write, and every event about to be updated or deleted is
compared with what ``list_owned`` saw (any change: a :class:`~calsync.ports.ConflictError`, never
overwritten); a create whose calsync UID is already there (another instance, or a write just
before a crash) is a conflict too. What remains is the time between that listing and each write
(milliseconds per write on a LAN): an edit a person saves in exactly that moment can be
overwritten. Two instances racing through that moment can both create one session; the next
listing reports the extra unedited copies in the kept event's ``copies`` and reconcile deletes
them (every instance keeps the same one: the highest sequence, else the smallest HA uid). A copy
a person changed (a session's description pasted into an event of their own) is theirs and
never touched while an unedited copy is there.

A write whose answer is lost (HA may or may not have done it) is settled by the executor, which
lists once more (:func:`calsync.executor.execute`).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from calsync.adapters import ha_marker, ha_sensors
from calsync.adapters.ha_client import GONE, HaClient
from calsync.config import HomeAssistantSource, HomeAssistantTarget
from calsync.core.model import (
    NO_VERSION,
    PlanResult,
    ReadResult,
    Session,
    SessionKind,
    SourceEvent,
    Version,
    When,
    source_order,
)
from calsync.core.reconcile import OwnedEvent
from calsync.core.render import describe, fingerprint, session_fingerprint
from calsync.errors import CalsyncError, SourceError, TargetError
from calsync.ports import ConflictError, SyncStore

log = logging.getLogger(__name__)

OWNED_PAST = timedelta(days=8)
"""How far back of now the target is listed for owned events: the planning window starts on this
week's Monday (at most 6 days back), and sessions kept or started in it must be seen; older ones
are history nobody reconciles (and the state forgets sessions once they ended)."""
MAX_HORIZON_WEEKS = 104
"""The largest ``horizon_weeks`` a plan may have (used when the target is not told its plan's)."""
OWNED_FUTURE_MARGIN = timedelta(weeks=2)
"""Listed past the horizon's end (the horizon counts from this week's Monday; a margin besides)."""
SENSOR_REPOST_SECONDS = 900.0
"""A sensor whose content did not change is posted again only after this long (HA forgets
posted states when it restarts)."""


def _clock() -> datetime:
    """The time now (list_owned has no ``now``; the tests pin this)."""
    return datetime.now(UTC)


def _token_hint(config: HomeAssistantSource | HomeAssistantTarget) -> str:
    if config.token_file:
        return f"token_file {config.token_file}"
    return f"the environment variable {config.token_env}"


def _client(
    config: HomeAssistantSource | HomeAssistantTarget, *, where: str, label: str, error: type[CalsyncError]
) -> HaClient:
    return HaClient(
        config.url,
        config.token(where),
        entity_id=config.entity_id,
        label=label,
        error=error,
        timeout=config.timeout_seconds,
        verify_tls=config.verify_tls,
        ca_file=config.ca_file,
        token_hint=_token_hint(config),
    )


def _when(value: Any, zone: ZoneInfo) -> When:
    """An HA ``{"dateTime": ...}`` / ``{"date": ...}`` as an aware datetime in ``zone`` or a date."""
    if not isinstance(value, dict):
        raise ValueError(f"not a time: {value!r}")
    if value.get("dateTime"):
        moment = datetime.fromisoformat(str(value["dateTime"]))
        return moment.astimezone(zone) if moment.tzinfo else moment.replace(tzinfo=zone)
    if value.get("date"):
        return date.fromisoformat(str(value["date"]))
    raise ValueError(f"neither date nor dateTime: {value!r}")


def _shifted(start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[datetime, datetime]]:
    """``start`` / ``end`` with either or both an hour earlier or later (real time), in ``zone``."""
    hour = timedelta(hours=1)
    found = []
    for a in (-hour, timedelta(0), hour):
        for b in (-hour, timedelta(0), hour):
            if a or b:
                found.append(
                    ((start.astimezone(UTC) + a).astimezone(zone), (end.astimezone(UTC) + b).astimezone(zone))
                )
    return found


def _recurrence_id(value: Any) -> str | None:
    """HA's ``20300114T070000`` / ``20300114`` in ISO form (a key only: HA gives no zone)."""
    if not value:
        return None
    text = str(value)
    for pattern in ("%Y%m%dT%H%M%SZ", "%Y%m%dT%H%M%S"):
        try:
            return datetime.strptime(text, pattern).isoformat()
        except ValueError:
            continue
    try:
        return datetime.strptime(text, "%Y%m%d").date().isoformat()
    except ValueError:
        return text


class HaCalendarSource:
    """Runs from a Home Assistant calendar entity (read-only: one GET per read)."""

    def __init__(self, source: HomeAssistantSource, *, name: str, where: str) -> None:
        self.source = source
        self.name = name
        self.where = where
        self._requests = 0

    @property
    def requests(self) -> int:
        """HTTP requests made so far."""
        return self._requests

    def read(
        self,
        window_start: datetime,
        window_end: datetime,
        zone: ZoneInfo,
        store: SyncStore | None,  # noqa: ARG002 - HA has no sync token: every read is a full one
        *,
        full: bool,  # noqa: ARG002
    ) -> ReadResult:
        """The entity's events overlapping the window; a failed request is a SourceError."""
        client = _client(self.source, where=self.where, label=self.name, error=SourceError)
        try:
            items = client.rest(
                "GET",
                f"/api/calendars/{self.source.entity_id}",
                params={"start": window_start.isoformat(), "end": window_end.isoformat()},
            )
        finally:
            self._requests += client.requests
            client.close()
        if not isinstance(items, list):
            raise SourceError(
                f"{self.name} ({client.where}): the calendar API did not answer with a list of events; "
                "is this Home Assistant's URL?"
            )
        events: list[SourceEvent] = []
        problems: list[str] = []
        for item in items:
            if isinstance(item, dict) and ha_marker.split(str(item.get("description") or "")) is not None:
                continue  # a session calsync wrote (any plan): not part of the run plan, not busy time
            try:
                events.append(self._event(item, zone))
            except (ValueError, TypeError, KeyError, AttributeError) as err:
                summary = item.get("summary") if isinstance(item, dict) else None
                problems.append(f"{self.name}: skipped event {summary!r}: {err}")
        events.sort(key=lambda e: source_order(e, zone))
        return ReadResult(events, problems)

    def _event(self, item: dict[str, Any], zone: ZoneInfo) -> SourceEvent:
        start = _when(item["start"], zone)
        end = _when(item.get("end") or item["start"], zone)
        if isinstance(start, datetime) != isinstance(end, datetime):
            raise ValueError("start and end are not both dates or both times")
        if isinstance(start, datetime):
            end = max(end, start)
        elif end <= start:
            end = start + timedelta(days=1)
        return SourceEvent(
            uid=str(item.get("uid") or f"ha-{item.get('summary', '')}-{start.isoformat()}"),
            summary=str(item.get("summary") or ""),
            start=start,
            end=end,
            recurrence_id=_recurrence_id(item.get("recurrence_id")),
            description=str(item.get("description") or ""),
            location=str(item.get("location") or ""),
            source=self.name,
        )

    def close(self) -> None:
        """Each read closes its connection."""


@dataclass(frozen=True)
class _Seen:
    """An owned event as the last listing showed it."""

    ha_uid: str
    item: str
    """The listed item as canonical JSON (what "unchanged" is compared with)."""
    event: OwnedEvent


def _canonical(item: dict[str, Any]) -> str:
    return json.dumps(item, sort_keys=True, ensure_ascii=False)


def _wire(when: When) -> str:
    return when.isoformat()


class HaCalendarTarget:
    """Sessions in a Home Assistant Local Calendar entity, plus sensors."""

    def __init__(
        self,
        target: HomeAssistantTarget,
        plan_id: str,
        zone: ZoneInfo,
        *,
        where: str,
        horizon_weeks: int = MAX_HORIZON_WEEKS,
        now: datetime | None = None,
    ) -> None:
        self.target = target
        self.plan_id = plan_id
        self.zone = zone
        self.where = where
        self.horizon_weeks = horizon_weeks
        self.now = now
        """The pass's ``now`` when the caller knows it before ``list_owned``; else the clock is read
        (``list_owned`` has no ``now``)."""
        self._span: tuple[datetime, datetime] | None = None
        self._ha_time_zone: ZoneInfo | None = None
        self._ha_zone_asked = False
        """The listed range (the same for every listing of one pass)."""
        self._client: HaClient | None = None
        self._requests = 0
        self._listed: dict[str, str] = {}
        """HA uid -> canonical item of every owned event and copy of the last listing."""
        self._current: tuple[dict[str, str], dict[str, _Seen]] | None = None
        """The re-check listing of an open batch: items by HA uid, owned events by calsync UID."""

    def __repr__(self) -> str:
        return f"HaCalendarTarget(plan={self.plan_id!r}, {self.label})"

    @property
    def label(self) -> str:
        """The instance and entity."""
        return f"{self.target.url.rstrip('/')} {self.target.entity_id}"

    @property
    def requests(self) -> int:
        """HTTP requests and websocket commands made so far."""
        return self._requests + (self._client.requests if self._client else 0)

    def _ha(self) -> HaClient:
        if self._client is None:
            self._client = _client(
                self.target, where=self.where, label=f"plan {self.plan_id}: target", error=TargetError
            )
        return self._client

    # -- reading -----------------------------------------------------------------------------------

    def span(self) -> tuple[datetime, datetime]:
        """The range listed for owned events: from just before this week's Monday to past the
        horizon's end (reconcile only updates and deletes inside the planning window; HA expands
        a person's recurring events over the whole range, so it is kept short)."""
        if self._span is None:
            now = (self.now or _clock()).astimezone(UTC)
            end = now + timedelta(weeks=self.horizon_weeks) + OWNED_FUTURE_MARGIN
            self._span = (now - OWNED_PAST, end)
        return self._span

    def _list(self) -> list[dict[str, Any]]:
        """Every event of the entity in :meth:`span` (one GET)."""
        start, end = self.span()
        items = self._ha().rest(
            "GET",
            f"/api/calendars/{self.target.entity_id}",
            params={"start": start.isoformat(), "end": end.isoformat()},
        )
        if not isinstance(items, list):
            raise self._ha().fail("the calendar API did not answer with a list of events")
        return [item for item in items if isinstance(item, dict)]

    def _owned(self, item: dict[str, Any]) -> OwnedEvent | None:
        """The owned event an item stands for (None for a foreign one); ValueError when it is
        this plan's but unreadable."""
        found = ha_marker.split(str(item.get("description") or ""))
        if found is None or found[1].plan != self.plan_id or item.get("rrule") or item.get("recurrence_id"):
            return None
        body, marker = found
        kind = SessionKind(marker.kind)
        start = _when(item["start"], self.zone)
        end = _when(item["end"], self.zone)
        title = str(item.get("summary") or "")
        current = fingerprint(kind.value, title, body, start, end)
        if current != marker.written_hash and isinstance(start, datetime) and isinstance(end, datetime):
            # Local Calendar keeps floating local times: after HA restarts, a time in its
            # fall-back hour may come back as the other of the two (an hour off); not an edit
            # (HA's zone is asked only when an hour's shift would explain the difference)
            for other_start, other_end in _shifted(start, end, self.zone):
                if fingerprint(
                    kind.value, title, body, other_start, other_end
                ) == marker.written_hash and self._same_wall_clock(start, other_start, end, other_end):
                    start, end, current = other_start, other_end, marker.written_hash
                    break
        return OwnedEvent(
            uid=marker.uid,
            plan_id=self.plan_id,
            kind=kind,
            week=marker.week,
            slot=marker.slot,
            title=title,
            start=start,
            end=end,
            sequence=marker.sequence,
            written_hash=marker.written_hash,
            current_hash=current,
        )

    def _same_wall_clock(self, *pairs: datetime) -> bool:
        """Whether each (read, other) pair is one moment, or the two readings of one wall-clock
        time of a fall-back hour in HA's zone."""
        ha_zone = self._ha_zone()
        if ha_zone is None:
            return False
        for read, other in zip(pairs[::2], pairs[1::2], strict=True):
            if read == other:
                continue
            local = read.astimezone(ha_zone)
            flipped = local.replace(fold=1 - local.fold)
            if flipped.utcoffset() == local.utcoffset() or flipped.astimezone(UTC) != other.astimezone(UTC):
                return False
        return True

    def _ha_zone(self) -> ZoneInfo | None:
        """HA's time zone (``GET /api/config``, once per pass, only when a time needs it)."""
        if not self._ha_zone_asked:
            self._ha_zone_asked = True
            name = ""
            try:
                config = self._ha().rest("GET", "/api/config")
                name = str(config.get("time_zone") or "") if isinstance(config, dict) else ""
                self._ha_time_zone = ZoneInfo(name) if name else None
            except (CalsyncError, ValueError, KeyError) as err:
                log.info("plan %s: %s: HA's time zone %r unknown (%s)", self.plan_id, self.label, name, err)
        return self._ha_time_zone

    def _index(self, items: list[dict[str, Any]]) -> dict[str, _Seen]:
        """Owned events by calsync UID (one per UID, its unedited copies in ``copies``)."""
        copies: dict[str, list[_Seen]] = {}
        for item in items:
            try:
                event = self._owned(item)
            except (ValueError, TypeError, KeyError) as err:
                log.warning(
                    "plan %s: %s: skipping event %r that calsync cannot read (%s); left as it is",
                    self.plan_id,
                    self.label,
                    item.get("summary"),
                    err,
                )
                continue
            if event is not None and item.get("uid"):
                ha_uid = str(item["uid"])
                copies.setdefault(event.uid, []).append(
                    _Seen(ha_uid, _canonical(item), replace(event, href=ha_uid))
                )
        seen: dict[str, _Seen] = {}
        for uid, group in copies.items():
            # Only unedited copies are collapsed (two instances raced): every instance keeps the
            # same one (the newest, else the smallest HA uid). A copy a person changed is theirs
            # (e.g. a description pasted into an event of their own): when an unedited copy is
            # there, that one stays the session and the edited ones are left alone, like foreign
            # events; when every copy is edited, one of them is the session and the rest are left.
            group.sort(key=lambda s: (s.event.edited, -s.event.sequence, s.ha_uid))
            for extra in group[1:]:
                if extra.event.edited:
                    log.info(
                        "plan %s: %s: another event carries the marker of %s but was changed by a "
                        "person; leaving it to them",
                        self.plan_id,
                        self.label,
                        uid,
                    )
            extras = tuple(extra.event for extra in group[1:] if not extra.event.edited)
            first = group[0]
            seen[uid] = _Seen(first.ha_uid, first.item, replace(first.event, copies=extras))
        return seen

    def list_owned(self) -> list[OwnedEvent]:
        """This plan's events in the entity (one listing), each with its HA uid as ``href``;
        extra unedited copies of one ride along in its ``copies`` (reconcile deletes them)."""
        items = self._list()
        self._listed = {str(item.get("uid")): _canonical(item) for item in items}
        return [seen.event for seen in self._index(items).values()]

    # -- writing -----------------------------------------------------------------------------------

    deferred = False
    """Each write is done when its command returns."""

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """HA has no If-Match: list once more before the first write, and compare each event
        about to change with what :meth:`list_owned` saw (any change: a conflict)."""
        self._current = None
        try:
            yield
        finally:
            self._current = None

    def _recheck(self) -> tuple[dict[str, str], dict[str, _Seen]]:
        if self._current is None:
            items = self._list()
            self._current = ({str(item.get("uid")): _canonical(item) for item in items}, self._index(items))
        return self._current

    def _fields(self, session: Session, sequence: int) -> dict[str, str]:
        marker = ha_marker.Marker(
            self.plan_id,
            session.uid,
            session.kind.value,
            session.week,
            session.slot,
            sequence,
            session_fingerprint(session),
        )
        return {
            "summary": session.title,
            "dtstart": _wire(session.start),
            "dtend": _wire(session.end),
            "description": ha_marker.with_marker(describe(session), marker),
        }

    def create(self, session: Session, *, now: datetime) -> Version:  # noqa: ARG002 - HA stamps it
        """``calendar/event/create``; a calsync UID already there is a conflict."""
        _, present = self._recheck()
        if session.uid in present:
            raise ConflictError("an event with this calsync UID is already there")
        fields = self._fields(session, 0)
        self._ha().command("calendar/event/create", entity_id=self.target.entity_id, event=fields)
        return NO_VERSION

    def _unchanged(self, previous: OwnedEvent) -> str | None:
        """The event's HA uid when it is still as listed; None when it is gone."""
        current, _ = self._recheck()
        listed = self._listed.get(previous.href)
        if listed is None:
            raise ConflictError("it was not in the last listing")
        now = current.get(previous.href)
        if now is None:
            return None
        if now != listed:
            raise ConflictError("it changed since it was read")
        return previous.href

    def update(self, previous: OwnedEvent, session: Session, *, sequence: int, now: datetime) -> Version:  # noqa: ARG002
        """``calendar/event/update`` by HA uid, when the event is still as listed."""
        ha_uid = self._unchanged(previous)
        if ha_uid is None:
            raise ConflictError("it is gone")
        fields = self._fields(session, max(sequence, previous.sequence + 1))
        answer = self._ha().command(
            "calendar/event/update", gone_ok=True, entity_id=self.target.entity_id, uid=ha_uid, event=fields
        )
        if answer is GONE:  # deleted by a person after the re-check
            raise ConflictError("it is gone")
        return NO_VERSION

    def delete(self, previous: OwnedEvent) -> bool:
        """``calendar/event/delete`` by HA uid; False when it is already gone."""
        ha_uid = self._unchanged(previous)
        if ha_uid is None:
            return False
        answer = self._ha().command(
            "calendar/event/delete", gone_ok=True, entity_id=self.target.entity_id, uid=ha_uid
        )
        return answer is not GONE  # deleted by a person after the re-check

    def close(self) -> None:
        """Release connections."""
        if self._client is not None:
            self._requests += self._client.requests
            self._client.close()
            self._client = None


class HaSensorPublisher:
    """The two sensors of one plan in Home Assistant (``sensor.calsync_*``), posted after a pass
    when ``sensors`` is on and their content changed (or went stale: HA forgets posted states
    when it restarts). What was last posted is kept in the publisher's store, so an idle pass
    posts nothing, in the daemon and from a timer alike."""

    def __init__(
        self, target: HomeAssistantTarget, plan_id: str, *, where: str, store: SyncStore | None
    ) -> None:
        self.target = target
        self.plan_id = plan_id
        self.where = where
        self.store = store
        self._posted: dict[str, tuple[str, bytes]] = store.objects() if store is not None else {}
        """Sensor entity -> (when, payload) last posted."""
        self._client: HaClient | None = None
        self._requests = 0

    @property
    def requests(self) -> int:
        """HTTP requests made so far."""
        return self._requests + (self._client.requests if self._client else 0)

    def publish(self, result: PlanResult, now: datetime) -> None:
        """Post the sensors whose content changed (none when ``sensors`` is off). When none is
        due, one ``GET`` of a sensor asks whether Home Assistant still has what was posted: it
        forgets posted states when it restarts, and then both are posted again at once."""
        if not self.target.sensors:
            return
        states = {
            entity_id: (payload, json.dumps(payload, sort_keys=True).encode())
            for entity_id, payload in ha_sensors.sensor_states(result, now).items()
        }
        due = [entity_id for entity_id, (_, body) in states.items() if not self._fresh(entity_id, body, now)]
        if not due:
            probe = next(iter(states))
            held = self._ha().rest("GET", f"/api/states/{probe}", missing_ok=True)
            if held is None or held.get("state") != states[probe][0]["state"]:
                log.info("plan %s: Home Assistant lost its sensors (restarted?): posting again", self.plan_id)
                due = list(states)
        for entity_id in due:
            payload, body = states[entity_id]
            self._ha().rest("POST", f"/api/states/{entity_id}", body=payload)
            self._posted[entity_id] = (now.isoformat(), body)
        if due and self.store is not None:
            self.store.save(None, self._posted)

    def _fresh(self, entity_id: str, body: bytes, now: datetime) -> bool:
        """Posted with this content less than ``SENSOR_REPOST_SECONDS`` ago."""
        last = self._posted.get(entity_id)
        if last is None or last[1] != body:
            return False
        age = (now - datetime.fromisoformat(last[0])).total_seconds()
        return 0 <= age < SENSOR_REPOST_SECONDS

    def _ha(self) -> HaClient:
        if self._client is None:
            self._client = _client(
                self.target, where=self.where, label=f"plan {self.plan_id}: sensors", error=TargetError
            )
        return self._client

    def close(self) -> None:
        """Release the connection."""
        if self._client is not None:
            self._requests += self._client.requests
            self._client.close()
            self._client = None
