"""Generate config/example-plan.ics, the bundled example training plan (the README's first command).

A 20-week plan for a 100 km trail ultra, as a coach's calendar would hold it: recurring weekday
sessions (RRULE, with one EXDATE, one moved occurrence and one cancelled one), all-day long runs
with distances, back-to-back weekends, a B race, the A race, and a few events that are not runs.
Europe/Berlin with its VTIMEZONE; summer time starts inside the plan (Sunday 28 March 2027).

Deterministic: fixed UIDs and DTSTAMPs, no clock reads. Standard library only. Run it from anywhere:
``python config/make_example_plan.py`` rewrites the .ics next to this script; the committed .ics
is the product, this script only documents how it was made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

TZID = "Europe/Berlin"
DTSTAMP = "20261101T090000Z"
DOMAIN = "example-plan.calsync.invalid"
PLAN_START = date(2026, 11, 30)  # Monday of week 1 (2026-W49)

VTIMEZONE = [
    "BEGIN:VTIMEZONE",
    f"TZID:{TZID}",
    "X-LIC-LOCATION:Europe/Berlin",
    "BEGIN:DAYLIGHT",
    "TZOFFSETFROM:+0100",
    "TZOFFSETTO:+0200",
    "TZNAME:CEST",
    "DTSTART:19700329T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
    "END:DAYLIGHT",
    "BEGIN:STANDARD",
    "TZOFFSETFROM:+0200",
    "TZOFFSETTO:+0100",
    "TZNAME:CET",
    "DTSTART:19701025T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
    "END:STANDARD",
    "END:VTIMEZONE",
]


def day_of(week: int, weekday: int) -> date:
    """The date of a weekday (0 = Monday) in a plan week (1-based)."""
    return PLAN_START + timedelta(weeks=week - 1, days=weekday)


def escape(text: str) -> str:
    """TEXT value escaping (RFC 5545 3.3.11)."""
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def fold(line: str) -> list[str]:
    """Fold a content line at 75 octets, never inside a UTF-8 character."""
    out: list[str] = []
    current, size = "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > (75 if not out else 74):
            out.append(current)
            current, size = "", 0
        current += char
        size += width
    out.append(current)
    return [out[0]] + [" " + part for part in out[1:]]


def local(day: date, hhmm: str) -> str:
    """``20261201T180000`` for a local wall time."""
    hour, minute = (int(p) for p in hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute).strftime("%Y%m%dT%H%M%S")


@dataclass
class Event:
    """One VEVENT (a master, a single event, or an override)."""

    uid: str
    summary: str
    day: date
    at: str | None = None
    """``HH:MM`` local start; None for all-day."""
    minutes: int = 0
    days: int = 1
    """Length of an all-day event in days."""
    description: str = ""
    location: str = ""
    rrule: str = ""
    exdates: list[date] = field(default_factory=list)
    recurrence_of: date | None = None
    """For an override: the day of the occurrence it replaces (same time of day as the master)."""
    master_at: str | None = None
    status: str = ""
    transp: str = ""
    sequence: int = 0
    categories: str = ""

    def lines(self) -> list[str]:
        """The event's content lines, unfolded."""
        out = ["BEGIN:VEVENT", f"UID:{self.uid}@{DOMAIN}", f"DTSTAMP:{DTSTAMP}"]
        if self.recurrence_of is not None:
            out.append(f"RECURRENCE-ID;TZID={TZID}:{local(self.recurrence_of, self.master_at or '00:00')}")
        if self.at is None:
            out.append(f"DTSTART;VALUE=DATE:{self.day:%Y%m%d}")
            out.append(f"DTEND;VALUE=DATE:{self.day + timedelta(days=self.days):%Y%m%d}")
        else:
            start = datetime.strptime(local(self.day, self.at), "%Y%m%dT%H%M%S")
            end = start + timedelta(minutes=self.minutes)
            out.append(f"DTSTART;TZID={TZID}:{start:%Y%m%dT%H%M%S}")
            out.append(f"DTEND;TZID={TZID}:{end:%Y%m%dT%H%M%S}")
        if self.rrule:
            out.append(f"RRULE:{self.rrule}")
        if self.exdates:
            assert self.at is not None, "EXDATE only for timed series here"
            out.append(f"EXDATE;TZID={TZID}:" + ",".join(local(d, self.at) for d in self.exdates))
        out.append(f"SUMMARY:{escape(self.summary)}")
        if self.description:
            out.append(f"DESCRIPTION:{escape(self.description)}")
        if self.location:
            out.append(f"LOCATION:{escape(self.location)}")
        if self.categories:
            out.append(f"CATEGORIES:{self.categories}")
        if self.status:
            out.append(f"STATUS:{self.status}")
        if self.transp:
            out.append(f"TRANSP:{self.transp}")
        if self.sequence:
            out.append(f"SEQUENCE:{self.sequence}")
        out.append("END:VEVENT")
        return out


