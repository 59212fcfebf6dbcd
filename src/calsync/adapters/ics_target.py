"""A local ``.ics`` file as a target: list what calsync owns there, and apply actions to it.

The *apply* step of the pipeline for the ``ics_file`` target (PRODUCT.md sections 4 and 6).
Only events whose ``X-CALSYNC-PLAN`` is this plan's id are calsync's; every other component of
the file (foreign events, other plans' events, time zones, to-dos) is written back exactly as it
was parsed. The file is replaced atomically, and not written at all when nothing changes.

Before an update or delete, the event is looked up again in the file as it is now: when it
changed since :meth:`IcsFileTarget.list_owned` (a person edited the file meanwhile), or is gone,
it is a :class:`~calsync.ports.ConflictError`; the person's change wins and the next pass plans
around it. The writes of one pass change the file in memory inside :meth:`IcsFileTarget.batch`,
which replaces the file once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from calsync.adapters.ics_file import FileIdentity, file_identity
from calsync.adapters.kept import kept_key, load_kept, owned_from_json, owned_to_json, save_kept
from calsync.core.model import NO_VERSION, Session, Version
from calsync.core.reconcile import OwnedEvent
from calsync.errors import TargetChangedError, TargetError
from calsync.ports import ConflictError, SyncStore

if TYPE_CHECKING:  # imported when the file is parsed or written, not on an idle pass (issue 12)
    from icalendar import Calendar, Component

log = logging.getLogger(__name__)


def write_atomic(
    path: Path, data: bytes, *, private: bool = False, before_replace: Callable[[], None] | None = None
) -> None:
    """Replace ``path`` with ``data`` atomically: readers see the old file or the new one, never half.

    Writes a temporary file in the same directory, flushes and fsyncs it, renames it over ``path``
    and fsyncs the directory. Parent directories are created; an existing file keeps its mode,
    unless ``private``: then the file is 0600 (and a folder created for it 0700) whatever the umask.
    ``before_replace`` runs last before the rename: when it raises, nothing is replaced. A symbolic
    link is written through: the file it points to is replaced and the link stays.
    """
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700 if private else 0o777)
    try:
        mode: int | None = 0o600 if private else path.stat().st_mode & 0o7777
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
        if before_replace is not None:
            before_replace()
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


_OWNED_MEMO: dict[tuple[str, str, str], tuple[FileIdentity, tuple[OwnedEvent, ...]]] = {}
"""The owned events last read from a file, while the file stays the same (the daemon's idle
passes would otherwise re-parse the whole target every poll, 80 % of their CPU)."""
_OWNED_MEMO_SIZE = 256
_LISTING = "owned"
"""The object of the target's store that holds the listing kept for the next process."""


