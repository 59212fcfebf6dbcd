"""The classify step: titles -> run kinds, distances, durations; race priorities; busy time."""

from __future__ import annotations

import time as clock
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calsync.core.classify import (
    Classified,
    classify_event,
    classify_events,
    parse_distance_km,
    parse_minutes,
)
from calsync.core.model import Busy, RunKind, SourceEvent
from calsync.core.settings import Classification

BERLIN = ZoneInfo("Europe/Berlin")
DEFAULTS = Classification()
L, Q, E, R = RunKind.LONG, RunKind.QUALITY, RunKind.EASY, RunKind.RACE
MI = 1.609344


def all_day(summary: str, day: date = date(2026, 5, 2), **kw: object) -> SourceEvent:
    """An all-day event (the TrainingPeaks / Garmin shape)."""
    return SourceEvent(
        uid=kw.pop("uid", summary) or summary,  # type: ignore[arg-type]
        summary=summary,
        start=day,
        end=day + timedelta(days=1),
        **kw,  # type: ignore[arg-type]
    )


def timed(summary: str, start: datetime, minutes: int, **kw: object) -> SourceEvent:
    """A timed event."""
    return SourceEvent(
        uid=kw.pop("uid", summary) or summary,  # type: ignore[arg-type]
        summary=summary,
        start=start,
        end=start + timedelta(minutes=minutes),
        **kw,  # type: ignore[arg-type]
    )


def classify(events: list[SourceEvent], **kw: object) -> Classified:
    """classify_events with the defaults and a horizon far ahead."""
    args: dict[str, object] = {"zone": BERLIN, "a_race": None, "horizon_end": date(2027, 12, 31)}
    args.update(kw)
    config = args.pop("config", DEFAULTS)
    return classify_events(events, config, **args)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------
# The scenario table: (summary, description, categories) -> (kind, distance_km, minutes)

