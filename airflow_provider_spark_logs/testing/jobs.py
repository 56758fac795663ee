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
    """One submitted download job."""

    job_id: str
    folder: str
    service: str
    fmt: str  # "csv" or "json": which endpoint pair created it
    call_filter: CallFilter
    fault: Fault | None = None  # a job-level fault (job_error / never_finish) attached at submit
    created: float = field(default_factory=time.time)
    _started: float = field(default_factory=time.monotonic, repr=False)
    archive: Path | None = None
    download_token: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def progress(self, job_seconds: float) -> int:
        """0..100, growing linearly with the time since submit; 100 at once when job_seconds <= 0."""
        if job_seconds <= 0:
            return 100
        return min(100, int((time.monotonic() - self._started) / job_seconds * 100))

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
            "archive_bytes": self.archive.stat().st_size if self.archive else None,
            "download_token": self.download_token,
        }


class JobStore:
    """All jobs of one emulator run, their archives (in a private temp directory) and tokens."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._tokens: dict[str, str] = {}  # download token -> job id
        self._lock = threading.Lock()
        self._directory: Path | None = None

    def create(self, folder: str, service: str, fmt: str, call_filter: CallFilter, fault: Fault | None) -> Job:
        """Register a new job, progress starting now."""
        job = Job(str(uuid.uuid4()), folder, service, fmt, call_filter, fault)
        with self._lock:
            self._jobs[job.job_id] = job
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

    def ensure_archive(self, job: Job, padding_bytes: int) -> Path:
        """Build the job's ZIP on first need (once; concurrent polls wait for the first build)."""
        with job.lock:
            if job.archive is None:
                path = self._temp_directory() / f"{job.job_id}.zip"
                build_archive(
                    path,
                    job.service,
                    job.call_filter.select(job.folder, job.service),
                    fmt=job.fmt,
                    timezone_offset=job.call_filter.timezone_offset,
                    padding_bytes=padding_bytes,
                )
                job.archive = path
            return job.archive

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
        """Forget every job and token and delete the archives."""
        with self._lock:
            self._jobs.clear()
            self._tokens.clear()
            directory, self._directory = self._directory, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def _temp_directory(self) -> Path:
        with self._lock:
            if self._directory is None:
                self._directory = Path(tempfile.mkdtemp(prefix="spark-emulator-"))
            return self._directory
