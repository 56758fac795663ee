"""Landing a finished export: download to a spool file, check it, then publish it atomically.

The body never sits in memory: it streams to a spool file (see ``spool``) in fixed-size chunks,
and is counted, hashed and checked as a ZIP (every member's CRC and sizes) on the way, in threads
of their own (see ``download_checks``), so that the checks cost no second read of the file;
nothing is published before they pass. Publishing never exposes a partial object, even to a crash: a local file
appears when its anonymous spool file, written in the destination's folder, is linked under its
name (or, where the filesystem cannot, by an atomic rename of a finished sibling whose name tells
the next landing of that key whether its owner is gone); a remote object by uploading the finished
spool file, which object stores make visible only when the upload completes (S3 aborts its
multipart upload on failure; a killed process leaves it incomplete, invisible, until a lifecycle
rule aborts it).

The ZIP's checks and ``unpack`` stay within :class:`~.unpacking.UnpackLimits`. With ``unpack``, the
CSV files are published first and the ZIP last, as the mark of a complete landing: a failure takes
back the files already published, and files without their ZIP (left by a run that was killed) are
replaced by the next run.
"""

from __future__ import annotations

import contextlib
import glob
import inspect
import logging
import math
import os
import shutil
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from airflow_provider_spark_logs._compat import ObjectStoragePath
from airflow_provider_spark_logs.destinations import (
    LOCAL_PROTOCOLS,
    check_object_key,
    default_object_name,
    destination_path,
    is_prefix,
    object_uri,
)
from airflow_provider_spark_logs.download_checks import CheckingWriter
from airflow_provider_spark_logs.exceptions import SparkApiError, SparkDownloadError, SparkJobError, SparkLandingError
from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs.protocol.messages import EXPIRED_DOWNLOAD_STATUSES, ExportFormat
from airflow_provider_spark_logs.spool import Spool, left_by_a_dead_process, owner_tag, spool_file
from airflow_provider_spark_logs.unpacking import (
    UnpackLimits,
    check_declared_sizes,
    inflate,
    inflation_check,
    planned_members,
)
from airflow_provider_spark_logs.zip_stream import ZipStreamCheck, ZipStreamError

log = logging.getLogger(__name__)

DOWNLOAD_ATTEMPTS = 3
UPLOAD_PART_BYTES = 8 * 2**20
UPLOAD_CONCURRENCY = 2
S3_MAX_PARTS = 10_000
# Stores whose fsspec filesystem turns put_file(mode="create") into a write that the store refuses
# if the object exists: S3 (s3fs: If-None-Match: * on the PUT and on CompleteMultipartUpload), GCS
# (gcsfs: ifGenerationMatch=0) and Azure Blob Storage (adlfs: If-None-Match: *). Elsewhere
# overwrite=False is a check before the write.
CREATE_IF_ABSENT_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az"})


@dataclass(frozen=True)
class SpooledZip:
    """A downloaded ZIP in its spool file that passed its checks."""

    spool: Spool
    size: int
    sha256: str


@dataclass(frozen=True)
class LandedObject:
    """What was published: a URI without credentials or conn id, with its size and digest."""

    uri: str
    size: int
    sha256: str


# --------------------------------------------------------------------------- download


@contextmanager
def downloaded_zip(
    hook: SparkLogHook,
    folder: str,
    service: str,
    job_id: str,
    beside: Path | None = None,
    export_format: ExportFormat = "csv",
    limits: UnpackLimits | None = None,
) -> Iterator[SpooledZip]:
    """The job's ZIP in a checked spool file, gone when the block ends, whatever happens.

    ``beside`` is the folder of a local destination, where the spool is then made (invisibly).
    """
    with spool_file(".zip", beside) as spool:
        yield _download_with_retries(hook, folder, service, job_id, export_format, spool, limits or UnpackLimits())


def _download_with_retries(
    hook: SparkLogHook,
    folder: str,
    service: str,
    job_id: str,
    export_format: ExportFormat,
    spool: Spool,
    limits: UnpackLimits,
) -> SpooledZip:
    """Download and check, retrying a short or corrupt body a bounded number of times.

    The download URL comes from the status endpoint each time (it is never stored or passed on);
    if it is refused as expired, a fresh one is asked for once.
    """
    problems: list[str] = []
    refreshed = False
    handle = spool.file
    while len(problems) < DOWNLOAD_ATTEMPTS:
        url = _download_url(hook, folder, service, job_id, export_format)
        handle.seek(0)
        handle.truncate()
        writer = CheckingWriter(handle, inflation_check(job_id, limits))
        try:
            _download(hook, url, writer, job_id)
            handle.flush()
            _check_zip(spool.path, job_id, writer.zip_check, limits)
        except SparkApiError as error:
            if error.status not in EXPIRED_DOWNLOAD_STATUSES or refreshed:
                raise
            refreshed = True
            hook.log.warning("The download URL of job %s was refused (HTTP %s); asking again.", job_id, error.status)
        except SparkDownloadError as error:
            problems.append(str(error))
            hook.log.warning("Download %d of job %s was bad: %s", len(problems), job_id, error)
        else:
            return SpooledZip(spool, writer.size, writer.digest.hexdigest())
    raise SparkDownloadError(
        f"The ZIP of Spark log export job {job_id} was bad on all {DOWNLOAD_ATTEMPTS} attempts; last: {problems[-1]}"
    )