SCENARIOS: list[tuple[str, str, tuple[str, ...], RunKind | None, float | None, int | None]] = [
    # PRODUCT.md section 3
    ("Run: Tempo into VO2max spikes", "", (), Q, None, None),
    ("Run: Easy Run 40 min", "", (), E, None, 40),
    ("Long Run 18 mi", "", (), L, 28.97, None),
    ("🏃 Threshold Intervals • 5mi", "", (), Q, 8.05, None),
    ("Intervals 8x400m", "", (), Q, None, None),
    ("Race: Western States 100", "", (), R, 160.93, None),
    ("Lactate threshold 10 w/ 4 @ 15K to half marathon race pace", "", (), Q, None, None),
    ("Rest or cross-training", "", (), None, None, None),
    ("Bike: 3:30", "", (), None, None, None),
    # plan vocabularies (TrainingPeaks, Runna, Pfitzinger, Higdon, Daniels, hand-typed)
    ("Easy 6 mi w/ strides", "", (), E, 9.66, None),
    ("Recovery run 5k", "", (), E, 5.0, None),
    ("Medium-long run 11 mi", "", (), E, 17.70, None),
    ("MLR 15", "", (), E, None, None),
    ("Fartlek", "", (), Q, None, None),
    ("Hill repeats", "", (), Q, None, None),
    ("Progression run", "", (), Q, None, None),
    ("Marathon pace run", "", (), Q, None, None),
    ("Marathon-pace run 16 w/ 12 @ marathon pace", "", (), Q, None, None),
    ("Strides", "", (), E, None, None),
    ("Parkrun", "", (), Q, 5.0, None),
    ("Parkrun (race)", "", (), R, 5.0, None),
    ("Half Marathon", "", (), R, 21.0975, None),
    ("Marathon", "", (), R, 42.195, None),
    ("10K race", "", (), R, 10.0, None),
    ("5K", "", (), R, 5.0, None),
    ("Berlin Marathon", "", (), R, 42.195, None),
    ("UTMB", "", (), R, 171.0, None),
    ("Lavaredo 120K", "", (), R, 120.0, None),
    ("Black Canyon 100K", "", (), R, 100.0, None),
    ("JFK 50 (C)", "", (), R, 80.47, None),
    ("Leadville 100 A-race", "", (), R, 160.93, None),
    ("100 miler", "", (), R, 160.93, None),
    ("Race: Boston Marathon 2026", "", (), R, 42.195, None),
    ("Spring Half Marathon [A]", "", (), R, 21.0975, None),
    ("Tune-up race 15K (B)", "", (), R, 15.0, None),
    ("Cross-country race 8k", "", (), R, 8.0, None),
    ("Race week shakeout 20'", "", (), E, None, 20),
    ("Marathon training week 5", "", (), None, None, None),
    ("Swim", "", (), None, None, None),
    ("Yoga", "", (), None, None, None),
    ("Strength training", "", (), None, None, None),
    ("Cross-training", "", (), None, None, None),
    ("Cross", "", (), None, None, None),
    ("Rest day", "", (), None, None, None),
    ("Off", "", (), None, None, None),
    ("Day Off", "", (), None, None, None),
    ("Bike", "", (), None, None, None),
    ("Ride", "", (), None, None, None),
    ("Mobility", "", (), None, None, None),
    ("🧘 Mobility", "Mobility and flexibility work", (), None, None, None),
    ("💪 Strength: Core", "Strength training session focusing on core", (), None, None, None),
    ("Easy bike 1h", "", (), None, None, None),
    ("Recovery ride 45'", "", (), None, None, None),
    ("Bike race 40 km", "", (), None, None, None),
    ("Brick: bike 40 km + run 5 km", "", (), None, None, None),
    ("Rest or easy 20 min", "", (), None, None, None),
    ("Recovery week", "", (), None, None, None),
    ("Team meeting", "", (), None, None, None),
    ("Birthday party", "", (), None, None, None),
    ("Team offsite", "Fun run at 7am", (), None, None, None),
    # runs that name another activity after the run
    ("Run + strength", "", (), E, None, None),
    ("Intervals 6x800m w/ 2 min rest", "", (), Q, None, None),
    ("Walk/run 30 min", "", (), E, None, 30),
    # strava-mcp training_plan.ics (corpus): paces in the description are not durations
    ("🏃 Easy Run 4.5km", "4.5km @ Easy pace (8:40/km - 7:18/km)", (), E, 4.5, None),
    ("🏃 Long Run 9.0km", "9.0km @ Long Run pace (8:04/km - 7:00/km)", (), L, 9.0, None),
    ("🏃 Interval Workout", "6x800m (400m) @ VO2Max pace (6:00/km)", (), Q, None, None),
    ("🏃 Tempo Run", "6.0km @ Tempo pace (6:40/km)", (), Q, 6.0, None),
    # TrainingPeaks description lines
    ("Run: Aerobic Endurance", "Planned Time: 1:30:00\nPlanned Distance: 16.09 km", (), E, 16.09, 90),
    ("Long Run", "Planned Time: 2:45:00\nPlanned Distance: 18 mi", (), L, 28.97, 165),
    # the description decides the kind of a plain run
    ("Run", "6x800m @ 5K pace, 400m jog", (), Q, None, None),
    ("Morning run", "", (), E, None, None),
    ("Run", "Meet at the park 07:00, 12 km easy", (), E, 12.0, None),
    # categories mark runs and non-runs
    ("Aerobic base", "", ("Running",), E, None, None),
    ("Session 12", "", ("Run",), E, None, None),
    ("Session 13", "", ("Strength",), None, None, None),
    ("Spring Classic", "", ("Race",), R, None, None),
    # durations
    ("Z2 run 45m - 50m", "", (), E, None, 50),
    ("Z2 45m", "", (), E, None, 45),
    ("Easy 1h30", "", (), E, None, 90),
    ("1h30m Endurance", "", (), E, None, 90),
    ("Run 1 h 30 min", "", (), E, None, 90),
    ("Long 2 hrs", "", (), L, None, 120),
    ("Run 90 minutes", "", (), E, None, 90),
    ("Easy 40'", "", (), E, None, 40),
    ("Easy 45-50 min", "", (), E, None, 50),
    ("Run 1:00-1:15", "", (), E, None, 75),
    ("Long run 2:30", "", (), L, None, 150),
    ("Run at 07:00", "", (), E, None, None),
    ("Run 7:00-8:00", "", (), E, None, None),
    ("Easy 45 min @ 6:30", "", (), E, None, 45),
    ("Tempo 3x10 min w/ 2 min jog", "", (), Q, None, None),
    ("VO2max 5x3min", "", (), Q, None, None),
    # distances
    ("Track 3000m time trial", "", (), Q, 3.0, None),
    ("Easy run 8,5 km", "", (), E, 8.5, None),
    ("Run 5-6 mi", "", (), E, 9.66, None),
    ("Long run 16-18 mi", "", (), L, 28.97, None),
    ("Long run 30 km with 10 km @ MP", "", (), L, 30.0, None),
    ("Long run 20 mi w/ 12 @ marathon pace", "", (), L, 32.19, None),
    ("Tempo 5 km at 10K-HM pace", "", (), Q, 5.0, None),
    ("Run 10 km incl. 6x100m strides", "", (), E, 10.0, None),
    ("Pace 5 mi", "", (), Q, 8.05, None),
    ("General aerobic 10", "", (), E, None, None),
    ("Hal Higdon: 3 m run", "", (), E, None, None),
    ("Half-marathon race pace 3x3 km", "", (), Q, None, None),
    ("Yasso 800s 10x800m", "", (), Q, None, None),
    # a plain run becomes the long run by its length (150 min, distance x 6 min/km)
    ("Run 32 km", "", (), L, 32.0, None),
    ("Run 3h", "", (), L, None, 180),
    # other languages, accents, case
    ("Dauerlauf 45 min", "", (), E, None, 45),
    ("Langer Lauf 25 km", "", (), L, 25.0, None),
    ("Wettkampf: Stadtlauf 10 km", "", (), R, 10.0, None),
    ("Tempodauerlauf 8 km", "", (), Q, 8.0, None),
    ("Intervalle 10x400m", "", (), Q, None, None),
    ("Halbmarathon", "", (), R, 21.0975, None),
    ("Sortie longue 2h", "", (), L, None, 120),
    ("Footing 45'", "", (), E, None, 45),
    ("Fractionné 10x400", "", (), Q, None, None),
    ("Semi-marathon de Paris", "", (), R, 21.0975, None),
    ("Carrera 10K", "", (), R, 10.0, None),
    ("Rodaje suave 40'", "", (), E, None, 40),
    ("Medio maratón", "", (), R, 21.0975, None),
    ("LONG RUN 30 KM", "", (), L, 30.0, None),
    ("🏃‍♀️🔥 tempo ⚡️ 8 km 💨", "", (), Q, 8.0, None),
]


@pytest.mark.parametrize(
    ("summary", "description", "categories", "expected"),
    [(s, d, c, (k, km, m)) for s, d, c, k, km, m in SCENARIOS],
    ids=[f"{i:03d}-{s[:40]}" for i, (s, *_) in enumerate(SCENARIOS)],
)
def test_scenario(
    summary: str,
    description: str,
    categories: tuple[str, ...],
    expected: tuple[RunKind | None, float | None, int | None],
) -> None:
    kind, km, minutes = expected
    event = all_day(summary, description=description, categories=categories)
    run = classify_event(event, DEFAULTS, pace_min_per_km=6.0)
    if kind is None:
        assert run is None
        return
    assert run is not None
    assert run.kind is kind
    if km is None:
        assert run.distance_km is None
    else:
        assert run.distance_km == pytest.approx(km, abs=0.01)
    assert run.minutes == minutes
    assert run.title == summary
    assert run.priority is None


def test_scenario_table_is_big_enough() -> None:
    assert len(SCENARIOS) >= 60


# ------------------------------------------------------------------------------------------------
# parse_distance_km / parse_minutes


