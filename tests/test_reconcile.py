"""Reconcile: planned sessions against owned events -> create / update / delete (PRODUCT.md section 4)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import support
from calsync.core.model import Session, SessionKind, first_day
from calsync.core.reconcile import (
    Action,
    Create,
    Delete,
    OwnedEvent,
    Update,
    describe_action,
    fixed_sessions,
    reconcile,
)
from calsync.core.render import session_fingerprint

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 27, 7, 30, tzinfo=BERLIN)  # a Friday
WINDOW = (date(2026, 11, 23), date(2027, 3, 1))
TITLES = {
    SessionKind.HEAVY_LOWER: "Strength: heavy lower body",
    SessionKind.LIGHT_LOWER: "Strength: light lower body",
    SessionKind.UPPER: "Strength: upper body",
    SessionKind.CORE: "Strength: core",
    SessionKind.BODYWEIGHT: "Strength: bodyweight",
    SessionKind.REST: "Rest day",
}


def session(
    slot: str = "s1",
    day: date = date(2026, 11, 30),
    hour: int = 6,
    kind: SessionKind = SessionKind.HEAVY_LOWER,
    minutes: int = 45,
) -> Session:
    """A session of plan ``me`` on ``day``; rest days are all-day."""
    return support.session(
        day, slot, kind, hour=hour, minutes=minutes, title=TITLES[kind], reasons=(support.R8_REASON,)
    )


def owned(s: Session, *, sequence: int = 0, edited: bool = False, hashed: bool = True) -> OwnedEvent:
    """The owned event calsync would read back after writing ``s`` (optionally edited by a person)."""
    written = session_fingerprint(s)
    return OwnedEvent(
        uid=s.uid,
        plan_id="me",
        kind=s.kind,
        week=s.week,
        slot=s.slot,
        title=s.title,
        start=s.start,
        end=s.end,
        sequence=sequence,
        written_hash=written if hashed else None,
        current_hash="0123456789abcdef" if edited else written,
    )


def applied(current: Sequence[OwnedEvent], actions: Sequence[Action]) -> list[OwnedEvent]:
    """What a target holds after applying ``actions`` (the in-memory model of a target)."""
    by_uid = {event.uid: event for event in current}
    for action in actions:
        if isinstance(action, Create):
            by_uid[action.session.uid] = owned(action.session)
        elif isinstance(action, Update):
            by_uid[action.session.uid] = owned(action.session, sequence=action.sequence)
        else:
            del by_uid[action.previous.uid]
    return list(by_uid.values())


def run(planned: Sequence[Session], current: Sequence[OwnedEvent], now: datetime = NOW) -> list[Action]:
    return reconcile(planned, current, now=now, window_start=WINDOW[0], window_end=WINDOW[1])


def summary(actions: Sequence[Action]) -> list[tuple[str, str, int | None]]:
    out: list[tuple[str, str, int | None]] = []
    for action in actions:
        if isinstance(action, Create):
            out.append(("create", action.session.uid, None))
        elif isinstance(action, Update):
            out.append(("update", action.session.uid, action.sequence))
        else:
            out.append(("delete", action.previous.uid, None))
    return out


MON = session()
MON_MOVED = session(day=date(2026, 12, 1))
MON_LIGHT = session(kind=SessionKind.LIGHT_LOWER)
PAST = session(slot="s1", day=date(2026, 11, 23))  # Monday of this week, over
PAST_MOVED = session(slot="s1", day=date(2026, 11, 24))
NOW_ON = session(slot="s2", day=date(2026, 11, 27), hour=7)  # 07:00-07:45 on Friday: in progress
FAR = session(slot="s1", day=date(2027, 3, 8))  # outside the window
REST = session(slot="rest", day=date(2026, 12, 6), kind=SessionKind.REST)

SCENARIOS = [
    ("create", [MON], [], [("create", MON.uid, None)]),
    ("unchanged", [MON], [owned(MON, sequence=3)], []),
    ("moved: updated in place", [MON_MOVED], [owned(MON, sequence=3)], [("update", MON.uid, 4)]),
    ("kind changed", [MON_LIGHT], [owned(MON)], [("update", MON.uid, 1)]),
    ("edited by a person: untouched", [MON_MOVED], [owned(MON, edited=True)], []),
    ("edited and no longer planned: untouched", [], [owned(MON, edited=True)], []),
    ("ended: untouched", [PAST_MOVED], [owned(PAST)], []),
    ("ended and no longer planned: untouched", [], [owned(PAST)], []),
    ("in progress: untouched", [], [owned(NOW_ON)], []),
    ("out of window and not planned: untouched", [], [owned(FAR)], []),
    ("in window and not planned: deleted", [], [owned(MON)], [("delete", MON.uid, None)]),
    ("fixed sessions make no action", [dataclasses.replace(MON, fixed=True)], [owned(MON)], []),
    ("no hash written: compare the event itself", [MON], [owned(MON, hashed=False)], []),
    ("rest day created", [REST], [], [("create", REST.uid, None)]),
    ("an ended session is not created", [PAST], [], []),
    (
        "ordered by start, then uid",
        [REST, MON_MOVED, session(slot="s2", day=date(2026, 12, 1))],
        [owned(MON)],
        [
            ("update", MON.uid, 1),
            ("create", session(slot="s2").uid, None),
            ("create", REST.uid, None),
        ],
    ),
]


@pytest.mark.parametrize(
    ("planned", "current", "expected"),
    [pytest.param(p, c, e, id=name) for name, p, c, e in SCENARIOS],
)
def test_reconcile_scenarios(
    planned: list[Session], current: list[OwnedEvent], expected: list[tuple[str, str, int | None]]
) -> None:
    actions = run(planned, current)
    assert summary(actions) == expected
    assert run(planned, applied(current, actions)) == []


def test_update_carries_the_previous_event() -> None:
    previous = owned(MON, sequence=2)
    (action,) = run([MON_MOVED], [previous])
    assert isinstance(action, Update)
    assert action.previous is previous
    assert action.session is MON_MOVED
    assert action.session.uid == previous.uid


def test_fixed_sessions_are_the_started_and_the_edited() -> None:
    current = [owned(MON), owned(dataclasses.replace(MON, slot="s2", uid="x"), edited=True)]
    current += [owned(PAST), owned(NOW_ON), owned(FAR)]
    fixed = fixed_sessions(current, now=NOW)
    assert [s.uid for s in fixed] == [PAST.uid, NOW_ON.uid, "x"]
    assert all(s.fixed for s in fixed)
    by_uid = {s.uid: s for s in fixed}
    assert by_uid["x"].slot == "s2"
    assert by_uid["x"].reasons[0].startswith("Kept where you put it")
    assert by_uid[PAST.uid].reasons == ("Kept: already done.",)
    assert by_uid[NOW_ON.uid].reasons == ("Kept: already started.",)
    assert by_uid[PAST.uid].start == PAST.start
    assert by_uid[PAST.uid].week == PAST.week


def test_owned_event_flags() -> None:
    assert not owned(MON).edited
    assert owned(MON, edited=True).edited
    assert not owned(MON, edited=True, hashed=False).edited
    assert owned(PAST).ended(NOW)
    assert not owned(NOW_ON).ended(NOW)
    assert owned(NOW_ON).started(NOW)
    rest_today = owned(session(slot="rest", day=date(2026, 11, 27), kind=SessionKind.REST))
    assert rest_today.started(NOW)
    assert not rest_today.ended(NOW)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        reconcile([], [], now=datetime(2026, 11, 27), window_start=WINDOW[0], window_end=WINDOW[1])


def test_describe_action_lines() -> None:
    create, update, delete = (
        Create(MON),
        Update(MON_MOVED, owned(MON), 1),
        Delete(owned(REST)),
    )
    assert describe_action(create) == (
        "create  heavy_lower  Mon 2026-11-30 06:00-06:45  "
        "Strength: heavy lower body — R8: 5 days before Long Run 30 km"
    )
    assert describe_action(update).startswith(
        "update  heavy_lower  Mon 2026-11-30 06:00-06:45 -> Tue 2026-12-01 06:00-06:45  "
    )
    assert describe_action(delete) == "delete  rest         Sun 2026-12-06 all day  Rest day"
    assert "heavy_lower -> light_lower" in describe_action(Update(MON_LIGHT, owned(MON), 1))


# property tests ------------------------------------------------------------------------------

KINDS = list(SessionKind)


@st.composite
def sessions(draw: st.DrawFn, index: int) -> Session:
    kind = draw(st.sampled_from(KINDS))
    day = NOW.date() + timedelta(days=draw(st.integers(-12, 110)))
    hour = draw(st.integers(5, 20))
    minutes = draw(st.sampled_from([20, 45, 60]))
    s = session(slot=f"s{index}", day=day, hour=hour, kind=kind, minutes=minutes)
    return dataclasses.replace(s, uid=f"calsync-me-{index}")


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Session], list[OwnedEvent]]:
    planned_ids = draw(st.sets(st.integers(0, 15), max_size=10))
    owned_ids = draw(st.sets(st.integers(0, 15), max_size=10))
    planned = [draw(sessions(i)) for i in sorted(planned_ids)]
    planned = [dataclasses.replace(s, fixed=draw(st.booleans()) and draw(st.booleans())) for s in planned]
    current = []
    for i in sorted(owned_ids):
        same_as_planned = i in planned_ids and draw(st.booleans())
        base = (
            next(s for s in planned if s.uid == f"calsync-me-{i}") if same_as_planned else draw(sessions(i))
        )
        current.append(
            owned(
                base,
                sequence=draw(st.integers(0, 5)),
                edited=draw(st.booleans()) and draw(st.booleans()),
                hashed=draw(st.integers(0, 9)) > 0,
            )
        )
    order = draw(st.permutations(range(len(current))))
    return planned, [current[i] for i in order]


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_second_pass_has_no_actions(world: tuple[list[Session], list[OwnedEvent]]) -> None:
    planned, current = world
    actions = run(planned, current)
    assert run(planned, applied(current, actions)) == []


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_started_ended_and_edited_events_are_never_touched(
    world: tuple[list[Session], list[OwnedEvent]],
) -> None:
    planned, current = world
    for action in run(planned, current):
        if isinstance(action, Update | Delete):
            previous = action.previous
            assert not previous.edited
            assert not previous.ended(NOW)
            # a timed session under way is never touched; today's (all-day) rest day may still move
            assert not (previous.started(NOW) and isinstance(previous.start, datetime))
        if isinstance(action, Update):
            assert action.sequence == action.previous.sequence + 1
            assert action.session.uid == action.previous.uid
        if isinstance(action, Delete):
            assert WINDOW[0] <= first_day(action.previous.start) < WINDOW[1]
        if isinstance(action, Create | Update):
            assert not action.session.fixed


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_actions_do_not_depend_on_input_order(world: tuple[list[Session], list[OwnedEvent]]) -> None:
    planned, current = world
    assert run(planned, current) == run(planned[::-1], current[::-1])
