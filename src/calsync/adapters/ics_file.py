"""The ``ics_file`` source: a local ``.ics`` file, read again only when it changed.

A ``calsync sync`` started by a timer is a new process each time, and most of them find the run
plan's file as the last one left it. The read of the last pass is kept in the state (the
source's :class:`~calsync.ports.SyncStore`, one per plan) under what it depends on: a hash of
the file's bytes (the bytes then parsed), the read window and zone, and the reading code
(:func:`~calsync.adapters.kept.reader_key`). When all of them are the same the events are taken
from there, and the iCalendar libraries are not even imported (issue 12: an idle pass as cheap as
vdirsyncer's). A read whose times are not all in IANA zones or UTC is not kept (the key is kept
alone, so the state is not written again for it); ``rebuild`` (``full``) always parses the file.
The daemon's adapter also remembers its last read while the file's identity (inode, size,
times) stays the same, without reading the file.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from calsync.adapters.kept import kept_key, load_kept, read_from_json, read_to_json, save_kept
from calsync.core.model import ReadResult
from calsync.errors import SourceError
from calsync.ports import SyncStore

READ_OBJECT = "read"

FileIdentity = tuple[int, int, int, int]


def file_identity(path: Path) -> FileIdentity | None:
    """What changes whenever a file's content may have: inode (atomic replace), size, times."""
    try:
        return _identity(path.stat())
    except OSError:
        return None


def _identity(st: os.stat_result) -> FileIdentity:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read_source_file(path: Path, label: str) -> tuple[FileIdentity, bytes]:
    """A source file's identity and bytes, from one open file; a :class:`SourceError` naming it
    when it cannot be read (the same words as ``ics_read.read_ics_file``, which the Home
    Assistant component vendors alone and so cannot call this)."""
    try:
        with path.open("rb") as file:
            st = os.fstat(file.fileno())
            data = file.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SourceError(
            f"{label}: cannot read {path}: {reason}; check the path in [[plan.source]]"
        ) from exc
    return _identity(st), data


class IcsFileReader:
    """An ``ics_file`` source; the last read is kept (in memory and in the store) while the file,
    the window and the zone stay the same."""

    def __init__(self, path: Path, name: str) -> None:
        self.path = path
        self.name = name
        self._memo: tuple[tuple[FileIdentity, str], ReadResult] | None = None

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
        window = f"{window_start.isoformat()}|{window_end.isoformat()}|{zone.key}"
        memo = self._memo
        if not full and memo is not None and memo[0] == (file_identity(self.path), window):
            return memo[1]  # the daemon's reader: the same file, not even read again
        identity, data = read_source_file(self.path, self.name)
        key = kept_key(hashlib.sha256(data).hexdigest(), window)
        result = None if full else load_kept(store, key, READ_OBJECT, self._decode, self.name)
        if result is None:
            from calsync.adapters.ics_read import parse_ics  # noqa: PLC0415 - only when the file changed

            result = parse_ics(
                data, name=self.name, zone=zone, window_start=window_start, window_end=window_end
            )
            save_kept(store, key, READ_OBJECT, read_to_json(result, self.name))
        self._memo = ((identity, window), result)
        return result

    def _decode(self, data: bytes) -> ReadResult:
        return read_from_json(data, self.name)

    def close(self) -> None:
        """Nothing to release."""
