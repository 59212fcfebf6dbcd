"""Realistic feeds of several styles, as source events, for the coaching scenarios.

Each builder returns the events a source would give (titles as coaches and runners write them),
so the scenarios go through classification and planning, not around them. Builders take their
shape as parameters (weeks, weekdays, volumes), so a test can vary them rather than tune to one
file. ``plan_feed`` runs classify + plan with the plan's settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from calsync.config import parse_rules
from calsync.core.classify import classify_events
from calsync.core.model import PlanResult, Session, SourceEvent
from calsync.core.planner import PlanInput, plan
from calsync.core.settings import WEEKDAYS, Classification

ZONE = ZoneInfo("Europe/Berlin")
START = date(2027, 1, 4)
"""A Monday: week 0 of every feed."""
NOW = datetime.combine(START, time(5), ZONE)
ONE_HOUR = "Planned Time: 1:00"
THRESHOLD = "Lactate threshold 10 w/ 4 @ 15K to half marathon race pace"
"""A quality session, not a race (PRODUCT.md section 3)."""


def day(week: int, weekday: str) -> date:
    """The weekday (``mon``..``sun``) of week ``week`` from ``START``."""
    return START + timedelta(weeks=week, days=WEEKDAYS.index(weekday))


def timed(uid: str, title: str, on: date, hour: int, minutes: int, **extra: Any) -> SourceEvent:
    """A timed event in Berlin."""
    start = datetime.combine(on, time(hour), ZONE)
    return SourceEvent(uid=uid, summary=title, start=start, end=start + timedelta(minutes=minutes), **extra)


def all_day(uid: str, title: str, on: date, **extra: Any) -> SourceEvent:
    """An all-day event (TrainingPeaks and Garmin feeds are all-day)."""
    return SourceEvent(uid=uid, summary=title, start=on, end=on + timedelta(days=1), **extra)


def ultra_24_weeks(long_km: Sequence[float] | None = None, cutback_every: int = 4) -> list[SourceEvent]:
    """A 24-week 100 km build in km, all-day TrainingPeaks style: quality Tue, easy Wed/Thu,
    long Sat, back-to-back Sun in the later weeks; every ``cutback_every``-th week a planned
    down week; a 2-week taper; the A race on the Saturday of week 23."""
    events: list[SourceEvent] = []
    for week in range(23):
        cut = (week + 1) % cutback_every == 0
        scale = 0.65 if cut else 1.0
        base = long_km[week] if long_km else 16 + week * 1.2
        if week >= 21:  # taper
            scale = 0.7 if week == 21 else 0.45
            base = long_km[week] if long_km else 22
        long = round(base * scale)
        events += [
            all_day(
                f"q{week}",
                "Run: Tempo into VO2max spikes",
                day(week, "tue"),
                description="Planned Time: 1:00",
            ),
            all_day(f"e{week}a", f"Run: Easy Run {round(45 * scale)} min", day(week, "wed")),
            all_day(f"e{week}b", f"Run: Easy Run {round(40 * scale)} min", day(week, "thu")),
            all_day(f"l{week}", f"Long Run {long} km", day(week, "sat")),
        ]
        if 8 <= week < 21 and not cut:
            events.append(
                all_day(f"b{week}", f"Long Run {round(long / 2)} km (back-to-back)", day(week, "sun"))
            )
    events.append(all_day("race", "Race: Lavaredo 100K (A)", day(23, "sat")))
    events.append(all_day("shake", "Run: Shakeout 20 min", day(23, "thu")))
    return events


def coach_feed_3_weeks(first_week: int = 0) -> list[SourceEvent]:
    """What a TrainingPeaks / Final Surge link shows: the next 3 weeks, no race, the last week
    the biggest."""
    events: list[SourceEvent] = []
    for i, week in enumerate(range(first_week, first_week + 3)):
        events += [
            all_day(f"c{week}q", "Intervals 8x400m", day(week, "tue"), description="Planned Time: 1:05"),
            all_day(f"c{week}e", f"Run: Easy Run {40 + 5 * i} min", day(week, "thu")),
            all_day(f"c{week}f", "Run: Easy Run 35 min", day(week, "fri")),
            all_day(f"c{week}l", f"Long Run {14 + 2 * i} km", day(week, "sun")),
        ]
    return events


def miles_blocks(weeks: int = 8, first_long: int = 14) -> list[SourceEvent]:
    """A marathon plan typed by hand into identical calendar blocks, in miles: every long run a
    3-hour slot at 08:00 whatever its distance, easy runs and one threshold session in 1-hour
    slots; the marathon (A) two weeks after the last long run."""
    events: list[SourceEvent] = []
    for week in range(weeks):
        events += [
            timed(f"m{week}t", f"🏃 Threshold Intervals • {5 + week % 3}mi", day(week, "tue"), 18, 60),
            timed(f"m{week}e", "Easy 5 miles", day(week, "thu"), 18, 60),
            timed(f"m{week}l", f"Long run {first_long + week} mi", day(week, "sat"), 8, 180),
        ]
    for week in (weeks, weeks + 1):
        events += [
            timed(f"m{week}t", "🏃 Threshold Intervals • 4mi", day(week, "tue"), 18, 60),
            timed(f"m{week}l", f"Long run {12 if week == weeks else 8} mi", day(week, "sat"), 8, 180),
        ]
    events.append(all_day("marathon", "Berlin Marathon (A race)", day(weeks + 2, "sun")))
    return events


def runs_and_bikes(bike_days: Sequence[str], weeks: int = 3) -> list[SourceEvent]:
    """A triathlete-ish week: runs Tue/Thu/Sat (long), bike sessions on ``bike_days``."""
    events: list[SourceEvent] = []
    for week in range(weeks):
        events += [
            timed(f"r{week}q", "Run: Tempo 45 min", day(week, "tue"), 18, 45),
            timed(f"r{week}e", "Run: Easy Run 40 min", day(week, "thu"), 18, 40),
            all_day(f"r{week}l", f"Long Run {18 + week} km", day(week, "sat")),
        ]
        for name in bike_days:
            events.append(timed(f"bike{week}{name}", "Bike: 1:30 endurance", day(week, name), 17, 90))
    return events


def b50k_before_a_marathon() -> list[SourceEvent]:
    """12 weeks to an A marathon with a B 50K trail race five weeks before it."""
    events: list[SourceEvent] = []
    longs = [20, 22, 24, 18, 26, 0, 0, 28, 30, 32, 22, 14]
    for week, km in enumerate(longs):
        events += [
            all_day(
                f"x{week}q", "Lactate threshold 10 w/ 4 @ 15K to half marathon race pace", day(week, "tue")
            ),
            all_day(f"x{week}e", "Run: Easy Run 50 min", day(week, "thu")),
        ]
        if km:
            events.append(all_day(f"x{week}l", f"Long Run {km} km", day(week, "sun")))
    events.append(all_day("b50k", "Race: Trail 50K (B)", day(5, "sat")))
    events.append(all_day("x6f", "Run: Easy Run 30 min", day(6, "fri")))
    events.append(all_day("amara", "Race: Frankfurt Marathon (A)", day(12, "sun")))
    return events


def ends_in_a_race(race_km: float = 42.2) -> list[SourceEvent]:
    """Eight weeks of a plan ending in its race, with nothing after it."""
    events: list[SourceEvent] = []
    for week in range(8):
        events += [
            timed(f"z{week}q", "Run: Intervals 6x800m", day(week, "wed"), 18, 60),
            timed(f"z{week}e", "Run: Easy Run 45 min", day(week, "fri"), 18, 45),
            all_day(f"z{week}l", f"Long Run {18 + 2 * week if week < 6 else 16} km", day(week, "sun")),
        ]
    events.append(all_day("end", f"Race: City {race_km:g} km", day(8, "sun")))
    return events


@dataclass(frozen=True)
class Feed:
    """A feed and the plan settings to plan it with."""

    events: list[SourceEvent]
    rules: dict[str, Any] = field(default_factory=dict)
    horizon_weeks: int = 30
    a_race: date | None = None


def plan_feed(
    feed: Feed,
    *,
    now: datetime = NOW,
    fixed: Sequence[Session] = (),
    previous: Sequence[Session] = (),
    events: Sequence[SourceEvent] | None = None,
) -> PlanResult:
    """Classify and plan a feed as the pipeline does (the A race looked for past the horizon)."""
    rules = parse_rules(feed.rules)
    horizon_end = now.date() + timedelta(weeks=feed.horizon_weeks + 26)
    classified = classify_events(
        list(feed.events if events is None else events),
        Classification(),
        zone=ZONE,
        a_race=feed.a_race,
        horizon_end=horizon_end,
        pace_min_per_km=rules.default_pace_min_per_km,
    )
    return plan(
        PlanInput(
            plan_id="coach",
            zone=ZONE,
            runs=classified.runs,
            busy=classified.busy,
            rules=rules,
            now=now,
            horizon_weeks=feed.horizon_weeks,
            fixed=list(fixed),
            a_race=feed.a_race,
            previous=list(previous),
        )
    )


FEEDS = {
    "ultra-24-weeks": Feed(ultra_24_weeks()),
    "coach-3-weeks": Feed(coach_feed_3_weeks()),
    "miles-blocks": Feed(miles_blocks()),
    "runs-and-bikes": Feed(runs_and_bikes(["mon", "wed"])),
    "b50k-before-a-marathon": Feed(b50k_before_a_marathon()),
    "ends-in-a-race": Feed(ends_in_a_race()),
}
