"""A deferrable export on a data-interval timetable, whose job id a downstream task writes to a file."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, task
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_spark_logs.operators.spark_logs import SparkLogExportOperator

with DAG(
    dag_id="spark_logs_deferrable_export",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
):
    export = SparkLogExportOperator(
        task_id="export",
        folder="Pricing",
        service="Motor Quote",
        deferrable=True,
        poll_interval=0.5,
        job_timeout=120,
    )

    @task
    def record(job_id: str) -> None:
        Path(os.environ["SPARK_LOGS_TEST_OUTPUT"]).write_text(job_id)

    record(export.output)
