"""Limits on what an export ZIP may inflate to, checked on the bytes as they inflate and on the
sizes the ZIP declares.

A ZIP from the wire can be a bomb (a member that inflates a thousandfold), can hold thousands of
members, or names that cannot be stored or that collide once their folders are dropped. While the
ZIP streams in, :func:`inflation_check` stops its CRC check at the limits; then the declared sizes
and names are read from its directory, and anything implausible is refused before the first file
is published; each member is counted again while it inflates, never trusting its header alone.
The limits are operator parameters.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import IO

from airflow_provider_spark_logs.exceptions import SparkConfigError, SparkLandingError
from airflow_provider_spark_logs.protocol.messages import ExportFormat, has_control_character

DEFAULT_MAX_UNPACKED_BYTES = 8 * 2**30
DEFAULT_MAX_UNPACKED_FILES = 1000
DEFAULT_MAX_COMPRESSION_RATIO = 200.0
#: Below this declared size, a member's ratio does not matter: it cannot fill a disk.
RATIO_CHECK_MIN_BYTES = 2**20
#: The longest file or object name that common file systems and stores take, in UTF-8 bytes.
MAX_NAME_BYTES = 255
_CHUNK_BYTES = 2**20


@dataclass(frozen=True)
class UnpackLimits:
    """How much one ZIP may inflate to; each refusal names the limit it hit.

    ``max_unpacked_bytes`` and ``max_compression_ratio`` also bound the CRC check of every landed
    ZIP, which inflates each member; ``max_unpacked_files`` bounds the files ``unpack`` lands.
    """

    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES
    max_unpacked_files: int = DEFAULT_MAX_UNPACKED_FILES
    max_compression_ratio: float = DEFAULT_MAX_COMPRESSION_RATIO

    def __post_init__(self) -> None:
        for name in ("max_unpacked_bytes", "max_unpacked_files", "max_compression_ratio"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise SparkConfigError(f"{name} must be a number above 0, got {value!r}.")


@dataclass(frozen=True)
class Member:
    """A CSV member to unpack, and the file name it lands as."""

    info: zipfile.ZipInfo
    name: str


def refused(job_id: str, problem: str) -> SparkLandingError:
    return SparkLandingError(f"The ZIP of Spark log export job {job_id} {problem}. Nothing of it was published.")


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a file or object name, or None."""
    if name in ("", ".", ".."):
        return "is not a file name"
    if has_control_character(name):
        return "holds a control character"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"is too long (over {MAX_NAME_BYTES} bytes)"
    return None


def check_declared_sizes(archive: zipfile.ZipFile, job_id: str, limits: UnpackLimits) -> None:
    """Refuse a ZIP whose directory promises a bomb, before any member is inflated."""
    total = 0
    for info in archive.infolist():
        total += info.file_size
        problem = _ratio_problem(info.filename, info.file_size, info.compress_size, limits)
        if problem is not None:
            raise refused(job_id, problem)
    if total > limits.max_unpacked_bytes:
        raise refused(job_id, _total_problem(total, limits))


def inflation_check(job_id: str, limits: UnpackLimits) -> Callable[[str, int, int, int], None]:
    """The same limits for a ZIP checked as it streams: on the bytes actually inflated so far."""

    def check(name: str, inflated: int, read: int, total: int) -> None:
        problem = _ratio_problem(name, inflated, read, limits)
        if problem is None and total > limits.max_unpacked_bytes:
            problem = _total_problem(total, limits)
        if problem is not None:
            raise refused(job_id, problem)

    return check


def _ratio_problem(name: str, inflated: int, compressed: int, limits: UnpackLimits) -> str | None:
    ratio = inflated / max(compressed, 1)
    if inflated < RATIO_CHECK_MIN_BYTES or ratio <= limits.max_compression_ratio:
        return None
    return (
        f"has a member {name!r} compressed {ratio:.0f}:1, more than max_compression_ratio="
        f"{limits.max_compression_ratio:g}: exported CSV or JSON is not that compressible"
    )


def _total_problem(total: int, limits: UnpackLimits) -> str:
    return f"inflates to more than max_unpacked_bytes={limits.max_unpacked_bytes} ({total} bytes)"


def planned_members(
    archive: zipfile.ZipFile, job_id: str, limits: UnpackLimits, export_format: ExportFormat = "csv"
) -> list[Member]:
    """The ``.csv`` (or ``.json``) members to unpack, with their file names (folders dropped, so
    nothing escapes the prefix); refused as a whole if any cannot land."""
    members = [
        Member(info, PurePosixPath(info.filename.replace("\\", "/")).name)
        for info in archive.infolist()
        if not info.is_dir() and info.filename.lower().endswith(f".{export_format}")
    ]
    if len(members) > limits.max_unpacked_files:
        raise refused(
            job_id,
            f"has {len(members)} {export_format.upper()} files, more than "
            f"max_unpacked_files={limits.max_unpacked_files}",
        )
    seen: dict[str, Member] = {}
    for member in members:
        problem = name_problem(member.name)
        if problem is not None:
            raise refused(job_id, f"has a member whose name {problem}: {member.info.filename!r}")
        first = seen.setdefault(member.name.casefold(), member)
        if first is not member:
            raise refused(
                job_id,
                f"has members {first.info.filename!r} and {member.info.filename!r} that collide as "
                f"{member.name!r} once unpacked",
            )
    return members


def inflate(archive: zipfile.ZipFile, member: Member, target: IO[bytes], job_id: str, budget: int) -> int:
    """Inflate one member into ``target``, counting: never past its declared size, nor ``budget``."""
    limit = min(member.info.file_size, budget)
    written = 0
    with archive.open(member.info) as source:
        while chunk := source.read(_CHUNK_BYTES):
            written += len(chunk)
            if written > limit:
                raise refused(
                    job_id,
                    f"has a member {member.info.filename!r} that inflates past its declared size "
                    "or past max_unpacked_bytes",
                )
            target.write(chunk)
    return written
