"""The example DAGs: they parse, and the daily one lands a real ZIP through `airflow dags test`."""

from __future__ import annotations

import zipfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "example_dags"
UTC = timezone.utc


def test_example_dags_parse_without_import_errors():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLES))
    assert bag.import_errors == {}
    assert "example_spark_logs_daily" in bag.dag_ids


def test_daily_example_lands_the_previous_day(tmp_path, emulator, airflow_cli):
    cli = airflow_cli(EXAMPLES, SPARK_LOGS_LOCAL_DIR=str(tmp_path / "landed"), SPARK_LOGS_POLL_SECONDS="0.2")
    cli.dags_test("example_spark_logs_daily", "2026-01-02")
    (landed,) = (tmp_path / "landed").rglob("*.zip")
    assert landed.name == "2026-01-01.zip"
    with zipfile.ZipFile(landed) as archive:
        assert archive.testzip() is None
        lines = sum(archive.read(name).count(b"\n") - 1 for name in archive.namelist())
    expected = emulator.calls(
        "Pricing", "Motor Quote", datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    )
    assert lines == len(expected)
