"""What the emulator answers: routing, authentication, jobs, downloads, faults and the control API.

Everything here works on :class:`~.server.Request` objects and returns replies; how they travel over
HTTP is ``server.py``'s business. One :class:`SparkApp` serves both of the emulator's servers (API
and document store); ``Request.server`` tells them apart.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, unquote_plus

from airflow_provider_spark_logs.testing import hostile
from airflow_provider_spark_logs.testing.auth import Credentials, TokenIssuer
from airflow_provider_spark_logs.testing.export import corruption_offset
from airflow_provider_spark_logs.testing.faults import JOB_KINDS, REQUEST_KINDS, TARGET_KINDS, Fault, FaultQueue
from airflow_provider_spark_logs.testing.filters import RequestValidationError, parse_request_body, parse_timestamp
from airflow_provider_spark_logs.testing.history import UTC, calls_between, format_timestamp
from airflow_provider_spark_logs.testing.jobs import Job, JobStore
from airflow_provider_spark_logs.testing.responses import (
    envelope,
    fault_response,
    json_response,
    keycloak_error,
    unauthorized,
)
from airflow_provider_spark_logs.testing.server import FileResponse, Reply, Request, Reset, Response

#: Download fault kinds that replace the body (see :mod:`.hostile`).
_HOSTILE_DOWNLOADS = frozenset({"gzip", "gzip_bomb", "drip", "archive"})
#: Path prefix of the control API (API server only, no authentication: loopback tests only).
CONTROL_PREFIX = "/_emulator/"
DOCSTORE_PREFIX = "/docstore/api/v1/documents/versions/tokens"
_LOG = r"^/(?P<tenant>[^/]+)/api/v3/folders/(?P<folder>[^/]+)/services/(?P<service>[^/]+)/log/download(?P<fmt>csv|json)"
_SUBMIT = re.compile(rf"{_LOG}/?$")
_STATUS = re.compile(rf"{_LOG}/status/(?P<job_id>[^/]+)/?$")
_TOKEN = re.compile(r"^/auth/realms/(?P<tenant>[^/]+)/protocol/openid-connect/token/?$")
_DOWNLOAD = re.compile(rf"^{DOCSTORE_PREFIX}/(?P<token>[^/]+)/(?P<name>[^/]+)\.zip$")
#: (path pattern, method, servers answering it, target); downloads work on both servers so that a
#: ``redirect`` fault can send a client to the other origin.
_ROUTES: tuple[tuple[re.Pattern[str], str, frozenset[str], str], ...] = (
    (_DOWNLOAD, "GET", frozenset({"api", "docstore"}), "download"),
    (_TOKEN, "POST", frozenset({"api"}), "token"),
    (_SUBMIT, "POST", frozenset({"api"}), "submit"),
    (_STATUS, "GET", frozenset({"api"}), "status"),
)


@dataclass(frozen=True)
class RequestRecord:
    """One request the emulator answered (control API requests are not recorded).

    ``time`` is the arrival (``time.time()``); ``path`` is the request target as received
    (percent-encoded, with query); ``status`` is 0 when the connection was dropped without an answer;
    ``headers`` have lower-case names; ``json_body`` is the parsed body of a submit request (None for
    other requests, whose bodies may hold credentials, or for a body that is not JSON); ``connection``
    numbers the TCP connection that brought the request (from 1, in accept order, across both
    servers): requests with the same number came over one reused connection.
    """

    time: float
    method: str
    path: str
    target: str  # "token", "submit", "status", "download" or "other"
    status: int
    headers: dict[str, str]
    server: str = "api"  # "api" or "docstore"
    json_body: Any = None
    connection: int = 0


@dataclass(frozen=True)
class _Route:
    target: str
    params: dict[str, str]


def _route(request: Request) -> _Route:
    """Which endpoint a request is for, with its percent-decoded path parameters."""
    for pattern, method, servers, target in _ROUTES:
        match = pattern.match(request.path)
        if match and request.method == method and request.server in servers:
            return _Route(target, {name: unquote(value) for name, value in match.groupdict().items()})
    return _Route("other", {})


def _basic_credentials(headers: dict[str, str]) -> tuple[str, str] | None:
    """Client id and secret from an HTTP Basic header (RFC 6749 client_secret_basic), if present."""
    scheme, _, encoded = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote_plus(client_id), unquote_plus(secret)


class SparkApp:
    """State and request handling shared by the emulator's two servers."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        job_seconds: float,
        token_ttl: float,
        services: Iterable[tuple[str, str]] | None,
        zip_padding_bytes: int,
        latency: float = 0.0,
    ) -> None:
        self.credentials = credentials
        self.job_seconds = job_seconds
        self.latency = latency
        self.zip_padding_bytes = zip_padding_bytes
        self.services = None if services is None else frozenset(services)
        self.tokens = TokenIssuer(credentials, token_ttl)
        self.jobs = JobStore()
        self.faults = FaultQueue()
        self.origins: dict[str, str] = {}  # "api" / "docstore" -> "http://host:port", set on start
        self._requests: list[RequestRecord] = []
        self._requests_lock = threading.Lock()

    # -- bookkeeping ---------------------------------------------------------------------------

    @property
    def token_url(self) -> str:
        """OAuth2 token endpoint of the emulator's tenant."""
        return f"{self.origins['api']}/auth/realms/{self.credentials.tenant}/protocol/openid-connect/token"

    def requests(self) -> list[RequestRecord]:
        """Copy of the request log."""
        with self._requests_lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._requests_lock:
            self._requests.clear()

    def _record(self, request: Request, target: str, status: int, arrived: float) -> None:
        record = RequestRecord(
            arrived,
            request.method,
            request.raw_path,
            target,
            status,
            dict(request.headers),
            request.server,
            _json_or_none(request.body) if target == "submit" else None,
            request.connection,
        )
        with self._requests_lock:
            self._requests.append(record)

    # -- dispatch ------------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Answer one request from either server."""
        if request.server == "api" and request.path.startswith(CONTROL_PREFIX):
            return self._control(request)
        arrived = time.time()
        route = _route(request)
        fault = self._take_fault(route.target)
        delay = fault.param("seconds", 1.0) if fault is not None and fault.kind == "delay" else 0.0
        reply = self._answer(route, request, None if delay else fault)
        # Recorded before any delay and before the reply is written: a client that timed out or got
        # its answer finds the record, with the arrival time. Like a slow real server, a delayed
        # request has its effect (e.g. a job is created) even if the client gives up waiting.
        # ``latency`` stands for the round trips and server time of a distant API, on every call.
        self._record(request, route.target, reply.status, arrived)
        time.sleep(delay + self.latency)
        return reply

    def _take_fault(self, target: str) -> Fault | None:
        if target == "other":
            return None
        # Job-level faults are consumed by submits instead (see _submit).
        return self.faults.take(target, REQUEST_KINDS | TARGET_KINDS[target])

    def _answer(self, route: _Route, request: Request, fault: Fault | None) -> Reply:
        if route.target == "other":
            return envelope(404, f"No such endpoint: {request.method} {request.path}")
        if fault is not None and fault.kind == "status":
            return fault_response(fault)
        if fault is not None and fault.kind == "reset":
            return Reset()
        if fault is not None and fault.kind == "echo":
            return hostile.echo(fault, request, route.target)
        if fault is not None and fault.kind == "oversize":
            return hostile.oversize(fault)
        handlers: dict[str, Callable[[Request, dict[str, str], Fault | None], Reply]] = {
            "token": self._token,
            "submit": self._submit,
            "status": self._status,
            "download": self._download,
        }
        return handlers[route.target](request, route.params, fault)

    # -- token endpoint ------------------------------------------------------------------------

    def _token(self, request: Request, params: dict[str, str], _fault: Fault | None) -> Response:
        if params["tenant"] != self.credentials.tenant:
            return keycloak_error(404, "invalid_request", "Realm does not exist")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        form = (
            dict(parse_qsl(request.body.decode("utf-8", "replace")))
            if content_type == "application/x-www-form-urlencoded"
            else {}
        )
        grant_type = form.get("grant_type")
        if grant_type is None:
            return keycloak_error(400, "invalid_request", "Missing form parameter: grant_type")
        if grant_type != "client_credentials":
            return keycloak_error(400, "unsupported_grant_type", "Unsupported grant_type")
        client_id, secret = _basic_credentials(request.headers) or (
            form.get("client_id"),
            form.get("client_secret"),
        )
        if not self.tokens.client_matches(client_id, secret):
            return keycloak_error(401, "unauthorized_client", "Invalid client or Invalid client credentials")
        payload = {
            "access_token": self.tokens.issue(),
            # Keycloak sends whole seconds; a sub-second test TTL is sent as is rather than as 0.
            "expires_in": int(self.tokens.ttl) if float(self.tokens.ttl).is_integer() else self.tokens.ttl,
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "scope": "profile email",
        }
        return json_response(200, payload, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    # -- log-download API ----------------------------------------------------------------------

    def _api_access(self, request: Request, params: dict[str, str]) -> Response | None:
        """The error reply for a call that may not go on (credentials, tenant, service), else None."""
        if not self.tokens.api_call_allowed(request.headers):
            return unauthorized()
        if params["tenant"] != self.credentials.tenant:
            return envelope(404, f"Tenant '{params['tenant']}' not found")
        folder, service = params["folder"], params["service"]
        if self.services is not None and (folder, service) not in self.services:
            return envelope(404, f"Service '{service}' not found in folder '{folder}'")
        return None

    def _meta(self, request: Request, params: dict[str, str]) -> dict[str, Any]:
        service_id = uuid.uuid5(uuid.NAMESPACE_URL, f"spark-emulator:{params['folder']}/{params['service']}")
        return {
            "service_id": str(service_id),
            "version_id": None,
            "process_time": random.randint(2, 40),
            "system": "SPARK",
            "correlation_id": request.headers.get("x-correlation-id"),
            "request_timestamp": format_timestamp(datetime.now(UTC)),
        }

    def _submit(self, request: Request, params: dict[str, str], fault: Fault | None) -> Response:
        denied = self._api_access(request, params)
        if denied is not None:
            return denied
        if fault is not None and fault.kind == "job_id":
            return self._submitted(request, params, fault.param("job_id"))
        if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
            return envelope(415, "Content-Type must be application/json")
        try:
            body = json.loads(request.body)
        except ValueError:
            return envelope(400, "Request body is not valid JSON")
        try:
            call_filter = parse_request_body(body, now=datetime.now(UTC))
        except RequestValidationError as invalid:
            return envelope(400, str(invalid), details={"field": invalid.field})
        job_fault = self.faults.take("status", JOB_KINDS)
        job = self.jobs.create(
            params["folder"],
            params["service"],
            params["fmt"],
            call_filter,
            fault=job_fault,
            padding_bytes=self.zip_padding_bytes,
        )
        return self._submitted(request, params, job.job_id)

    def _submitted(self, request: Request, params: dict[str, str], job_id: str) -> Response:
        payload = {
            "status": "Success",
            "response_data": {"job_id": job_id},
            "response_meta": self._meta(request, params),
            "error": None,
        }
        return json_response(200, payload)

    def _status(self, request: Request, params: dict[str, str], fault: Fault | None) -> Response:
        denied = self._api_access(request, params)
        if denied is not None:
            return denied
        job = self.jobs.get(params["job_id"])
        if job is None or (job.folder, job.service, job.fmt) != (params["folder"], params["service"], params["fmt"]):
            return envelope(404, f"Job '{params['job_id']}' not found")
        if job.fault is not None and job.fault.kind == "job_error":
            return envelope(
                job.fault.param("http_status", 200),
                job.fault.param("message", "Job failed"),
                category="job_error",
                error_type="error.JOB_FAILED",
            )
        if job.build_error is not None:
            return envelope(500, f"Export failed: {job.build_error}")
        progress = job.progress(self.job_seconds)
        if job.fault is not None and job.fault.kind == "never_finish":
            progress = min(progress, job.fault.param("progress", 60))
        download_url = self._download_url(job) if progress >= 100 else None
        if fault is not None and fault.kind == "download_url":
            progress, download_url = 100, self._hostile_download_url(job, fault.param("url", ""))
        payload = {
            "status": None,
            "response_data": {"progress": progress, "download_url": download_url},
            "response_meta": self._meta(request, params),
            "error": None,
        }
        return json_response(200, payload)

    def _download_path(self, job: Job) -> str:
        return f"{DOCSTORE_PREFIX}/{self.jobs.ensure_token(job)}/{quote(job.download_name)}.zip"

    def _download_url(self, job: Job) -> str:
        return f"{self.origins['docstore']}{self._download_path(job)}"

    def _hostile_download_url(self, job: Job, template: str) -> str:
        values = {
            "{api_host}": self.origins["api"].split("://", 1)[1],
            "{docstore_host}": self.origins["docstore"].split("://", 1)[1],
            "{api}": self.origins["api"],
            "{docstore}": self.origins["docstore"],
            "{path}": self._download_path(job),
        }
        url = template
        for placeholder, value in values.items():
            url = url.replace(placeholder, value)
        return url

    # -- document store ------------------------------------------------------------------------

    def _download(self, request: Request, params: dict[str, str], fault: Fault | None) -> Reply:
        if fault is not None and fault.kind == "redirect":
            other = "api" if request.server == "docstore" else "docstore"
            location = fault.param("location") or f"{self.origins[other]}{request.raw_path}"
            return Response(fault.param("status", 302), headers={"Location": location})
        job = self.jobs.job_for_token(params["token"])
        if job is None or job.archive is None:
            return envelope(404, "Document not found or download link expired")
        if fault is not None and fault.kind == "expired":
            self.jobs.revoke_token(params["token"])
            return envelope(fault.param("status", 410), "Download link expired")
        headers = {
            "Content-Type": "application/zip",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(job.download_name)}.zip",
        }
        if fault is not None and fault.kind in _HOSTILE_DOWNLOADS:
            return self._hostile_download(request, job.archive, headers, fault)
        reply = FileResponse(job.archive, headers)
        if fault is not None and fault.kind == "truncate":
            reply.limit = fault.param("after_bytes", job.archive.stat().st_size // 2)
        if fault is not None and fault.kind == "corrupt":
            reply.flip_at = corruption_offset(job.archive)
        return reply

    def _hostile_download(self, request: Request, archive: Path, headers: dict[str, str], fault: Fault) -> Reply:
        if fault.kind == "drip":
            return hostile.drip(archive, fault)
        if fault.kind == "archive":
            made = self.jobs.scratch_path(".zip")
            hostile.build_archive_to_order(made, fault)
            return FileResponse(made, headers)
        if fault.kind == "gzip_bomb":
            body = hostile.gzip_bomb(fault.param("inflated_bytes", 512 * 1024 * 1024))
            return Response(200, body, {**headers, "Content-Encoding": "gzip"})
        if fault.param("always", False) or "gzip" in request.headers.get("accept-encoding", "").lower():
            return FileResponse(hostile.gzip_file(archive), {**headers, "Content-Encoding": "gzip"})
        return FileResponse(archive, headers)

    # -- control API ---------------------------------------------------------------------------

    def _control(self, request: Request) -> Response:
        action = (request.method, request.path[len(CONTROL_PREFIX) :].strip("/"))
        handlers: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("GET", "health"): self._control_health,
            ("GET", "faults"): lambda _: json_response(200, self.faults.pending()),
            ("POST", "faults"): self._control_add_fault,
            ("DELETE", "faults"): self._control_clear_faults,
            ("GET", "requests"): lambda _: json_response(200, [asdict(r) for r in self.requests()]),
            ("DELETE", "requests"): self._control_clear_requests,
            ("GET", "jobs"): lambda _: json_response(200, self.jobs.snapshot()),
            ("GET", "calls"): self._control_calls,
            ("POST", "settings"): self._control_settings,
        }
        handler = handlers.get(action)
        if handler is None:
            return envelope(404, f"No such control endpoint: {request.method} {request.path}")
        return handler(request)

    def _control_health(self, _request: Request) -> Response:
        return json_response(
            200,
            {
                "status": "ok",
                "tenant": self.credentials.tenant,
                "base_url": self.origins["api"],
                "docstore_url": self.origins["docstore"],
                "token_url": self.token_url,
            },
        )

    def _control_add_fault(self, request: Request) -> Response:
        try:
            data = json.loads(request.body)
            if not isinstance(data, dict):
                raise ValueError("a fault is a JSON object")
            fault = Fault.from_dict(data)
        except (ValueError, TypeError) as invalid:
            return envelope(400, f"Invalid fault: {invalid}")
        self.faults.add(fault)
        return json_response(201, fault.to_dict())

    def _control_clear_faults(self, _request: Request) -> Response:
        self.faults.clear()
        return json_response(200, {"status": "ok"})

    def _control_clear_requests(self, _request: Request) -> Response:
        self.clear_requests()
        return json_response(200, {"status": "ok"})

    def _control_calls(self, request: Request) -> Response:
        query = request.query
        missing = [name for name in ("folder", "service", "start", "end") if not query.get(name)]
        if missing:
            return envelope(400, f"Missing query parameters: {', '.join(missing)}")
        try:
            start = parse_timestamp(query["start"], "start", end_of_day=False)
            end = parse_timestamp(query["end"], "end", end_of_day=False)
        except RequestValidationError as invalid:
            return envelope(400, str(invalid))
        calls = calls_between(query["folder"], query["service"], start, end)
        return json_response(200, [call.to_dict() for call in calls])

    def _control_settings(self, request: Request) -> Response:
        try:
            data = json.loads(request.body)
        except ValueError:
            return envelope(400, "Settings must be a JSON object")
        settings = {"zip_padding_bytes": int, "job_seconds": float, "latency": float}
        if not isinstance(data, dict) or not set(data) <= set(settings):
            return envelope(400, f"Settings must be a JSON object with keys among {sorted(settings)}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in data.values()):
            return envelope(400, "Settings must be non-negative numbers")
        for name, value in data.items():
            setattr(self, name, settings[name](value))
        return json_response(200, {name: getattr(self, name) for name in settings})


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
