"""Checks of operator arguments, shared by the operators and the sensor.

Literal values are checked when the DAG is parsed; templated ones (Jinja strings, XCom references)
only once rendered, before any HTTP call.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow_provider_spark_logs._compat import Resolvable
from airflow_provider_spark_logs.destinations import check_object_key, destination_path
from airflow_provider_spark_logs.exceptions import SparkConfigError
from airflow_provider_spark_logs.protocol.messages import path_segment


def is_literal(value: Any) -> bool:
    """Known at DAG parse time: not a Jinja template and not an XCom reference."""
    return not isinstance(value, Resolvable) and not (isinstance(value, str) and "{{" in value)


def seconds(value: float | timedelta, name: str) -> float:
    number = value.total_seconds() if isinstance(value, timedelta) else value
    if isinstance(number, bool) or not isinstance(number, int | float) or not number > 0:
        raise SparkConfigError(f"{name} must be a number of seconds above 0 (or a timedelta), got {value!r}.")
    return float(number)


def check_names(**names: Any) -> None:
    """Folder, service and job id are path segments: non-empty names, not ``.`` or ``..``, with no
    control characters."""
    for name, value in names.items():
        if is_literal(value):
            path_segment(value, name)


def check_destination(destination: Any, conn_id: str | None) -> None:
    """A literal destination that cannot be landed in (an unknown or read-only scheme, a key no store
    takes) fails at DAG parse time."""
    if is_literal(destination):
        check_object_key(destination_path(destination, conn_id))
