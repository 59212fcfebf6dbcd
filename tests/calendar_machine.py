"""One Hypothesis state machine for every calendar backend calsync syncs with.

Random sequences of runs added / moved / deleted in the source calendar, sessions edited or
deleted by a person in the target, foreign events added to it, and passes with injected failures.
After every *clean* pass the backend is read directly (never through calsync) and PRODUCT.md
sections 4 and 6 are checked:

* the target holds exactly the sessions :func:`calsync.pipeline.make_plan` plans at the same
  ``now`` around what is there, at their planned starts, each once;
* a person's edits are exactly as they left them, their deletions stay deleted;
* every event calsync does not own (runs, foreign events) is exactly as its writer left it, in
  both calendars, none lost and none added; calsync never writes into a separate source;
* a second clean pass right after has no actions.

The machine mirrors vdirsyncer's sync state machine (CONVENTIONS.md): the model is what the
writers wrote; the backend is the truth. A :class:`Backend` says how a person and the runner's
app work on one kind of calendar and how failures are injected into calsync's requests:
``test_sync_machine.py`` (CalDAV on Radicale and Xandikos) and ``test_ha_machine.py`` (Home
Assistant) each give one and run this same machine.

Knobs: ``CALSYNC_PROPERTY_SCALE`` multiplies sequences and steps; ``CALSYNC_PROPERTY_SHRINK=1``
shrinks a failure to its minimal sequence (minutes against real servers, so off by default).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from calsync import pipeline, registry
from calsync.config import PlanConfig
from calsync.core.decide import dismissed_sessions
from calsync.core.model import When
from calsync.core.reconcile import OwnedEvent
from calsync.errors import SourceError, TargetError
from calsync.state import State

SCALE = max(0.1, float(os.environ.get("CALSYNC_PROPERTY_SCALE", "1")))
SHRINK = os.environ.get("CALSYNC_PROPERTY_SHRINK", "") not in ("", "0")

ZONE = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 27, 7, 30, tzinfo=ZONE)
"""A Friday; every pass of the machine runs at this instant."""
FIRST_MONDAY = date(2026, 11, 30)
RUN_WEEKS = 3
"""Runs fall in the three weeks after ``NOW`` (the horizon is four weeks, this one included)."""
HORIZON_WEEKS = 4
TITLES = ("Long Run 25 km", "Easy run 45 min", "Tempo run 10 km", "Intervals 8x400m")
PLAN_ID = "me"

Snapshot = object
"""One event as the backend stores it (bytes of its VEVENT, a JSON text...): compared by ``==``."""


class Backend(ABC):
    """One kind of calendar, as the runner's app and a person work on it."""

    failures: ClassVar[tuple[str, ...]]
    """The failure modes :meth:`arm` knows."""
    max_after: ClassVar[int] = 12
    """Requests let through before an injected failure, at most."""

    @abstractmethod
    def new_calendar(self) -> str:
        """A fresh, empty calendar; its id (URL, entity id)."""

    def drop_calendar(self, calendar: str) -> None:  # noqa: B027 - optional: most backends keep them
        """Remove a calendar the machine made."""

    @abstractmethod
    def config(self, folder: Path, source: str, target: str) -> PlanConfig:
        """The plan's config reading runs from ``source`` and writing sessions into ``target``."""

    @abstractmethod
    def add_run(self, calendar: str, key: str, day: date, title: str) -> str:
        """The runner's app adds an all-day run; the event's key in :meth:`others`."""

    @abstractmethod
    def move_run(self, calendar: str, key: str, day: date, title: str, sequence: int) -> None:
        """The runner's app moves a run to ``day``."""

    @abstractmethod
    def delete_run(self, calendar: str, key: str) -> None:
        """The runner's app deletes a run."""

    @abstractmethod
    def add_foreign(self, calendar: str, key: str, day: date, hour: int, other_plan: bool) -> str:
        """Someone adds an event calsync does not own (a dentist, another plan's session); its key."""

    @abstractmethod
    def others(self, calendar: str) -> dict[str, Snapshot]:
        """Every event that is not this plan's, by key, as stored now."""

    @abstractmethod
    def owned(self, calendar: str) -> dict[str, list[Snapshot]]:
        """This plan's events by calsync UID (every copy), as stored now."""

    @abstractmethod
    def person_edits(self, calendar: str, uid: str, how: str) -> Snapshot:
        """A person moves an owned event a day later (``move``) or renames it; what is stored."""

    @abstractmethod
    def person_deletes(self, calendar: str, uid: str) -> None:
        """A person deletes an owned event (every copy)."""

    def answer_lost(self, uid: str) -> bool:  # noqa: ARG002 - a backend that loses no answer
        """Whether calsync wrote this session in a pass that never heard the answer (nor could
        list afterwards): a person deleting it then is indistinguishable from a write that never
        happened, so the next pass may write it again."""
        return False

    @abstractmethod
    def start_of(self, snapshot: Snapshot) -> When:
        """When a stored event starts."""

    @abstractmethod
    def duplicates(self, calendar: str) -> dict[str, int]:
        """Keys stored more than once, with their counts (none may ever be)."""

    @abstractmethod
    def list_owned(self, config: PlanConfig) -> list[OwnedEvent]:
        """calsync's events in the target as calsync reads them (no failure injected)."""

    @abstractmethod
    def arm(self, machine: CalendarMachine, mode: str, after: int, sticky: bool) -> None:
        """Inject ``mode`` into calsync's requests of the next pass, after ``after`` of them
        (every later one too when ``sticky``); a person's edit is recorded on ``machine``."""

    @abstractmethod
    def disarm(self) -> None:
        """Let every request through."""


