"""Export one arbitrary range, split into windows, in a single run (dynamic task mapping).

For users who want one run for a quarter instead of ninety daily runs: trigger it with the range
as params, e.g. ``airflow dags trigger example_spark_logs_range -c '{"start": "2026-01-01T00:00:00Z",
"end": "2026-04-01T00:00:00Z", "window_hours": 24}'``. Each window becomes one mapped export that
lands ``range/Pricing/Motor_Quote/<start>_<end>.zip``; consecutive windows share their bounds, so
every call is exported exactly once. At most four exports run at a time.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, Param, task

from airflow_provider_spark_logs.operators.spark_logs import SparkLogExportOperator
from airflow_provider_spark_logs.windows import split_window

DESTINATION = os.environ.get("SPARK_LOGS_DESTINATION", "file:///tmp/spark-logs/")
DESTINATION_CONN_ID = os.environ.get("SPARK_LOGS_DESTINATION_CONN_ID") or None

with DAG(
    dag_id="example_spark_logs_range",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    params={
        "start": Param("2026-01-01T00:00:00Z", type="string", description="start of the range (inclusive)"),
        "end": Param("2026-01-04T00:00:00Z", type="string", description="end of the range (exclusive)"),
        "window_hours": Param(24, type="integer", minimum=1, description="length of each window"),
    },
    tags=["coherent-spark", "example"],
):

    @task
    def windows(params: dict | None = None) -> list[dict[str, str]]:
        assert params is not None
        return split_window(params["start"], params["end"], timedelta(hours=params["window_hours"]))

    SparkLogExportOperator.partial(
        task_id="export_window",
        folder="Pricing",
        service="Motor Quote",
        destination=DESTINATION + "range/",
        destination_conn_id=DESTINATION_CONN_ID,
        deferrable=True,
        poll_interval=float(os.environ.get("SPARK_LOGS_POLL_SECONDS", "10")),
        retries=2,
        max_active_tis_per_dag=4,
    ).expand_kwargs(windows())