@pytest.mark.parametrize(
    ("text", "km"),
    [
        ("10 km", 10.0),
        ("10km", 10.0),
        ("15K", 15.0),
        ("12 kilometers", 12.0),
        ("8,5 km", 8.5),
        ("21.1k", 21.1),
        ("5mi", 5 * MI),
        ("1 mile", MI),
        ("18 miles", 18 * MI),
        ("10-mile tempo", 10 * MI),
        ("100 mi", 100 * MI),
        ("50K", 50.0),
        ("3000m", 3.0),
        ("1,500 m", 1.5),
        ("half marathon", 21.0975),
        ("Half-Marathon", 21.0975),
        ("marathon", 42.195),
        ("Long run 30 km (marathon prep)", 30.0),
        ("8-10 km", 10.0),
        ("8.5km @ Long Run pace (8:04/km - 7:00/km)", 8.5),
        ("Trail 25 km +1200m", 25.0),
        ("Trail 25 km, 1500 m D+", 25.0),
        # None: not distances
        ("", None),
        ("Intervals 8x400m", None),
        ("6 x 800 m", None),
        ("5 x 1 km @ 10K pace", None),
        ("6x800m (400m) @ VO2Max pace", None),
        ("@ 15K pace", None),
        ("at half marathon pace", None),
        ("10K effort", None),
        ("15K to half marathon race pace", None),
        ("Lactate threshold 10 w/ 4", None),
        ("Western States 100", None),
        ("5:30/km", None),
        ("12 km/h", None),
        ("45m", None),
        ("45 min", None),
        ("2026-05-02", None),
        ("07:00", None),
        ("2026", None),
    ],
)
def test_parse_distance_km(text: str, km: float | None) -> None:
    result = parse_distance_km(text)
    if km is None:
        assert result is None
    else:
        assert result == pytest.approx(km, abs=0.001)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("40 min", 40),
        ("40min", 40),
        ("40 mins", 40),
        ("40'", 40),
        ("90 minutes", 90),
        ("1:30", 90),
        ("0:45", 45),
        ("1:30:00", 90),
        ("2:59:30", 180),
        ("1h30", 90),
        ("1h30m", 90),
        ("1 h 30 min", 90),
        ("1 hour 30 minutes", 90),
        ("2 hrs", 120),
        ("2h", 120),
        ("1.5 h", 90),
        ("1,5 Std", 90),
        ("45m - 50m", 50),
        ("45-50 min", 50),
        ("30 to 40 min", 40),
        ("1:00-1:15", 75),
        ("Z2 45m", 45),
        ("60 min incl. 20 min tempo", 60),
        ("1:30 h", 90),
        # None: clock times, dates, years, paces, reps, seconds
        ("", None),
        ("07:00", None),
        ("at 6:30", None),
        ("7:00 am", None),
        ("Run 6:30", None),
        ("7:00-8:00", None),
        ("07:00-08:00", None),
        ("18:30", None),
        ("2026-05-02", None),
        ("02.05.2026", None),
        ("2026", None),
        ("5:30/km", None),
        ("8:04/km - 7:00/km", None),
        ("7:30 min/mile", None),
        ("3x10 min", None),
        ("10 x 1'", None),
        ("30''", None),
        ("30 sec", None),
        ("400m", None),
        ("3 m", None),
        ("Bike: 3:30 at 07:00", 210),
    ],
)
def test_parse_minutes(text: str, minutes: int | None) -> None:
    assert parse_minutes(text) == minutes


@given(st.text())
@settings(max_examples=300)
def test_parse_never_raises(text: str) -> None:
    km = parse_distance_km(text)
    minutes = parse_minutes(text)
    assert km is None or km > 0
    assert minutes is None or minutes > 0


NUMBERISH = st.text(alphabet="0123456789 .,:'-/x@hHmMkKiI+()", max_size=30)


@given(NUMBERISH, st.sampled_from(["", "Run ", "Race: ", "Easy ", "Long run "]))
@settings(max_examples=300)
def test_parse_never_raises_on_number_soup(text: str, prefix: str) -> None:
    parse_distance_km(prefix + text)
    parse_minutes(prefix + text)
    classify_event(all_day(prefix + text), DEFAULTS, pace_min_per_km=6.0)


# ------------------------------------------------------------------------------------------------
# minutes from the event, user patterns


def test_a_timed_runs_length_is_not_a_stated_duration() -> None:
    """The slot is a placeholder: ``minutes`` is only what the text states (the planner does volume)."""
    run = classify_event(
        timed("Easy run", datetime(2026, 5, 2, 7, tzinfo=BERLIN), 50), DEFAULTS, pace_min_per_km=6
    )
    assert run is not None
    assert run.minutes is None
    assert run.start == datetime(2026, 5, 2, 7, tzinfo=BERLIN)
    assert run.end == datetime(2026, 5, 2, 7, 50, tzinfo=BERLIN)


# (summary, description, slot minutes) -> (kind, distance_km, minutes, unit); 07:00 Berlin
TIMED: list[tuple[str, str, int, RunKind, float | None, int | None, str]] = [
    ("Long run 18 mi", "", 180, L, 28.97, None, "mi"),
    ("Long Run 30 km", "", 180, L, 30.0, None, "km"),
    ("Easy 40 min", "", 60, E, None, 40, "km"),
    ("Run: Easy Run 40 min", "", 90, E, None, 40, "km"),
    ("Z2 run 45m - 50m", "", 30, E, None, 50, "km"),
    ("Long run 2:30", "", 60, L, None, 150, "km"),
    ("Run: Aerobic Endurance", "Planned Time: 1:30:00\nPlanned Distance: 16.09 km", 60, E, 16.09, 90, "km"),
    ("Long Run", "Planned Time: 2:45:00\nPlanned Distance: 18 mi", 60, L, 28.97, 165, "mi"),
    ("🏃 Threshold Intervals • 5mi", "", 60, Q, 8.05, None, "mi"),
    ("Easy run", "45 min conversational pace", 60, E, None, None, "km"),  # timed: the notes are an aside
    # a generic run is long by: stated minutes, else distance x pace, else its timed length
    ("Run", "", 180, L, None, None, "km"),
    ("Run", "", 149, E, None, None, "km"),
    ("Run 32 km", "", 60, L, 32.0, None, "km"),  # 192 min at 6:00/km: the slot does not make it short
    ("Run 10 km", "", 180, E, 10.0, None, "km"),  # 60 min at 6:00/km: the slot does not make it long
    ("Run 1:00", "", 180, E, None, 60, "km"),
    ("Run 3h", "", 30, L, None, 180, "km"),
]


