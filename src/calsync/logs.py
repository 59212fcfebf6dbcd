"""Logging for people and for journald, with every secret calsync has read masked out.

Passwords and tokens are read at the moment they are used (``config.read_secret``), which
remembers them here; a filter on the handler replaces them in every record, including those of
libraries (urllib3 logs request lines at DEBUG) and tracebacks, so ``-v`` never leaks one.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from calsync.redact import likely_secrets

MASK = "***"
_MIN_SECRET_LENGTH = 4
_secrets: set[str] = set()
_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Mask this value in every log record from now on."""
    if value and len(value) >= _MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value)


def remember_url_secrets(url: str) -> None:
    """Mask what in a URL is likely a secret (:func:`calsync.redact.likely_secrets`)."""
    for secret in likely_secrets(url):
        remember_secret(secret)


def mask(text: str) -> str:
    """``text`` with every remembered secret replaced by ``***``."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class MaskSecrets(logging.Filter):
    """Rewrites each record's message (and traceback) with the secrets masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record in place; never drops it."""
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to the formatter to report
            return True
        record.msg, record.args = mask(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        return True


def configure(*, verbose: bool, level: int = logging.WARNING) -> None:
    """Log to stderr: without timestamps under journald (it adds its own), with them elsewhere.

    ``level`` is calsync's own level (INFO for the daemon); ``verbose`` is DEBUG for everything.
    """
    under_journald = bool(os.environ.get("JOURNAL_STREAM"))
    fmt = "%(levelname)s %(name)s: %(message)s"
    if not under_journald:
        fmt = "%(asctime)s " + fmt
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(fmt))
    handler.addFilter(MaskSecrets())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("calsync").setLevel(logging.DEBUG if verbose else level)
    for noisy in ("urllib3", "caldav"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    # websockets logs frames at DEBUG, the auth frame shortened: a shortened token is no longer
    # the secret the mask knows, so its frames are never logged
    logging.getLogger("websockets").setLevel(logging.INFO if verbose else logging.WARNING)
    # APScheduler warns about every poll skipped while a slow pass runs: the daemon reports those
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if verbose else logging.ERROR)
