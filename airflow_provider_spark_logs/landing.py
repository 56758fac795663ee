"""Landing a finished export: download to a spool file, check it, then publish it atomically.

The body never sits in memory: it streams to a local spool file in fixed-size chunks, is counted
and hashed on the way, and its ZIP integrity (every member's CRC) is checked before anything is
published. Publishing never exposes a partial object: a local file appears by an atomic rename (or,
with overwrite=False, a hard link) of a finished sibling; a remote object by uploading the finished
spool file, which object stores make visible only when the upload completes (S3 aborts its
multipart upload on failure).
"""

from __future__ import annotations

import hashlib
import inspect
import math
import os
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from airflow_provider_spark_logs._compat import ObjectStoragePath
from airflow_provider_spark_logs.destinations import default_object_name, destination_path, is_prefix, object_uri
from airflow_provider_spark_logs.exceptions import SparkApiError, SparkDownloadError, SparkJobError, SparkLandingError
from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs.protocol.messages import EXPIRED_DOWNLOAD_STATUSES

DOWNLOAD_ATTEMPTS = 3
UPLOAD_PART_BYTES = 8 * 2**20
UPLOAD_CONCURRENCY = 2
S3_MAX_PARTS = 10_000
LOCAL_PROTOCOLS = frozenset({"", "file", "local"})
# Stores whose fsspec filesystem turns put_file(mode="create") into a write that the store refuses
# if the object exists: S3 (s3fs: If-None-Match: * on the PUT and on CompleteMultipartUpload), GCS
# (gcsfs: ifGenerationMatch=0) and Azure Blob Storage (adlfs: If-None-Match: *). Elsewhere
# overwrite=False is a check before the write.
CREATE_IF_ABSENT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az"})


@dataclass(frozen=True)
class SpooledZip:
    """A downloaded ZIP on local disk that passed its checks."""

    path: Path
    size: int
    sha256: str


@dataclass(frozen=True)
class LandedObject:
    """What was published: a URI without credentials or conn id, with its size and digest."""

    uri: str
    size: int
    sha256: str


class _CountingHashWriter:
    """Passes writes through to a file while counting and hashing them."""

    def __init__(self, target: IO[bytes]) -> None:
        self.target = target
        self.size = 0
        self.digest = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.target.write(data)
        self.digest.update(data)
        self.size += len(data)
        return len(data)


# --------------------------------------------------------------------------- download


@contextmanager
def downloaded_zip(hook: SparkLogHook, folder: str, service: str, job_id: str) -> Iterator[SpooledZip]:
    """The job's ZIP in a checked spool file, removed when the block ends, whatever happens."""
    with _spool_file(".zip") as (path, handle):
        yield _download_with_retries(hook, folder, service, job_id, path, handle)


def _download_with_retries(
    hook: SparkLogHook, folder: str, service: str, job_id: str, path: Path, handle: IO[bytes]
) -> SpooledZip:
    """Download and check, retrying a short or corrupt body a bounded number of times.

    The download URL comes from the status endpoint each time (it is never stored or passed on);
    if it is refused as expired, a fresh one is asked for once.
    """
    problems: list[str] = []
    refreshed = False
    while len(problems) < DOWNLOAD_ATTEMPTS:
        url = _download_url(hook, folder, service, job_id)
        handle.seek(0)
        handle.truncate()
        writer = _CountingHashWriter(handle)
        try:
            hook.download(url, writer)
            handle.flush()
            verify_zip(path, job_id)
        except SparkApiError as error:
            if error.status not in EXPIRED_DOWNLOAD_STATUSES or refreshed:
                raise
            refreshed = True
            hook.log.warning("The download URL of job %s was refused (HTTP %s); asking again.", job_id, error.status)
        except SparkDownloadError as error:
            problems.append(str(error))
            hook.log.warning("Download %d of job %s was bad: %s", len(problems), job_id, error)
        else:
            return SpooledZip(path, writer.size, writer.digest.hexdigest())
    raise SparkDownloadError(
        f"The ZIP of Spark log export job {job_id} was bad on all {DOWNLOAD_ATTEMPTS} attempts; last: {problems[-1]}"
    )


def _download_url(hook: SparkLogHook, folder: str, service: str, job_id: str) -> str:
    status = hook.get_job_status(folder, service, job_id)
    if not status.done or status.download_url is None:
        raise SparkJobError(
            f"Spark log export job {job_id} is not finished ({status.progress:g}%): wait for it first, "
            "e.g. with SparkLogJobSensor."
        )
    return status.download_url


@contextmanager
def _spool_file(suffix: str) -> Iterator[tuple[Path, IO[bytes]]]:
    """A temporary file that is removed whatever happens."""
    handle = tempfile.NamedTemporaryFile(prefix="spark-logs-", suffix=suffix, delete=False)  # noqa: SIM115
    path = Path(handle.name)
    try:
        yield path, handle
    finally:
        handle.close()
        path.unlink(missing_ok=True)