@pytest.mark.parametrize(
    ("summary", "description", "slot", "expected"),
    [(s, d, m, rest) for s, d, m, *rest in TIMED],
    ids=[f"{i:02d}-{s[:30]}-{m}" for i, (s, _, m, *_) in enumerate(TIMED)],
)
def test_timed_scenario(summary: str, description: str, slot: int, expected: list[object]) -> None:
    kind, km, minutes, unit = expected
    event = timed(summary, datetime(2026, 5, 2, 7, tzinfo=BERLIN), slot, description=description)
    run = classify_event(event, DEFAULTS, pace_min_per_km=6.0)
    assert run is not None
    assert (run.kind, run.minutes, run.unit) == (kind, minutes, unit)
    if km is None:
        assert run.distance_km is None
    else:
        assert run.distance_km == pytest.approx(km, abs=0.01)


# summary or description -> the unit the distance is written in
UNITS: list[tuple[str, str, str]] = [
    ("Long Run 18 mi", "", "mi"),
    ("🏃 Threshold Intervals • 5mi", "", "mi"),
    ("Easy 10 miles", "", "mi"),
    ("Tempo 1 mile repeats 4 mi", "", "mi"),
    ("Long run 16-18 mi", "", "mi"),
    ("Long run 20 mi w/ 12 @ marathon pace", "", "mi"),
    ("10-mile tempo", "", "mi"),
    ("Run: Aerobic Endurance", "Planned Distance: 8.00 mi", "mi"),
    ("Easy run", "6 mi easy, conversational", "mi"),
    ("Leadville 100 A-race", "", "mi"),  # an ultra's bare number is miles
    ("JFK 50 (C)", "", "mi"),
    ("Long Run 30 km", "", "km"),
    ("Recovery run 5k", "", "km"),
    ("Lavaredo 120K", "", "km"),
    ("Track 3000m time trial", "", "km"),
    ("Easy run 8,5 km", "", "km"),
    ("Run: Aerobic Endurance", "Planned Distance: 16.09 km", "km"),
    ("Marathon", "", "km"),  # a race known by name
    ("Half Marathon", "", "km"),
    ("Race: Western States 100", "", "km"),
    ("UTMB", "", "km"),
    ("Parkrun", "", "km"),
    ("Easy 40 min", "", "km"),  # no distance
    ("Intervals 8x400m", "", "km"),
    ("Marathon pace run", "", "km"),
    ("Run 10 km incl. 6x100m strides", "", "km"),
    ("Easy 3 mi + 6x1 mi @ 10K pace", "", "mi"),
]


@pytest.mark.parametrize(
    ("summary", "description", "unit"), UNITS, ids=[f"{i:02d}-{s}" for i, (s, *_) in enumerate(UNITS)]
)
def test_unit(summary: str, description: str, unit: str) -> None:
    run = classify_event(all_day(summary, description=description), DEFAULTS, pace_min_per_km=6.0)
    assert run is not None
    assert run.unit == unit


def test_unit_is_the_unit_of_the_distance_kept() -> None:
    km_first = classify_event(all_day("Long run 32 km (20 mi)"), DEFAULTS, pace_min_per_km=6.0)
    assert km_first is not None
    assert (km_first.distance_km, km_first.unit) == (32.1869, "mi")  # 20 mi is the longer: kept
    mi_first = classify_event(all_day("Long run 20 mi (30 km)"), DEFAULTS, pace_min_per_km=6.0)
    assert mi_first is not None
    assert (mi_first.distance_km, mi_first.unit) == (32.1869, "mi")


def test_text_duration_wins_over_event_length() -> None:
    event = timed("Easy 40 min", datetime(2026, 5, 2, 7, tzinfo=BERLIN), 60, recurrence_id="20260502T070000")
    run = classify_event(event, DEFAULTS, pace_min_per_km=6)
    assert run is not None
    assert run.minutes == 40
    assert run.recurrence_id == "20260502T070000"
    assert run.uid == "Easy 40 min"


def test_all_day_run_without_duration_has_no_minutes() -> None:
    run = classify_event(all_day("Easy run 10 km"), DEFAULTS, pace_min_per_km=6)
    assert run is not None
    assert run.minutes is None


def test_long_plain_timed_run_is_long() -> None:
    run = classify_event(
        timed("Run", datetime(2026, 5, 2, 7, tzinfo=BERLIN), 180), DEFAULTS, pace_min_per_km=6
    )
    assert run is not None
    assert run.kind is L


def test_pace_sets_when_a_distance_is_long() -> None:
    event = all_day("Run 22 km")
    fast = classify_event(event, DEFAULTS, pace_min_per_km=5.0)
    slow = classify_event(event, DEFAULTS, pace_min_per_km=7.0)
    assert fast is not None
    assert fast.kind is E
    assert slow is not None
    assert slow.kind is L


def test_user_patterns_come_first() -> None:
    config = Classification(
        not_run=(r"^Run club social",), long=(r"\bsunday special\b",), race=("Vereinsmeisterschaft",)
    )
    assert classify_event(all_day("Run club social 5 km"), config, pace_min_per_km=6) is None
    sunday = classify_event(all_day("Sunday Special"), config, pace_min_per_km=6)
    assert sunday is not None
    assert sunday.kind is L
    club = classify_event(all_day("Vereinsmeisterschaft 10 km"), config, pace_min_per_km=6)
    assert club is not None
    assert club.kind is R
    assert club.distance_km == 10.0


def test_user_patterns_search_description_then_categories() -> None:
    config = Classification(quality=(r"\bworkout of the day\b",), easy=("^Jogging$",))
    by_description = classify_event(
        all_day("Session", description="Workout of the day: 5x1k"), config, pace_min_per_km=6
    )
    assert by_description is not None
    assert by_description.kind is Q
    by_category = classify_event(all_day("Session", categories=("Jogging",)), config, pace_min_per_km=6)
    assert by_category is not None
    assert by_category.kind is E


def test_user_patterns_match_without_accents() -> None:
    config = Classification(race=("competicion",))
    run = classify_event(all_day("Competición 10K"), config, pace_min_per_km=6)
    assert run is not None
    assert run.kind is R