def _download_url(hook: SparkLogHook, folder: str, service: str, job_id: str, export_format: ExportFormat) -> str:
    status = hook.get_job_status(folder, service, job_id, export_format)
    if not status.done or status.download_url is None:
        raise SparkJobError(
            f"Spark log export job {job_id} is not finished ({status.progress:g}%): wait for it first, "
            "e.g. with SparkLogJobSensor."
        )
    return status.download_url


def _download(hook: SparkLogHook, url: str, writer: CheckingWriter, job_id: str) -> None:
    try:
        hook.download(url, writer)
    except BaseException:
        writer.abandon()
        raise
    writer.finish(job_id)


def _check_zip(path: Path, job_id: str, streamed: ZipStreamCheck, limits: UnpackLimits) -> None:
    """Match the members checked as they streamed past against the central directory, and its
    declared sizes against ``limits``; or, for a layout that could not be followed in one pass,
    read the file again."""
    if not streamed.followed:
        verify_zip(path, job_id, limits)
        return
    try:
        with zipfile.ZipFile(path) as archive:
            streamed.verify(archive.infolist())
            check_declared_sizes(archive, job_id, limits)
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise SparkDownloadError(f"The download of job {job_id} is not a readable ZIP ({error}).") from None
    except ZipStreamError as error:
        raise SparkDownloadError(f"The ZIP of job {job_id} is corrupt: {error}.") from None


def verify_zip(path: Path, job_id: str, limits: UnpackLimits | None = None) -> None:
    """Check the ZIP's structure, its declared sizes against ``limits``, and every member's CRC,
    reading in bounded chunks; zipfile never inflates a member past its declared size."""
    try:
        with zipfile.ZipFile(path) as archive:
            check_declared_sizes(archive, job_id, limits or UnpackLimits())
            bad = archive.testzip()
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise SparkDownloadError(f"The download of job {job_id} is not a readable ZIP ({error}).") from None
    if bad is not None:
        raise SparkDownloadError(f"The ZIP of job {job_id} is corrupt: member {bad!r} fails its CRC check.")


# --------------------------------------------------------------------------- publish


