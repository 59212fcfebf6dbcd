"""The state of an instance: what calsync wrote, sync tokens, cached source objects, last passes.

One small SQLite file per instance (``$STATE_DIRECTORY``, else ``$XDG_STATE_HOME/calsync``, else
``~/.local/state/calsync``). Every change is one transaction, so a crash at any instant leaves
either the old or the new state; the target is always written before the state that records it,
so the worst a crash leaves is an event the state does not know yet, which the next pass adopts
(its UID is deterministic). Losing the file entirely costs one full pass, never a duplicate.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
import stat
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from calsync.core.decide import Written
from calsync.errors import CalsyncError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS written (
    plan_id TEXT NOT NULL,
    uid TEXT NOT NULL,
    href TEXT NOT NULL DEFAULT '',
    etag TEXT NOT NULL DEFAULT '',
    hash TEXT NOT NULL DEFAULT '',
    ends TEXT NOT NULL DEFAULT '',
    dismissed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (plan_id, uid)
);
CREATE TABLE IF NOT EXISTS tokens (key TEXT PRIMARY KEY, token TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    key TEXT NOT NULL, href TEXT NOT NULL, etag TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (key, href)
);
CREATE TABLE IF NOT EXISTS passes (
    plan_id TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
"""


OPEN_TIMEOUT_SECONDS = 30.0
"""How long opening the state waits for other calsync processes creating or converting it."""


class StateError(CalsyncError):
    """The state file cannot be opened or written."""


