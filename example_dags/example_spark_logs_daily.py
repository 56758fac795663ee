"""Daily export of one Spark service's API call history, one ZIP per day.

The timetable matters: on Airflow 3, ``schedule="@daily"`` gives runs whose data interval is empty
(start == end). ``CronDataIntervalTimetable`` gives each run the day before it, ``[00:00, 24:00)``
UTC, which is the window exported.
"""

from __future__ import annotations

import os
import time
import zipfile
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, task
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs.protocol import LogFilters

FOLDER = os.environ.get("SPARK_LOGS_FOLDER", "Pricing")
SERVICE = os.environ.get("SPARK_LOGS_SERVICE", "Motor Quote")
DESTINATION = Path(os.environ.get("SPARK_LOGS_LOCAL_DIR", Path.home() / "spark-logs"))
POLL_SECONDS = float(os.environ.get("SPARK_LOGS_POLL_SECONDS", "2"))

with DAG(
    dag_id="example_spark_logs_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["coherent-spark", "example"],
):

    @task(retries=2)
    def export_and_land(data_interval_start: datetime | None = None, data_interval_end: datetime | None = None) -> str:
        if data_interval_start is None or data_interval_end is None or data_interval_end <= data_interval_start:
            raise ValueError("This DAG needs a day-long data interval: run it on its schedule or with a date.")
        hook = SparkLogHook()
        job_id = hook.submit_export(FOLDER, SERVICE, LogFilters(start=data_interval_start, end=data_interval_end))
        deadline = time.time() + 3600
        while not (status := hook.get_job_status(FOLDER, SERVICE, job_id)).done:
            if time.time() > deadline:
                raise TimeoutError(f"Spark log export job {job_id} did not finish within an hour.")
            time.sleep(POLL_SECONDS)
        target = DESTINATION / FOLDER / SERVICE / f"{data_interval_start:%Y-%m-%d}.zip"
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        try:
            with partial.open("wb") as spool:
                hook.download(status.download_url, spool)
            with zipfile.ZipFile(partial) as archive:
                if archive.testzip() is not None:
                    raise ValueError(f"The ZIP of job {job_id} is corrupt.")
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        print(f"Landed {target}")
        return str(target)

    export_and_land()
