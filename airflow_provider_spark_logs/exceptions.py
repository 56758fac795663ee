"""Errors raised by the provider.

They subclass ``AirflowException`` so that Airflow fails the task with their message, and their
messages are built from safe parts only (status, API message, names), never from credentials or
download URLs.
"""

from __future__ import annotations

from airflow_provider_spark_logs._compat import AirflowException


class SparkLogError(AirflowException):
    """Base class of every error this provider raises."""


class SparkConfigError(SparkLogError, ValueError):
    """A connection or an argument that cannot work; raised before any request is sent."""


class SparkProtocolError(SparkLogError):
    """Spark answered, but not in the shape the API documents."""


class SparkApiError(SparkLogError):
    """Spark answered a call with an error status."""

    def __init__(self, message: str, *, status: int | None = None, api_message: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.api_message = api_message


class SparkAuthError(SparkApiError):
    """401/403: wrong credentials, or a key without the log-download feature permission."""


class SparkNotFoundError(SparkApiError):
    """404: an unknown tenant, folder, service or job."""


class SparkRetriesExhaustedError(SparkApiError):
    """A transient failure (429, 5xx from a proxy, network error) outlasted ``max_retries``."""


class SparkDownloadError(SparkLogError):
    """A download ended early, or its body did not match what the server announced."""


class SparkJobTimeoutError(SparkLogError):
    """A job did not reach 100% before the operator's ``job_timeout``."""


class SparkJobError(SparkLogError):
    """A job failed in Spark, or a trigger reported that it did."""


class SparkLandingError(SparkLogError):
    """A ZIP could not be published at its destination; nothing partial was left there."""


class SparkTlsError(SparkLogError):
    """A server's TLS certificate failed verification: reported at once, never retried."""
