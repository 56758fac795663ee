"""The example DAGs: they parse, and the daily one lands a real ZIP through `airflow dags test`."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tests.helpers import call_ids_in

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "example_dags"
UTC = timezone.utc


def test_example_dags_parse_without_import_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES))
    assert bag.import_errors == {}
    assert "example_spark_logs_daily" in bag.dag_ids


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
