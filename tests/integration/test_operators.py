"""The export operator, the trigger and the sensor, run against the emulator over HTTP."""

from __future__ import annotations

import itertools
import json
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from airflow import __version__ as AIRFLOW_VERSION

from airflow_provider_spark_logs._compat import TaskDeferred
from airflow_provider_spark_logs.exceptions import SparkConfigError, SparkJobTimeoutError
from airflow_provider_spark_logs.testing import Fault
from airflow_provider_spark_logs.triggers.spark_logs import SparkLogJobTrigger
from tests.helpers import (
    CONTEXT,
    DAY_END,
    TaskStateStore,
    export_op,
    first_event,
    rebuilt_by_airflow,
    sensor,
    trigger_for,
    wait_until_done,
)


def submits(emulator):
    return [r for r in emulator.requests if r.target == "submit"]


# ------------------------------------------------------------------ bad input, once rendered


@pytest.mark.parametrize(
    ("rendered", "name"),
    [
        ({"folder": ""}, "folder"),
        ({"log_start": "not a date"}, "log_start"),
        ({"timezone_offset": "99"}, "timezone_offset"),
        ({"call_ids": "x"}, "call_ids"),
    ],
)
def test_bad_rendered_arguments_fail_before_any_request(emulator, connect, rendered, name):
    connect()
    op = export_op(folder="{{ f }}", log_start="{{ s }}", timezone_offset="{{ t }}", call_ids="{{ c }}")
    op.folder, op.log_start, op.timezone_offset, op.call_ids = "Pricing", None, None, None
    for field, value in rendered.items():
        setattr(op, field, value)
    with pytest.raises(SparkConfigError, match=name):
        op.execute(CONTEXT)
    assert emulator.requests == []


# ------------------------------------------------------------------ the window


def test_empty_data_interval_is_an_error_naming_the_fixes(emulator, connect):
    connect()
    with pytest.raises(SparkConfigError) as error:
        export_op().execute({"data_interval_start": DAY_END, "data_interval_end": DAY_END})
    for fix in ("CronDataIntervalTimetable", "CronTriggerTimetable", "interval=", "log_start and log_end"):
        assert fix in str(error.value)
    assert emulator.requests == []


# ------------------------------------------------------------------ deferral


def test_defers_with_primitives_and_no_secret(emulator, connect):
    connect()
    emulator.job_seconds = 30
    op = export_op(deferrable=True, poll_interval=7, job_timeout=600)
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(CONTEXT)
    trigger = deferred.value.trigger
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_spark_logs.triggers.spark_logs.SparkLogJobTrigger"
    assert set(kwargs) == {
        "job_id",
        "folder",
        "service",
        "deadline",
        "poll_interval",
        "job_timeout",
        "spark_conn_id",
        "export_format",
    }
    assert all(isinstance(v, str | int | float) for v in kwargs.values())
    assert kwargs["job_id"] == op.job_id
    assert before + 600 <= kwargs["deadline"] <= time.time() + 600
    assert kwargs["poll_interval"] == 7
    assert deferred.value.method_name == "execute_complete"
    assert deferred.value.timeout == timedelta(seconds=660)
    text = json.dumps(kwargs) + repr(trigger)
    assert emulator.api_key not in text
    assert emulator.docstore_url not in text
    assert [r.target for r in emulator.requests] == ["submit", "status"]


def abandoned_try(context):
    """A first try that submitted and deferred, and whose worker then died: returns its job id."""
    with pytest.raises(TaskDeferred) as deferred:
        export_op(deferrable=True).execute(context)
    return deferred.value.trigger.job_id


def test_a_job_already_done_is_not_deferred(emulator, connect):
    connect()
    emulator.job_seconds = 0.3
    context = {**CONTEXT, "task_state_store": TaskStateStore()}
    job_id = abandoned_try(context)
    wait_until_done(job_id)
    assert export_op(deferrable=True).execute(context) == job_id
    assert len(submits(emulator)) == 1


def test_post_body_carries_the_window_and_filters(emulator, connect):
    connect()
    op = export_op(wait_for_completion=False, correlation_id="corr-1", has_errors=True, version_id="v-1")
    job_id = op.execute(CONTEXT)
    assert job_id in emulator.jobs
    (submit,) = submits(emulator)
    assert submit.json_body == {
        "request_data": {
            "start_date": "2026-01-01T00:00:00.000Z",
            "end_date": "2026-01-01T23:59:59.999Z",
            "call_ids": ["corr-1"],
            "has_errors": True,
        },
        "request_meta": {"version_id": "v-1"},
    }