def test_defaults_can_be_switched_off() -> None:
    config = Classification(use_defaults=False, easy=("^Jog",))
    assert classify_event(all_day("Long Run 18 mi"), config, pace_min_per_km=6) is None
    jog = classify_event(all_day("Jog 5 km"), config, pace_min_per_km=6)
    assert jog is not None
    assert jog.kind is E
    assert jog.distance_km == 5.0


# ------------------------------------------------------------------------------------------------
# race priorities


def priorities(result: Classified) -> dict[str, str | None]:
    return {run.title: run.priority for run in result.runs}


def test_configured_a_race_wins() -> None:
    events = [
        all_day("Race: Marathon", date(2026, 9, 27)),
        all_day("Race: Half Marathon", date(2026, 6, 14)),
        all_day("Race: 50K (A)", date(2026, 8, 1)),
    ]
    result = classify(events, a_race=date(2026, 6, 14))
    assert priorities(result) == {
        "Race: Half Marathon": "A",
        "Race: 50K (A)": "A",  # its own tag is kept
        "Race: Marathon": "B",
    }


def test_configured_a_race_date_with_a_plain_run_makes_it_a_race() -> None:
    events = [
        all_day("Long Run 30 km", date(2026, 10, 4)),
        all_day("Easy 5 km", date(2026, 10, 4), uid="shakeout"),
        all_day("Race: 10K", date(2026, 9, 1)),
    ]
    result = classify(events, a_race=date(2026, 10, 4))
    by_title = {run.title: run for run in result.runs}
    assert by_title["Long Run 30 km"].kind is R
    assert by_title["Long Run 30 km"].priority == "A"
    assert by_title["Easy 5 km"].kind is E
    assert by_title["Easy 5 km"].priority is None
    assert by_title["Race: 10K"].priority == "B"


def test_configured_a_race_date_in_zone() -> None:
    # 23:30 UTC on 3 Oct is 4 Oct in Berlin
    start = datetime(2026, 10, 3, 23, 30, tzinfo=ZoneInfo("UTC"))
    result = classify([timed("Race: Marathon", start, 240)], a_race=date(2026, 10, 4))
    assert result.runs[0].priority == "A"


def test_configured_a_race_date_without_any_run_falls_back() -> None:
    events = [all_day("Race: Marathon", date(2026, 9, 27)), all_day("Race: 10K", date(2026, 6, 1))]
    result = classify(events, a_race=date(2026, 10, 4))
    assert priorities(result) == {"Race: 10K": "B", "Race: Marathon": "A"}


def test_tags() -> None:
    events = [
        all_day("Race: Marathon", date(2026, 9, 27)),
        all_day("Stadtlauf 10K [A]", date(2026, 6, 1)),
        all_day("Spring 15K A-Race", date(2026, 4, 1)),
        all_day("Parkrun (C)", date(2026, 5, 2)),
        all_day("Race: Half Marathon priority b", date(2026, 5, 9)),
        all_day("Race: Trail 30K", date(2026, 7, 4), description="Priority: C"),
    ]
    assert priorities(classify(events)) == {
        "Race: Marathon": "B",
        "Stadtlauf 10K [A]": "A",
        "Spring 15K A-Race": "A",
        "Parkrun (C)": "C",
        "Race: Half Marathon priority b": "B",
        "Race: Trail 30K": "C",
    }


def test_longest_race_in_horizon_is_a() -> None:
    events = [
        all_day("Race: Marathon", date(2026, 9, 27)),
        all_day("Race: 10K", date(2026, 6, 1)),
        all_day("Race: 100 mile", date(2027, 6, 26)),  # beyond the horizon
        all_day("Race: Half Marathon (C)", date(2026, 5, 1)),
    ]
    result = classify(events, horizon_end=date(2026, 12, 31))
    assert priorities(result) == {
        "Race: Half Marathon (C)": "C",
        "Race: 10K": "B",
        "Race: Marathon": "A",
        "Race: 100 mile": "B",
    }


def test_longest_ties_break_on_minutes_then_later_date() -> None:
    events = [
        all_day("Race: Marathon", date(2026, 4, 26)),
        all_day("Race: Marathon ", date(2026, 9, 27)),
        all_day("Race: Spring 10K 50 min", date(2026, 3, 1)),
        all_day("Race: Summer 10K 45 min", date(2026, 8, 1)),
    ]
    assert priorities(classify(events))["Race: Marathon "] == "A"
    only_10k = [e for e in events if "10K" in e.summary]
    assert priorities(classify(only_10k)) == {"Race: Spring 10K 50 min": "A", "Race: Summer 10K 45 min": "B"}


def test_no_races_no_priorities() -> None:
    result = classify([all_day("Long Run 30 km"), all_day("Easy 5 km", date(2026, 5, 3))])
    assert all(run.priority is None for run in result.runs)


# ------------------------------------------------------------------------------------------------
# busy time (R19)


def test_timed_non_run_is_busy_and_runs_are_not() -> None:
    meeting = timed("Team meeting", datetime(2026, 5, 4, 9, tzinfo=BERLIN), 60)
    run = timed("Easy run", datetime(2026, 5, 4, 7, tzinfo=BERLIN), 45)
    result = classify([meeting, run])
    assert result.busy == [Busy(meeting.start, meeting.end, "Team meeting")]  # type: ignore[arg-type]
    assert [r.title for r in result.runs] == ["Easy run"]


def test_timed_busy_is_in_the_plan_zone() -> None:
    start = datetime(2026, 5, 4, 7, tzinfo=ZoneInfo("UTC"))
    [block] = classify([timed("Dentist", start, 30)]).busy
    assert block.start == start
    assert block.start.tzinfo == BERLIN
    assert block.start.hour == 9


def test_zero_length_and_transparent_events_block_nothing() -> None:
    start = datetime(2026, 5, 4, 9, tzinfo=BERLIN)
    events = [
        timed("Reminder", start, 0),
        timed("Focus time", start, 120, busy=False),
        all_day("Holiday", date(2026, 5, 1), busy=False),
        timed("Flight to Berlin", start, 90, busy=False),
    ]
    assert classify(events).busy == []


