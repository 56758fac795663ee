"""Building the ZIP a finished job hands out, and the byte-level damage some faults need.

Everything is streamed to and from disk: a ZIP can be padded to hundreds of MiB (see
``zip_padding_bytes``) and tests of memory-bounded clients must not be defeated by the emulator
itself holding the file in memory.
"""

from __future__ import annotations

import csv
import io
import json
import random
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta, timezone
from pathlib import Path
from typing import IO, Any

from airflow_provider_spark_logs.testing.history import VERSIONS, CallRecord, ServiceVersion
from airflow_provider_spark_logs.testing.history import format_timestamp as _format_timestamp

#: Columns before the model's inputs and outputs, in the order the SDK documents.
LEADING_COLUMNS: tuple[str, ...] = (
    "Description",
    "Log Time",
    "Transaction date",
    "Version",
    "Version ID",
    "User name",
    "Source system",
    "Correlation ID",
    "Call purpose",
    "Call ID",
    "Calc time (ms)",
    "Total time (ms)",
)
#: Columns after the model's inputs and outputs.
TRAILING_COLUMNS: tuple[str, ...] = ("Error Details", "Warning Details")
#: Name of the stored member that ``zip_padding_bytes`` adds.
PADDING_MEMBER = "padding.bin"
CHUNK_SIZE = 1024 * 1024
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")


def columns(version: ServiceVersion) -> list[str]:
    """Header of the export of one service version."""
    return [*LEADING_COLUMNS, *version.inputs, *version.outputs, *TRAILING_COLUMNS]


def _row(call: CallRecord, timezone_offset: float) -> dict[str, Any]:
    shifted = call.log_time.astimezone(timezone(timedelta(hours=timezone_offset)))
    leading = (
        call.description,
        _format_timestamp(shifted),
        call.transaction_date.isoformat() if call.transaction_date else "",
        call.version,
        call.version_id,
        call.user_name,
        call.source_system,
        call.correlation_id,
        call.call_purpose,
        call.call_id,
        call.calc_time_ms,
        call.total_time_ms,
    )
    return {
        **dict(zip(LEADING_COLUMNS, leading, strict=True)),
        **call.inputs,
        **call.outputs,
        "Error Details": call.errors,
        "Warning Details": call.warnings,
    }


def _write_csv(stream: IO[str], header: list[str], rows: Iterable[dict[str, Any]]) -> None:
    writer = csv.DictWriter(stream, fieldnames=header, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)


def _write_json(stream: IO[str], header: list[str], rows: Iterable[dict[str, Any]]) -> None:
    # One object per call, keys in column order; written row by row rather than as one big dump.
    stream.write("[")
    for index, row in enumerate(rows):
        stream.write(",\n" if index else "\n")
        stream.write(json.dumps({name: row.get(name) for name in header}))
    stream.write("\n]\n")


_WRITERS = {"csv": _write_csv, "json": _write_json}


def _group_by_version(calls: Sequence[CallRecord]) -> list[tuple[ServiceVersion, list[CallRecord]]]:
    groups = [(version, [c for c in calls if c.version == version.version]) for version in VERSIONS]
    present = [(version, group) for version, group in groups if group]
    # Nothing matched: still one file, header only, as an empty export is not an error.
    return present or [(VERSIONS[-1], [])]