# ------------------------------------------------------------------ the trigger


def test_trigger_waits_for_progress_to_reach_100(emulator, connect):
    connect()
    emulator.job_seconds = 0.5
    job_id = export_op(wait_for_completion=False).execute(CONTEXT)
    assert first_event(trigger_for(job_id)) == {"status": "success", "job_id": job_id}
    statuses = [r for r in emulator.requests if r.target == "status"]
    assert len(statuses) >= 2
    assert len(submits(emulator)) == 1


def test_trigger_reports_a_failed_job(emulator, connect):
    connect()
    emulator.inject(Fault("status", "job_error", message="Export exploded"))
    job_id = export_op(wait_for_completion=False).execute(CONTEXT)
    event = first_event(trigger_for(job_id))
    assert event["status"] == "error"
    assert job_id in event["message"]
    assert "Export exploded" in event["message"]


def test_trigger_reports_its_deadline(emulator, connect):
    connect()
    emulator.inject(Fault("status", "never_finish", progress=60))
    job_id = export_op(wait_for_completion=False).execute(CONTEXT)
    event = first_event(trigger_for(job_id, deadline_in=0.5))
    assert event["status"] == "timeout"
    assert job_id in event["message"]
    assert "job_timeout=0.5" in event["message"]
    assert "last progress 60%" in event["message"]


def test_trigger_rides_out_a_spark_outage(emulator, connect):
    connect(extra={"max_retries": 0})
    emulator.job_seconds = 0
    job_id = export_op(wait_for_completion=False).execute(CONTEXT)
    emulator.inject(Fault("status", "status", status=503, html=True, times=3))
    assert first_event(trigger_for(job_id))["status"] == "success"


@pytest.mark.compat
@pytest.mark.xfail(
    AIRFLOW_VERSION == "3.1.0",
    reason="3.1.0's aget_connection fails outside a triggerer or task (no SUPERVISOR_COMMS; fixed in 3.1.x)",
    strict=True,
)
def test_trigger_survives_a_restart_through_serde(emulator, connect):
    connect()
    emulator.job_seconds = 0.5
    job_id = export_op(wait_for_completion=False).execute(CONTEXT)
    original = trigger_for(job_id)
    rebuilt = rebuilt_by_airflow(original)
    assert type(rebuilt) is SparkLogJobTrigger
    assert rebuilt.serialize() == original.serialize()
    assert first_event(rebuilt) == {"status": "success", "job_id": job_id}
    assert len(submits(emulator)) == 1


def test_trigger_reports_bad_credentials_without_secrets(emulator, connect):
    connect(password="wrong-secret-123")
    event = first_event(trigger_for("some-job"))
    assert event["status"] == "error"
    assert "check credentials" in event["message"]
    assert "wrong-secret-123" not in json.dumps(event)


# ------------------------------------------------------------------ the synchronous path


def test_sync_path_polls_until_done(emulator, connect):
    connect()
    emulator.job_seconds = 0.5
    op = export_op(deferrable=False)
    assert op.execute(CONTEXT) == op.job_id
    assert len([r for r in emulator.requests if r.target == "status"]) >= 2


def test_sync_path_looks_once_per_poll_interval(emulator, connect):
    connect()
    emulator.job_seconds = 1
    export_op(deferrable=False, poll_interval=0.4).execute(CONTEXT)
    looks = [r.time for r in emulator.requests if r.target == "status"]
    assert len(looks) >= 2
    gaps = [later - earlier for earlier, later in itertools.pairwise(looks)]
    assert min(gaps) >= 0.35, f"status polls back to back: {gaps}"


def test_sync_path_times_out_with_the_same_message(emulator, connect):
    connect()
    emulator.inject(Fault("status", "never_finish"))
    with pytest.raises(SparkJobTimeoutError, match=r"job_timeout=0\.3 s .*Raise job_timeout"):
        export_op(deferrable=False, job_timeout=0.3).execute(CONTEXT)


def test_sync_path_reports_a_failed_job(emulator, connect):
    connect()
    emulator.inject(Fault("status", "job_error", message="Export exploded"))
    op = export_op(deferrable=False)
    with pytest.raises(Exception, match="Export exploded") as error:
        op.execute(CONTEXT)
    assert op.job_id in str(error.value)


