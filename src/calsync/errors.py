"""Errors meant for people: the CLI prints their message as one line, without a traceback."""

from __future__ import annotations


class CalsyncError(Exception):
    """Base of every error calsync reports to a user."""

    exit_code = 1


class ConfigError(CalsyncError):
    """The configuration file is missing, unreadable or invalid (exit 2)."""

    exit_code = 2


class SourceError(CalsyncError):
    """A source calendar could not be read; nothing is deleted because of it (exit 1)."""


class TargetError(CalsyncError):
    """A target calendar could not be read or written; nothing is lost (exit 1)."""


class InterruptedPassError(TargetError):
    """A pass was asked to stop (the daemon is shutting down): the write in flight was finished,
    the rest is left for the next pass, which repairs it like after a crash."""


class TargetChangedError(TargetError):
    """Another program changed the target between calsync's read and its write: nothing was
    written (theirs is kept); the pass reads the target again and plans around it."""