INTERVALS_TEXT = "Warm up 15 min easy + drills. 6 x 800 m at 5K effort, 400 m jog between. Cool down 10 min."
HILLS_TEXT = "Warm up 15 min. 8 x 60 s uphill at hard effort, jog down. Cool down 10 min."
TEMPO_TEXT = "10 min easy, 25 min at comfortably hard (half-marathon effort), 10 min easy."

# Saturday long runs (km) per plan week; None where the week has something else.
LONG_KM: dict[int, int | None] = {
    1: 18, 2: 20, 3: 22, 4: 16, 5: 24, 6: 26, 7: 28, 8: 20, 9: 28, 10: 30,
    11: 32, 12: None, 13: 34, 14: None, 15: 24, 16: 34, 17: 38, 18: 26, 19: 18, 20: None,
}  # fmt: skip
# Sunday: ("easy", minutes) timed at 09:00, ("b2b", km) all-day back-to-back, or None.
SUNDAY: dict[int, tuple[str, int] | None] = {
    1: ("easy", 40), 2: ("easy", 45), 3: ("easy", 50), 4: ("easy", 40), 5: ("easy", 50),
    6: ("easy", 50), 7: ("easy", 50), 8: ("easy", 45), 9: ("b2b", 14), 10: ("easy", 60),
    11: ("b2b", 12), 12: None, 13: ("easy", 60), 14: None, 15: ("easy", 45), 16: ("b2b", 18),
    17: ("b2b", 16), 18: ("easy", 45), 19: ("easy", 40), 20: None,
}  # fmt: skip