run_weeks = st.integers(min_value=0, max_value=RUN_WEEKS - 1)
weekdays = st.integers(min_value=0, max_value=6)
picks = st.integers(min_value=0, max_value=999)
"""An index into a list, taken modulo its length (shrinks towards the first)."""


def same_when(a: object, b: When) -> bool:
    """Two starts are the same moment (dates compare as dates, datetimes as instants)."""
    if isinstance(a, datetime) or isinstance(b, datetime):
        return isinstance(a, datetime) and isinstance(b, datetime) and a == b
    return a == b


class CalendarMachine(RuleBasedStateMachine):
    """Random source edits, person edits, foreign events and (failing) passes; see the module."""

    backend: ClassVar[Backend]
    """Set by :func:`run_machine` before the machine runs."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="calsync-machine-"))
        self.state = State(self.folder / "state" / "state.sqlite")
        self.calendars: list[str] = []
        self.source = self.target = ""
        self.config: PlanConfig | None = None
        self.runs: dict[str, tuple[date, str, int]] = {}
        """The source's runs: key -> (day, title, sequence)."""
        self.written: dict[str, dict[str, Snapshot]] = {}
        """Per calendar, every event calsync does not own, as its writer left it."""
        self.edited: dict[str, Snapshot] = {}
        """Owned events a person edited (by calsync UID), as they left them."""
        self.deleted: set[str] = set()
        """Owned events a person deleted."""
        self.counter = 0

    # -- set-up and teardown --------------------------------------------------------------------

    @initialize(
        same_calendar=st.booleans(),
        runs=st.lists(st.tuples(run_weeks, weekdays, st.sampled_from(TITLES)), min_size=1, max_size=4),
    )
    def make_calendars(self, same_calendar: bool, runs: list[tuple[int, int, str]]) -> None:
        """Fresh calendars (the target is the source calendar itself or a second one) and runs."""
        self.source = self.backend.new_calendar()
        self.calendars.append(self.source)
        if same_calendar:
            self.target = self.source
        else:
            self.target = self.backend.new_calendar()
            self.calendars.append(self.target)
        self.written = {calendar: {} for calendar in self.calendars}
        self.config = self.backend.config(self.folder, self.source, self.target)
        for week, weekday, title in runs:
            self.add_run(week, weekday, title)

    def teardown(self) -> None:
        """Drop the calendars and the state: nothing is left behind."""
        self.backend.disarm()
        self.state.close()
        for calendar in self.calendars:
            self.backend.drop_calendar(calendar)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _key(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def _refresh(self, calendar: str, key: str) -> None:
        """Remember an event someone else wrote as the backend stores it now."""
        self.written[calendar][key] = self.backend.others(calendar)[key]

    # -- the runner's source calendar -------------------------------------------------------------

    @rule(week=run_weeks, weekday=weekdays, title=st.sampled_from(TITLES))
    def add_run(self, week: int, weekday: int, title: str) -> None:
        """The runner adds a run to their plan."""
        day = FIRST_MONDAY + timedelta(weeks=week, days=weekday)
        key = self.backend.add_run(self.source, self._key("run"), day, title)
        self.runs[key] = (day, title, 0)
        self._refresh(self.source, key)

    @precondition(lambda self: bool(self.runs))
    @rule(pick=picks, week=st.one_of(st.none(), run_weeks), weekday=weekdays)
    def move_run(self, pick: int, week: int | None, weekday: int) -> None:
        """The runner moves a run to another day of its week (``week`` None) or to another week."""
        key = sorted(self.runs)[pick % len(self.runs)]
        day, title, sequence = self.runs[key]
        monday = day - timedelta(days=day.weekday())
        if week is not None:
            monday = FIRST_MONDAY + timedelta(weeks=week)
        day = monday + timedelta(days=weekday)
        self.backend.move_run(self.source, key, day, title, sequence + 1)
        self.runs[key] = (day, title, sequence + 1)
        self._refresh(self.source, key)

    @precondition(lambda self: len(self.runs) > 1)
    @rule(pick=picks)
    def delete_run(self, pick: int) -> None:
        """The runner deletes a run (one always stays: a plan without runs deletes nothing)."""
        key = sorted(self.runs)[pick % len(self.runs)]
        self.backend.delete_run(self.source, key)
        del self.runs[key]
        del self.written[self.source][key]

    # -- a person in the target calendar ----------------------------------------------------------

    @rule(pick=picks, how=st.sampled_from(["move", "rename"]))
    def person_edits(self, pick: int, how: str) -> None:
        """A person moves an owned event a day later, or renames it."""
        owned = self.backend.owned(self.target)
        if owned:
            uid = sorted(owned)[pick % len(owned)]
            self.edited[uid] = self.backend.person_edits(self.target, uid, how)

    @rule(pick=picks)
    def person_deletes(self, pick: int) -> None:
        """A person deletes an owned event."""
        owned = self.backend.owned(self.target)
        if owned:
            uid = sorted(owned)[pick % len(owned)]
            assert self.config is not None
            known = self.state.written(registry.state_key(self.config))
            self.backend.person_deletes(self.target, uid)
            self.edited.pop(uid, None)
            if uid in known or not self.backend.answer_lost(uid):
                self.deleted.add(uid)  # what calsync could know it wrote must stay deleted

    @rule(week=run_weeks, weekday=weekdays, hour=st.integers(min_value=6, max_value=20), other=st.booleans())
    def add_foreign(self, week: int, weekday: int, hour: int, other: bool) -> None:
        """Someone adds an event calsync does not own to the target (another plan's, or a dentist)."""
        day = FIRST_MONDAY + timedelta(weeks=week, days=weekday)
        key = self.backend.add_foreign(self.target, self._key("foreign"), day, hour, other)
        self._refresh(self.target, key)

    # -- passes -----------------------------------------------------------------------------------

    def run_pass(self) -> pipeline.PassReport:
        """One pass of the plan, as the CLI and the daemon run it."""
        assert self.config is not None
        return pipeline.run_pass(self.config, NOW, dry_run=False, force=False, state=self.state)

    def _expect_wipe_rule(self) -> None:
        """A person who deleted every session calsync knows of (more than two) is read as a wiped
        calendar, and the next pass writes them again (DESIGN.md): those deletions do not stick."""
        assert self.config is not None
        known = self.state.written(registry.state_key(self.config))
        _, notes = dismissed_sessions(known, self.backend.list_owned(self.config), now=NOW)
        if any("writing them again" in note for note in notes):
            self.deleted.clear()

    @rule()
    def sync_pass(self) -> None:
        """A clean pass; the invariants are checked after it, and a second pass does nothing."""
        self._expect_wipe_rule()
        self.run_pass()
        self.check_after_clean_pass()
        again = self.run_pass()
        assert not again.actions, f"a second clean pass still acts: {again.actions}"

    @rule(data=st.data())
    def failing_pass(self, data: st.DataObject) -> None:
        """A pass with an injected failure: it may fail with SourceError/TargetError, nothing else."""
        mode = data.draw(st.sampled_from(self.backend.failures), label="mode")
        after = data.draw(st.integers(min_value=0, max_value=self.backend.max_after), label="after")
        sticky = data.draw(st.booleans(), label="sticky")
        self._expect_wipe_rule()  # the pass may get as far as writing them again
        self.backend.arm(self, mode, after, sticky)
        try:
            self.run_pass()
        except (SourceError, TargetError):
            pass
        finally:
            self.backend.disarm()

    # -- invariants -------------------------------------------------------------------------------

    @invariant()
    def nothing_twice(self) -> None:
        """No event is stored twice in any calendar, whatever happened."""
        for calendar in self.calendars:
            twice = self.backend.duplicates(calendar)
            assert not twice, f"stored twice in {calendar}: {twice}"

    def check_after_clean_pass(self) -> None:
        """PRODUCT.md sections 4 and 6, read from the backend directly."""
        assert self.config is not None
        for calendar in self.calendars:
            assert self.backend.others(calendar) == self.written[calendar], (
                f"an event calsync does not own was changed, lost or added in {calendar}"
            )
        if self.source != self.target:
            assert not self.backend.owned(self.source), "calsync wrote to the source"
        mine = self.backend.owned(self.target)
        back = self.deleted & set(mine)
        assert not back, f"sessions the person deleted were put back: {sorted(back)}"
        for uid, left in self.edited.items():
            assert uid in mine, f"the session {uid} a person edited is gone"
            assert mine[uid][0] == left, f"the person's edit of {uid} was not kept as they left it"

        owned = self.backend.list_owned(self.config)
        known = self.state.written(registry.state_key(self.config))
        dismissed, _ = dismissed_sessions(known, owned, now=NOW)
        result, _ = pipeline.make_plan(self.config, NOW, owned, frozenset(dismissed))
        planned = {s.uid: s for s in result.sessions}
        assert set(mine) == set(planned), (
            f"target holds {sorted(set(mine) - set(planned))} unplanned, "
            f"misses {sorted(set(planned) - set(mine))} planned"
        )
        for uid, session in planned.items():
            start = self.backend.start_of(mine[uid][0])
            assert same_when(start, session.start), f"{uid} starts {start}, planned {session.start}"


def run_machine(backend: Backend, *, examples: int, steps: int) -> None:
    """Run :class:`CalendarMachine` on ``backend`` (both numbers scaled by the knob)."""
    machine = type(f"CalendarMachineOn{type(backend).__name__}", (CalendarMachine,), {"backend": backend})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=max(1, round(examples * SCALE)),
            stateful_step_count=max(3, round(steps * SCALE)),
            deadline=None,
            phases=list(Phase) if SHRINK else [p for p in Phase if p is not Phase.shrink],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
