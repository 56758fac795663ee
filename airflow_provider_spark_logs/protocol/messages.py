"""The Spark log-download messages, with no I/O: filters, requests, and the reading of answers.

*What* is said to Spark and *how answers are read* lives here; the sync (``requests``) and async
(``aiohttp``) transports in ``hooks/spark_logs.py`` only move bytes, so the two cannot drift apart.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast
from urllib.parse import quote, urljoin

from airflow_provider_spark_logs.exceptions import (
    SparkApiError,
    SparkAuthError,
    SparkConfigError,
    SparkNotFoundError,
    SparkProtocolError,
)
from airflow_provider_spark_logs.protocol.connection import SparkConnectionConfig, may_send_credentials
from airflow_provider_spark_logs.protocol.redaction import redacted
from airflow_provider_spark_logs.protocol.urls import plain_url
from airflow_provider_spark_logs.timestamps import format_timestamp, to_utc
from airflow_provider_spark_logs.windows import check_window

ExportFormat = Literal["csv", "json"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "json")
EXPIRED_DOWNLOAD_STATUSES = frozenset({401, 403, 404, 410})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ONE_MS = timedelta(milliseconds=1)
_EXCERPT_CHARS = 200
#: The most of an API or token answer we read: real ones are a few hundred bytes.
MAX_ANSWER_BYTES = 2**20
#: We never inflate what we fetch: sizes and checks apply to the bytes that crossed the wire.
IDENTITY = {"Accept-Encoding": "identity"}
#: Spark's job ids are UUIDs; anything but a plain token could collapse a URL path or forge a log line.
_JOB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}", re.ASCII)


@dataclass(frozen=True)
class LogFilters:
    """What to export: a half-open window ``[start, end)`` and the API's optional filters.

    Spark treats ``end_date`` as inclusive, so the request carries ``end - 1 ms``: consecutive
    windows ``[a, b)`` and ``[b, c)`` then export a call logged exactly at ``b`` once.
    ``correlation_id`` and ``source_system`` are the API's single-element ``call_ids`` forms.
    """

    start: datetime | None = None
    end: datetime | None = None
    timezone_offset: float | None = None
    call_ids: Sequence[str] | None = None
    correlation_id: str | None = None
    source_system: str | None = None
    call_purpose: str | None = None
    user_name: str | None = None
    has_warnings: bool | None = None
    has_errors: bool | None = None
    version_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, to_utc(value, name))
        if self.start is not None and self.end is not None:
            check_window(self.start, self.end)
        self._check_timezone_offset()
        self._check_call_ids()
        for name in ("has_warnings", "has_errors"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), bool):
                raise SparkConfigError(f"{name} must be True, False or None, got {getattr(self, name)!r}.")
        for name in ("correlation_id", "source_system", "call_purpose", "user_name", "version_id"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise SparkConfigError(f"{name} must be a non-empty string or None, got {value!r}.")

    def _check_timezone_offset(self) -> None:
        offset = self.timezone_offset
        if offset is None:
            return
        if isinstance(offset, bool) or not isinstance(offset, int | float) or not -12 <= offset <= 14:
            raise SparkConfigError(f"timezone_offset must be a number of hours from -12 to 14, got {offset!r}.")

    def _check_call_ids(self) -> None:
        ids = self.call_ids
        if ids is not None and (
            isinstance(ids, str)
            or not isinstance(ids, Sequence)
            or not ids
            or not all(isinstance(i, str) and i.strip() for i in ids)
        ):
            raise SparkConfigError(f"call_ids must be a non-empty list of non-empty strings, got {ids!r}.")
        given = [n for n in ("call_ids", "correlation_id", "source_system") if getattr(self, n) is not None]
        if len(given) > 1:
            raise SparkConfigError(
                f"{' and '.join(given)} are all sent as the API's call_ids filter: give only one of them."
            )

    def request_body(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        if self.start is not None:
            data["start_date"] = format_timestamp(self.start)
        if self.end is not None:
            data["end_date"] = format_timestamp(self.end - ONE_MS)
        if self.timezone_offset is not None:
            data["timezone_offset"] = self.timezone_offset
        call_ids = self.call_ids or [v for v in (self.correlation_id, self.source_system) if v is not None]
        if call_ids:
            data["call_ids"] = list(call_ids)
        optional = {
            "callpurpose": self.call_purpose,
            "userName": self.user_name,
            "has_warnings": self.has_warnings,
            "has_errors": self.has_errors,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        body: dict[str, Any] = {"request_data": data}
        if self.version_id is not None:
            body["request_meta"] = {"version_id": self.version_id}
        return body


@dataclass(frozen=True)
class HttpRequest:
    """A request to send; ``what`` names it in errors (never with secrets)."""

    method: str
    url: str = field(repr=False)  # a download URL is a secret
    what: str
    json: Any = None
    form: Mapping[str, str] | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    authenticated: bool = True
    secrets: tuple[str, ...] = field(default=(), repr=False)


def path_segment(value: str, name: str) -> str:
    """``value`` as one URL path segment; ``.`` and ``..`` would collapse the path, and control
    characters could forge a log line, so they are refused."""
    if not isinstance(value, str) or not value.strip():
        raise SparkConfigError(f"{name} must be a non-empty name, got {value!r}.")
    if value.strip() in (".", ".."):
        raise SparkConfigError(f"{name} must be a name, not {value!r}: '.' and '..' would change the URL's path.")
    if has_control_character(value):
        raise SparkConfigError(f"{name} must not hold control characters, got {value!r}.")
    return quote(value, safe="")


def has_control_character(text: str) -> bool:
    """Control or invisible formatting characters (newlines, escapes, bidi overrides)."""
    return any(unicodedata.category(char) in ("Cc", "Cf") for char in text)


def check_export_format(export_format: Any) -> ExportFormat:
    """``csv`` or ``json``: the endpoint pair (``.../log/downloadcsv`` or ``.../log/downloadjson``) of a job."""
    if export_format not in EXPORT_FORMATS:
        raise SparkConfigError(
            f"export_format must be one of {', '.join(map(repr, EXPORT_FORMATS))}, got {export_format!r}."
        )
    return cast(ExportFormat, export_format)


def _log_url(config: SparkConnectionConfig, folder: str, service: str, export_format: ExportFormat) -> str:
    """A job is started, polled and fetched on the endpoint of its format, never the other one."""
    return (
        f"{config.api_root}/folders/{path_segment(folder, 'folder')}"
        f"/services/{path_segment(service, 'service')}/log/download{check_export_format(export_format)}"
    )


def submit_request(
    config: SparkConnectionConfig, folder: str, service: str, filters: LogFilters, export_format: ExportFormat = "csv"
) -> HttpRequest:
    return HttpRequest(
        "POST",
        _log_url(config, folder, service, export_format),
        what=f"the log export of {folder}/{service}",
        json=filters.request_body(),
        headers={"Content-Type": "application/json", "Accept": "application/json", **IDENTITY},
    )


def status_request(
    config: SparkConnectionConfig, folder: str, service: str, job_id: str, export_format: ExportFormat = "csv"
) -> HttpRequest:
    return HttpRequest(
        "GET",
        f"{_log_url(config, folder, service, export_format)}/status/{path_segment(job_id, 'job_id')}",
        what=f"the status of log export job {job_id} of {folder}/{service}",
        headers={"Accept": "application/json", **IDENTITY},
    )


def token_request(config: SparkConnectionConfig) -> HttpRequest:
    if config.token_url is None or config.client_id is None:
        raise SparkConfigError(f"Connection '{config.conn_id}' is not an oauth2 connection.")
    return HttpRequest(
        "POST",
        config.token_url,
        what=f"an OAuth2 token for client '{config.client_id}'",
        form={
            "grant_type": "client_credentials",
            "client_id": config.client_id,
            "client_secret": config.secret,
        },
        headers={"Accept": "application/json", **IDENTITY},
        authenticated=False,
    )


def download_request(config: SparkConnectionConfig, url: str, *, redirected: bool = False) -> HttpRequest:
    """The ZIP lives on the document store; credentials go along only to the API's own origin, and
    never to a URL that a redirect named: a document store must not make us send authenticated calls.

    The URL must be one that every parser reads alike, on a host the connection trusts (see
    :class:`~.urls.DownloadHosts`); the URL itself is a secret, kept out of any quoted answer.
    """
    source = "a redirect of the log export download" if redirected else "the download_url of a finished job"
    parsed = plain_url(url)
    if parsed is None:
        raise SparkProtocolError(
            f"Refused {source}: it is not a plain http(s) URL (it has user info, a backslash, a fragment, "
            "spaces or control characters, another scheme, or an unclear host), which URL parsers could "
            "read different hosts from."
        )
    refusal = config.downloads.refusal(parsed)
    if refusal is not None:
        raise SparkProtocolError(download_refusal_message(config, source, parsed.host, refusal))
    authenticated = not redirected and may_send_credentials(config, url)
    path = url.split("://", 1)[1].partition("/")[2]
    return HttpRequest(
        "GET",
        url,
        what="the log export download",
        authenticated=authenticated,
        headers=IDENTITY,
        secrets=(url, f"/{path}", path.split("?", 1)[0]),
    )


def download_refusal_message(config: SparkConnectionConfig, source: str, host: str, reason: str) -> str:
    return (
        f"Refused {source} from host {host}: {reason}. If that host is your document store, add it to "
        f"extra download_hosts of connection '{config.conn_id}'."
    )


def auth_headers(config: SparkConnectionConfig, access_token: str | None = None) -> dict[str, str]:
    """Headers that authenticate an API call; ``access_token`` is required for oauth2."""
    if config.auth_type == "api_key":
        return {"x-synthetic-key": config.secret, "x-tenant-name": config.tenant}
    if config.auth_type == "bearer":
        return {"Authorization": f"Bearer {config.secret}"}
    if not access_token:
        raise SparkConfigError("An oauth2 API call needs an access token.")
    return {"Authorization": f"Bearer {access_token}"}


def redirect_target(url: str, status: int, headers: Mapping[str, str]) -> str | None:
    """Where a redirect leads (checked like any download URL when it is fetched), or None."""
    if status not in REDIRECT_STATUSES:
        return None
    location = header_value(headers, "location")
    if not location:
        return None
    try:
        return urljoin(url, location)
    except ValueError:
        raise SparkProtocolError("The log export download was redirected to a URL that cannot be read.") from None


@dataclass(frozen=True)
class JobStatus:
    """A job's progress; ``download_url`` is a bearer secret and stays out of ``repr``."""

    progress: float
    download_url: str | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.progress >= 100 and bool(self.download_url)

    def without_url(self) -> JobProgress:
        """The same progress, with no URL left to mask or to keep."""
        return JobProgress(self.progress, self.download_url is not None)


