"""calsync's own WebDAV client (``adapters/webdav.py``, issue 12): the multistatus reader on odd
but valid answers, the refusal of a DOCTYPE, and the HTTP side against small loopback servers
(keep-alive and a closed idle connection, Digest, redirects, 429) and a real Xandikos / Radicale
behind a proxy that counts the TCP connections each pass opens.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import re
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

import support
from calsync.adapters.caldav import CaldavClient, CaldavTarget
from calsync.adapters.webdav import (
    CALDAV,
    DAV,
    ConnectFailedError,
    DavXmlError,
    WebDav,
    challenges,
    parse_multistatus,
    preconditions,
)
from calsync.core.model import SessionKind
from calsync.core.reconcile import reconcile
from calsync.errors import SourceError, TargetError
from calsync.executor import execute
from http_feed import self_signed_certificate

if TYPE_CHECKING:
    from caldav_servers import DavServer

pytest_plugins = ["caldav_servers"]

BASE = "http://dav.example/cal/"

# --- the multistatus reader ------------------------------------------------------------------------


def test_prefixes_are_the_documents_own() -> None:
    """The namespaces count, not the prefixes: a default namespace, odd prefixes, CDATA."""
    body = (
        b'<?xml version="1.0" encoding="utf-8"?>\n'
        b'<multistatus xmlns="DAV:" xmlns:cal="urn:ietf:params:xml:ns:caldav">'
        b'<response><href>/cal/a.ics</href><propstat><prop><getetag>"1"</getetag>'
        b"<cal:calendar-data><![CDATA[BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n]]></cal:calendar-data>"
        b"</prop><status>HTTP/1.1 200 OK</status></propstat></response>"
        b'<x:response xmlns:x="DAV:"><x:href>/cal/b.ics</x:href><x:propstat><x:prop>'
        b'<x:getetag> "2" </x:getetag></x:prop><x:status>HTTP/1.1 200 OK</x:status></x:propstat>'
        b"</x:response>"
        b"<sync-token>http://dav.example/sync/7</sync-token></multistatus>"
    )
    result = parse_multistatus(body, BASE)
    assert [(r.href, r.text(f"{DAV}getetag")) for r in result.responses] == [
        ("/cal/a.ics", '"1"'),
        ("/cal/b.ics", '"2"'),
    ]
    assert result.responses[0].raw(f"{CALDAV}calendar-data") == "BEGIN:VCALENDAR\nEND:VCALENDAR\n"
    assert result.sync_token == "http://dav.example/sync/7"
    assert not result.truncated


def test_responses_without_propstat_and_404s() -> None:
    """A deleted member (404, no propstat), several hrefs sharing one status, a 404 propstat
    (the property is absent), a response with nothing but its href, and the truncation marker."""
    body = (
        b'<D:multistatus xmlns:D="DAV:">'
        b"<D:response><D:href>/cal/gone.ics</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response>"
        b"<D:response><D:href>/cal/x.ics</D:href><D:href>/cal/y.ics</D:href>"
        b"<D:status>HTTP/1.1 404 Not Found</D:status></D:response>"
        b"<D:response><D:href>/cal/a.ics</D:href>"
        b"<D:propstat><D:prop><D:getetag/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status></D:propstat>"
        b"<D:propstat><D:prop><D:displayname>A</D:displayname></D:prop>"
        b"<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
        b"<D:response><D:href>/cal/bare.ics</D:href></D:response>"
        b"<D:response><D:href>/cal/</D:href><D:status>HTTP/1.1 507 Insufficient Storage</D:status>"
        b"</D:response>"
        b"<D:sync-token>tok-2</D:sync-token></D:multistatus>"
    )
    result = parse_multistatus(body, BASE)
    assert [(r.href, r.status) for r in result.responses] == [
        ("/cal/gone.ics", 404),
        ("/cal/x.ics", 404),
        ("/cal/y.ics", 404),
        ("/cal/a.ics", None),
        ("/cal/bare.ics", None),
    ]
    a = result.responses[3]
    assert a.text(f"{DAV}getetag") is None
    assert a.text(f"{DAV}displayname") == "A"
    assert result.truncated
    assert result.sync_token == "tok-2"


@pytest.mark.parametrize(
    ("href", "path"),
    [
        ("/cal/a%20b.ics", "/cal/a b.ics"),
        ("/cal/a b.ics", "/cal/a b.ics"),
        ("/cal/me%40example.org.ics", "/cal/me@example.org.ics"),
        ("/cal/100%2525.ics", "/cal/100%25.ics"),  # decoded once, never twice
        ("http://dav.example/cal/c.ics", "/cal/c.ics"),
        ("https://other.example:8443/cal/d%C3%A9.ics", "/cal/dé.ics"),
        ("e.ics", "/cal/e.ics"),  # relative to the request URL
        ("  /cal/f.ics\n", "/cal/f.ics"),
    ],
)
def test_hrefs_are_paths_unquoted_once(href: str, path: str) -> None:
    body = (
        f'<D:multistatus xmlns:D="DAV:"><D:response><D:href>{href}</D:href>'
        "<D:status>HTTP/1.1 200 OK</D:status></D:response></D:multistatus>"
    ).encode()
    assert [r.href for r in parse_multistatus(body, BASE).responses] == [path]


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\n'
    b'<D:multistatus xmlns:D="DAV:"><D:response><D:href>&lol3;</D:href></D:response></D:multistatus>'
)
EXTERNAL = (
    b'<?xml version="1.0"?>\n<!DOCTYPE m [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
    b'<D:multistatus xmlns:D="DAV:"><D:response><D:href>/cal/&secret;</D:href></D:response></D:multistatus>'
)
BARE_DOCTYPE = b'<!DOCTYPE D:multistatus>\n<D:multistatus xmlns:D="DAV:"/>'


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL, BARE_DOCTYPE])
def test_a_doctype_is_refused(body: bytes) -> None:
    with pytest.raises(DavXmlError, match="DOCTYPE"):
        parse_multistatus(body, BASE)
    assert preconditions(body.replace(b"multistatus", b"error")) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<html><body>Moved</body></html>",
        b'<D:multistatus xmlns:D="DAV:"><D:response/></D:multistatus>',
        b'<D:multistatus xmlns:D="DAV:"><D:response><D:href>/a</D:href><D:status>teapot</D:status>'
        b"</D:response></D:multistatus>",
        b'<D:multistatus xmlns:D="DAV:"><D:response>',
    ],
)
def test_what_is_not_a_multistatus_is_an_error(body: bytes) -> None:
    with pytest.raises(DavXmlError):
        parse_multistatus(body, BASE)


def test_preconditions_of_a_dav_error() -> None:
    body = b'<?xml version="1.0"?><error xmlns="DAV:"><valid-sync-token/><x:other xmlns:x="urn:x"/></error>'
    assert preconditions(body) == ["{DAV:}valid-sync-token", "{urn:x}other"]
    assert preconditions(b"<html>403</html>") == []
    assert preconditions(b"not xml") == []


def test_challenges_are_read_with_their_parameters() -> None:
    header = 'Digest realm="cal, home", nonce="abc\\"d", qop="auth,auth-int", algorithm=MD5, Basic realm="x"'
    assert challenges(header) == {
        "digest": {"realm": "cal, home", "nonce": 'abc"d', "qop": "auth,auth-int", "algorithm": "MD5"},
        "basic": {"realm": "x"},
    }


# --- HTTP against small loopback servers ----------------------------------------------------------


MULTISTATUS = (
    b'<?xml version="1.0"?><D:multistatus xmlns:D="DAV:"><D:response><D:href>/cal/</D:href>'
    b"<D:propstat><D:prop><D:getetag>x</D:getetag></D:prop><D:status>HTTP/1.1 200 OK</D:status>"
    b"</D:propstat></D:response></D:multistatus>"
)


class Handler(http.server.BaseHTTPRequestHandler):
    """A scripted HTTP/1.1 server: ``answer`` decides each reply; every request is recorded."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[tuple[str, str, dict[str, str]]]] = []
    answer: ClassVar[Callable[[Handler], tuple[int, dict[str, str], bytes, bool]]]

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        type(self).seen.append((self.command, self.path, dict(self.headers.items())))
        status, headers, body, close = type(self).answer(self)
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = close  # closed without saying so: the client meets it next time

    do_REPORT = do_PROPFIND = do_PUT = do_GET = do_CONNECT = _any  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        pass


