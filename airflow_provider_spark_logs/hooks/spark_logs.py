"""``SparkLogHook``: authenticated calls to Spark's log-download API, sync and async.

The protocol (URLs, bodies, parsing, retry decisions) lives in the I/O-free
:mod:`airflow_provider_spark_logs.protocol` package; this module only moves bytes: ``requests`` for
workers, ``aiohttp`` for the triggerer, whose event loop must never block.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
import requests
import urllib3

from airflow_provider_spark_logs import CONN_TYPE, DEFAULT_CONN_ID, __version__, get_provider_info
from airflow_provider_spark_logs._compat import (
    AIRFLOW_V_3_2_PLUS,
    BaseHook,
    Connection,
    amask_secret,
    connection_form_widgets,
    mask_secret,
    ui_field_behaviour,
)
from airflow_provider_spark_logs.exceptions import (
    SparkConfigError,
    SparkDownloadError,
    SparkLogError,
    SparkNotFoundError,
    SparkProtocolError,
    SparkRetriesExhaustedError,
)
from airflow_provider_spark_logs.hooks.address_guard import AddressCheck, AddressCheckingAdapter, checking_addresses
from airflow_provider_spark_logs.protocol.connection import SparkConnectionConfig, parse_connection
from airflow_provider_spark_logs.protocol.exchange import Done, Exchange, RefreshToken, Retry, Wait
from airflow_provider_spark_logs.protocol.job_watch import JobWatch
from airflow_provider_spark_logs.protocol.messages import (
    MAX_ANSWER_BYTES,
    AccessToken,
    ExportFormat,
    HttpRequest,
    JobProgress,
    JobStatus,
    LogFilters,
    auth_headers,
    download_refusal_message,
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
_READ_BYTES = 64 * 1024
# Reading a raw body raises urllib3's own errors, which requests would otherwise have wrapped.
_SYNC_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,
)
_ASYNC_TRANSPORT_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError)
#: How long an idle connection of a shared async session is kept: past the default 10 s poll
#: interval, and short of the 60 s after which load balancers commonly drop idle connections.
ASYNC_KEEPALIVE_SECONDS = 50.0
#: (process id, digest) of each connection secret the event loop side has masked (one per connection).
_MASKED_SECRETS: set[tuple[int, bytes]] = set()


def _client_key(config: SparkConnectionConfig) -> tuple[str | None, str | None, bytes]:
    return config.token_url, config.client_id, hashlib.sha256(config.secret.encode()).digest()


def _first_time_masked(secret: str) -> bool:
    """True the first time this process sees a secret, so that a triggerer masks it once, not per trigger.

    Keyed by process id too: a forked child starts with its parent's set but a masker of its own.
    """
    key = (os.getpid(), hashlib.sha256(secret.encode()).digest())
    if key in _MASKED_SECRETS:
        return False
    _MASKED_SECRETS.add(key)
    return True


#: OAuth2 tokens shared by the hooks of a process, by client: a triggerer's triggers share one token
#: (fetched, and masked, once per token lifetime) instead of each fetching its own. One per client.
_SHARED_TOKENS: dict[tuple[str | None, str | None, bytes], AccessToken] = {}
#: TLS contexts by CA bundle path: one per bundle per process, not one per trigger (one per connection).
_CA_CONTEXTS: dict[str, ssl.SSLContext] = {}


class BinaryWriter(Protocol):
    """Where a download goes: a binary file, or anything with its ``write``."""

    def write(self, data: bytes, /) -> int: ...


class _HopByHopSession(requests.Session):
    """A session that never reads a ``Location`` itself: the hook follows redirects hop by hop and
    checks each (requests would parse the next URL even with ``allow_redirects=False``, and fail on
    a hostile one with its own error)."""

    def resolve_redirects(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        return iter(())


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

    if not AIRFLOW_V_3_2_PLUS:
        # Airflow 3.1 builds the connection form from these two; 3.2+ reads the provider info's
        # conn-fields and ui-field-behaviour instead, and warns about hooks that define them.

        @classmethod
        def get_connection_form_widgets(cls) -> dict[str, Any]:
            return connection_form_widgets(_connection_type()["conn-fields"])

        @classmethod
        def get_ui_field_behaviour(cls) -> dict[str, Any]:
            return ui_field_behaviour(_connection_type()["ui-field-behaviour"])

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
            _check_ca_bundle(config)
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
            await asyncio.to_thread(_check_ca_bundle, config)
        return config

    def _remember_token(self, config: SparkConnectionConfig, body: bytes, request: HttpRequest) -> str:
        """Cache a new OAuth2 token for every hook of the process; the caller masks it (sync or async)."""
        token = parse_token(body, request.what, time.time(), self._known_secrets(config))
        self._token = _SHARED_TOKENS[_client_key(config)] = token
        return token.value

    def _known_secrets(self, config: SparkConnectionConfig) -> tuple[str, ...]:
        """What must never be quoted back from an answer: the connection's secret and our token."""
        return (config.secret, self._token.value) if self._token is not None else (config.secret,)

    def _cached_token(self, config: SparkConnectionConfig) -> str | None:
        token = _SHARED_TOKENS.get(_client_key(config), self._token)
        if token is not None and token.fresh(time.time()):
            self._token = token
            return token.value
        return None

    def _forget_token(self, config: SparkConnectionConfig) -> None:
        """Drop a token the API refused, here and for the other hooks of the process."""
        if self._token is not None and _SHARED_TOKENS.get(_client_key(config)) is self._token:
            del _SHARED_TOKENS[_client_key(config)]
        self._token = None

    # ------------------------------------------------------------------ sync transport

    def get_conn(self) -> requests.Session:
        if self._session is None:
            session = _HopByHopSession()
            session.verify = self.get_config().verify
            session.headers["User-Agent"] = SYNC_USER_AGENT
            for prefix in ("http://", "https://"):
                session.mount(prefix, AddressCheckingAdapter())
            self._session = session
        return self._session

    def _headers(self, config: SparkConnectionConfig, request: HttpRequest) -> dict[str, str]:
        headers = dict(request.headers)
        if request.authenticated:
            token = self._access_token(config) if config.auth_type == "oauth2" else None
            headers.update(auth_headers(config, token))
        return headers

    def _access_token(self, config: SparkConnectionConfig) -> str:
        token = self._cached_token(config)
        if token is None:
            request = token_request(config)
            token = self._remember_token(config, self._call(config, request), request)
            mask_secret(token)
        return token

    def _attempt(
        self, request: HttpRequest, exchange: Exchange, stream: bool, address_check: AddressCheck | None
    ) -> requests.Response | bytes | Retry:
        """Send once: a streamed download that succeeded (or redirects) unread, the body of an
        answer to use (read raw, to the cap), or what to do before sending again.

        ``address_check`` applies to the connections this request opens (not to a token fetch).
        """
        headers = self._headers(exchange.config, request)
        exchange.sent(headers)
        certificate: str | None = None
        network_error: str | None = None
        try:
            with checking_addresses(address_check):
                response = self._send(request, exchange, headers)
            if stream and (response.ok or response.is_redirect):
                return response
            with response:
                body = _capped_body(response)
        except _SYNC_TRANSPORT_ERRORS as error:
            certificate, network_error = _certificate_problem(error), type(error).__name__
        # Decided outside the except block, so that an error raised here does not chain the
        # network error, whose text holds the URL (a secret, for downloads).
        if certificate is not None:
            exchange.on_certificate_error(certificate)
        if network_error is not None:
            return exchange.on_transport_error(network_error)
        step = exchange.on_response(response.status_code, response.headers, body)
        return step.body if isinstance(step, Done) else step

    def _send(self, request: HttpRequest, exchange: Exchange, headers: dict[str, str]) -> requests.Response:
        return self.get_conn().request(
            request.method,
            request.url,
            headers=headers,
            json=request.json,
            data=request.form,
            timeout=exchange.timeout(),
            allow_redirects=False,
            stream=True,
            # Per request: a session's verify loses to REQUESTS_CA_BUNDLE (psf/requests#3829).
            verify=exchange.config.verify,
        )

    def _perform(
        self,
        config: SparkConnectionConfig,
        request: HttpRequest,
        *,
        stream: bool = False,
        deadline: float | None = None,
        address_check: AddressCheck | None = None,
    ) -> requests.Response | bytes:
        exchange = Exchange(config, request, deadline=deadline)
        while isinstance(outcome := self._attempt(request, exchange, stream, address_check), Wait | RefreshToken):
            time.sleep(self._before_next_attempt(exchange, outcome))
        return outcome

    def _call(self, config: SparkConnectionConfig, request: HttpRequest, deadline: float | None = None) -> bytes:
        outcome = self._perform(config, request, deadline=deadline)
        if isinstance(outcome, requests.Response):  # only streamed calls come back unread
            outcome.close()
            raise SparkProtocolError(f"{request.what} came back unread.")
        return outcome

    def _open(self, config: SparkConnectionConfig, request: HttpRequest, deadline: float) -> requests.Response:
        """A download's response, unread; its connections checked by the address they reach."""
        outcome = self._perform(config, request, stream=True, deadline=deadline, address_check=_address_check(config))
        if isinstance(outcome, bytes):  # a 2xx is always returned unread when streaming
            raise SparkDownloadError("The log export download came back already read.")
        return outcome

    def _before_next_attempt(self, exchange: Exchange, retry: Retry) -> float:
        """Seconds to wait before sending again: none after dropping a refused token, else as told."""
        if isinstance(retry, RefreshToken):
            self._forget_token(exchange.config)
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
        job_id = parse_submit(self._call(config, request), request.what, self._known_secrets(config))
        self.log.info("Started Spark log export job %s for %s/%s.", job_id, folder, service)
        return job_id

    def get_job_status(
        self,
        folder: str,
        service: str,
        job_id: str,
        export_format: ExportFormat = "csv",
        *,
        deadline: float | None = None,
    ) -> JobStatus:
        """Read a job's progress, on the endpoint of its format; its download URL, once there, is masked in logs.

        With a ``deadline`` (epoch seconds), retries never wait past it.
        """
        config = self.get_config()
        request = status_request(config, folder, service, job_id, export_format)
        body = self._call(config, request, deadline)
        return _masked(parse_status(body, request.what, self._known_secrets(config)))

    def check_job(
        self, folder: str, service: str, watch: JobWatch, export_format: ExportFormat = "csv"
    ) -> float | None:
        """Look at a job once: ``None`` when it is done, else the seconds to wait before looking again.

        Raises :class:`SparkJobTimeoutError` past the watch's deadline, and the API's error if the job
        failed; transient failures that outlasted the retries are ridden out until the deadline.
        """
        try:
            status = self.get_job_status(folder, service, watch.job_id, export_format, deadline=watch.deadline)
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
        redirect, wherever it leads. Every hop must be on a host the connection trusts, checked by
        name and then by the address the connection reached. The body is taken as sent (never
        inflated), within the connection's ``download_timeout``; a body cut short, late or encoded
        raises :class:`SparkDownloadError`.
        """
        config = self.get_config()
        deadline = time.time() + config.download_timeout
        for hop in range(MAX_REDIRECTS + 1):
            _mask_url(url)
            request = download_request(config, url, redirected=hop > 0)
            with self._open(config, request, deadline) as response:
                target = redirect_target(url, response.status_code, response.headers)
                if target is None:
                    return _stream_body(response, fileobj, chunk_size, deadline, config)
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
        token = self._cached_token(config)
        if token is None:
            request = token_request(config)
            token = self._remember_token(config, await self._acall(session, config, request), request)
            await amask_secret(token)
        return token

    async def _aattempt(
        self, session: aiohttp.ClientSession, request: HttpRequest, exchange: Exchange
    ) -> bytes | Retry:
        """:meth:`_attempt` for the event loop: the body to use, or what to do before sending again."""
        headers = await self._aheaders(session, exchange.config, request)
        exchange.sent(headers)
        certificate: str | None = None
        network_error: str | None = None
        try:
            async with session.request(
                request.method,
                request.url,
                headers=headers,
                json=request.json,
                data=request.form,
                timeout=aiohttp.ClientTimeout(total=exchange.timeout()),
                allow_redirects=False,
                ssl=await self._assl(exchange.config),
            ) as response:
                body = await _acapped_body(response)
        except _ASYNC_TRANSPORT_ERRORS as error:
            certificate, network_error = _certificate_problem(error), type(error).__name__
        if certificate is not None:  # outside the except block: see _attempt
            exchange.on_certificate_error(certificate)
        if network_error is not None:
            return exchange.on_transport_error(network_error)
        step = exchange.on_response(response.status, response.headers, body)
        return step.body if isinstance(step, Done) else step

    async def _acall(
        self,
        session: aiohttp.ClientSession,
        config: SparkConnectionConfig,
        request: HttpRequest,
        deadline: float | None = None,
    ) -> bytes:
        exchange = Exchange(config, request, deadline=deadline)
        while not isinstance(outcome := await self._aattempt(session, request, exchange), bytes):
            await asyncio.sleep(self._before_next_attempt(exchange, outcome))
        return outcome

    def _new_async_session(self) -> aiohttp.ClientSession:
        # Answers are read as sent (auto_decompress off): a cap on inflated bytes would come too late.
        return aiohttp.ClientSession(
            headers={"User-Agent": ASYNC_USER_AGENT},
            connector=aiohttp.TCPConnector(keepalive_timeout=ASYNC_KEEPALIVE_SECONDS),
            auto_decompress=False,
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
        self,
        folder: str,
        service: str,
        job_id: str,
        export_format: ExportFormat = "csv",
        *,
        deadline: float | None = None,
    ) -> JobProgress:
        """A job's progress, for the event loop; unlike :meth:`get_job_status`, without the URL.

        Nothing in the triggerer downloads, so the URL (a per-job secret) is dropped at once
        rather than kept, or masked: masking it would grow the process's secrets masker by one
        pattern per job, and make every log line of every DAG slower to mask.
        """
        config = await self.aget_config()
        request = status_request(config, folder, service, job_id, export_format)
        async with self._session_for_call() as session:
            body = await self._acall(session, config, request, deadline)
        return parse_status(body, request.what, self._known_secrets(config)).without_url()

    async def acheck_job(
        self, folder: str, service: str, watch: JobWatch, export_format: ExportFormat = "csv"
    ) -> float | None:
        """:meth:`check_job` for the event loop."""
        try:
            status = await self.aget_job_status(folder, service, watch.job_id, export_format, deadline=watch.deadline)
        except SparkRetriesExhaustedError as error:
            return watch.after_transient_error(error, time.time())
        return watch.after_status(status, time.time())


def _check_ca_bundle(config: SparkConnectionConfig) -> None:
    """A CA bundle path that is not a file would fail every call; say so when the connection is read."""
    if isinstance(config.verify, str) and not os.path.isfile(config.verify):
        raise SparkConfigError(
            f"Connection '{config.conn_id}' has extra verify={config.verify!r}, which is not a file: give the "
            "path of a PEM CA bundle that exists on every worker and on the triggerer."
        )


def _certificate_problem(error: BaseException) -> str | None:
    """Why a server certificate failed verification, if that is what ``error`` comes down to."""
    seen: set[int] = set()
    todo: list[Any] = [error]
    while todo:
        current = todo.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ssl.SSLCertVerificationError):  # aiohttp's error is one, wrapping ssl's
            inner = getattr(current, "certificate_error", current)
            return getattr(inner, "verify_message", None) or "certificate verify failed"
        todo += [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
    return None


def _address_check(config: SparkConnectionConfig) -> AddressCheck:
    def check(host: str, address: str) -> None:
        refusal = config.downloads.address_refusal(host, ipaddress.ip_address(address.split("%", 1)[0]))
        if refusal is not None:
            raise SparkProtocolError(download_refusal_message(config, "the log export download", host, refusal))

    return check


def _mask_url(url: str) -> None:
    """Mask a download URL, and its path as urllib3's debug log shows it: both hold the token."""
    parts = urlsplit(url)
    mask_secret(url)
    mask_secret(f"{parts.path}?{parts.query}" if parts.query else parts.path)


