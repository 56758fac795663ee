"""Fault injection: the real operators against a misbehaving emulator.

Faults to survive end with the right ZIP landed; faults to report end with a clear message, nothing
landed, and no secret in the message.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from email.utils import format_datetime

import pytest

from airflow_provider_spark_logs._compat import TaskDeferred
from airflow_provider_spark_logs.exceptions import (
    SparkApiError,
    SparkAuthError,
    SparkConfigError,
    SparkJobTimeoutError,
    SparkLogError,
    SparkNotFoundError,
    SparkProtocolError,
    SparkRetriesExhaustedError,
)
from airflow_provider_spark_logs.testing import Fault, SparkEmulator
from airflow_provider_spark_logs.triggers.spark_logs import SparkLogJobTrigger
from tests.helpers import (
    CONTEXT,
    DAY_END,
    DAY_START,
    UTC,
    TaskStateStore,
    call_ids_in,
    export_op,
    first_event,
    rebuilt_by_airflow,
)

KEY = "Pricing/Motor_Quote/20260101T000000Z_20260102T000000Z.zip"


def rebuilt(trigger):
    """The trigger as the triggerer sees it: stored through Airflow's Trigger row and built again."""
    restored = rebuilt_by_airflow(trigger)
    assert type(restored) is SparkLogJobTrigger
    return restored


def export_to(lake, **kwargs):
    """The export as a production DAG would run it: deferrable, landing in ``lake``; ``kwargs`` override."""
    defaults = {"destination": f"file://{lake}/", "poll_interval": 0.2, "job_timeout": 60, "deferrable": True}
    return export_op(**{**defaults, **kwargs})


def run_task(op, context=CONTEXT):
    """One try of the task: execute, and if it defers, the trigger and ``execute_complete``."""
    try:
        return op.execute(context)
    except TaskDeferred as deferred:
        event = first_event(rebuilt(deferred.trigger))
        return getattr(op, deferred.method_name)(context, event)


@pytest.fixture
def lake(tmp_path):
    return tmp_path / "lake"


def assert_landed_the_day(lake, emulator):
    landed = [p.relative_to(lake).as_posix() for p in lake.rglob("*") if p.is_file()]
    assert landed == [KEY]
    expected = sorted(c.call_id for c in emulator.calls("Pricing", "Motor Quote", DAY_START, DAY_END))
    assert sorted(call_ids_in(lake / KEY)) == expected


def requests_to(emulator, target):
    return [r for r in emulator.requests if r.target == target]


def http_date(seconds_from_now):
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


# ------------------------------------------------------------------ faults to survive


RETRY_AFTER_CASES = [
    ("submit", {"Retry-After": "1"}),
    ("status", {"Retry-After": "1"}),
    ("download", {"Retry-After": "1"}),
    ("submit", "http-date"),
    ("status", "http-date"),
    ("download", "http-date"),
    ("submit", {"x-retry-after": "1"}),
    ("status", {"x-retry-after": "1"}),
    ("download", {"x-retry-after": "1"}),
]


@pytest.mark.parametrize(("target", "headers"), RETRY_AFTER_CASES)
def test_429_with_retry_after_waits_and_lands(lake, emulator, connect, target, headers):
    connect()
    emulator.job_seconds = 0.3
    if headers == "http-date":
        headers = {"Retry-After": http_date(2)}
    emulator.inject(Fault(target, "status", status=429, headers=headers))
    run_task(export_to(lake))
    assert_landed_the_day(lake, emulator)
    refused, *_, retried = (r for r in requests_to(emulator, target) if r.status in (429, 200))
    assert refused.status == 429
    assert 0.9 <= retried.time - refused.time < 4


@pytest.mark.parametrize("target", ["submit", "status", "download"])
def test_bursts_of_proxy_errors_are_ridden_out(lake, emulator, connect, target):
    connect()
    emulator.job_seconds = 0.3
    for status in (502, 503, 504):
        emulator.inject(Fault(target, "status", status=status, html=True))
    run_task(export_to(lake))
    assert_landed_the_day(lake, emulator)
    assert [r.status for r in requests_to(emulator, target)][:3] == [502, 503, 504]


@pytest.mark.parametrize("target", ["submit", "status", "download"])
def test_connection_resets_are_retried(lake, emulator, connect, target):
    connect()
    emulator.job_seconds = 0.3
    emulator.inject(Fault(target, "reset", times=2))
    run_task(export_to(lake))
    assert_landed_the_day(lake, emulator)


def test_a_response_slower_than_the_timeout_is_retried(lake, emulator, connect):
    connect(extra={"timeout": 0.5})
    emulator.job_seconds = 0.3
    emulator.inject(Fault("status", "delay", seconds=2))
    started = time.monotonic()
    run_task(export_to(lake))
    assert_landed_the_day(lake, emulator)
    assert time.monotonic() - started < 10


