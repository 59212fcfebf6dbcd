"""Hostile and odd input (issue 13): one bad event never loses a feed, no text stalls a pass."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calsync.adapters.ics_read import parse_ics
from calsync.core.classify import classify_event
from calsync.core.model import ReadResult, RunKind, SourceEvent
from calsync.core.settings import Classification
from conftest import corpus_files

BERLIN = ZoneInfo("Europe/Berlin")
WINDOW = (datetime(2026, 11, 30, tzinfo=BERLIN), datetime(2027, 1, 30, tzinfo=BERLIN))
GOOD = (
    "BEGIN:VEVENT\r\nUID:good\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261201T070000Z\r\n"
    "DTEND:20261201T080000Z\r\nSUMMARY:Easy Run 40 min\r\nEND:VEVENT\r\n"
)


def feed(*events: str) -> bytes:
    body = "".join(events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//odd//EN\r\n{body}END:VCALENDAR\r\n".encode()


def read(*events: str) -> ReadResult:
    return parse_ics(
        feed(*events), name="training", zone=BERLIN, window_start=WINDOW[0], window_end=WINDOW[1]
    )


PLAN_WINDOW = (datetime(2026, 11, 23, tzinfo=BERLIN), datetime(2027, 3, 1, tzinfo=BERLIN))
CORPUS_WINDOW = (datetime(2020, 1, 1, tzinfo=BERLIN), datetime(2030, 1, 1, tzinfo=BERLIN))


def parse_feed(
    data: bytes, window: tuple[datetime, datetime], budget_seconds: float | None = None
) -> ReadResult:
    """Read ``data`` as the feed named "feed" over ``window``."""
    return parse_ics(
        data,
        name="feed",
        zone=BERLIN,
        window_start=window[0],
        window_end=window[1],
        budget_seconds=budget_seconds,
    )


@pytest.mark.parametrize(
    ("label", "event"),
    [
        (
            "far-future start",
            "BEGIN:VEVENT\r\nUID:far\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:99991231T220000Z\r\n"
            "DTEND:99991231T230000Z\r\nSUMMARY:Far\r\nEND:VEVENT\r\n",
        ),
        (
            "year-1 start",
            "BEGIN:VEVENT\r\nUID:early\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Asia/Tokyo:"
            "00010101T010000\r\nDTEND;TZID=Asia/Tokyo:00010101T020000\r\nSUMMARY:Early\r\nEND:VEVENT\r\n",
        ),
    ],
)
def test_a_date_python_cannot_hold_is_one_skipped_event_not_a_lost_feed(label: str, event: str) -> None:
    result = parse_ics(
        feed(GOOD, event), name="training", zone=BERLIN, window_start=WINDOW[0], window_end=WINDOW[1]
    )
    assert [e.summary for e in result.events] == ["Easy Run 40 min"], label
    assert len(result.problems) == 1
    assert "skipped" in result.problems[0]
    assert "\n" not in result.problems[0]


def test_a_far_away_until_is_an_ordinary_series() -> None:
    """Exported calendars often end a series at 9999-12-31: it is clamped to the horizon."""
    tokyo = (
        "BEGIN:VEVENT\r\nUID:tempo\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;TZID=Asia/Tokyo:20261202T070000\r\n"
        "DTEND;TZID=Asia/Tokyo:20261202T080000\r\nRRULE:FREQ=WEEKLY;UNTIL=99991231T235959Z\r\n"
        "SUMMARY:Tempo Run\r\nEND:VEVENT\r\n"
    )
    result = parse_ics(
        feed(GOOD, tokyo), name="training", zone=BERLIN, window_start=WINDOW[0], window_end=WINDOW[1]
    )
    assert result.problems == []
    assert sum(1 for e in result.events if e.summary == "Tempo Run") == 9  # Dec 2 .. Jan 27, weekly


def _seconds(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def _classify(summary: str, description: str = "") -> object:
    event = SourceEvent(
        uid="u",
        summary=summary,
        start=datetime(2026, 12, 1, 7, tzinfo=BERLIN),
        end=datetime(2026, 12, 1, 8, tzinfo=BERLIN),
        description=description,
    )
    return classify_event(event, Classification(), pace_min_per_km=6.0)


@pytest.mark.parametrize(
    "filler",
    ["1", " ", "1 ", "1x", "1-", "1:", "1.", "a", "ab1 ", "1m "],
)
def test_no_text_makes_classification_slow(filler: str) -> None:
    """Long runs of digits, spaces and number-like text (a pasted ID) in the title or the
    description: each classification stays fast, and grows about linearly with the text."""
    text = (filler * 5000)[:5000]
    for summary, description in ((f"Easy Run {text}", ""), ("Easy Run", text), (f"{text} strides", text)):
        _classify(summary[:50], description[:50])  # warm the pattern caches
        spent = _seconds(lambda s=summary, d=description: _classify(s, d))  # type: ignore[misc]
        assert spent < 0.5, (filler, len(summary), len(description), spent)


def test_the_reported_digit_run_classifies_within_a_tenth_of_a_second() -> None:
    """Issue 13's reproduction: 800 digits took 8.4 s (cubic backtracking in the strides pattern)."""
    _classify("Easy Run 1")
    assert _seconds(lambda: _classify("Easy Run " + "1" * 5000)) < 0.1


