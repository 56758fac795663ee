"""``SparkLogHook``: authenticated calls to Spark's log-download API, sync and async.

The protocol (URLs, bodies, parsing, retry decisions) lives in the I/O-free
:mod:`airflow_provider_spark_logs.protocol` package; this module only moves bytes: ``requests`` for
workers, ``aiohttp`` for the triggerer, whose event loop must never block.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, Protocol

import aiohttp
import requests

from airflow_provider_spark_logs import CONN_TYPE, DEFAULT_CONN_ID, __version__
from airflow_provider_spark_logs._compat import BaseHook, Connection, amask_secret, mask_secret
from airflow_provider_spark_logs.exceptions import (
    SparkDownloadError,
    SparkLogError,
    SparkNotFoundError,
    SparkRetriesExhaustedError,
)
from airflow_provider_spark_logs.protocol.connection import SparkConnectionConfig, parse_connection
from airflow_provider_spark_logs.protocol.exchange import Done, Exchange, RefreshToken, Retry
from airflow_provider_spark_logs.protocol.job_watch import JobWatch
from airflow_provider_spark_logs.protocol.messages import (
    AccessToken,
    ExportFormat,
    HttpRequest,
    JobProgress,
    JobStatus,
    LogFilters,
    auth_headers,
    download_request,
    parse_status,
    parse_submit,
    parse_token,
    redirect_target,
    status_request,
    submit_request,
    token_request,
)

USER_AGENT = f"airflow-provider-spark-logs/{__version__}"
# Which transport made a call shows in Spark's access logs: "async" calls come from the triggerer.
SYNC_USER_AGENT = f"{USER_AGENT} (requests)"
ASYNC_USER_AGENT = f"{USER_AGENT} (aiohttp)"
MAX_REDIRECTS = 5
DOWNLOAD_CHUNK_BYTES = 1 << 20
_PROBE_JOB_ID = "00000000-0000-0000-0000-000000000000"
_SYNC_TRANSPORT_ERRORS = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)
_ASYNC_TRANSPORT_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)
#: How long an idle connection of a shared async session is kept: past the default 10 s poll
#: interval, and short of the 60 s after which load balancers commonly drop idle connections.
ASYNC_KEEPALIVE_SECONDS = 50.0
#: (process id, digest) of each connection secret the event loop side has masked (one per connection).
_MASKED_SECRETS: set[tuple[int, bytes]] = set()


def _first_time_masked(secret: str) -> bool:
    """True the first time this process sees a secret, so that a triggerer masks it once, not per trigger.

    Keyed by process id too: a forked child starts with its parent's set but a masker of its own.
    """
    key = (os.getpid(), hashlib.sha256(secret.encode()).digest())
    if key in _MASKED_SECRETS:
        return False
    _MASKED_SECRETS.add(key)
    return True


#: TLS contexts by CA bundle path: one per bundle per process, not one per trigger (one per connection).
_CA_CONTEXTS: dict[str, ssl.SSLContext] = {}


class BinaryWriter(Protocol):
    """Where a download goes: a binary file, or anything with its ``write``."""

    def write(self, data: bytes, /) -> int: ...


class SparkLogHook(BaseHook):
    """Talk to Coherent Spark's API call history through a ``coherent_spark`` connection.

    :param spark_conn_id: the connection; see the README for its fields and the three auth types.
    """

    conn_name_attr = "spark_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Coherent Spark"

    def __init__(self, spark_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spark_conn_id = spark_conn_id
        self._config: SparkConnectionConfig | None = None
        self._session: requests.Session | None = None
        self._token: AccessToken | None = None
        self._shared_session: aiohttp.ClientSession | None = None

    # ------------------------------------------------------------------ configuration

    def _load_config(self, conn: Connection) -> SparkConnectionConfig:
        config = parse_connection(
            self.spark_conn_id,
            host=conn.host,
            login=conn.login,
            password=conn.password,
            extra=conn.extra_dejson,
            port=conn.port,
        )
        if config.verify is False:
            self.log.warning("TLS verification is off for connection '%s' (extra verify=false).", config.conn_id)
        self._config = config
        return config

    def get_config(self) -> SparkConnectionConfig:
        """The validated connection; raises :class:`SparkConfigError` naming the field to fix."""
        config = self._config
        if config is None:
            config = self._load_config(self.get_connection(self.spark_conn_id))
            mask_secret(config.secret)
        return config

    async def aget_config(self) -> SparkConnectionConfig:
        """Like :meth:`get_config`, without blocking the event loop.

        In the triggerer, secrets are masked with ``amask_secret``: the sync ``mask_secret`` talks
        to the supervisor synchronously and can deadlock an event loop with a message in flight.
        The secret is masked once per process, not once per trigger.
        """
        config = self._config
        if config is None:
            config = self._load_config(await self.aget_connection(self.spark_conn_id))
            if _first_time_masked(config.secret):
                await amask_secret(config.secret)
        return config

    def _remember_token(self, body: bytes, request: HttpRequest) -> str:
        """Cache a new OAuth2 token; the caller masks it (sync or async)."""
        self._token = parse_token(body, request.what, time.time())
        return self._token.value

    def _cached_token(self) -> str | None:
        if self._token is not None and self._token.fresh(time.time()):
            return self._token.value
        return None

    # ------------------------------------------------------------------ sync transport

    def get_conn(self) -> requests.Session:
        if self._session is None:
            session = requests.Session()
            session.verify = self.get_config().verify
            session.headers["User-Agent"] = SYNC_USER_AGENT
            self._session = session
        return self._session

    def _headers(self, config: SparkConnectionConfig, request: HttpRequest) -> dict[str, str]:
        headers = dict(request.headers)
        if request.authenticated:
            token = self._access_token(config) if config.auth_type == "oauth2" else None
            headers.update(auth_headers(config, token))
        return headers

    def _access_token(self, config: SparkConnectionConfig) -> str:
        token = self._cached_token()
        if token is None:
            request = token_request(config)
            token = self._remember_token(self._call(config, request), request)
            mask_secret(token)
        return token

    def _attempt(self, request: HttpRequest, exchange: Exchange, stream: bool) -> requests.Response | Retry:
        """Send once: the response to use, or what to do before sending again."""
        headers = self._headers(exchange.config, request)
        try:
            response = self.get_conn().request(
                request.method,
                request.url,
                headers=headers,
                json=request.json,
                data=request.form,
                timeout=exchange.config.timeout,
                allow_redirects=False,
                stream=stream,
                # Per request: a session's verify loses to REQUESTS_CA_BUNDLE (psf/requests#3829).
                verify=exchange.config.verify,
            )
        except _SYNC_TRANSPORT_ERRORS as error:
            network_error: str | None = type(error).__name__
        else:
            network_error = None
        if network_error is not None:
            # Decided outside the except block, so that an error raised here does not chain the
            # network error, whose text holds the URL (a secret, for downloads).
            return exchange.on_transport_error(network_error)
        if stream and (response.ok or response.is_redirect):
            return response
        with response:
            body = next(response.iter_content(4096), b"") if stream else response.content
        step = exchange.on_response(response.status_code, response.headers, body)
        return response if isinstance(step, Done) else step

    def _perform(
        self, config: SparkConnectionConfig, request: HttpRequest, *, stream: bool = False
    ) -> requests.Response:
        exchange = Exchange(config, request)
        while not isinstance(outcome := self._attempt(request, exchange, stream), requests.Response):
            time.sleep(self._before_next_attempt(exchange, outcome))
        return outcome

    def _call(self, config: SparkConnectionConfig, request: HttpRequest) -> bytes:
        return self._perform(config, request).content

    def _before_next_attempt(self, exchange: Exchange, retry: Retry) -> float:
        """Seconds to wait before sending again: none after dropping a refused token, else as told."""
        if isinstance(retry, RefreshToken):
            self._token = None
            return 0.0
        self.log.warning(
            "Retrying %s in %.1f s (attempt %d failed: %s).",
            exchange.request.what,
            retry.seconds,
            exchange.attempts,
            exchange.last_failure,
        )
        return retry.seconds

    def submit_export(self, folder: str, service: str, filters: LogFilters, export_format: ExportFormat = "csv") -> str:
        """Start a log-export job of CSV or JSON files and return its id."""
        config = self.get_config()
        request = submit_request(config, folder, service, filters, export_format)
        job_id = parse_submit(self._call(config, request), request.what)
        self.log.info("Started Spark log export job %s for %s/%s.", job_id, folder, service)
        return job_id

    def get_job_status(self, folder: str, service: str, job_id: str, export_format: ExportFormat = "csv") -> JobStatus:
        """Read a job's progress, on the endpoint of its format; its download URL, once there, is masked in logs."""
        config = self.get_config()
        request = status_request(config, folder, service, job_id, export_format)
        return _masked(parse_status(self._call(config, request), request.what))

    def check_job(
        self, folder: str, service: str, watch: JobWatch, export_format: ExportFormat = "csv"
    ) -> float | None:
        """Look at a job once: ``None`` when it is done, else the seconds to wait before looking again.

        Raises :class:`SparkJobTimeoutError` past the watch's deadline, and the API's error if the job
        failed; transient failures that outlasted the retries are ridden out until the deadline.
        """
        try:
            status = self.get_job_status(folder, service, watch.job_id, export_format)
        except SparkRetriesExhaustedError as error:
            return watch.after_transient_error(error, time.time())
        return watch.after_status(status, time.time())

    def wait_for_job(self, folder: str, service: str, watch: JobWatch, export_format: ExportFormat = "csv") -> None:
        """Poll until the job is done, in this process (the non-deferrable path); the first look is at once."""
        while (wait := self.check_job(folder, service, watch, export_format)) is not None:
            if watch.progress_changed:
                self.log.info("Spark log export job %s: %g%% done.", watch.job_id, watch.last_progress)
            time.sleep(wait)

    def download(self, url: str, fileobj: BinaryWriter, chunk_size: int = DOWNLOAD_CHUNK_BYTES) -> int:
        """Stream ``url`` into ``fileobj`` in ``chunk_size`` pieces and return the byte count.

        Spark credentials are sent only if ``url`` is on the API's own origin, and never after a
        redirect, wherever it leads. A body cut short raises :class:`SparkDownloadError`.
        """
        mask_secret(url)
        for hop in range(MAX_REDIRECTS + 1):
            config = self.get_config()
            request = download_request(config, url, redirected=hop > 0)
            with self._perform(config, request, stream=True) as response:
                target = redirect_target(url, response.status_code, response.headers)
                if target is None:
                    return _stream_body(response, fileobj, chunk_size)
            mask_secret(target)
            url = target
        raise SparkDownloadError(f"The log export download was redirected more than {MAX_REDIRECTS} times.")

    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap authenticated call: the status of a job that does not exist.

        Spark checks credentials before it looks the job up, so a 404 proves that the host, the
        tenant and the credentials work. A failure is told in the user's terms: neither the made-up
        job nor the connection id appears, as the UI tests a copy of the connection under a random id.
        """
        try:
            config = self.get_config()
            probe = replace(config, max_retries=0)
            request = status_request(probe, "connection-test", "connection-test", _PROBE_JOB_ID)
            self._call(probe, replace(request, what="a test call"))
        except SparkNotFoundError:
            pass
        except SparkLogError as error:
            return False, str(error).replace(f"Connection '{self.spark_conn_id}'", "The connection")
        return True, (
            f"Connected to Spark tenant '{config.tenant}' at {config.base_url} with auth_type '{config.auth_type}'."
        )

    # ------------------------------------------------------------------ async transport (triggerer)

    async def _assl(self, config: SparkConnectionConfig) -> ssl.SSLContext | bool:
        """aiohttp's TLS setting; a CA bundle is read once per process, in a thread, not on the event loop."""
        if not isinstance(config.verify, str):
            return config.verify
        context = _CA_CONTEXTS.get(config.verify)
        if context is None:
            context = await asyncio.to_thread(ssl.create_default_context, cafile=config.verify)
            _CA_CONTEXTS[config.verify] = context
        return context

    async def _aheaders(
        self, session: aiohttp.ClientSession, config: SparkConnectionConfig, request: HttpRequest
    ) -> dict[str, str]:
        headers = dict(request.headers)
        if request.authenticated:
            token = await self._aaccess_token(session, config) if config.auth_type == "oauth2" else None
            headers.update(auth_headers(config, token))
        return headers

    async def _aaccess_token(self, session: aiohttp.ClientSession, config: SparkConnectionConfig) -> str:
        token = self._cached_token()
        if token is None:
            request = token_request(config)
            token = self._remember_token(await self._acall(session, config, request), request)
            await amask_secret(token)
        return token

    async def _aattempt(
        self, session: aiohttp.ClientSession, request: HttpRequest, exchange: Exchange
    ) -> bytes | Retry:
        """:meth:`_attempt` for the event loop: the body to use, or what to do before sending again."""
        headers = await self._aheaders(session, exchange.config, request)
        try:
            async with session.request(
                request.method,
                request.url,
                headers=headers,
                json=request.json,
                data=request.form,
                timeout=aiohttp.ClientTimeout(total=exchange.config.timeout),
                allow_redirects=False,
                ssl=await self._assl(exchange.config),
            ) as response:
                body = await response.read()
        except _ASYNC_TRANSPORT_ERRORS as error:
            network_error: str | None = type(error).__name__
        else:
            network_error = None
        if network_error is not None:
            return exchange.on_transport_error(network_error)  # outside the except block: see _attempt
        step = exchange.on_response(response.status, response.headers, body)
        return step.body if isinstance(step, Done) else step

    async def _acall(
        self, session: aiohttp.ClientSession, config: SparkConnectionConfig, request: HttpRequest
    ) -> bytes:
        exchange = Exchange(config, request)
        while not isinstance(outcome := await self._aattempt(session, request, exchange), bytes):
            await asyncio.sleep(self._before_next_attempt(exchange, outcome))
        return outcome

    def _new_async_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            headers={"User-Agent": ASYNC_USER_AGENT},
            connector=aiohttp.TCPConnector(keepalive_timeout=ASYNC_KEEPALIVE_SECONDS),
        )

    @asynccontextmanager
    async def async_session(self) -> AsyncIterator[None]:
        """Make the async calls inside the block share one HTTP session, and so its connections.

        A trigger polls through one session for its whole run, so that its polls reuse one TCP
        (and TLS) connection instead of opening one each. The session is closed when the block
        ends, also when the trigger is cancelled. Outside such a block, each call has its own.
        """
        async with self._new_async_session() as session:
            self._shared_session = session
            try:
                yield
            finally:
                self._shared_session = None

    @asynccontextmanager
    async def _session_for_call(self) -> AsyncIterator[aiohttp.ClientSession]:
        if self._shared_session is not None:
            yield self._shared_session
        else:
            async with self._new_async_session() as session:
                yield session

    async def aget_job_status(
        self, folder: str, service: str, job_id: str, export_format: ExportFormat = "csv"
    ) -> JobProgress:
        """A job's progress, for the event loop; unlike :meth:`get_job_status`, without the URL.

        Nothing in the triggerer downloads, so the URL (a per-job secret) is dropped at once
        rather than kept, or masked: masking it would grow the process's secrets masker by one
        pattern per job, and make every log line of every DAG slower to mask.
        """
        config = await self.aget_config()
        request = status_request(config, folder, service, job_id, export_format)
        async with self._session_for_call() as session:
            return parse_status(await self._acall(session, config, request), request.what).without_url()

    async def acheck_job(
        self, folder: str, service: str, watch: JobWatch, export_format: ExportFormat = "csv"
    ) -> float | None:
        """:meth:`check_job` for the event loop."""
        try:
            status = await self.aget_job_status(folder, service, watch.job_id, export_format)
        except SparkRetriesExhaustedError as error:
            return watch.after_transient_error(error, time.time())
        return watch.after_status(status, time.time())


def _masked(status: JobStatus) -> JobStatus:
    if status.download_url:
        mask_secret(status.download_url)
    return status


def _stream_body(response: requests.Response, fileobj: BinaryWriter, chunk_size: int) -> int:
    """Copy the body in fixed-size chunks, and check it against ``Content-Length``."""
    written = 0
    try:
        for chunk in response.iter_content(chunk_size):
            fileobj.write(chunk)
            written += len(chunk)
    except requests.RequestException as error:
        raise SparkDownloadError(
            f"The log export download was cut off after {written} bytes ({type(error).__name__})."
        ) from None
    expected = response.headers.get("Content-Length")
    if expected is not None and expected.isdigit() and int(expected) != written:
        raise SparkDownloadError(f"The log export download ended after {written} of {expected} announced bytes.")
    return written
