"""A small WebDAV client over the standard library: what calsync's CalDAV adapter sends and reads.

Issue 12: the ``caldav`` library (with niquests and urllib3-future) cost about 0.19 s of import
per process, twice vdirsyncer's whole idle pass. calsync needs five requests (``REPORT``
sync-collection and calendar-multiget, ``PROPFIND``, conditional ``PUT`` and ``DELETE``) and a
multistatus reader; this module is that, on :mod:`http.client`, :mod:`ssl` and
:mod:`xml.etree.ElementTree`:

* :class:`WebDav`: one persistent connection per client (HTTP/1.1 keep-alive; a connection the
  server closed is opened again, and a request that meets a closed idle connection is sent once
  more on a fresh one), TLS (``verify`` / ``ca_file``), authentication (``basic`` sent with every
  request; ``digest`` after the server's first challenge; ``None``: the scheme the server's first
  401 names), redirects (301/302/307/308, method and body kept, credentials only to the same
  origin, never from https to http), an HTTP proxy from the environment as the HTTP libraries
  take it (``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY``, ``NO_PROXY``; a CONNECT tunnel for
  TLS). Every request on the wire is counted in :attr:`WebDav.requests` (an authentication
  round trip and a redirect hop too).
* Time: ``timeout`` bounds each read, and each request as a whole may take ``total`` seconds: the
  socket's timeout is set to what is left before every read, so a server trickling its answer a
  byte at a time is cut at the total (:class:`TooSlowError`) without a watchdog thread.
* :func:`parse_multistatus`: a ``207`` body read with ElementTree after a refusal of any DOCTYPE
  (so no entity, internal or external, is ever declared); hrefs resolved against the request URL
  and unquoted once; per-response status, the properties of the 2xx propstats, the sync token and
  RFC 6578's truncation marker. :func:`preconditions` reads a ``DAV:error`` body.

Transport failures are :class:`TransportError` subclasses; HTTP statuses are answers, never
exceptions: the caller decides what a 401 or a 412 means.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit
from xml.etree import ElementTree as ET
from xml.parsers import expat

DAV = "{DAV:}"
CALDAV = "{urn:ietf:params:xml:ns:caldav}"
MAX_REDIRECTS = 10
_REDIRECTS = (301, 302, 307, 308)
_USER_AGENT = "calsync"


# -- failures ---------------------------------------------------------------------------------------


class TransportError(Exception):
    """No HTTP answer: ``reason`` is the short text of the cause (never a password)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ConnectFailedError(TransportError):
    """No connection, or the connection was lost before a whole answer came."""


class ReadTimeoutError(TransportError):
    """Connecting or one read took longer than ``timeout``."""


class TlsError(TransportError):
    """The TLS handshake failed (certificate, protocol)."""


class TooSlowError(TransportError):
    """The whole request took longer than ``total`` seconds (each read within ``timeout``)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no whole answer within {seconds:g} s")
        self.seconds = seconds


class DavXmlError(ValueError):
    """A body that is not the WebDAV XML expected (or declares a DOCTYPE)."""


# -- sockets with a deadline ------------------------------------------------------------------------


class _ExpiredError(Exception):
    """The request's total time is up (raised inside a read, turned into TooSlowError)."""


class _Clock:
    """The limits of the request in flight on one connection's socket."""

    def __init__(self, read_timeout: float) -> None:
        self.read_timeout = read_timeout
        self.deadline = float("inf")

    def left(self) -> float:
        """Seconds for the next socket operation: the read timeout, or less near the deadline."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _ExpiredError
        return min(self.read_timeout, remaining)

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline


def _timed_recv(sock: socket.socket, clock: _Clock, recv: Any, *args: Any) -> int:
    sock.settimeout(clock.left())
    try:
        return int(recv(*args))
    except TimeoutError:
        if clock.expired():
            raise _ExpiredError from None
        raise


class _PlainSocket(socket.socket):
    """A TCP socket whose every read waits at most until the request's deadline."""

    clock: _Clock

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        return _timed_recv(self, self.clock, super().recv_into, buffer, nbytes, flags)


