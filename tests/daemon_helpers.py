"""Helpers for tests that run ``calsync daemon`` as a real process: a run plan dated from today
(the daemon plans at the real clock), configs, and a handle on the process and its log."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

CALSYNC = [sys.executable, "-m", "calsync"]
_T = TypeVar("_T")


def monday(day: date) -> date:
    """The Monday of ``day``'s week."""
    return day - timedelta(days=day.weekday())


def rolling_plan(*, weeks: int = 12, moved_week: int | None = None, today: date | None = None) -> bytes:
    """A run plan starting this week: an easy run every Wednesday evening and an all-day long run
    every Saturday (on Thursday in ``moved_week``), then a marathon as the A race."""
    first = monday(today or date.today())
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calsync tests//daemon//EN"]

    def event(uid: str, start: str, end: str, summary: str) -> None:
        lines.extend(
            ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", start, end, f"SUMMARY:{summary}"]
        )
        lines.append("END:VEVENT")

    for week in range(weeks):
        wednesday = first + timedelta(weeks=week, days=2)
        event(
            f"easy-{week}@tests",
            f"DTSTART;TZID=Europe/Berlin:{wednesday:%Y%m%d}T180000",
            f"DTEND;TZID=Europe/Berlin:{wednesday:%Y%m%d}T184500",
            "Easy run 45 min",
        )
        long_day = first + timedelta(weeks=week, days=3 if week == moved_week else 5)
        event(
            f"long-{week}@tests",
            f"DTSTART;VALUE=DATE:{long_day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{long_day + timedelta(days=1):%Y%m%d}",
            f"Long Run {20 + week} km",
        )
    race = first + timedelta(weeks=weeks, days=6)
    event(
        "race@tests",
        f"DTSTART;VALUE=DATE:{race:%Y%m%d}",
        f"DTEND;VALUE=DATE:{race + timedelta(days=1):%Y%m%d}",
        "Race: City Marathon (A)",
    )
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()


def wait_for(what: str, check: Callable[[], _T | None], *, timeout: float, every: float = 0.1) -> _T:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


class DaemonProcess:
    """``calsync --config FILE daemon`` running in the background, its log in a file."""

    def __init__(
        self, config: Path, log: Path, env: dict[str, str] | None = None, *, verbose: bool = False
    ) -> None:
        self.config = config
        self.log_path = log
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [*CALSYNC, "--config", str(config), *(["-v"] if verbose else []), "daemon"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )

    @property
    def log(self) -> str:
        """Everything the daemon logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, text: str, *, timeout: float = 30.0, count: int = 1) -> str:
        """Wait until ``text`` appears ``count`` times in the log; returns the log."""

        def seen() -> str | None:
            if self.process.poll() is not None:
                raise AssertionError(f"the daemon exited ({self.process.returncode}):\n{self.log}")
            log = self.log
            return log if log.count(text) >= count else None

        try:
            return wait_for(f"{text!r} in the daemon's log", seen, timeout=timeout)
        except AssertionError as err:
            raise AssertionError(f"{err}\n--- daemon log ---\n{self.log}") from None

    def times_of(self, text: str) -> list[float]:
        """When each log line holding ``text`` was written (seconds, from the log's timestamps)."""
        stamps = []
        for line in self.log.splitlines():
            if text in line:
                stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
                stamps.append(stamp.timestamp())
        return stamps

    def signal(self, signum: int) -> None:
        """Send a signal to the daemon."""
        self.process.send_signal(signum)

    def stop(self, timeout: float = 15.0, *, send: bool = True) -> int:
        """SIGTERM (unless ``send`` is false: one was sent already; a second would mean "now"),
        and the exit code (SIGKILL and a failure if it takes longer than ``timeout``)."""
        if send and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the daemon did not stop within {timeout} s:\n{self.log}") from None
        finally:
            self._log.close()

    def kill(self) -> None:
        """Make sure the process is gone (test clean-up)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()
