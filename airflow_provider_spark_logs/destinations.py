"""Where a landed ZIP goes: the destination as a path, default object names, and safe URIs.

Naming rules only, with no download or upload stack, so that argument checks can use them at DAG
parse time.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from airflow_provider_spark_logs._compat import ObjectStoragePath
from airflow_provider_spark_logs.exceptions import SparkConfigError


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
    """The destination as a path; an unknown scheme is an error that says what works."""
    if isinstance(destination, ObjectStoragePath):
        return destination
    if not isinstance(destination, str) or not destination.strip():
        raise SparkConfigError(f"destination must be a non-empty URI or path, got {destination!r}.")
    try:
        return ObjectStoragePath(destination.strip(), conn_id=conn_id)
    except ValueError as error:
        raise SparkConfigError(
            f"destination {destination!r} has a scheme Airflow's ObjectStoragePath does not know ({error}): "
            "use file://, s3://, gs:// or abfs:// (installing the matching extra: s3, gcs, azure)."
        ) from None


def is_prefix(destination: str | ObjectStoragePath) -> bool:
    return str(destination).endswith("/")