# (summary, categories) -> what a non-run event is: training or not (R14)
TRAINING: list[tuple[str, tuple[str, ...], bool]] = [
    ("Bike: 3:30", (), True),
    ("Yoga", (), True),
    ("Swim", (), True),
    ("Easy bike 1h", (), True),
    ("Recovery ride 45'", (), True),
    ("Spin class", (), True),
    ("Strength training", (), True),
    ("Strength class", (), True),
    ("💪 Strength: Core", (), True),
    ("Gym", (), True),
    ("Pilates", (), True),
    ("CrossFit", (), True),
    ("Cross-training", (), True),
    ("Cross", (), True),
    ("XT 45'", (), True),
    ("Elliptical 40 min", (), True),
    ("Rowing", (), True),
    ("Ski touring", (), True),
    ("Skiing", (), True),
    ("Langlauf", (), True),
    ("Hike", (), True),
    ("Wanderung", (), True),
    ("Climbing", (), True),
    ("Bouldern", (), True),
    ("Tennis", (), True),
    ("Football", (), True),
    ("Brick: bike 40 km + run 5 km", (), True),
    ("Bike race 40 km", (), True),
    ("Swim 10x100 w/ 15'' rest", (), True),  # a rest between reps: still a swim
    ("Session 13", ("Strength",), True),
    ("Evening", ("Yoga", "Personal"), True),
    # not training
    ("Rest or cross-training", (), False),  # optional: the runner may rest
    ("Cross-training or rest", (), False),
    ("Optional yoga", (), False),
    ("Rest day", (), False),
    ("Off", (), False),
    ("Day Off", (), False),
    ("Rest or easy 20 min", (), False),
    ("Flight to Berlin", (), False),
    ("Trip to Rome", (), False),
    ("Drive to Munich", (), False),
    ("Ride to the airport", (), False),
    ("Massage", (), False),
    ("Sports massage", (), False),
    ("Physio", (), False),
    ("Sauna", (), False),
    ("Foam rolling", (), False),
    ("Mobility", (), False),
    ("Stretching", (), False),
    ("Walk", (), False),
    ("Team meeting", (), False),
    ("Core team meeting", (), False),
    ("Train to Kings Cross", (), False),
    ("Skat", (), False),
    ("Cycle day 3", (), False),
    ("Recovery week", (), False),
    ("Dentist", (), False),
    ("Birthday party", (), False),
    ("Rest or cross-training", ("Cross-training",), False),  # the summary decides
    ("Session 14", ("Travel",), False),
    ("Boxing Day", (), False),
    ("Bike shop: new tyres", (), False),
    ("Kraftfahrzeug TÜV", (), False),
    ("Boxing class", (), True),
    ("Krafttraining", (), True),
]


@pytest.mark.parametrize(
    ("summary", "categories", "training"),
    TRAINING,
    ids=[f"{i:02d}-{s}-{','.join(c)}" for i, (s, c, _) in enumerate(TRAINING)],
)
def test_training(summary: str, categories: tuple[str, ...], training: bool) -> None:
    start = datetime(2026, 5, 4, 17, tzinfo=BERLIN)
    for event in (timed(summary, start, 60, categories=categories), all_day(summary, categories=categories)):
        assert classify_event(event, DEFAULTS, pace_min_per_km=6.0) is None
        [block] = classify([event]).busy
        assert (block.title, block.training, block.transparent) == (summary, training, False)


def test_bike_is_training_busy_time() -> None:
    event = timed("Bike: 3:30", datetime(2026, 5, 9, 8, tzinfo=BERLIN), 210)
    result = classify([event])
    assert result.runs == []
    assert result.busy == [Busy(event.start, event.end, "Bike: 3:30", training=True)]  # type: ignore[arg-type]


def test_rest_or_cross_training_is_neither_a_run_nor_training() -> None:
    result = classify([all_day("Rest or cross-training", date(2026, 5, 10))])
    assert result.runs == []
    [block] = result.busy
    assert not block.training


def test_transparent_training_is_kept_transparent() -> None:
    """A free (transparent) bike ride blocks no time, but its day is a training day (R14)."""
    start = datetime(2026, 5, 9, 8, tzinfo=BERLIN)
    bike = timed("Bike", start, 120, busy=False)
    yoga = all_day("Yoga retreat", date(2026, 5, 10), busy=False)
    result = classify([bike, yoga])
    assert result.runs == []
    assert result.busy == [
        Busy(start, start + timedelta(hours=2), "Bike", training=True, transparent=True),
        Busy(
            datetime(2026, 5, 10, tzinfo=BERLIN),
            datetime(2026, 5, 11, tzinfo=BERLIN),
            "Yoga retreat",
            training=True,
            transparent=True,
        ),
    ]


def test_transparent_non_training_is_dropped_and_optional_training_too() -> None:
    start = datetime(2026, 5, 9, 8, tzinfo=BERLIN)
    events = [
        timed("Flight to Berlin", start, 120, busy=False),
        timed("Massage", start, 60, busy=False),
        all_day("Rest or cross-training", date(2026, 5, 10), busy=False),
    ]
    assert classify(events).busy == []


def test_training_without_a_length_marks_its_day_and_blocks_nothing() -> None:
    """A timed yoga class with no DTEND (end = start) still makes its day a training day."""
    start = datetime(2026, 5, 9, 18, tzinfo=BERLIN)
    [block] = classify([timed("Yoga", start, 0), timed("Reminder", start, 0)]).busy
    assert block == Busy(start, start, "Yoga", training=True, transparent=True)


def test_opaque_and_transparent_copies_are_both_kept_in_a_fixed_order() -> None:
    start = datetime(2026, 5, 9, 8, tzinfo=BERLIN)
    opaque = timed("Bike", start, 120, uid="b", source="a")
    free = timed("Bike", start, 120, uid="b", source="b", busy=False)
    first = classify([opaque, free]).busy
    assert first == classify([free, opaque]).busy
    assert [b.transparent for b in first] == [False, True]


