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

from airflow_provider_spark_logs.exceptions import SparkRetriesExhaustedError
from airflow_provider_spark_logs.protocol.connection import SparkConnectionConfig
from airflow_provider_spark_logs.protocol.messages import HttpRequest, error_for_status, header_value

RETRYABLE_STATUSES = frozenset({429, 502, 503, 504})


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

    def on_transport_error(self, error_name: str) -> Wait:
        """A network error or timeout, named by its class only: its text may hold a secret URL."""
        self.attempts += 1
        self.last_failure = f"{error_name} (network error or timeout)"
        return self._retry(None, None)

    def _retry(self, asked: float | None, status: int | None) -> Wait:
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
