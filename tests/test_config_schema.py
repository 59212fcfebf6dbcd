"""The config file reader (``calsync.schema`` + ``calsync.config``): every problem of a file named
with its key path and what to give instead, in one error; the typed values it builds."""

from __future__ import annotations

import dataclasses
import math
import typing
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calsync.config import (
    CaldavTarget,
    Config,
    IcsUrlSource,
    PlanConfig,
    load_config,
    parse_config,
    parse_rules,
)
from calsync.core.settings import Bounds, Rules, TimeWindow
from calsync.errors import ConfigError
from calsync.schema import SchemaError, load

ROOT = Path(__file__).resolve().parents[1]

BASE = """
[[plan]]
id = "me"
timezone = "Europe/Berlin"
{plan}
[[plan.source]]
kind = "ics_file"
path = "plan.ics"
{tables}
"""


def _problem(tmp_path: Path, plan: str = "", tables: str = "") -> str:
    path = tmp_path / "calsync.toml"
    path.write_text(BASE.format(plan=plan, tables=tables), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


BAD_FILES = [
    # (plan keys, further tables, what the one-line error must say)
    (
        "horizon_wekks = 3",
        "",
        ["plan[0].horizon_wekks: unknown key"],
    ),
    (
        "horizon_weeks = 0",
        "",
        ["plan[0].horizon_weeks: 0 is too small: give at least 1"],
    ),
    (
        "horizon_weeks = 105",
        "",
        ["plan[0].horizon_weeks: 105 is too large: give at most 104"],
    ),
    ('horizon_weeks = "twelve"', "", ["plan[0].horizon_weeks: expected a whole number, got 'twelve'"]),
    ("horizon_weeks = 1e300", "", ["plan[0].horizon_weeks: expected a whole number, got 1e+300"]),
    (
        "",
        "[plan.rules]\nheavy_before_long_hours = nan",
        ["plan[0].rules.heavy_before_long_hours: expected hours"],
    ),
    (
        "",
        "[plan.rules]\nheavy_before_long_hours = inf",
        ["plan[0].rules.heavy_before_long_hours: expected hours"],
    ),
    (
        "",
        "[plan.rules]\nrun_first_gap_hours = nan",
        ["plan[0].rules.run_first_gap_hours: expected a finite number"],
    ),
    (
        "",
        '[plan.rules]\nstrength_windows = [{start = "08:00", end = "06:00"}]',
        ["plan[0].rules.strength_windows[0]: time window 08:00-06:00 ends before it starts"],
    ),
    (
        "",
        '[plan.target]\nkind = "homeassistant"\nurl = "http://ha:8123"\n'
        'entity_id = "calendar.a\\n"\ntoken_env = "T"',
        ["plan[0].target.entity_id: 'calendar.a\\n' is not a calendar entity id"],
    ),
    (
        "horizon_weeks = true",
        "",
        ["plan[0].horizon_weeks: expected a whole number, got True"],
    ),
    (
        'a_race = "17 April"',
        "",
        ["plan[0].a_race: expected a date like 2027-04-17"],
    ),
    (
        "a_race = 2027-04-17T09:00:00",
        "",
        ["plan[0].a_race: expected a date", "a date and time"],
    ),
    (
        "poll_seconds = 0.5",
        "",
        ["plan[0].poll_seconds: 0.5 is too small: give at least 1"],
    ),
    (
        "",
        '[plan.rules]\nsame_day_order = "lifts"',
        ["plan[0].rules.same_day_order", "'lift_first'", "'run_first'"],
    ),
    (
        "",
        '[plan.rules]\nstrength_windows = "6-8"',
        ["plan[0].rules.strength_windows[0]: time window '6-8'"],
    ),
    (
        "",
        "[plan.rules]\nstrength_windows = []",
        ["plan[0].rules.strength_windows: give at least 1 (got 0)"],
    ),
    (
        "",
        '[plan.rules]\nrest_day = "monday"',
        ["plan[0].rules.rest_day: 'monday' is not allowed", "'mon'"],
    ),
    (
        "",
        '[plan.rules]\ndefault_run_time = "25:00"',
        ["plan[0].rules.default_run_time: expected a time of day"],
    ),
    (
        "",
        "[plan.rules]\nheavy_below_peak = 0",
        ["plan[0].rules.heavy_below_peak: 0.0 is too small: give more than 0"],
    ),
    (
        "",
        "[plan.rules]\nheavy_below_peak = 0.8\nmoderate_below_peak = 0.7",
        ["plan[0].rules: moderate_below_peak must not be below heavy_below_peak"],
    ),
    (
        "",
        "[plan.rules.recovery_days]\nmarathn = 7",
        ["plan[0].rules.recovery_days.marathn: unknown key"],
    ),
    (
        "",
        "[plan.classify]\nlong = ['(a+)+b']",
        ["plan[0].classify: pattern '(a+)+b' nests repetitions"],
    ),
    (
        "",
        "[plan.catalogue.heavy]\ntitle = 'x'",
        ["plan[0].catalogue.heavy: 'heavy' is not allowed", "'heavy_lower'"],
    ),
    (
        "",
        "[plan.catalogue.core]\nmax_minutes = 5",
        ["plan[0].catalogue.core.max_minutes: 5 is too small"],
    ),
    (
        "",
        "[plan.catalogue.core]\nexercises = [{name = ''}]",
        ["catalogue.core.exercises[0].prescription: missing"],
    ),
    (
        "",
        '[plan.target]\nkind = "dav"',
        ["plan[0].target.kind: 'dav' is not a kind calsync knows", "'caldav'"],
    ),
    (
        "",
        '[plan.target]\npath = "x.ics"',
        ["plan[0].target.kind: missing", "'ics_file'"],
    ),
    (
        "",
        '[plan.target]\nkind = "caldav"\nurl = "ftp://x"',
        ["plan[0].target.url: 'ftp://x' is not an http"],
    ),
    (
        "",
        '[plan.target]\nkind = "caldav"\nurl = "https://x/"\npassword_env = "A"\npassword_file = "b"',
        ["plan[0].target: give password_env or password_file, not both"],
    ),
    (
        "",
        '[plan.target]\nkind = "homeassistant"\nurl = "http://ha:8123"\n'
        'entity_id = "sensor.x"\ntoken_env = "T"',
        ["plan[0].target.entity_id: 'sensor.x' is not a calendar entity id"],
    ),
    (
        "",
        '[plan.target]\nkind = "feed"\npath = 3',
        ["plan[0].target.path: expected a file path, got 3"],
    ),
    (
        "",
        "[daemon]\npoll_seconds = -1",
        ["daemon.poll_seconds: -1.0 is too small"],
    ),
    (
        "",
        '[daemon]\nrebuild_at = "3pm"',
        ["daemon.rebuild_at: expected a time of day like '07:30', got '3pm'"],
    ),
    (
        "",
        "[daemon.feeds]\nport = 70000",
        ["daemon.feeds.port: 70000 is too large: give at most 65535"],
    ),
    (
        "",
        "[daemon.feeds]\nportt = 1",
        ["daemon.feeds.portt: unknown key"],
    ),
    (
        "",
        "[[plan]]\nid = 'me'\ntimezone = 'UTC'\nsource = [{kind = 'ics_file', path = 'a.ics'}]",
        ["repeated: me"],
    ),
    (
        "",
        "[[plan]]\nid = 'a b'\ntimezone = 'Mars/Olympus'\nsource = []",
        ["plan[1].id: 'a b'", "plan[1].timezone"],
    ),
]


@pytest.mark.parametrize(("plan", "tables", "said"), BAD_FILES)
def test_a_bad_file_names_the_key_and_what_to_give(
    tmp_path: Path, plan: str, tables: str, said: list[str]
) -> None:
    message = _problem(tmp_path, plan, tables)
    assert message.startswith(f"{tmp_path / 'calsync.toml'}: ")
    assert "\n" not in message
    for part in said:
        assert part in message


def test_every_problem_of_a_file_is_named_at_once(tmp_path: Path) -> None:
    message = _problem(
        tmp_path,
        'horizon_weeks = 0\nbogus = 1\na_race = "soon"',
        '[plan.rules]\nrest_day = "someday"\nrolling_days = 1\n[daemon]\njitter_seconds = -5',
    )
    for key in (
        "plan[0].horizon_weeks",
        "plan[0].bogus",
        "plan[0].a_race",
        "plan[0].rules.rest_day",
        "plan[0].rules.rolling_days",
        "daemon.jitter_seconds",
    ):
        assert f"{key}: " in message


def test_the_bundled_example_reads_into_typed_values() -> None:
    config = load_config(ROOT / "config" / "example.toml")
    plan = config.plan[0]
    assert isinstance(plan, PlanConfig)
    assert plan.horizon_weeks == 24
    assert plan.rules == Rules()  # the example only comments on the defaults
    assert config.daemon.rebuild_at == time(3, 30)
    assert plan.source[0].path.is_absolute()  # type: ignore[union-attr]


def test_spellings_a_person_writes_are_read(tmp_path: Path) -> None:
    text = BASE.format(
        plan="a_race = 2027-04-17\nhorizon_weeks = 8",
        tables=(
            '[plan.rules]\nstrength_windows = "17:30-19:00"\n'
            'strength_windows_by_day = { sat = "08:00-24:00" }\n'
            'default_run_time = "6:45"\nheavy_before_long_hours = 60\nrun_first_gap_hours = 5\n'
            '[daemon]\nrebuild_at = "off"\npoll_seconds = 60'
        ),
    )
    config = parse_config(text, tmp_path / "calsync.toml")
    rules = config.plan[0].rules
    assert config.plan[0].a_race == date(2027, 4, 17)
    assert rules.strength_windows == (TimeWindow(time(17, 30), time(19)),)
    assert rules.strength_windows_by_day == {"sat": (TimeWindow(time(8), time.max),)}
    assert rules.default_run_time == time(6, 45)
    assert rules.heavy_before_long_days == 3  # 60 hours, rounded up to full days
    assert rules.run_first_gap_hours == 5.0
    assert isinstance(rules.run_first_gap_hours, float)
    assert config.daemon.rebuild_at is None
    assert config.daemon.poll_seconds == 60.0


def test_the_file_cannot_say_where_it_is(tmp_path: Path) -> None:
    """``path`` is the loader's: a ``path`` key at the top of the file is unknown, not obeyed."""
    with pytest.raises(ConfigError, match=r"calsync.toml: path: unknown key"):
        parse_config('path = "elsewhere.toml"\n' + BASE.format(plan="", tables=""), tmp_path / "calsync.toml")


def test_what_files_said_before_is_still_read(tmp_path: Path) -> None:
    """Spellings the former reader took: numbers in quotes, yes/no, a midnight date-time for a
    date, seconds in a time."""
    text = BASE.format(
        plan='horizon_weeks = "12"\na_race = 2027-04-17T00:00:00',
        tables=(
            '[plan.rules]\nheavy_below_peak = "0.7"\ndefault_run_time = "07:30:15"\n'
            '[daemon]\nrebuild_at = "03:30:00"\n[daemon.feeds]\nport = "8080"\nall_plans = "yes"'
        ),
    )
    config = parse_config(text, tmp_path / "calsync.toml")
    assert config.plan[0].horizon_weeks == 12
    assert config.plan[0].a_race == date(2027, 4, 17)
    assert config.plan[0].rules.heavy_below_peak == 0.7
    assert config.plan[0].rules.default_run_time == time(7, 30, 15)
    assert config.daemon.rebuild_at == time(3, 30)
    assert config.daemon.feeds.port == 8080
    assert config.daemon.feeds.all_plans is True
    assert config.path == tmp_path / "calsync.toml"


def test_a_config_is_frozen_and_compares_by_value(tmp_path: Path) -> None:
    """The daemon compares a reloaded plan with the running one to know what changed."""
    text = BASE.format(plan="", tables="")
    first = parse_config(text, tmp_path / "calsync.toml")
    again = parse_config(text, tmp_path / "calsync.toml")
    assert first == again
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.plan[0].horizon_weeks = 3  # type: ignore[misc]


def test_a_remote_source_is_read_from_a_table() -> None:
    source = load(
        IcsUrlSource, {"kind": "ics_url", "url": "webcal://coach.example/feed.ics", "timeout_seconds": 5}
    )
    assert source.http_url == "https://coach.example/feed.ics"
    assert source.timeout_seconds == 5.0
    with pytest.raises(SchemaError, match=r"username: expected text"):
        load(CaldavTarget, {"kind": "caldav", "url": "https://x/", "username": 3})


# -- every bound of the rules, tried with values on both sides of it ------------------------------


def _bounded_fields() -> list[tuple[str, Any, Bounds]]:
    hints = typing.get_type_hints(Rules, include_extras=True)
    found = []
    for name, hint in hints.items():
        for part in (hint, *typing.get_args(hint)):
            if typing.get_origin(part) is typing.Annotated:
                inner, *metadata = typing.get_args(part)
                bounds = [m for m in metadata if isinstance(m, Bounds)]
                if bounds and inner in (int, float):
                    found.append((name, inner, bounds[0]))
    return found


BOUNDED = _bounded_fields()


def test_the_rules_carry_their_bounds() -> None:
    assert len(BOUNDED) >= 25


@settings(max_examples=300, deadline=None)
@given(
    field=st.sampled_from(BOUNDED),
    value=st.integers(-1000, 1000)
    | st.floats(-1000, 1000)
    | st.sampled_from([math.nan, math.inf, -math.inf]),
)
def test_a_rule_value_is_taken_inside_its_bounds_and_refused_outside(
    field: tuple[str, Any, Bounds], value: Any
) -> None:
    name, kind, bounds = field
    number = float(value)
    inside = math.isfinite(number) and (
        (bounds.ge is None or number >= bounds.ge)
        and (bounds.gt is None or number > bounds.gt)
        and (bounds.le is None or number <= bounds.le)
    )
    if kind is int and isinstance(value, float) and not value.is_integer():
        inside = False
    if not inside:
        with pytest.raises(SchemaError) as refused:
            parse_rules({name: value})
        assert [loc for loc, _message in refused.value.problems] == [(name,)]
        return
    tied = {"heavy_below_peak", "moderate_below_peak", "peak_phase_fraction", "build_phase_fraction"}
    try:
        rules = parse_rules({name: value})
    except SchemaError as err:  # in bounds: only a rule tying two values together may refuse it
        assert name in tied, err.problems  # noqa: PT017
        return
    assert getattr(rules, name) == value
    assert isinstance(getattr(rules, name), kind)


@settings(max_examples=200, deadline=None)
@given(
    table=st.dictionaries(
        st.sampled_from(["id", "timezone", "source", "horizon_weeks", "a_race", "target", "rules", "extra"]),
        st.none() | st.booleans() | st.integers() | st.text(max_size=8) | st.lists(st.integers(), max_size=2),
        max_size=6,
    )
)
def test_any_table_is_read_or_refused_with_a_key_path_never_a_crash(table: dict[str, Any]) -> None:
    raw = {"plan": [{k: v for k, v in table.items() if v is not None}]}
    try:
        config = load(Config, raw)
    except SchemaError as err:
        problems = err.problems
    else:
        assert config.plan[0].id == raw["plan"][0]["id"]
        return
    assert problems
    assert all(isinstance(message, str) and message for _loc, message in problems)


def test_paths_are_the_same_whatever_folder_calsync_runs_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative ``--config`` made relative paths, so the same plan run from two folders had two
    keys in the state (and a session a person deleted came back)."""
    (tmp_path / "sub").mkdir()
    text = BASE.format(plan="", tables='[plan.target]\nkind = "ics_file"\npath = "out/me.ics"')
    (tmp_path / "sub" / "calsync.toml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    here = load_config(Path("sub/calsync.toml")).plan[0]
    monkeypatch.chdir(tmp_path / "sub")
    there = load_config(Path("calsync.toml")).plan[0]
    assert here.target == there.target
    assert here.target.path == tmp_path / "sub" / "out" / "me.ics"  # type: ignore[union-attr]
    assert here.source[0].path == tmp_path / "sub" / "plan.ics"  # type: ignore[union-attr]


def test_what_an_earlier_calsync_filed_under_a_relative_path_is_found_and_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from calsync.core.decide import Written
    from calsync.pipeline import known_written
    from calsync.registry import legacy_state_key, state_key
    from calsync.state import State

    text = BASE.format(plan="", tables='[plan.target]\nkind = "ics_file"\npath = "out/me.ics"')
    (tmp_path / "calsync.toml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    plan = load_config(Path("calsync.toml")).plan[0]
    assert legacy_state_key(plan) == "me@out/me.ics"
    assert state_key(plan) == f"me@{tmp_path / 'out' / 'me.ics'}"
    deleted = Written("calsync-me-2026W50-s2", "", "", "h", "2026-12-09T08:00:00+01:00", dismissed=True)
    with State(tmp_path / "state.sqlite") as state:
        state.record_written("me@out/me.ics", [deleted])
        assert known_written(state, plan, may_write=False) == {deleted.uid: deleted}
        assert state.written(state_key(plan)) == {}  # a command that writes nothing moved nothing
        assert known_written(state, plan, may_write=True) == {deleted.uid: deleted}
        assert state.written(state_key(plan)) == {deleted.uid: deleted}
        assert state.written("me@out/me.ics") == {}
