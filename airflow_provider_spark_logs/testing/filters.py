"""Validation of a log-download request body and the filter it describes.

Semantics follow ``spark-api.md``; where the real API is undocumented the emulator picks a rule and
states it here, so that tests fail loudly when a client relies on something it should not:

* ``start_date`` / ``end_date`` are inclusive to the millisecond. A date-only ``start_date`` means
  ``00:00:00.000`` UTC of that day, a date-only ``end_date`` means ``23:59:59.999``. Any ISO 8601
  timestamp is accepted (``Z`` or an offset); one without offset is taken as UTC.
* Without ``end_date`` the window ends at the time of the submit; without ``start_date`` it starts
  :data:`DEFAULT_WINDOW` before its end.
* A window longer than :data:`MAX_WINDOW`, or one that ends before it starts, is refused with 400.
* A field sent as JSON ``null`` counts as absent; an empty ``call_ids`` list filters nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from airflow_provider_spark_logs.testing.history import UTC, CallRecord, calls_between, format_timestamp

DEFAULT_WINDOW = timedelta(days=7)
MAX_WINDOW = timedelta(days=400)
_ONE_MICROSECOND = timedelta(microseconds=1)
_LAST_MS = time(23, 59, 59, 999_000)
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RequestValidationError(ValueError):
    """A request body the real API would refuse with 400; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CallFilter:
    """What a download job exports: an inclusive time window plus optional exact-match filters."""

    start: datetime
    end: datetime
    timezone_offset: float = 0.0
    call_ids: tuple[str, ...] = ()
    call_purpose: str | None = None
    user_name: str | None = None
    has_warnings: bool | None = None
    has_errors: bool | None = None
    version_id: str | None = None

    def matches(self, call: CallRecord) -> bool:
        """True when ``call`` belongs in the export (window bounds inclusive)."""
        return (
            self.start <= call.log_time <= self.end
            and self._matches_call_ids(call)
            and self.call_purpose in (None, call.call_purpose)
            and self.user_name in (None, call.user_name)
            and self.has_warnings in (None, bool(call.warnings))
            and self.has_errors in (None, bool(call.errors))
            and self.version_id in (None, call.version_id)
        )

    def select(self, folder: str, service: str) -> list[CallRecord]:
        """The calls of ``folder/service`` this filter exports, in time order."""
        # Inclusive end -> half-open end: datetimes resolve microseconds, so end + 1 µs is exact.
        window = calls_between(folder, service, self.start, self.end + _ONE_MICROSECOND)
        return [call for call in window if self.matches(call)]

    def _matches_call_ids(self, call: CallRecord) -> bool:
        # As documented: call ids, or ONE correlation id, or ONE source-system name.
        if not self.call_ids:
            return True
        if call.call_id in self.call_ids:
            return True
        return len(self.call_ids) == 1 and self.call_ids[0] in (call.correlation_id, call.source_system)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form, shown in :attr:`SparkEmulator.jobs`."""
        return {
            "start": format_timestamp(self.start),
            "end": format_timestamp(self.end),
            "timezone_offset": self.timezone_offset,
            "call_ids": list(self.call_ids),
            "callpurpose": self.call_purpose,
            "userName": self.user_name,
            "has_warnings": self.has_warnings,
            "has_errors": self.has_errors,
            "version_id": self.version_id,
        }


def parse_timestamp(value: Any, field: str, *, end_of_day: bool) -> datetime:
    """Parse a ``start_date``/``end_date`` value; a bare date means the first/last ms of that day."""
    if not isinstance(value, str):
        raise RequestValidationError(field, f"{field} must be an ISO 8601 date or timestamp string")
    try:
        if _DATE_ONLY.match(value):
            return datetime.combine(date.fromisoformat(value), _LAST_MS if end_of_day else time(0), UTC)
        parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        raise RequestValidationError(field, f"{field} is not a valid ISO 8601 date or timestamp") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _optional(data: dict[str, Any], key: str, kinds: tuple[type, ...], description: str, field: str) -> Any:
    value = data.get(key)
    # bool is a subclass of int: never let true/false pass as a number.
    if value is None or (isinstance(value, kinds) and (bool in kinds or not isinstance(value, bool))):
        return value
    raise RequestValidationError(field, f"{field} must be {description}")


def _section(body: dict[str, Any], key: str) -> dict[str, Any]:
    section = body.get(key)
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise RequestValidationError(key, f"{key} must be a JSON object")
    return section


def _call_ids(data: dict[str, Any]) -> tuple[str, ...]:
    value = _optional(data, "call_ids", (list,), "a list of strings", "request_data.call_ids")
    if value is None:
        return ()
    if not all(isinstance(item, str) for item in value):
        raise RequestValidationError("request_data.call_ids", "request_data.call_ids must be a list of strings")
    return tuple(value)


def _timezone_offset(data: dict[str, Any]) -> float:
    field = "request_data.timezone_offset"
    value = _optional(data, "timezone_offset", (int, float), "a number of hours", field)
    if value is None:
        return 0.0
    if not -14 <= value <= 14:
        raise RequestValidationError(field, f"{field} must be between -14 and 14 hours")
    return float(value)


def _window(data: dict[str, Any], now: datetime) -> tuple[datetime, datetime]:
    end_value, start_value = data.get("end_date"), data.get("start_date")
    end = now if end_value is None else parse_timestamp(end_value, "request_data.end_date", end_of_day=True)
    start = (
        end - DEFAULT_WINDOW
        if start_value is None
        else parse_timestamp(start_value, "request_data.start_date", end_of_day=False)
    )
    if end < start:
        raise RequestValidationError("request_data.end_date", "request_data.end_date is before start_date")
    if end - start > MAX_WINDOW:
        raise RequestValidationError(
            "request_data.start_date", f"window too long: at most {MAX_WINDOW.days} days per download"
        )
    return start, end


def parse_request_body(body: Any, now: datetime) -> CallFilter:
    """Validate a submit body (already JSON-decoded) and build its filter; ``now`` is the submit time."""
    if not isinstance(body, dict):
        raise RequestValidationError("body", "Request body must be a JSON object")
    data = _section(body, "request_data")
    meta = _section(body, "request_meta")
    start, end = _window(data, now)
    text, flag = (str,), (bool,)
    return CallFilter(
        start=start,
        end=end,
        timezone_offset=_timezone_offset(data),
        call_ids=_call_ids(data),
        call_purpose=_optional(data, "callpurpose", text, "a string", "request_data.callpurpose"),
        user_name=_optional(data, "userName", text, "a string", "request_data.userName"),
        has_warnings=_optional(data, "has_warnings", flag, "a boolean", "request_data.has_warnings"),
        has_errors=_optional(data, "has_errors", flag, "a boolean", "request_data.has_errors"),
        version_id=_optional(meta, "version_id", text, "a string", "request_meta.version_id"),
    )