def test_all_day_busy_covers_the_local_days() -> None:
    event = SourceEvent(uid="trip", summary="Trip to Rome", start=date(2026, 5, 4), end=date(2026, 5, 6))
    [block] = classify([event]).busy
    assert block.start == datetime(2026, 5, 4, tzinfo=BERLIN)
    assert block.end == datetime(2026, 5, 6, tzinfo=BERLIN)
    assert block.title == "Trip to Rome"


def test_all_day_busy_on_the_dst_day_is_23_hours() -> None:
    # Europe/Berlin springs forward on 29 March 2026
    [block] = classify([all_day("Conference", date(2026, 3, 29))]).busy
    assert block.start == datetime(2026, 3, 29, tzinfo=BERLIN)
    assert block.end == datetime(2026, 3, 30, tzinfo=BERLIN)
    assert block.end.timestamp() - block.start.timestamp() == 23 * 3600
    assert block.start.utcoffset() == timedelta(hours=1)
    assert block.end.utcoffset() == timedelta(hours=2)


def test_all_day_busy_on_the_autumn_dst_day_is_25_hours() -> None:
    [block] = classify([all_day("Conference", date(2026, 10, 25))]).busy
    assert block.end.timestamp() - block.start.timestamp() == 25 * 3600


def test_all_day_event_with_end_equal_start_is_one_day() -> None:
    event = SourceEvent(uid="x", summary="Holiday", start=date(2026, 5, 1), end=date(2026, 5, 1))
    [block] = classify([event]).busy
    assert block.end - block.start == timedelta(days=1)


def test_all_day_run_is_not_busy() -> None:
    assert classify([all_day("Long Run 18 mi")]).busy == []


def test_all_day_not_run_strength_is_busy() -> None:
    [block] = classify([all_day("💪 Strength: Legs")]).busy
    assert block.title == "💪 Strength: Legs"


# ------------------------------------------------------------------------------------------------
# order, duplicates, determinism


def test_runs_are_sorted() -> None:
    events = [
        timed("Tempo 8 km", datetime(2026, 5, 5, 18, tzinfo=BERLIN), 50, uid="b"),
        all_day("Long Run 18 mi", date(2026, 5, 3), uid="z"),
        timed("Easy 40 min", datetime(2026, 5, 5, 7, tzinfo=BERLIN), 40, uid="c"),
        all_day("Easy 5 km", date(2026, 5, 5), uid="a"),
        timed("Strides", datetime(2026, 5, 5, 7, tzinfo=BERLIN), 20, uid="a"),
    ]
    result = classify(events)
    assert [(r.uid, r.title) for r in result.runs] == [
        ("z", "Long Run 18 mi"),
        ("a", "Easy 5 km"),
        ("a", "Strides"),
        ("c", "Easy 40 min"),
        ("b", "Tempo 8 km"),
    ]


def test_identical_duplicates_from_two_sources_count_once() -> None:
    start = datetime(2026, 5, 3, 7, tzinfo=BERLIN)
    first = timed("Long Run 18 mi", start, 150, uid="lr", source="coach")
    second = timed("Long Run 18 mi", start, 150, uid="lr", source="mirror")
    same_instant_other_zone = timed(
        "Long Run 18 mi", start.astimezone(ZoneInfo("UTC")), 150, uid="lr", source="utc-feed"
    )
    result = classify([first, second, same_instant_other_zone])
    assert len(result.runs) == 1


def test_differing_copies_are_both_kept() -> None:
    start = datetime(2026, 5, 3, 7, tzinfo=BERLIN)
    original = timed("Long Run 18 mi", start, 150, uid="lr")
    moved = timed("Long Run 18 mi", start + timedelta(hours=2), 150, uid="lr")
    assert len(classify([original, moved]).runs) == 2


def test_duplicate_busy_counts_once() -> None:
    start = datetime(2026, 5, 4, 9, tzinfo=BERLIN)
    events = [
        timed("Meeting", start, 60, uid="m", source="a"),
        timed("Meeting", start, 60, uid="m", source="b"),
    ]
    assert len(classify(events).busy) == 1


POOL: list[SourceEvent] = [
    all_day("Long Run 18 mi", date(2026, 5, 3), uid="lr"),
    all_day("Long Run 18 mi", date(2026, 5, 3), uid="lr", source="mirror"),
    timed("Long Run 18 mi", datetime(2026, 5, 3, 7, tzinfo=BERLIN), 150, uid="lr"),
    timed("Long Run 18 mi", datetime(2026, 5, 3, 5, tzinfo=ZoneInfo("UTC")), 150, uid="lr"),
    timed("Intervals 8x400m", datetime(2026, 5, 5, 18, tzinfo=BERLIN), 60, uid="iv", recurrence_id="r1"),
    timed("Intervals 8x400m", datetime(2026, 5, 12, 18, tzinfo=BERLIN), 60, uid="iv", recurrence_id="r2"),
    all_day("Race: Marathon", date(2026, 9, 27), uid="m1"),
    all_day("Race: Marathon", date(2026, 9, 27), uid="m1", description="Priority: C"),
    all_day("Race: Half Marathon", date(2026, 9, 27), uid="m2"),
    all_day("Race: 10K (A)", date(2026, 6, 1), uid="r10"),
    all_day("Race: 10K", date(2026, 6, 1), uid="r10"),
    all_day("Race: Marathon", date(2026, 4, 26), uid="m0"),
    all_day("Easy 5 km", date(2026, 10, 4), uid="e5"),
    all_day("Long Run 25 km", date(2026, 10, 4), uid="e25"),
    timed("Team meeting", datetime(2026, 5, 4, 9, tzinfo=BERLIN), 60, uid="tm"),
    timed("Team meeting", datetime(2026, 5, 4, 7, tzinfo=ZoneInfo("UTC")), 60, uid="tm"),
    all_day("Conference", date(2026, 3, 29), uid="conf"),
    all_day("Holiday", date(2026, 5, 1), uid="hol", busy=False),
    all_day("Rest day", date(2026, 5, 6), uid="rest"),
    timed("Bike: 3:30", datetime(2026, 5, 9, 8, tzinfo=BERLIN), 210, uid="bk"),
    timed("Bike: 3:30", datetime(2026, 5, 9, 8, tzinfo=BERLIN), 210, uid="bk", busy=False),
    timed("Bike: 3:30", datetime(2026, 5, 9, 6, tzinfo=ZoneInfo("UTC")), 210, uid="bk", busy=False),
    all_day("Yoga", date(2026, 5, 9), uid="yo", busy=False),
    timed("Long Run 18 mi", datetime(2026, 5, 3, 7, tzinfo=BERLIN), 180, uid="lr", description="18 mi"),
]