@dataclass(frozen=True)
class JobProgress:
    """A job's progress without its download URL: all that waiting for a job needs.

    The triggerer polls thousands of jobs for weeks; a URL kept (and so masked) per job would grow
    its secrets masker without end, while nothing there ever downloads.
    """

    progress: float
    downloadable: bool = False

    @property
    def done(self) -> bool:
        return self.progress >= 100 and self.downloadable


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_at: float
    lifetime: float

    def fresh(self, now: float) -> bool:
        """Still usable, with a margin (a tenth of its life, at most 30 s) so it never expires in flight."""
        return now < self.expires_at - min(30.0, self.lifetime / 10)


def answer_too_large(what: str) -> SparkProtocolError:
    return SparkProtocolError(
        f"Spark answered {what} with more than {MAX_ANSWER_BYTES // 2**20} MiB, far more than such an "
        "answer holds; it was not read further."
    )


def loads(body: bytes) -> Any:
    """JSON from an answer, or ValueError: a bomb of nesting is a bad answer too, not a crash."""
    if len(body) > MAX_ANSWER_BYTES:
        raise ValueError("answer too large")
    try:
        return json.loads(body)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _json_object(body: bytes, what: str, secrets: Iterable[str]) -> dict[str, Any]:
    try:
        data = loads(body)
    except ValueError:
        raise SparkProtocolError(
            f"Spark answered {what} with a body that is not JSON: {excerpt(body, secrets)!r}."
        ) from None
    if not isinstance(data, dict):
        raise SparkProtocolError(f"Spark answered {what} with JSON that is not an object.")
    return data


