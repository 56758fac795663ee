"""The export as three tasks: start the job, wait for it in the triggerer, land it.

Useful when the landing should be retried on its own, or when the job is started by another DAG.
The sensor is deferrable, so no worker slot is held while Spark prepares the export. The key is
built from the run's window, so a re-run replaces it.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_spark_logs.operators.spark_logs import SparkLogExportOperator
from airflow_provider_spark_logs.sensors.spark_logs import SparkLogJobSensor
from airflow_provider_spark_logs.transfers.spark_logs_to_object_storage import SparkLogToObjectStorageOperator

DESTINATION = os.environ.get("SPARK_LOGS_DESTINATION", "file:///tmp/spark-logs/")
DESTINATION_CONN_ID = os.environ.get("SPARK_LOGS_DESTINATION_CONN_ID") or None
POLL_SECONDS = float(os.environ.get("SPARK_LOGS_POLL_SECONDS", "10"))
DAY = "{{ data_interval_start.in_timezone('UTC').strftime('%Y-%m-%d') }}"

with DAG(
    dag_id="example_spark_logs_split",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["coherent-spark", "example"],
):
    start_export = SparkLogExportOperator(
        task_id="start_export",
        folder="Pricing",
        service="Motor Quote",
        wait_for_completion=False,
    )
    wait_for_export = SparkLogJobSensor(
        task_id="wait_for_export",
        job_id=start_export.output,
        folder="Pricing",
        service="Motor Quote",
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=3600,
    )
    land = SparkLogToObjectStorageOperator(
        task_id="land",
        job_id=start_export.output,
        folder="Pricing",
        service="Motor Quote",
        destination=DESTINATION + f"split/date={DAY}/motor-quote.zip",
        destination_conn_id=DESTINATION_CONN_ID,
    )
    wait_for_export >> land
