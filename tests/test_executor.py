"""The one write loop (:func:`calsync.executor.execute`) on the in-memory calendar: conflicts,
the stop between writes, the journal's crash ordering and the settling after a lost answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import support
from calsync.adapters.memory import MemoryCalendar, MemoryTarget
from calsync.core.model import Session, SessionKind, Version
from calsync.core.reconcile import Action, Create, Delete, OwnedEvent, Update, reconcile
from calsync.errors import InterruptedPassError, TargetError
from calsync.executor import execute

ZONE = ZoneInfo("Europe/Berlin")
PLAN = "me"
NOW = datetime(2026, 11, 30, 5, 0, tzinfo=ZONE)
MON = date(2026, 11, 30)


def session(day: date, slot: str, hour: int = 6) -> Session:
    """A 30-minute core session, with the UID the planner would give it."""
    return support.session(day, slot, SessionKind.CORE, hour=hour, minutes=30, reasons=())


PLANNED = [session(MON + timedelta(days=1), "s1"), session(MON + timedelta(days=3), "s2")]


class Log:
    """A journal that keeps the order of what it heard."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def intend(self, actions: Sequence[Action]) -> None:
        self.events.extend(("intend", a.previous.uid) for a in actions if isinstance(a, Delete))

    def written(self, action: Action, version: Version) -> None:
        uid = action.previous.uid if isinstance(action, Delete) else action.session.uid
        self.events.append((type(action).__name__.lower(), uid + ("@" + version[0] if version[0] else "")))

    def flush(self) -> None:
        self.events.append(("flush", ""))


def plan_into(target: MemoryTarget, planned: Sequence[Session]) -> list[Action]:
    """Reconcile the plan with what the target lists."""
    return reconcile(
        planned, target.list_owned(), now=NOW, window_start=MON, window_end=MON + timedelta(weeks=2)
    )


def test_no_actions_touch_nothing_and_journal_nothing() -> None:
    calendar = MemoryCalendar()
    journal = Log()
    assert execute([], MemoryTarget(PLAN, ZONE, calendar), now=NOW, journal=journal).written == 0
    assert calendar.writes == 0
    assert journal.events == []


def test_the_journal_hears_deletes_first_each_write_with_its_href_and_a_flush_last() -> None:
    calendar = MemoryCalendar()
    target = MemoryTarget(PLAN, ZONE, calendar)
    execute(plan_into(target, PLANNED), target, now=NOW)
    moved = [session(MON + timedelta(days=2), "s1")]
    journal = Log()
    result = execute(plan_into(target, moved), target, now=NOW, journal=journal)
    assert result.updated == [PLANNED[0].uid]
    assert result.deleted == [PLANNED[1].uid]
    assert journal.events == [
        ("intend", PLANNED[1].uid),
        ("update", f"{PLANNED[0].uid}@{PLANNED[0].uid}.ics"),
        ("delete", PLANNED[1].uid),
        ("flush", ""),
    ]


def test_a_conflict_is_reported_not_written_and_the_others_go_on() -> None:
    calendar = MemoryCalendar()
    target = MemoryTarget(PLAN, ZONE, calendar)
    execute(plan_into(target, PLANNED), target, now=NOW)
    moved = [session(MON + timedelta(days=2), "s1"), session(MON + timedelta(days=4), "s2")]
    actions = plan_into(target, moved)
    calendar.edit(PLANNED[0].uid, summary="Squats with Anna")  # a person, meanwhile
    result = execute(actions, target, now=NOW)
    assert [(c.uid, c.action) for c in result.conflicts] == [(PLANNED[0].uid, "update")]
    assert result.updated == [PLANNED[1].uid]
    assert "Squats with Anna" in calendar.objects[f"{PLANNED[0].uid}.ics"]


def test_a_delete_of_an_event_already_gone_is_journaled_but_not_counted() -> None:
    calendar = MemoryCalendar()
    target = MemoryTarget(PLAN, ZONE, calendar)
    execute(plan_into(target, PLANNED), target, now=NOW)
    actions = plan_into(target, PLANNED[:1])
    calendar.delete_event(PLANNED[1].uid)
    journal = Log()
    result = execute(actions, target, now=NOW, journal=journal)
    assert result.deleted == []
    assert result.conflicts == []
    assert ("delete", PLANNED[1].uid) in journal.events  # the state forgets it: not a person's deletion


def test_stop_ends_the_pass_between_writes_with_what_is_done_journaled() -> None:
    calendar = MemoryCalendar()
    target = MemoryTarget(PLAN, ZONE, calendar)
    journal = Log()
    asked = iter([False, True])
    with pytest.raises(InterruptedPassError):
        execute(plan_into(target, PLANNED), target, now=NOW, stop=lambda: next(asked), journal=journal)
    assert len(calendar.objects) == 1
    assert [kind for kind, _ in journal.events] == ["create", "flush"]


class LostAnswers(MemoryTarget):
    """A calendar that does a create and then loses the answer (the server acted)."""

    def create(self, session: Session, *, now: datetime) -> Version:
        super().create(session, now=now)
        raise TargetError("the connection broke after the request was sent")


def test_a_create_whose_answer_was_lost_counts_when_it_is_there() -> None:
    calendar = MemoryCalendar()
    target = LostAnswers(PLAN, ZONE, calendar)
    journal = Log()
    with pytest.raises(TargetError):
        execute(plan_into(target, PLANNED), target, now=NOW, journal=journal)
    assert [kind for kind, _ in journal.events] == ["create", "flush"]  # recorded: it is there


class FailingUpdates(MemoryTarget):
    """A calendar whose updates fail before anything is written."""

    def update(self, previous: OwnedEvent, session: Session, *, sequence: int, now: datetime) -> Version:
        raise TargetError(f"the server is down: {previous.uid} -> {session.start} #{sequence} at {now}")


def test_an_update_that_failed_is_not_counted_by_the_settling_listing() -> None:
    calendar = MemoryCalendar()
    execute(
        plan_into(MemoryTarget(PLAN, ZONE, calendar), PLANNED), MemoryTarget(PLAN, ZONE, calendar), now=NOW
    )
    target = FailingUpdates(PLAN, ZONE, calendar)
    actions = plan_into(target, [session(MON + timedelta(days=2), "s1"), PLANNED[1]])
    assert [type(a) for a in actions] == [Update]
    journal = Log()
    with pytest.raises(TargetError):
        execute(actions, target, now=NOW, journal=journal)
    assert journal.events == [("flush", "")]


def test_execute_needs_an_aware_now() -> None:
    with pytest.raises(ValueError, match="aware"):
        execute([Create(PLANNED[0])], MemoryTarget(PLAN, ZONE), now=datetime(2026, 11, 30, 5))
