"""Daily export of one Spark service's API call history: one checked ZIP per day in the data lake.

The timetable matters. On Airflow 3, ``schedule="@daily"`` gives runs an empty data interval
(start == end), which the operator refuses. ``CronDataIntervalTimetable`` gives each run the day
before it, ``[00:00, 24:00)`` UTC: that is the window exported, and the key it lands under::

    {SPARK_LOGS_DESTINATION}date=2026-01-01/Pricing/Motor_Quote/20260101T000000Z_20260102T000000Z.zip

Re-running a day replaces that key. Each landing emits an event on the ``MOTOR_QUOTE_LOGS`` asset
whose extra holds the landed URI, for ``example_spark_logs_consumer``. ``catchup`` is off; to fill
past days, run a backfill::

    airflow backfill create --dag-id example_spark_logs_daily \\
        --from-date 2026-01-01 --to-date 2026-03-31 --max-active-runs 4

Backfill runs start only while the DAG is unpaused; unpausing also schedules the latest day.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, Asset
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_spark_logs.operators.spark_logs import SparkLogExportOperator

# Where the ZIPs land: any ObjectStoragePath URI prefix, e.g. "s3://my-lake/spark-logs/".
DESTINATION = os.environ.get("SPARK_LOGS_DESTINATION", "file:///tmp/spark-logs/")
DESTINATION_CONN_ID = os.environ.get("SPARK_LOGS_DESTINATION_CONN_ID") or None
MOTOR_QUOTE_LOGS = Asset("coherent-spark-logs/pricing/motor-quote")

with DAG(
    dag_id="example_spark_logs_daily",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=4,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=1)},
    tags=["coherent-spark", "example"],
):
    SparkLogExportOperator(
        task_id="export_and_land",
        folder="Pricing",
        service="Motor Quote",
        destination=DESTINATION + "date={{ data_interval_start.in_timezone('UTC').strftime('%Y-%m-%d') }}/",
        destination_conn_id=DESTINATION_CONN_ID,
        deferrable=True,
        poll_interval=float(os.environ.get("SPARK_LOGS_POLL_SECONDS", "10")),
        outlets=[MOTOR_QUOTE_LOGS],
    )
