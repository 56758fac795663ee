"""Landing ZIPs: streamed, checked, published atomically; local files and S3 here, every store in test_object_stores.

The crash tests at the end land from a child process, SIGKILL it at a chosen instant (mid-download,
or between the link of a temporary sibling and its rename), then land the same key again here.
"""

from __future__ import annotations

import hashlib
import io
import os
import signal
import socket
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from airflow_provider_spark_logs._compat import ObjectStoragePath
from airflow_provider_spark_logs.exceptions import SparkDownloadError, SparkLandingError
from airflow_provider_spark_logs.landing import publish
from airflow_provider_spark_logs.operators.spark_logs import SparkLogExportOperator
from airflow_provider_spark_logs.spool import spool_file, spool_folder
from airflow_provider_spark_logs.testing import Fault
from tests.helpers import CONTEXT, call_ids_in, expected_ids, land, wait_until

CREDENTIAL_HEADERS = {"x-synthetic-key", "x-tenant-name", "authorization"}
HOST = socket.gethostname()
pytestmark = pytest.mark.usefixtures("spool_dir")


def downloads(emulator):
    return [r for r in emulator.requests if r.target == "download"]


# ------------------------------------------------------------------ local files


def test_lands_a_checked_zip_in_a_local_file(tmp_path, emulator, finished_job, capsys):
    target = tmp_path / "lake" / "day.zip"
    uri = land(finished_job, f"file://{target}")
    assert uri == f"file://{target}"
    assert sorted(call_ids_in(target)) == expected_ids(emulator)
    assert sorted(p.name for p in target.parent.iterdir()) == ["day.zip"]
    assert list(spool_folder().iterdir()) == []
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    assert f"Landed {uri} ({target.stat().st_size} bytes, sha256 {digest})" in capsys.readouterr().out
    (download,) = downloads(emulator)
    assert not CREDENTIAL_HEADERS & set(download.headers)


def test_a_prefix_gets_a_name_from_the_window(tmp_path, emulator, connect):
    connect()
    emulator.job_seconds = 0.2
    op = SparkLogExportOperator(
        task_id="export",
        folder="Pricing",
        service="Motor Quote",
        destination=f"file://{tmp_path}/lake/",
        poll_interval=0.1,
    )
    uri = op.execute(CONTEXT)
    assert uri == f"file://{tmp_path}/lake/Pricing/Motor_Quote/20260101T000000Z_20260102T000000Z.zip"
    assert sorted(call_ids_in(Path(uri.removeprefix("file://")))) == expected_ids(emulator)


def test_transfer_to_a_prefix_uses_the_job_id(tmp_path, finished_job):
    uri = land(finished_job, f"file://{tmp_path}/lake/")
    assert uri == f"file://{tmp_path}/lake/Pricing/Motor_Quote/job_{finished_job}.zip"


def test_overwrite(tmp_path, finished_job):
    target = tmp_path / "day.zip"
    target.write_bytes(b"old")
    with pytest.raises(SparkLandingError, match="already exists and overwrite=False"):
        land(finished_job, f"file://{target}", overwrite=False)
    assert target.read_bytes() == b"old"
    land(finished_job, f"file://{target}")
    assert zipfile.ZipFile(target).testzip() is None


def test_unpack_lands_the_csv_files_beside_the_zip(tmp_path, emulator, finished_job):
    land(finished_job, f"file://{tmp_path}/lake/day.zip", unpack=True)
    members = sorted((tmp_path / "lake" / "day").iterdir())
    assert [m.name for m in members] == ["Motor Quote 1.0.0.csv", "Motor Quote 1.1.0.csv", "Motor Quote 1.2.0.csv"]
    ids = [line.split(",")[9] for m in members for line in m.read_text().splitlines()[1:]]
    assert sorted(ids) == expected_ids(emulator)


# ------------------------------------------------------------------ bad downloads leave nothing


def test_a_download_cut_off_once_is_retried(tmp_path, emulator, finished_job):
    emulator.inject(Fault("download", "truncate", after_bytes=200))
    target = tmp_path / "day.zip"
    land(finished_job, f"file://{target}")
    assert sorted(call_ids_in(target)) == expected_ids(emulator)
    assert len(downloads(emulator)) == 2


@pytest.mark.parametrize(("kind", "problem"), [("truncate", "cut off|ended after"), ("corrupt", "CRC|not a readable")])
def test_a_bad_download_every_time_fails_and_leaves_nothing(tmp_path, emulator, finished_job, kind, problem):
    emulator.inject(Fault("download", kind, times=3))
    target = tmp_path / "lake" / "day.zip"
    with pytest.raises(SparkDownloadError, match=problem) as error:
        land(finished_job, f"file://{target}")
    assert finished_job in str(error.value)
    assert "all 3 attempts" in str(error.value)
    assert not target.parent.exists() or list(target.parent.iterdir()) == []
    assert list(spool_folder().iterdir()) == []
    assert emulator.docstore_url not in str(error.value)


def test_a_corrupt_download_once_is_retried(tmp_path, emulator, finished_job):
    emulator.inject(Fault("download", "corrupt"))
    target = tmp_path / "day.zip"
    land(finished_job, f"file://{target}")
    assert zipfile.ZipFile(target).testzip() is None
    assert len(downloads(emulator)) == 2


def test_an_expired_url_is_asked_for_again(tmp_path, emulator, finished_job):
    emulator.inject(Fault("download", "expired", status=410))
    target = tmp_path / "day.zip"
    land(finished_job, f"file://{target}")
    first, second = downloads(emulator)
    assert (first.status, second.status) == (410, 200)
    assert first.path != second.path


