"""Log-download jobs: their progress, the ZIP each builds, and the download tokens that expose it."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_spark_logs.testing.export import build_archive
from airflow_provider_spark_logs.testing.faults import Fault
from airflow_provider_spark_logs.testing.filters import CallFilter


@dataclass
class Job:
    """One submitted download job.

    Its ZIP is built in a background thread from the moment of submit, so that status polls stay
    fast even for a padded ZIP of hundreds of MiB; progress stops at 99 until the ZIP is ready.
    """

    job_id: str
    folder: str
    service: str
    fmt: str  # "csv" or "json": which endpoint pair created it
    call_filter: CallFilter
    fault: Fault | None = None  # a job-level fault (job_error / never_finish) attached at submit
    padding_bytes: int = 0
    created: float = field(default_factory=time.time)
    archive: Path | None = None  # set when the build succeeded
    build_error: str | None = None  # set when it failed
    download_token: str | None = None
    built: threading.Event = field(default_factory=threading.Event, repr=False)
    _started: float = field(default_factory=time.monotonic, repr=False)

    def progress(self, job_seconds: float) -> int:
        """0..100, growing linearly with the time since submit; 100 at once when job_seconds <= 0."""
        elapsed = time.monotonic() - self._started
        timed = 100 if job_seconds <= 0 else min(100, int(elapsed / job_seconds * 100))
        return timed if self.built.is_set() else min(timed, 99)

    @property
    def download_name(self) -> str:
        """File name (without ``.zip``) in the download URL; has spaces when the service name does."""
        return f"{self.service} calls {self.job_id[:8]}"

    def to_dict(self) -> dict[str, Any]:
        """Snapshot for :attr:`SparkEmulator.jobs`."""
        return {
            "job_id": self.job_id,
            "folder": self.folder,
            "service": self.service,
            "format": self.fmt,
            "filters": self.call_filter.to_dict(),
            "created": self.created,
            "fault": self.fault.to_dict() if self.fault else None,
            "padding_bytes": self.padding_bytes,
            "archive_bytes": self.archive.stat().st_size if self.archive else None,
            "build_error": self.build_error,
            "download_token": self.download_token,
        }

    def build(self, path: Path) -> None:
        """Write the job's ZIP to ``path`` (runs in the job's build thread)."""
        try:
            build_archive(
                path,
                self.service,
                self.call_filter.select(self.folder, self.service),
                fmt=self.fmt,
                timezone_offset=self.call_filter.timezone_offset,
                padding_bytes=self.padding_bytes,
            )
            self.archive = path
        except Exception as failure:  # reported through the status endpoint, not lost in a thread
            self.build_error = f"{type(failure).__name__}: {failure}"
        finally:
            self.built.set()


class JobStore:
    """All jobs of one emulator run, their archives (in a private temp directory) and tokens."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._tokens: dict[str, str] = {}  # download token -> job id
        self._builders: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._directory: Path | None = None

    def create(
        self,
        folder: str,
        service: str,
        fmt: str,
        call_filter: CallFilter,
        *,
        fault: Fault | None = None,
        padding_bytes: int = 0,
    ) -> Job:
        """Register a new job (progress starts now) and start building its ZIP."""
        job = Job(str(uuid.uuid4()), folder, service, fmt, call_filter, fault, padding_bytes)
        path = self._temp_directory() / f"{job.job_id}.zip"
        builder = threading.Thread(target=job.build, args=(path,), name=f"spark-emulator-job-{job.job_id[:8]}")
        with self._lock:
            self._jobs[job.job_id] = job
            self._builders = [thread for thread in self._builders if thread.is_alive()]
            self._builders.append(builder)
        builder.start()
        return job

    def get(self, job_id: str) -> Job | None:
        """The job with this id, if any."""
        with self._lock:
            return self._jobs.get(job_id)

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Copies of every job's description."""
        with self._lock:
            jobs = list(self._jobs.values())
        return {job.job_id: job.to_dict() for job in jobs}

    def ensure_token(self, job: Job) -> str:
        """The job's current download token, minting one if it has none (first time, or expired)."""
        with self._lock:
            if job.download_token is None:
                job.download_token = secrets.token_urlsafe(24)
                self._tokens[job.download_token] = job.job_id
            return job.download_token

    def job_for_token(self, token: str) -> Job | None:
        """The finished job a download token belongs to, if the token is still valid."""
        with self._lock:
            job_id = self._tokens.get(token)
            return self._jobs.get(job_id) if job_id else None

    def revoke_token(self, token: str) -> None:
        """Invalidate a download token; the job's next status poll mints a fresh one."""
        with self._lock:
            job_id = self._tokens.pop(token, None)
            job = self._jobs.get(job_id) if job_id else None
            if job is not None and job.download_token == token:
                job.download_token = None

    def close(self) -> None:
        """Wait for running builds, forget every job and token, and delete the archives."""
        with self._lock:
            builders, self._builders = self._builders, []
        for builder in builders:
            builder.join()
        with self._lock:
            self._jobs.clear()
            self._tokens.clear()
            directory, self._directory = self._directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def scratch_path(self, suffix: str) -> Path:
        """A fresh file name in the store's temp directory (deleted with it on close)."""
        return self._temp_directory() / f"scratch-{uuid.uuid4().hex}{suffix}"

    def _temp_directory(self) -> Path:
        with self._lock:
            if self._directory is None:
                self._directory = Path(tempfile.mkdtemp(prefix="spark-emulator-"))
            return self._directory
