"""Tests for calsync.output: the JSON contract of PRODUCT.md section 5 and the table view."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from calsync.model import (
    Exercise,
    Phase,
    PlanResult,
    PlanWarning,
    Run,
    RunKind,
    Session,
    SessionKind,
    WeekPlan,
)
from calsync.output import dumps_plan_json, plan_json, plan_table

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 27, 7, 30, tzinfo=BERLIN)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall time in Berlin."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=BERLIN)


MON = date(2026, 11, 30)
TUE, WED, THU, FRI, SAT, SUN = (MON + timedelta(days=k) for k in range(1, 7))

INTERVALS = Run("tue-intervals@example", "Run: Intervals 6x800m", RunKind.QUALITY, at(TUE, 18), at(TUE, 19))
TEMPO = Run(
    "thu-tempo@example",
    "Run: Tempo 45 min",
    RunKind.QUALITY,
    at(THU, 18),
    at(THU, 18, 45),
    minutes=45,
    recurrence_id="2026-12-03T18:00:00+01:00",
)
LONG = Run("long-24@example", "Long Run 24 km", RunKind.LONG, SAT, date(2026, 12, 6), distance_km=24)
EASY = Run("sun-easy@example", "Run: Easy Run 45 min", RunKind.EASY, at(SUN, 9), at(SUN, 9, 45), minutes=45)
RACE = Run(
    "race-a@example",
    "Race: Costa Brava Ultra Trail 100K (A)",
    RunKind.RACE,
    date(2027, 4, 17),
    date(2027, 4, 18),
    distance_km=100.0,
    priority="A",
)

HEAVY = Session(
    "calsync-example-2026-W49-s1",
    SessionKind.HEAVY_LOWER,
    "Strength: heavy lower body",
    # given in UTC: the JSON must show it in the plan's zone
    datetime(2026, 11, 30, 5, 0, tzinfo=UTC),
    datetime(2026, 11, 30, 5, 50, tzinfo=UTC),
    "2026-W49",
    "s1",
    muscle_groups=("lower", "core"),
    reasons=("R8: 5 days before Long Run 24 km",),
    exercises=(Exercise("Back squat", "4 x 5"), Exercise("Side plank", "3 x 30 s")),
    load="heavy",
)
LIGHT = Session(
    "calsync-example-2026-W49-s2",
    SessionKind.LIGHT_LOWER,
    "Strength: light lower body + core",
    at(THU, 6),
    at(THU, 6, 30),
    "2026-W49",
    "s2",
    muscle_groups=("lower", "core"),
    reasons=("R9: 2 days before Long Run 24 km",),
    load="light",
)
REST = Session(
    "calsync-example-2026-W49-rest",
    SessionKind.REST,
    "Rest day",
    FRI,
    SAT,
    "2026-W49",
    "rest",
    reasons=("R14: the day before the long run",),
)
WEEK = WeekPlan(
    "2026-W49",
    MON,
    Phase.BUILD,
    run_minutes=303,
    rest_day=FRI,
    strength_minutes=80,
    peak_fraction=303 / 489,
)


def make_result(**changes: Any) -> PlanResult:
    """A hand-made, valid week (runs deliberately out of order)."""
    fields: dict[str, Any] = {
        "plan_id": "example",
        "timezone": "Europe/Berlin",
        "runs": (RACE, LONG, INTERVALS, TEMPO, EASY),
        "weeks": (WEEK,),
        "sessions": (REST, HEAVY, LIGHT),
        "warnings": (
            PlanWarning(
                "LIGHT_LOWER_ONLY", "no day fits heavy lower body 72 h before the long run", "2026-W49"
            ),
            PlanWarning("SKIPPED_EVENT", "skipped 'Yoga' from example-plan.ics: it has no start"),
        ),
    }
    fields.update(changes)
    return PlanResult(**fields)


def run_plan_check(path: Path, doc: dict[str, Any], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run shared/checks/plan_check.py on a JSON document."""
    file = tmp_path / "plan.json"
    file.write_text(json.dumps(doc), encoding="utf-8")
    return subprocess.run(
        [sys.executable, str(path), str(file)], capture_output=True, text=True, timeout=60, check=False
    )


# ---- JSON -------------------------------------------------------------------------------------


