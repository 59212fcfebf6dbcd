"""The service layer: runs the pipeline for one plan (read -> classify -> plan -> reconcile -> apply).

This is where the pure core meets the adapters: it picks the adapters a plan's config names,
hands their data to the pure functions, and applies the resulting actions. Guards that protect
the user's data (an empty source deletes nothing; a mass delete needs ``--force``) sit here,
between reconcile and apply.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from calsync.config import (
    PlanConfig,
)
from calsync.core.catalogue import Catalogue
from calsync.core.classify import Classified, classify_events
from calsync.core.decide import Written, dismissed_sessions, guard_deletes, records_after
from calsync.core.identity import is_session_uid
from calsync.core.model import (
    PlanResult,
    PlanWarning,
    Session,
    SourceEvent,
    Version,
    WarningCode,
)
from calsync.core.planner import PlanInput, plan
from calsync.core.reconcile import (
    Action,
    Create,
    Delete,
    OwnedEvent,
    Update,
    fixed_sessions,
    previous_sessions,
    reconcile,
)
from calsync.core.window import Window, planning_window
from calsync.errors import CalsyncError, TargetChangedError, TargetError
from calsync.executor import execute
from calsync.ports import CalendarTarget, SourceAdapter, Stop
from calsync.registry import (
    legacy_state_key,
    publisher_for,
    source_for,
    source_key,
    state_key,
    target_for,
)
from calsync.state import PassRecord, ScopedStore, State, now_iso

log = logging.getLogger(__name__)

TARGET_CHANGED_RETRIES = 3
"""How often a pass reads the target again when another program saved it while calsync wrote."""


def window_for(config: PlanConfig, now: datetime) -> Window:
    """The planning window of a plan at ``now``."""
    return planning_window(config.zone, config.horizon_weeks, now)


@dataclass
class SourceRead:
    """What the sources of a plan gave."""

    events: list[SourceEvent]
    warnings: list[PlanWarning]
    empty_sources: list[str]
    requests: int = 0
    """HTTP requests the reads made."""


def read_sources(
    config: PlanConfig,
    window: Window,
    state: State | None = None,
    *,
    full: bool = False,
    adapters: dict[str, SourceAdapter] | None = None,
) -> SourceRead:
    """Read every source of a plan; any failure raises SourceError (a failed read, not an empty plan).

    Remote sources read incrementally: their sync token / ETag and objects live in the state;
    ``full`` reads everything again (``rebuild``) and starts afresh. ``adapters`` keeps source
    adapters between passes (the daemon), so what did not change is not parsed again.
    """
    events: list[SourceEvent] = []
    warnings: list[PlanWarning] = []
    empty: list[str] = []
    requests = 0
    for index in range(len(config.source)):
        memo_key = f"{config.id}/{index}"
        adapter = adapters.get(memo_key) if adapters is not None else None
        if adapter is None:
            adapter = source_for(config, index)
            if adapters is not None:
                adapters[memo_key] = adapter
        before = adapter.requests
        try:
            key = source_key(config.source[index], config.id)
            store = ScopedStore(state, key) if state is not None and key is not None else None
            result = adapter.read(window.read_start, window.read_end, config.zone, store, full=full)
        finally:
            requests += adapter.requests - before
            if adapters is None:
                adapter.close()
        mine = [e for e in result.events if is_session_uid(e.uid)]
        log.debug(
            "%s: %d events (%d written by calsync, left out), %d problems",
            adapter.name,
            len(result.events),
            len(mine),
            len(result.problems),
        )
        # sessions calsync wrote are never runs nor busy time: a calendar (or file) may be both
        # a plan's source and its target
        events.extend(e for e in result.events if not is_session_uid(e.uid))
        warnings.extend(PlanWarning(WarningCode.SKIPPED_EVENT, problem) for problem in result.problems)
        if len(mine) == len(result.events):  # nothing but calsync's own sessions: empty
            empty.append(adapter.name)
    return SourceRead(events, warnings, empty, requests)


def known_written(state: State, config: PlanConfig, *, may_write: bool) -> dict[str, Written]:
    """What the state holds for a plan's sessions, also when an earlier calsync filed it under
    :func:`~calsync.registry.legacy_state_key` (moved to the current key when ``may_write``)."""
    key = state_key(config)
    known = state.written(key)
    legacy = legacy_state_key(config) if not known else None
    if legacy is not None:
        known = state.written(legacy)
        if known and may_write:
            state.move_written(legacy, key)
    return known


def make_plan(
    config: PlanConfig,
    now: datetime,
    owned: list[OwnedEvent] | None = None,
    dismissed: frozenset[str] = frozenset(),
    state: State | None = None,
) -> tuple[PlanResult, SourceRead]:
    """Read the sources and plan: sessions that exist and must stay are taken from ``owned``,
    sessions a person deleted (``dismissed``) are not planned again."""
    read = read_sources(config, window_for(config, now), state)
    return plan_from(config, now, read, owned or [], dismissed), read


def classify_for(config: PlanConfig, now: datetime, events: list[SourceEvent]) -> Classified:
    """The classify step with a plan's settings."""
    return classify_events(
        events,
        config.classify,
        zone=config.zone,
        a_race=config.a_race,
        # the A race is looked for up to 26 weeks past the horizon (PRODUCT.md "Phases")
        horizon_end=window_for(config, now).race_horizon,
        pace_min_per_km=config.rules.default_pace_min_per_km,
    )