def _response_data(body: bytes, what: str, secrets: Iterable[str]) -> dict[str, Any]:
    data = _json_object(body, what, secrets)
    if data.get("status") == "Error" or isinstance(data.get("error"), dict):
        message = _redacted_message(envelope_message(data), secrets)
        raise SparkApiError(f"Spark reported an error for {what}: {message or 'no message'}.", api_message=message)
    response_data = data.get("response_data")
    if not isinstance(response_data, dict):
        raise SparkProtocolError(f"Spark answered {what} without the object field 'response_data'.")
    return response_data


def parse_submit(body: bytes, what: str, secrets: Iterable[str] = ()) -> str:
    job_id = _response_data(body, what, secrets).get("job_id")
    if not isinstance(job_id, str) or not job_id.strip():
        raise SparkProtocolError(f"Spark answered {what} without a string field 'response_data.job_id'.")
    if not _JOB_ID.fullmatch(job_id):
        raise SparkProtocolError(
            f"Spark answered {what} with field 'response_data.job_id'={job_id[:80]!r}, which is not a plain "
            "token (letters, digits, '.', '_', '-', up to 128): it would change the status URL or the logs."
        )
    return job_id


def parse_status(body: bytes, what: str, secrets: Iterable[str] = ()) -> JobStatus:
    data = _response_data(body, what, secrets)
    progress = data.get("progress")
    if isinstance(progress, bool) or not isinstance(progress, int | float) or not 0 <= progress <= 100:
        raise SparkProtocolError(
            f"Spark answered {what} with field 'response_data.progress'={progress!r}: expected a number from 0 to 100."
        )
    url = data.get("download_url")
    url = None if url == "" else url
    if url is not None and (not isinstance(url, str) or plain_url(url) is None):
        raise SparkProtocolError(
            f"Spark answered {what} with field 'response_data.download_url' that is not a plain http(s) URL "
            "(it has user info, a backslash, a fragment, spaces or control characters, or an unclear host), "
            "which URL parsers could read different hosts from."
        )
    return JobStatus(progress=progress, download_url=url)