def test_json_top_level_and_plan_keys_in_contract_order() -> None:
    doc = plan_json([make_result()], generated_at=NOW)
    assert list(doc) == ["plans", "generated_at"]
    assert doc["generated_at"] == "2026-11-27T07:30:00+01:00"
    (plan,) = doc["plans"]
    assert list(plan) == ["id", "timezone", "runs", "weeks", "sessions", "warnings"]
    assert plan["id"] == "example"
    assert plan["timezone"] == "Europe/Berlin"


def test_json_runs_sorted_timed_and_all_day() -> None:
    (plan,) = plan_json([make_result()], generated_at=NOW)["plans"]
    assert [r["uid"] for r in plan["runs"]] == [
        "tue-intervals@example",
        "thu-tempo@example",
        "long-24@example",
        "sun-easy@example",
        "race-a@example",
    ]
    intervals, tempo, long_run, _easy, race = plan["runs"]
    assert list(intervals)[:9] == [
        "uid",
        "title",
        "kind",
        "priority",
        "start",
        "end",
        "all_day",
        "distance_km",
        "minutes",
    ]
    assert intervals == {
        "uid": "tue-intervals@example",
        "title": "Run: Intervals 6x800m",
        "kind": "quality",
        "priority": None,
        "start": "2026-12-01T18:00:00+01:00",
        "end": "2026-12-01T19:00:00+01:00",
        "all_day": False,
        "distance_km": None,
        "minutes": None,
        "recurrence_id": None,
    }
    assert tempo["recurrence_id"] == "2026-12-03T18:00:00+01:00"
    # all-day: dates, end exclusive; distance always a float
    assert long_run["start"] == "2026-12-05"
    assert long_run["end"] == "2026-12-06"
    assert long_run["all_day"] is True
    assert long_run["distance_km"] == 24.0
    assert isinstance(long_run["distance_km"], float)
    assert long_run["minutes"] is None
    assert race["kind"] == "race"
    assert race["priority"] == "A"
    assert (race["start"], race["end"]) == ("2027-04-17", "2027-04-18")


def test_json_weeks() -> None:
    (plan,) = plan_json([make_result()], generated_at=NOW)["plans"]
    assert plan["weeks"] == [
        {
            "week": "2026-W49",
            "start": "2026-11-30",
            "phase": "build",
            "run_minutes": 303,
            "rest_day": "2026-12-04",
            "strength_minutes": 80,
            "strength_target_minutes": 0,
            "peak_fraction": 0.62,
        }
    ]


def test_json_sessions_in_plan_zone() -> None:
    (plan,) = plan_json([make_result()], generated_at=NOW)["plans"]
    heavy, light, rest = plan["sessions"]
    assert list(heavy)[:9] == [
        "uid",
        "kind",
        "title",
        "start",
        "end",
        "all_day",
        "week",
        "muscle_groups",
        "reasons",
    ]
    assert heavy["start"] == "2026-11-30T06:00:00+01:00"  # 05:00 UTC
    assert heavy["end"] == "2026-11-30T06:50:00+01:00"
    assert heavy["all_day"] is False
    assert heavy["week"] == "2026-W49"
    assert heavy["muscle_groups"] == ["lower", "core"]
    assert heavy["reasons"] == ["R8: 5 days before Long Run 24 km"]
    assert heavy["minutes"] == 50
    assert heavy["load"] == "heavy"
    assert heavy["fixed"] is False
    assert heavy["exercises"] == [
        {"name": "Back squat", "prescription": "4 x 5"},
        {"name": "Side plank", "prescription": "3 x 30 s"},
    ]
    assert light["kind"] == "light_lower"
    assert rest["kind"] == "rest"
    assert rest["all_day"] is True
    assert (rest["start"], rest["end"]) == ("2026-12-04", "2026-12-05")
    assert rest["minutes"] == 0
    assert rest["exercises"] == []


def test_json_warnings() -> None:
    (plan,) = plan_json([make_result()], generated_at=NOW)["plans"]
    assert plan["warnings"] == [
        {
            "code": "LIGHT_LOWER_ONLY",
            "week": "2026-W49",
            "message": "no day fits heavy lower body 72 h before the long run",
        },
        {
            "code": "SKIPPED_EVENT",
            "week": None,
            "message": "skipped 'Yoga' from example-plan.ics: it has no start",
        },
    ]