class _TlsSocket(ssl.SSLSocket):
    """The same over TLS (made by the context: ``SSLContext.sslsocket_class``)."""

    clock: _Clock

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        return _timed_recv(self, self.clock, super().recv_into, buffer, nbytes, flags)


@dataclass(frozen=True)
class _Proxy:
    """An HTTP proxy from the environment (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``; not
    for the hosts of ``NO_PROXY``), as the HTTP libraries take it."""

    host: str
    port: int
    authorization: str | None

    @classmethod
    def for_url(cls, scheme: str, host: str) -> _Proxy | None:
        proxies = {
            name.lower().removesuffix("_proxy"): value
            for name, value in sorted(os.environ.items(), key=lambda item: item[0].islower())
            if name.lower().endswith("_proxy") and value  # the lower-case name wins, as in urllib
        }
        url = proxies.get(scheme) or proxies.get("all")
        if not url or _bypassed(host, proxies.get("no", "")):
            return None
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            raise ConnectFailedError(
                f"proxy {parts.scheme}://{parts.hostname}: only http:// proxies are supported"
            )
        authorization = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        return cls(parts.hostname, parts.port or 8080, authorization)


def _bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` names the host (``*``, the host, or a domain it lies in)."""
    host = host.lower().strip("[]")
    for given in (e.strip().lower() for e in no_proxy.split(",")):
        entry = given.rsplit(":", 1)[0] if given.count(":") == 1 else given  # without a port
        domain = entry.lstrip(".").strip("[]")
        if entry == "*" or (domain and (host == domain or host.endswith("." + domain))):
            return True
    return False


class _Connection(http.client.HTTPConnection):
    """One keep-alive connection to an origin, over TLS when ``tls`` is given, through a proxy
    when one is set (a CONNECT tunnel for TLS, else requests in absolute form)."""

    def __init__(
        self, origin: _Origin, *, tls: ssl.SSLContext | None, clock: _Clock, proxy: _Proxy | None
    ) -> None:
        peer = (proxy.host, proxy.port) if proxy is not None else (origin.host, origin.port)
        super().__init__(*peer, timeout=clock.read_timeout)
        self.origin = origin
        self.tls = tls
        self.clock = clock
        self.proxy = proxy
        self.opened = 0
        """TCP connections made so far."""

    @property
    def absolute_form(self) -> bool:
        """Requests name the whole URL (plain HTTP through a proxy)."""
        return self.proxy is not None and self.tls is None

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), self.clock.left())
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                if self.proxy is not None:
                    self._tunnel_through(raw, self.proxy)
                sock: socket.socket = self.tls.wrap_socket(raw, server_hostname=self.origin.host)
                assert isinstance(sock, _TlsSocket)
            else:
                sock = _PlainSocket(raw.family, raw.type, raw.proto, fileno=raw.detach())
        except BaseException:
            raw.close()
            raise
        sock.clock = self.clock
        sock.settimeout(self.clock.left())  # sending the request waits no longer than a read
        self.sock = sock
        self.opened += 1

    def _tunnel_through(self, raw: socket.socket, proxy: _Proxy) -> None:
        where = f"{self.origin.host}:{self.origin.port}"
        lines = [f"CONNECT {where} HTTP/1.1", f"Host: {where}"]
        if proxy.authorization:
            lines.append(f"Proxy-Authorization: {proxy.authorization}")
        raw.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
        answer = http.client.HTTPResponse(raw, method="CONNECT")
        answer.begin()
        if answer.status != 200:
            raise ConnectFailedError(f"the proxy refused the tunnel (HTTP {answer.status} {answer.reason})")


def tls_context(*, verify: bool = True, ca_file: str | None = None) -> ssl.SSLContext:
    """The TLS settings: the system's CAs (or ``ca_file``'s), or no checks at all (tests only)."""
    context = ssl.create_default_context(cafile=ca_file)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.sslsocket_class = _TlsSocket
    return context


# -- authentication ---------------------------------------------------------------------------------

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_CHALLENGE_PART = re.compile(rf'\s*,?\s*({_TOKEN})(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]*))?')


def challenges(header: str) -> dict[str, dict[str, str]]:
    """The schemes of a ``WWW-Authenticate`` value (lower case) with their parameters."""
    found: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for match in _CHALLENGE_PART.finditer(header):
        name, value = match.group(1), match.group(2)
        if value is None:
            current = found.setdefault(name.lower(), {})
        elif current is not None:
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            current[name.lower()] = value
    return found


_DIGESTS = {
    "MD5": hashlib.md5,
    "SHA": hashlib.sha1,
    "SHA-256": hashlib.sha256,
    "SHA-512": hashlib.sha512,
}


class _Digest:
    """RFC 7616 Digest: the server's last challenge and the count of requests made with it."""

    def __init__(self, params: Mapping[str, str]) -> None:
        self.params = dict(params)
        self.count = 0

    def header(self, method: str, target: str, username: str, password: str) -> str | None:
        algorithm = self.params.get("algorithm", "MD5").upper()
        session = algorithm.endswith("-SESS")
        hash_name = algorithm.removesuffix("-SESS")
        if hash_name not in _DIGESTS:
            return None
        qops = [q.strip() for q in self.params.get("qop", "").split(",") if q.strip()]
        if qops and "auth" not in qops:
            return None  # auth-int only: not offered

        def h(text: str) -> str:
            return _DIGESTS[hash_name](text.encode("utf-8")).hexdigest()

        realm, nonce = self.params.get("realm", ""), self.params.get("nonce", "")
        self.count += 1
        count = f"{self.count:08x}"
        cnonce = os.urandom(8).hex()
        secret = h(f"{username}:{realm}:{password}")
        if session:
            secret = h(f"{secret}:{nonce}:{cnonce}")
        request = h(f"{method}:{target}")
        if qops:
            answer = h(f"{secret}:{nonce}:{count}:{cnonce}:auth:{request}")
        else:
            answer = h(f"{secret}:{nonce}:{request}")
        fields = [
            f'username="{username}"',
            f'realm="{realm}"',
            f'nonce="{nonce}"',
            f'uri="{target}"',
            f'response="{answer}"',
            f"algorithm={self.params.get('algorithm', 'MD5')}",
        ]
        if "opaque" in self.params:
            fields.append(f'opaque="{self.params["opaque"]}"')
        if qops:
            fields += ["qop=auth", f"nc={count}", f'cnonce="{cnonce}"']
        return "Digest " + ", ".join(fields)


# -- the client -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, read whole."""

    status: int
    reason: str
    headers: Message
    """Case-insensitive: ``headers.get("ETag")``."""
    body: bytes
    url: str = ""
    """The URL that gave it (after redirects)."""


@dataclass
class _Origin:
    scheme: str
    host: str
    port: int
    netloc: str
    """``host[:port]`` as the URL gave it (the Host header)."""

    @classmethod
    def of(cls, url: str) -> _Origin:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        netloc = parts.netloc.rpartition("@")[2]
        return cls(parts.scheme, parts.hostname, port, netloc)

    def same(self, other: _Origin) -> bool:
        return (self.scheme, self.host.lower(), self.port) == (other.scheme, other.host.lower(), other.port)


@dataclass(eq=False)
class WebDav:
    """HTTP requests to one server over one kept-alive connection (see the module's docstring).

    ``url``: any URL on the server (its origin gets the credentials). ``auth_type``: ``basic``,
    ``digest`` or None (whatever the server's first 401 asks for); no ``username``, no
    authentication. ``timeout`` bounds connecting and each read, ``total`` each request.
    """

    url: str
    username: str | None = None
    password: str | None = None
    auth_type: str | None = "basic"
    timeout: float = 30.0
    total: float = 120.0
    verify: bool = True
    ca_file: str | None = None
    requests: int = 0
    """Requests sent so far (each redirect hop, authentication round trip and resend counts)."""
    _origin: _Origin = field(init=False)
    _clock: _Clock = field(init=False)
    _connection: _Connection | None = field(init=False, default=None)
    _tls: ssl.SSLContext | None = field(init=False, default=None)
    _digest: _Digest | None = field(init=False, default=None)
    _guessed: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self._origin = _Origin.of(self.url)
        self._clock = _Clock(self.timeout)
        if self.auth_type not in (None, "basic", "digest"):
            raise ValueError(f"unknown auth_type {self.auth_type!r}")
        if self.username is None:
            self.auth_type = None

    def __repr__(self) -> str:
        return f"WebDav({self._origin.scheme}://{self._origin.netloc})"

    @property
    def connections(self) -> int:
        """TCP connections opened so far to the server's origin."""
        return self._connection.opened if self._connection is not None else 0

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        if self._connection is not None:
            self._connection.close()

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = tls_context(verify=self.verify, ca_file=self.ca_file)
        return self._tls

    def _connect(self, origin: _Origin) -> _Connection:
        if origin.same(self._origin) and self._connection is not None:
            return self._connection
        tls = self._context() if origin.scheme == "https" else None
        proxy = _Proxy.for_url(origin.scheme, origin.host)
        connection = _Connection(origin, tls=tls, clock=self._clock, proxy=proxy)
        if origin.same(self._origin):
            self._connection = connection
        return connection

    # -- one request ------------------------------------------------------------------------------

    def send(
        self, method: str, url: str, body: bytes = b"", *, headers: Mapping[str, str] | None = None
    ) -> Answer:
        """One request: redirects followed, one authentication challenge answered. Raises
        :class:`TransportError` when no whole answer came."""
        target_url = url
        for _hop in range(MAX_REDIRECTS + 1):
            origin = _Origin.of(target_url)
            answer = self._authenticated(method, target_url, origin, body, headers or {})
            location = answer.headers.get("Location")
            if answer.status not in _REDIRECTS or not location:
                return answer
            following = urljoin(target_url, location)
            if origin.scheme == "https" and urlsplit(following).scheme != "https":
                return answer  # never from TLS to plain text
            target_url = following
        return answer

    def _authenticated(
        self, method: str, url: str, origin: _Origin, body: bytes, headers: Mapping[str, str]
    ) -> Answer:
        ours = origin.same(self._origin) and self.username is not None
        authorization = self._credentials(method, url) if ours else None
        answer = self._exchange(method, url, origin, body, headers=headers, authorization=authorization)
        if not ours or answer.status != 401:
            return answer
        offered = challenges(", ".join(answer.headers.get_all("WWW-Authenticate") or []))
        digest = offered.get("digest")
        if self.auth_type == "digest" or (self.auth_type is None and digest is not None):
            if digest is None:
                return answer
            stale = self._digest is not None and digest.get("stale", "").lower() == "true"
            if self._digest is not None and not stale:
                return answer  # the credentials were refused, not the nonce
            self._digest = _Digest(digest)
            self.auth_type = "digest"
        elif self.auth_type is None and "basic" in offered:
            self.auth_type = "basic"
        elif self.auth_type is None and not offered and origin.scheme == "https" and not self._guessed:
            self._guessed = True  # a 401 naming no scheme: Basic, once, and only over TLS
            self.auth_type = "basic"
        else:
            return answer
        authorization = self._credentials(method, url)
        answer = self._exchange(method, url, origin, body, headers=headers, authorization=authorization)
        if answer.status == 401 and self._guessed and self.auth_type == "basic":
            self.auth_type = None  # a wrong guess is not repeated
        return answer

    def _credentials(self, method: str, url: str) -> str | None:
        username, password = self.username or "", self.password or ""
        if self.auth_type == "basic":
            return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        if self.auth_type == "digest" and self._digest is not None:
            return self._digest.header(method, _request_target(url), username, password)
        return None

    def _exchange(
        self,
        method: str,
        url: str,
        origin: _Origin,
        body: bytes,
        *,
        headers: Mapping[str, str],
        authorization: str | None,
    ) -> Answer:
        """One request on the wire (sent once more when a kept-alive connection was closed)."""
        path = _request_target(url)
        sent = {
            "Host": origin.netloc,
            "User-Agent": _USER_AGENT,
            "Accept": "text/xml, text/calendar",
            **({"Content-Type": "text/xml; charset=utf-8"} if body else {}),
            **headers,
        }
        if authorization:
            sent["Authorization"] = authorization
        connection = self._connect(origin)
        if connection.absolute_form:
            path = f"{origin.scheme}://{origin.netloc}{path}"
            if connection.proxy is not None and connection.proxy.authorization:
                sent["Proxy-Authorization"] = connection.proxy.authorization
        try:
            for attempt in (1, 2):
                reused = connection.sock is not None
                self.requests += 1
                self._clock.deadline = time.monotonic() + self.total
                try:
                    return self._once(connection, method, path, body=body, headers=sent, url=url)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as err:
                    connection.close()
                    if not reused or attempt == 2:
                        raise ConnectFailedError(_short(err)) from None
                except BaseException:
                    connection.close()
                    raise
            raise AssertionError("unreachable")  # pragma: no cover
        except _ExpiredError:
            raise TooSlowError(self.total) from None
        except ssl.SSLError as err:
            raise TlsError(_tls_reason(err)) from None
        except TimeoutError as err:
            raise ReadTimeoutError(_short(err)) from None
        except (OSError, http.client.HTTPException) as err:
            raise ConnectFailedError(_short(err)) from None
        finally:
            self._clock.deadline = float("inf")
            if connection is not self._connection:
                connection.close()

    def _once(
        self,
        connection: _Connection,
        method: str,
        path: str,
        *,
        body: bytes,
        headers: Mapping[str, str],
        url: str,
    ) -> Answer:
        if connection.sock is not None:
            connection.sock.settimeout(self._clock.left())
        connection.request(method, path, body=body or None, headers=dict(headers))
        response = connection.getresponse()
        data = response.read()
        if response.will_close:
            connection.close()
        return Answer(response.status, response.reason or "", response.headers, data, url)


def _request_target(url: str) -> str:
    """The path and query of a URL as sent: what is not allowed there quoted (a space, a
    non-ASCII letter as UTF-8), what is quoted already left as it is."""
    parts = urlsplit(url)
    path = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
    return path + (f"?{query}" if query else "")


def _tls_reason(err: ssl.SSLError) -> str:
    """``certificate verify failed: self-signed certificate``, without OpenSSL's decorations."""
    if isinstance(err, ssl.SSLCertVerificationError) and err.verify_message:
        return f"certificate verify failed: {err.verify_message}"
    text = re.sub(r"^\[SSL(?::[^\]]*)?\]\s*|\s*\(_ssl\.c:\d+\)$", "", _short(err))
    return text or "TLS error"


def _short(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text.splitlines()[0][:200]


# -- XML --------------------------------------------------------------------------------------------


def request_body(root: str, *children: str, namespaces: str = 'xmlns:D="DAV:"') -> str:
    """A request document: ``<root namespaces>children</root>`` (names with their prefixes)."""
    inner = "".join(children)
    return f'<?xml version="1.0" encoding="utf-8"?>\n<{root} {namespaces}>{inner}</{root}>'


def text_element(name: str, value: str) -> str:
    """``<name>value</name>`` with the value escaped."""
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<{name}>{escaped}</{name}>"


CALDAV_NAMESPACES = 'xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"'


def _refuse_doctype(body: bytes) -> None:
    """Read the prolog (up to the first element) and refuse a DOCTYPE: with none, the document
    can declare no entity, so ElementTree expands nothing and fetches nothing."""

    class _PrologEndError(Exception):
        pass

    def doctype(*_args: object) -> None:
        raise DavXmlError("the answer declares a DOCTYPE (refused)")

    def element(*_args: object) -> None:
        raise _PrologEndError

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = doctype
    parser.StartElementHandler = element
    try:
        parser.Parse(body, True)
    except _PrologEndError:
        return
    except expat.ExpatError as err:
        raise DavXmlError(f"not XML ({err})") from None
    raise DavXmlError("not XML (no element)")


def parse_xml(body: bytes) -> ET.Element:
    """A WebDAV XML body as an element tree (no DOCTYPE allowed)."""
    _refuse_doctype(body)
    try:
        return ET.fromstring(body)
    except ET.ParseError as err:
        raise DavXmlError(f"not XML ({err})") from None


def preconditions(body: bytes) -> list[str]:
    """The pre-/postconditions a ``DAV:error`` body names (``{DAV:}valid-sync-token``); empty
    for anything else."""
    if not body.strip():
        return []
    try:
        root = parse_xml(body)
    except DavXmlError:
        return []
    if root.tag != f"{DAV}error":
        return []
    return [child.tag for child in root if isinstance(child.tag, str)]


_STATUS = re.compile(r"^\s*HTTP/\d+(?:\.\d+)?\s+(\d{3})\b")


def status_code(line: str | None) -> int:
    """``HTTP/1.1 404 Not Found`` -> 404."""
    match = _STATUS.match(line or "")
    if match is None:
        raise DavXmlError(f"not a status line: {(line or '')[:80]!r}")
    return int(match.group(1))


def href_path(href: str, base: str) -> str:
    """An href as the path it names, unquoted once: relative ones resolved against ``base``,
    absolute URLs reduced to their path."""
    return unquote(urlsplit(urljoin(base, href.strip())).path)


@dataclass(frozen=True)
class DavResponse:
    """One ``DAV:response`` of a multistatus (one per href)."""

    href: str
    """The path it names, unquoted."""
    status: int | None
    """The response's own status (None when it reports per property)."""
    props: dict[str, ET.Element]
    """The properties of its 2xx propstats (a 404 propstat: the property is absent)."""

    def text(self, tag: str) -> str | None:
        """A property's text, stripped (None when absent or empty)."""
        element = self.props.get(tag)
        if element is None:
            return None
        value = "".join(element.itertext()).strip()
        return value or None

    def raw(self, tag: str) -> str | None:
        """A property's text as sent (calendar data); None when absent or empty."""
        element = self.props.get(tag)
        if element is None:
            return None
        return "".join(element.itertext()) or None


@dataclass(frozen=True)
class Multistatus:
    """A parsed ``207 Multi-Status`` body."""

    responses: list[DavResponse]
    sync_token: str | None = None
    truncated: bool = False
    """RFC 6578 3.6: the server sent part of the changes; ask again with :attr:`sync_token`."""


def parse_multistatus(body: bytes, base: str) -> Multistatus:
    """Read a multistatus body; hrefs resolved against ``base`` (the request URL)."""
    root = parse_xml(body)
    if root.tag != f"{DAV}multistatus":
        raise DavXmlError(f"not a multistatus ({root.tag})")
    token_element = root.find(f"{DAV}sync-token")
    token = None
    if token_element is not None:
        token = "".join(token_element.itertext()).strip() or None
    responses: list[DavResponse] = []
    truncated = False
    for element in root.iterfind(f"{DAV}response"):
        hrefs = [
            href_path(h.text or "", base) for h in element.iterfind(f"{DAV}href") if (h.text or "").strip()
        ]
        if not hrefs:
            raise DavXmlError("a response without an href")
        status_element = element.find(f"{DAV}status")
        status = status_code(status_element.text) if status_element is not None else None
        propstats = element.findall(f"{DAV}propstat")
        if status == 507 and not propstats and token is not None:
            truncated = True  # the marker of a truncated sync-collection answer, not a member
            continue
        if propstats and len(hrefs) > 1:
            raise DavXmlError("a response with properties for several hrefs")
        props: dict[str, ET.Element] = {}
        for propstat in propstats:
            inner = propstat.find(f"{DAV}status")
            code = status_code(inner.text) if inner is not None else 200
            if not 200 <= code < 300:
                continue
            for prop in propstat.iterfind(f"{DAV}prop"):
                for child in prop:
                    props[child.tag] = child
        responses.extend(DavResponse(href, status, props) for href in hrefs)
    return Multistatus(responses, token, truncated)


__all__ = [
    "CALDAV",
    "CALDAV_NAMESPACES",
    "DAV",
    "Answer",
    "ConnectFailedError",
    "DavResponse",
    "DavXmlError",
    "Multistatus",
    "ReadTimeoutError",
    "TlsError",
    "TooSlowError",
    "TransportError",
    "WebDav",
    "challenges",
    "href_path",
    "parse_multistatus",
    "parse_xml",
    "preconditions",
    "request_body",
    "status_code",
    "text_element",
]
