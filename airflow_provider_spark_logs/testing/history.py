"""Deterministic synthetic API call history of a Spark service.

The emulator has no database: the calls of a service on a given UTC day are generated from a
random generator seeded with ``folder|service|day``. The same day therefore always holds the same
calls, in every process and on every run, so a test can ask :func:`calls_between` for the calls it
expects while the code under test downloads them through the HTTP API.

Every day holds 20 to 40 calls, including calls at exactly ``00:00:00.000``, ``12:00:00.000`` and
``23:59:59.999`` UTC. Those sit on the bounds of daily, hourly and half-day windows, which is where
off-by-one-millisecond bugs in window arithmetic show up. Every day also holds at least one call with
errors and one with warnings, so filters on them never match an empty set by accident.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any

UTC = timezone.utc
ONE_DAY = timedelta(days=1)
_MS_PER_DAY = 86_400_000

#: Milliseconds after midnight UTC at which every day has a call (start, noon, last millisecond).
FIXED_CALL_OFFSETS_MS: tuple[int, ...] = (0, _MS_PER_DAY // 2, _MS_PER_DAY - 1)

USER_NAMES: tuple[str, ...] = (
    "alice.martin@example.com",
    "bruno.silva@example.com",
    "chen.wei@example.com",
    "dana.kowalski@example.com",
    "emeka.obi@example.com",
)
CALL_PURPOSES: tuple[str, ...] = ("quote", "renewal", "test", "batch")
SOURCE_SYSTEMS: tuple[str, ...] = ("Portal", "CRM", "BatchRunner", "MobileApp")
ERROR_MESSAGES: tuple[str, ...] = (
    "#VALUE! in Premium: Vehicle value out of range",
    "Driver age below minimum age 18",
    "Timeout while calculating",
)
WARNING_MESSAGES: tuple[str, ...] = (
    "Driver age above 80: manual review required",
    "Vehicle value rounded to nearest 100",
    "Deprecated input ignored: Postcode",
)


@dataclass(frozen=True)
class ServiceVersion:
    """One version of the synthetic model; later versions add inputs and outputs, as real ones do."""

    version: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


#: The three versions every synthetic service has, oldest first.
VERSIONS: tuple[ServiceVersion, ...] = (
    ServiceVersion("1.0.0", ("Driver age", "Vehicle value"), ("Premium",)),
    ServiceVersion("1.1.0", ("Driver age", "Vehicle value"), ("Premium", "Excess")),
    ServiceVersion("1.2.0", ("Driver age", "Vehicle value", "Annual mileage"), ("Premium", "Excess")),
)
VERSIONS_BY_NAME: dict[str, ServiceVersion] = {v.version: v for v in VERSIONS}


@dataclass(frozen=True)
class CallRecord:
    """One logged API call, i.e. one row of the exported CSV.

    ``inputs`` and ``outputs`` are excluded from hashing (dicts are not hashable) so that records can
    still be put in sets; ``call_id`` is unique anyway.
    """

    call_id: str
    log_time: datetime
    folder: str
    service: str
    version: str
    version_id: str
    user_name: str
    source_system: str
    correlation_id: str
    call_purpose: str
    calc_time_ms: int
    total_time_ms: int
    inputs: dict[str, Any] = field(hash=False)
    outputs: dict[str, Any] = field(hash=False)
    errors: str = ""
    warnings: str = ""
    description: str = "Execute"
    transaction_date: date | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (ISO timestamps), used by the control API."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["log_time"] = format_timestamp(self.log_time)
        data["transaction_date"] = self.transaction_date.isoformat() if self.transaction_date else None
        return data


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 with milliseconds, ``Z`` for UTC, as Spark writes timestamps."""
    text = moment.isoformat(timespec="milliseconds")
    return text[: -len("+00:00")] + "Z" if text.endswith("+00:00") else text


