"""Test tiers, and shared fixtures: an isolated Airflow home, the Spark emulator, connections to it.

A test's tier is the folder it lives in, and becomes its marker: ``tests/unit`` (no sockets, fast),
``tests/integration`` (the emulator, moto's S3, ``airflow dags test``) and ``tests/system`` (a real
scheduler and triggerer, memory). ``bash scripts/test -m unit`` runs the fast tier.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="spark-logs-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

from airflow_provider_spark_logs.testing import SparkEmulator
from tests.helpers import AirflowCli, wait_until

Connect = Callable[..., str]
TESTS = Path(__file__).resolve().parent
TIERS = {
    "unit": "no sockets, no subprocess servers: the fast tier",
    "integration": "the Spark emulator, moto's S3 server, `airflow dags test`",
    "system": "a real Airflow scheduler and triggerer, memory measurements",
}


def pytest_configure(config: pytest.Config) -> None:
    for tier, meaning in TIERS.items():
        config.addinivalue_line("markers", f"{tier}: {meaning}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with the tier of its folder; a test outside the tier folders is an error."""
    for item in items:
        tier = item.path.resolve().relative_to(TESTS).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid} is not in a tier folder: move it to tests/{'|'.join(TIERS)}/.")
        item.add_marker(tier)


@pytest.fixture(autouse=True)
def _no_sockets_in_unit_tests(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A unit test that opens a connection fails, so the fast tier stays free of servers."""
    if request.node.get_closest_marker("unit") is None:
        return

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(
            f"{request.node.nodeid} is a unit test and may not open a connection; move it to integration."
        )

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


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


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An Airflow metadata DB migrated once per session; each test gets its own copy."""
    home = tmp_path_factory.mktemp("airflow-template")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    AirflowCli(home, env).run("db", "migrate")
    return home / "airflow.db"


@pytest.fixture
def airflow_cli(tmp_path: Path, emulator: SparkEmulator, migrated_db: Path) -> Callable[..., AirflowCli]:
    def _make(dags_folder: Path, **env: str) -> AirflowCli:
        home = tmp_path / "airflow"
        home.mkdir(exist_ok=True)
        shutil.copyfile(migrated_db, home / "airflow.db")
        full_env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_COHERENT_SPARK_DEFAULT": json.dumps(emulator.airflow_connection(auth_type="api_key")),
            **env,
        }
        return AirflowCli(home, full_env)

    return _make


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's standalone S3 server on loopback, for the whole session."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _listening(port) or server.poll() is not None, timeout=60)
        assert server.poll() is None, "moto_server exited at start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@dataclass
class S3Bucket:
    client: Any
    name: str
    conn: dict[str, Any]

    def keys(self) -> list[str]:
        return [o["Key"] for o in self.client.list_objects_v2(Bucket=self.name).get("Contents", [])]

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def pending_uploads(self) -> list[Any]:
        return self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", [])


@pytest.fixture
def s3(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Bucket:
    """A fresh bucket on the moto server, and ``aws_default`` pointing at it."""
    import boto3

    conn = {
        "conn_type": "aws",
        "login": "moto-access-key",
        "password": "moto-secret-key-for-tests",
        "extra": {"endpoint_url": moto_endpoint, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id=conn["login"],
        aws_secret_access_key=conn["password"],
        region_name="us-east-1",
    )
    bucket = S3Bucket(client, f"lake-{uuid.uuid4().hex[:12]}", conn)
    client.create_bucket(Bucket=bucket.name)
    return bucket