def parse_token(body: bytes, what: str, now: float, secrets: Iterable[str] = ()) -> AccessToken:
    data = _json_object(body, what, secrets)
    token = data.get("access_token")
    if not isinstance(token, str) or not token:
        raise SparkProtocolError(f"The token endpoint answered {what} without a string field 'access_token'.")
    expires_in = data.get("expires_in", 300)
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float) or expires_in <= 0:
        raise SparkProtocolError(
            f"The token endpoint answered {what} with field 'expires_in'={expires_in!r}: expected seconds > 0."
        )
    return AccessToken(value=token, expires_at=now + float(expires_in), lifetime=float(expires_in))


def envelope_message(data: Mapping[str, Any]) -> str | None:
    """The human part of a v3 error envelope, or of a Keycloak error."""
    error = data.get("error")
    if isinstance(error, dict):
        message = error.get("message") or error.get("error_type")
        return str(message) if message else None
    if isinstance(error, str):
        return str(data.get("error_description") or error)
    return None


def excerpt(body: bytes, secrets: Iterable[str] = ()) -> str:
    """A short, single-line excerpt of a non-JSON body (proxy HTML pages included), secrets cut out."""
    text = body[: _EXCERPT_CHARS * 8].decode("utf-8", errors="replace")
    text = redacted(" ".join(re.sub(r"<[^>]*>", " ", text).split()), secrets)
    return text[:_EXCERPT_CHARS] + ("..." if len(text) > _EXCERPT_CHARS else "")


def api_message(body: bytes, secrets: Iterable[str] = ()) -> str:
    """The error message of an answer (its envelope's, else an excerpt), with no known secret in it."""
    try:
        data = loads(body)
    except ValueError:
        return excerpt(body, secrets)
    message = envelope_message(data) if isinstance(data, dict) else None
    return _redacted_message(message, secrets) or excerpt(body, secrets)


def _redacted_message(message: str | None, secrets: Iterable[str]) -> str | None:
    if message is None:
        return None
    text = redacted(" ".join(message.split()), secrets)
    return text[: _EXCERPT_CHARS * 2] + ("..." if len(text) > _EXCERPT_CHARS * 2 else "")


def error_for_status(
    config: SparkConnectionConfig, request: HttpRequest, status: int, body: bytes, secrets: Iterable[str] = ()
) -> SparkApiError:
    """The error for a non-2xx answer; quoted answer text never holds a secret we know, in any encoding."""
    message = api_message(body, (config.secret, *request.secrets, *secrets)) or "no message"
    summary = f"Spark answered {request.what} with HTTP {status}: {message}"
    if status in (401, 403) and (request.authenticated or request.form is not None):
        return SparkAuthError(
            f"{summary}. Connection '{config.conn_id}' (auth_type '{config.auth_type}') was refused: "
            "check credentials or the feature permission Spark.DownloadCsvLog.json.",
            status=status,
            api_message=message,
        )
    if status == 404 and request.authenticated:
        return SparkNotFoundError(
            f"{summary}. Check the tenant '{config.tenant}' and the folder and service names.",
            status=status,
            api_message=message,
        )
    return SparkApiError(f"{summary}.", status=status, api_message=message)


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
