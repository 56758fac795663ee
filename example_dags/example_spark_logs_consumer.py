"""A downstream DAG scheduled on the landed logs: it reads the CSVs of each new ZIP.

``example_spark_logs_daily`` lands a ZIP and emits an event on the asset below, whose extra holds
the landed URI (with its size and SHA-256). This DAG runs on each such event and summarises the
calls: how many, and how many had errors or warnings.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Asset, ObjectStoragePath, task

MOTOR_QUOTE_LOGS = Asset("coherent-spark-logs/pricing/motor-quote")
DESTINATION_CONN_ID = os.environ.get("SPARK_LOGS_DESTINATION_CONN_ID") or None

with DAG(
    dag_id="example_spark_logs_consumer",
    schedule=[MOTOR_QUOTE_LOGS],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["coherent-spark", "example"],
):

    @task(inlets=[MOTOR_QUOTE_LOGS])
    def summarise(triggering_asset_events: Any = None, inlet_events: Any = None) -> dict[str, int]:
        """Summarise the ZIP of the event that triggered this run (or the latest one, run by hand)."""
        events = list(triggering_asset_events[MOTOR_QUOTE_LOGS]) if triggering_asset_events else []
        event = events[-1] if events else inlet_events[MOTOR_QUOTE_LOGS][-1]
        summary = {"files": 0, "calls": 0, "with_errors": 0, "with_warnings": 0}
        with ObjectStoragePath(event.extra["uri"], conn_id=DESTINATION_CONN_ID).open("rb") as landed:
            archive = zipfile.ZipFile(landed)
            for name in (n for n in archive.namelist() if n.endswith(".csv")):
                summary["files"] += 1
                with archive.open(name) as member:
                    for row in csv.DictReader(io.TextIOWrapper(member, "utf-8")):
                        summary["calls"] += 1
                        summary["with_errors"] += bool(row["Error Details"])
                        summary["with_warnings"] += bool(row["Warning Details"])
        print(f"Summary of {event.extra['uri']}: {summary}")
        return summary

    summarise()