def default_state_dir() -> Path:
    """Where the state lives: systemd's ``$STATE_DIRECTORY``, else XDG, else ``~/.local/state``."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    if os.environ.get("XDG_STATE_HOME"):
        return Path(os.environ["XDG_STATE_HOME"]) / "calsync"
    return Path.home() / ".local" / "state" / "calsync"


PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600
"""The state holds feed URL tokens and the last body of each feed: only its owner may read it,
whatever the umask (the systemd units also set ``StateDirectoryMode=0700`` and ``UMask=0077``)."""


def _make_private(path: Path) -> None:
    """Create the state folder (0700) and file (0600), and tighten them when a looser umask or an
    older calsync made them readable by others. SQLite gives its ``-wal`` / ``-shm`` files the
    database file's mode."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_FOLDER)
    _tighten(folder, PRIVATE_FOLDER)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm"):
        _tighten(folder / name, PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> None:
    """Drop group and other permissions from a path calsync owns (others' paths are left)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
        path.chmod(stat.S_IMODE(info.st_mode) & mode)


def _damaged(path: Path, err: sqlite3.DatabaseError) -> StateError:
    """The error for a state file SQLite cannot read (not a database, a damaged page)."""
    return StateError(
        f"the state file {path} is damaged ({err}): move it aside (`mv {path} {path}.damaged`) "
        "and run again. calsync starts a new one and adopts the sessions in the target by their "
        "UIDs; what that costs: sessions a person deleted there come back once, and each remote "
        "source is read in full once"
    )


@dataclass(frozen=True)
class PassRecord:
    """The last pass of one plan, for ``calsync status``."""

    plan_id: str
    started: str
    finished: str
    ok: bool
    summary: str
    error: str = ""
    requests: int = 0
    seconds: float = 0.0
    consecutive_failures: int = 0
    next_pass: str = ""
    """When the daemon runs this plan next (ISO 8601; empty outside the daemon)."""
    daemon_pid: int = 0
    """The daemon that recorded it (0: a one-off command)."""
    poll_seconds: float = 0.0
    """The daemon's poll interval for this plan."""

    @classmethod
    def from_json(cls, text: str) -> PassRecord:
        """Read a stored record (keys this version does not know are ignored)."""
        data = json.loads(text)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class State:
    """The state file. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        if readonly:
            self._open_readonly(path)
            return
        try:
            _make_private(path)
        except OSError as err:
            raise StateError(
                f"cannot open the state file {path}: {err}; check the folder is writable "
                "(or set STATE_DIRECTORY)"
            ) from err
        deadline = time.monotonic() + OPEN_TIMEOUT_SECONDS
        while True:
            try:
                self._db = self._connect(path)
                return
            except sqlite3.OperationalError as err:
                # another calsync creating the file or switching it to WAL holds a lock that
                # SQLite's busy timeout does not wait for: try again shortly
                if "locked" not in str(err) and "busy" not in str(err):
                    raise StateError(f"cannot open the state file {path}: {err}") from err
                if time.monotonic() > deadline:
                    raise StateError(
                        f"cannot open the state file {path}: {err} for {OPEN_TIMEOUT_SECONDS:g} s; "
                        "is another calsync stuck?"
                    ) from err
                time.sleep(0.02 + random.random() * 0.08)
            except sqlite3.DatabaseError as err:
                raise _damaged(path, err) from err
            except (OSError, sqlite3.Error) as err:
                raise StateError(
                    f"cannot open the state file {path}: {err}; check the folder is writable "
                    "(or set STATE_DIRECTORY)"
                ) from err

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
        try:
            if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            # a damaged page found now, with what to do, not as a crash in the middle of a pass
            # (milliseconds: the state is small)
            verdict = [str(row[0]) for row in db.execute("PRAGMA quick_check(1)")]
            if verdict != ["ok"]:
                raise sqlite3.DatabaseError(verdict[0] if verdict else "quick_check failed")
            db.executescript(_SCHEMA)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        except BaseException:
            db.close()
            raise
        return db

    def _open_readonly(self, path: Path) -> None:
        """Open without creating or changing anything (``calsync status`` run as another user
        must not leave files the service cannot write)."""
        if not path.is_file():
            raise StateError(
                f"no state at {path}: no pass has run with this state folder yet "
                "(set STATE_DIRECTORY to the service's, e.g. /var/lib/calsync)"
            )
        # Without a -wal file nobody is writing now: open it immutable, which creates no -wal or
        # -shm file (a root-owned -shm left behind would lock the service out). While the daemon
        # writes, its -wal and -shm exist already and a plain read-only open shares them.
        live = path.with_name(path.name + "-wal").exists()
        mode = "mode=ro" if live else "mode=ro&immutable=1"
        try:
            self._db = sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True, timeout=30)
            self._db.execute("SELECT count(*) FROM passes").fetchone()
        except sqlite3.OperationalError as err:
            raise StateError(f"cannot read the state file {path}: {err}") from err
        except sqlite3.DatabaseError as err:
            raise _damaged(path, err) from err

    @classmethod
    def open_default(cls, *, readonly: bool = False) -> State:
        """The state file in :func:`default_state_dir`."""
        return cls(default_state_dir() / "state.sqlite", readonly=readonly)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> State:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change (BEGIN IMMEDIATE ... COMMIT, rolled back on error)."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            raise StateError(f"cannot write the state file {self.path}: {err}") from err
        except sqlite3.DatabaseError as err:
            raise _damaged(self.path, err) from err
        try:
            yield self._db
        except sqlite3.OperationalError:
            self._db.execute("ROLLBACK")
            raise
        except sqlite3.DatabaseError as err:
            with suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            raise _damaged(self.path, err) from err
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        else:
            self._db.execute("COMMIT")

    # -- what was written -------------------------------------------------------------------
    def written(self, plan_id: str) -> dict[str, Written]:
        """Every UID calsync wrote for a plan (and those a person deleted)."""
        rows = self._db.execute(
            "SELECT uid, href, etag, hash, ends, dismissed FROM written WHERE plan_id = ?", (plan_id,)
        )
        return {r[0]: Written(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in rows}

    def record_written(self, plan_id: str, records: Iterable[Written], *, forget: Iterable[str] = ()) -> None:
        """Store what a pass wrote (replacing earlier records of those UIDs) and forget others."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO written VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(plan_id, w.uid, w.href, w.etag, w.hash, w.ends, int(w.dismissed)) for w in records],
            )
            db.executemany(
                "DELETE FROM written WHERE plan_id = ? AND uid = ?", [(plan_id, u) for u in forget]
            )

    def move_written(self, old: str, new: str) -> None:
        """File the records kept under ``old`` under ``new`` (a plan's key changed its spelling),
        unless ``new`` has records of its own."""
        with self.transaction() as db:
            db.execute(
                "UPDATE written SET plan_id = ? WHERE plan_id = ? "
                "AND NOT EXISTS (SELECT 1 FROM written WHERE plan_id = ?)",
                (new, old, new),
            )

    def forget_plan(self, plan_id: str) -> None:
        """Forget everything written for a plan (``rebuild --force``)."""
        with self.transaction() as db:
            db.execute("DELETE FROM written WHERE plan_id = ?", (plan_id,))

    def forget_kept(self, prefixes: tuple[str, ...], keep: set[str]) -> int:
        """Forget what was kept under keys with these prefixes but not in ``keep`` (files no plan
        reads or writes any more); how many keys. Writes nothing when there is nothing to forget."""
        keys = {
            str(row[0])
            for prefix in prefixes
            for table in ("tokens", "objects")
            for row in self._db.execute(
                f"SELECT DISTINCT key FROM {table} WHERE substr(key, 1, ?) = ?",
                (len(prefix), prefix),
            )
        } - keep
        if keys:
            with self.transaction() as db:
                db.executemany("DELETE FROM tokens WHERE key = ?", [(k,) for k in keys])
                db.executemany("DELETE FROM objects WHERE key = ?", [(k,) for k in keys])
        return len(keys)

    # -- sync tokens and cached objects -----------------------------------------------------
    def token(self, key: str) -> str | None:
        """The sync token stored under a key (a source or target URL)."""
        row = self._db.execute("SELECT token FROM tokens WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def objects(self, key: str) -> dict[str, tuple[str, bytes]]:
        """Cached objects of a remote calendar: href -> (etag, data)."""
        rows = self._db.execute("SELECT href, etag, data FROM objects WHERE key = ?", (key,))
        return {r[0]: (r[1], bytes(r[2])) for r in rows}

    def save_sync(self, key: str, token: str | None, objects: Mapping[str, tuple[str, bytes]]) -> None:
        """Replace a calendar's token and cached objects in one transaction."""
        with self.transaction() as db:
            db.execute("DELETE FROM objects WHERE key = ?", (key,))
            db.executemany(
                "INSERT INTO objects VALUES (?, ?, ?, ?)",
                [(key, href, etag, data) for href, (etag, data) in objects.items()],
            )
            if token is None:
                db.execute("DELETE FROM tokens WHERE key = ?", (key,))
            else:
                db.execute("INSERT OR REPLACE INTO tokens VALUES (?, ?)", (key, token))

    # -- passes -----------------------------------------------------------------------------
    def record_pass(self, record: PassRecord) -> PassRecord:
        """Store the last pass of a plan; counts consecutive failures. Returns what was stored."""
        previous = self.last_pass(record.plan_id)
        failures = 0 if record.ok else (previous.consecutive_failures if previous else 0) + 1
        stored = PassRecord(**{**record.__dict__, "consecutive_failures": failures})
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO passes VALUES (?, ?)", (record.plan_id, json.dumps(stored.__dict__))
            )
        return stored

    def last_pass(self, plan_id: str) -> PassRecord | None:
        """The last recorded pass of a plan."""
        row = self._db.execute("SELECT record FROM passes WHERE plan_id = ?", (plan_id,)).fetchone()
        return PassRecord.from_json(row[0]) if row else None