def test_json_summer_time_offset_and_naive_time_as_wall_time() -> None:
    summer = Run(
        "taper@example",
        "Run: Tempo 30 min",
        RunKind.QUALITY,
        datetime(2027, 4, 1, 16, 0, tzinfo=UTC),
        datetime(2027, 4, 1, 18, 30),  # naive: floating, read in the plan's zone
        minutes=30,
    )
    result = make_result(runs=(summer,), weeks=(), sessions=(), warnings=())
    (plan,) = plan_json([result], generated_at=NOW)["plans"]
    assert plan["runs"][0]["start"] == "2027-04-01T18:00:00+02:00"
    assert plan["runs"][0]["end"] == "2027-04-01T18:30:00+02:00"


def test_json_other_zone_and_several_plans() -> None:
    other = make_result(plan_id="ny", timezone="America/New_York", runs=(INTERVALS,), weeks=(), sessions=())
    doc = plan_json([make_result(), other], generated_at=NOW)
    assert [p["id"] for p in doc["plans"]] == ["example", "ny"]
    assert doc["plans"][1]["runs"][0]["start"] == "2026-12-01T12:00:00-05:00"


def test_json_empty() -> None:
    empty = make_result(runs=(), weeks=(), sessions=(), warnings=())
    assert plan_json([empty], generated_at=NOW)["plans"] == [
        {
            "id": "example",
            "timezone": "Europe/Berlin",
            "runs": [],
            "weeks": [],
            "sessions": [],
            "warnings": [],
        }
    ]
    assert plan_json([], generated_at=NOW) == {"plans": [], "generated_at": "2026-11-27T07:30:00+01:00"}


def test_json_needs_aware_generated_at() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_json([make_result()], generated_at=datetime(2026, 11, 27, 7, 30))


def test_dumps_round_trips_and_keeps_unicode() -> None:
    result = make_result(warnings=(PlanWarning("SKIPPED_EVENT", "skipped 'Läufertreff 🏃'"),))
    text = dumps_plan_json([result], generated_at=NOW)
    assert "Läufertreff 🏃" in text
    assert "\n" not in text, "compact by default: one line for tools"
    assert json.loads(text) == plan_json([result], generated_at=NOW)
    indented = dumps_plan_json([result], generated_at=NOW, indent=2)
    assert indented.startswith('{\n  "plans": [')
    assert json.loads(indented) == json.loads(text)


