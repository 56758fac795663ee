"""The Spark log-download protocol, with no I/O.

Everything about *what* is said to Spark and *how answers are read* lives here: the connection's
meaning, the URLs and bodies of requests, the parsing of answers, and the decision to retry, wait,
refresh a token or give up. The sync (``requests``) and async (``aiohttp``) transports in
``hooks/spark_logs.py`` only move bytes and sleep, so the two paths cannot drift apart.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from .exceptions import (
    SparkApiError,
    SparkAuthError,
    SparkConfigError,
    SparkJobTimeoutError,
    SparkNotFoundError,
    SparkProtocolError,
    SparkRetriesExhaustedError,
)

AuthType = Literal["api_key", "bearer", "oauth2"]
AUTH_TYPES: tuple[str, ...] = ("api_key", "bearer", "oauth2")
RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
EXPIRED_DOWNLOAD_STATUSES = frozenset({401, 403, 404, 410})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_TIMEOUT = 60.0
DEFAULT_MAX_RETRIES = 5
ONE_MS = timedelta(milliseconds=1)
_EXCERPT_CHARS = 200


# --------------------------------------------------------------------------- connection


@dataclass(frozen=True)
class SparkConnectionConfig:
    """What a ``coherent_spark`` connection means, validated.

    ``secret`` is the API key, the bearer token or the OAuth2 client secret, depending on
    ``auth_type``; it is kept out of ``repr`` so that it cannot leak through a log line.
    """

    conn_id: str
    base_url: str
    tenant: str
    auth_type: AuthType
    secret: str = field(repr=False)
    client_id: str | None = None
    token_url: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    verify: bool | str = True

    @property
    def api_root(self) -> str:
        return f"{self.base_url}/{quote(self.tenant, safe='')}/api/v3"

    @property
    def origin(self) -> str:
        return origin_of(self.base_url)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{(parts.hostname or '').lower()}:{parts.port or _default_port(parts.scheme)}"


def _default_port(scheme: str) -> int:
    return 443 if scheme.lower() == "https" else 80


def parse_connection(
    conn_id: str,
    *,
    host: str | None,
    login: str | None,
    password: str | None,
    extra: Mapping[str, Any] | None,
    port: int | None = None,
) -> SparkConnectionConfig:
    """Read an Airflow connection into a :class:`SparkConnectionConfig`, or say what to fix."""
    extra = {_unprefixed(key): value for key, value in (extra or {}).items()}
    base_url, tenant = _split_host(conn_id, host, port, _optional_str(extra.get("tenant")))
    auth_type = _auth_type(conn_id, extra.get("auth_type"), login)
    secret = _secret(conn_id, auth_type, password)
    token_url = None
    if auth_type == "oauth2":
        if not login:
            raise SparkConfigError(
                f"Connection '{conn_id}' uses auth_type 'oauth2' but has no login: "
                "put the OAuth2 client id in the login field."
            )
        token_url = _optional_str(extra.get("token_url")) or _keycloak_token_url(conn_id, base_url, tenant)
    return SparkConnectionConfig(
        conn_id=conn_id,
        base_url=base_url,
        tenant=tenant,
        auth_type=auth_type,
        secret=secret,
        client_id=login if auth_type == "oauth2" else None,
        token_url=token_url,
        timeout=_positive_float(conn_id, "timeout", extra.get("timeout"), DEFAULT_TIMEOUT),
        max_retries=_non_negative_int(conn_id, "max_retries", extra.get("max_retries"), DEFAULT_MAX_RETRIES),
        verify=_verify(conn_id, extra.get("verify")),
    )


def _unprefixed(key: str) -> str:
    """Older connection forms stored extras as ``extra__coherent_spark__<name>``."""
    return key.removeprefix("extra__coherent_spark__")


def _optional_str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _split_host(conn_id: str, host: str | None, port: int | None, tenant: str | None) -> tuple[str, str]:
    """Split a host such as ``https://excel.env.coherent.global/my-tenant`` into base URL and tenant."""
    raw = _optional_str(host)
    if raw is None:
        raise SparkConfigError(
            f"Connection '{conn_id}' has no host: set it to the Spark base URL, "
            "e.g. https://excel.my-env.coherent.global/my-tenant."
        )
    if "://" not in raw:
        raw = f"https://{raw}"
    parts = urlsplit(raw)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise SparkConfigError(
            f"Connection '{conn_id}' has host '{raw}', which is not an http(s) URL: "
            "use e.g. https://excel.my-env.coherent.global/my-tenant."
        )
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if port and parts.port is None:
        netloc = f"{netloc}:{port}"
    segments = [s for s in parts.path.split("/") if s]
    if segments[-2:] == ["api", "v3"]:
        segments = segments[:-2]
    if segments and (tenant is None or segments[-1] == tenant):
        tenant = tenant or segments[-1]
        segments = segments[:-1]
    if tenant is None:
        raise SparkConfigError(
            f"Connection '{conn_id}' names no tenant: set extra 'tenant', "
            "or end the host with it (https://excel.my-env.coherent.global/my-tenant)."
        )
    path = "".join(f"/{s}" for s in segments)
    return urlunsplit((parts.scheme.lower(), netloc, path, "", "")), tenant