def plan_input(
    config: PlanConfig,
    now: datetime,
    classified: Classified,
    *,
    fixed: Sequence[Session] = (),
    dismissed: frozenset[str] = frozenset(),
    previous: Sequence[Session] = (),
) -> PlanInput:
    """The planner's input for a plan's config and its classified events."""
    return PlanInput(
        plan_id=config.id,
        zone=config.zone,
        runs=classified.runs,
        busy=classified.busy,
        rules=config.rules,
        now=now,
        horizon_weeks=config.horizon_weeks,
        catalogue=Catalogue(config.catalogue),
        fixed=fixed,
        a_race=config.a_race,
        dismissed=dismissed,
        previous=previous,
    )


def plan_from(
    config: PlanConfig, now: datetime, read: SourceRead, owned: list[OwnedEvent], dismissed: frozenset[str]
) -> PlanResult:
    """Classify what the sources gave and plan around what must stay (no I/O)."""
    classified = classify_for(config, now, read.events)
    result = plan(
        plan_input(
            config,
            now,
            classified,
            fixed=fixed_sessions(owned, now=now),
            dismissed=dismissed,
            previous=previous_sessions(owned, now=now),
        )
    )
    if read.warnings:
        result = PlanResult(
            result.plan_id,
            result.timezone,
            result.runs,
            result.weeks,
            result.sessions,
            (*read.warnings, *result.warnings),
        )
    return result


@dataclass
class PassReport:
    """What one pass of one plan did (or would do, with ``--dry-run``)."""

    plan_id: str
    target: str
    actions: list[Action] = field(default_factory=list)
    unchanged: int = 0
    applied: bool = False
    notes: list[str] = field(default_factory=list)
    requests: int = 0
    """HTTP requests the pass made (remote calendars only)."""
    result: PlanResult | None = None
    """The plan the pass wrote (the daemon's all-plans feed serves it)."""

    def count(self, kind: type) -> int:
        """How many actions of one kind."""
        return sum(1 for a in self.actions if isinstance(a, kind))

    def summary(self) -> str:
        """One line for people."""
        return f"{self.plan_id}: {self.changes()}"

    def changes(self) -> str:
        """What changed where, and what it cost (the summary without the plan id)."""
        verb = "" if self.applied or not self.actions else "would be "
        return (
            f"{self.count(Create)} {verb}created, {self.count(Update)} {verb}updated, "
            f"{self.count(Delete)} {verb}deleted, {self.unchanged} unchanged -> {self.target}"
            + (f" ({self.requests} request{'s' if self.requests != 1 else ''})" if self.requests else "")
        )