@pytest.mark.parametrize(
    "pattern",
    [
        r"(a+)+$",
        r"(\w+\s?)*!",
        r"(?:easy|e)+x",
        r"(\d*)*#",
        r".*.*.*x",
        r"\w+\s*\w+\s*\w+!",
        r"(a{1,200}){1,200}",
        r"\d*\d*x\d*\d*y",
        r"(.*)(.*)(.*)x",
        r"(?=.*.*.*x)",
        r"x\d*\d*\d*\d*y|zzz",
        r".{0,20}.{0,20}.{0,20}.{0,20}x",
    ],
)
def test_a_user_pattern_that_can_backtrack_without_bound_is_refused(pattern: str) -> None:
    """Nested repetitions (exponential) and more than two repetitions that can backtrack (a
    polynomial of degree 4 and up) are refused when the config is read, naming the way out."""
    with pytest.raises(ValueError, match="possessive"):
        Classification(long=(pattern,))


@pytest.mark.parametrize(
    "pattern",
    [
        r"^long",
        r"\d+\s*x\s*\d+",
        r"long.*run",
        r"\d++\s*+x\s*+\d+",
        r"(?>\w+\s*)+!",
        r"z[12]\b",
        r"\btempo\b.*",
        r"(?:run|jog)+",
        r"long run.*\d++\s*km",
        r"\d{1,2}:\d{2}",
    ],
)
def test_ordinary_user_patterns_are_accepted(pattern: str) -> None:
    assert Classification(quality=(pattern,)).quality == (pattern,)


@pytest.mark.parametrize(
    "pattern",
    [
        r"\d*\d*!",
        r".*.*x",
        r"\s*\s*x",
        r"(?:a|b)\w*\w*!",
        r"\w+\s*\w+!",
        r"long.*run.*\d+",
        r"(.*)(.*)x",
        r"(?:x.*.*y|z)",
        r".{0,20}.{0,20}x",
    ],
)
@pytest.mark.parametrize("filler", ["1", " ", "a", "a a ", "ab1 ", "run "])
def test_the_worst_accepted_user_patterns_stay_fast_on_hostile_text(pattern: str, filler: str) -> None:
    """Two overlapping repetitions, the most allowed, on 5,000 characters of what they match,
    in the title and the description: user patterns see the first characters of each field."""
    rules = Classification(quality=(pattern,))
    text = (filler * 5000)[:5000]

    def event(first: str) -> SourceEvent:  # a new text each time: classification remembers events
        return SourceEvent(
            uid="u",
            summary=f"{first} {text}",
            start=datetime(2026, 12, 1, 7, tzinfo=BERLIN),
            end=datetime(2026, 12, 1, 8, tzinfo=BERLIN),
            description=text,
            categories=(text,),
        )

    classify_event(event("Warm"), rules, pace_min_per_km=6.0)
    assert _seconds(lambda: classify_event(event("Run"), rules, pace_min_per_km=6.0)) < 0.25


# -- the whole pipeline on odd and adversarial calendars ---------------------------------------------

WALL_CAP_SECONDS = 60.0
MEMORY_CAP_BYTES = 2 << 30
"""Per file: the process is killed past these (address space, so a runaway allocation fails)."""


def _event(uid: str, extra: str = "", summary: str = "Easy Run 40 min", start: str = "") -> str:
    start = start or "DTSTART:20261202T070000Z\r\nDTEND:20261202T080000Z\r\n"
    head = f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
    return f"{head}{start}SUMMARY:{summary}\r\n{extra}END:VEVENT\r\n"