def weekly_series() -> list[Event]:
    """The recurring weekday sessions, with their exceptions."""
    return [
        # Base: hills on Tuesdays, weeks 1-6.
        Event("tue-hills", "Run: Hill repeats 8x60s", day_of(1, 1), "18:00", 60,
              description=HILLS_TEXT, rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=6"),
        # Build and peak: intervals on Tuesdays, weeks 7-17; the one 3 days after the B race is
        # cancelled by an override with STATUS:CANCELLED.
        Event("tue-intervals", "Run: Intervals 6x800m", day_of(7, 1), "18:00", 60,
              description=INTERVALS_TEXT, rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=11"),
        Event("tue-intervals", "Run: Intervals 6x800m", day_of(15, 1), "18:00", 60,
              description="Cancelled: recovery after the marathon.", recurrence_of=day_of(15, 1),
              master_at="18:00", status="CANCELLED", sequence=1),
        # Taper: shorter intervals, weeks 18-19.
        Event("tue-intervals-taper", "Run: Intervals 4x800m", day_of(18, 1), "18:00", 50,
              description="Warm up 15 min. 4 x 800 m at 5K effort, 400 m jog. Cool down 10 min.",
              rrule="FREQ=WEEKLY;BYDAY=TU;COUNT=2"),
        # Easy Wednesdays: 45 min in base, 60 min from week 7 to 17.
        Event("wed-easy-45", "Run: Easy Run 45 min", day_of(1, 2), "18:00", 45,
              description="Conversational pace, flat.", rrule="FREQ=WEEKLY;BYDAY=WE;COUNT=6"),
        Event("wed-easy-60", "Run: Easy Run 60 min", day_of(7, 2), "18:00", 60,
              description="Conversational pace, rolling terrain.", rrule="FREQ=WEEKLY;BYDAY=WE;COUNT=11"),
        # Tempo Thursdays, weeks 1-17: none on Christmas Eve (EXDATE); in week 10 it moves to
        # Friday (a RECURRENCE-ID override).
        Event("thu-tempo", "Run: Tempo 45 min", day_of(1, 3), "18:00", 45,
              description=TEMPO_TEXT, rrule="FREQ=WEEKLY;BYDAY=TH;COUNT=17", exdates=[date(2026, 12, 24)]),
        Event("thu-tempo", "Run: Tempo 45 min", day_of(10, 4), "18:00", 45,
              description=TEMPO_TEXT + "\nMoved to Friday: team dinner on Thursday.",
              recurrence_of=day_of(10, 3), master_at="18:00", sequence=1),
        Event("thu-tempo-taper", "Run: Tempo 30 min", day_of(18, 3), "18:00", 30,
              description="10 min easy, 10 min at half-marathon effort, 10 min easy.",
              rrule="FREQ=WEEKLY;BYDAY=TH;COUNT=2"),
    ]  # fmt: skip


def weekend_and_singles() -> list[Event]:
    """Long runs, Sunday runs, races, taper-week singles and the events that are not runs."""
    events: list[Event] = []
    for week, km in LONG_KM.items():
        if km is not None:
            sat = day_of(week, 5)
            events.append(
                Event(f"long-{sat:%Y%m%d}", f"Long Run {km} km", sat,
                      description=f"Trail, about {km * 35} m of climbing. Eat every 30 min, "
                      "practise race-day nutrition.")
            )  # fmt: skip
    for week, sunday in SUNDAY.items():
        sun = day_of(week, 6)
        if sunday is None:
            continue
        kind, amount = sunday
        if kind == "easy":
            events.append(
                Event(f"sun-easy-{sun:%Y%m%d}", f"Run: Easy Run {amount} min", sun, "09:00", amount,
                      description="Recovery pace.")
            )  # fmt: skip
        else:
            events.append(
                Event(f"b2b-{sun:%Y%m%d}", f"Long Run {amount} km (back-to-back)", sun,
                      description="Second day of a back-to-back weekend: run on tired legs, easy effort.")
            )  # fmt: skip
    events += [
        # Week 12: ski weekend, so the cutback long run moves to Friday.
        Event("long-20270219", "Long Run 20 km", day_of(12, 4),
              description="Cutback week; on Friday because of the ski weekend."),
        Event("ski-weekend-2027", "Ski weekend (Arlberg)", day_of(12, 5), days=2,
              location="St. Anton am Arlberg, Austria", transp="OPAQUE"),
        # Week 14: the B race, a trail marathon six weeks out.
        Event("race-b-2027", "Race: Taunus Winter Trail Marathon 42K (B)", day_of(14, 5),
              description="Tune-up race: practise pacing, kit and fuelling. Do not race it all-out.",
              location="Königstein im Taunus, Germany", categories="Race"),
        # Week 20: race week.
        Event("race-week-tue", "Run: Easy Run 40 min with 4 strides", day_of(20, 1), "18:00", 40),
        Event("race-week-thu", "Run: Easy Run 30 min", day_of(20, 3), "18:00", 30),
        Event("race-week-fri", "Run: Shakeout 20 min", day_of(20, 4), "17:00", 20,
              description="Very easy, after travelling to the race.", location="Girona, Spain"),
        Event("race-a-2027", "Race: Costa Brava Ultra Trail 100K (A)", day_of(20, 5),
              description="The goal race. 100 km, 4,800 m of climbing. Start 05:00.",
              location="Girona, Spain", categories="Race"),
        # Taper Wednesdays.
        Event("taper-wed-1", "Run: Easy Run 45 min", day_of(18, 2), "18:00", 45),
        Event("taper-wed-2", "Run: Easy Run 40 min", day_of(19, 2), "18:00", 40),
        # Not runs: busy time only.
        Event("dentist-2027", "Dentist", day_of(10, 0), "07:15", 45, location="Dr. Weber, Hauptstraße 12"),
        Event("bike-20270222", "Bike: 1:30 easy spin", day_of(13, 0), "17:30", 90,
              description="Cross-training, low effort."),
    ]  # fmt: skip
    return events


def calendar_text() -> str:
    """The whole VCALENDAR, CRLF line endings, folded."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//calsync//example training plan//EN",
        "CALSCALE:GREGORIAN",
        "X-WR-CALNAME:Training plan: Costa Brava Ultra Trail 100K",
        f"X-WR-TIMEZONE:{TZID}",
        *VTIMEZONE,
    ]
    for event in weekly_series() + weekend_and_singles():
        lines += event.lines()
    lines.append("END:VCALENDAR")
    return "".join(part + "\r\n" for line in lines for part in fold(line))


def main() -> None:
    """Write example-plan.ics next to this script."""
    target = Path(__file__).resolve().parent / "example-plan.ics"
    target.write_bytes(calendar_text().encode("utf-8"))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
