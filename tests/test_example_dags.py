"""The example DAGs: they parse, and the daily one lands a real ZIP through `airflow dags test`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "example_dags"
UTC = timezone.utc


def test_example_dags_parse_without_import_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES))
    assert bag.import_errors == {}
    assert "example_spark_logs_daily" in bag.dag_ids


@pytest.fixture
def airflow_env(tmp_path, emulator):
    """Environment for an `airflow` subprocess: its own home, SQLite DB, the examples, the emulator."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_COHERENT_SPARK_DEFAULT": json.dumps(emulator.airflow_connection(auth_type="api_key")),
        "SPARK_LOGS_LOCAL_DIR": str(tmp_path / "landed"),
        "SPARK_LOGS_DESTINATION": (tmp_path / "landed").as_uri() + "/",
        "SPARK_LOGS_POLL_SECONDS": "0.2",
    }
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    return env


def run_dag_test(env, dag_id, logical_date):
    airflow = str(Path(sys.executable).parent / "airflow")
    result = subprocess.run(
        [airflow, "dags", "test", dag_id, logical_date], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def test_daily_example_lands_the_previous_day(tmp_path, emulator, airflow_env):
    run_dag_test(airflow_env, "example_spark_logs_daily", "2026-01-02")
    (landed,) = (tmp_path / "landed").rglob("*.zip")
    assert landed.name == "2026-01-01.zip"
    with zipfile.ZipFile(landed) as archive:
        assert archive.testzip() is None
        lines = sum(archive.read(name).count(b"\n") - 1 for name in archive.namelist())
    expected = emulator.calls(
        "Pricing", "Motor Quote", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    )
    assert lines == len(expected)
