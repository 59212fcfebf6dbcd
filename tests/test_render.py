"""Render: the description text and the fingerprint of what calsync writes."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from calsync.core.model import Exercise, Session, SessionKind
from calsync.core.render import FOOTER, describe, fingerprint, session_fingerprint

BERLIN = ZoneInfo("Europe/Berlin")


def heavy() -> Session:
    return Session(
        uid="calsync-me-2026W49-s1",
        kind=SessionKind.HEAVY_LOWER,
        title="Strength: heavy lower body",
        start=datetime(2026, 11, 30, 6, 0, tzinfo=BERLIN),
        end=datetime(2026, 11, 30, 6, 45, tzinfo=BERLIN),
        week="2026-W49",
        slot="s1",
        muscle_groups=("lower", "core"),
        reasons=("R8: 5 days before Long Run 30 km", "R13: lift first, the run is at 07:00."),
        exercises=(Exercise("Back squat", "4 x 5"), Exercise("Single-leg calf raise", "3 x 12")),
        load="heavy",
    )


def rest() -> Session:
    return Session(
        uid="calsync-me-2026W49-rest",
        kind=SessionKind.REST,
        title="Rest day",
        start=date(2026, 12, 6),
        end=date(2026, 12, 7),
        week="2026-W49",
        slot="rest",
        reasons=("R14: the day after Long Run 30 km",),
    )


def test_describe_lists_exercises_minutes_and_why_here() -> None:
    text = describe(heavy())
    lines = text.splitlines()
    assert lines[0].startswith("45 minutes, heavy load")
    first = lines.index("- Back squat: 4 x 5")
    assert lines[first + 1] == "- Single-leg calf raise: 3 x 12"
    why = next(line for line in lines if line.startswith("Why here:"))
    assert why == "Why here: R8: 5 days before Long Run 30 km. R13: lift first, the run is at 07:00."
    assert text.index("45 minutes") < text.index("- Back squat") < text.index("Why here:")
    assert text.endswith(FOOTER)


def test_describe_gives_the_warm_up_effort_and_no_gym_alternative() -> None:
    session = replace(
        heavy(),
        warmup="5 min: leg swings, 10 bodyweight squats",
        effort="RPE 8: 2 reps in reserve",
        alternative="backpack squats and single-leg calf raises",
    )
    text = describe(session)
    assert "Warm-up: 5 min: leg swings" in text
    assert "Effort: RPE 8: 2 reps in reserve." in text
    assert "No gym: backpack squats and single-leg calf raises." in text
    assert text.index("Warm-up") < text.index("- Back squat") < text.index("Effort:") < text.index("No gym:")


def test_describe_is_true_in_a_read_only_feed() -> None:
    """The same words go to every target: nothing about moving the event (a subscribed feed is
    read-only), and the rule ids stay out of the text when the reasons are plain sentences."""
    text = describe(replace(heavy(), reasons=("Heavy legs today, 5 days before Saturday's long run.",)))
    assert "move" not in text.lower()
    assert not re.search(r"\bR\d+\b", text)


def test_describe_rest_day_says_what_rest_means() -> None:
    text = describe(rest())
    assert "no run" in text
    assert "no strength" in text
    assert "Why here: R14: the day after Long Run 30 km." in text
    assert "minutes" not in text


def test_describe_without_reasons_has_no_why_here() -> None:
    session = Session(
        uid="u",
        kind=SessionKind.CORE,
        title="Core",
        start=heavy().start,
        end=heavy().end,
        week="w",
        slot="s1",
    )
    assert "Why here" not in describe(session)


def test_fingerprint_is_short_hex_and_stable() -> None:
    session = heavy()
    value = session_fingerprint(session)
    assert re.fullmatch(r"[0-9a-f]{16}", value)
    assert value == session_fingerprint(heavy())
    assert value == fingerprint(session.kind, session.title, describe(session), session.start, session.end)
    assert value == fingerprint("heavy_lower", session.title, describe(session), session.start, session.end)


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "light_lower"},
        {"title": "Strength: light lower body"},
        {"description": "something else"},
        {"start": datetime(2026, 11, 30, 6, 15, tzinfo=BERLIN)},
        {"end": datetime(2026, 11, 30, 7, 0, tzinfo=BERLIN)},
        {"start": datetime(2026, 11, 30, 6, 0, tzinfo=ZoneInfo("UTC"))},
        {"start": datetime(2026, 11, 30, 6, 0)},
    ],
)
def test_fingerprint_changes_with_every_field(change: dict[str, object]) -> None:
    base: dict[str, object] = {
        "kind": "heavy_lower",
        "title": "Strength: heavy lower body",
        "description": "text",
        "start": datetime(2026, 11, 30, 6, 0, tzinfo=BERLIN),
        "end": datetime(2026, 11, 30, 6, 45, tzinfo=BERLIN),
    }
    assert fingerprint(**base) != fingerprint(**(base | change))  # type: ignore[arg-type]


def test_fingerprint_uses_only_what_survives_an_ics_file() -> None:
    start = datetime(2026, 11, 30, 6, 0, tzinfo=BERLIN)
    end = datetime(2026, 11, 30, 7, 0, tzinfo=BERLIN)
    assert fingerprint("core", "T", "a\r\nb", start, end) == fingerprint("core", "T", "a\nb", start, end)
    assert fingerprint("core", "T", "d", start.replace(microsecond=5), end) == fingerprint(
        "core", "T", "d", start, end
    )
    # all-day dates and midnight date-times are different events
    assert fingerprint("rest", "R", "d", date(2026, 12, 6), date(2026, 12, 7)) != fingerprint(
        "rest",
        "R",
        "d",
        datetime(2026, 12, 6, tzinfo=BERLIN),
        datetime(2026, 12, 7, tzinfo=BERLIN),
    )
