"""Land one finished job's ZIP, as a worker does: run as a child process, prints one JSON line.

``python -m benchmarks.landing_run JOB_ID DESTINATION``; the Spark connection (and, for ``s3://``,
``aws_default``) come from the environment. Peak RSS is measured from just before the landing.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs.landing import land_export
from benchmarks.emulator_process import FOLDER, SERVICE
from benchmarks.trigger_load import reset_peak_rss, rss_kib


def cpu_seconds() -> float:
    """CPU time of this process and of the children it waited for (none, today), user + system."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(job_id: str, destination: str) -> int:
    hook = SparkLogHook()
    hook.get_config()
    rss_before = rss_kib()
    reset_peak_rss()
    cpu_before, started = cpu_seconds(), time.perf_counter()
    landed = land_export(
        hook,
        folder=FOLDER,
        service=SERVICE,
        job_id=job_id,
        destination=destination,
        destination_conn_id="aws_default" if destination.startswith("s3://") else None,
    )
    result = {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": cpu_seconds() - cpu_before,
        "rss_peak_growth_mib": (rss_kib("VmHWM") - rss_before) / 1024,
        "size": landed.size,
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
