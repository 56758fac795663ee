"""Every way the provider talks to Spark in one run, for tests/test_security.py to search for secrets.

First an export that lands in one deferrable task; then the split pipeline (start the job, wait
for it in a deferrable sensor, land it). One chain, so that the sensor runs right after its job
starts and defers. Nothing secret is in this file: each task's connection id comes from the
environment (so one run can use all three auth types), the destination from
``SPARK_LOGS_DESTINATION``.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_spark_logs.operators.spark_logs import SparkLogExportOperator
from airflow_provider_spark_logs.sensors.spark_logs import SparkLogJobSensor
from airflow_provider_spark_logs.transfers.spark_logs_to_object_storage import SparkLogToObjectStorageOperator

DESTINATION = os.environ.get("SPARK_LOGS_DESTINATION", "file:///tmp/spark-logs-secrets-probe/")
POLL_SECONDS = float(os.environ.get("SPARK_LOGS_POLL_SECONDS", "0.5"))


def conn_id(task: str) -> str:
    return os.environ.get(f"SPARK_LOGS_{task.upper()}_CONN_ID", "coherent_spark_default")


with DAG(
    dag_id="spark_logs_secrets_probe",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
):
    export_and_land = SparkLogExportOperator(
        task_id="export_and_land",
        spark_conn_id=conn_id("export_and_land"),
        folder="Pricing",
        service="Motor Quote",
        destination=DESTINATION + "one/",
        deferrable=True,
        poll_interval=POLL_SECONDS,
        job_timeout=120,
    )
    start_export = SparkLogExportOperator(
        task_id="start_export",
        spark_conn_id=conn_id("start_export"),
        folder="Pricing",
        service="Motor Quote",
        wait_for_completion=False,
    )
    wait_for_export = SparkLogJobSensor(
        task_id="wait_for_export",
        spark_conn_id=conn_id("wait_for_export"),
        job_id=start_export.output,
        folder="Pricing",
        service="Motor Quote",
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=120,
    )
    land = SparkLogToObjectStorageOperator(
        task_id="land",
        spark_conn_id=conn_id("land"),
        job_id=start_export.output,
        folder="Pricing",
        service="Motor Quote",
        destination=DESTINATION + "split/{{ ds }}/motor-quote.zip",
    )
    export_and_land >> start_export >> wait_for_export >> land
