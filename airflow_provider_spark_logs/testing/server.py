"""HTTP plumbing: a threaded HTTP/1.1 server that turns requests into :class:`Request` objects, asks
an application for a reply, and writes it, including the broken replies faults ask for.

The application logic lives elsewhere (``app.py``); this module only knows how to speak HTTP, so
that what the emulator answers and how bytes hit the wire can be read (and changed) separately.
"""

from __future__ import annotations

import socket
import ssl
import struct
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from airflow_provider_spark_logs.testing.export import read_chunks

#: Largest request body accepted; the real API's bodies are a few hundred bytes.
MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Request:
    """An HTTP request as the application sees it."""

    method: str
    raw_path: str  # request target as received: percent-encoded, query included
    path: str  # raw_path without the query, still percent-encoded
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: bytes
    server: str  # "api" or "docstore": which of the emulator's servers received it
    connection: int = 0  # which TCP connection brought it: numbered from 1 per emulator, in accept order


@dataclass
class Response:
    """A complete reply whose body is small enough to hold in memory."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FileResponse:
    """A 200 reply streaming a file; ``limit`` cuts the body short, ``flip_at`` damages one byte."""

    path: Path
    headers: dict[str, str] = field(default_factory=dict)
    limit: int | None = None
    flip_at: int | None = None
    status: int = 200


@dataclass
class StreamResponse:
    """A reply of ``length`` bytes made while it is sent, ``interval`` seconds apart per chunk.

    For bodies too big to hold (an oversized answer) or sent too slowly to time out (a drip). The
    client may hang up at any time; the rest is then never made.
    """

    status: int
    length: int
    chunks: Iterable[bytes]
    headers: dict[str, str] = field(default_factory=dict)
    interval: float = 0.0


@dataclass
class Reset:
    """No reply at all: the connection is dropped."""

    status: int = 0


Reply = Response | FileResponse | StreamResponse | Reset


class Application(Protocol):
    """What the server needs from the emulator's logic."""

    def handle(self, request: Request) -> Reply:
        """Answer one request (called concurrently from handler threads)."""
        ...