class StateJournal:
    """The executor's journal for a pass with a state: deletes are forgotten before the first
    write (a crash after a delete must not read as a person's deletion); the confirmed writes
    are recorded, with what the target holds now, when the executor is done (also on failure)."""

    def __init__(
        self,
        state: State,
        key: str,
        *,
        owned: list[OwnedEvent],
        known: dict[str, Written],
        dismissed: set[str],
        zone: ZoneInfo,
        now: datetime,
    ) -> None:
        self.state = state
        self.key = key
        self.owned = owned
        self.known = known
        self.dismissed = dismissed
        self.zone = zone
        self.now = now
        self.done: list[tuple[Action, Version]] = []

    def intend(self, actions: Sequence[Action]) -> None:
        """Forget what is about to be deleted, first."""
        forget = [a.previous.uid for a in actions if isinstance(a, Delete) and not a.duplicate]
        if forget:
            self.state.record_written(self.key, [], forget=forget)

    def written(self, action: Action, version: Version) -> None:
        """A confirmed write."""
        self.done.append((action, version))

    def flush(self) -> None:
        """Record what the target holds now: the listed events plus the confirmed writes."""
        records, forget = records_after(
            self.owned, self.done, known=self.known, dismissed=self.dismissed, zone=self.zone
        )
        ended = [w.uid for w in records if not w.dismissed and datetime.fromisoformat(w.ends) <= self.now]
        stale = [uid for uid, w in self.known.items() if w.dismissed and uid not in self.dismissed]
        self.state.record_written(
            self.key, [w for w in records if w.uid not in ended], forget=[*forget, *ended, *stale]
        )


def pass_record(
    config: PlanConfig,
    now: datetime,
    started: float,
    summary: str,
    *,
    ok: bool = True,
    error: str = "",
    requests: int = 0,
) -> PassRecord:
    """What the state keeps of one pass for ``calsync status`` (the CLI's and the daemon's alike):
    ``started`` is the ``time.monotonic()`` of its start; a failed pass gives ``ok=False``."""
    return PassRecord(
        config.id,
        now_iso(now),
        now_iso(datetime.now(config.zone)),
        ok,
        summary,
        error=error,
        requests=requests,
        seconds=round(time.monotonic() - started, 3),
    )


def run_pass(
    config: PlanConfig,
    now: datetime,
    *,
    dry_run: bool,
    force: bool,
    state: State | None = None,
    full: bool = False,
    adapters: dict[str, SourceAdapter] | None = None,
    stop: Stop | None = None,
) -> PassReport:
    """One pass for one plan: read, plan, reconcile, guard, execute, record, publish. ``full``
    (``rebuild``) reads every calendar in full; otherwise (``sync``) remote calendars are read
    incrementally.

    When a write meets a conflict (someone changed the event since it was read: a 412), nothing of
    theirs is overwritten: the target is read again and the plan redone once around their change.
    ``adapters`` keeps source adapters between passes (the daemon); ``stop`` is asked between
    writes (the daemon shutting down): the pass then ends with InterruptedPassError, its
    confirmed writes recorded.
    """
    with _one_pass_at_a_time(state, config.id):
        return _locked_pass(
            config, now, dry_run=dry_run, force=force, state=state, full=full, adapters=adapters, stop=stop
        )