def test_an_oauth2_token_expiring_during_a_long_job(lake, connect):
    with SparkEmulator(token_ttl=1, job_seconds=3) as emu:
        connect("oauth2", host=emu.base_url, extra={"token_url": emu.token_url})
        run_task(export_to(lake, poll_interval=0.3))
        assert_landed_the_day(lake, emu)
        assert len(requests_to(emu, "token")) >= 3
        assert all(r.status == 200 for r in emu.requests), "no failed call surfaced"


def test_a_download_cut_off_once(lake, emulator, connect):
    connect()
    emulator.job_seconds = 0.3
    emulator.inject(Fault("download", "truncate"))
    run_task(export_to(lake))
    assert_landed_the_day(lake, emulator)


def test_an_expired_download_url(lake, emulator, connect):
    connect()
    emulator.job_seconds = 0.3
    emulator.inject(Fault("download", "expired", status=403))
    run_task(export_to(lake))
    assert_landed_the_day(lake, emulator)
    refused, fetched = requests_to(emulator, "download")
    assert (refused.status, fetched.status) == (403, 200)
    assert refused.path != fetched.path


def test_a_triggerer_restart_while_polling(lake, emulator, connect):
    connect()
    emulator.job_seconds = 2
    op = export_to(lake, poll_interval=0.2)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(CONTEXT)
    first = rebuilt(deferred.value.trigger)

    async def run_until_restart():
        async def take():
            async for event in first.run():
                return event

        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(take(), timeout=0.7)

    asyncio.run(run_until_restart())
    polls_before = len(requests_to(emulator, "status"))
    assert polls_before >= 2
    event = first_event(rebuilt(deferred.value.trigger))
    assert event == {"status": "success", "job_id": op.job_id}
    op.execute_complete(CONTEXT, event)
    assert_landed_the_day(lake, emulator)
    assert len(requests_to(emulator, "submit")) == 1
    assert len(requests_to(emulator, "status")) > polls_before


def test_a_worker_lost_after_submit_reuses_the_job(lake, emulator, connect):
    connect()
    emulator.job_seconds = 0.5
    store = TaskStateStore()
    context = {**CONTEXT, "task_state_store": store}
    with pytest.raises(TaskDeferred):
        export_to(lake).execute(context)  # the worker dies here: the deferral never reaches Airflow
    run_task(export_to(lake), context)
    assert len(requests_to(emulator, "submit")) == 1
    assert_landed_the_day(lake, emulator)


def test_a_worker_lost_without_a_state_store_exports_once_more(lake, emulator, connect):
    connect()
    emulator.job_seconds = 0.5
    with pytest.raises(TaskDeferred):
        export_to(lake).execute(CONTEXT)
    run_task(export_to(lake))
    assert len(requests_to(emulator, "submit")) == 2
    assert_landed_the_day(lake, emulator)


# ------------------------------------------------------------------ faults to report


def assert_reported(lake, error, *needles, secrets=()):
    message = str(error.value)
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    for secret in secrets:
        assert secret not in message
    assert not lake.exists() or not any(p.is_file() for p in lake.rglob("*"))


@pytest.mark.parametrize("auth_type", ["api_key", "bearer", "oauth2"])
def test_wrong_credentials(lake, emulator, connect, auth_type):
    connect(auth_type, password="wrong-secret-value-123")
    with pytest.raises(SparkAuthError) as error:
        run_task(export_to(lake))
    assert_reported(
        lake,
        error,
        f"auth_type '{auth_type}'",
        "coherent_spark_default",
        "check credentials or the feature permission",
        secrets=["wrong-secret-value-123"],
    )


def test_unknown_folder_or_service(lake, connect):
    with SparkEmulator(services=[("Pricing", "Home Quote")]) as emu:
        connect(host=emu.base_url)
        with pytest.raises(SparkNotFoundError) as error:
            run_task(export_to(lake))
        assert_reported(lake, error, "Pricing", "Motor Quote", "HTTP 404", secrets=[emu.api_key])


def test_a_400_carries_the_apis_message(lake, emulator, connect):
    connect()
    emulator.inject(Fault("submit", "status", status=400, message="call_ids must be uuids"))
    with pytest.raises(SparkApiError) as error:
        run_task(export_to(lake))
    assert_reported(lake, error, "HTTP 400", "call_ids must be uuids")