class IcsFileTarget:
    """A local ``.ics`` file that calsync writes one plan's sessions into."""

    deferred = True
    """Writes take effect together, when :meth:`batch` ends: the file is replaced once."""

    def __init__(
        self,
        path: Path,
        plan_id: str,
        zone: ZoneInfo,
        *,
        private: bool = False,
        store: SyncStore | None = None,
    ) -> None:
        self.path = path
        self.store = store
        """Where the last listing is kept for the next process (none: each process parses the file)."""
        self.private = private
        """Write the file 0600 (a feed file: only calsync reads it; issue 14)."""
        self.plan_id = plan_id
        self.zone = zone
        self._open: Calendar | None = None
        """The file's calendar while a batch is open (changed in memory, written at its end)."""
        self._changed = False
        self._parsed: tuple[bytes, Calendar] | None = None
        """The bytes :meth:`list_owned` parsed in this pass and their calendar: a batch that
        finds the file still holding them starts from it instead of parsing it again."""

    @property
    def label(self) -> str:
        """The file, for messages."""
        return str(self.path)

    @property
    def requests(self) -> int:
        """A file costs no HTTP requests."""
        return 0

    def close(self) -> None:
        """Let go of the calendar the pass parsed (a daemon's target lives one pass)."""
        self._parsed = None

    def __repr__(self) -> str:
        return f"IcsFileTarget({str(self.path)!r}, plan={self.plan_id!r})"

    # reading

    def _error(self, what: str, err: BaseException | None = None) -> TargetError:
        detail = f": {str(err).splitlines()[0] if str(err) else type(err).__name__}" if err else ""
        return TargetError(f"plan {self.plan_id}: target {self.path}: {what}{detail}")

    def _read_bytes(self) -> bytes | None:
        """The file as it is now; None when it does not exist."""
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise self._error("cannot read the file; check the path and its permissions", err) from err

    def _load(self, data: bytes | None = None) -> Calendar | None:
        """The file's calendar (of ``data`` when given); None when it does not exist (or is empty)."""
        from icalendar import Calendar  # noqa: PLC0415 - see the TYPE_CHECKING import

        if data is None:
            data = self._read_bytes()
        if data is None or not data.strip():
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
        from calsync.adapters import event_ics  # noqa: PLC0415 - see the TYPE_CHECKING import

        return event_ics.owns(component, self.plan_id)

    def list_owned(self) -> list[OwnedEvent]:
        """The events of this plan in the file (none when the file does not exist).

        An owned event calsync cannot make sense of (no start, unknown kind) is skipped with a
        warning; it is never touched.
        """
        key = file_identity(self.path)
        memo_key = (str(self.path), self.plan_id, self.zone.key)
        memo = _OWNED_MEMO.get(memo_key)
        if key is not None and memo is not None and memo[0] == key:
            return list(memo[1])
        # not on an idle pass: a write killed before its rename killed the process, whose
        # successor starts without the memo and reads (and tidies) the folder once
        if self._stale_temp_files():
            try:
                self.remove_stale_temp_files()
            except OSError as err:
                log.warning("plan %s: cannot remove a stale temporary file: %s", self.plan_id, err)
        owned = self._kept_or_read()
        if key is not None:
            if len(_OWNED_MEMO) >= _OWNED_MEMO_SIZE:
                _OWNED_MEMO.pop(next(iter(_OWNED_MEMO)))
            _OWNED_MEMO[memo_key] = (key, tuple(owned))
        return owned

    def _kept_or_read(self) -> list[OwnedEvent]:
        """The listing kept by the last process when the file's bytes are the same (a hash of
        them, with the plan, the zone and the reading code, is the key), else the file parsed
        (and its listing kept). The events it skipped are warned about either way."""
        data = self._read_bytes()
        if data is None:
            return []
        key = self._listing_key(data)
        found = load_kept(self.store, key, _LISTING, owned_from_json, f"plan {self.plan_id}: {self.path}")
        if found is None:
            found = self._read_owned(data)
            save_kept(self.store, key, _LISTING, owned_to_json(*found))
        owned, skipped = found
        for message in skipped:
            log.warning("plan %s: target %s: %s", self.plan_id, self.path, message)
        return owned

    def _listing_key(self, data: bytes) -> str:
        """What a kept listing of these bytes is kept under: the reading code, the plan, the zone
        and a hash of the bytes (a file saved by anyone else has another key)."""
        return kept_key(self.plan_id, self.zone.key, hashlib.sha256(data).hexdigest())

    def _keep_written(self, written: bytes, calendar: Calendar) -> None:
        """Keep the listing of what a write wrote, for the next process: it finds these bytes (or
        another program's, under another key) and parses nothing. The file is written already:
        a listing that cannot be kept costs the next process one parse, not this pass."""
        try:
            listing = owned_to_json(*self._owned_in(calendar))
            save_kept(self.store, self._listing_key(written), _LISTING, listing)
        except Exception as err:
            log.warning("plan %s: cannot keep the listing of %s: %s", self.plan_id, self.path, err)

    def _read_owned(self, data: bytes) -> tuple[list[OwnedEvent], list[str]]:
        """The file's events of this plan, and a message for each one calsync cannot read."""
        calendar = self._load(data)
        if calendar is None:
            return [], []
        self._parsed = (data, calendar)
        return self._owned_in(calendar)

    def _owned_in(self, calendar: Calendar) -> tuple[list[OwnedEvent], list[str]]:
        """The calendar's events of this plan, and a message for each one calsync cannot read."""
        from calsync.adapters import event_ics  # noqa: PLC0415 - see the TYPE_CHECKING import

        owned = []
        skipped = []
        for component in calendar.subcomponents:
            if not self._owns(component):
                continue
            try:
                owned.append(event_ics.owned_event(component, self.plan_id, self.zone))
            except Exception as err:  # a broken event must not lose the others
                uid = event_ics.text(component, "UID")
                skipped.append(f"skipping event {uid!r} that calsync cannot read ({err}); left as it is")
        return owned, skipped

    # writing

    def _new_calendar(self) -> Calendar:
        from icalendar import Calendar  # noqa: PLC0415 - see the TYPE_CHECKING import

        from calsync.adapters import event_ics  # noqa: PLC0415

        calendar = Calendar()
        calendar.add("prodid", event_ics.PRODID)
        calendar.add("version", "2.0")
        calendar.add("x-wr-calname", f"calsync: {self.plan_id}")
        return calendar

    def _find(self, calendar: Calendar, uid: str) -> list[_Found]:
        from calsync.adapters import event_ics  # noqa: PLC0415 - see the TYPE_CHECKING import

        found = []
        for component in calendar.subcomponents:
            if self._owns(component) and event_ics.text(component, "UID") == uid:
                try:
                    current = event_ics.owned_event(component, self.plan_id, self.zone).current_hash
                except Exception:
                    current = ""
                found.append(_Found(component, current))
        return found

    @property
    def _real_path(self) -> Path:
        """The file itself (a symbolic link is followed: calsync writes through it)."""
        return Path(os.path.realpath(self.path))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold an exclusive lock on the file's directory while reading, changing and writing."""
        folder = self._real_path.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _stale_temp_files(self) -> list[Path]:
        """Temporary files of writes that were killed before their rename."""
        real = self._real_path
        return list(real.parent.glob(f".{real.name}.*.tmp"))

    def remove_stale_temp_files(self) -> None:
        """Under the lock (a running write's temporary file is not stale), remove what killed
        writes left behind."""
        with self._locked():
            for stale in self._stale_temp_files():
                with contextlib.suppress(OSError):
                    stale.unlink()
                    log.info("plan %s: removed %s, left by a write that was stopped", self.plan_id, stale)

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Lock the folder, load the file, let the writes change it in memory, and replace the
        file once at the end (not at all when nothing changed or a write failed)."""
        try:
            with self._locked():
                for stale in self._stale_temp_files():
                    # under the lock, a temp file of ours is left from a write that was killed
                    with contextlib.suppress(OSError):
                        stale.unlink()
                read = self._read_bytes()
                parsed, self._parsed = self._parsed, None
                # the calendar list_owned parsed, when the file still holds its bytes: one parse
                loaded = parsed[1] if parsed is not None and parsed[0] == read else self._load(read)
                self._open = loaded if loaded is not None else self._new_calendar()
                self._changed = False

                def unchanged_since_read() -> None:
                    # Other programs do not take calsync's lock: one that saved the file while
                    # calsync built its copy (seconds, on a big file) would lose its change to
                    # the rename. Checked last, so the window left is the rename itself.
                    if self._read_bytes() != read:
                        raise TargetChangedError(
                            f"plan {self.plan_id}: target {self.path}: another program changed the "
                            "file while calsync wrote it; nothing written, theirs kept"
                        )

                try:
                    yield
                    if self._changed:
                        from calsync.adapters.vtimezone import add_timezones  # noqa: PLC0415

                        add_timezones(self._open)
                        written = self._open.to_ical()
                        write_atomic(
                            self.path, written, private=self.private, before_replace=unchanged_since_read
                        )
                        log.debug("plan %s: wrote %s", self.plan_id, self.path)
                        self._keep_written(written, self._open)
                finally:
                    self._open = None
        except OSError as err:
            raise self._error("cannot write the file; check the folder and its permissions", err) from err

    def _calendar(self) -> Calendar:
        if self._open is None:
            raise RuntimeError("IcsFileTarget writes happen inside batch()")
        return self._open

    def create(self, session: Session, *, now: datetime) -> Version:
        """Add the session's event; a UID already in the file is a conflict."""
        from calsync.adapters import event_ics  # noqa: PLC0415 - see the TYPE_CHECKING import

        calendar = self._calendar()
        if any(event_ics.text(c, "UID") == session.uid for c in calendar.subcomponents):
            raise ConflictError("an event with this UID is already there")
        calendar.add_component(event_ics.session_vevent(session, self.plan_id, 0, now))
        self._changed = True
        return NO_VERSION

    def _take(self, previous: OwnedEvent) -> tuple[Component, int] | None:
        """Remove the event (and duplicates of its UID) when it is still as listed; the first
        one and its position. None when it is gone; a conflict when it changed."""
        calendar = self._calendar()
        found = self._find(calendar, previous.uid)
        if not found:
            return None
        if found[0].current_hash != previous.current_hash:
            raise ConflictError("it changed since it was read; keeping the change")
        first = found[0].component
        position = next(i for i, c in enumerate(calendar.subcomponents) if c is first)
        gone = {id(f.component) for f in found}
        calendar.subcomponents[:] = [c for c in calendar.subcomponents if id(c) not in gone]
        self._changed = True
        return first, position

    def update(self, previous: OwnedEvent, session: Session, *, sequence: int, now: datetime) -> Version:
        """Rewrite the event in its place; gone or changed since listed: a conflict."""
        taken = self._take(previous)
        if taken is None:
            raise ConflictError("it was deleted since it was read")
        first, position = taken
        from calsync.adapters import event_ics  # noqa: PLC0415 - see the TYPE_CHECKING import

        event = event_ics.updated_vevent(first, session, self.plan_id, sequence, now)
        self._calendar().subcomponents.insert(position, event)
        return NO_VERSION

    def delete(self, previous: OwnedEvent) -> bool:
        """Remove the event; False when it is already gone."""
        return self._take(previous) is not None