@given(
    st.lists(st.sampled_from(POOL), max_size=14).flatmap(
        lambda xs: st.tuples(st.just(xs), st.permutations(xs))
    ),
    st.sampled_from([None, date(2026, 9, 27), date(2026, 10, 4), date(2026, 5, 3)]),
    st.sampled_from([date(2026, 8, 1), date(2027, 1, 1)]),
)
@settings(max_examples=200, deadline=None)
def test_result_does_not_depend_on_input_order(
    pair: tuple[list[SourceEvent], list[SourceEvent]], a_race: date | None, horizon_end: date
) -> None:
    events, shuffled = pair
    first = classify(events, a_race=a_race, horizon_end=horizon_end)
    second = classify(shuffled, a_race=a_race, horizon_end=horizon_end)
    assert first == second
    assert repr(first) == repr(second)  # the same copies kept, written the same way
    assert classify(list(reversed(events)), a_race=a_race, horizon_end=horizon_end) == first


def test_ten_thousand_events_are_fast() -> None:
    titles = [s for s, *_ in SCENARIOS]
    events = [
        timed(
            f"{titles[i % len(titles)]} #{i % 2000}",
            datetime(2026, 1, 1, 7, tzinfo=BERLIN) + timedelta(days=i % 365),
            60,
            uid=f"u{i}",
        )
        for i in range(10_000)
    ]
    began = clock.perf_counter()
    result = classify(events)
    elapsed = clock.perf_counter() - began
    assert len(result.runs) + len(result.busy) > 5000
    assert elapsed < 2.0  # typically well under a second; generous for slow CI machines


# ---- regressions --------------------------------------------------------------------------------


def test_description_aside_is_not_the_duration_of_a_timed_run() -> None:
    """Regression: "Warm up 15 min" in the notes of a 60-minute event made the run 15 minutes.

    The slot is no stated duration either: the planner takes the run's volume from it."""
    start = datetime(2026, 12, 1, 18, tzinfo=ZoneInfo("Europe/Berlin"))
    event = SourceEvent(
        uid="hills",
        summary="Run: Hill repeats 8x60s",
        start=start,
        end=start + timedelta(minutes=60),
        description="Warm up 15 min. 8 x 60 s uphill at hard effort, jog down. Cool down 10 min.",
    )
    run = classify_event(event, Classification(), pace_min_per_km=6.0)
    assert run is not None
    assert (run.kind, run.minutes) == (RunKind.QUALITY, None)


def test_description_aside_is_not_the_duration_of_a_long_run_with_a_distance() -> None:
    """Regression: "Eat every 30 min" made an all-day 18 km long run last 30 minutes."""
    event = SourceEvent(
        uid="long",
        summary="Long Run 18 km",
        start=date(2026, 12, 5),
        end=date(2026, 12, 6),
        description="Trail, about 630 m of climbing. Eat every 30 min, practise race-day nutrition.",
    )
    run = classify_event(event, Classification(), pace_min_per_km=6.0)
    assert run is not None
    assert (run.kind, run.distance_km, run.minutes) == (RunKind.LONG, 18.0, None)


def test_description_duration_still_counts_for_an_all_day_run_without_distance() -> None:
    event = SourceEvent(
        uid="easy",
        summary="Easy run",
        start=date(2026, 12, 2),
        end=date(2026, 12, 3),
        description="45 min conversational pace",
    )
    run = classify_event(event, Classification(), pace_min_per_km=6.0)
    assert run is not None
    assert run.minutes == 45


def test_a_timed_run_across_the_autumn_clock_change_lasts_its_real_hours() -> None:
    """An overnight ultra from 20:00 to 08:00 on the night clocks go back: its slot is no stated
    duration; a plain run's slot is measured in real hours when it decides long or easy."""
    berlin = ZoneInfo("Europe/Berlin")
    event = SourceEvent(
        uid="night",
        summary="Race: Night Trail 100 mi (A)",
        start=datetime(2026, 10, 24, 20, 0, tzinfo=berlin),
        end=datetime(2026, 10, 25, 8, 0, tzinfo=berlin),
    )
    run = classify_event(event, Classification(), pace_min_per_km=6.0)
    assert run is not None
    assert (run.minutes, run.unit) == (None, "mi")
    # 01:00-03:00 on 25 Oct is 180 real minutes (long), on 29 Mar 00:30-03:00 it is 90 (easy)
    autumn = SourceEvent(
        uid="a",
        summary="Run",
        start=datetime(2026, 10, 25, 1, tzinfo=berlin),
        end=datetime(2026, 10, 25, 3, tzinfo=berlin),
    )
    spring = SourceEvent(
        uid="s",
        summary="Run",
        start=datetime(2026, 3, 29, 0, 30, tzinfo=berlin),
        end=datetime(2026, 3, 29, 3, tzinfo=berlin),
    )
    long_run = classify_event(autumn, Classification(), pace_min_per_km=6.0)
    easy_run = classify_event(spring, Classification(), pace_min_per_km=6.0)
    assert long_run is not None
    assert easy_run is not None
    assert (long_run.kind, long_run.minutes) == (RunKind.LONG, None)
    assert (easy_run.kind, easy_run.minutes) == (RunKind.EASY, None)


def test_longest_race_without_distance_or_stated_minutes_goes_by_its_slot() -> None:
    """Races of unknown distance: the longer timed one is the A race (the slot is all there is)."""
    short = timed("Race: Spring Trail", datetime(2026, 9, 26, 9, tzinfo=BERLIN), 90)
    long = timed("Race: Autumn Trail", datetime(2026, 6, 6, 6, tzinfo=BERLIN), 600)
    assert priorities(classify([short, long])) == {"Race: Autumn Trail": "A", "Race: Spring Trail": "B"}