def _capped_body(response: requests.Response) -> bytes:
    """The body as sent, but never more than one byte past what an answer may hold."""
    body = bytearray()
    for chunk in response.raw.stream(_READ_BYTES, decode_content=False):
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            break
    return bytes(body)


async def _acapped_body(response: aiohttp.ClientResponse) -> bytes:
    """:func:`_capped_body` for aiohttp."""
    body = bytearray()
    async for chunk in response.content.iter_chunked(_READ_BYTES):
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            break
    return bytes(body)


def _masked(status: JobStatus) -> JobStatus:
    if status.download_url:
        mask_secret(status.download_url)
    return status


def _stream_body(
    response: requests.Response, fileobj: BinaryWriter, chunk_size: int, deadline: float, config: SparkConnectionConfig
) -> int:
    """Copy the raw body in chunks of at most ``chunk_size`` until ``deadline``, and check its length.

    An encoded body is refused rather than inflated: we asked for ``identity``, and sizes and ZIP
    checks must apply to the bytes that crossed the wire (a gzip bomb would write gigabytes).
    """
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise SparkDownloadError(
            f"The document store sent the ZIP with Content-Encoding {encoding!r} although identity was asked "
            "for; it is not inflated."
        )
    written, finished = 0, False
    broken: str | None = None
    try:
        while not finished and time.time() < deadline:
            chunk = response.raw.read1(chunk_size, decode_content=False)
            finished = not chunk
            fileobj.write(chunk)
            written += len(chunk)
    except _SYNC_TRANSPORT_ERRORS as error:
        broken = type(error).__name__
    if broken is not None:
        raise SparkDownloadError(f"The log export download was cut off after {written} bytes ({broken}).")
    if not finished:
        raise SparkDownloadError(
            f"The log export download did not finish within download_timeout={config.download_timeout:g} s "
            f"({written} bytes so far): raise extra download_timeout of connection '{config.conn_id}' "
            "for very large exports or slow stores."
        )
    expected = response.headers.get("Content-Length")
    if expected is not None and expected.isdigit() and int(expected) != written:
        raise SparkDownloadError(f"The log export download ended after {written} of {expected} announced bytes.")
    return written


def _connection_type() -> dict[str, Any]:
    """The ``coherent_spark`` connection type as the provider info declares it: one source for the form."""
    return next(t for t in get_provider_info()["connection-types"] if t["connection-type"] == CONN_TYPE)