@pytest.mark.parametrize("deferrable", [True, False])
def test_a_job_that_errors(lake, emulator, connect, deferrable):
    connect()
    emulator.inject(Fault("status", "job_error", message="Export failed: disk full"))
    op = export_to(lake, deferrable=deferrable)
    with pytest.raises(SparkLogError) as error:
        run_task(op)
    assert_reported(lake, error, op.job_id, "Export failed: disk full")


@pytest.mark.parametrize("deferrable", [True, False])
def test_a_job_that_never_finishes(lake, emulator, connect, deferrable):
    connect()
    emulator.inject(Fault("status", "never_finish", progress=42))
    op = export_to(lake, deferrable=deferrable, job_timeout=1)
    with pytest.raises(SparkJobTimeoutError) as error:
        run_task(op)
    assert_reported(lake, error, op.job_id, "job_timeout=1 s", "last progress 42%", "Raise job_timeout")


def test_retries_exhausted(lake, emulator, connect):
    connect(extra={"max_retries": 2})
    emulator.inject(Fault("submit", "status", status=503, html=True, times=3))
    with pytest.raises(SparkRetriesExhaustedError) as error:
        run_task(export_to(lake))
    assert_reported(lake, error, "after 3 attempts", "max_retries=2", "HTTP 503")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("<html>gateway</html>", "not JSON"),
        ('{"status": null}', "response_data"),
        ('{"response_data": {"download_url": null}}', "response_data.progress"),
        ('{"response_data": {"progress": "50"}}', "response_data.progress"),
        ('{"response_data": {"progress": 140}}', "response_data.progress"),
        ('{"response_data": {"progress": 100, "download_url": 7}}', "response_data.download_url"),
    ],
)
def test_malformed_status_answers_are_protocol_errors(lake, emulator, connect, body, field):
    connect()
    emulator.inject(Fault("status", "status", status=200, body=body))
    with pytest.raises(SparkProtocolError) as error:
        run_task(export_to(lake))
    assert_reported(lake, error, field)


def test_a_malformed_submit_answer_names_the_field(lake, emulator, connect):
    connect()
    emulator.inject(Fault("submit", "status", status=200, body='{"response_data": {"job": "x"}}'))
    with pytest.raises(SparkProtocolError) as error:
        run_task(export_to(lake))
    assert_reported(lake, error, "response_data.job_id")


# ------------------------------------------------------------------ bad inputs, before any HTTP call

BAD_ARGUMENTS = [
    ({"folder": ""}, "folder"),
    ({"service": " "}, "service"),
    ({"log_start": "2026-01-02T00:00:00Z", "log_end": "2026-01-01T00:00:00Z"}, "log_end"),
    ({"log_start": "2026-01-01T00:00:00Z", "log_end": "2026-01-01T00:00:00Z"}, "log_end"),
    ({"log_start": "the first of January"}, "log_start"),
    ({"timezone_offset": 15}, "timezone_offset"),
    ({"timezone_offset": "five"}, "timezone_offset"),
    ({"call_ids": "one-id"}, "call_ids"),
    ({"call_ids": ["a"], "correlation_id": "c"}, "correlation_id"),
    ({"has_warnings": "yes"}, "has_warnings"),
    ({"poll_interval": 0}, "poll_interval"),
    ({"job_timeout": -5}, "job_timeout"),
    ({"destination": "ftpx://host/x.zip"}, "destination"),
]
BAD_CONNECTIONS = [
    ({"host": ""}, "no host"),
    ({"extra": {"tenant": None}}, "no tenant"),
    ({"password": ""}, "no password"),
    ({"extra": {"auth_type": "ntlm"}}, "auth_type 'ntlm'"),
]


@pytest.mark.parametrize(("arguments", "name"), BAD_ARGUMENTS)
def test_bad_arguments_are_rejected_at_parse_time(lake, emulator, connect, arguments, name):
    connect()
    with pytest.raises(SparkConfigError, match=name):
        export_to(lake, **arguments)
    assert emulator.requests == []


@pytest.mark.parametrize(("changes", "name"), BAD_CONNECTIONS)
def test_bad_connections_are_rejected_before_any_http_call(lake, emulator, connect, changes, name):
    connect(**changes)
    with pytest.raises(SparkConfigError, match=name):
        run_task(export_to(lake))
    assert emulator.requests == []


def test_naive_datetimes_are_taken_as_utc(lake, emulator, connect):
    connect()
    op = export_to(
        lake, log_start=datetime(2026, 1, 1), log_end="2026-01-02T00:00:00", destination=None, wait_for_completion=False
    )
    run_task(op)
    (submit,) = requests_to(emulator, "submit")
    assert submit.json_body["request_data"] == {
        "start_date": "2026-01-01T00:00:00.000Z",
        "end_date": "2026-01-01T23:59:59.999Z",
    }