def _auth_type(conn_id: str, value: Any, login: str | None) -> AuthType:
    chosen = _optional_str(value)
    if chosen is None:
        return "oauth2" if login else "api_key"
    chosen = chosen.lower()
    if chosen not in AUTH_TYPES:
        raise SparkConfigError(
            f"Connection '{conn_id}' has extra auth_type '{chosen}': use one of {', '.join(AUTH_TYPES)}."
        )
    return chosen  # type: ignore[return-value]


_SECRET_FIELD = {
    "api_key": "the API key (synthetic key)",
    "bearer": "the bearer token",
    "oauth2": "the OAuth2 client secret",
}


def _secret(conn_id: str, auth_type: AuthType, password: str | None) -> str:
    secret = (password or "").strip()
    if auth_type == "bearer":
        secret = re.sub(r"^bearer\s+", "", secret, flags=re.IGNORECASE)
    if not secret:
        raise SparkConfigError(
            f"Connection '{conn_id}' uses auth_type '{auth_type}' but has no password: "
            f"put {_SECRET_FIELD[auth_type]} in the password field."
        )
    return secret


def _keycloak_token_url(conn_id: str, base_url: str, tenant: str) -> str:
    parts = urlsplit(base_url)
    if not (parts.hostname or "").startswith("excel."):
        raise SparkConfigError(
            f"Connection '{conn_id}' uses auth_type 'oauth2' and its host does not start with 'excel.', "
            "so the token URL cannot be derived: set extra 'token_url'."
        )
    netloc = parts.netloc.replace("excel.", "keycloak.", 1)
    path = f"/auth/realms/{quote(tenant, safe='')}/protocol/openid-connect/token"
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def _positive_float(conn_id: str, name: str, value: Any, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or not number > 0:
        raise SparkConfigError(f"Connection '{conn_id}' has extra {name}={value!r}: use a number above 0.")
    return number


def _non_negative_int(conn_id: str, name: str, value: Any, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(str(value))
    except ValueError:
        number = -1
    if isinstance(value, bool) or number < 0:
        raise SparkConfigError(f"Connection '{conn_id}' has extra {name}={value!r}: use a whole number >= 0.")
    return number


def _verify(conn_id: str, value: Any) -> bool | str:
    """TLS verification: a boolean (strings from the UI included) or a CA bundle path."""
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    if text.startswith("/"):
        return text
    raise SparkConfigError(
        f"Connection '{conn_id}' has extra verify={value!r}: use true, false, or the path of a CA bundle."
    )


# --------------------------------------------------------------------------- filters


def to_utc(value: datetime | str, name: str) -> datetime:
    """Read a datetime or ISO 8601 string as an aware UTC datetime; naive values are taken as UTC."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise SparkConfigError(
                f"{name}={text!r} is not an ISO 8601 timestamp: use e.g. '2026-01-01T00:00:00Z'."
            ) from None
    if not isinstance(value, datetime):
        raise SparkConfigError(f"{name} must be a datetime or an ISO 8601 string, got {type(value).__name__}.")
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def format_timestamp(value: datetime) -> str:
    """UTC ISO 8601 with milliseconds and ``Z``, as Spark documents it."""
    utc = value.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


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
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise SparkConfigError(
                f"The log window is empty or reversed: end ({self.end.isoformat()}) must be after "
                f"start ({self.start.isoformat()}). The window is half-open, [start, end)."
            )
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


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class HttpRequest:
    """A request to send; ``what`` names it in errors (never with secrets)."""

    method: str
    url: str
    what: str
    json: Any = None
    form: Mapping[str, str] | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    authenticated: bool = True


def path_segment(value: str, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SparkConfigError(f"{name} must be a non-empty name, got {value!r}.")
    return quote(value, safe="")


def _log_url(config: SparkConnectionConfig, folder: str, service: str) -> str:
    return (
        f"{config.api_root}/folders/{path_segment(folder, 'folder')}"
        f"/services/{path_segment(service, 'service')}/log/downloadcsv"
    )


def submit_request(config: SparkConnectionConfig, folder: str, service: str, filters: LogFilters) -> HttpRequest:
    return HttpRequest(
        "POST",
        _log_url(config, folder, service),
        what=f"the log export of {folder}/{service}",
        json=filters.request_body(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )


def status_request(config: SparkConnectionConfig, folder: str, service: str, job_id: str) -> HttpRequest:
    return HttpRequest(
        "GET",
        f"{_log_url(config, folder, service)}/status/{path_segment(job_id, 'job_id')}",
        what=f"the status of log export job {job_id} of {folder}/{service}",
        headers={"Accept": "application/json"},
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
        headers={"Accept": "application/json"},
        authenticated=False,
    )


def download_request(config: SparkConnectionConfig, url: str, *, redirected: bool = False) -> HttpRequest:
    """The ZIP lives on the document store; credentials go along only to the API's own origin, and
    never to a URL that a redirect named: a document store must not make us send authenticated calls.
    """
    authenticated = not redirected and may_send_credentials(config, url)
    return HttpRequest("GET", url, what="the log export download", authenticated=authenticated)


def auth_headers(config: SparkConnectionConfig, access_token: str | None = None) -> dict[str, str]:
    """Headers that authenticate an API call; ``access_token`` is required for oauth2."""
    if config.auth_type == "api_key":
        return {"x-synthetic-key": config.secret, "x-tenant-name": config.tenant}
    if config.auth_type == "bearer":
        return {"Authorization": f"Bearer {config.secret}"}
    if not access_token:
        raise SparkConfigError("An oauth2 API call needs an access token.")
    return {"Authorization": f"Bearer {access_token}"}


def may_send_credentials(config: SparkConnectionConfig, url: str) -> bool:
    """Spark credentials go to the API's own origin only: never to the document store or a redirect."""
    return origin_of(url) == config.origin


def redirect_target(url: str, status: int, headers: Mapping[str, str]) -> str | None:
    if status not in REDIRECT_STATUSES:
        return None
    location = _header(headers, "location")
    return urljoin(url, location) if location else None


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class JobStatus:
    """A job's progress; ``download_url`` is a bearer secret and stays out of ``repr``."""

    progress: float
    download_url: str | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        return self.progress >= 100 and bool(self.download_url)


@dataclass(frozen=True)
class AccessToken:
    value: str = field(repr=False)
    expires_at: float
    lifetime: float

    def fresh(self, now: float) -> bool:
        """Still usable, with a margin (a tenth of its life, at most 30 s) so it never expires in flight."""
        return now < self.expires_at - min(30.0, self.lifetime / 10)


def _json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except ValueError:
        raise SparkProtocolError(f"Spark answered {what} with a body that is not JSON: {excerpt(body)!r}.") from None
    if not isinstance(data, dict):
        raise SparkProtocolError(f"Spark answered {what} with JSON that is not an object.")
    return data


def _response_data(body: bytes, what: str) -> dict[str, Any]:
    data = _json_object(body, what)
    if data.get("status") == "Error" or isinstance(data.get("error"), dict):
        raise SparkApiError(
            f"Spark reported an error for {what}: {envelope_message(data) or 'no message'}.",
            api_message=envelope_message(data),
        )
    response_data = data.get("response_data")
    if not isinstance(response_data, dict):
        raise SparkProtocolError(f"Spark answered {what} without the object field 'response_data'.")
    return response_data


def parse_submit(body: bytes, what: str) -> str:
    job_id = _response_data(body, what).get("job_id")
    if not isinstance(job_id, str) or not job_id.strip():
        raise SparkProtocolError(f"Spark answered {what} without a string field 'response_data.job_id'.")
    return job_id


def parse_status(body: bytes, what: str) -> JobStatus:
    data = _response_data(body, what)
    progress = data.get("progress")
    if isinstance(progress, bool) or not isinstance(progress, int | float) or not 0 <= progress <= 100:
        raise SparkProtocolError(
            f"Spark answered {what} with field 'response_data.progress'={progress!r}: expected a number from 0 to 100."
        )
    url = data.get("download_url")
    url = None if url == "" else url
    if url is not None and (not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https")):
        raise SparkProtocolError(
            f"Spark answered {what} with field 'response_data.download_url' that is not an http(s) URL."
        )
    return JobStatus(progress=progress, download_url=url)


def parse_token(body: bytes, what: str, now: float) -> AccessToken:
    data = _json_object(body, what)
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


def excerpt(body: bytes) -> str:
    """A short, single-line excerpt of a non-JSON body (proxy HTML pages included)."""
    text = body[: _EXCERPT_CHARS * 8].decode("utf-8", errors="replace")
    text = re.sub(r"<[^>]*>", " ", text)
    text = " ".join(text.split())
    return text[:_EXCERPT_CHARS] + ("..." if len(text) > _EXCERPT_CHARS else "")


def api_message(body: bytes) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return excerpt(body)
    message = envelope_message(data) if isinstance(data, dict) else None
    return message or excerpt(body)


def error_for_status(config: SparkConnectionConfig, request: HttpRequest, status: int, body: bytes) -> SparkApiError:
    message = api_message(body) or "no message"
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


# --------------------------------------------------------------------------- retries


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asks us to wait: ``Retry-After`` (seconds or HTTP date) or ``x-retry-after``."""
    for name in ("retry-after", "x-retry-after"):
        value = _header(headers, name)
        if value is None:
            continue
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, when.timestamp() - now)
    return None


@dataclass(frozen=True)
class Done:
    body: bytes


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class RefreshToken:
    pass


Step = Done | Wait | RefreshToken


@dataclass
class Exchange:
    """One logical call to Spark: its attempts, the waits between them, and how it ends.

    A transport sends ``request``, reports each answer (or network failure) here, and does what
    the returned step says: return the body, sleep, or fetch a new OAuth2 token and send again.
    """

    config: SparkConnectionConfig
    request: HttpRequest
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 600.0
    clock: Callable[[], float] = time.time
    rng: random.Random = field(default_factory=random.Random)
    attempts: int = 0
    token_refreshed: bool = False
    last_failure: str = ""

    def on_response(self, status: int, headers: Mapping[str, str], body: bytes) -> Step:
        self.attempts += 1
        if 200 <= status < 300:
            return Done(body)
        if (
            status == 401
            and self.request.authenticated
            and self.config.auth_type == "oauth2"
            and not self.token_refreshed
        ):
            self.token_refreshed = True
            return RefreshToken()
        error = error_for_status(self.config, self.request, status, body)
        if status not in RETRYABLE_STATUSES:
            raise error
        self.last_failure = f"HTTP {status}: {error.api_message}"
        return self._retry(retry_after(headers, self.clock()), status)

    def on_transport_error(self, error_name: str) -> Step:
        """A network error or timeout, named by its class only: its text may hold a secret URL."""
        self.attempts += 1
        self.last_failure = f"{error_name} (network error or timeout)"
        return self._retry(None, None)

    def _retry(self, asked: float | None, status: int | None) -> Step:
        if self.attempts > self.config.max_retries:
            raise SparkRetriesExhaustedError(
                f"Gave up on {self.request.what} after {self.attempts} attempts "
                f"(max_retries={self.config.max_retries}); last: {self.last_failure}. "
                "Raise extra max_retries on the connection if Spark is often this busy.",
                status=status,
            )
        if asked is not None:
            return Wait(min(asked, self.max_retry_after))
        ceiling = min(self.max_delay, self.base_delay * 2 ** (self.attempts - 1))
        return Wait(ceiling / 2 + self.rng.uniform(0, ceiling / 2))


# --------------------------------------------------------------------------- waiting for a job


@dataclass
class JobWatch:
    """Waiting for one export job: when to look again, and when to give up.

    Shared by the worker's polling loop, the sensor and the trigger. ``deadline`` is wall-clock
    epoch seconds (``time.time()``), since the triggerer is another process, maybe another host.
    Transient failures that outlasted the hook's own retries are ridden out until the deadline.
    """

    job_id: str
    deadline: float
    poll_interval: float
    job_timeout: float
    last_progress: float | None = None
    last_error: str | None = None
    progress_changed: bool = False

    def after_status(self, status: JobStatus, now: float) -> float | None:
        """Seconds until the next look, or ``None`` when the job is done."""
        self.progress_changed = status.progress != self.last_progress
        self.last_progress = status.progress
        self.last_error = None
        return None if status.done else self.next_wait(now)

    def after_transient_error(self, error: SparkRetriesExhaustedError, now: float) -> float:
        self.last_error = str(error)
        return self.next_wait(now)

    def next_wait(self, now: float) -> float:
        remaining = self.deadline - now
        if remaining <= 0:
            raise SparkJobTimeoutError(self.timeout_message())
        return min(self.poll_interval, remaining)

    def timeout_message(self) -> str:
        seen = f"last progress {self.last_progress:g}%" if self.last_progress is not None else "no progress seen"
        if self.last_error:
            seen += f"; last error: {self.last_error}"
        return (
            f"Spark log export job {self.job_id} did not finish within job_timeout={self.job_timeout:g} s "
            f"({seen}). Raise job_timeout if exports of this size take longer."
        )
