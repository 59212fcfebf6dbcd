"""Tests for calsync.output: the JSON contract of PRODUCT.md section 5 and the table view."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from calsync.core.model import (
    Busy,
    Exercise,
    Phase,
    PlanResult,
    PlanWarning,
    Run,
    RunKind,
    Session,
    SessionKind,
    WarningCode,
    WeekPlan,
    run_key,
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
    reasons=("Heavy legs today: 5 days before Saturday's 24 km long run, so they are fresh for it",),
    exercises=(Exercise("Back squat", "4 x 5"), Exercise("Side plank", "3 x 30 s")),
    load="heavy",
    rules=("R8", "R5"),
    effort="RPE 8: 2 reps left in the tank",
    warmup="5 min: leg swings, glute bridges, bodyweight squats",
    alternative="No gym: Bulgarian split squats with a loaded backpack",
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
    reasons=("Light legs two days before Saturday's long run",),
    load="light",
    rules=("R9",),
)
REST = Session(
    "calsync-example-2026-W49-rest",
    SessionKind.REST,
    "Rest day",
    FRI,
    SAT,
    "2026-W49",
    "rest",
    reasons=("A full rest day the day before the long run",),
    rules=("R14",),
)
WEEK = WeekPlan(
    "2026-W49",
    MON,
    Phase.BUILD,
    run_minutes=303,
    rest_day=FRI,
    strength_minutes=80,
    peak_fraction=303 / 489,
    load="heavy",
)
RUN_MINUTES = {
    # what calsync counts for the training runs (the race is not counted): 303 in all
    run_key(INTERVALS): 60,
    run_key(TEMPO): 45,
    run_key(LONG): 153,
    run_key(EASY): 45,
}


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
                WarningCode.STRENGTH_NOT_PLACED,
                "no day fits heavy lower body 72 h before the long run",
                "2026-W49",
            ),
            PlanWarning(WarningCode.SKIPPED_EVENT, "skipped 'Yoga' from example-plan.ics: it has no start"),
        ),
        "run_minutes": dict(RUN_MINUTES),
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
    assert list(plan) == ["id", "timezone", "runs", "weeks", "sessions", "warnings", "unit"]
    assert plan["id"] == "example"
    assert plan["timezone"] == "Europe/Berlin"
    assert plan["unit"] == "km"


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
        "minutes": 60,  # the minutes calsync counts, not only stated ones
        "recurrence_id": None,
        "unit": "km",
    }
    assert tempo["recurrence_id"] == "2026-12-03T18:00:00+01:00"
    assert tempo["minutes"] == 45  # found by its occurrence key
    # all-day: dates, end exclusive; distance always a float
    assert long_run["start"] == "2026-12-05"
    assert long_run["end"] == "2026-12-06"
    assert long_run["all_day"] is True
    assert long_run["distance_km"] == 24.0
    assert isinstance(long_run["distance_km"], float)
    assert long_run["minutes"] == 153
    assert race["kind"] == "race"
    assert race["minutes"] is None  # not counted, no stated duration
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
            "cutback": False,
            "load": "heavy",
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
    assert heavy["reasons"] == [
        "Heavy legs today: 5 days before Saturday's 24 km long run, so they are fresh for it"
    ]
    assert heavy["rules"] == ["R8", "R5"]
    assert heavy["effort"] == "RPE 8: 2 reps left in the tank"
    assert heavy["warmup"] == "5 min: leg swings, glute bridges, bodyweight squats"
    assert heavy["alternative"] == "No gym: Bulgarian split squats with a loaded backpack"
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
    assert rest["rules"] == ["R14"]
    assert (rest["effort"], rest["warmup"], rest["alternative"]) == ("", "", "")


def test_json_warnings() -> None:
    (plan,) = plan_json([make_result()], generated_at=NOW)["plans"]
    assert plan["warnings"] == [
        {
            "code": "STRENGTH_NOT_PLACED",
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
            "unit": "km",
        }
    ]
    assert plan_json([], generated_at=NOW) == {"plans": [], "generated_at": "2026-11-27T07:30:00+01:00"}


def test_json_needs_aware_generated_at() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_json([make_result()], generated_at=datetime(2026, 11, 27, 7, 30))


def test_dumps_round_trips_and_keeps_unicode() -> None:
    result = make_result(warnings=(PlanWarning(WarningCode.SKIPPED_EVENT, "skipped 'Läufertreff 🏃'"),))
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


def test_json_counted_minutes_stated_race_minutes_and_units() -> None:
    miles = Run(
        "long-18mi@example",
        "Long Run 18 mi",
        RunKind.LONG,
        at(SAT, 7),
        at(SAT, 10),  # a typed 3-hour block: a placeholder, not the minutes counted
        distance_km=18 * 1.609344,
        unit="mi",
    )
    half = Run(
        "half@example",
        "Race: City Half 1:45",
        RunKind.RACE,
        at(SUN, 9),
        at(SUN, 11),
        distance_km=21.0975,
        minutes=105,
        priority="B",
        unit="mi",
    )
    result = make_result(runs=(miles, half), unit="mi", run_minutes={run_key(miles): 170})
    (plan,) = plan_json([result], generated_at=NOW)["plans"]
    long_run, race = plan["runs"]
    assert long_run["minutes"] == 170  # not the 180-minute block
    assert long_run["unit"] == "mi"
    assert long_run["distance_km"] == 28.97  # a number, 2 decimals
    assert race["minutes"] == 105  # the stated duration
    assert race["distance_km"] == 21.1
    assert race["priority"] == "B"
    assert plan["unit"] == "mi"


def test_json_cutback_week_and_rounded_peak_fraction() -> None:
    cutback = WeekPlan("2026-W49", MON, Phase.BUILD, 240, FRI, 80, 240 / 489, cutback=True, load="moderate")
    (plan,) = plan_json([make_result(weeks=(cutback,))], generated_at=NOW)["plans"]
    (week,) = plan["weeks"]
    assert week["cutback"] is True
    assert week["load"] == "moderate"
    assert week["phase"] == "build"
    assert week["peak_fraction"] == 0.491


def test_plan_check_accepts_the_new_fields(plan_check_path: Path, tmp_path: Path) -> None:
    result = make_result(unit="mi", busy=(Busy(at(TUE, 7), at(TUE, 8), "Bike: 1:00", training=True),))
    proc = run_plan_check(plan_check_path, plan_json([result], generated_at=NOW), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ---- table ------------------------------------------------------------------------------------

HEADER = (
    "2026-W49  Mon 30 Nov – Sun 6 Dec  build  5h03 run  (62% of peak)  heavy load  strength 2: 50 + 30 min"
)
TITLE_COLUMN = 28
"""Day lines: 2 spaces, the day (10), a 3-wide gutter (the · of other events), the time (11), 2 spaces."""
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def table_lines(result: PlanResult, *, color: bool = False) -> list[str]:
    return plan_table([result], now=NOW, color=color).splitlines()


def day_lines(lines: list[str], header: str = HEADER) -> list[str]:
    """The lines of a week block after its header, up to the blank line."""
    start = lines.index(header) + 1
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start:end]


def test_table_header_and_week_line() -> None:
    lines = table_lines(make_result())
    assert lines[0] == "Plan example  (Europe/Berlin)"
    assert lines[1] == "A race: Race: Costa Brava Ultra Trail 100K (A)  Sat 17 Apr 2027  (141 days to go)"
    assert HEADER in lines


def test_table_day_lines() -> None:
    body = day_lines(table_lines(make_result()))
    assert len(body) == 9
    assert body[0].startswith("  Mon 30 Nov   06:00–06:50  Strength: heavy lower body")
    assert body[0].endswith("heavy_lower  heavy  50 min")
    assert body[1].startswith("  Tue  1 Dec   18:00–19:00  Run: Intervals 6x800m")
    assert body[1].endswith("quality  60 min")  # the minutes calsync counts
    assert body[2] == "  Wed  2 Dec   –"
    # two items on Thursday: the session (06:00) before the run (18:00), the second one indented
    assert body[3].startswith("  Thu  3 Dec   06:00–06:30  Strength: light lower body + core")
    assert body[4].startswith("               18:00–18:45  Run: Tempo 45 min")
    assert body[4].endswith("quality  45 min")
    assert body[5] == "  Fri  4 Dec   REST"
    assert body[6].startswith("  Sat  5 Dec   all day      Long Run 24 km")
    assert body[6].endswith("long  24 km  2h33")
    assert body[7].startswith("  Sun  6 Dec   09:00–09:45  Run: Easy Run 45 min")
    assert body[8] == "  ! STRENGTH_NOT_PLACED: no day fits heavy lower body 72 h before the long run"
    # columns line up: titles start at one column, details at the same column after them
    items = [body[0], body[1], body[3], body[4], body[6], body[7]]
    assert {line[TITLE_COLUMN:].split("  ")[0] for line in items} == {
        "Strength: heavy lower body",
        "Run: Intervals 6x800m",
        "Strength: light lower body + core",
        "Run: Tempo 45 min",
        "Long Run 24 km",
        "Run: Easy Run 45 min",
    }
    width = len("Strength: light lower body + core")
    assert {line[TITLE_COLUMN + width : TITLE_COLUMN + width + 2] for line in items} == {"  "}
    assert all(line[TITLE_COLUMN + width + 2] != " " for line in items)


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
    assert any(line.startswith("  Mon 30 Nov   06:00–06:50") for line in table_lines(make_result()))


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
    # races are not training volume: the race week's run time leaves the race out
    week = WeekPlan("2026-W49", MON, Phase.RACE, 0, MON, 0, 0.0)
    lines = table_lines(make_result(runs=(hundred,), weeks=(week,), sessions=(), warnings=()))
    assert lines[1] == "A race: Race: Alpine 100 Miles (A)  Sat 5 Dec 2026  (8 days to go)"
    sat = next(line for line in lines if line.startswith("  Sat  5 Dec"))
    # no stated duration: no minutes (the 32-hour slot is not a duration the race states)
    assert sat.endswith("race A  161 km  until Sun 6 Dec")
    assert "  Mon 30 Nov   REST" in lines
    assert "2026-W49  Mon 30 Nov – Sun 6 Dec  race  0h00 run  (0% of peak)  no strength" in lines


def test_table_race_shows_only_stated_minutes() -> None:
    stated = Run(
        "half@example", "Race: City Half 1:45", RunKind.RACE, at(SUN, 9), at(SUN, 12), 21.0975, 105, "B"
    )
    # even a stray counted entry for a race is not shown: a race shows the minutes it states
    result = make_result(runs=(stated,), sessions=(), warnings=(), run_minutes={run_key(stated): 999})
    sun = next(line for line in table_lines(result) if line.startswith("  Sun  6 Dec"))
    assert sun.endswith("race B  21.1 km  105 min")


@pytest.mark.parametrize(
    ("km", "unit", "shown"),
    [
        (18 * 1.609344, "mi", "18 mi"),
        (30.0, "km", "30 km"),
        (21.0975, "km", "21.1 km"),
        (42.195, "km", "42.2 km"),
        (22.5308, "km", "22.5 km"),
        (42.195, "mi", "26.2 mi"),
        (100 * 1.609344, "km", "160.9 km"),
        (0.4, "km", "0.4 km"),
    ],
)
def test_table_distance_in_the_plan_unit_rounded(km: float, unit: str, shown: str) -> None:
    run = Run("long@example", "Long Run", RunKind.LONG, SAT, SUN, distance_km=km)
    result = make_result(runs=(run,), sessions=(), warnings=(), unit=unit, run_minutes={})
    sat = next(line for line in table_lines(result) if line.startswith("  Sat  5 Dec"))
    assert sat.endswith(f"long  {shown}")


def test_table_plan_in_miles_has_no_long_decimals() -> None:
    long_run = Run(
        "long-18mi@example", "Long Run 18 mi", RunKind.LONG, at(SAT, 7), at(SAT, 10), 18 * 1.609344, unit="mi"
    )
    tempo = Run(
        "tempo@example", "🏃 Threshold Intervals • 5mi", RunKind.QUALITY, at(THU, 18), at(THU, 19), 8.04672
    )
    odd = Run("odd@example", "Run: Easy", RunKind.EASY, at(SUN, 9), at(SUN, 10), 22.5308)
    result = make_result(
        runs=(long_run, tempo, odd),
        unit="mi",
        run_minutes={run_key(long_run): 170, run_key(tempo): 45, run_key(odd): 130},
    )
    text = plan_table([result], now=NOW)
    assert "long  18 mi  2h50" in text
    assert "quality  5 mi  45 min" in text
    assert "easy  14 mi  2h10" in text
    assert " km" not in text
    assert not re.search(r"\d\.\d{2,}", text), text


def test_table_cutback_load_and_unknown_peak() -> None:
    cutback = WeekPlan("2026-W49", MON, Phase.BUILD, 240, FRI, 80, 240 / 489, cutback=True, load="moderate")
    lines = table_lines(make_result(weeks=(cutback,)))
    assert (
        "2026-W49  Mon 30 Nov – Sun 6 Dec  build (cutback)  4h00 run  (49% of peak)  moderate load"
        "  strength 2: 50 + 30 min"
    ) in lines
    unknown = PlanWarning(WarningCode.PEAK_UNKNOWN, "set a_race or peak_week_minutes to know the peak week")
    plain = WeekPlan("2026-W49", MON, Phase.BASE, 240, FRI, 80, 0.5)
    lines = table_lines(make_result(weeks=(plain,), warnings=(unknown,)))
    assert (
        "2026-W49  Mon 30 Nov – Sun 6 Dec  base  4h00 run  (peak unknown)  strength 2: 50 + 30 min" in lines
    )
    assert lines[-1] == "  ! PEAK_UNKNOWN: set a_race or peak_week_minutes to know the peak week"


BIKE = Busy(at(TUE, 7), at(TUE, 10, 30), "Bike: 3:30", training=True)
MEETING = Busy(at(MON, 12), at(MON, 13), "Team meeting")
CONFERENCE = Busy(at(WED, 0), at(THU, 0), "Conference")  # all-day: midnight to midnight
TRIP = Busy(at(SAT, 20), at(date(2026, 12, 8), 10), "Trip to Lyon")  # past the planned week
YOGA = Busy(at(SUN, 18), at(SUN, 19), "Yoga", training=True, transparent=True)
NEXT_WEEK = Busy(at(date(2026, 12, 9), 7), at(date(2026, 12, 9), 8), "Swim: a very long open-water session")


def busy_result() -> PlanResult:
    return make_result(busy=(BIKE, MEETING, CONFERENCE, TRIP, YOGA, NEXT_WEEK))


def test_table_other_events_are_secondary_lines() -> None:
    lines = table_lines(busy_result())
    body = day_lines(lines)
    assert body[0].startswith("  Mon 30 Nov   06:00–06:50  Strength: heavy lower body")
    assert body[1].startswith("             · 12:00–13:00  Team meeting")
    assert body[1].endswith("  busy")
    # other training before the run it precedes, the day label on the first line of the day
    assert body[2].startswith("  Tue  1 Dec · 07:00–10:30  Bike: 3:30")
    assert body[2].endswith("  other training")
    assert body[3].startswith("               18:00–19:00  Run: Intervals 6x800m")
    assert body[4].startswith("  Wed  2 Dec · all day      Conference")
    # a multi-day event shows on each day it covers inside the planned weeks
    assert body[8].startswith("  Sat  5 Dec   all day      Long Run 24 km")
    assert body[9].startswith("             · 20:00–24:00  Trip to Lyon")
    assert body[10].startswith("  Sun  6 Dec · all day      Trip to Lyon")
    assert body[11].startswith("               09:00–09:45  Run: Easy Run 45 min")
    assert body[12].startswith("             · 18:00–19:00  Yoga")
    assert body[12].endswith("  other training")  # transparent, still training
    assert body[13].startswith("  ! STRENGTH_NOT_PLACED")
    # the same columns as runs and sessions
    assert body[2][TITLE_COLUMN:].startswith("Bike: 3:30 ")
    assert body[0][TITLE_COLUMN:].startswith("Strength: heavy lower body ")
    # outside the planned weeks: not shown, and its long title does not widen the columns
    text = "\n".join(lines)
    assert "Swim" not in text
    assert body[2][TITLE_COLUMN:] == "Bike: 3:30" + " " * 25 + "other training"
    assert "00:00–10:00" not in text
    assert "\x1b" not in text, "no escape codes unless asked"


def test_table_busy_time_and_free_time() -> None:
    free = Busy(at(WED, 12), at(WED, 13), "Lunch with Sam", transparent=True)
    untitled = Busy(at(WED, 15), at(WED, 16))
    body = day_lines(table_lines(make_result(busy=(free, untitled))))
    wed = [line for line in body if "Lunch" in line or "(no title)" in line]
    assert wed[0].startswith("  Wed  2 Dec · 12:00–13:00  Lunch with Sam")
    assert wed[0].endswith("  free")
    assert wed[1].startswith("             · 15:00–16:00  (no title)")
    assert wed[1].endswith("  busy")


def test_table_busy_across_midnight_in_the_plan_zone() -> None:
    # given in UTC: 22:30-01:00 Berlin, from Thursday into Friday (the rest day stays first)
    night = Busy(
        datetime(2026, 12, 3, 21, 30, tzinfo=UTC), datetime(2026, 12, 4, 0, 0, tzinfo=UTC), "Night shift"
    )
    body = day_lines(table_lines(make_result(busy=(night,))))
    assert any(line.startswith("             · 22:30–24:00  Night shift") for line in body)
    fri = body.index("  Fri  4 Dec   REST")
    assert body[fri + 1].startswith("             · 00:00–01:00  Night shift")


def test_table_color_dims_only_the_other_events() -> None:
    colored = table_lines(busy_result(), color=True)
    plain = table_lines(busy_result())
    assert [ANSI.sub("", line) for line in colored] == plain
    dimmed = [line for line in colored if "\x1b" in line]
    assert len(dimmed) == 6  # meeting, bike, conference, trip (2 days), yoga
    assert "  Tue  1 Dec \x1b[2m· 07:00–10:30  Bike: 3:30" in dimmed[1]
    assert all(line.endswith("\x1b[0m") and line.count("\x1b[2m") == 1 for line in dimmed)
    # runs, sessions, headers and warnings stay plain
    assert not any("\x1b" in line for line in colored if "Run" in line or "Strength" in line)
    assert HEADER in colored


def test_table_empty_results_do_not_crash() -> None:
    empty = make_result(runs=(), weeks=(), sessions=(), warnings=(), busy=(BIKE,))
    assert plan_table([empty], now=NOW) == (
        "Plan example  (Europe/Berlin)\nA race: none in the plan\nNo weeks planned: no runs in the horizon.\n"
    )
    assert plan_table([], now=NOW) == "No plans.\n"
    assert plan_table([], now=NOW, color=True) == "No plans.\n"


def test_table_several_plans_and_naive_now() -> None:
    text = plan_table([make_result(), make_result(plan_id="second")], now=datetime(2026, 11, 27, 7, 30))
    assert "Plan example  (Europe/Berlin)" in text
    assert "\n\n\nPlan second  (Europe/Berlin)\n" in text