class _BadRequestBody(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Threaded server that remembers its open connections so :meth:`close` can cut them all.

    Keep-alive clients hold connections open between requests; without cutting them, handler threads
    would outlive :meth:`close` and the port would not really be free. Each connection gets a number,
    recorded with its requests, so that tests can see whether a client reused a connection. With a
    ``tls`` context it speaks HTTPS; the handshake happens in the connection's own thread, so that a
    slow or failing client does not hold up the others.
    """

    daemon_threads = True
    allow_reuse_address = True
    # Hundreds of clients may connect at once (a triggerer full of deferred tasks); the default
    # backlog of 5 would make the kernel drop their SYNs and the clients wait a second to retry.
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        app: Application,
        name: str,
        *,
        verbose: bool,
        tls: ssl.SSLContext | None = None,
        connection_ids: Iterator[int],
    ) -> None:
        self.app = app
        self.name = name
        self.verbose = verbose
        self.tls = tls
        self._connection_ids = connection_ids
        self._connections: dict[socket.socket, int] = {}
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self._thread = threading.Thread(
            # A short poll interval keeps stop() quick: shutdown() waits for the loop to notice.
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"spark-emulator-{name}",
            daemon=True,
        )

    @property
    def port(self) -> int:
        """The bound port (useful when 0 was asked for)."""
        return int(self.server_address[1])

    @property
    def origin(self) -> str:
        """``http(s)://host:port`` of this server as clients should address it (IPv6 in brackets)."""
        host = str(self.server_address[0])
        scheme = "https" if self.tls else "http"
        return f"{scheme}://[{host}]:{self.port}" if ":" in host else f"{scheme}://{host}:{self.port}"

    def start(self) -> None:
        """Serve in a background daemon thread."""
        self._thread.start()

    def close(self) -> None:
        """Stop serving, drop open connections and release the port; safe to call twice."""
        if self._thread.is_alive():
            self.shutdown()
            self._thread.join()
        self.server_close()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            _drop(connection)

    def get_request(self) -> tuple[socket.socket, Any]:
        """Accept a connection; with TLS, wrap it without shaking hands yet (see :class:`_Handler`)."""
        connection, client_address = super().get_request()
        if self.tls is not None:
            connection = self.tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, client_address

    def process_request(self, request: Any, client_address: Any) -> None:
        """Number and track the connection before its handler thread starts."""
        with self._connections_lock:
            self._connections[request] = next(self._connection_ids)
        super().process_request(request, client_address)

    def connection_id(self, request: socket.socket) -> int:
        """The number given to a connection when it was accepted."""
        with self._connections_lock:
            return self._connections.get(request, 0)

    def shutdown_request(self, request: Any) -> None:
        """Forget the connection once its handler is done."""
        with self._connections_lock:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up or refused the certificate is its own business; anything else is a bug."""
        if not isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def _drop(connection: socket.socket) -> None:
    """Abort a connection: RST rather than an orderly close, as a crashed peer or proxy would."""
    try:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already gone


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, asks the application for a reply, writes it. Every reply has a length."""

    protocol_version = "HTTP/1.1"
    server_version = "SparkEmulator/1.0"
    timeout = 60  # idle keep-alive connections are closed after this many seconds
    server: EmulatorHTTPServer

    def do_GET(self) -> None:
        """Every method goes through the application, which decides what is allowed."""
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def setup(self) -> None:
        """Complete the TLS handshake here, in the connection's thread, bounded by the idle timeout."""
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def log_message(self, format: str, *args: Any) -> None:
        """Log only when the emulator was made verbose: tests should not drown in access logs."""
        if self.server.verbose:
            super().log_message(format, *args)

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except _BadRequestBody as problem:
            self.close_connection = True
            self._write(Response(problem.status, str(problem).encode(), {"Content-Type": "text/plain"}))
            return
        split = urlsplit(self.path)
        request = Request(
            method=self.command,
            raw_path=self.path,
            path=split.path,
            query=dict(parse_qsl(split.query)),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            server=self.server.name,
            connection=self.server.connection_id(self.request),
        )
        try:
            reply: Reply = self.server.app.handle(request)
        except Exception:
            # A bug in the emulator: say so loudly (stderr) and answer 500 rather than hang up.
            traceback.print_exc()
            self.close_connection = True
            reply = Response(500, b"Spark emulator internal error", {"Content-Type": "text/plain"})
        self._write(reply)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _BadRequestBody(400, "invalid Content-Length") from None
        if length > MAX_BODY_BYTES:
            raise _BadRequestBody(413, "request body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline().strip():  # trailers
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY_BYTES:
                raise _BadRequestBody(413, "request body too large")
            body += self.rfile.read(size)
            self.rfile.readline()  # CRLF after the chunk

    def _write(self, reply: Reply) -> None:
        try:
            if isinstance(reply, Reset):
                self.close_connection = True
                _drop(self.connection)
            elif isinstance(reply, FileResponse):
                self._write_file(reply)
            elif isinstance(reply, StreamResponse):
                self._write_stream(reply)
            else:
                self._write_headers(reply.status, reply.headers, len(reply.body))
                if self.command != "HEAD":
                    self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away; nothing left to tell it

    def _write_headers(self, status: int, headers: dict[str, str], length: int) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _write_stream(self, reply: StreamResponse) -> None:
        self._write_headers(reply.status, reply.headers, reply.length)
        if self.command == "HEAD":
            return
        for chunk in reply.chunks:
            self.wfile.write(chunk)
            self.wfile.flush()
            if reply.interval:
                time.sleep(reply.interval)

    def _write_file(self, reply: FileResponse) -> None:
        self._write_headers(reply.status, reply.headers, reply.path.stat().st_size)
        if self.command == "HEAD":
            return
        if reply.flip_at is None:
            # The kernel copies file to socket (plain HTTP); a download benchmark measures the client.
            with reply.path.open("rb") as source:
                self.connection.sendfile(source, count=reply.limit)
        else:
            for chunk in read_chunks(reply.path, limit=reply.limit, flip_at=reply.flip_at):
                self.wfile.write(chunk)
        if reply.limit is not None:
            # Truncated body: the promised length will never arrive, so end the connection (an
            # orderly FIN, so that the bytes already sent do reach the client).
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
