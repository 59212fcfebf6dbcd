"""The UID scheme: made and read in one place, stable across releases (deployed sessions have it)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from calsync.core.identity import (
    SessionId,
    is_session_uid,
    parse_session_uid,
    run_copy_uid,
    session_uid,
    week_prefix,
)

PLAN_IDS = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
WEEKS = st.builds(lambda y, w: f"{y:04d}-W{w:02d}", st.integers(1900, 2200), st.integers(1, 53))
SLOTS = st.sampled_from(("s1", "s2", "s3", "s4", "s5", "rest", "rest2", "bw"))


def test_the_scheme_is_pinned() -> None:
    """Every deployed session carries this exact form; changing it orphans them all."""
    assert session_uid("me", "2026-W49", "s1") == "calsync-me-2026W49-s1"
    assert session_uid("trail-2027", "2027-W03", "rest") == "calsync-trail-2027-2027W03-rest"
    assert (
        run_copy_uid("me", "run-1@coach", None)
        == "calsync-run-me-" + run_copy_uid("me", "run-1@coach", "")[15:]
    )
    assert run_copy_uid("me", "run-1@coach", None) != run_copy_uid("you", "run-1@coach", None)


@given(PLAN_IDS, WEEKS, SLOTS)
def test_a_made_uid_reads_back(plan_id: str, week: str, slot: str) -> None:
    uid = session_uid(plan_id, week, slot)
    assert parse_session_uid(uid) == SessionId(plan_id, week, slot)
    assert is_session_uid(uid)
    assert is_session_uid(uid, plan_id)
    assert not is_session_uid(uid, plan_id + "x")
    assert uid.startswith(week_prefix(plan_id, week))


def test_foreign_and_run_copy_uids_are_not_sessions() -> None:
    for uid in (
        "",
        "040000008200E00074C5B7101A82E008",
        "calsync-me-2026W49",
        "calsync-me-2026-W49-s1",
        "calsync-me-26W49-s1",
        "x-calsync-me-2026W49-s1",
        run_copy_uid("me", "a", None),
    ):
        assert parse_session_uid(uid) is None, uid
        assert not is_session_uid(uid), uid
