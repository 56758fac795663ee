"""Waiting for one export job, with no I/O: when to look again, and when to give up."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from airflow_provider_spark_logs.exceptions import SparkJobTimeoutError, SparkRetriesExhaustedError
from airflow_provider_spark_logs.protocol.messages import JobProgress, JobStatus


@dataclass
class JobWatch:
    """Waiting for one export job: when to look again, and when to give up.

    Shared by the worker's polling loop, the sensor and the trigger. ``deadline`` is wall-clock
    epoch seconds (``time.time()``), since the triggerer is another process, maybe another host.
    Transient failures that outlasted the hook's own retries are ridden out until the deadline.
    """

    job_id: str
    deadline: float
    poll_interval: float
    job_timeout: float
    last_progress: float | None = None
    last_error: str | None = None
    progress_changed: bool = False

    def after_status(self, status: JobStatus | JobProgress, now: float) -> float | None:
        """Seconds until the next look, or ``None`` when the job is done."""
        self.progress_changed = status.progress != self.last_progress
        self.last_progress = status.progress
        self.last_error = None
        return None if status.done else self.next_wait(now)

    def after_transient_error(self, error: SparkRetriesExhaustedError, now: float) -> float:
        self.last_error = str(error)
        return self.next_wait(now)

    def next_wait(self, now: float) -> float:
        remaining = self.deadline - now
        if remaining <= 0:
            raise SparkJobTimeoutError(self.timeout_message())
        return min(self.poll_interval, remaining)

    def first_wait(self, now: float) -> float:
        """The wait before a trigger's first look: one poll interval, plus this job's phase.

        The phase (a fixed fraction of a poll interval, from the job id) spreads the polls of
        triggers that start together, after a backfill or a triggerer restart, over the interval,
        instead of sending them all at once, every interval, through one event loop.
        """
        phase = zlib.crc32(self.job_id.encode()) / 2**32 * self.poll_interval
        return min(self.next_wait(now) + phase, max(0.0, self.deadline - now))

    def timeout_message(self) -> str:
        seen = f"last progress {self.last_progress:g}%" if self.last_progress is not None else "no progress seen"
        if self.last_error:
            seen += f"; last error: {self.last_error}"
        return (
            f"Spark log export job {self.job_id} did not finish within job_timeout={self.job_timeout:g} s "
            f"({seen}). Raise job_timeout if exports of this size take longer."
        )
