"""Real DAG runs of the operators through `airflow dags test` (the trigger runs in line)."""

from __future__ import annotations

from pathlib import Path

import pytest

TEST_DAGS = Path(__file__).resolve().parent / "dags"


@pytest.mark.compat
def test_deferrable_export_defers_resumes_and_returns_the_job_id(tmp_path, emulator, airflow_cli):
    emulator.job_seconds = 2
    output = tmp_path / "job_id"
    cli = airflow_cli(TEST_DAGS, SPARK_LOGS_TEST_OUTPUT=str(output))
    log = cli.dags_test("spark_logs_deferrable_export", "2026-01-02")
    (job_id,) = emulator.jobs
    assert output.read_text() == job_id
    assert "Pausing task as DEFERRED" in log
    assert "new_state=deferred" in log
    # The trigger ran in line and logged its polls (3.1.0's `dags test` prints no "Trigger completed").
    assert "[airflow_provider_spark_logs.triggers.spark_logs.SparkLogJobTrigger]" in log
    assert f"Spark log export job {job_id} is done." in log
    (submit,) = [r for r in emulator.requests if r.target == "submit"]
    assert submit.json_body["request_data"] == {
        "start_date": "2026-01-01T00:00:00.000Z",
        "end_date": "2026-01-01T23:59:59.999Z",
    }
    assert emulator.api_key not in log
