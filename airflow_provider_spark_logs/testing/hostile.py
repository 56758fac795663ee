"""Bodies for the hostile fault kinds: echoes of the request, oversized answers, gzip bombs,
slow drips and ZIPs made to order (bombs, thousands of members, colliding or odd names).

Big bodies are made while they are sent or written to disk in chunks, never held whole in memory.
"""

from __future__ import annotations

import gzip
import shutil
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airflow_provider_spark_logs.testing.export import CHUNK_SIZE
from airflow_provider_spark_logs.testing.faults import Fault
from airflow_provider_spark_logs.testing.responses import envelope, keycloak_error
from airflow_provider_spark_logs.testing.server import Request, Response, StreamResponse

_PAD_OPEN, _PAD_CLOSE = b'{"pad": "', b'"}'


def echo(fault: Fault, request: Request, target: str) -> Response:
    """An error answer that repeats the request's body or headers, credentials and all."""
    status = fault.param("status", 400)
    if fault.param("source", "body") == "headers":
        text = "\n".join(f"{name}: {value}" for name, value in request.headers.items())
    else:
        text = request.body.decode("utf-8", "replace")
    if not fault.param("json", False):
        return Response(status, text.encode(), {"Content-Type": "text/plain"})
    if target == "token":
        return keycloak_error(status, "invalid_request", f"Bad request: {text}")
    return envelope(status, f"Bad request: {text}")


def oversize(fault: Fault) -> StreamResponse:
    """A JSON object ``{"pad": "xxx..."}`` of exactly ``bytes`` bytes, made while it is sent."""
    length = max(fault.param("bytes", 300_000_000), len(_PAD_OPEN) + len(_PAD_CLOSE))
    return StreamResponse(fault.param("status", 200), length, _padded(length), {"Content-Type": "application/json"})


def _padded(length: int) -> Iterator[bytes]:
    yield _PAD_OPEN
    remaining = length - len(_PAD_OPEN) - len(_PAD_CLOSE)
    block = b"x" * CHUNK_SIZE
    while remaining > 0:
        yield block[: min(CHUNK_SIZE, remaining)]
        remaining -= CHUNK_SIZE
    yield _PAD_CLOSE


def gzip_file(archive: Path) -> Path:
    """The archive gzip-compressed beside it (made once)."""
    compressed = archive.with_name(archive.name + ".gz")
    if not compressed.exists():
        partial = compressed.with_name(compressed.name + ".partial")
        with archive.open("rb") as source, gzip.GzipFile(partial, "wb", mtime=0) as target:
            shutil.copyfileobj(source, target, CHUNK_SIZE)
        partial.replace(compressed)
    return compressed


def gzip_bomb(inflated_bytes: int) -> bytes:
    """A gzip stream (a few hundred KiB) that inflates to ``inflated_bytes`` zero bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(CHUNK_SIZE)
    parts = []
    for offset in range(0, inflated_bytes, CHUNK_SIZE):
        parts.append(compressor.compress(zeros[: min(CHUNK_SIZE, inflated_bytes - offset)]))
    parts.append(compressor.flush())
    return b"".join(parts)


def drip(path: Path, fault: Fault) -> StreamResponse:
    """The file with its true length, ``chunk_bytes`` at a time every ``interval`` seconds."""
    size = path.stat().st_size
    step = max(1, fault.param("chunk_bytes", 1))
    return StreamResponse(
        200, size, _file_pieces(path, step), {"Content-Type": "application/zip"}, fault.param("interval", 0.1)
    )


def _file_pieces(path: Path, step: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while piece := handle.read(step):
            yield piece


def build_archive_to_order(path: Path, fault: Fault) -> None:
    """Write the ``archive`` fault's ZIP: its members, sizes and fill, names stored as given."""
    repeat = max(1, fault.param("repeat", 1))
    fill = fault.param("fill", "zeros")
    if fill not in ("zeros", "text"):
        raise ValueError(f"archive fill must be 'zeros' or 'text', not {fill!r}")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, size in _member_specs(fault.param("members", [])):
            for index in range(repeat):
                info = zipfile.ZipInfo(name.replace("{i}", str(index)), date_time=(2026, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                with archive.open(info, "w", force_zip64=size >= zipfile.ZIP64_LIMIT) as member:
                    for chunk in _fill(size, fill):
                        member.write(chunk)


def _member_specs(members: list[Any]) -> Iterator[tuple[str, int]]:
    for member in members:
        if not (isinstance(member, list | tuple) and len(member) == 2 and isinstance(member[1], int)):
            raise ValueError(f"archive members are [name, size] pairs, not {member!r}")
        yield str(member[0]), member[1]


def _fill(size: int, fill: str) -> Iterator[bytes]:
    if fill == "zeros":
        zeros = bytes(CHUNK_SIZE)
        for offset in range(0, size, CHUNK_SIZE):
            yield zeros[: min(CHUNK_SIZE, size - offset)]
        return
    written, row = 0, 0
    while written < size:
        line = f"{row},call-{row:012d},{(row * 2654435761) % 1_000_003},Motor Quote\r\n".encode()[: size - written]
        yield line
        written += len(line)
        row += 1
