"""Shared fixtures: an isolated Airflow home, the Spark emulator, and connections to it."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
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
