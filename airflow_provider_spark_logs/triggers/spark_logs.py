"""``SparkLogJobTrigger``: waits for a Spark log export job in the triggerer, holding no worker slot.

The triggerer's event loop is shared by every DAG of a deployment, so ``run()`` only awaits: the
async hook, ``asyncio.sleep``, and the connection fetched with ``aget_connection``. Its kwargs are
primitives with a wall-clock deadline; no secret or download URL ever goes into them, or into an
event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from airflow_provider_spark_logs import DEFAULT_CONN_ID
from airflow_provider_spark_logs._compat import BaseTrigger, TriggerEvent
from airflow_provider_spark_logs.exceptions import SparkJobError, SparkJobTimeoutError, SparkLogError
from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs.protocol.job_watch import JobWatch
from airflow_provider_spark_logs.protocol.messages import ExportFormat, check_export_format

SUCCESS, ERROR, TIMEOUT = "success", "error", "timeout"


class SparkLogJobTrigger(BaseTrigger):
    """Poll one export job until it is done, fails, or passes ``deadline``; yield exactly one event.

    It never submits a job, so rebuilding it from :meth:`serialize` after a triggerer restart just
    goes on polling the same job. The first poll comes one ``poll_interval`` after the start (the
    operator has just looked, and an event fired within seconds of a deferral can race Airflow's
    scheduler, apache/airflow #66374), plus a phase of up to one more, fixed per job, so that
    triggers started together do not poll in step. All polls go over one HTTP session, closed when
    the trigger ends or is cancelled.

    :param deadline: epoch seconds (``time.time()``) after which the event is a timeout.
    :param job_timeout: the operator's timeout in seconds, for the timeout message.
    :param export_format: ``csv`` or ``json``, the endpoint the job was started on and is polled on.
    """

    def __init__(
        self,
        *,
        job_id: str,
        folder: str,
        service: str,
        deadline: float,
        poll_interval: float = 10.0,
        job_timeout: float = 3600.0,
        spark_conn_id: str = DEFAULT_CONN_ID,
        export_format: ExportFormat = "csv",
    ) -> None:
        super().__init__()
        self.job_id = job_id
        self.folder = folder
        self.service = service
        self.deadline = float(deadline)
        self.poll_interval = float(poll_interval)
        self.job_timeout = float(job_timeout)
        self.spark_conn_id = spark_conn_id
        self.export_format = check_export_format(export_format)

    @classmethod
    def watching(
        cls, watch: JobWatch, *, folder: str, service: str, spark_conn_id: str, export_format: ExportFormat
    ) -> SparkLogJobTrigger:
        """The trigger that goes on with a watch that a worker started."""
        return cls(
            job_id=watch.job_id,
            folder=folder,
            service=service,
            deadline=watch.deadline,
            poll_interval=watch.poll_interval,
            job_timeout=watch.job_timeout,
            spark_conn_id=spark_conn_id,
            export_format=export_format,
        )

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "folder": self.folder,
                "service": self.service,
                "deadline": self.deadline,
                "poll_interval": self.poll_interval,
                "job_timeout": self.job_timeout,
                "spark_conn_id": self.spark_conn_id,
                "export_format": self.export_format,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        watch = JobWatch(self.job_id, self.deadline, self.poll_interval, self.job_timeout)
        hook = SparkLogHook(self.spark_conn_id)
        try:
            await asyncio.sleep(watch.first_wait(time.time()))
            async with hook.async_session():  # one connection for all polls; closed on end or cancel
                await self._wait(hook, watch)
        except SparkJobTimeoutError as error:
            yield self._event(TIMEOUT, str(error))
        except SparkLogError as error:
            yield self._event(ERROR, str(error))
        else:
            yield self._event(SUCCESS)

    async def _wait(self, hook: SparkLogHook, watch: JobWatch) -> None:
        while (wait := await hook.acheck_job(self.folder, self.service, watch, self.export_format)) is not None:
            if watch.progress_changed:
                self.log.info("Spark log export job %s: %g%% done.", self.job_id, watch.last_progress)
            await asyncio.sleep(wait)

    def _event(self, status: str, message: str | None = None) -> TriggerEvent:
        payload: dict[str, Any] = {"status": status, "job_id": self.job_id}
        if message is not None:
            payload["message"] = message
        return TriggerEvent(payload)


def deferral_timeout(watch: JobWatch) -> timedelta:
    """A backstop slightly beyond the trigger's own deadline; the trigger reports the timeout itself."""
    return timedelta(seconds=watch.job_timeout + max(60.0, 2 * watch.poll_interval))


def job_id_from_event(event: dict[str, Any] | None) -> str:
    """The job id of a success event; any other event fails the task with the trigger's message."""
    if not isinstance(event, dict) or "status" not in event:
        raise SparkJobError(f"SparkLogJobTrigger sent an event this provider does not know: {event!r}.")
    if event["status"] == SUCCESS:
        return str(event["job_id"])
    message = event.get("message") or f"SparkLogJobTrigger reported {event['status']} with no message."
    if event["status"] == TIMEOUT:
        raise SparkJobTimeoutError(message)
    raise SparkJobError(message)
