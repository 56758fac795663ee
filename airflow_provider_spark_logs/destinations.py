"""Where a landed ZIP goes: the destination as a path, default object names, and safe URIs.

Naming rules only, with no download or upload stack, so that argument checks can use them at DAG
parse time.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from airflow_provider_spark_logs._compat import ObjectStoragePath, has_fs
from airflow_provider_spark_logs.exceptions import SparkConfigError
from airflow_provider_spark_logs.protocol.messages import has_control_character

LOCAL_PROTOCOLS = frozenset({"", "file", "local"})
#: Schemes whose file systems can only read (a URL for them looks like a destination, but is not).
READ_ONLY_PROTOCOLS = frozenset({"http", "https", "ftp", "zip", "tar", "github", "git", "reference"})
#: The longest object key S3, GCS and Azure take, and the longest file name, in UTF-8 bytes.
MAX_KEY_BYTES = 1024
MAX_NAME_BYTES = 255


def object_uri(path: ObjectStoragePath) -> str:
    """``protocol://bucket/key`` (``file:///abs/path`` locally): no conn id, no credentials."""
    protocol = path.protocol or "file"
    return f"{protocol}://{path.path}" if protocol != "file" else f"file://{Path(path.path).resolve()}"


def safe_name_part(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", value).strip("._") or "_"


def default_object_name(folder: str, service: str, start: datetime | None, end: datetime | None, job_id: str) -> str:
    """``Pricing/Motor_Quote/20260101T000000Z_20260102T000000Z.zip``: deterministic from the window."""
    stem = f"{start:%Y%m%dT%H%M%SZ}_{end:%Y%m%dT%H%M%SZ}" if start and end else f"job_{safe_name_part(job_id)}"
    return f"{safe_name_part(folder)}/{safe_name_part(service)}/{stem}.zip"


def destination_path(destination: str | ObjectStoragePath, conn_id: str | None) -> ObjectStoragePath:
    """The destination as a path; a scheme that no installed file system can write is an error
    that says what works (checked without connecting, so that it can run at DAG parse time)."""
    if isinstance(destination, ObjectStoragePath):
        path = destination
    elif not isinstance(destination, str) or not destination.strip():
        raise SparkConfigError(f"destination must be a non-empty URI or path, got {destination!r}.")
    elif has_control_character(destination):  # URL parsing would drop some silently, changing the key
        raise SparkConfigError(f"destination {destination!r} holds a control character: remove it.")
    else:
        try:
            path = ObjectStoragePath(destination.strip(), conn_id=conn_id)
        except ValueError as error:
            raise _unwritable(destination, str(error)) from None
    protocol = path.protocol or ""
    if protocol in READ_ONLY_PROTOCOLS or not (protocol in LOCAL_PROTOCOLS or has_fs(protocol)):
        raise _unwritable(destination, f"no installed Airflow file system writes '{protocol}://'")
    return path


def _unwritable(destination: object, reason: str) -> SparkConfigError:
    return SparkConfigError(
        f"destination {str(destination)!r} cannot be landed in ({reason}): use file://, s3://, gs:// or abfs:// "
        "(installing the matching extra: s3, gcs, azure)."
    )


def check_object_key(path: ObjectStoragePath) -> None:
    """A key that no store or file system takes fails before the download, not after it."""
    key = path.path
    problem = None
    if has_control_character(key):
        problem = "holds a control character"
    elif len(key.encode("utf-8")) > MAX_KEY_BYTES:
        problem = f"is too long (over {MAX_KEY_BYTES} bytes)"
    elif any(len(part.encode("utf-8")) > MAX_NAME_BYTES for part in key.split("/")):
        problem = f"has a name that is too long (over {MAX_NAME_BYTES} bytes)"
    if problem is not None:
        raise SparkConfigError(f"destination {object_uri(path)!r} {problem}: shorten or rename it.")


def is_prefix(destination: str | ObjectStoragePath) -> bool:
    return str(destination).endswith("/")