def verify_zip(path: Path, job_id: str) -> None:
    """Check the ZIP's structure and every member's CRC, reading in bounded chunks."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise SparkDownloadError(f"The download of job {job_id} is not a readable ZIP ({error}).") from None
    if bad is not None:
        raise SparkDownloadError(f"The ZIP of job {job_id} is corrupt: member {bad!r} fails its CRC check.")


# --------------------------------------------------------------------------- publish


def publish(spool: Path, destination: ObjectStoragePath, *, overwrite: bool) -> str:
    """Put a finished local file at ``destination``; nothing partial is ever visible there.

    With ``overwrite=False`` the object is created only if absent, by the store itself where it can
    (see :data:`CREATE_IF_ABSENT_PROTOCOLS`): of two landings of one key at once, exactly one wins.
    The check beforehand only saves the upload when the object is plainly there already.
    """
    uri = object_uri(destination)
    if not overwrite and destination.exists():
        raise _already_exists(uri)
    try:
        if destination.protocol in LOCAL_PROTOCOLS:
            _publish_local(spool, Path(destination.path), overwrite=overwrite)
        else:
            _upload(spool, destination, overwrite=overwrite)
    except SparkLandingError:
        raise
    except Exception as error:
        if isinstance(error, FileExistsError) and not overwrite and destination.exists():
            raise _already_exists(uri) from None
        raise SparkLandingError(f"Could not write {uri}: {type(error).__name__}: {error}") from None
    return uri


def _already_exists(uri: str) -> SparkLandingError:
    return SparkLandingError(f"{uri} already exists and overwrite=False: remove it, or set overwrite=True.")


def _publish_local(spool: Path, target: Path, *, overwrite: bool) -> None:
    """A finished sibling file, renamed over the target, or hard-linked to it (which fails if it exists)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.partial")
    try:
        shutil.copyfile(spool, partial)
        if overwrite:
            os.replace(partial, target)
        else:
            os.link(partial, target)
    finally:
        partial.unlink(missing_ok=True)


def _upload(spool: Path, destination: ObjectStoragePath, *, overwrite: bool) -> None:
    fs = destination.fs
    kwargs = bounded_upload_kwargs(fs, spool.stat().st_size)
    if not overwrite and destination.protocol in CREATE_IF_ABSENT_PROTOCOLS:
        kwargs["mode"] = "create"
    fs.put_file(str(spool), destination.path, **kwargs)


def bounded_upload_kwargs(fs: Any, size: int) -> dict[str, Any]:
    """Part size and concurrency that keep an upload's memory small, where the store takes them.

    s3fs reads up to ``2 * chunksize`` bytes at once for a single PUT, and ``chunksize *
    max_concurrency`` per multipart round; its defaults (50 MiB x 10) would hold a 200 MiB ZIP in
    memory.
    """
    accepted = inspect.signature(getattr(fs, "_put_file", fs.put_file)).parameters
    kwargs: dict[str, Any] = {}
    if "chunksize" in accepted:
        kwargs["chunksize"] = max(UPLOAD_PART_BYTES, math.ceil(size / S3_MAX_PARTS))
    if "max_concurrency" in accepted:
        kwargs["max_concurrency"] = UPLOAD_CONCURRENCY
    return kwargs


# --------------------------------------------------------------------------- CSV members


def csv_members(archive: zipfile.ZipFile) -> Iterator[tuple[zipfile.ZipInfo, str]]:
    """The CSV members with names safe to use under a prefix: no directories, no ``..``."""
    for info in archive.infolist():
        name = PurePosixPath(info.filename.replace("\\", "/")).name
        if info.is_dir() or not name.lower().endswith(".csv") or name in ("", ".", ".."):
            continue
        yield info, name


def publish_members(spool: SpooledZip, prefix: ObjectStoragePath, *, overwrite: bool) -> list[str]:
    """Land each CSV member of the ZIP as its own object under ``prefix``."""
    landed = []
    with zipfile.ZipFile(spool.path) as archive:
        for info, name in csv_members(archive):
            with _spool_file(".csv") as (path, out), archive.open(info) as member:
                shutil.copyfileobj(member, out, UPLOAD_PART_BYTES)
                out.close()
                landed.append(publish(path, prefix / name, overwrite=overwrite))
    return landed


# --------------------------------------------------------------------------- the whole landing


def land_export(
    hook: SparkLogHook,
    *,
    folder: str,
    service: str,
    job_id: str,
    destination: str | ObjectStoragePath,
    destination_conn_id: str | None = None,
    overwrite: bool = True,
    unpack: bool = False,
    start: datetime | None = None,
    end: datetime | None = None,
) -> LandedObject:
    """Download, check and publish a finished job's ZIP; with ``unpack``, its CSVs beside it.

    ``destination`` is a full object key, or a prefix ending in ``/`` under which
    :func:`default_object_name` is used. With ``unpack``, the CSV members land under the ZIP's key
    without ``.zip``, e.g. ``.../20260101T000000Z_20260102T000000Z/Motor Quote 1.0.0.csv``.
    """
    target = destination_path(destination, destination_conn_id)
    if is_prefix(destination):
        target = target / default_object_name(folder, service, start, end, job_id)
    with downloaded_zip(hook, folder, service, job_id) as spool:
        uri = publish(spool.path, target, overwrite=overwrite)
        if unpack:
            members = publish_members(spool, target.parent / PurePosixPath(target.path).stem, overwrite=overwrite)
            hook.log.info("Landed %d CSV files beside it.", len(members))
    hook.log.info(
        "Landed %s (%d bytes, sha256 %s) from Spark log export job %s.", uri, spool.size, spool.sha256, job_id
    )
    return LandedObject(uri, spool.size, spool.sha256)
