"""A small client for one Home Assistant instance: REST for reading calendars and posting sensor
states, the websocket API (``websockets``' sync client) for calendar writes.

Part of the *read* and *apply* steps for Home Assistant sources and targets. Every failure
becomes one line for people (a :class:`~calsync.errors.SourceError` or
:class:`~calsync.errors.TargetError`, as the caller chooses) naming the plan, the instance and
the entity, and what to do; the access token never appears in any message or log.
"""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import requests
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from calsync.adapters.http_deadline import Deadline
from calsync.errors import CalsyncError

log = logging.getLogger(__name__)

TOTAL_TIME_FACTOR = 4
"""A REST exchange may take this many times the timeout in all (a server trickling its answer
never trips the per-read timeout)."""

RETRY = "nothing was lost; the next pass tries again"
GONE = object()
"""What :meth:`HaClient.command` returns (``gone_ok``) when the event is not there."""


class _QuietLogger(logging.LoggerAdapter):  # type: ignore[type-arg]
    """What the websockets library logs through: never below INFO, so no frame (the auth frame
    holds the access token) is ever logged, whatever level ``-v`` sets."""

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging's name
        return level >= logging.INFO and self.logger.isEnabledFor(level)

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if level >= logging.INFO:
            super().log(level, msg, *args, **kwargs)

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """Dropped."""


_WS_LOG = _QuietLogger(logging.getLogger(__name__ + ".websocket"), {})


def _reason(err: BaseException) -> str:
    """A short cause of a connection failure (no URLs, no headers)."""
    text = str(err)
    for needle, reason in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "unknown host name"),
        ("nodename nor servname", "unknown host name"),
        ("Temporary failure in name resolution", "host name cannot be resolved now"),
        ("timed out", "timed out"),
        ("No route to host", "no route to host"),
        ("Network is unreachable", "network unreachable"),
        ("CERTIFICATE_VERIFY_FAILED", "its TLS certificate is not trusted"),
    ):
        if needle in text:
            return reason
    if isinstance(err, TimeoutError | requests.Timeout):
        return "timed out"
    return type(err).__name__


