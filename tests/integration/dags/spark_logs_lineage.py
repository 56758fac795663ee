"""Both landing tasks, for the OpenLineage test: an export with a destination, and a transfer."""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_spark_logs.operators.spark_logs import SparkLogExportOperator
from airflow_provider_spark_logs.sensors.spark_logs import SparkLogJobSensor
from airflow_provider_spark_logs.transfers.spark_logs_to_object_storage import SparkLogToObjectStorageOperator

LAKE = os.environ.get("SPARK_LOGS_TEST_LAKE", "/tmp/spark-logs-lineage-lake")
SERVICE = {"folder": "Pricing", "service": "Motor Quote"}

with DAG(
    dag_id="spark_logs_lineage",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
):
    SparkLogExportOperator(task_id="export_and_land", destination=f"file://{LAKE}/", poll_interval=0.2, **SERVICE)
    export = SparkLogExportOperator(task_id="export", wait_for_completion=False, **SERVICE)
    wait = SparkLogJobSensor(task_id="wait", job_id=export.output, poke_interval=0.2, **SERVICE)
    land = SparkLogToObjectStorageOperator(
        task_id="land", job_id=export.output, destination=f"file://{LAKE}/transferred.zip", **SERVICE
    )
    export >> wait >> land
