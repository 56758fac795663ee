"""The public face of the emulator: start/stop two local HTTP servers and inspect or steer them."""

from __future__ import annotations

import itertools
import shutil
import tempfile
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from airflow_provider_spark_logs.testing.app import RequestRecord, SparkApp
from airflow_provider_spark_logs.testing.auth import (
    DEFAULT_API_KEY,
    DEFAULT_BEARER_TOKEN,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TENANT,
    Credentials,
)
from airflow_provider_spark_logs.testing.faults import Fault
from airflow_provider_spark_logs.testing.history import CallRecord, calls_between
from airflow_provider_spark_logs.testing.server import EmulatorHTTPServer
from airflow_provider_spark_logs.testing.tls import TlsFiles, make_tls_files

#: Connection type of the provider's hook (repeated here: the emulator does not import the package).
CONN_TYPE = "coherent_spark"
AUTH_TYPES = ("api_key", "bearer", "oauth2")


class SparkEmulator:
    """An in-process fake of Coherent Spark's log-download API, for tests and demos on loopback.

    Two servers are started: the API (log jobs, OAuth2 token endpoint and an unauthenticated
    ``/_emulator/`` control API) and a separate document store that serves the finished ZIPs on its
    own port, so that clients are tested against a download URL on another origin. Never expose it
    beyond the local machine: the control API and the credentials are open by design.

    Usable as a context manager or with :meth:`start` / :meth:`stop`. Job-level faults and
    ``zip_padding_bytes`` apply to jobs submitted after they are set.

    With ``tls=True`` both servers speak HTTPS only, with a certificate signed by a CA made at
    :meth:`start` (its PEM file is :attr:`ca_path`; :meth:`airflow_connection` passes it as the
    connection's ``verify``). ``latency`` delays every answer (not the control API's) by that many
    seconds, as a distant API would.
    """

    def __init__(
        self,
        *,
        tenant: str = DEFAULT_TENANT,
        api_key: str = DEFAULT_API_KEY,
        bearer_token: str = DEFAULT_BEARER_TOKEN,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        job_seconds: float = 2.0,
        token_ttl: float = 300.0,
        host: str = "127.0.0.1",
        port: int = 0,
        docstore_port: int = 0,
        services: Iterable[tuple[str, str]] | None = None,
        zip_padding_bytes: int = 0,
        verbose: bool = False,
        tls: bool = False,
        latency: float = 0.0,
    ) -> None:
        """Configure (not start) the emulator; ``services`` = (folder, service) pairs, None = any."""
        self._app = SparkApp(
            Credentials(tenant, api_key, bearer_token, client_id, client_secret),
            job_seconds=job_seconds,
            token_ttl=token_ttl,
            services=services,
            zip_padding_bytes=zip_padding_bytes,
        )
        self.latency = latency
        self._host, self._port, self._docstore_port = host, port, docstore_port
        self._verbose = verbose
        self._tls = tls
        self._tls_files: TlsFiles | None = None
        self._servers: dict[str, EmulatorHTTPServer] = {}
        self._lifecycle = threading.Lock()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> SparkEmulator:
        """Bind both ports and serve in background threads; returns self."""
        with self._lifecycle:
            if self._servers:
                raise RuntimeError("the Spark emulator is already running")
            connection_ids = itertools.count(1)
            try:
                context = self._make_tls_files().server_context() if self._tls else None
                for name, port in (("api", self._port), ("docstore", self._docstore_port)):
                    server = EmulatorHTTPServer(
                        (self._host, port),
                        self._app,
                        name,
                        verbose=self._verbose,
                        tls=context,
                        connection_ids=connection_ids,
                    )
                    self._servers[name] = server
                    self._app.origins[name] = server.origin
            except Exception:
                self._close_servers()
                raise
            for server in self._servers.values():
                server.start()
        return self

    def stop(self) -> None:
        """Stop both servers, free their ports, delete temporary files and forget jobs. Idempotent."""
        with self._lifecycle:
            self._close_servers()
            self._app.jobs.close()

    def _make_tls_files(self) -> TlsFiles:
        self._tls_files = make_tls_files(Path(tempfile.mkdtemp(prefix="spark-emulator-tls-")), self._host)
        return self._tls_files

    def _close_servers(self) -> None:
        for server in self._servers.values():
            server.close()
        self._servers.clear()
        if self._tls_files is not None:
            shutil.rmtree(self._tls_files.ca_path.parent, ignore_errors=True)
            self._tls_files = None

    def __enter__(self) -> SparkEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses and credentials -------------------------------------------------------------

    def _origin(self, name: str) -> str:
        if not self._servers:
            raise RuntimeError("the Spark emulator is not running; call start() first")
        return self._app.origins[name]

    @property
    def base_url(self) -> str:
        """API origin, e.g. ``http://127.0.0.1:8080`` (no tenant, no trailing slash)."""
        return self._origin("api")

    @property
    def docstore_url(self) -> str:
        """Origin of the document store that serves the ZIPs (a different port from the API)."""
        return self._origin("docstore")

    @property
    def token_url(self) -> str:
        """OAuth2 client-credentials token endpoint of the tenant."""
        self._origin("api")
        return self._app.token_url

    @property
    def ca_path(self) -> str | None:
        """PEM file of the CA that signed the HTTPS certificate (None without ``tls``): a client's ``verify``."""
        self._origin("api")
        return None if self._tls_files is None else str(self._tls_files.ca_path)

    @property
    def tenant(self) -> str:
        """The only tenant the emulator knows."""
        return self._app.credentials.tenant

    @property
    def api_key(self) -> str:
        """Accepted ``x-synthetic-key`` (with ``x-tenant-name: <tenant>``)."""
        return self._app.credentials.api_key

    @property
    def bearer_token(self) -> str:
        """Accepted static ``Authorization: Bearer`` token (issued OAuth2 tokens work as well)."""
        return self._app.credentials.bearer_token

    @property
    def client_id(self) -> str:
        """Accepted OAuth2 client id."""
        return self._app.credentials.client_id

    @property
    def client_secret(self) -> str:
        """Accepted OAuth2 client secret."""
        return self._app.credentials.client_secret

    def airflow_connection(self, auth_type: str = "api_key", *, host_with_tenant: bool = False) -> dict[str, Any]:
        """An Airflow connection (JSON form, e.g. for ``AIRFLOW_CONN_<ID>``) pointing at the emulator.

        ``host_with_tenant`` puts the tenant at the end of the host, as users who copy a "base URL"
        do, instead of into ``extra``.
        """
        if auth_type not in AUTH_TYPES:
            raise ValueError(f"auth_type must be one of {', '.join(AUTH_TYPES)}, not {auth_type!r}")
        credentials = self._app.credentials
        login, password = {
            "api_key": (None, credentials.api_key),
            "bearer": (None, credentials.bearer_token),
            "oauth2": (credentials.client_id, credentials.client_secret),
        }[auth_type]
        extra: dict[str, Any] = {"auth_type": auth_type}
        host = self.base_url
        if host_with_tenant:
            host = f"{host}/{self.tenant}"
        else:
            extra["tenant"] = self.tenant
        if auth_type == "oauth2":
            extra["token_url"] = self.token_url
        if self.ca_path is not None:
            extra["verify"] = self.ca_path
        connection: dict[str, Any] = {"conn_type": CONN_TYPE, "host": host, "password": password, "extra": extra}
        if login is not None:
            connection["login"] = login
        return connection

    # -- steering and inspection ---------------------------------------------------------------

    @property
    def job_seconds(self) -> float:
        """Seconds from submit until a job reports progress 100 (applies to running jobs too)."""
        return self._app.job_seconds

    @job_seconds.setter
    def job_seconds(self, value: float) -> None:
        self._app.job_seconds = value

    @property
    def latency(self) -> float:
        """Seconds every API and document-store answer is held back (0 = none; applies at once)."""
        return self._app.latency

    @latency.setter
    def latency(self, value: float) -> None:
        if value < 0:
            raise ValueError("latency must not be negative")
        self._app.latency = float(value)

    @property
    def zip_padding_bytes(self) -> int:
        """Size of a stored ``padding.bin`` member added to the ZIP of each job submitted from now on.

        0 (default) means no padding. The bytes are pseudo-random (incompressible) and written in
        chunks, so a ZIP of hundreds of MiB costs disk, not memory.
        """
        return self._app.zip_padding_bytes

    @zip_padding_bytes.setter
    def zip_padding_bytes(self, value: int) -> None:
        if value < 0:
            raise ValueError("zip_padding_bytes must not be negative")
        self._app.zip_padding_bytes = value

    def inject(self, fault: Fault) -> Fault:
        """Queue a fault (see :mod:`.faults` for kinds); returns it."""
        return self._app.faults.add(fault)

    def clear_faults(self) -> None:
        """Drop all faults not used up yet (faults already attached to jobs stay with them)."""
        self._app.faults.clear()

    @property
    def pending_faults(self) -> list[dict[str, Any]]:
        """Queued faults with their remaining use counts."""
        return self._app.faults.pending()

    @property
    def requests(self) -> list[RequestRecord]:
        """Snapshot of every request answered so far, oldest first (control API excluded)."""
        return self._app.requests()

    def clear_requests(self) -> None:
        """Empty the request log."""
        self._app.clear_requests()

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        """Snapshot of every job: job id -> folder, service, format, filters, created, fault, ..."""
        return self._app.jobs.snapshot()

    def calls(self, folder: str, service: str, start: datetime, end: datetime) -> list[CallRecord]:
        """The synthetic history of ``folder/service`` with ``start <= log_time < end``, by time."""
        return list(calls_between(folder, service, start, end))
