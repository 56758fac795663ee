"""Run by test_memory: land two finished jobs in this fresh process and report the peak RSS growth.

The first (small) landing warms up imports, connections and the S3 filesystem; the growth of the
peak resident set size across the second (large) one is what the landing itself costs.
"""

from __future__ import annotations

import json
import resource
import sys

from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs.landing import land_export


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main(small_job: str, big_job: str, destination_prefix: str) -> None:
    hook = SparkLogHook()
    common = {"folder": "Pricing", "service": "Motor Quote", "destination_conn_id": "aws_default"}
    land_export(hook, job_id=small_job, destination=destination_prefix + "small.zip", **common)
    before = peak_rss_bytes()
    landed = land_export(hook, job_id=big_job, destination=destination_prefix + "big.zip", **common)
    after = peak_rss_bytes()
    print(json.dumps({"uri": landed.uri, "size": landed.size, "sha256": landed.sha256, "growth": after - before}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
