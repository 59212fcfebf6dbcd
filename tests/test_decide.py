"""The pass's decisions, pure: the delete guards, a person's deletions, what the state records."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

import support
from calsync.core.decide import Written, dismissed_sessions, guard_deletes, records_after
from calsync.core.model import SessionKind
from calsync.core.reconcile import Action, Create, Delete, OwnedEvent, Update
from calsync.core.render import session_fingerprint
from calsync.errors import TargetError

NOW = datetime(2026, 11, 27, 7, 30, tzinfo=support.BERLIN)
MONDAY = date(2026, 11, 30)


def owned(day_offset: int, slot: str = "s1", *, copy_of: OwnedEvent | None = None) -> OwnedEvent:
    """An owned, unedited session ``day_offset`` days after MONDAY (negative: in the past)."""
    session = support.session(MONDAY + timedelta(days=day_offset), slot)
    fingerprint = session_fingerprint(session)
    return OwnedEvent(
        session.uid,
        "me",
        SessionKind.HEAVY_LOWER,
        session.week,
        slot,
        session.title,
        session.start,
        session.end,
        0,
        fingerprint,
        fingerprint,
        href=f"/cal/{session.uid}.ics",
        etag=f'"{day_offset}"',
    )


def written(event: OwnedEvent, *, dismissed: bool = False) -> Written:
    assert isinstance(event.end, datetime)
    return Written(event.uid, event.href, event.etag, event.current_hash, event.end.isoformat(), dismissed)


FUTURE = [owned(7 * week, "s1") for week in range(12)] + [owned(7 * week + 3, "s2") for week in range(12)]


@pytest.mark.parametrize(
    ("deletes", "empty", "has_runs", "force", "outcome"),
    [
        (3, [], True, False, "kept"),  # an ordinary pass
        (3, ["training"], True, False, "held"),  # the source came back empty
        (3, [], False, False, "held"),  # no runs in the window
        (11, [], True, False, "kept"),  # 11 of 24: not more than half
        (13, [], True, False, "stopped"),  # 13 of 24, more than 10: a mass delete
        (13, [], True, True, "kept"),  # unless forced
        (9, [], True, False, "kept"),  # more than half of a small plan would be fine: <= 10
    ],
)
def test_the_delete_guards(deletes: int, empty: list[str], has_runs: bool, force: bool, outcome: str) -> None:
    actions: list[Action] = [Delete(event) for event in FUTURE[:deletes]]
    actions.append(Create(support.session(MONDAY, "s3")))
    if outcome == "stopped":
        with pytest.raises(TargetError, match="rebuild --force"):
            guard_deletes(actions, FUTURE, empty, now=NOW, force=force, has_runs=has_runs)
        _, notes = guard_deletes(
            actions, FUTURE, empty, now=NOW, force=force, has_runs=has_runs, dry_run=True
        )
        assert "stopped to be safe" in notes[0]
        return
    kept, notes = guard_deletes(actions, FUTURE, empty, now=NOW, force=force, has_runs=has_runs)
    if outcome == "held":
        assert kept == [actions[-1]], "every delete held back, the create kept"
        assert "nothing deleted" in notes[0]
    else:
        assert kept == actions
        assert notes == []


def test_duplicate_copies_are_deleted_even_when_deletes_are_held() -> None:
    copy = Delete(FUTURE[0], duplicate=True)
    kept, _ = guard_deletes([copy, Delete(FUTURE[1])], FUTURE, ["training"], now=NOW, force=False)
    assert kept == [copy]


def test_a_missing_future_session_is_a_persons_deletion() -> None:
    known = {e.uid: written(e) for e in FUTURE[:5]}
    present = FUTURE[1:5]
    dismissed, notes = dismissed_sessions(known, present, now=NOW)
    assert dismissed == {FUTURE[0].uid}
    assert "1 session(s) deleted in the target" in notes[0]


def test_a_past_session_gone_is_history_not_a_deletion() -> None:
    past = owned(-10)
    dismissed, notes = dismissed_sessions({past.uid: written(past)}, [], now=NOW)
    assert dismissed == set()
    assert notes == []


@pytest.mark.parametrize(("known", "wiped"), [(2, False), (3, True), (8, True)])
def test_a_target_that_lost_every_session_is_written_again(known: int, wiped: bool) -> None:
    """More than WIPED_MINIMUM (2) sessions all gone: a new or emptied calendar, not a person."""
    records = {e.uid: written(e) for e in FUTURE[:known]}
    earlier = owned(60, "s4")
    records[earlier.uid] = written(earlier, dismissed=True)
    dismissed, notes = dismissed_sessions(records, [], now=NOW)
    if wiped:
        assert dismissed == {earlier.uid}, "only what a person deleted before stays dismissed"
        assert "writing them again" in notes[0]
    else:
        assert dismissed == {earlier.uid, *(e.uid for e in FUTURE[:known])}


def test_what_the_state_records_after_the_writes() -> None:
    kept, gone, edited = FUTURE[0], FUTURE[1], FUTURE[2]
    new = support.session(MONDAY + timedelta(days=1), "s3")
    moved = support.session(MONDAY + timedelta(days=15), edited.slot, hour=7)
    assert moved.uid == edited.uid
    before = {e.uid: written(e) for e in (kept, gone, edited)}
    old = owned(50, "s5")
    before[old.uid] = written(old, dismissed=True)
    done: list[tuple[Action, tuple[str, str]]] = [
        (Delete(gone), ("", "")),
        (Create(new), ("/cal/new.ics", '"n1"')),
        (Update(moved, edited, 1), ("/cal/moved.ics", '"m2"')),
    ]
    records, forget = records_after(
        [kept, gone, edited], done, known=before, dismissed={old.uid}, zone=support.BERLIN
    )
    by_uid = {r.uid: r for r in records}
    assert forget == [gone.uid]
    assert set(by_uid) == {kept.uid, new.uid, edited.uid, old.uid}
    assert by_uid[kept.uid] == written(kept)
    assert (by_uid[new.uid].href, by_uid[new.uid].etag, by_uid[new.uid].hash) == (
        "/cal/new.ics",
        '"n1"',
        session_fingerprint(new),
    )
    assert by_uid[edited.uid].hash == session_fingerprint(moved)
    assert by_uid[old.uid].dismissed