def test_an_unfinished_job_is_not_landed(tmp_path, emulator, connect):
    connect()
    emulator.job_seconds = 60
    job_id = SparkLogExportOperator(
        task_id="e", folder="Pricing", service="Motor Quote", wait_for_completion=False
    ).execute(CONTEXT)
    with pytest.raises(Exception, match=f"{job_id} is not finished"):
        land(job_id, f"file://{tmp_path}/day.zip")


# ------------------------------------------------------------------ bad destinations


def test_an_unwritable_local_destination_fails_clearly(tmp_path, finished_job):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SparkLandingError, match=f"Could not write file://{blocker}/day.zip"):
        land(finished_job, f"file://{blocker}/day.zip")


# ------------------------------------------------------------------ S3 (moto's server)


def test_lands_in_s3(emulator, finished_job, s3):
    uri = land(finished_job, f"s3://{s3.name}/spark-logs/2026-01-01/motor-quote.zip", destination_conn_id="aws_default")
    assert uri == f"s3://{s3.name}/spark-logs/2026-01-01/motor-quote.zip"
    assert s3.keys() == ["spark-logs/2026-01-01/motor-quote.zip"]
    assert sorted(call_ids_in(io.BytesIO(s3.read("spark-logs/2026-01-01/motor-quote.zip")))) == expected_ids(emulator)


def test_a_missing_bucket_fails_without_credentials_in_the_message(finished_job, s3):
    with pytest.raises(SparkLandingError) as error:
        land(finished_job, "s3://no-such-bucket-here/day.zip", destination_conn_id="aws_default")
    message = str(error.value)
    assert "s3://no-such-bucket-here/day.zip" in message
    assert s3.conn["password"] not in message
    assert s3.conn["login"] not in message


# ------------------------------------------------------------------ killed landings


def start_child(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args], stdout=subprocess.PIPE, text=True, env=os.environ
    )


def kill(child: subprocess.Popen[str]) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    child.stdout.close()


LAND = """
    import os, sys
    if sys.argv[1] == "named":
        del os.O_TMPFILE  # as on a filesystem or OS without anonymous files
    from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
    from airflow_provider_spark_logs.landing import land_export
    land_export(SparkLogHook(), folder="Pricing", service="Motor Quote", job_id=sys.argv[2], destination=sys.argv[3])
"""


@pytest.mark.parametrize("spool", ["anonymous", "named"])
def test_a_landing_killed_mid_download_leaves_nothing_and_its_spool_goes_with_the_next(
    tmp_path, emulator, finished_job, spool
):
    target = tmp_path / "lake" / "day.zip"
    emulator.inject(Fault("download", "delay", seconds=5))  # holds the child inside its download
    child = start_child(LAND, spool, finished_job, f"file://{target}")
    wait_until(lambda: downloads(emulator) or child.poll() is not None, timeout=60)
    assert child.poll() is None, "the child landed before it could be killed"
    kill(child)

    assert [p for p in tmp_path.joinpath("lake").rglob("*") if not p.is_dir()] == []
    left = sorted(p.name for p in spool_folder().iterdir())
    if spool == "named":  # the crash left the spool file, under its owner's name
        assert [name.rsplit(".", 2)[0] for name in left] == [f"{child.pid}@{HOST}"]
    else:  # an anonymous spool died with its process
        assert left == []

    land(finished_job, f"file://{target}")
    assert [p.name for p in target.parent.iterdir()] == ["day.zip"]
    assert sorted(call_ids_in(target)) == expected_ids(emulator)
    assert list(spool_folder().iterdir()) == []


STALL_BEFORE_RENAME = """
    import os, sys, time
    from airflow_provider_spark_logs._compat import ObjectStoragePath
    from airflow_provider_spark_logs.landing import publish
    from airflow_provider_spark_logs.spool import spool_file

    def stall(source, target):
        print("renaming", flush=True)
        time.sleep(120)

    os.replace = stall
    target = sys.argv[1]
    with spool_file(".zip", os.path.dirname(target)) as spool:
        spool.file.write(b"half-done")
        publish(spool, ObjectStoragePath("file://" + target), overwrite=True)
"""


def test_a_landing_killed_before_its_rename_leaves_a_sibling_that_the_next_landing_of_the_key_removes(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    target = lake / "day.zip"
    target.write_bytes(b"yesterday's export")
    live = lake / f".day.zip.{os.getpid()}@{HOST}.0123456789ab.partial"  # a landing of this key in progress
    elsewhere = lake / f".day.zip.1@another-{HOST}.0123456789ab.partial"  # another machine's, on a shared folder
    for sibling in (live, elsewhere):
        sibling.write_bytes(b"in progress")

    child = start_child(STALL_BEFORE_RENAME, str(target))
    assert child.stdout.readline() == "renaming\n"
    kill(child)
    (stale,) = [p for p in lake.iterdir() if p.name.startswith(f".day.zip.{child.pid}@{HOST}.")]
    assert stale.read_bytes() == b"half-done"  # the window the crash hit: visible, but named as temporary
    assert target.read_bytes() == b"yesterday's export"

    with spool_file(".zip", lake) as spool:
        spool.file.write(b"today's export")
        publish(spool, ObjectStoragePath(f"file://{target}"), overwrite=True)
    assert sorted(lake.iterdir()) == sorted([target, live, elsewhere])
    assert target.read_bytes() == b"today's export"


def test_a_new_key_is_published_by_a_link_so_a_listing_never_shows_a_temporary_name(tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    lake.mkdir()
    renames = []
    monkeypatch.setattr(os, "replace", lambda *args: renames.append(args))
    with spool_file(".zip", lake) as spool:
        spool.file.write(b"today's export")
        assert list(lake.iterdir()) == []
        publish(spool, ObjectStoragePath(f"file://{lake}/day.zip"), overwrite=False)
    assert [p.name for p in lake.iterdir()] == ["day.zip"]
    assert renames == []