Answerer = Callable[[Handler], tuple[int, dict[str, str], bytes, bool]]


class Scripted:
    """A running scripted server: its base URL and the requests it saw."""

    def __init__(self, answer: Answerer) -> None:
        self.handler = type("Scripted", (Handler,), {"answer": staticmethod(answer), "seen": []})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self.handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def authorizations(self) -> list[str | None]:
        seen: list[tuple[str, str, dict[str, str]]] = getattr(self.handler, "seen")  # noqa: B009
        return [headers.get("Authorization") for _method, _path, headers in seen]


@pytest.fixture
def scripted() -> Iterator[Callable[[Answerer], Scripted]]:
    servers: list[Scripted] = []

    def start(answer: Answerer) -> Scripted:
        servers.append(Scripted(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.httpd.shutdown()
        server.httpd.server_close()


def test_one_connection_is_kept_and_a_closed_one_is_opened_again(
    scripted: Callable[[Answerer], Scripted],
) -> None:
    calls = {"n": 0}

    def answer(_h: Handler) -> tuple[int, dict[str, str], bytes, bool]:
        calls["n"] += 1
        return 207, {"Content-Type": "text/xml"}, MULTISTATUS, calls["n"] == 3

    base = scripted(answer).base
    dav = WebDav(base + "/cal/", username="me", password="pw")
    for _ in range(3):
        assert dav.send("PROPFIND", base + "/cal/", b"<x/>").status == 207
    assert (dav.requests, dav.connections) == (3, 1), "one kept-alive connection"
    # the server closed the connection after the third answer without saying so: the request
    # that meets the closed connection is sent once more on a new one
    assert dav.send("PROPFIND", base + "/cal/", b"<x/>").status == 207
    assert dav.connections == 2
    assert dav.requests == 5, "the request that met the closed connection, sent again"
    dav.close()


def test_basic_credentials_go_with_every_request_to_the_same_origin_only(
    scripted: Callable[[Answerer], Scripted],
) -> None:
    elsewhere = scripted(lambda _h: (207, {}, MULTISTATUS, False))
    other = elsewhere.base

    def answer(h: Handler) -> tuple[int, dict[str, str], bytes, bool]:
        if h.path == "/old/":
            return 308, {"Location": "/cal/"}, b"", False
        if h.path == "/away/":
            return 307, {"Location": other + "/cal/"}, b"", False
        return 207, {}, MULTISTATUS, False

    server = scripted(answer)
    base = server.base
    client = CaldavClient(base + "/old/", username="me", password="pwé", backoff=0.0)
    answer_ = client.request("PROPFIND", base + "/old/", "<x/>", accept=(207,))
    assert answer_.status == 207
    assert answer_.url == base + "/cal/"
    assert client.requests == 2, "a redirect hop is a request"
    client.request("PROPFIND", base + "/away/", "<x/>", accept=(207,))
    expected = "Basic " + base64.b64encode("me:pwé".encode()).decode()
    assert server.authorizations() == [expected] * 3
    assert elsewhere.authorizations() == [None], "no credentials to another origin"
    client.close()


def _digest_ok(header: str, method: str, password: str, nonce: str) -> bool:
    params = challenges(header)["digest"]
    ha1 = hashlib.md5(f"{params['username']}:{params['realm']}:{password}".encode()).hexdigest()
    ha2 = hashlib.md5(f"{method}:{params['uri']}".encode()).hexdigest()
    expected = hashlib.md5(
        f"{ha1}:{nonce}:{params['nc']}:{params['cnonce']}:{params['qop']}:{ha2}".encode()
    ).hexdigest()
    return params["nonce"] == nonce and params["response"] == expected


@pytest.mark.parametrize("auth_type", ["digest", None])
def test_digest_after_one_challenge(scripted: Callable[[Answerer], Scripted], auth_type: str | None) -> None:
    challenge = {"WWW-Authenticate": 'Basic realm="cal", Digest realm="cal", nonce="n1", qop="auth"'}

    def answer(h: Handler) -> tuple[int, dict[str, str], bytes, bool]:
        given = h.headers.get("Authorization") or ""
        if given.startswith("Digest ") and _digest_ok(given, h.command, "pw", "n1"):
            return 207, {}, MULTISTATUS, False
        return 401, challenge, b"", False

    base = scripted(answer).base
    client = CaldavClient(base + "/cal/", username="me", password="pw", auth_type=auth_type)
    client.request("PROPFIND", client.url, "<x/>", accept=(207,))
    assert client.requests == 2, "one challenge"
    client.request("PROPFIND", client.url, "<x/>", accept=(207,))
    assert client.requests == 3, "then the digest goes with every request"
    wrong = CaldavClient(base + "/cal/", username="me", password="nope", auth_type=auth_type, name="n")
    with pytest.raises(SourceError, match=r"refused the login \(HTTP 401\)"):
        wrong.request("PROPFIND", wrong.url, "<x/>", accept=(207,))
    assert wrong.requests == 2, "a refused digest is not sent again"


def test_429_waits_as_asked_then_gives_up(scripted: Callable[[Answerer], Scripted]) -> None:
    base = scripted(lambda _h: (429, {"Retry-After": "0"}, b"", False)).base
    client = CaldavClient(base + "/cal/", backoff=0.0, name="plan me: source")
    with pytest.raises(SourceError, match=r"the server is busy \(HTTP 429, 3 tries\); try again later"):
        client.request("PROPFIND", client.url, "<x/>", accept=(207,))
    assert client.requests == 3


def test_an_answer_with_a_doctype_is_unreadable(scripted: Callable[[Answerer], Scripted]) -> None:
    base = scripted(lambda _h: (207, {"Content-Type": "text/xml"}, EXTERNAL, False)).base
    client = CaldavClient(base + "/cal/", error=TargetError, name="plan me: target")
    with pytest.raises(TargetError, match=r"cannot be read .*DOCTYPE"):
        CaldavTarget(client, "me", ZoneInfo("UTC")).list_owned()


# --- one TCP connection per pass on a real server -------------------------------------------------


class CountingProxy:
    """A TCP proxy in front of a server that counts the connections it accepts (and ends TLS,
    when given a server context)."""

    def __init__(self, upstream: str, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        match = re.match(r"http://([^:/]+):(\d+)", upstream)
        assert match is not None
        self.upstream = (match.group(1), int(match.group(2)))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, url: str) -> str:
        scheme = "https" if self.tls is not None else "http"
        return re.sub(r"^http://[^/]+", f"{scheme}://127.0.0.1:{self.port}", url)

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.tls is not None:
                try:
                    client = self.tls.wrap_socket(client, server_side=True)
                except (OSError, ssl.SSLError):
                    client.close()
                    continue
            server = socket.create_connection(self.upstream)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


def test_a_pass_on_xandikos_uses_one_tcp_connection(xandikos_server: DavServer) -> None:
    url = xandikos_server.make_calendar()
    proxy = CountingProxy(url)
    try:
        client = CaldavClient(proxy.url(url), timeout=10.0, error=TargetError)
        target = CaldavTarget(client, "me", ZoneInfo("Europe/Berlin"))
        monday = datetime(2026, 11, 30).date()
        planned = [
            support.session(monday + timedelta(days=i), f"s{i}", SessionKind.CORE, plan_id="me")
            for i in range(4)
        ]
        now = datetime(2026, 11, 27, 7, tzinfo=ZoneInfo("Europe/Berlin"))
        window = {"window_start": monday, "window_end": monday + timedelta(weeks=2)}
        actions = reconcile(planned, target.list_owned(), now=now, **window)
        execute(actions, target, now=now)  # the writes, then one listing past them (its batch)
        assert client.requests == 1 + 4 + 1
        assert proxy.accepted == 1, "the listing, four PUTs and the listing after them on one connection"
        assert client.connections == 1
        target.close()
    finally:
        proxy.close()


def test_tls_with_the_ca_file_on_one_connection(xandikos_server: DavServer, tmp_path: Path) -> None:
    """TLS in front of Xandikos with a self-signed certificate: refused by the system's CAs,
    trusted through ``ca_file`` (or with checks off), and a pass stays on one connection."""
    try:
        cert, key = self_signed_certificate(tmp_path)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs the openssl command")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    url = xandikos_server.make_calendar()
    proxy = CountingProxy(url, tls=context)
    try:
        strict = CaldavClient(proxy.url(url), timeout=10.0, backoff=0.0, name="plan me: source")
        with pytest.raises(SourceError, match=r"TLS failed \(certificate verify failed"):
            strict.probe()
        assert strict.requests == 1, "never retried"
        for client in (
            CaldavClient(proxy.url(url), timeout=10.0, ca_file=str(cert)),
            CaldavClient(proxy.url(url), timeout=10.0, verify=False),
        ):
            client.probe()
            assert CaldavTarget(client, "me", ZoneInfo("UTC")).list_owned() == []
            assert (client.requests, client.connections) == (2, 1)
            client.close()
    finally:
        proxy.close()


def test_radicale_closing_every_connection_costs_a_connection_per_request(radicale_server: DavServer) -> None:
    """Radicale's built-in server answers HTTP/1.0 and closes: each request opens a connection,
    and nothing fails for it."""
    url = radicale_server.make_calendar()
    proxy = CountingProxy(url)
    try:
        client = CaldavClient(
            proxy.url(url), username=radicale_server.username, password=radicale_server.password, timeout=10.0
        )
        target = CaldavTarget(client, "me", ZoneInfo("UTC"))
        assert target.list_owned() == []
        assert target.list_owned() == []
        assert client.requests == 2
        assert proxy.accepted == 2
        target.close()
    finally:
        proxy.close()


# --- a proxy from the environment ------------------------------------------------------------------


def test_plain_http_goes_through_the_environments_proxy(
    scripted: Callable[[Answerer], Scripted], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = scripted(lambda _h: (207, {}, MULTISTATUS, False))
    monkeypatch.setenv("HTTP_PROXY", proxy.base.replace("http://", "http://pu:pp@"))
    monkeypatch.setenv("no_proxy", "localhost, .internal.example,127.0.0.1")
    dav = WebDav("http://dav.example/cal/", username="me", password="pw")
    assert dav.send("PROPFIND", "http://dav.example/cal/", b"<x/>").status == 207
    ((method, target, headers),) = getattr(proxy.handler, "seen")  # noqa: B009
    assert (method, target, headers["Host"]) == ("PROPFIND", "http://dav.example/cal/", "dav.example")
    assert headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"pu:pp").decode()
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"me:pw").decode()
    dav.close()
    closed = f"http://127.0.0.1:{support.free_port()}/cal/"
    with pytest.raises(ConnectFailedError, match="refused"):  # straight to the host, not the proxy
        WebDav(closed, timeout=1.0).send("PROPFIND", closed, b"<x/>")
    assert len(getattr(proxy.handler, "seen")) == 1  # noqa: B009


def test_tls_goes_through_a_connect_tunnel(
    scripted: Callable[[Answerer], Scripted], monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = scripted(lambda _h: (407, {"Proxy-Authenticate": 'Basic realm="p"'}, b"", False))
    monkeypatch.setenv("https_proxy", proxy.base)
    client = CaldavClient("https://dav.example/cal/", backoff=0.0, name="plan me: source")
    with pytest.raises(SourceError, match=r"cannot connect \(the proxy refused the tunnel \(HTTP 407"):
        client.request("PROPFIND", client.url, "<x/>", accept=(207,))
    seen: list[tuple[str, str, dict[str, str]]] = getattr(proxy.handler, "seen")  # noqa: B009
    assert {(method, target) for method, target, _headers in seen} == {("CONNECT", "dav.example:443")}


@pytest.mark.parametrize("server_name", ["radicale", "xandikos"])
@pytest.mark.parametrize("spelled", ["Training plan é", "Training%20plan%20%C3%A9"])
def test_a_calendar_whose_name_needs_quoting(
    request: pytest.FixtureRequest, server_name: str, spelled: str
) -> None:
    """A collection URL with a space and a non-ASCII letter, written plain or quoted: the
    writes land in the calendar, and the listing after them knows them (nothing fetched)."""
    server: DavServer = request.getfixturevalue(f"{server_name}_server")
    name = f"Training plan é {server_name} {len(spelled)}"
    with server.dav() as dav:
        made = dav.mkcalendar(server.home + quote(name) + "/")
        assert made.status in (200, 201), made.status
    url = server.home + (name if "%" not in spelled else quote(name)) + "/"
    client = CaldavClient(url, username=server.username, password=server.password, error=TargetError)
    target = CaldavTarget(client, "me", ZoneInfo("Europe/Berlin"))
    monday = datetime(2026, 11, 30).date()
    planned = [support.session(monday, "s1", SessionKind.CORE, plan_id="me")]
    now = datetime(2026, 11, 27, 7, tzinfo=ZoneInfo("Europe/Berlin"))
    window = {"window_start": monday, "window_end": monday + timedelta(weeks=2)}
    execute(reconcile(planned, target.list_owned(), now=now, **window), target, now=now)
    before = client.requests
    assert [o.uid for o in target.list_owned()] == [planned[0].uid]
    assert client.requests == before + 1
    assert all(href.startswith(f"/{server.home.split('/', 3)[3]}{name}/") for href in target.cache)
    target.close()
