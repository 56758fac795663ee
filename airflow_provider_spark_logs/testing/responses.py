"""The bodies the emulator answers with: Spark's v3 envelopes, Keycloak errors, proxy error pages."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from airflow_provider_spark_logs.testing.faults import Fault
from airflow_provider_spark_logs.testing.server import Response

JSON_TYPE = "application/json"


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    """A JSON reply."""
    body = json.dumps(payload).encode()
    return Response(status, body, {"Content-Type": JSON_TYPE, **(headers or {})})


def _category(status: int) -> str:
    if status in (401, 403):
        return "access_error"
    if status == 429:
        return "rate_limit_error"
    if status == 400:
        return "validation_error"
    return "request_error" if status < 500 else "server_error"


def _status_name(status: int) -> str:
    try:
        return HTTPStatus(status).name
    except ValueError:
        return f"HTTP_{status}"


def envelope(
    status: int,
    message: str,
    *,
    details: Any = None,
    category: str | None = None,
    error_type: str | None = None,
) -> Response:
    """A v3 error envelope with ``status`` as HTTP status; category and type derive from it by default."""
    payload = {
        "status": "Error",
        "response_data": None,
        "response_meta": None,
        "error": {
            "error_category": category or _category(status),
            "error_type": error_type or f"error.{_status_name(status)}",
            "message": message,
            "additional_details": details,
        },
    }
    return json_response(status, payload)


def unauthorized() -> Response:
    """What the API answers to missing or wrong credentials."""
    return envelope(401, "INVALID_TOKEN")


def keycloak_error(status: int, error: str, description: str) -> Response:
    """Keycloak's own error shape (the token endpoint does not use the v3 envelope)."""
    return json_response(status, {"error": error, "error_description": description})


def proxy_page(status: int) -> Response:
    """An HTML error page as a load balancer in front of the API would send it."""
    reason = _status_name(status).replace("_", " ").title()
    html = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    return Response(status, html.encode(), {"Content-Type": "text/html"})


def fault_response(fault: Fault) -> Response:
    """The reply of a ``status`` fault: the given body, else an HTML page or envelope as asked."""
    status = fault.param("status", 503)
    headers = dict(fault.param("headers") or {})
    if fault.param("body") is not None:
        response = Response(status, fault.param("body").encode(), {"Content-Type": "text/plain"})
    elif fault.param("html", False):
        response = proxy_page(status)
    elif status >= 400:
        response = envelope(status, fault.param("message", f"Injected fault: HTTP {status}"))
    else:
        response = Response(status)
    response.headers.update(headers)
    return response
