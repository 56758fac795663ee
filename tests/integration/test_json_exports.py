"""JSON exports: started, polled and fetched on Spark's ``.../log/downloadjson`` endpoints, landed as JSON."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from airflow_provider_spark_logs._compat import TaskDeferred
from airflow_provider_spark_logs.exceptions import SparkNotFoundError
from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs.triggers.spark_logs import SparkLogJobTrigger
from tests.helpers import CONTEXT, expected_ids, export_op, first_event, land, sensor, wait_until

MEMBERS = ["Motor Quote 1.0.0.json", "Motor Quote 1.1.0.json", "Motor Quote 1.2.0.json"]


def call_ids_in_json(archive: zipfile.ZipFile) -> list[str]:
    """Every ``Call ID`` in the JSON members: one array of call records per file."""
    return sorted(record["Call ID"] for name in archive.namelist() for record in json.loads(archive.read(name)))


def endpoints(emulator) -> set[str]:
    """The format part of every submit and status path the emulator was sent."""
    return {r.path.split("/log/")[1].split("/")[0] for r in emulator.requests if r.target in ("submit", "status")}


@pytest.fixture
def json_job(emulator, connect) -> str:
    """A finished JSON export of the day 2026-01-01."""
    connect()
    emulator.job_seconds = 0
    job_id = export_op(export_format="json", wait_for_completion=False).execute(CONTEXT)
    wait_until(lambda: SparkLogHook().get_job_status("Pricing", "Motor Quote", job_id, "json").done)
    return job_id


def test_deferred_export_polls_and_lands_on_the_json_endpoints(emulator, connect, tmp_path):
    connect()
    emulator.job_seconds = 0.3
    op = export_op(export_format="json", deferrable=True, destination=f"file://{tmp_path}/lake/", unpack=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(CONTEXT)
    trigger = deferred.value.trigger
    assert trigger.serialize()[1]["export_format"] == "json"
    event = first_event(SparkLogJobTrigger(**trigger.serialize()[1]))
    uri = op.execute_complete(CONTEXT, event)
    zip_path = Path(uri.removeprefix("file://"))
    with zipfile.ZipFile(zip_path) as archive:
        assert call_ids_in_json(archive) == expected_ids(emulator)
    assert sorted(p.name for p in zip_path.with_suffix("").iterdir()) == MEMBERS
    assert endpoints(emulator) == {"downloadjson"}


def test_sync_export_and_sensor_use_the_json_endpoints(emulator, connect):
    connect()
    emulator.job_seconds = 0.3
    job_id = export_op(export_format="json").execute(CONTEXT)
    assert sensor(job_id=job_id, export_format="json", deferrable=False).execute(CONTEXT) == job_id
    assert endpoints(emulator) == {"downloadjson"}


def test_a_json_job_is_unknown_on_the_csv_endpoint(json_job):
    """Which is why the format is carried everywhere: Spark keeps the two kinds of jobs apart."""
    with pytest.raises(SparkNotFoundError):
        sensor(job_id=json_job, deferrable=False).poke(CONTEXT)


def test_transfer_lands_the_json_files(emulator, json_job, tmp_path):
    uri = land(json_job, f"file://{tmp_path}/day.zip", export_format="json", unpack=True)
    with zipfile.ZipFile(uri.removeprefix("file://")) as archive:
        assert call_ids_in_json(archive) == expected_ids(emulator)
    landed = sorted((tmp_path / "day").iterdir())
    assert [p.name for p in landed] == MEMBERS
    records = [record for p in landed for record in json.loads(p.read_text())]
    assert sorted(record["Call ID"] for record in records) == expected_ids(emulator)
