"""calsync: strength sessions and rest days placed around a runner's training plan."""

__version__ = "0.1.0"
