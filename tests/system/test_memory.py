"""A 200 MiB ZIP lands in S3 with the process's peak memory growing by less than 64 MiB."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs.protocol.messages import LogFilters
from tests.helpers import wait_until

MIB = 2**20
SCRIPT = Path(__file__).with_name("land_and_measure.py")


def finished_job(hook: SparkLogHook) -> str:
    job_id = hook.submit_export(
        "Pricing", "Motor Quote", LogFilters(start="2026-01-01T00:00:00Z", end="2026-01-02T00:00:00Z")
    )
    wait_until(lambda: hook.get_job_status("Pricing", "Motor Quote", job_id).done, timeout=120, interval=0.2)
    return job_id


def test_a_200_mib_zip_lands_in_bounded_memory(emulator, connect, s3):
    connect()
    emulator.job_seconds = 0
    hook = SparkLogHook()
    small = finished_job(hook)
    emulator.zip_padding_bytes = 200 * MIB
    big = finished_job(hook)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), small, big, f"s3://{s3.name}/memory/"],
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["size"] >= 200 * MIB
    assert report["growth"] < 64 * MIB, f"peak RSS grew by {report['growth'] / MIB:.1f} MiB"
    body = s3.client.get_object(Bucket=s3.name, Key="memory/big.zip")["Body"]
    digest, size = hashlib.sha256(), 0
    for chunk in body.iter_chunks(MIB):
        digest.update(chunk)
        size += len(chunk)
    assert (size, digest.hexdigest()) == (report["size"], report["sha256"])
    print(f"peak RSS growth while landing {size / MIB:.0f} MiB: {report['growth'] / MIB:.1f} MiB")
