"""Timestamps: reading them as UTC, and writing them as Spark documents them."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow_provider_spark_logs.exceptions import SparkConfigError


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
