"""The export operator and the sensor without I/O: argument checks, the window, trigger events."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from airflow_provider_spark_logs.exceptions import SparkConfigError, SparkJobError, SparkJobTimeoutError
from airflow_provider_spark_logs.operators.spark_logs import SparkLogExportOperator
from airflow_provider_spark_logs.sensors.spark_logs import SparkLogJobSensor
from airflow_provider_spark_logs.transfers.spark_logs_to_object_storage import SparkLogToObjectStorageOperator
from airflow_provider_spark_logs.triggers.spark_logs import SparkLogJobTrigger
from tests.helpers import CONTEXT, DAY_END, DAY_START, UTC, export_op, sensor


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"folder": ""}, "folder"),
        ({"service": "  "}, "service"),
        ({"log_start": "last tuesday"}, "log_start"),
        ({"log_end": "2026-13-01"}, "log_end"),
        ({"log_start": "2026-01-02", "log_end": "2026-01-01"}, "log_end"),
        ({"log_start": "2026-01-01T00:00:00Z", "log_end": "2026-01-01T00:00:00Z"}, "log_end"),
        ({"timezone_offset": "two"}, "timezone_offset"),
        ({"timezone_offset": -13}, "timezone_offset"),
        ({"timezone_offset": 14.5}, "timezone_offset"),
        ({"call_ids": "abc"}, "call_ids"),
        ({"call_ids": ["a", 1]}, "call_ids"),
        ({"call_ids": ["a"], "source_system": "crm"}, "call_ids and source_system"),
        ({"correlation_id": "c", "call_ids": ["a"]}, "call_ids and correlation_id"),
        ({"has_warnings": "true"}, "has_warnings"),
        ({"has_errors": 1}, "has_errors"),
        ({"poll_interval": 0}, "poll_interval"),
        ({"job_timeout": -1}, "job_timeout"),
        ({"job_timeout": timedelta(0)}, "job_timeout"),
    ],
)
def test_bad_literal_arguments_fail_at_parse_time(kwargs, name):
    with pytest.raises(SparkConfigError, match=name):
        export_op(**kwargs)


def test_templated_arguments_wait_for_rendering():
    op = export_op(folder="{{ params.folder }}", log_start="{{ ds }}", timezone_offset="{{ params.tz }}")
    assert op.folder == "{{ params.folder }}"
    assert set(op.template_fields) >= {"folder", "service", "log_start", "log_end", "call_ids", "timezone_offset"}


def test_rendered_numbers_and_lists_are_read():
    op = export_op(timezone_offset="{{ t }}", call_ids="{{ c }}")
    op.timezone_offset, op.call_ids = "5.5", '["a", "b"]'
    filters = op.filters_for(CONTEXT)
    assert (filters.timezone_offset, list(filters.call_ids)) == (5.5, ["a", "b"])


def test_window_defaults_to_the_data_interval():
    filters = export_op().filters_for(CONTEXT)
    assert (filters.start, filters.end) == (DAY_START, DAY_END)


def test_explicit_window_wins():
    filters = export_op(log_start="2026-03-01T00:00:00+01:00", log_end="2026-03-01T12:00:00Z").filters_for(CONTEXT)
    assert filters.start == datetime(2026, 2, 28, 23, tzinfo=UTC)
    assert filters.end == datetime(2026, 3, 1, 12, tzinfo=UTC)


def test_missing_data_interval_is_an_error():
    with pytest.raises(SparkConfigError, match="no data interval"):
        export_op().filters_for({"data_interval_start": None, "data_interval_end": None})


def test_execute_complete_returns_the_job_id():
    assert export_op().execute_complete({}, {"status": "success", "job_id": "j-1"}) == "j-1"


@pytest.mark.parametrize(
    ("event", "error", "text"),
    [
        ({"status": "error", "job_id": "j-1", "message": "job j-1 failed: boom"}, SparkJobError, "boom"),
        ({"status": "timeout", "job_id": "j-1", "message": "job j-1 did not finish"}, SparkJobTimeoutError, "j-1"),
        ({"status": "weird", "job_id": "j-1"}, SparkJobError, "weird"),
        (None, SparkJobError, "does not know"),
        ({"nothing": 1}, SparkJobError, "does not know"),
    ],
)
def test_execute_complete_fails_loudly(event, error, text):
    with pytest.raises(error, match=text):
        export_op().execute_complete({}, event)


@pytest.mark.parametrize(("kwargs", "name"), [({"job_id": ""}, "job_id"), ({"job_id": "j", "folder": ""}, "folder")])
def test_sensor_rejects_bad_literals(kwargs, name):
    with pytest.raises(SparkConfigError, match=name):
        sensor(**kwargs)


@pytest.mark.parametrize("export_format", ["xml", "CSV", None])
def test_a_wrong_export_format_fails_at_parse_time(export_format):
    common = {"folder": "f", "service": "s", "export_format": export_format}
    builders = [
        lambda: SparkLogExportOperator(task_id="export", **common),
        lambda: SparkLogJobSensor(task_id="wait", job_id="j", **common),
        lambda: SparkLogToObjectStorageOperator(task_id="land", job_id="j", destination="file:///tmp/x.zip", **common),
        lambda: SparkLogJobTrigger(job_id="j", deadline=0, **common),
    ]
    for build in builders:
        with pytest.raises(SparkConfigError, match=r"export_format must be one of 'csv', 'json', got"):
            build()