def _write_padding(archive: zipfile.ZipFile, size: int) -> None:
    rng = random.Random(size)
    info = zipfile.ZipInfo(PADDING_MEMBER, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.file_size = size
    with archive.open(info, "w", force_zip64=size >= zipfile.ZIP64_LIMIT) as member:
        for offset in range(0, size, CHUNK_SIZE):
            member.write(rng.randbytes(min(CHUNK_SIZE, size - offset)))


def build_archive(
    path: Path,
    service: str,
    calls: Sequence[CallRecord],
    *,
    fmt: str = "csv",
    timezone_offset: float = 0.0,
    padding_bytes: int = 0,
) -> None:
    """Write the export ZIP: one ``{service} {version}.{fmt}`` member per version with matching calls.

    ``padding_bytes`` > 0 adds a stored member of that many pseudo-random bytes, to exercise clients
    with large downloads.
    """
    write = _WRITERS[fmt]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for version, group in _group_by_version(calls):
            with (
                archive.open(f"{service} {version.version}.{fmt}", "w") as member,
                io.TextIOWrapper(member, encoding="utf-8", newline="") as text,
            ):
                write(text, columns(version), (_row(call, timezone_offset) for call in group))
        if padding_bytes > 0:
            _write_padding(archive, padding_bytes)


def read_chunks(path: Path, *, limit: int | None = None, flip_at: int | None = None) -> Iterator[bytes]:
    """Yield the file in chunks, stopping after ``limit`` bytes, with the byte at ``flip_at`` inverted."""
    remaining = path.stat().st_size if limit is None else limit
    position = 0
    with path.open("rb") as handle:
        while remaining > 0:
            chunk = handle.read(min(CHUNK_SIZE, remaining))
            if not chunk:
                return
            if flip_at is not None and position <= flip_at < position + len(chunk):
                index = flip_at - position
                chunk = chunk[:index] + bytes([chunk[index] ^ 0xFF]) + chunk[index + 1 :]
            yield chunk
            position += len(chunk)
            remaining -= len(chunk)


def _data_offset(handle: IO[bytes], info: zipfile.ZipInfo) -> int:
    handle.seek(info.header_offset)
    fields = _LOCAL_HEADER.unpack(handle.read(_LOCAL_HEADER.size))
    name_length, extra_length = int(fields[-2]), int(fields[-1])
    return info.header_offset + _LOCAL_HEADER.size + name_length + extra_length


def _flip_fails_crc(path: Path, info: zipfile.ZipInfo, start: int, flip_at: int) -> bool:
    """True when flipping the byte at ``flip_at`` leaves a readable member whose CRC-32 is wrong.

    A flipped byte in deflated data may instead make the stream undecodable; a client then sees a
    zlib error rather than a CRC error, which is not the failure this fault promises.
    """
    decompressor = zlib.decompressobj(-zlib.MAX_WBITS) if info.compress_type == zipfile.ZIP_DEFLATED else None
    crc, size = 0, 0
    try:
        for chunk in _member_chunks(path, start, info.compress_size, flip_at):
            data = decompressor.decompress(chunk) if decompressor else chunk
            crc, size = zlib.crc32(data, crc), size + len(data)
        if decompressor:
            tail = decompressor.flush()
            crc, size = zlib.crc32(tail, crc), size + len(tail)
            if not decompressor.eof or decompressor.unused_data:
                return False
    except zlib.error:
        return False
    return size == info.file_size and crc != info.CRC


def _member_chunks(path: Path, start: int, length: int, flip_at: int) -> Iterator[bytes]:
    position = 0
    for chunk in read_chunks(path, limit=start + length, flip_at=flip_at):
        end = position + len(chunk)
        if end > start:
            yield chunk[max(0, start - position) :]
        position = end


def corruption_offset(path: Path) -> int:
    """File offset of a byte inside a member's data whose inversion makes that member fail its CRC."""
    with zipfile.ZipFile(path) as archive:
        # Stored members first: any change to their data is a CRC failure, no search needed.
        members = sorted(
            (info for info in archive.infolist() if info.compress_size),
            key=lambda info: info.compress_type != zipfile.ZIP_STORED,
        )
    with path.open("rb") as handle:
        starts = [(info, _data_offset(handle, info)) for info in members]
    for info, start in starts:
        if info.compress_type == zipfile.ZIP_STORED:
            return start + info.compress_size // 2
        for step in range(1, 40):
            candidate = start + (info.compress_size * step // 40)
            if _flip_fails_crc(path, info, start, candidate):
                return candidate
    raise ValueError(f"no byte of {path.name} can be flipped into a CRC failure")