class ScopedStore:
    """One adapter's part of the state (its token and objects under one key): what an adapter
    is handed when it is made, so adapters never see :class:`State` itself."""

    def __init__(self, state: State, key: str) -> None:
        self.state = state
        self.key = key

    def token(self) -> str | None:
        """The token saved last."""
        return self.state.token(self.key)

    def objects(self) -> dict[str, tuple[str, bytes]]:
        """The objects saved last."""
        return self.state.objects(self.key)

    def save(self, token: str | None, objects: Mapping[str, tuple[str, bytes]]) -> None:
        """Replace them, in one transaction."""
        self.state.save_sync(self.key, token, objects)


class MemoryStore:
    """A :class:`ScopedStore` kept in memory (tests, and passes without a state file)."""

    def __init__(self) -> None:
        self._token: str | None = None
        self._objects: dict[str, tuple[str, bytes]] = {}
        self.saves = 0
        """How many times :meth:`save` was called."""

    def token(self) -> str | None:
        """The token saved last."""
        return self._token

    def objects(self) -> dict[str, tuple[str, bytes]]:
        """The objects saved last."""
        return dict(self._objects)

    def save(self, token: str | None, objects: Mapping[str, tuple[str, bytes]]) -> None:
        """Replace them."""
        self._token, self._objects = token, dict(objects)
        self.saves += 1


def now_iso(moment: datetime) -> str:
    """A timestamp for the state (ISO 8601 with offset, seconds)."""
    return moment.isoformat(timespec="seconds")