def _zone(i: int) -> str:
    return (
        f"BEGIN:VTIMEZONE\r\nTZID:Custom/Zone{i}\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
        "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"
    )


def _day(i: int) -> str:
    return f"DTSTART:2026{11 + i % 2:02d}{1 + i % 28:02d}T{6 + i % 12:02d}0000Z\r\nDURATION:PT45M\r\n"


def hostile_calendars() -> dict[str, bytes]:
    """Odd and adversarial calendars, each with one good run besides (what must survive)."""
    head, tail, good = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//hostile//EN\r\n",
        "END:VCALENDAR\r\n",
        GOOD,
    )
    every_day = ",".join(map(str, range(1, 367)))
    texts: dict[str, str | bytes] = {
        "years 1 and 9999": head
        + good
        + _event("a", start="DTSTART:00010101T000000Z\r\nDTEND:00010101T010000Z\r\n")
        + _event("b", start="DTSTART:99991231T220000Z\r\nDTEND:99991231T230000Z\r\n")
        + tail,
        "UNTIL far away": head + good + _event("c", "RRULE:FREQ=DAILY;UNTIL=99991231T235959Z\r\n") + tail,
        "FREQ=SECONDLY without end": head + good + _event("d", "RRULE:FREQ=SECONDLY\r\n") + tail,
        "BYYEARDAY x BYHOUR x BYMINUTE from 1700": head
        + good
        + _event(
            "y",
            f"RRULE:FREQ=YEARLY;BYYEARDAY={every_day};BYHOUR={','.join(map(str, range(24)))};"
            f"BYMINUTE={','.join(map(str, range(60)))}\r\n",
            start="DTSTART:17000101T000000Z\r\nDTEND:17000101T000100Z\r\n",
        )
        + tail,
        "DTEND before DTSTART": head
        + good
        + _event("e", start="DTSTART:20261203T070000Z\r\nDTEND:20261201T070000Z\r\n")
        + tail,
        "a 10 MB line": head + good + _event("f", "DESCRIPTION:" + "x" * 10_000_000 + "\r\n") + tail,
        "3,000 VTIMEZONEs": head + "".join(_zone(i) for i in range(3000)) + good + tail,
        "3,000 VTIMEZONEs and a cut-off event": head
        + "".join(_zone(i) for i in range(3000))
        + good
        + "BEGIN:VEVENT\r\nUID:cut\r\nDTSTART:2026",
        "3,000 VTIMEZONEs, 3,000 events in them, cut off": head
        + "".join(_zone(i) for i in range(3000))
        + good
        + "".join(
            _event(f"z{i}", start=f"DTSTART;TZID=Custom/Zone{i}:20261201T070000\r\nDURATION:PT40M\r\n")
            for i in range(3000)
        )
        + "BEGIN:VEVENT\r\nUID:cut\r\nDTSTART:2026",
        "deep nesting": head + good + "BEGIN:VEVENT\r\n" * 5000 + "END:VEVENT\r\n" * 5000 + tail,
        "digit runs in every text": head
        + good
        + _event(
            "g",
            "".join(f"{p}:{'1' * 100_000}\r\n" for p in ("DESCRIPTION", "LOCATION", "CATEGORIES", "COMMENT")),
            summary="Easy Run " + "1" * 100_000,
        )
        + tail,
        "space runs in every text": head
        + good
        + _event("h", "DESCRIPTION:" + " " * 100_000 + "x\r\n", summary="Easy" + " " * 100_000 + "Run")
        + tail,
        "invalid UTF-8": (head + good).encode()
        + b"BEGIN:VEVENT\r\nUID:i\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261203T070000Z\r\n"
        + b"SUMMARY:Lauf \xff\xfe\xc3(\r\nEND:VEVENT\r\n"
        + tail.encode(),
        "CR-only line ends": (head + good + _event("j") + tail).replace("\r\n", "\r"),
        "5,000 events": head
        + good
        + "".join(_event(f"m{i}", summary=f"Meeting {i}", start=_day(i)) for i in range(5000))
        + tail,
    }
    return {name: text if isinstance(text, bytes) else text.encode() for name, text in texts.items()}


def _limits() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP_BYTES, MEMORY_CAP_BYTES))


