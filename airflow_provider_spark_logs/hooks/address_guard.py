"""The address a download's connection really reached, checked before a byte is sent on it.

A host name may resolve to a private address, or resolve again to one between a check and the
connection (DNS rebinding), so checking names is not enough: ``requests`` sessions get an adapter
whose connections call the active check with the host and the peer's address right after they
connect, and close the socket if it refuses. Connections through a proxy reach the proxy, not the
host, and are left to it.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

#: Called with the host and the connected address; raises to refuse the connection.
AddressCheck = Callable[[str, str], None]
_active_check: ContextVar[AddressCheck | None] = ContextVar("spark_logs_address_check", default=None)


@contextmanager
def checking_addresses(check: AddressCheck | None) -> Iterator[None]:
    """New connections opened in this block (this thread or task) go through ``check``, if any."""
    token = _active_check.set(check)
    try:
        yield
    finally:
        _active_check.reset(token)


class _CheckedConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        check = _active_check.get()
        if check is not None and not self.proxy:
            try:
                check(self.host, sock.getpeername()[0])
            except BaseException:
                sock.close()
                raise
        return sock


class _CheckedHTTPSConnection(_CheckedConnection, HTTPSConnection):
    pass


class _CheckedPool(HTTPConnectionPool):
    ConnectionCls = _CheckedConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class AddressCheckingAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose new connections pass the active :func:`checking_addresses` check."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedPool, "https": _CheckedHTTPSPool}
