"""Home Assistant source and target: runs from any HA calendar entity, sessions into a Local Calendar.

The *read* and *apply* steps for Home Assistant (PRODUCT.md sections 1, 4 and 6).

* :class:`HaCalendarSource` reads ``GET /api/calendars/<entity_id>`` over the window. HA expands
  recurring events itself (each occurrence its own item, a moved occurrence at its new time,
  cancelled ones absent), so the runs match what the ``.ics`` reader gives for the same plan.
  What HA does not expose (categories, ``TRANSP``) is absent: every event counts as busy.
  Sessions calsync wrote (any plan: they carry the marker) are left out, so a calendar can be both
  a plan's source and its target.
* :class:`HaCalendarTarget` lists the entity once per pass (``read_owned``) and writes through the
  websocket API (``calendar/event/create`` / ``update`` / ``delete``, by HA's own ``uid``).
  Owned events are recognised by the marker line at the end of their description
  (:mod:`calsync.adapters.ha_marker`), which carries the calsync UID and the fingerprint of what
  calsync wrote: a person's edit (summary, times, description text) is seen and kept.
  ``publish`` posts the two sensors of :mod:`calsync.adapters.ha_sensors`.

Concurrency: HA has no ETags or If-Match. ``apply`` lists the entity once more before its first
write and compares every event it is about to update or delete with what ``read_owned`` saw (any
change: a :class:`~calsync.reconcile.Conflict`, never overwritten), and a create whose calsync UID
is already there (another instance, or a write just before a crash) is a conflict too. What remains
is the time between that listing and each write (milliseconds per write on a LAN): an edit a
person saves in exactly that moment can be overwritten. Two instances racing through that moment
can both create one session; the next pass finds two events with one calsync UID and deletes the
extra one (every instance keeps the same one: the highest sequence, else the smallest HA uid).
Only unedited copies are collapsed: a copy a person changed (a session's description pasted into
an event of their own) is theirs and never touched while an unedited copy is there.

A write whose answer is lost (HA may or may not have done it): ``apply`` lists the entity once
more before raising and reports every create / update HA did in ``progress``, so the pipeline
records it and a person's deletion before the next pass stays a deletion.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from calsync.adapters import ha_marker, ha_sensors
from calsync.adapters.ha_client import GONE, HaClient
from calsync.adapters.ics_read import ReadResult
from calsync.config import HomeAssistantSource, HomeAssistantTarget
from calsync.errors import CalsyncError, InterruptedPassError, SourceError, TargetError
from calsync.model import PlanResult, Session, SessionKind, SourceEvent, When
from calsync.ports import Stop, SyncState, halt_if_asked
from calsync.reconcile import Action, ApplyResult, Conflict, Create, Delete, OwnedEvent, Update
from calsync.render import describe, fingerprint, session_fingerprint
from calsync.state import State

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
    """The time now (read_owned has no ``now``; the tests pin this)."""
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


def _sort_key(start: When, key: str) -> tuple[datetime, str]:
    moment = (
        start if isinstance(start, datetime) else datetime(start.year, start.month, start.day, tzinfo=UTC)
    )
    return (moment.astimezone(UTC), key)


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
        state: State | None,  # noqa: ARG002 - HA has no sync token: every read is a full one
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
        events.sort(key=lambda e: _sort_key(e.start, e.key))
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
        posted: dict[str, tuple[str, bytes]] | None = None,
    ) -> None:
        self.target = target
        self._posted: dict[str, tuple[str, bytes]] = dict(posted or {})
        """Sensor entity -> (when, payload) last posted: kept in the state (:meth:`sync_state`), so
        an idle pass posts nothing, in the daemon and from a timer alike."""
        self._posted_changed = False
        self.plan_id = plan_id
        self.zone = zone
        self.where = where
        self.horizon_weeks = horizon_weeks
        self.now = now
        """The pass's ``now`` when the caller knows it before ``read_owned``; else the clock is read
        (``read_owned`` has no ``now``)."""
        self._span: tuple[datetime, datetime] | None = None
        self._ha_time_zone: ZoneInfo | None = None
        self._ha_zone_asked = False
        """The listed range (the same for every listing of one pass)."""
        self.progress = ApplyResult()
        self._client: HaClient | None = None
        self._requests = 0
        self._seen: dict[str, _Seen] = {}
        self._extras: dict[str, str] = {}
        """HA uid -> canonical item of extra copies of an owned event (to delete)."""

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

    def _index(self, items: list[dict[str, Any]]) -> tuple[dict[str, _Seen], dict[str, str]]:
        """Owned events by calsync UID (one per UID) and the extra copies to delete."""
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
                copies.setdefault(event.uid, []).append(_Seen(str(item["uid"]), _canonical(item), event))
        seen: dict[str, _Seen] = {}
        extras: dict[str, str] = {}
        for uid, group in copies.items():
            # Only unedited copies are collapsed (two instances raced): every instance keeps the
            # same one (the newest, else the smallest HA uid). A copy a person changed is theirs
            # (e.g. a description pasted into an event of their own): when an unedited copy is
            # there, that one stays the session and the edited ones are left alone, like foreign
            # events; when every copy is edited, one of them is the session and the rest are left.
            group.sort(key=lambda s: (s.event.edited, -s.event.sequence, s.ha_uid))
            seen[uid] = group[0]
            for extra in group[1:]:
                if extra.event.edited:
                    log.info(
                        "plan %s: %s: another event carries the marker of %s but was changed by a "
                        "person; leaving it to them",
                        self.plan_id,
                        self.label,
                        uid,
                    )
                else:
                    extras[extra.ha_uid] = extra.item
        return seen, extras

    def read_owned(self) -> list[OwnedEvent]:
        """This plan's events in the entity (one listing); extra copies of one are left for
        ``apply`` / ``publish`` to delete."""
        self._seen, self._extras = self._index(self._list())
        return [seen.event for seen in self._seen.values()]

    # -- writing -----------------------------------------------------------------------------------

    def _conflict(self, result: ApplyResult, uid: str, action: str, reason: str) -> None:
        log.warning("plan %s: %s: not applying %s of %s: %s", self.plan_id, self.label, action, uid, reason)
        result.conflicts.append(Conflict(uid, action, reason))

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

    def apply(self, actions: Sequence[Action], *, now: datetime, stop: Stop | None = None) -> ApplyResult:
        """Write the actions over the websocket API; an event changed since ``read_owned`` (or a
        UID already there, for a create) is a conflict, never overwritten. No actions: no request."""
        if now.tzinfo is None:
            raise ValueError("apply needs an aware 'now'")
        result = ApplyResult()
        self.progress = result
        if not actions:
            return result
        if self.now is None:
            self.now = now
            if self._span is not None and abs(self._span[0] + OWNED_PAST - now) > timedelta(days=1):
                # read_owned listed around the clock, this pass plans around another moment
                # (--now): list again around it; what read_owned missed meets a conflict and the
                # pipeline reads and plans once more (with this span)
                log.warning(
                    "plan %s: %s: planning at %s, not now: listing the calendar around that moment",
                    self.plan_id,
                    self.label,
                    now.isoformat(),
                )
                self._span = None
        items = self._list()  # HA has no If-Match: compare with what read_owned saw, just before writing
        current = {str(item.get("uid")): _canonical(item) for item in items}
        present, _ = self._index(items)
        try:
            self._collapse(current, stop, result)
            for action in actions:
                halt_if_asked(stop, result, f"plan {self.plan_id}: {self.label}")
                if isinstance(action, Create):
                    self._create(action, present, result)
                elif isinstance(action, Update):
                    self._update(action, current, result)
                else:
                    self._delete(action, current, result)
        except InterruptedPassError:
            raise
        except CalsyncError:
            self._recover(actions, result)
            raise
        return result

    def _recover(self, actions: Sequence[Action], result: ApplyResult) -> None:
        """After a failed write (its answer may have been lost after HA acted): list the entity
        once more and count every create / update HA did as done, so the pipeline records it
        (else a person deleting it before the next pass would see it written again)."""
        try:
            items = self._list()
        except CalsyncError:
            log.info("plan %s: %s: could not list again after the failed write", self.plan_id, self.label)
            return
        there, _ = self._index(items)
        for action in actions:
            if isinstance(action, Create):
                uid = action.session.uid
                if uid in there and uid not in result.created:
                    result.created.append(uid)
            elif isinstance(action, Update):
                uid = action.session.uid
                found = there.get(uid)
                if (
                    found is not None
                    and uid not in result.updated
                    and found.event.written_hash == session_fingerprint(action.session)
                    and found.event.sequence > (self._seen[uid].event.sequence if uid in self._seen else -1)
                ):
                    result.updated.append(uid)

    def _create(self, action: Create, present: dict[str, _Seen], result: ApplyResult) -> None:
        session = action.session
        if session.uid in present:
            self._conflict(result, session.uid, "create", "an event with this calsync UID is already there")
            return
        fields = self._fields(session, 0)
        self._ha().command("calendar/event/create", entity_id=self.target.entity_id, event=fields)
        result.created.append(session.uid)

    def _unchanged(self, uid: str, current: dict[str, str]) -> tuple[_Seen | None, str]:
        seen = self._seen.get(uid)
        if seen is None:
            return None, "it was not in the last listing"
        now = current.get(seen.ha_uid)
        if now is None:
            return None, "it is gone"
        if now != seen.item:
            return None, "it changed since it was read"
        return seen, ""

    def _update(self, action: Update, current: dict[str, str], result: ApplyResult) -> None:
        session = action.session
        seen, why = self._unchanged(session.uid, current)
        if seen is None:
            self._conflict(result, session.uid, "update", why)
            return
        fields = self._fields(session, max(action.sequence, seen.event.sequence + 1))
        answer = self._ha().command(
            "calendar/event/update",
            gone_ok=True,
            entity_id=self.target.entity_id,
            uid=seen.ha_uid,
            event=fields,
        )
        if answer is GONE:  # deleted by a person after the re-check
            self._conflict(result, session.uid, "update", "it is gone")
            return
        result.updated.append(session.uid)

    def _delete(self, action: Delete, current: dict[str, str], result: ApplyResult) -> None:
        uid = action.previous.uid
        seen, why = self._unchanged(uid, current)
        if seen is None:
            if why == "it is gone":
                log.info("plan %s: %s: %s was already gone", self.plan_id, self.label, uid)
            else:
                self._conflict(result, uid, "delete", why)
            return
        answer = self._ha().command(
            "calendar/event/delete", gone_ok=True, entity_id=self.target.entity_id, uid=seen.ha_uid
        )
        if answer is GONE:  # deleted by a person after the re-check
            log.info("plan %s: %s: %s was already gone", self.plan_id, self.label, uid)
            return
        result.deleted.append(uid)

    def _collapse(self, current: dict[str, str], stop: Stop | None, result: ApplyResult) -> None:
        """Delete extra copies of owned events (two instances raced), when still as listed.
        Logged, not counted in ``result.deleted`` (the session itself stays)."""
        for ha_uid, item in sorted(self._extras.items()):
            if current.get(ha_uid) != item:
                continue
            halt_if_asked(stop, result, f"plan {self.plan_id}: {self.label}")
            found = ha_marker.split(str(json.loads(item).get("description") or ""))
            log.info(
                "plan %s: %s: deleting a duplicate copy of %s (Home Assistant uid %s)",
                self.plan_id,
                self.label,
                found[1].uid if found else "an owned event",
                ha_uid,
            )
            self._ha().command(
                "calendar/event/delete", gone_ok=True, entity_id=self.target.entity_id, uid=ha_uid
            )
        self._extras = {}

    def location(self, uid: str) -> tuple[str, str] | None:  # noqa: ARG002 - the port's signature
        """No hrefs or ETags in Home Assistant."""
        return None

    @property
    def sensors_key(self) -> str:
        """Where the state keeps what was last posted to this instance's sensors."""
        return f"sensors:{self.target.url.rstrip('/')}#{self.plan_id}"

    def sync_state(self) -> SyncState | None:
        """The sensors last posted, when a pass posted any."""
        if not self._posted_changed:
            return None
        self._posted_changed = False
        return self.sensors_key, None, dict(self._posted)

    # -- sensors -----------------------------------------------------------------------------------

    def publish(self, result: PlanResult, now: datetime) -> None:
        """Post the two sensors (when ``sensors`` is on and their content changed); also delete
        extra copies of owned events found by this pass's listing (a pass with no actions)."""
        if self._extras:
            listed = {str(item.get("uid")): _canonical(item) for item in self._list()}
            self._collapse(listed, None, ApplyResult())
        if not self.target.sensors:
            return
        for entity_id, payload in ha_sensors.sensor_states(result, now).items():
            body = json.dumps(payload, sort_keys=True).encode()
            last = self._posted.get(entity_id)
            if last is not None and last[1] == body:
                age = (now - datetime.fromisoformat(last[0])).total_seconds()
                if 0 <= age < SENSOR_REPOST_SECONDS:
                    continue
            self._ha().rest("POST", f"/api/states/{entity_id}", body=payload)
            self._posted[entity_id] = (now.isoformat(), body)
            self._posted_changed = True

    def close(self) -> None:
        """Release connections."""
        if self._client is not None:
            self._requests += self._client.requests
            self._client.close()
            self._client = None