@contextlib.contextmanager
def _one_pass_at_a_time(state: State | None, plan_id: str) -> Iterator[None]:
    """Hold the plan's lock (a file beside the state) for a pass that writes: two calsync
    processes passing over one plan together (a timer's sync and a person's rebuild, or the
    daemon) take turns. Interleaved, one could record an event as there after the other deleted
    it, and the next pass would read that as a person's deletion. The kernel drops the lock of a
    process that dies."""
    if state is None:  # nothing recorded: nothing to keep apart
        yield
        return
    folder = Path(state.path).parent / "locks"
    folder.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(folder / f"{plan_id}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _locked_pass(
    config: PlanConfig,
    now: datetime,
    *,
    dry_run: bool,
    force: bool,
    state: State | None,
    full: bool,
    adapters: dict[str, SourceAdapter] | None,
    stop: Stop | None,
) -> PassReport:
    target = target_for(config, state, full=full, now=now)
    if target is None:
        raise TargetError(f"plan {config.id}: no [plan.target] configured, nothing to write to")
    publisher = None if dry_run else publisher_for(config, state)
    try:
        report = _run_pass(
            config,
            target,
            now,
            dry_run=dry_run,
            force=force,
            state=state,
            full=full,
            adapters=adapters,
            stop=stop,
        )
        if publisher is not None and report.result is not None:
            try:
                publisher.publish(report.result, now)
            except CalsyncError as err:  # the calendar is written: what the dashboard shows waits
                report.notes.append(f"the calendar is up to date, but {err}")
                log.warning("plan %s: %s", config.id, err)
            report.requests += publisher.requests
        return report
    finally:
        target.close()
        if publisher is not None:
            publisher.close()


def _run_pass(
    config: PlanConfig,
    target: CalendarTarget,
    now: datetime,
    *,
    dry_run: bool,
    force: bool,
    state: State | None,
    full: bool,
    adapters: dict[str, SourceAdapter] | None,
    stop: Stop | None,
) -> PassReport:
    read = read_sources(config, window_for(config, now), state, full=full, adapters=adapters)
    key = state_key(config)
    report = PassReport(config.id, target.label)
    attempt = 0
    changed_meanwhile = 0
    kept_notes = 0  # the notes that stay when the target is read again (not repeated per try)
    while attempt < 2:
        del report.notes[kept_notes:]
        owned = target.list_owned()
        known = known_written(state, config, may_write=not dry_run) if state is not None else {}
        dismissed, notes = dismissed_sessions(known, owned, now=now)
        if force and dismissed:
            notes.append(f"--force: putting back {len(dismissed)} session(s) deleted in the target")
            dismissed = set()
        result = plan_from(config, now, read, owned, frozenset(dismissed))
        window = window_for(config, now)
        actions = reconcile(
            result.sessions, owned, now=now, window_start=window.first_week, window_end=window.horizon_end
        )
        actions, guard_notes = guard_deletes(
            actions,
            owned,
            read.empty_sources,
            now=now,
            force=force,
            has_runs=bool(result.runs),
            dry_run=dry_run,
            plan_id=config.id,
            target=target.label,
        )
        touched = {a.session.uid for a in actions if isinstance(a, Create | Update)}
        report.actions = report.actions + actions if attempt else actions
        report.unchanged = sum(1 for s in result.sessions if s.uid not in touched)
        report.notes += notes + guard_notes
        if dry_run:
            break
        journal = (
            StateJournal(state, key, owned=owned, known=known, dismissed=dismissed, zone=config.zone, now=now)
            if state is not None
            else None
        )
        if not actions:
            if journal is not None and any(uid in known and not known[uid].dismissed for uid in dismissed):
                # nothing to write, but a person's deletion was noticed: remember it (else, once
                # they delete the rest of a small plan, everything would look wiped and return)
                journal.flush()
            break
        try:
            outcome = execute(actions, target, now=now, stop=stop, journal=journal)
        except TargetChangedError as err:
            # the whole write was refused (a file another program saved meanwhile): read it
            # again and redo; a target that keeps changing fails the pass, nothing overwritten
            changed_meanwhile += 1
            if changed_meanwhile > TARGET_CHANGED_RETRIES:
                raise
            log.info("%s; reading it again", err)
            del report.notes[kept_notes:]
            if changed_meanwhile == 1:
                report.notes.append(
                    "the target changed while calsync wrote: read again and planned around it"
                )
            kept_notes = len(report.notes)
            continue
        report.applied = True
        conflicts = outcome.conflicts
        if not conflicts:
            break
        report.notes.append(
            f"{len(conflicts)} session(s) changed by someone else while calsync wrote: kept theirs"
            + (", planned again around them" if attempt == 0 else "; the next pass plans around them")
        )
        kept_notes = len(report.notes)
        attempt += 1
    report.result = result
    report.requests = read.requests + target.requests
    return report
