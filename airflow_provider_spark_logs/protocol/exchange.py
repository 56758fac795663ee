"""The retry exchange, with no I/O: one logical call's attempts, waits and end.

Both transports feed each answer (or network failure) to an :class:`Exchange` and do what the
returned step says, so sync and async calls retry, wait and refresh tokens the same way.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import NoReturn

from airflow_provider_spark_logs.exceptions import SparkRetriesExhaustedError, SparkTlsError
from airflow_provider_spark_logs.protocol.connection import SparkConnectionConfig
from airflow_provider_spark_logs.protocol.messages import (
    MAX_ANSWER_BYTES,
    HttpRequest,
    answer_too_large,
    error_for_status,
    header_value,
)

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})
MIN_ATTEMPT_SECONDS = 1.0


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asks us to wait: ``Retry-After`` (seconds or HTTP date) or ``x-retry-after``."""
    for name in ("retry-after", "x-retry-after"):
        value = header_value(headers, name)
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


Retry = Wait | RefreshToken
Step = Done | Retry


@dataclass
class Exchange:
    """One logical call to Spark: its attempts, the waits between them, and how it ends.

    A transport sends ``request``, reports each answer (or network failure) here, and does what
    the returned step says: return the body, sleep, or fetch a new OAuth2 token and send again.
    It reads at most ``MAX_ANSWER_BYTES + 1`` bytes of an answer. With a ``deadline`` (epoch
    seconds), no wait and no attempt's timeout reaches past it. ``secrets`` are the values cut
    from any answer text an error quotes: the connection's secret, the request's, and what the
    transport reports as :meth:`sent`.
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
    deadline: float | None = None
    secrets: set[str] = field(default_factory=set, repr=False)

    def __post_init__(self) -> None:
        self.secrets |= {self.config.secret, *self.request.secrets}

    def sent(self, headers: Mapping[str, str]) -> None:
        """The headers an attempt was sent with: their credentials must never be quoted back."""
        for name, value in headers.items():
            if name.lower() in ("authorization", "x-synthetic-key"):
                self.secrets |= {value, value.partition(" ")[2]} - {""}

    def timeout(self) -> float:
        """Seconds an attempt may take: the connection's timeout, cut short by the deadline (but
        never below a second, so that a last look just before the deadline can still be answered)."""
        if self.deadline is None:
            return self.config.timeout
        return min(self.config.timeout, max(self.deadline - self.clock(), MIN_ATTEMPT_SECONDS))

    def on_response(self, status: int, headers: Mapping[str, str], body: bytes) -> Step:
        self.attempts += 1
        if 200 <= status < 300:
            if len(body) > MAX_ANSWER_BYTES:
                raise answer_too_large(self.request.what)
            return Done(body)
        if (
            status == 401
            and self.request.authenticated
            and self.config.auth_type == "oauth2"
            and not self.token_refreshed
        ):
            self.token_refreshed = True
            return RefreshToken()
        error = error_for_status(self.config, self.request, status, body, self.secrets)
        if status not in RETRYABLE_STATUSES:
            raise error
        self.last_failure = f"HTTP {status}: {error.api_message}"
        return self._retry(retry_after(headers, self.clock()), status)

    def on_transport_error(self, error_name: str) -> Wait:
        """A network error or timeout, named by its class only: its text may hold a secret URL."""
        self.attempts += 1
        self.last_failure = f"{error_name} (network error or timeout)"
        return self._retry(None, None)

    def on_certificate_error(self, reason: str) -> NoReturn:
        """A server certificate that failed verification: a setting to fix, not a failure to retry."""
        host = self.request.url.split("://", 1)[-1].split("/", 1)[0]
        raise SparkTlsError(
            f"The TLS certificate of {host} was refused for {self.request.what} ({reason}). If the server "
            f"uses a private CA, set extra verify of connection '{self.config.conn_id}' to the path of its "
            "CA bundle."
        )

    def _retry(self, asked: float | None, status: int | None) -> Wait:
        if self.attempts > self.config.max_retries:
            raise SparkRetriesExhaustedError(
                f"Gave up on {self.request.what} after {self.attempts} attempts "
                f"(max_retries={self.config.max_retries}); last: {self.last_failure}. "
                "Raise extra max_retries on the connection if Spark is often this busy.",
                status=status,
            )
        if asked is not None:
            wait = min(asked, self.max_retry_after)
        else:
            ceiling = min(self.max_delay, self.base_delay * 2 ** (self.attempts - 1))
            wait = ceiling / 2 + self.rng.uniform(0, ceiling / 2)
        if self.deadline is not None and self.clock() + wait > self.deadline:
            asked_by = (
                f"Spark asked to wait {wait:g} s (Retry-After)"
                if asked is not None
                else f"the next try is {wait:.1f} s away"
            )
            raise SparkRetriesExhaustedError(
                f"Gave up on {self.request.what} after {self.attempts} attempts: {asked_by}, past the "
                f"deadline; last: {self.last_failure}.",
                status=status,
            )
        return Wait(wait)
