"""Shared fixtures: an isolated Airflow home, the Spark emulator, and connections to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="spark-logs-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from airflow_provider_spark_logs.testing import SparkEmulator

Connect = Callable[..., str]


@pytest.fixture
def emulator() -> Iterator[SparkEmulator]:
    with SparkEmulator(job_seconds=0.3) as emu:
        yield emu


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch, emulator: SparkEmulator) -> Connect:
    """Point an Airflow connection (an ``AIRFLOW_CONN_*`` variable) at the emulator."""

    def _connect(auth_type: str = "api_key", conn_id: str = "coherent_spark_default", **changes: Any) -> str:
        conn = emulator.airflow_connection(auth_type=auth_type)
        extra = {**conn.get("extra", {}), **changes.pop("extra", {})}
        conn.update(changes, extra=extra)
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))
        return conn_id

    return _connect


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


class AirflowCli:
    """The ``airflow`` command in its own home with a migrated SQLite DB, connected to the emulator."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.executable = str(Path(sys.executable).parent / "airflow")

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([self.executable, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, (
            f"airflow {' '.join(args)} failed:\n{result.stdout[-5000:]}{result.stderr[-5000:]}"
        )
        return result

    def dags_test(self, dag_id: str, logical_date: str) -> str:
        result = self.run("dags", "test", dag_id, logical_date)
        return result.stdout + result.stderr


@pytest.fixture
def airflow_cli(tmp_path: Path, emulator: SparkEmulator) -> Callable[..., AirflowCli]:
    def _make(dags_folder: Path, **env: str) -> AirflowCli:
        home = tmp_path / "airflow"
        full_env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_COHERENT_SPARK_DEFAULT": json.dumps(emulator.airflow_connection(auth_type="api_key")),
            **env,
        }
        cli = AirflowCli(home, full_env)
        cli.run("db", "migrate")
        return cli

    return _make
