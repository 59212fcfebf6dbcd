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
import logging
import os
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from calsync.adapters.kept import KeptUnusableError, read_from_json, read_to_json, reader_key
from calsync.core.model import ReadResult
from calsync.errors import SourceError
from calsync.ports import SyncStore

log = logging.getLogger("calsync")

READ_OBJECT = "read"

FileIdentity = tuple[int, int, int, int]


def file_identity(path: Path) -> FileIdentity | None:
    """What changes whenever a file's content may have: inode (atomic replace), size, times."""
    try:
        st = path.stat()
    except OSError:
        return None
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
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns), data


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
        identity, data = self._bytes()
        if not full and self._memo is not None and self._memo[0] == (identity, window):
            return self._memo[1]
        key = f"{reader_key()}|{hashlib.sha256(data).hexdigest()}|{window}"
        result = None if full else self._kept(store, key)
        if result is None:
            from calsync.adapters.ics_read import parse_ics  # noqa: PLC0415 - only when the file changed

            result = parse_ics(
                data, name=self.name, zone=zone, window_start=window_start, window_end=window_end
            )
            if store is not None:
                self._keep(store, key, result)
        self._memo = ((identity, window), result)
        return result

    def _bytes(self) -> tuple[FileIdentity, bytes]:
        """The file's identity and bytes, from one open file (what is hashed is what is parsed)."""
        return read_source_file(self.path, self.name)

    def _kept(self, store: SyncStore | None, key: str) -> ReadResult | None:
        """The read kept under ``key``, if the store holds one that can be read back."""
        if store is None or store.token() != key:
            return None
        kept = store.objects().get(READ_OBJECT)
        if kept is None:
            return None  # this file's read could not be kept: parse (the key is saved already)
        try:
            return read_from_json(kept[1], self.name)
        except KeptUnusableError as err:
            log.debug("%s: the kept read is unusable (%s): parsing the file", self.name, err)
            return None

    def _keep(self, store: SyncStore, key: str, result: ReadResult) -> None:
        data = read_to_json(result, self.name)
        if data is None:
            if store.token() != key:
                store.save(key, {})  # not keepable: saved once, so an idle pass writes nothing
        else:
            store.save(key, {READ_OBJECT: ("1", data)})

    def close(self) -> None:
        """Nothing to release."""