def test_plan_check_accepts_a_valid_plan(plan_check_path: Path, tmp_path: Path) -> None:
    proc = run_plan_check(plan_check_path, plan_json([make_result()], generated_at=NOW), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 hard findings" in proc.stdout


def test_plan_check_rejects_a_broken_contract(plan_check_path: Path, tmp_path: Path) -> None:
    doc = plan_json([make_result()], generated_at=NOW)
    plan = doc["plans"][0]
    del plan["runs"][0]["minutes"]
    plan["sessions"][0]["start"] = "2026-11-30T06:00:00"  # no offset
    plan["sessions"][0]["end"] = "2026-11-30T06:50:00"
    proc = run_plan_check(plan_check_path, doc, tmp_path)
    assert proc.returncode == 1
    assert "HARD contract" in proc.stdout
    assert "key 'minutes' missing" in proc.stdout
    assert "has no UTC offset" in proc.stdout


def test_plan_check_rejects_a_broken_rule(plan_check_path: Path, tmp_path: Path) -> None:
    rest_on_long_run = Session(REST.uid, SessionKind.REST, "Rest day", SAT, SUN, "2026-W49", "rest")
    result = make_result(sessions=(HEAVY, LIGHT, rest_on_long_run))
    proc = run_plan_check(plan_check_path, plan_json([result], generated_at=NOW), tmp_path)
    assert proc.returncode == 1
    assert "HARD R14" in proc.stdout


# ---- table ------------------------------------------------------------------------------------


def table_lines(result: PlanResult) -> list[str]:
    return plan_table([result], now=NOW).splitlines()


def test_table_header_and_week_line() -> None:
    lines = table_lines(make_result())
    assert lines[0] == "Plan example  (Europe/Berlin)"
    assert lines[1] == "A race: Race: Costa Brava Ultra Trail 100K (A)  Sat 17 Apr 2027  (141 days to go)"
    assert (
        "2026-W49  Mon 30 Nov – Sun 6 Dec  build  5h03 run  (62% of peak)  strength 2: 50 + 30 min" in lines
    )


def test_table_day_lines() -> None:
    text = plan_table([make_result()], now=NOW)
    lines = text.splitlines()
    start = lines.index(
        "2026-W49  Mon 30 Nov – Sun 6 Dec  build  5h03 run  (62% of peak)  strength 2: 50 + 30 min"
    )
    body = lines[start + 1 : start + 11]
    assert body[0].startswith("  Mon 30 Nov  06:00–06:50  Strength: heavy lower body")
    assert body[0].endswith("heavy_lower  heavy  50 min")
    assert body[1].startswith("  Tue  1 Dec  18:00–19:00  Run: Intervals 6x800m")
    assert body[1].endswith("quality  60 min")  # no stated minutes: the timed length
    assert body[2] == "  Wed  2 Dec  –"
    # two items on Thursday: the session (06:00) before the run (18:00), the second one indented
    assert body[3].startswith("  Thu  3 Dec  06:00–06:30  Strength: light lower body + core")
    assert body[4].startswith("              18:00–18:45  Run: Tempo 45 min")
    assert body[5] == "  Fri  4 Dec  REST"
    assert body[6].startswith("  Sat  5 Dec  all day      Long Run 24 km")
    assert body[6].endswith("long  24 km")
    assert body[7].startswith("  Sun  6 Dec  09:00–09:45  Run: Easy Run 45 min")
    assert body[8] == "  ! LIGHT_LOWER_ONLY: no day fits heavy lower body 72 h before the long run"
    assert body[9] == ""
    # columns line up: titles start at column 27, details at the same column after them
    items = [body[0], body[1], body[3], body[4], body[6], body[7]]
    assert {line[27:].split("  ")[0] for line in items} == {
        "Strength: heavy lower body",
        "Run: Intervals 6x800m",
        "Strength: light lower body + core",
        "Run: Tempo 45 min",
        "Long Run 24 km",
        "Run: Easy Run 45 min",
    }
    width = len("Strength: light lower body + core")
    assert {line[27 + width : 27 + width + 2] for line in items} == {"  "}
    assert all(line[27 + width + 2] != " " for line in items)


def test_table_plan_level_warnings_at_the_end() -> None:
    lines = table_lines(make_result())
    assert lines[-3:] == [
        "",
        "Warnings:",
        "  ! SKIPPED_EVENT: skipped 'Yoga' from example-plan.ics: it has no start",
    ]
    assert "(1 run outside the planned weeks not shown)" in lines


def test_table_converts_times_to_the_plan_zone() -> None:
    # the heavy session is stored in UTC (05:00) and must read 06:00 in Berlin
    assert any(line.startswith("  Mon 30 Nov  06:00–06:50") for line in table_lines(make_result()))


def test_table_race_day_and_multi_day_race() -> None:
    hundred = Run(
        "race-100mi@example",
        "Race: Alpine 100 Miles (A)",
        RunKind.RACE,
        at(SAT, 6),
        at(SUN, 14),
        distance_km=161,
        priority="A",
    )
    week = WeekPlan("2026-W49", MON, Phase.RACE, 1920, MON, 0, 1.0)
    lines = table_lines(make_result(runs=(hundred,), weeks=(week,), sessions=(), warnings=()))
    assert lines[1] == "A race: Race: Alpine 100 Miles (A)  Sat 5 Dec 2026  (8 days to go)"
    sat = next(line for line in lines if line.startswith("  Sat  5 Dec"))
    assert sat.endswith("race A  161 km  32h00  until Sun 6 Dec")
    assert "  Mon 30 Nov  REST" in lines
    assert "2026-W49  Mon 30 Nov – Sun 6 Dec  race  32h00 run  (100% of peak)  no strength" in lines


def test_table_empty_results_do_not_crash() -> None:
    empty = make_result(runs=(), weeks=(), sessions=(), warnings=())
    assert plan_table([empty], now=NOW) == (
        "Plan example  (Europe/Berlin)\nA race: none in the plan\nNo weeks planned: no runs in the horizon.\n"
    )
    assert plan_table([], now=NOW) == "No plans.\n"


def test_table_several_plans_and_naive_now() -> None:
    text = plan_table([make_result(), make_result(plan_id="second")], now=datetime(2026, 11, 27, 7, 30))
    assert "Plan example  (Europe/Berlin)" in text
    assert "\n\n\nPlan second  (Europe/Berlin)\n" in text
