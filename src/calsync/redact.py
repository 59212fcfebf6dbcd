"""Secrets out of messages and logs: URLs as people may see them.

A calendar feed's URL is often a secret by itself (``webcal://host/feed/3f9a8c...d2.ics``,
``?token=...``): anyone who has it reads the calendar. :func:`redact_url` keeps what helps a
person find the feed (scheme, host, port, the readable parts of the path, query keys) and hides
the rest; :func:`without_credentials` only drops ``user:password@``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import SplitResult, parse_qsl, urlsplit, urlunsplit

HIDDEN = "***"
_TOKEN_CHARS = re.compile(r"^[A-Za-z0-9_\-.~%=+]+$")
_MIN_SECRET_LENGTH = 4
"""Shorter strings are not scrubbed from text (they would hide ordinary words)."""


def _netloc(parts: SplitResult) -> str:
    """Host and port, without user information."""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def without_credentials(url: str) -> str:
    """The URL without ``user:password@`` (everything else as given)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    return urlunsplit((parts.scheme, _netloc(parts), parts.path, parts.query, parts.fragment))


def collection_url(url: str) -> str:
    """A CalDAV collection's URL as calsync names it: without ``user:password@``, ending in ``/``."""
    clean = without_credentials(url)
    return clean if clean.endswith("/") else clean + "/"


def looks_like_token(segment: str) -> bool:
    """Whether a path segment looks like a secret (a long random-looking string, a UUID, a hash).

    Words and dates stay readable: ``calendar``, ``basic.ics``, ``2026-11``, ``training-plan``.
    """
    stem = segment.rsplit(".", 1)[0] if "." in segment[1:] else segment
    if not _TOKEN_CHARS.match(stem):
        return False
    has_digit = any(ch.isdigit() for ch in stem)
    mixed_case = any(ch.islower() for ch in stem) and any(ch.isupper() for ch in stem)
    return (len(stem) >= 16 and (has_digit or mixed_case)) or len(stem) >= 32


def _redact_segment(segment: str) -> str:
    if not looks_like_token(segment):
        return segment
    if "." in segment[1:]:
        extension = segment.rsplit(".", 1)[1]
        if 0 < len(extension) <= 5 and extension.isalpha():
            return f"{HIDDEN}.{extension}"
    return HIDDEN


def redact_url(url: str) -> str:
    """The URL for messages and logs: scheme, host and port kept; user information dropped;
    query values, fragments and token-like path segments replaced by ``***``.

    >>> redact_url("webcal://me:pw@example.org/feed/3f9a8c51e0b2d2c4.ics?token=abc&lang=de")
    'webcal://example.org/feed/***.ics?token=***&lang=***'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return HIDDEN
    path = "/".join(_redact_segment(segment) for segment in parts.path.split("/"))
    query = "&".join(
        (pair.split("=", 1)[0] + "=" + HIDDEN) if "=" in pair else (HIDDEN if pair else "")
        for pair in parts.query.split("&")
    )
    fragment = HIDDEN if parts.fragment else ""
    return urlunsplit((parts.scheme, _netloc(parts), path, query, fragment))


def url_secrets(url: str) -> list[str]:
    """The parts of a URL that :func:`redact_url` hides (user information, query values,
    token-like path segments), for :func:`scrub`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = [parts.username or "", parts.password or ""]
    found += [pair.split("=", 1)[1] if "=" in pair else pair for pair in parts.query.split("&")]
    found += [segment for segment in parts.path.split("/") if looks_like_token(segment)]
    found.append(parts.fragment)
    return [secret for secret in found if len(secret) >= _MIN_SECRET_LENGTH]


_SECRET_QUERY_KEYS = frozenset(
    {"token", "key", "apikey", "api_key", "access_token", "auth", "secret", "sig", "signature"}
    | {"password", "pass", "pwd", "code", "private", "k", "t"}
)


def likely_secrets(url: str) -> list[str]:
    """The parts of a URL worth masking wherever they appear (in any log line): the password,
    token-like path segments (also without their ``.ics``), and query values that look like
    tokens or sit under keys like ``token=`` / ``key=``. Narrower than :func:`url_secrets`,
    which a message about this very URL may hide wholesale: ``tz=Europe/Berlin`` stays readable."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = [parts.password or ""]
    for segment in parts.path.split("/"):
        if looks_like_token(segment):
            found += [segment, segment.rsplit(".", 1)[0]]
    found += [
        value
        for key, value in parse_qsl(parts.query)
        if key.lower() in _SECRET_QUERY_KEYS or looks_like_token(value)
    ]
    return [secret for secret in found if len(secret) >= _MIN_SECRET_LENGTH]


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` with every known secret (of at least 4 characters) replaced by ``***``."""
    for secret in sorted({s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return text