def version_id(folder: str, service: str, version: str) -> str:
    """Stable id of a service version (uuid5, so it is the same in every process)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"spark-emulator:{folder}/{service}/{version}"))


def _random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _inputs(rng: random.Random, version: ServiceVersion) -> dict[str, Any]:
    values: dict[str, Any] = {
        "Driver age": rng.randint(18, 90),
        "Vehicle value": round(rng.uniform(3_000, 80_000), 2),
        "Annual mileage": rng.randrange(2_000, 40_000, 500),
    }
    return {name: values[name] for name in version.inputs}


def _outputs(rng: random.Random, version: ServiceVersion, failed: bool) -> dict[str, Any]:
    values: dict[str, Any] = {"Premium": round(rng.uniform(150, 3_000), 2), "Excess": rng.choice((250, 500, 1000))}
    return {name: None if failed else values[name] for name in version.outputs}


def _make_call(
    rng: random.Random,
    folder: str,
    service: str,
    log_time: datetime,
    correlation_ids: list[str],
    *,
    force_errors: bool = False,
    force_warnings: bool = False,
) -> CallRecord:
    version = rng.choices(VERSIONS, weights=(1, 2, 3))[0]
    errors = rng.choice(ERROR_MESSAGES) if force_errors or rng.random() < 0.1 else ""
    warnings = rng.choice(WARNING_MESSAGES) if force_warnings or rng.random() < 0.2 else ""
    source_system = rng.choice(SOURCE_SYSTEMS)
    calc_time_ms = rng.randint(5, 400)
    return CallRecord(
        call_id=_random_uuid(rng),
        log_time=log_time,
        folder=folder,
        service=service,
        version=version.version,
        version_id=version_id(folder, service, version.version),
        user_name=rng.choice(USER_NAMES),
        source_system=source_system,
        correlation_id=rng.choice(correlation_ids),
        call_purpose=rng.choice(CALL_PURPOSES),
        calc_time_ms=calc_time_ms,
        total_time_ms=calc_time_ms + rng.randint(10, 200),
        inputs=_inputs(rng, version),
        outputs=_outputs(rng, version, failed=bool(errors)),
        errors=errors,
        warnings=warnings,
        description="Batch execute" if source_system == "BatchRunner" else "Execute",
        transaction_date=log_time.date(),
    )


@lru_cache(maxsize=4096)
def day_calls(folder: str, service: str, day: date) -> tuple[CallRecord, ...]:
    """All calls of ``folder/service`` on the UTC ``day``, sorted by time (cached: days never change)."""
    rng = random.Random(f"{folder}|{service}|{day.isoformat()}")
    count = rng.randint(20, 40)
    offsets = list(FIXED_CALL_OFFSETS_MS) + [rng.randrange(_MS_PER_DAY) for _ in range(count - 3)]
    # Fewer correlation ids than calls: by pigeonhole several calls share one, as in real batches.
    correlation_ids = [_random_uuid(rng) for _ in range(count // 4)]
    midnight = datetime.combine(day, time(0), tzinfo=UTC)
    calls = [
        _make_call(
            rng,
            folder,
            service,
            midnight + timedelta(milliseconds=offset),
            correlation_ids,
            force_warnings=index == 1,
            force_errors=index == 2,
        )
        for index, offset in enumerate(offsets)
    ]
    return tuple(sorted(calls, key=lambda call: (call.log_time, call.call_id)))


def _require_aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(UTC)


def calls_between(folder: str, service: str, start: datetime, end: datetime) -> Iterator[CallRecord]:
    """Calls with ``start <= log_time < end`` (half-open; aware datetimes), in time order."""
    start = _require_aware(start, "start")
    end = _require_aware(end, "end")
    day = start.date()
    while datetime.combine(day, time(0), tzinfo=UTC) < end:
        for call in day_calls(folder, service, day):
            if start <= call.log_time < end:
                yield call
        day += ONE_DAY
