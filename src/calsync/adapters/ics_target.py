"""A local ``.ics`` file as a target: list what calsync owns there, and apply actions to it.

The *apply* step of the pipeline for the ``ics_file`` target (PRODUCT.md sections 4 and 6).
Only events whose ``X-CALSYNC-PLAN`` is this plan's id are calsync's; every other component of
the file (foreign events, other plans' events, time zones, to-dos) is written back exactly as it
was parsed. The file is replaced atomically, and not written at all when nothing changes.

Before an update or delete, the event is looked up again in the file as it is now: when it
changed since :meth:`IcsFileTarget.read_owned` (a person edited the file meanwhile), or is gone,
the action is skipped; the person's change wins and the next pass plans around it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from icalendar import Calendar, Component

from calsync.adapters import event_ics
from calsync.errors import TargetError
from calsync.model import PlanResult
from calsync.ports import Stop, SyncState
from calsync.reconcile import Action, ApplyResult, Conflict, Create, OwnedEvent, Update

log = logging.getLogger(__name__)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: readers see the old file or the new one, never half.

    Writes a temporary file in the same directory, flushes and fsyncs it, renames it over ``path``
    and fsyncs the directory. Parent directories are created; an existing file keeps its mode.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode: int | None = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = None
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class _Found:
    """An owned VEVENT of the file with what it holds now."""

    component: Component
    current_hash: str


FileIdentity = tuple[int, int, int, int]
_OWNED_MEMO: dict[tuple[str, str, str], tuple[FileIdentity, tuple[OwnedEvent, ...]]] = {}
"""The owned events last read from a file, while the file stays the same (the daemon's idle
passes would otherwise re-parse the whole target every poll, 80 % of their CPU)."""
_OWNED_MEMO_SIZE = 256


def file_identity(path: Path) -> FileIdentity | None:
    """What changes whenever a file's content may have: inode (atomic replace), size, times."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class IcsFileTarget:
    """A local ``.ics`` file that calsync writes one plan's sessions into."""

    def __init__(self, path: Path, plan_id: str, zone: ZoneInfo) -> None:
        self.path = path
        self.plan_id = plan_id
        self.zone = zone
        self.progress = ApplyResult()

    @property
    def label(self) -> str:
        """The file, for messages."""
        return str(self.path)

    @property
    def requests(self) -> int:
        """A file costs no HTTP requests."""
        return 0

    def location(self, uid: str) -> tuple[str, str] | None:  # noqa: ARG002 - the port's signature
        """A file has no per-event href or ETag."""
        return None

    def sync_state(self) -> SyncState | None:
        """A file is read whole every time: nothing to keep."""
        return None

    def publish(self, result: PlanResult, now: datetime) -> None:
        """A file shows nothing but its events."""

    def close(self) -> None:
        """Nothing to release."""

    def __repr__(self) -> str:
        return f"IcsFileTarget({str(self.path)!r}, plan={self.plan_id!r})"

    # reading

    def _error(self, what: str, err: BaseException | None = None) -> TargetError:
        detail = f": {str(err).splitlines()[0] if str(err) else type(err).__name__}" if err else ""
        return TargetError(f"plan {self.plan_id}: target {self.path}: {what}{detail}")

    def _load(self) -> Calendar | None:
        """The file's calendar; None when the file does not exist (or is empty)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise self._error("cannot read the file; check the path and its permissions", err) from err
        if not data.strip():
            return None
        advice = "calsync did not change it; fix or move the file, then run again"
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise self._error(f"the file is not UTF-8 iCalendar ({advice})", err) from err
        try:
            calendar = Calendar.from_ical(data)
        except Exception as err:
            raise self._error(f"the file is not a valid iCalendar file ({advice})", err) from err
        if not isinstance(calendar, Calendar) or calendar.name != "VCALENDAR":
            raise self._error(f"the file holds no VCALENDAR ({advice})")
        return calendar

    def _owns(self, component: Component) -> bool:
        return event_ics.owns(component, self.plan_id)

    def read_owned(self) -> list[OwnedEvent]:
        """The events of this plan in the file (none when the file does not exist).

        An owned event calsync cannot make sense of (no start, unknown kind) is skipped with a
        warning; it is never touched.
        """
        key = file_identity(self.path)
        memo_key = (str(self.path), self.plan_id, self.zone.key)
        memo = _OWNED_MEMO.get(memo_key)
        if key is not None and memo is not None and memo[0] == key:
            return list(memo[1])
        owned = self._read_owned()
        if key is not None:
            if len(_OWNED_MEMO) >= _OWNED_MEMO_SIZE:
                _OWNED_MEMO.pop(next(iter(_OWNED_MEMO)))
            _OWNED_MEMO[memo_key] = (key, tuple(owned))
        return owned

    def _read_owned(self) -> list[OwnedEvent]:
        calendar = self._load()
        if calendar is None:
            return []
        owned = []
        for component in calendar.subcomponents:
            if not self._owns(component):
                continue
            try:
                owned.append(event_ics.owned_event(component, self.plan_id, self.zone))
            except Exception as err:  # a broken event must not lose the others
                log.warning(
                    "plan %s: target %s: skipping event %r that calsync cannot read (%s); left as it is",
                    self.plan_id,
                    self.path,
                    event_ics.text(component, "UID"),
                    err,
                )
        return owned

    # writing

    def _new_calendar(self) -> Calendar:
        calendar = Calendar()
        calendar.add("prodid", event_ics.PRODID)
        calendar.add("version", "2.0")
        calendar.add("x-wr-calname", f"calsync: {self.plan_id}")
        return calendar

    def _find(self, calendar: Calendar, uid: str) -> list[_Found]:
        found = []
        for component in calendar.subcomponents:
            if self._owns(component) and event_ics.text(component, "UID") == uid:
                try:
                    current = event_ics.owned_event(component, self.plan_id, self.zone).current_hash
                except Exception:
                    current = ""
                found.append(_Found(component, current))
        return found

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold an exclusive lock on the file's directory while reading, changing and writing."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def apply(
        self,
        actions: Sequence[Action],
        *,
        now: datetime,
        stop: Stop | None = None,  # noqa: ARG002 - one atomic write: nothing to stop between
    ) -> ApplyResult:
        """Apply the actions to the file; write nothing when there are none (or all are skipped).

        ``now`` (aware) becomes the DTSTAMP / LAST-MODIFIED of what is written, so the output is
        a function of the file, the actions and ``now``. An action whose event changed in the
        file since it was read (or appeared, or went) is not applied: it is a conflict.
        """
        result = ApplyResult()
        self.progress = result
        if not actions:
            return result
        if now.tzinfo is None:
            raise ValueError("apply needs an aware 'now'")
        now = now.astimezone(UTC).replace(microsecond=0)
        try:
            with self._locked():
                self._apply_locked(actions, now, result)
        except OSError as err:
            raise self._error("cannot write the file; check the folder and its permissions", err) from err
        return result

    def _conflict(self, result: ApplyResult, uid: str, action: str, reason: str) -> None:
        log.warning("plan %s: target %s: not %s %s: %s", self.plan_id, self.path, action, uid, reason)
        result.conflicts.append(Conflict(uid, action, reason))

    def _apply_locked(self, actions: Sequence[Action], now: datetime, result: ApplyResult) -> None:
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            # under the lock, a temp file of ours is left from a write that was killed
            with contextlib.suppress(OSError):
                stale.unlink()
        loaded = self._load()
        calendar = loaded if loaded is not None else self._new_calendar()
        for action in actions:
            if isinstance(action, Create):
                uid = action.session.uid
                if any(event_ics.text(c, "UID") == uid for c in calendar.subcomponents):
                    self._conflict(result, uid, "creating", "an event with this UID is already there")
                    continue
                calendar.add_component(event_ics.session_vevent(action.session, self.plan_id, 0, now))
                result.created.append(uid)
                continue
            previous = action.previous
            found = self._find(calendar, previous.uid)
            verb = "updating" if isinstance(action, Update) else "deleting"
            if not found:
                if isinstance(action, Update):
                    self._conflict(result, previous.uid, verb, "it was deleted since it was read")
                continue
            if found[0].current_hash != previous.current_hash:
                self._conflict(result, previous.uid, verb, "it changed since it was read; keeping the change")
                continue
            first = found[0].component
            position = next(i for i, c in enumerate(calendar.subcomponents) if c is first)
            gone = {id(f.component) for f in found}  # duplicates of the UID go too
            calendar.subcomponents[:] = [c for c in calendar.subcomponents if id(c) not in gone]
            if isinstance(action, Update):
                event = event_ics.updated_vevent(first, action.session, self.plan_id, action.sequence, now)
                calendar.subcomponents.insert(position, event)
                result.updated.append(previous.uid)
            else:
                result.deleted.append(previous.uid)
        if not result.written:
            log.debug("plan %s: target %s: nothing to write", self.plan_id, self.path)
            return
        calendar.add_missing_timezones()
        write_atomic(self.path, calendar.to_ical())
        log.debug(
            "plan %s: wrote %s (%d created, %d updated, %d deleted)",
            self.plan_id,
            self.path,
            len(result.created),
            len(result.updated),
            len(result.deleted),
        )
