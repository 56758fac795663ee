"""The example DAGs: they parse, and the daily one lands a real ZIP through `airflow dags test`."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.helpers import call_ids_in, dag_bag

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "example_dags"
UTC = timezone.utc


@pytest.mark.compat
def test_example_dags_parse_without_import_errors():
    bag = dag_bag(EXAMPLES)
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == [
        "example_spark_logs_consumer",
        "example_spark_logs_daily",
        "example_spark_logs_range",
        "example_spark_logs_split",
    ]


@pytest.mark.compat
def test_daily_example_lands_the_previous_day(tmp_path, emulator, airflow_cli):
    emulator.job_seconds = 1
    lake = tmp_path / "lake"
    cli = airflow_cli(EXAMPLES, SPARK_LOGS_DESTINATION=lake.as_uri() + "/", SPARK_LOGS_POLL_SECONDS="0.3")
    log = cli.dags_test("example_spark_logs_daily", "2026-01-02")
    (landed,) = lake.rglob("*.zip")
    assert landed == lake / "date=2026-01-01/Pricing/Motor_Quote/20260101T000000Z_20260102T000000Z.zip"
    assert "Pausing task as DEFERRED" in log
    assert f"Landed file://{landed} (" in log
    day = datetime(2026, 1, 1, tzinfo=UTC)
    expected = emulator.calls("Pricing", "Motor Quote", day, day + timedelta(days=1))
    assert sorted(call_ids_in(landed)) == sorted(c.call_id for c in expected)


def test_daily_example_lands_in_s3(emulator, s3, airflow_cli):
    emulator.job_seconds = 1
    cli = airflow_cli(
        EXAMPLES,
        SPARK_LOGS_DESTINATION=f"s3://{s3.name}/spark-logs/",
        SPARK_LOGS_DESTINATION_CONN_ID="aws_default",
        SPARK_LOGS_POLL_SECONDS="0.3",
    )
    log = cli.dags_test("example_spark_logs_daily", "2026-01-02")
    key = "spark-logs/date=2026-01-01/Pricing/Motor_Quote/20260101T000000Z_20260102T000000Z.zip"
    assert s3.keys() == [key]
    assert f"Landed s3://{s3.name}/{key} (" in log
    day = datetime(2026, 1, 1, tzinfo=UTC)
    expected = emulator.calls("Pricing", "Motor Quote", day, day + timedelta(days=1))
    assert sorted(call_ids_in(io.BytesIO(s3.read(key)))) == sorted(c.call_id for c in expected)
    assert s3.conn["password"] not in log
    assert emulator.api_key not in log
    assert "/tokens/" not in log, "a download URL reached the log"


def test_range_example_maps_one_export_per_window(tmp_path, emulator, airflow_cli):
    emulator.job_seconds = 0.5
    lake = tmp_path / "lake"
    cli = airflow_cli(EXAMPLES, SPARK_LOGS_DESTINATION=f"file://{lake}/", SPARK_LOGS_POLL_SECONDS="0.3")
    conf = '{"start": "2026-02-01T00:00:00Z", "end": "2026-02-03T12:00:00Z", "window_hours": 24}'
    cli.run("dags", "test", "example_spark_logs_range", "2026-02-10", "-c", conf)
    landed = sorted(p.relative_to(lake).as_posix() for p in lake.rglob("*.zip"))
    assert landed == [
        "range/Pricing/Motor_Quote/20260201T000000Z_20260202T000000Z.zip",
        "range/Pricing/Motor_Quote/20260202T000000Z_20260203T000000Z.zip",
        "range/Pricing/Motor_Quote/20260203T000000Z_20260203T120000Z.zip",
    ]
    exported = sorted(i for key in landed for i in call_ids_in(lake / key))
    start = datetime(2026, 2, 1, tzinfo=UTC)
    history = emulator.calls("Pricing", "Motor Quote", start, start + timedelta(days=2, hours=12))
    assert exported == sorted(c.call_id for c in history)


def test_split_example_starts_waits_and_lands(tmp_path, emulator, airflow_cli):
    emulator.job_seconds = 1
    lake = tmp_path / "lake"
    cli = airflow_cli(EXAMPLES, SPARK_LOGS_DESTINATION=f"file://{lake}/", SPARK_LOGS_POLL_SECONDS="0.3")
    log = cli.dags_test("example_spark_logs_split", "2026-01-02")
    assert sorted(p.relative_to(lake).as_posix() for p in lake.rglob("*.zip")) == [
        "split/date=2026-01-01/motor-quote.zip"
    ]
    assert "Pausing task as DEFERRED" in log
    (job_id,) = emulator.jobs
    assert len([r for r in emulator.requests if r.target == "submit"]) == 1
    assert f"from Spark log export job {job_id}" in log


def test_consumer_reads_the_csvs_of_the_landed_zip(tmp_path, emulator, airflow_cli):
    emulator.job_seconds = 0.5
    cli = airflow_cli(EXAMPLES, SPARK_LOGS_DESTINATION=f"file://{tmp_path}/lake/", SPARK_LOGS_POLL_SECONDS="0.3")
    cli.dags_test("example_spark_logs_daily", "2026-01-02")
    log = cli.dags_test("example_spark_logs_consumer", "2026-01-02")
    day = datetime(2026, 1, 1, tzinfo=UTC)
    history = emulator.calls("Pricing", "Motor Quote", day, day + timedelta(days=1))
    summary = {
        "files": 3,
        "calls": len(history),
        "with_errors": sum(bool(c.errors) for c in history),
        "with_warnings": sum(bool(c.warnings) for c in history),
    }
    assert f"20260101T000000Z_20260102T000000Z.zip: {summary}" in log
