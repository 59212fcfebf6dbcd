"""The ``ics_file`` source: a local ``.ics`` file, read again only when it changed.

A ``calsync sync`` started by a timer is a new process each time, and most of them find the run
plan's file as the last one left it. The read of the last pass is kept in the state (the
source's :class:`~calsync.ports.SyncStore`) under what it depends on: the file's identity (inode,
size, times) and a hash of its bytes, the read window and zone, and calsync's version. When all
of them are the same the events are taken from there, and the iCalendar libraries are not even
imported (issue 12: an idle pass as cheap as vdirsyncer's). A read whose times are not all in
IANA zones or UTC is not kept (its time zones could not be restored exactly); ``rebuild``
(``full``) always parses the file.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from calsync import __version__
from calsync.adapters.kept import read_from_json, read_to_json
from calsync.core.model import ReadResult
from calsync.ports import SyncStore

log = logging.getLogger("calsync")

FORMAT = "calsync-read-1"
"""Part of the key of a kept read: a new way of reading a file changes it."""

FileIdentity = tuple[int, int, int, int]


def file_identity(path: Path) -> FileIdentity | None:
    """What changes whenever a file's content may have: inode (atomic replace), size, times."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class IcsFileReader:
    """An ``ics_file`` source; the last read is kept (in memory and in the store) while the file,
    the window and the zone stay the same."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        self._memo: tuple[str, ReadResult] | None = None

    @property
    def requests(self) -> int:
        """A file costs no HTTP requests."""
        return 0

    def read(
        self,
        window_start: datetime,
        window_end: datetime,
        zone: ZoneInfo,
        store: SyncStore | None,
        *,
        full: bool,
    ) -> ReadResult:
        """The file's occurrences in the window."""
        key = self._key(window_start, window_end, zone)
        if not full and key is not None:
            if self._memo is not None and self._memo[0] == key:
                return self._memo[1]
            kept = _kept_read(store, key)
            if kept is not None:
                self._memo = (key, kept)
                return kept
        from calsync.adapters.ics_read import read_ics_file  # noqa: PLC0415 - only when the file changed

        result = read_ics_file(
            self.path, name=self.name, zone=zone, window_start=window_start, window_end=window_end
        )
        self._memo = (key, result) if key is not None else None
        if store is not None and key is not None:
            _keep_read(store, key, result)
        return result

    def _key(self, window_start: datetime, window_end: datetime, zone: ZoneInfo) -> str | None:
        """What a read depends on, as one string (None: the file cannot be looked at)."""
        identity = file_identity(self.path)
        if identity is None:
            return None
        try:
            digest = hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None
        parts = (
            FORMAT,
            __version__,
            str(identity),
            digest,
            window_start.isoformat(),
            window_end.isoformat(),
            zone.key,
        )
        return "|".join(parts)

    def close(self) -> None:
        """Nothing to release."""


def _kept_read(store: SyncStore | None, key: str) -> ReadResult | None:
    """The read kept under ``key``, if the store holds it and it can be read back."""
    if store is None or store.token() != key:
        return None
    kept = store.objects().get("read")
    if kept is None:
        return None
    try:
        return read_from_json(kept[1])
    except (ValueError, KeyError, TypeError) as err:  # damaged or from another version: parse again
        log.debug("the kept read of %s is unusable (%s): parsing the file", key, err)
        return None


def _keep_read(store: SyncStore, key: str, result: ReadResult) -> None:
    data = read_to_json(result)
    if data is None:
        store.save(None, {})
    else:
        store.save(key, {"read": (FORMAT, data)})
