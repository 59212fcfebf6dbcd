"""The dates one pass of one plan looks at (pure): the weeks it plans and the span it reads.

The same for every way calsync runs (``calsync plan`` / ``sync``, the daemon, the Home Assistant
integration), so a plan does not depend on where it was made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from calsync.core.model import week_start

HISTORY_WEEKS = 16
"""Past weeks read: their runs set the peak volume, the recoveries after races and R12."""
LOOKAHEAD_WEEKS = 26
"""Read well past the horizon: an A race beyond it still sets the taper, the peak and which race
is A, and a long run just after it still protects the days before it."""


@dataclass(frozen=True)
class Window:
    """The weeks planned (``first_week`` to ``horizon_end``, exclusive) and the span read."""

    first_week: date
    horizon_end: date
    read_start: datetime
    read_end: datetime

    @property
    def race_horizon(self) -> date:
        """How far the A race is looked for (PRODUCT.md "Phases")."""
        return self.horizon_end + timedelta(weeks=LOOKAHEAD_WEEKS)


def planning_window(zone: tzinfo, horizon_weeks: int, now: datetime) -> Window:
    """The window of a plan in ``zone`` planning ``horizon_weeks`` from the week of ``now``."""
    first_week = week_start(now.astimezone(zone).date())
    horizon_end = first_week + timedelta(weeks=horizon_weeks)
    read_start = datetime.combine(first_week - timedelta(weeks=HISTORY_WEEKS), datetime.min.time(), zone)
    read_end = datetime.combine(horizon_end + timedelta(weeks=LOOKAHEAD_WEEKS), datetime.min.time(), zone)
    return Window(first_week, horizon_end, read_start, read_end)
