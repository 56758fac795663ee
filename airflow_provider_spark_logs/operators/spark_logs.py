"""``SparkLogExportOperator``: export a service's API call history for a time window.

``execute`` submits the job (or reuses the one a previous try started), looks once, and then waits
either in the triggerer (``deferrable``, no worker slot held) or here. ``execute_complete`` resumes
after the trigger and fails loudly on anything but success.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any, NoReturn

from airflow_provider_spark_logs import DEFAULT_CONN_ID
from airflow_provider_spark_logs._compat import Asset, BaseOperator, Context, ObjectStoragePath, conf, task_state_store
from airflow_provider_spark_logs.arguments import check_destination, check_names, is_literal, seconds
from airflow_provider_spark_logs.exceptions import SparkConfigError, SparkLogError
from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs.landing import LandedObject, land_export
from airflow_provider_spark_logs.lineage import LandingLineage
from airflow_provider_spark_logs.protocol.job_watch import JobWatch
from airflow_provider_spark_logs.protocol.messages import ExportFormat, LogFilters, check_export_format
from airflow_provider_spark_logs.timestamps import to_utc
from airflow_provider_spark_logs.triggers.spark_logs import SparkLogJobTrigger, deferral_timeout, job_id_from_event
from airflow_provider_spark_logs.unpacking import (
    DEFAULT_MAX_COMPRESSION_RATIO,
    DEFAULT_MAX_UNPACKED_BYTES,
    DEFAULT_MAX_UNPACKED_FILES,
    UnpackLimits,
)
from airflow_provider_spark_logs.windows import check_window, resolve_window

TEMPLATED_FILTER_FIELDS = (
    "timezone_offset",
    "call_ids",
    "correlation_id",
    "source_system",
    "call_purpose",
    "user_name",
    "version_id",
)
FILTER_FIELDS = (*TEMPLATED_FILTER_FIELDS, "has_warnings", "has_errors")
STATE_KEY = "spark_log_export_job"


class SparkLogExportOperator(LandingLineage, BaseOperator):
    """Export the API call history of one Spark service for a window; return the job id.

    :param folder: Spark folder (templated).
    :param service: Spark service (templated).
    :param log_start: start of the half-open window ``[log_start, log_end)``: a datetime or an ISO 8601
        string (templated). Default: the run's ``data_interval_start``.
    :param log_end: end of the window (templated). Default: the run's ``data_interval_end``.
    :param timezone_offset: hours by which Spark shifts the exported timestamps (-12 to 14).
    :param call_ids: only these call ids; or use ``correlation_id`` or ``source_system`` instead.
    :param call_purpose: only calls with this call purpose.
    :param user_name: only calls by this user.
    :param has_warnings: only calls with (True) or without (False) warnings.
    :param has_errors: only calls with (True) or without (False) errors.
    :param version_id: only calls to this version of the service.
    :param export_format: ``csv`` (default) or ``json``: the ZIP holds CSV files, or JSON files with
        one array of call records each.
    :param wait_for_completion: wait for the job; False returns the job id at once, for a sensor.
    :param deferrable: wait in the triggerer instead of holding a worker slot.
    :param poll_interval: seconds between status checks.
    :param job_timeout: seconds (or a timedelta) to wait for the job before failing.
    :param spark_conn_id: the ``coherent_spark`` connection.
    :param destination: where to land the ZIP once the job is done (templated): a full object URI, or
        a prefix ending in ``/`` under which ``{folder}/{service}/{start}_{end}.zip`` is used. The
        operator then returns the landed URI instead of the job id.
    :param destination_conn_id: the store's connection, e.g. ``aws_default``.
    :param overwrite: replace an existing object (re-runs are idempotent); False fails if it exists.
    :param unpack: also land the ZIP's CSV (or JSON) files under the ZIP's key without ``.zip``: all
        of them or none, checked against the limits below before any is inflated.
    :param max_unpacked_bytes: the most the ZIP's members may inflate to in all (default 8 GiB).
    :param max_unpacked_files: the most files ``unpack`` lands (default 1000).
    :param max_compression_ratio: the highest ratio a member over 1 MiB may be compressed by
        (default 200); exported CSV or JSON compresses far less, a ZIP bomb far more.

    With a ``destination`` and Asset ``outlets``, each asset event's extra carries the landed
    ``uri``, ``size`` and ``sha256``, for DAGs scheduled on the asset.
    """

    template_fields: Sequence[str] = (
        "folder",
        "service",
        "log_start",
        "log_end",
        *TEMPLATED_FILTER_FIELDS,
        "destination",
    )
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        folder: str,
        service: str,
        log_start: Any = None,
        log_end: Any = None,
        timezone_offset: float | str | None = None,
        call_ids: Sequence[str] | str | None = None,
        correlation_id: str | None = None,
        source_system: str | None = None,
        call_purpose: str | None = None,
        user_name: str | None = None,
        has_warnings: bool | None = None,
        has_errors: bool | None = None,
        version_id: str | None = None,
        export_format: ExportFormat = "csv",
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 10.0,
        job_timeout: float | timedelta = 3600.0,
        spark_conn_id: str = DEFAULT_CONN_ID,
        destination: str | ObjectStoragePath | None = None,
        destination_conn_id: str | None = None,
        overwrite: bool = True,
        unpack: bool = False,
        max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
        max_unpacked_files: int = DEFAULT_MAX_UNPACKED_FILES,
        max_compression_ratio: float = DEFAULT_MAX_COMPRESSION_RATIO,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.folder = folder
        self.service = service
        self.log_start = log_start
        self.log_end = log_end
        self.timezone_offset = timezone_offset
        self.call_ids = call_ids
        self.correlation_id = correlation_id
        self.source_system = source_system
        self.call_purpose = call_purpose
        self.user_name = user_name
        self.has_warnings = has_warnings
        self.has_errors = has_errors
        self.version_id = version_id
        self.export_format = check_export_format(export_format)
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = seconds(poll_interval, "poll_interval")
        self.job_timeout = seconds(job_timeout, "job_timeout")
        self.spark_conn_id = spark_conn_id
        self.destination = destination
        self.destination_conn_id = destination_conn_id
        self.overwrite = overwrite
        self.unpack = unpack
        self.unpack_limits = UnpackLimits(max_unpacked_bytes, max_unpacked_files, max_compression_ratio)
        self.job_id: str | None = None
        self._check_literals()

    def _check_literals(self) -> None:
        """Reject bad literal arguments at DAG parse time; templated ones are checked in ``execute``."""
        check_names(folder=self.folder, service=self.service)
        if self.destination is not None:
            check_destination(self.destination, self.destination_conn_id)
        if self.destination is not None and not self.wait_for_completion:
            raise SparkConfigError(
                "destination needs wait_for_completion=True: land a job started without waiting "
                "with SparkLogToObjectStorageOperator after a SparkLogJobSensor."
            )
        literal_filters = {n: getattr(self, n) for n in FILTER_FIELDS if is_literal(getattr(self, n))}
        LogFilters(**literal_filters)
        bounds = {
            n: to_utc(v, n) for n in ("log_start", "log_end") if is_literal(v := getattr(self, n)) and v is not None
        }
        if len(bounds) == 2:
            check_window(bounds["log_start"], bounds["log_end"], "log_start", "log_end")

    @cached_property
    def hook(self) -> SparkLogHook:
        return SparkLogHook(self.spark_conn_id)

    def filters_for(self, context: Context) -> LogFilters:
        """The export's filters: the rendered arguments and the run's window, validated."""
        check_names(folder=self.folder, service=self.service)
        start, end = resolve_window(self.log_start, self.log_end, context)
        rendered = {n: getattr(self, n) for n in FILTER_FIELDS}
        rendered["timezone_offset"] = _rendered_number(self.timezone_offset)
        rendered["call_ids"] = _rendered_list(self.call_ids)
        return LogFilters(start=start, end=end, **rendered)

    def execute(self, context: Context) -> str:
        filters = self.filters_for(context)
        self.log.info(
            "Exporting the API call history of %s/%s for [%s, %s).",
            self.folder,
            self.service,
            filters.start.isoformat() if filters.start else None,
            filters.end.isoformat() if filters.end else None,
        )
        if not self.wait_for_completion:
            # Nothing to go on with in a retry, so nothing is kept: a re-run exports afresh.
            self.job_id = self.hook.submit_export(self.folder, self.service, filters, self.export_format)
            return self.job_id
        self.job_id = self._submit_or_reuse(filters, context)
        watch = JobWatch(self.job_id, time.time() + self.job_timeout, self.poll_interval, self.job_timeout)
        if not self.deferrable:
            self.hook.wait_for_job(self.folder, self.service, watch, self.export_format)
        elif self.hook.check_job(self.folder, self.service, watch, self.export_format) is not None:
            self._defer(watch)
        return self._finish(context, self.job_id)

    def _defer(self, watch: JobWatch) -> NoReturn:
        """Hand the wait to the triggerer; ``execute_complete`` goes on once the job is done."""
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
        self.job_id = job_id_from_event(event)
        return self._finish(context, self.job_id)

    def _finish(self, context: Context, job_id: str) -> str:
        """Land the done job's ZIP if asked, and return the job id or the landed URI."""
        self.log.info("Spark log export job %s is done.", job_id)
        return job_id if self.destination is None else self._land(context, job_id, self.destination)

    def _land(self, context: Context, job_id: str, destination: str | ObjectStoragePath) -> str:
        filters = self.filters_for(context)
        landed = land_export(
            self.hook,
            folder=self.folder,
            service=self.service,
            job_id=job_id,
            destination=destination,
            destination_conn_id=self.destination_conn_id,
            overwrite=self.overwrite,
            unpack=self.unpack,
            export_format=self.export_format,
            limits=self.unpack_limits,
            start=filters.start,
            end=filters.end,
        )
        announce_landed(landed, self.outlets, context)
        self.landing = (job_id, landed)
        return landed.uri

    def _submit_or_reuse(self, filters: LogFilters, context: Context) -> str:
        """Submit the export, unless a failed previous try of this task started the same one.

        Airflow 3.3's ``task_state_store`` survives retries, so a retry goes on with the job (running
        or finished) instead of exporting twice. The job is kept with the task instance's
        ``max_tries``, which Airflow raises when the task is cleared: a cleared task exports afresh,
        and nothing has to be deleted when a try succeeds (a worker killed after the landing, before
        Airflow recorded the success, would otherwise have its retry export again). On older
        versions, for a different request, or for a job Spark no longer knows, a new job is submitted.

        Airflow 3.3's ``ResumableJobMixin`` (AIP-103) is meant for this pattern but does not fit, as
        read in 3.3.2's ``airflow/sdk/bases/resumablejobmixin.py``: when it reconnects to a running
        job it returns what ``poll_until_complete`` returns (``None`` by its contract) instead of
        ``get_job_result``, so a retry would push no job id or landed URI; it reuses a stored id
        whatever the request, where a retry whose templates render another window must not reuse
        it; it keys the job by the task alone, so a cleared task would go on with the old job
        instead of exporting afresh; and it is written for the synchronous path, where this
        operator also defers. It does not exist before 3.3 either.
        """
        store = task_state_store(context)
        request: dict[str, Any] = {
            "folder": self.folder,
            "service": self.service,
            "export_format": self.export_format,
            "body": filters.request_body(),
        }
        reusable_for = {"request": request, "max_tries": getattr(context.get("ti"), "max_tries", None)}
        previous = store.get(STATE_KEY) if store is not None else None
        if isinstance(previous, dict) and {k: previous.get(k) for k in reusable_for} == reusable_for:
            job_id = str(previous["job_id"])
            try:
                self.hook.get_job_status(self.folder, self.service, job_id, self.export_format)
            except SparkLogError as error:
                self.log.warning("Job %s of a previous try cannot be reused (%s); starting a new one.", job_id, error)
            else:
                self.log.info("Reusing Spark log export job %s, started by a previous try.", job_id)
                return job_id
        job_id = self.hook.submit_export(self.folder, self.service, filters, self.export_format)
        if store is not None:
            store.set(STATE_KEY, {"job_id": job_id, **reusable_for})
        return job_id

    def on_kill(self) -> None:
        if self.job_id:
            self.log.info("Spark has no cancel endpoint for log exports: job %s runs to its end.", self.job_id)


def _rendered_number(value: Any) -> Any:
    """A templated ``timezone_offset`` renders to a string; a numeric one becomes a number."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value


def _rendered_list(value: Any) -> Any:
    """A templated ``call_ids`` may render to the text of a JSON list."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            return json.loads(value)
        except ValueError:
            pass
    return value


def announce_landed(landed: LandedObject, outlets: Iterable[Any], context: Mapping[str, Any]) -> None:
    """Put the landed URI, size and digest in the extra of the task's asset events, for consumers."""
    events = context.get("outlet_events")
    if events is None:
        return
    for outlet in outlets:
        if isinstance(outlet, Asset):
            events[outlet].extra.update({"uri": landed.uri, "size": landed.size, "sha256": landed.sha256})
