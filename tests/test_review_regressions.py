"""Regressions for the bugs a second reviewer found; each test failed before its fix."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from calsync.core.catalogue import Catalogue
from calsync.core.model import Busy, RunKind, SessionKind
from calsync.core.settings import Rules, TimeWindow
from planner_helpers import all_day, plan_week
from test_cli import NOW, ROOT, run_cli, weekly_long_runs, write_config

BERLIN = ZoneInfo("Europe/Berlin")


def test_r8_counts_hours_not_days() -> None:
    """Heavy lower at 19:00 on Wednesday is 60 h before a Saturday 07:00 long run: too close."""
    monday = date(2026, 11, 30)
    runs = [all_day(RunKind.LONG, monday + timedelta(days=5), minutes=150)]
    # Monday and Tuesday evenings are taken: Wednesday evening is the only candidate left for heavy
    busy = [
        Busy(
            datetime.combine(monday + timedelta(days=d), time(18), BERLIN),
            datetime.combine(monday + timedelta(days=d), time(22), BERLIN),
            "Work",
        )
        for d in (0, 1)
    ]
    result = plan_week(runs, busy=busy, strength_windows=["19:00-21:00"], peak_week_minutes=600)
    assert result.sessions, "something is planned"
    long_start = datetime.combine(monday + timedelta(days=5), time(7), BERLIN)
    for session in result.sessions:
        if session.kind is SessionKind.HEAVY_LOWER:
            assert isinstance(session.end, datetime)
            assert long_start - session.end >= timedelta(hours=72), session


def test_a_persons_added_properties_survive_an_update(tmp_path: Path) -> None:
    source = tmp_path / "plan.ics"
    source.write_text(weekly_long_runs(4), encoding="utf-8")
    config = write_config(tmp_path, source)
    target = tmp_path / "out" / "me.ics"
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    text = target.read_text(encoding="utf-8")
    uid = "calsync-me-2026W50-s1"
    assert f"UID:{uid}" in text
    calendar = Calendar.from_ical(target.read_bytes())
    for event in calendar.walk("VEVENT"):
        if str(event["UID"]) == uid:
            event.add("LOCATION", "Gym Mitte")
            event.add("X-APPLE-TRAVEL-ADVISORY-BEHAVIOR", "AUTOMATIC")
    target.write_bytes(calendar.to_ical())
    # the week's long run moves from Saturday to Thursday: s1 must move
    source.write_text(
        weekly_long_runs(4)
        .replace("DTSTART;VALUE=DATE:20261212", "DTSTART;VALUE=DATE:20261210")
        .replace("DTEND;VALUE=DATE:20261213", "DTEND;VALUE=DATE:20261211"),
        encoding="utf-8",
    )
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    after = Calendar.from_ical(target.read_bytes())
    event = next(e for e in after.walk("VEVENT") if str(e["UID"]) == uid)
    assert str(event["LOCATION"]) == "Gym Mitte"
    assert str(event["X-APPLE-TRAVEL-ADVISORY-BEHAVIOR"]) == "AUTOMATIC"


def race_calendar(tmp_path: Path) -> Path:
    """Long runs every Saturday, a B race in 5 weeks, the A race in 20 weeks (past a 16-week horizon)."""
    text = weekly_long_runs(24)
    text = text.replace("SUMMARY:Long Run 25 km\nEND:VEVENT\n", "SUMMARY:Long Run 25 km\nEND:VEVENT\n", 1)
    b_day, a_day = "20270102", "20270417"
    extra = (
        f"BEGIN:VEVENT\nUID:b-race\nDTSTAMP:20261101T000000Z\nDTSTART;VALUE=DATE:{b_day}\n"
        "DTEND;VALUE=DATE:20270103\nSUMMARY:Race: Trail Marathon 42K (B)\nEND:VEVENT\n"
        f"BEGIN:VEVENT\nUID:a-race\nDTSTAMP:20261101T000000Z\nDTSTART;VALUE=DATE:{a_day}\n"
        "DTEND;VALUE=DATE:20270418\nSUMMARY:Race: Mountain 100K\nEND:VEVENT\n"
    )
    path = tmp_path / "races.ics"
    path.write_text(text.replace("END:VCALENDAR", extra + "END:VCALENDAR"), encoding="utf-8")
    return path


def test_a_b_tagged_race_is_never_promoted_to_a(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, race_calendar(tmp_path))
    config.write_text(config.read_text().replace("horizon_weeks = 12", "horizon_weeks = 16"))
    assert run_cli("--config", str(config), "plan", "--format", "json", "--now", NOW) == 0
    import json

    plan = json.loads(capsys.readouterr().out)["plans"][0]
    races = {r["title"]: r["priority"] for r in plan["runs"] if r["kind"] == "race"}
    assert races == {"Race: Trail Marathon 42K (B)": "B"}
    phases = {w["week"]: w["phase"] for w in plan["weeks"]}
    assert phases["2026-W53"] != "race", "a B race week is not the A race's race week"


def test_a_run_added_on_todays_rest_day_moves_the_rest_day(tmp_path: Path) -> None:
    source = tmp_path / "plan.ics"
    source.write_text(weekly_long_runs(4), encoding="utf-8")
    config = write_config(tmp_path, source)
    target = tmp_path / "out" / "me.ics"
    assert run_cli("--config", str(config), "rebuild", "--now", "2026-12-02T07:30:00+01:00") == 0
    rest = [e for e in Calendar.from_ical(target.read_bytes()).walk("VEVENT") if "rest" in str(e["UID"])]
    this_week = next(e for e in rest if "2026W49" in str(e["UID"]))
    rest_day = this_week.decoded("DTSTART")
    # a run appears on this week's rest day, which is today
    now = datetime.combine(rest_day, time(7, 30), BERLIN)
    day = rest_day.strftime("%Y%m%d")
    source.write_text(
        weekly_long_runs(4).replace(
            "END:VCALENDAR",
            f"BEGIN:VEVENT\nUID:extra\nDTSTAMP:20261101T000000Z\nDTSTART;TZID=Europe/Berlin:{day}T180000\n"
            f"DTEND;TZID=Europe/Berlin:{day}T184500\nSUMMARY:Run: Easy Run 45 min\nEND:VEVENT\nEND:VCALENDAR",
        ),
        encoding="utf-8",
    )
    assert run_cli("--config", str(config), "rebuild", "--now", now.isoformat()) == 0
    rest = [e for e in Calendar.from_ical(target.read_bytes()).walk("VEVENT") if "rest" in str(e["UID"])]
    assert all(e.decoded("DTSTART") != rest_day for e in rest), "no rest day on a day with a run"


def test_a_window_until_midnight_fits_a_full_session() -> None:
    window = TimeWindow.parse("23:00-24:00")
    rules = Rules(strength_windows=(window,))
    assert rules.strength_windows[0].start == time(23)
    monday = date(2026, 11, 30)
    result = plan_week(
        [all_day(RunKind.LONG, monday + timedelta(days=5), minutes=150)],
        strength_windows=["23:00-24:00"],
        peak_week_minutes=600,
    )
    timed = [s for s in result.sessions if isinstance(s.start, datetime)]
    catalogue = Catalogue()
    assert timed
    # each session is as long as its catalogue entry allows, ending at midnight at the latest
    assert all(s.minutes == catalogue.max_minutes(s.kind, s.load) for s in timed), [s.minutes for s in timed]


@pytest.mark.parametrize("moment", ["9999-12-31", "0001-01-01"])
def test_now_out_of_range_is_a_usage_error(moment: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("--config", str(ROOT / "config" / "example.toml"), "plan", "--now", moment) == 2
    err = capsys.readouterr().err
    assert "--now" in err
    assert "internal error" not in err


def test_a_source_left_with_only_non_runs_deletes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "plan.ics"
    source.write_text(weekly_long_runs(3), encoding="utf-8")
    config = write_config(tmp_path, source)
    target = tmp_path / "out" / "me.ics"
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    written = target.read_bytes()
    source.write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//x//EN\nBEGIN:VEVENT\nUID:d\nDTSTAMP:20261101T000000Z\n"
        "DTSTART;TZID=Europe/Berlin:20261203T100000\nDTEND;TZID=Europe/Berlin:20261203T110000\n"
        "SUMMARY:Dentist\nEND:VEVENT\nEND:VCALENDAR\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    assert target.read_bytes() == written
    assert "no runs" in capsys.readouterr().out


def test_dry_run_of_a_mass_delete_lists_it_and_names_the_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "plan.ics"
    source.write_text(weekly_long_runs(12), encoding="utf-8")
    config = write_config(tmp_path, source)
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 0
    source.write_text(weekly_long_runs(1), encoding="utf-8")
    capsys.readouterr()
    assert run_cli("--config", str(config), "rebuild", "--dry-run", "--now", NOW) == 0
    out = capsys.readouterr().out
    assert "delete" in out
    assert run_cli("--config", str(config), "rebuild", "--now", NOW) == 1
    err = capsys.readouterr().err
    assert "me" in err.split(":")[1]
