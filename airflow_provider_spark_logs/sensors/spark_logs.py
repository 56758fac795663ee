"""``SparkLogJobSensor``: wait for a log export job that another task started."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow_provider_spark_logs import DEFAULT_CONN_ID
from airflow_provider_spark_logs._compat import BaseSensorOperator, Context, PokeReturnValue, conf
from airflow_provider_spark_logs.arguments import check_names, seconds
from airflow_provider_spark_logs.exceptions import SparkRetriesExhaustedError
from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs.protocol.job_watch import JobWatch
from airflow_provider_spark_logs.protocol.messages import ExportFormat, check_export_format
from airflow_provider_spark_logs.triggers.spark_logs import SparkLogJobTrigger, deferral_timeout, job_id_from_event


class SparkLogJobSensor(BaseSensorOperator):
    """Wait until a Spark log export job is done; return its job id.

    Typically after ``SparkLogExportOperator(wait_for_completion=False)``. ``timeout`` (seconds)
    bounds the wait in both modes; ``poke_interval`` is the time between status checks.

    :param job_id: the job (templated), e.g. ``"{{ ti.xcom_pull(task_ids='export') }}"``.
    :param folder: Spark folder of the job (templated).
    :param service: Spark service of the job (templated).
    :param export_format: ``csv`` (default) or ``json``: the format the job was started with, whose
        endpoint it is polled on.
    :param deferrable: wait in the triggerer instead of holding a worker slot.
    :param spark_conn_id: the ``coherent_spark`` connection.
    """

    template_fields: Sequence[str] = ("job_id", "folder", "service")
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        job_id: str,
        folder: str,
        service: str,
        export_format: ExportFormat = "csv",
        spark_conn_id: str = DEFAULT_CONN_ID,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: float = 10.0,
        timeout: float = 3600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.job_id = job_id
        self.folder = folder
        self.service = service
        self.export_format = check_export_format(export_format)
        self.spark_conn_id = spark_conn_id
        self.deferrable = deferrable
        check_names(job_id=job_id, folder=folder, service=service)

    @cached_property
    def hook(self) -> SparkLogHook:
        return SparkLogHook(self.spark_conn_id)

    def poke(self, context: Context) -> PokeReturnValue:
        check_names(job_id=self.job_id, folder=self.folder, service=self.service)
        try:
            status = self.hook.get_job_status(self.folder, self.service, self.job_id, self.export_format)
        except SparkRetriesExhaustedError as error:
            self.log.warning("Spark is not answering for now (%s); poking again later.", error)
            return PokeReturnValue(is_done=False)
        self.log.info("Spark log export job %s: %g%% done.", self.job_id, status.progress)
        return PokeReturnValue(is_done=status.done, xcom_value=self.job_id)

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context)
        check_names(job_id=self.job_id, folder=self.folder, service=self.service)
        timeout = seconds(self.timeout, "timeout")
        watch = JobWatch(self.job_id, time.time() + timeout, float(self.poke_interval), timeout)
        if self.hook.check_job(self.folder, self.service, watch, self.export_format) is None:
            return self.job_id
        self.defer(
            trigger=SparkLogJobTrigger.watching(
                watch,
                folder=self.folder,
                service=self.service,
                spark_conn_id=self.spark_conn_id,
                export_format=self.export_format,
            ),
            method_name="execute_complete",
            timeout=deferral_timeout(watch),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        return job_id_from_event(event)