def test_wait_for_completion_false_returns_at_once(emulator, connect):
    connect()
    emulator.job_seconds = 60
    job_id = export_op(wait_for_completion=False).execute(CONTEXT)
    assert job_id in emulator.jobs
    assert [r.target for r in emulator.requests] == ["submit"]


# ------------------------------------------------------------------ retries reuse the job


def test_a_retry_reuses_the_unfinished_job(emulator, connect):
    connect()
    emulator.job_seconds = 30
    store = TaskStateStore()
    context = {**CONTEXT, "task_state_store": store}
    with pytest.raises(TaskDeferred):
        export_op(deferrable=True).execute(context)
    with pytest.raises(TaskDeferred) as retried:
        export_op(deferrable=True).execute(context)
    assert len(submits(emulator)) == 1
    assert retried.value.trigger.job_id == next(iter(emulator.jobs))


def test_a_retry_reuses_a_finished_job_even_after_a_success_airflow_never_heard_of(emulator, connect):
    connect()
    emulator.job_seconds = 0.3
    store = TaskStateStore()
    context = {**CONTEXT, "task_state_store": store, "ti": SimpleNamespace(max_tries=2)}
    job_id = abandoned_try(context)
    assert store.get("spark_log_export_job")["job_id"] == job_id
    wait_until_done(job_id)
    assert export_op(deferrable=True).execute(context) == job_id
    # That try succeeded, but its worker was killed before Airflow recorded it: the retry goes on too.
    assert export_op(deferrable=True).execute(context) == job_id
    assert len(submits(emulator)) == 1


def test_a_cleared_task_exports_afresh(emulator, connect):
    connect()
    emulator.job_seconds = 0.3
    ti = SimpleNamespace(max_tries=2)
    context = {**CONTEXT, "task_state_store": TaskStateStore(), "ti": ti}
    job_id = abandoned_try(context)
    wait_until_done(job_id)
    assert export_op(deferrable=True).execute(context) == job_id
    ti.max_tries = 1 + 2  # a clear: Airflow sets max_tries to try_number + retries
    assert abandoned_try(context) != job_id
    assert len(submits(emulator)) == 2


def test_a_submit_without_waiting_uses_its_job_up(emulator, connect):
    connect()
    store = TaskStateStore()
    export_op(wait_for_completion=False).execute({**CONTEXT, "task_state_store": store})
    assert store.values == {}
    assert store.writes == [], "a job that nobody waits for is not kept, not even for a moment"


def test_a_failed_job_is_not_reused(emulator, connect):
    connect()
    emulator.inject(Fault("status", "job_error"))
    store = TaskStateStore()
    context = {**CONTEXT, "task_state_store": store}
    with pytest.raises(Exception, match="Job failed"):
        export_op(deferrable=False).execute(context)
    export_op(wait_for_completion=False).execute(context)
    assert len(submits(emulator)) == 2


def test_a_retry_with_another_window_submits_again(emulator, connect):
    connect()
    emulator.job_seconds = 30
    store = TaskStateStore()
    first = abandoned_try({**CONTEXT, "task_state_store": store})
    later = {"data_interval_start": DAY_END, "data_interval_end": DAY_END + timedelta(days=1)}
    assert abandoned_try({**later, "task_state_store": store}) != first
    assert len(submits(emulator)) == 2


# ------------------------------------------------------------------ the sensor


def test_sensor_pokes_until_done(emulator, connect):
    connect()
    emulator.job_seconds = 0.5
    job_id = export_op(wait_for_completion=False).execute(CONTEXT)
    assert sensor(job_id=job_id, deferrable=False).execute(CONTEXT) == job_id


def test_sensor_defers_to_the_same_trigger(emulator, connect):
    connect()
    emulator.job_seconds = 30
    job_id = export_op(wait_for_completion=False).execute(CONTEXT)
    with pytest.raises(TaskDeferred) as deferred:
        sensor(job_id=job_id, deferrable=True, timeout=120).execute(CONTEXT)
    trigger = deferred.value.trigger
    assert isinstance(trigger, SparkLogJobTrigger)
    assert (trigger.job_id, trigger.job_timeout) == (job_id, 120)
    assert sensor(job_id=job_id).execute_complete(CONTEXT, {"status": "success", "job_id": job_id}) == job_id
