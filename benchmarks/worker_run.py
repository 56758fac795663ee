"""Worker time of one export, deferrable or not: run as a child process, prints one JSON line.

``python -m benchmarks.worker_run deferrable|sync POLL_INTERVAL``. Worker time is the wall time
spent in the operator's ``execute`` (and, when deferrable, ``execute_complete``); the wait in the
trigger is the triggerer's, not a worker slot's.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from datetime import datetime, timezone
from typing import Any

from airflow_provider_spark_logs._compat import TaskDeferred
from airflow_provider_spark_logs.operators.spark_logs import SparkLogExportOperator
from benchmarks.emulator_process import FOLDER, SERVICE

CONTEXT: dict[str, Any] = {
    "data_interval_start": datetime(2026, 1, 1, tzinfo=timezone.utc),
    "data_interval_end": datetime(2026, 1, 2, tzinfo=timezone.utc),
}


async def first_event(trigger: Any) -> Any:
    async for event in trigger.run():
        return event.payload
    raise RuntimeError("the trigger ended without an event")


def main(mode: str, poll_interval: float) -> int:
    operator = SparkLogExportOperator(
        task_id="export", folder=FOLDER, service=SERVICE, deferrable=mode == "deferrable", poll_interval=poll_interval
    )
    started = time.perf_counter()
    worker, cpu = 0.0, 0.0
    try:
        cpu_before, begin = time.process_time(), time.perf_counter()
        operator.execute(CONTEXT)
        worker, cpu = time.perf_counter() - begin, time.process_time() - cpu_before
    except TaskDeferred as deferred:
        worker, cpu = time.perf_counter() - begin, time.process_time() - cpu_before
        event = asyncio.run(first_event(deferred.trigger))
        cpu_before, begin = time.process_time(), time.perf_counter()
        getattr(operator, deferred.method_name)(CONTEXT, event)
        worker, cpu = worker + time.perf_counter() - begin, cpu + time.process_time() - cpu_before
    print(
        json.dumps(
            {
                "mode": mode,
                "worker_seconds": worker,
                "worker_cpu_seconds": cpu,
                "export_seconds": time.perf_counter() - started,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], float(sys.argv[2])))
