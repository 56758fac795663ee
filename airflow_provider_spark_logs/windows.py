"""Log windows: from a run's data interval or explicit bounds, and ranges split into windows.

A window is half-open, ``[start, end)``. Airflow 3's default cron timetable gives runs an empty
data interval (start == end); exporting that would silently export nothing, so it is an error
that names the fixes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_spark_logs.exceptions import SparkConfigError
from airflow_provider_spark_logs.timestamps import to_utc

EMPTY_INTERVAL_FIXES = (
    "Use a timetable whose data intervals have a length, e.g. "
    "CronDataIntervalTimetable('0 0 * * *', timezone='UTC') or "
    "CronTriggerTimetable('0 0 * * *', timezone='UTC', interval=timedelta(days=1)), "
    "or pass log_start and log_end explicitly."
)


def check_window(start: datetime, end: datetime, start_name: str = "start", end_name: str = "end") -> None:
    """The one rule of every window, wherever it comes from: its end is after its start.

    Windows are half-open, ``[start, end)``, so an end equal to the start is an empty window: Spark
    would export nothing, and nothing must be exported silently.
    """
    if end <= start:
        raise SparkConfigError(
            f"{end_name} ({end.isoformat()}) must be after {start_name} ({start.isoformat()}): "
            f"the window is half-open, [{start_name}, {end_name}), so this one is empty or reversed."
        )


def resolve_window(log_start: Any, log_end: Any, context: Mapping[str, Any]) -> tuple[datetime, datetime]:
    """The window to export: explicit bounds where given, else the run's data interval."""
    start = log_start if log_start is not None else context.get("data_interval_start")
    end = log_end if log_end is not None else context.get("data_interval_end")
    if start is None or end is None:
        raise SparkConfigError(
            "This run has no data interval (a manual run without a logical date?), so there is no log "
            f"window to export. {EMPTY_INTERVAL_FIXES}"
        )
    start, end = to_utc(start, "log_start"), to_utc(end, "log_end")
    if end <= start and log_start is None and log_end is None:
        raise SparkConfigError(
            f"The run's data interval is empty ({start.isoformat()} to {end.isoformat()}): on Airflow 3, "
            f"schedule='@daily' and other cron strings give runs zero-length intervals. {EMPTY_INTERVAL_FIXES}"
        )
    check_window(start, end, "log_start", "log_end")
    return start, end


def split_window(start: datetime | str, end: datetime | str, step: timedelta) -> list[dict[str, str]]:
    """Split ``[start, end)`` into consecutive windows of length ``step``, the last one shorter.

    The result feeds ``SparkLogExportOperator.partial(...).expand_kwargs(...)``: one dict per
    window with ``log_start`` and ``log_end`` as UTC ISO 8601 strings. Consecutive windows share
    their bounds, so every call in the range is exported exactly once.
    """
    first, last = to_utc(start, "start"), to_utc(end, "end")
    check_window(first, last)
    if not isinstance(step, timedelta) or step <= timedelta(0):
        raise SparkConfigError(f"step must be a positive timedelta, got {step!r}.")
    windows = []
    cursor = first
    while cursor < last:
        upper = min(cursor + step, last)
        windows.append({"log_start": cursor.isoformat(), "log_end": upper.isoformat()})
        cursor = upper
    return windows
