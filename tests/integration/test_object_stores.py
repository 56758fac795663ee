"""Landing in each kind of store, for real: local files, S3 (moto), GCS (fake-gcs-server), Azure (Azurite).

Each store is a real server of its API on loopback, reached through the Airflow connection a user
would set up and the fsspec filesystem that Airflow's ObjectStoragePath picks for its scheme.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest
from fsspec.callbacks import Callback

from airflow_provider_spark_logs._compat import ObjectStoragePath
from airflow_provider_spark_logs.exceptions import SparkLandingError
from airflow_provider_spark_logs.landing import publish
from tests.helpers import call_ids_in, expected_ids, land, named_spool

MEMBERS = ["Motor Quote 1.0.0.csv", "Motor Quote 1.1.0.csv", "Motor Quote 1.2.0.csv"]


@dataclass
class Store:
    """A bucket (or local folder) with the conn id that reaches it, and a client of its own to look inside."""

    scheme: str
    bucket: str
    conn_id: str | None
    keys: Callable[[], list[str]]
    read: Callable[[str], bytes]
    pending_uploads: Callable[[], list[object]] = list

    def uri(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{key}"

    def path(self, key: str) -> ObjectStoragePath:
        return ObjectStoragePath(self.uri(key), conn_id=self.conn_id)


def local_store(root: Path) -> Store:
    root.mkdir()

    def keys() -> list[str]:
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    return Store("file", str(root), None, keys, lambda key: (root / key).read_bytes())


def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """The store named by the fixture's parameter, empty."""
    if request.param == "file":
        return local_store(tmp_path / "lake")
    fixture, conn_id = {"s3": ("s3", "aws_default"), "gs": ("gcs", None), "abfs": ("azure", None)}[request.param]
    bucket = request.getfixturevalue(fixture)
    pending = getattr(bucket, "pending_uploads", list)
    return Store(request.param, bucket.name, conn_id or bucket.conn_id, bucket.keys, bucket.read, pending)


@pytest.fixture(params=["file", "s3", "gs", "abfs"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return make_store(request, tmp_path)


@pytest.fixture(params=["s3", "gs", "abfs"])
def remote_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return make_store(request, tmp_path)


def test_lands_a_checked_zip_and_its_csv_files(store, emulator, finished_job):
    uri = land(finished_job, store.uri("spark-logs/day.zip"), destination_conn_id=store.conn_id, unpack=True)
    assert uri == store.uri("spark-logs/day.zip")
    assert store.keys() == ["spark-logs/day.zip", *(f"spark-logs/day/{name}" for name in MEMBERS)]
    assert sorted(call_ids_in(io.BytesIO(store.read("spark-logs/day.zip")))) == expected_ids(emulator)


def test_overwrite_false_keeps_an_existing_object(store, finished_job, tmp_path):
    old = tmp_path / "old.bin"
    old.write_bytes(b"landed before")
    with named_spool(old) as spool:
        publish(spool, store.path("day.zip"), overwrite=True)
    with pytest.raises(SparkLandingError, match="already exists and overwrite=False"):
        land(finished_job, store.uri("day.zip"), destination_conn_id=store.conn_id, overwrite=False)
    assert store.read("day.zip") == b"landed before"
    land(finished_job, store.uri("day.zip"), destination_conn_id=store.conn_id)
    assert store.keys() == ["day.zip"]
    assert call_ids_in(io.BytesIO(store.read("day.zip")))


def _publish_after(start: threading.Barrier, spool: Path, destination: ObjectStoragePath) -> str:
    """Publish once both landings are ready to; "landed", or the error's message."""
    start.wait()
    try:
        with named_spool(spool) as named:
            publish(named, destination, overwrite=False)
    except SparkLandingError as error:
        return str(error)
    return "landed"


def test_two_landings_of_one_key_at_once_exactly_one_wins(store, tmp_path):
    """``overwrite=False`` is a create-if-absent in the store itself, not a check before the write."""
    spools = [tmp_path / "first.bin", tmp_path / "second.bin"]
    for spool in spools:
        spool.write_bytes(spool.name.encode() * 50_000)
    with ThreadPoolExecutor(2) as pool:
        for round_ in range(5):
            destination, start = store.path(f"race/{round_}.zip"), threading.Barrier(2)
            outcomes = list(pool.map(lambda spool: _publish_after(start, spool, destination), spools))  # noqa: B023
            assert outcomes.count("landed") == 1, outcomes
            (loser,) = [outcome for outcome in outcomes if outcome != "landed"]
            assert "already exists and overwrite=False" in loser
            winner = spools[outcomes.index("landed")]
            assert store.read(f"race/{round_}.zip") == winner.read_bytes()


class _DiesAfterFirstPart(Callback):
    """A progress callback that fails as soon as some bytes were sent, like a network that goes away."""

    failed = False

    def call(self, *args: object, **kwargs: object) -> None:
        if self.value and not self.failed:  # once: parts in flight beside it just end
            self.failed = True
            raise ConnectionResetError("network gone")


# Sizes that each store's client uploads in parts: s3fs and gcsfs above 5 MiB (in our 8 MiB
# parts), the Azure SDK above 64 MiB (its largest single PUT; blocks of 4 MiB above that).
PARTED_UPLOAD_MIB = {"s3": 20, "gs": 20, "abfs": 72}


def test_a_failed_upload_leaves_nothing(remote_store, tmp_path, monkeypatch):
    """The network goes away after the first part: the upload is abandoned, and no object appears."""
    big = tmp_path / "big.bin"
    with big.open("wb") as out:
        for _ in range(PARTED_UPLOAD_MIB[remote_store.scheme]):
            out.write(b"\0" * 2**20)
    destination = remote_store.path("day.zip")
    monkeypatch.setattr(destination.fs, "put_file", partial(destination.fs.put_file, callback=_DiesAfterFirstPart()))
    with (
        named_spool(big) as spool,
        pytest.raises(SparkLandingError, match=f"Could not write {remote_store.uri('day.zip')}.*network gone"),
    ):
        publish(spool, destination, overwrite=True)
    assert remote_store.keys() == []
    assert remote_store.pending_uploads() == []