def local_folder(destination: ObjectStoragePath) -> Path | None:
    """The folder of a local destination, created if missing; None for an object store."""
    if destination.protocol not in LOCAL_PROTOCOLS:
        return None
    folder = Path(destination.path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _write_error(destination, error) from None
    return folder


def _write_error(destination: ObjectStoragePath, error: Exception) -> SparkLandingError:
    return SparkLandingError(f"Could not write {object_uri(destination)}: {type(error).__name__}: {error}")


def _already_exists(uri: str) -> SparkLandingError:
    return SparkLandingError(f"{uri} already exists and overwrite=False: remove it, or set overwrite=True.")


def publish(spool: Spool, destination: ObjectStoragePath, *, overwrite: bool) -> str:
    """Put a finished spool file at ``destination``; nothing partial is ever visible there.

    With ``overwrite=False`` the object is created only if absent, by the store itself where it can
    (see :data:`CREATE_IF_ABSENT_PROTOCOLS`; locally, a link fails if the name exists): of two
    landings of one key at once, exactly one wins. The check beforehand only saves the upload when
    the object is plainly there already.
    """
    uri = object_uri(destination)
    if not overwrite and destination.exists():
        raise _already_exists(uri)
    folder = local_folder(destination)
    try:
        spool.file.flush()
        if folder is not None:
            _publish_local(spool, Path(destination.path), overwrite=overwrite)
        else:
            _upload(spool.path, destination, overwrite=overwrite)
    except SparkLandingError:
        raise
    except Exception as error:
        if isinstance(error, FileExistsError) and not overwrite and destination.exists():
            raise _already_exists(uri) from None
        raise _write_error(destination, error) from None
    return uri


def _publish_local(spool: Spool, target: Path, *, overwrite: bool) -> None:
    """Make the finished spool appear at ``target`` in one step.

    An anonymous spool is synced to disk, then linked under the name: nothing was visible before,
    not even after a power cut, and a link fails if the name exists. Replacing an existing file, or
    publishing a named spool, goes through a temporary sibling, then an atomic rename over the
    target (or, with ``overwrite=False``, a hard link, which fails if it exists); a crash between
    the two leaves that sibling, which the next landing of the key removes once its owner is gone.
    """
    _remove_stale_siblings(target)
    if spool.anonymous:
        os.fsync(spool.file.fileno())
        try:
            _link(spool, target)
            return
        except FileExistsError:
            if not overwrite:
                raise
    sibling = target.with_name(f".{target.name}.{owner_tag()}.{uuid.uuid4().hex[:12]}.partial")
    try:
        if spool.anonymous:
            _link(spool, sibling)
        else:
            shutil.copyfile(spool.path, sibling)
        if overwrite:
            os.replace(sibling, target)
        else:
            os.link(sibling, target)
    finally:
        sibling.unlink(missing_ok=True)


def _link(spool: Spool, target: Path) -> None:
    """Give an anonymous spool file the name ``target``; fails if the name exists.

    With a directory fd, CPython calls ``linkat`` with ``AT_SYMLINK_FOLLOW``, which links the file
    that ``/proc/self/fd/N`` points to (a plain ``link`` would try the magic link itself).
    """
    folder = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.link(spool.path, target.name, dst_dir_fd=folder)
    finally:
        os.close(folder)


def _remove_stale_siblings(target: Path) -> None:
    """Remove temporary siblings of ``target`` that landings killed before their rename left."""
    prefix = f".{target.name}."
    for sibling in target.parent.glob(f"{glob.escape(prefix)}*.partial"):
        if left_by_a_dead_process(sibling.name[len(prefix) :].rsplit(".", 2)[0]):
            sibling.unlink(missing_ok=True)
            log.warning("Removed %s, left by a landing of %s that was killed.", sibling.name, target.name)


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


# --------------------------------------------------------------------------- CSV or JSON members


def publish_members(
    zipped: SpooledZip,
    prefix: ObjectStoragePath,
    job_id: str,
    export_format: ExportFormat,
    limits: UnpackLimits,
    published: list[ObjectStoragePath],
) -> None:
    """Land each CSV (or JSON) member of the ZIP as its own object under ``prefix``, appending each
    to ``published`` (for the caller to take back on failure). Files there without their ZIP are
    leftovers of a killed run, and are replaced."""
    with zipfile.ZipFile(zipped.spool.path) as archive:
        members = planned_members(archive, job_id, limits, export_format)
        budget = limits.max_unpacked_bytes
        for member in members:
            destination = prefix / member.name
            with spool_file(f".{export_format}", local_folder(destination)) as out:
                budget -= inflate(archive, member, out.file, job_id, budget)
                publish(out, destination, overwrite=True)
                published.append(destination)


def take_back(paths: list[ObjectStoragePath]) -> None:
    """Remove what a failed landing published, as far as the store lets us."""
    for path in reversed(paths):
        with contextlib.suppress(Exception):
            path.unlink(missing_ok=True)


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
    export_format: ExportFormat = "csv",
    start: datetime | None = None,
    end: datetime | None = None,
    limits: UnpackLimits | None = None,
) -> LandedObject:
    """Download, check and publish a finished job's ZIP; with ``unpack``, its CSV or JSON files beside it.

    ``destination`` is a full object key, or a prefix ending in ``/`` under which
    :func:`default_object_name` is used. With ``unpack``, the members of the job's ``export_format``
    land under the ZIP's key without ``.zip``, e.g.
    ``.../20260101T000000Z_20260102T000000Z/Motor Quote 1.0.0.csv``, all or none of them. A key that
    cannot be stored, or a ZIP there already with ``overwrite=False``, fails before the download.
    """
    limits = limits or UnpackLimits()
    target = destination_path(destination, destination_conn_id)
    if is_prefix(destination):
        target = target / default_object_name(folder, service, start, end, job_id)
    check_object_key(target)
    if not overwrite and target.exists():
        raise _already_exists(object_uri(target))
    published: list[ObjectStoragePath] = []
    with downloaded_zip(hook, folder, service, job_id, local_folder(target), export_format, limits) as zipped:
        try:
            if unpack:
                stem = target.parent / PurePosixPath(target.path).stem
                publish_members(zipped, stem, job_id, export_format, limits, published)
            uri = publish(zipped.spool, target, overwrite=overwrite)
        except BaseException:
            take_back(published)
            raise
        if unpack:
            hook.log.info("Landed %d %s files beside it.", len(published), export_format.upper())
    hook.log.info(
        "Landed %s (%d bytes, sha256 %s) from Spark log export job %s.", uri, zipped.size, zipped.sha256, job_id
    )
    return LandedObject(uri, zipped.size, zipped.sha256)
