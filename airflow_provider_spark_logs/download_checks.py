"""The checks that run while a download streams: its size, its SHA-256, and its ZIP integrity.

Each check gets the downloaded chunks in a thread of its own, through a bounded queue: SHA-256,
CRC-32 and inflating release the GIL, so they run beside the download (and the disk writes)
instead of as passes over the file after it. Memory stays bounded: at most
``QUEUE_CHUNKS`` chunks wait per check.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import IO

from airflow_provider_spark_logs.exceptions import SparkDownloadError
from airflow_provider_spark_logs.zip_stream import InflationCheck, ZipStreamCheck, ZipStreamError

#: Downloaded chunks (of up to 1 MiB) queued for each check.
QUEUE_CHUNKS = 4


class _ChunkConsumer:
    """Feeds chunks to a function in a thread of its own.

    The first error is kept and raised by :meth:`close`; later chunks are drained unread, so that
    the download never blocks on a full queue.
    """

    def __init__(self, consume: Callable[[bytes], object]) -> None:
        self._consume = consume
        self._chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUE_CHUNKS)
        self._error: Exception | None = None
        self._thread = threading.Thread(target=self._run, name="spark-logs-check", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            if self._error is None:
                try:
                    self._consume(chunk)
                except Exception as error:
                    self._error = error

    def put(self, chunk: bytes) -> None:
        self._chunks.put(chunk)

    def close(self) -> None:
        """Wait for the chunks already queued; raise the consumer's error, if any."""
        self._chunks.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


class CheckingWriter:
    """Writes a download to a file; counts it, and hashes and checks it as a ZIP on the way.

    Call :meth:`finish` once the download is complete (it raises what the ZIP check found), or
    :meth:`abandon` when the download failed.
    """

    def __init__(self, target: IO[bytes], inflation_check: InflationCheck | None = None) -> None:
        self.target = target
        self.size = 0
        self.digest = hashlib.sha256()
        self.zip_check = ZipStreamCheck(inflation_check)
        self._consumers = [_ChunkConsumer(self.digest.update), _ChunkConsumer(self.zip_check.feed)]

    def write(self, data: bytes) -> int:
        self.target.write(data)
        self.size += len(data)
        for consumer in self._consumers:
            consumer.put(data)
        return len(data)

    def finish(self, job_id: str) -> None:
        """Wait for the checks to catch up with the download; a damaged ZIP is a download error."""
        errors = []
        for consumer in self._consumers:
            try:
                consumer.close()
            except Exception as error:
                errors.append(error)
        if errors and isinstance(errors[0], ZipStreamError):
            raise SparkDownloadError(f"The ZIP of job {job_id} is corrupt: {errors[0]}.") from None
        if errors:
            raise errors[0]

    def abandon(self) -> None:
        """Stop the checks after a failed download, whose own error is the one to report."""
        with suppress(Exception):
            self.finish("")