def test_every_hostile_calendar_plans_or_fails_in_one_line_in_bounded_time_and_memory(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import threading

    report = []
    for index, (name, body) in enumerate(hostile_calendars().items()):
        source = tmp_path / f"{index}.ics"
        source.write_bytes(body)
        config = tmp_path / f"{index}.toml"
        config.write_text(
            f'[[plan]]\nid = "odd"\ntimezone = "Europe/Berlin"\nhorizon_weeks = 8\n\n'
            f'[[plan.source]]\nkind = "ics_file"\npath = "{source}"\n'
        )
        out, err = tmp_path / f"{index}.out", tmp_path / f"{index}.err"
        started = time.perf_counter()
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "calsync",
                    "--config",
                    str(config),
                    "plan",
                    "--format",
                    "json",
                    "--now",
                    "2026-11-27T07:30",
                ],
                stdout=stdout,
                stderr=stderr,
                preexec_fn=_limits,  # noqa: PLW1509 - only setrlimit, nothing that can deadlock
            )
        timer = threading.Timer(WALL_CAP_SECONDS, lambda p=process: os.kill(p.pid, signal.SIGKILL))
        timer.start()
        _, status, usage = os.wait4(process.pid, 0)
        timer.cancel()
        seconds = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        lines = err.read_text(errors="replace").strip().splitlines()
        report.append((seconds, usage.ru_maxrss // 1024, name))
        assert code in (0, 1), f"{name}: exit {code} after {seconds:.1f} s (killed at the cap?) {lines[-3:]}"
        assert len(lines) <= 1, (name, lines[-5:])
        assert not any("Traceback" in line for line in lines), name
        if code == 0:
            runs = [r["title"] for r in json.loads(out.read_text())["plans"][0]["runs"]]
            assert "Easy Run 40 min" in runs, (name, runs[:5])
    slowest = max(report)
    print(f"hostile suite: slowest {slowest[2]!r} {slowest[0]:.1f} s; peak {max(r[1] for r in report)} MB")


@pytest.mark.parametrize(
    "title",
    [
        "Easy 8 km + 6x (20s strides)",
        "Easy 6 x (100m strides)",
        "Easy 4x(20 sec strides)",
        "Easy 6 x 20 s strides",
    ],
)
def test_strides_stay_part_of_an_easy_run(title: str) -> None:
    """The linear strides reading keeps what the old pattern did: a count in brackets is no
    interval session (found in review of the rewrite)."""
    run = _classify(title)
    assert run is not None
    assert getattr(run, "kind", None) == RunKind.EASY


# -- a time budget per source read -------------------------------------------------------------------


def _many_events(count: int) -> bytes:
    return feed(
        *(
            f"BEGIN:VEVENT\r\nUID:e{n}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261201T{n % 24:02d}0000Z\r\n"
            f"DTEND:20261201T{n % 24:02d}3000Z\r\nSUMMARY:Easy Run {n} 40 min\r\nEND:VEVENT\r\n"
            for n in range(count)
        )
    )


def test_a_read_past_its_time_budget_fails_cleanly_naming_it() -> None:
    from calsync.errors import SourceError

    data = _many_events(3000)
    start = time.perf_counter()
    with pytest.raises(SourceError, match=r"took longer than 0\.2 s"):
        parse_feed(data, PLAN_WINDOW, budget_seconds=0.2)
    assert time.perf_counter() - start < 5.0
    # the default budget reads the same calendar in full
    result = parse_feed(data, PLAN_WINDOW)
    assert len(result.events) == 3000


def test_a_source_past_its_budget_fails_the_pass_and_deletes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from calsync.adapters import ics_read
    from test_cli import NOW, run_cli, weekly_long_runs, write_config

    source = tmp_path / "plan.ics"
    source.write_text(weekly_long_runs(6), encoding="utf-8")
    config = write_config(tmp_path, source)
    assert run_cli("--config", str(config), "sync", "--now", NOW) == 0
    target = tmp_path / "out" / "me.ics"
    written = target.read_bytes()
    source.write_bytes(_many_events(3000))
    monkeypatch.setattr(ics_read, "READ_BUDGET_SECONDS", 0.2)
    capsys.readouterr()
    assert run_cli("--config", str(config), "sync", "--now", NOW) == 1
    err = capsys.readouterr().err
    assert "took longer than 0.2 s" in err
    assert target.read_bytes() == written


# -- grown from the corpus: real calendars, mutated as an attacker or a broken exporter would -------

CORPUS_FILES = corpus_files()


def _mutations() -> dict[str, Callable[[bytes, int], bytes]]:
    """Each takes a calendar and a number (where, how much) and returns the damaged calendar."""

    def first(data: bytes, prop: bytes) -> int:
        index = data.find(b"\n" + prop)
        return index + 1 if index >= 0 else -1

    def set_value(prop: bytes, value: bytes) -> Callable[[bytes, int], bytes]:
        def mutate(data: bytes, _n: int) -> bytes:
            at = first(data, prop)
            if at < 0:
                return data
            end = data.find(b"\n", at)
            line = data[at:end]
            colon = line.find(b":")
            return data[: at + colon + 1] + value + data[end - (line.endswith(b"\r")) :]

        return mutate

    def digits_in_summary(data: bytes, n: int) -> bytes:
        at = first(data, b"SUMMARY")
        if at < 0:
            return data
        end = data.find(b"\n", at) - 1
        return data[:end] + b" " + b"7" * (1000 + n * 97 % 20000) + data[end:]

    return {
        "a digit run in a title": digits_in_summary,
        "year 9999": set_value(b"DTSTART", b"99991231T220000Z"),
        "year 1": set_value(b"DTSTART", b"00010101T000000Z"),
        "UNTIL far away": set_value(b"RRULE", b"FREQ=DAILY;UNTIL=99991231T235959Z"),
        "FREQ=SECONDLY": set_value(b"RRULE", b"FREQ=SECONDLY"),
        "DTEND before DTSTART": set_value(b"DTEND", b"19700101T000000Z"),
        "cut off": lambda data, n: data[: max(1, len(data) * (n % 97) // 100)],
        "CR-only line ends": lambda data, _n: data.replace(b"\r\n", b"\r").replace(b"\n", b"\r"),
        "invalid UTF-8": lambda data, n: data[: n % len(data)] + b"\xff\xfe\xc3" + data[n % len(data) :],
        "a 1 MB line": lambda data, _n: data.replace(
            b"END:VEVENT", b"X-HUGE:" + b"x" * (1 << 20) + b"\r\nEND:VEVENT", 1
        ),
        "nested events": lambda data, n: data.replace(
            b"END:VEVENT", b"BEGIN:VEVENT\r\n" * (n % 500) + b"END:VEVENT\r\n" * (n % 500) + b"END:VEVENT", 1
        ),
        "1,000 copies of a time zone": lambda data, _n: (
            data.replace(
                b"BEGIN:VTIMEZONE",
                data[data.find(b"BEGIN:VTIMEZONE") : data.find(b"END:VTIMEZONE") + 15] * 1000
                + b"BEGIN:VTIMEZONE",
                1,
            )
            if b"BEGIN:VTIMEZONE" in data
            else data
        ),
    }


MUTATIONS = _mutations()


@pytest.mark.corpus
@pytest.mark.skipif(not CORPUS_FILES, reason="the real-world ICS corpus is absent (set CALSYNC_SHARED)")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(
    index=st.integers(min_value=0, max_value=10_000),
    damage=st.lists(
        st.tuples(st.sampled_from(sorted(MUTATIONS)), st.integers(0, 1_000_000)), min_size=1, max_size=3
    ),
)
def test_corpus_calendars_damaged_are_read_or_refused_in_one_line(
    index: int, damage: list[tuple[str, int]]
) -> None:
    """A real calendar of the corpus with one to three kinds of damage: the read returns the events
    it can (the others skipped with a problem line each) or fails with one line naming the feed,
    within its time budget; what it returns classifies in bounded time."""
    from calsync.errors import SourceError

    data = CORPUS_FILES[index % len(CORPUS_FILES)].read_bytes()
    for name, number in damage:
        data = MUTATIONS[name](data, number)
    start = time.perf_counter()
    outcome: ReadResult | SourceError
    try:
        outcome = parse_feed(data, CORPUS_WINDOW, budget_seconds=20)
    except SourceError as err:
        outcome = err
    if isinstance(outcome, SourceError):
        assert str(outcome).startswith("feed: ")
        assert "\n" not in str(outcome)
    else:
        assert all(line.startswith("feed: ") and "\n" not in line for line in outcome.problems)
        for event in outcome.events[:2000]:
            classify_event(event, Classification(), pace_min_per_km=6.0)
    assert time.perf_counter() - start < 30, damage