class HaClient:
    """Requests to one Home Assistant instance about one calendar entity.

    ``label`` starts every error message (e.g. ``plan me: target``); ``token_hint`` says where
    the token comes from (``token_file /run/...``), for the message about a rejected token.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        entity_id: str,
        label: str,
        error: type[CalsyncError],
        timeout: float = 30.0,
        verify_tls: bool = True,
        ca_file: Path | None = None,
        token_hint: str = "the configured token",
    ) -> None:
        self.url = url.rstrip("/")
        self.entity_id = entity_id
        self.label = label
        self.error = error
        self.timeout = timeout
        self.token_hint = token_hint
        self.requests = 0
        """REST requests and websocket commands (the websocket's log-in counts as one)."""
        self._token = token
        self._verify: bool | str = str(ca_file) if ca_file else verify_tls
        self._session: requests.Session | None = None
        self._deadline = Deadline()
        """``timeout`` bounds each socket read; this bounds a whole REST exchange."""
        self._ws: ClientConnection | None = None
        self._stack = contextlib.ExitStack()
        self._next_id = 1

    @property
    def where(self) -> str:
        """``Home Assistant at <url>, <entity>`` for messages."""
        return f"Home Assistant at {self.url}, {self.entity_id}"

    def fail(self, problem: str, advice: str = RETRY) -> CalsyncError:
        """The error to raise: one line naming the plan, the instance and entity, and what to do."""
        return self.error(f"{self.label} ({self.where}): {problem}; {advice}")

    # -- REST ------------------------------------------------------------------------------------

    def _http(self) -> requests.Session:
        if self._session is None:
            self._session = requests.Session()
            self._session.headers["Authorization"] = f"Bearer {self._token}"
            self._session.verify = self._verify
            self._deadline.guard(self._session)
        return self._session

    def rest(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        missing_ok: bool = False,
    ) -> Any:
        """One REST request; its JSON answer (None when it has no body, or with ``missing_ok``
        when it answered 404). Other failures raise."""
        self.requests += 1
        budget = TOTAL_TIME_FACTOR * self.timeout
        try:
            with self._deadline.within(budget):
                response = self._http().request(
                    method, self.url + path, params=params, json=body, timeout=self.timeout
                )
        except requests.RequestException as err:
            if self._deadline.expired:  # the watchdog cut a trickling answer
                raise self.fail(
                    f"{method} {path} took longer than {budget:g} s ({TOTAL_TIME_FACTOR} x the timeout)",
                    f"check that Home Assistant is not overloaded; {RETRY}",
                ) from None
            raise self._transport_error(err) from None
        if missing_ok and response.status_code == 404:
            return None
        self._check(response, method, path)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise self.fail(f"{method} {path} answered {response.status_code} with no JSON") from None

    def _transport_error(self, err: requests.RequestException) -> CalsyncError:
        """The error for a request that got no answer."""
        if isinstance(err, requests.exceptions.SSLError):
            return self.fail(
                f"the TLS connection failed ({_reason(err)})",
                "set ca_file to the CA that signed HA's certificate (or verify_tls = false)",
            )
        return self.fail(
            f"cannot reach Home Assistant ({_reason(err)})", f"check url and that HA runs; {RETRY}"
        )

    def _check(self, response: requests.Response, method: str, path: str) -> None:
        status = response.status_code
        if status < 300:
            return
        if status == 401 and method == "POST" and path.startswith("/api/states/"):
            raise self.fail(
                f"Home Assistant refused to set {path.rsplit('/', 1)[-1]} (401 Unauthorized)",
                "sensors need the token of an administrator user (or set sensors = false in [plan.target])",
            )
        if status == 401:
            raise self.fail(
                "Home Assistant rejected the access token (401 Unauthorized)",
                f"create a long-lived access token in your HA user profile (Security) and put it in "
                f"{self.token_hint}",
            )
        if status == 403:
            raise self.fail(
                f"the token's user may not {method} {path} (403 Forbidden)",
                "use a token of an administrator (or sensors = false)",
            )
        if status in (400, 404) and path.startswith("/api/calendars/") and not response.text.strip():
            raise self.fail(
                f"Home Assistant has no calendar entity {self.entity_id}", self._known_calendars()
            )
        detail = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        raise self.fail(f"{method} {path} answered {status}" + (f" ({detail})" if detail else ""))

    def _known_calendars(self) -> str:
        """Advice for an unknown entity: the calendars HA has."""
        try:
            self.requests += 1
            listed = self._http().get(self.url + "/api/calendars", timeout=self.timeout).json()
            names = sorted(str(c["entity_id"]) for c in listed)
        except Exception:  # only advice: the error itself is already known
            return "check entity_id"
        if not names:
            return "check entity_id; HA has no calendars"
        more = f" and {len(names) - 10} more" if len(names) > 10 else ""
        return "check entity_id; HA has " + ", ".join(names[:10]) + more

    # -- websocket -------------------------------------------------------------------------------

    def _websocket(self) -> ClientConnection:
        if self._ws is not None:
            return self._ws
        ws_url = "ws" + self.url[4:] + "/api/websocket"
        context: ssl.SSLContext | None = None
        if ws_url.startswith("wss://"):
            context = ssl.create_default_context(
                cafile=self._verify if isinstance(self._verify, str) else None
            )
            if self._verify is False:
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
        self.requests += 1
        stack = contextlib.ExitStack()
        try:
            # as a context manager: websockets >= 17.1 deprecates connecting without one
            ws = stack.enter_context(
                connect(
                    ws_url,
                    ssl=context,
                    open_timeout=self.timeout,
                    close_timeout=2,
                    max_size=None,
                    ping_interval=None,  # every command waits for its answer with a timeout instead
                    logger=_WS_LOG,
                )
            )
        except InvalidStatus as err:
            raise self.fail(f"the websocket API answered {err.response.status_code}") from None
        except (InvalidURI, InvalidHandshake, OSError, TimeoutError) as err:
            raise self.fail(
                f"cannot open the websocket API ({_reason(err)})", f"check url and that HA runs; {RETRY}"
            ) from None
        try:
            hello = self._receive(ws)
            if hello.get("type") == "auth_required":
                ws.send(json.dumps({"type": "auth", "access_token": self._token}))
                hello = self._receive(ws)
            if hello.get("type") != "auth_ok":
                raise self.fail(
                    "Home Assistant rejected the access token (websocket auth_invalid)",
                    f"create a long-lived access token in your HA user profile (Security) and put it in "
                    f"{self.token_hint}",
                )
        except BaseException:
            stack.close()
            raise
        self._ws, self._stack = ws, stack
        return ws

    def _drop(self) -> None:
        """Forget a broken websocket and close what it holds (its thread, its socket)."""
        self._ws = None
        stack, self._stack = self._stack, contextlib.ExitStack()
        try:
            stack.close()
        except Exception:  # closing a broken connection
            log.debug("%s: closing the websocket failed", self.label, exc_info=True)

    def _receive(self, ws: ClientConnection, during: str = "") -> dict[str, Any]:
        try:
            message = json.loads(ws.recv(timeout=self.timeout))
        except ConnectionClosed:
            self._drop()
            raise self.fail(f"the websocket connection to Home Assistant dropped{during}") from None
        except TimeoutError:
            self._drop()
            ws.close()
            raise self.fail(f"Home Assistant did not answer within {self.timeout:g} s") from None
        if not isinstance(message, dict):
            raise self.fail("Home Assistant sent something that is not a websocket message")
        return message

    def command(self, kind: str, *, gone_ok: bool = False, **fields: Any) -> Any:
        """One websocket command; its ``result``. An error answer raises (``not_found`` names the
        entity; ``failed`` etc. carry HA's message), except that with ``gone_ok`` an answer that
        the event (``uid``) does not exist returns :data:`GONE`."""
        ws = self._websocket()
        ident = self._next_id
        self._next_id += 1
        self.requests += 1
        try:
            ws.send(json.dumps({"id": ident, "type": kind, **fields}))
        except ConnectionClosed:
            self._drop()
            raise self.fail(f"the websocket connection to Home Assistant dropped before {kind}") from None
        while True:
            message = self._receive(ws, f" during {kind} (it may or may not be done)")
            if message.get("id") != ident or message.get("type") != "result":
                continue  # events and pongs of other ids
            if message.get("success"):
                return message.get("result")
            error = message.get("error") or {}
            code, text = str(error.get("code", "")), str(error.get("message", ""))
            if gone_ok and "no existing item" in text.lower():
                return GONE
            if code == "not_found" and "entity" in text.lower():
                raise self.fail(
                    f"Home Assistant has no calendar entity {self.entity_id}", self._known_calendars()
                )
            raise self.fail(f"Home Assistant refused {kind}: {code}: {text}")

    def close(self) -> None:
        """Close the websocket and the HTTP connections."""
        self._ws = None
        try:
            self._stack.close()
        except Exception:  # closing a broken connection
            log.debug("%s: closing the websocket failed", self.label, exc_info=True)
        if self._session is not None:
            self._session.close()
            self._session = None
