"""A total deadline for HTTP requests (issue 14): used by the sources that read over requests
(``ics_url``, ``ha_client``; the CalDAV client's own sockets keep their deadline themselves,
``webdav._Clock``).

``timeout=`` in requests bounds each socket read, not a request: a server that sends
its headers (or its body) one byte a second never trips it. :class:`Deadline` is the missing
bound: :meth:`Deadline.guard` installs it on a session (every connection the session opens is
known to it), and :meth:`Deadline.within` starts a watchdog timer for one request; when the time
is up, the watchdog shuts down the session's sockets, so the blocked read returns at once and
the library raises. :attr:`Deadline.expired` then tells the caller why.

It relies on urllib3 as requests uses it: a pool manager with ``pool_classes_by_scheme`` whose
pools build their connections from ``ConnectionCls``, and every connection keeps its socket in
``.sock``.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import weakref
from collections.abc import Iterator
from typing import Any


class Deadline:
    """Cuts a session's connections when a request outlives its total time."""

    def __init__(self) -> None:
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._generation = 0
        self.expired = False
        """The last request guarded by :meth:`within` ran out of time (its sockets were cut)."""

    def guard(self, session: Any) -> None:
        """Know every connection ``session`` opens from now on (its adapters' pools build them,
        also those of the proxy managers made for ``HTTPS_PROXY`` and the like)."""
        for adapter in list(session.adapters.values()):
            self._patch(getattr(adapter, "poolmanager", None))
            make_proxy_manager = getattr(adapter, "proxy_manager_for", None)
            if callable(make_proxy_manager):
                adapter.proxy_manager_for = self._proxied(make_proxy_manager)

    def _proxied(self, make: Any) -> Any:
        def proxy_manager_for(*args: Any, **kwargs: Any) -> Any:
            manager = make(*args, **kwargs)
            self._patch(manager)
            return manager

        return proxy_manager_for

    def _patch(self, manager: Any) -> None:
        classes = getattr(manager, "pool_classes_by_scheme", None)
        if not isinstance(classes, dict) or getattr(manager, "_calsync_deadline", None) is self:
            return
        manager.pool_classes_by_scheme = {scheme: self._pool_class(pool) for scheme, pool in classes.items()}
        manager._calsync_deadline = self  # patched once

    def _pool_class(self, pool: type[Any]) -> type[Any]:
        deadline = self
        connection: type[Any] = pool.ConnectionCls

        def init(conn: Any, *args: Any, **kwargs: Any) -> None:
            connection.__init__(conn, *args, **kwargs)
            deadline.track(conn)

        tracked = type(f"Deadline{connection.__name__}", (connection,), {"__init__": init})
        return type(f"Deadline{pool.__name__}", (pool,), {"ConnectionCls": tracked})

    def track(self, connection: Any) -> None:
        """A connection whose socket the watchdog cuts when time is up."""
        with self._lock:
            self._connections.add(connection)

    @contextlib.contextmanager
    def within(self, seconds: float) -> Iterator[None]:
        """Cut the session's connections if the block still runs after ``seconds``."""
        with self._lock:
            self._generation += 1
            generation = self._generation
            self.expired = False
        timer = threading.Timer(seconds, self._cut, args=(generation,))
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            with self._lock:
                self._generation += 1  # a timer firing now cuts nothing

    def _cut(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self.expired = True
            connections = list(self._connections)
        for connection in connections:
            sock = getattr(connection, "sock", None)
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    # the plain socket's shutdown (an SSL socket's own would unwrap it first):
                    # a read blocked in another thread returns at once
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
