"""A hostile HTTP server and hostile HTTP clients on loopback, for network-safety tests (issue 14).

* :class:`HostileServer`: a :class:`HostileServer` on a free port of 127.0.0.1, speaking raw
  HTTP/1.1 from its own threads (nothing is mocked; the client under test speaks real HTTP). Each
  path answers with one *behaviour* (a function of the connection): :func:`ok`, :func:`redirect`
  (with any body behind it), :func:`trickled_headers`, :func:`cut_body`, :func:`broken_chunked`,
  plus the bodies :func:`gzip_bomb` and :func:`endless`. ``hostile.log`` lists each request's path
  and headers.
* :class:`Slowloris`: many client connections that each send a request header line now and then
  and never finish the request (what holds a server's slots).

Every behaviour stops when the test ends (the server's ``stopping`` event) or when the client
hangs up; none runs without bound.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

Behaviour = Callable[["Connection"], None]


@dataclass
class Connection:
    """One accepted connection, its request already read."""

    sock: socket.socket
    path: str
    headers: dict[str, str]
    stopping: threading.Event

    def send(self, data: bytes) -> bool:
        """Send bytes; False once the client has gone (or the server stops)."""
        if self.stopping.is_set():
            return False
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def trickle(self, data: bytes, every: float) -> bool:
        """Send one byte per ``every`` seconds; False once the client has gone."""
        sent = 0
        while sent < len(data) and self.send(data[sent : sent + 1]) and not self.stopping.wait(every):
            sent += 1
        return sent == len(data)


def _head(status: str, headers: Iterable[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def ok(body: bytes, *, headers: Iterable[tuple[str, str]] = ()) -> Behaviour:
    """200 with the whole body and its Content-Length (a well-behaved answer)."""

    def answer(conn: Connection) -> None:
        extra = list(headers)
        head = [("Content-Type", "text/calendar"), ("Content-Length", str(len(body))), *extra]
        conn.send(_head("200 OK", [*head, ("Connection", "close")]) + body)

    return answer


def redirect(to: str, body: Iterable[bytes], *, headers: Iterable[tuple[str, str]] = ()) -> Behaviour:
    """302 to ``to`` whose body (sent close-delimited, without Content-Length) is ``body``."""

    def answer(conn: Connection) -> None:
        head = [("Location", to), ("Content-Type", "text/html"), *headers, ("Connection", "close")]
        if not conn.send(_head("302 Found", head)):
            return
        for chunk in body:
            if not conn.send(chunk):
                return

    return answer


def trickled_headers(every: float = 1.0, *, status: str = "200 OK") -> Behaviour:
    """A status line and headers sent one byte per ``every`` seconds, with no end of headers."""

    def answer(conn: Connection) -> None:
        filler = "".join(f"X-Slow-{i}: {'a' * 40}\r\n" for i in range(1000))
        conn.trickle(f"HTTP/1.1 {status}\r\nContent-Type: text/calendar\r\n{filler}".encode(), every)

    return answer


def cut_body(body: bytes, fraction: float, *, content_length: bool) -> Behaviour:
    """200 with only ``fraction`` of ``body``, then the connection closes (with or without a
    Content-Length announcing the whole body)."""

    def answer(conn: Connection) -> None:
        head = [("Content-Type", "text/calendar"), ("Connection", "close")]
        if content_length:
            head.append(("Content-Length", str(len(body))))
        conn.send(_head("200 OK", head) + body[: int(len(body) * fraction)])

    return answer


def broken_chunked(body: bytes, fraction: float) -> Behaviour:
    """200 chunked: ``fraction`` of ``body`` in good chunks, then the stream closes without its
    last (zero-size) chunk."""

    def answer(conn: Connection) -> None:
        head = [("Content-Type", "text/calendar"), ("Transfer-Encoding", "chunked"), ("Connection", "close")]
        part = body[: int(len(body) * fraction)]
        chunks = b"".join(
            b"%x\r\n%s\r\n" % (len(part[i : i + 4096]), part[i : i + 4096]) for i in range(0, len(part), 4096)
        )
        conn.send(_head("200 OK", head) + chunks)

    return answer


def gzip_bomb(expanded: int) -> bytes:
    """A gzip stream of ``expanded`` zero bytes (about 1,000 times smaller than that)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    out = [packer.compress(block) for _ in range(expanded // len(block))]
    out.append(packer.flush())
    return b"".join(out)


def endless(chunk: int = 64 * 1024, *, limit: int = 128 * 1024 * 1024) -> Iterator[bytes]:
    """A body that goes on (up to ``limit`` bytes, so an old client cannot eat the machine)."""
    block = b"x" * chunk
    for _ in range(limit // chunk):
        yield block


@dataclass
class HostileServer:
    """Raw HTTP/1.1 on 127.0.0.1, one thread per connection; paths answer per :meth:`route`."""

    routes: dict[str, Behaviour] = field(default_factory=dict)
    log: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    tls: tuple[Path, Path] | None = None
    """A certificate and its key: speak HTTPS (see ``http_feed.self_signed_certificate``)."""

    def __post_init__(self) -> None:
        self._tls_context: ssl.SSLContext | None = None
        if self.tls is not None:
            self._tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls_context.load_cert_chain(*self.tls)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, name="hostile-http", daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        """The URL of a path on this server."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def route(self, path: str, behaviour: Behaviour) -> str:
        """Answer ``path`` with ``behaviour``; returns its URL."""
        self.routes[path] = behaviour
        return self.url(path)

    def close(self) -> None:
        """Stop every behaviour and close every connection."""
        self.stopping.set()
        with contextlib.suppress(OSError):  # wakes the accept loop
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            clients = list(self._clients)
        for sock in clients:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            if self.stopping.is_set():
                sock.close()
                return
            with self._lock:
                self._clients.append(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(10)
        if self._tls_context is not None:
            try:
                sock = self._tls_context.wrap_socket(sock, server_side=True)
            except OSError:
                sock.close()
                return
        data = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in data and len(data) < 65536:
                piece = sock.recv(4096)
                if not piece:
                    break
                data += piece
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        parts = head[0].split(" ")
        path = parts[1] if len(parts) > 1 else "/"
        headers = {}
        for line in head[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        self.log.append((path, headers))
        behaviour = self.routes.get(path)
        conn = Connection(sock, path, headers, self.stopping)
        try:
            if behaviour is None:
                conn.send(_head("404 Not Found", [("Content-Length", "0"), ("Connection", "close")]))
            else:
                behaviour(conn)
        finally:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class Slowloris:
    """``count`` connections to ``(host, port)``, each sending a request line, then one header line
    every ``every`` seconds, never the blank line that ends the request.

    ``cut()`` is how many the server has closed so far.
    """

    def __init__(
        self, host: str, port: int, count: int, *, every: float = 1.0, path: str = "/healthz"
    ) -> None:
        self.stopping = threading.Event()
        self.sockets: list[socket.socket] = []
        self.closed: set[int] = set()
        self._lock = threading.Lock()
        for _ in range(count):
            sock = socket.create_connection((host, port), timeout=5)
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n".encode())
            self.sockets.append(sock)
        self.every = every
        self._thread = threading.Thread(target=self._drip, name="slowloris", daemon=True)
        self._thread.start()

    def _drip(self) -> None:
        n = 0
        while not self.stopping.wait(self.every):
            n += 1
            for index, sock in enumerate(self.sockets):
                if index in self.closed:
                    continue
                try:
                    sock.sendall(f"X-Drip-{n}: {'a' * 10}\r\n".encode())
                except OSError:
                    with self._lock:
                        self.closed.add(index)
            self._notice_closed()

    def _notice_closed(self) -> None:
        with self._lock:
            for index, sock in enumerate(self.sockets):
                if index in self.closed:
                    continue
                try:
                    sock.recv(4096, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                self.closed.add(index)  # an answer (408, 503) or the end: the server let go

    def cut(self) -> int:
        """How many connections the server has closed (or answered) so far."""
        self._notice_closed()
        with self._lock:
            return len(self.closed)

    def close(self) -> None:
        """Stop dripping and close every connection."""
        self.stopping.set()
        self._thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


def elapsed(since: float) -> float:
    """Seconds since ``since`` (a ``time.monotonic()`` value)."""
    return time.monotonic() - since
