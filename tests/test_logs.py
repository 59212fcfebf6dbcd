"""Secrets never reach a log line: whatever logs them (calsync, a library, a traceback)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from calsync import logs
from calsync.config import parse_config


def _handler_output(record_args: tuple[object, ...], message: str, *, exc: bool = False) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(logs.MaskSecrets())
    logger = logging.getLogger("calsync.tests.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        if exc:
            try:
                raise RuntimeError(message % record_args)
            except RuntimeError:
                logger.exception(message, *record_args)
        else:
            logger.warning(message, *record_args)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_a_secret_read_from_the_environment_is_masked_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "pw-Zq81-never-in-a-log"
    monkeypatch.setenv("CALSYNC_TEST_LOGS_PW", secret)
    config = parse_config(
        '[[plan]]\nid = "me"\ntimezone = "UTC"\n[[plan.source]]\nkind = "caldav"\n'
        'url = "https://dav.example.org/cal/"\nusername = "me"\npassword_env = "CALSYNC_TEST_LOGS_PW"\n',
        Path("calsync.toml"),
    )
    assert config.plan[0].source[0].password("x") == secret  # type: ignore[union-attr]
    out = _handler_output((secret,), "connecting with %s")
    assert secret not in out
    assert logs.MASK in out
    traced = _handler_output((secret,), "failed: %s", exc=True)
    assert secret not in traced
    assert "RuntimeError" in traced


def test_token_like_parts_of_a_feed_url_are_masked() -> None:
    parse_config(
        '[[plan]]\nid = "me"\ntimezone = "UTC"\n[[plan.source]]\nkind = "ics_url"\n'
        'url = "webcal://coach.example.org/feed/9f8e7d6c5b4a39281706f5e4?key=abcdEFGH1234"\n',
        Path("calsync.toml"),
    )
    out = _handler_output((), "GET /feed/9f8e7d6c5b4a39281706f5e4?key=abcdEFGH1234 HTTP/1.1")
    assert "9f8e7d6c5b4a39281706f5e4" not in out
    assert "abcdEFGH1234" not in out
    assert "/feed/" in out, "what is not secret stays readable"


def test_short_values_are_not_taken_for_secrets() -> None:
    logs.remember_secret("ab")
    assert logs.mask("about tabs") == "about tabs"
