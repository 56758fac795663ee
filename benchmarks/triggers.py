"""Section "triggers": N deferred exports in one event loop, over HTTPS, every call slowed down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.emulator_process import EmulatorProcess, dumps, running_emulator

VARIANTS = ("provider", "new_session", "sync_to_async")
VARIANT_NAMES = {
    "provider": "SparkLogJobTrigger",
    "new_session": "aiohttp, new session per poll",
    "sync_to_async": "sync_to_async(sync hook)",
}


@dataclass(frozen=True)
class TriggerLoad:
    jobs: int
    job_seconds: float
    poll_interval: float
    latency: float
    cap: float  # a run still going after this many seconds is stopped and reported as such


def child_env(connection: dict[str, Any], home: str) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_CONN_COHERENT_SPARK_DEFAULT": dumps(connection),
    }


def connections_per_job(records: list[dict[str, Any]], job_ids: list[str]) -> tuple[int, float, float]:
    """Status polls seen, and the mean and max number of distinct TCP connections per job."""
    wanted = set(job_ids)
    connections: dict[str, set[int]] = defaultdict(set)
    polls = 0
    for record in records:
        if record["target"] != "status":
            continue
        job_id = record["path"].rstrip("/").rsplit("/", 1)[-1]
        if job_id in wanted:
            polls += 1
            connections[job_id].add(record["connection"])
    counts = [len(connections[job_id]) for job_id in job_ids]
    return polls, sum(counts) / max(1, len(counts)), float(max(counts, default=0))


def run_variant(emulator: EmulatorProcess, variant: str, load: TriggerLoad, home: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="spark-bench-jobs-") as scratch:
        jobs_file = Path(scratch) / "jobs.json"
        setup = {
            "emulator": emulator.addresses(),
            "variant": variant,
            "jobs": load.jobs,
            "job_seconds": load.job_seconds,
            "latency": load.latency,
            "poll_interval": load.poll_interval,
            "cap": load.cap,
            "jobs_file": str(jobs_file),
        }
        answer = subprocess.run(
            [sys.executable, "-m", "benchmarks.trigger_load", dumps(setup)],
            capture_output=True,
            text=True,
            env=child_env(emulator.connection(), home),
            timeout=load.cap + 600,
            check=False,
        )
        if answer.returncode != 0:
            raise RuntimeError(f"trigger load {variant} failed:\n{answer.stderr[-3000:]}")
        job_ids = json.loads(jobs_file.read_text())
    result: dict[str, Any] = json.loads(answer.stdout.strip().splitlines()[-1])
    polls, mean_connections, max_connections = connections_per_job(emulator.requests(), job_ids)
    result.update(
        polls=polls,
        cpu_ms_per_poll=1000 * result["cpu_seconds"] / max(1, polls),
        connections_per_job=mean_connections,
        connections_per_job_max=max_connections,
        poll_interval=load.poll_interval,
        job_seconds=load.job_seconds,
    )
    return result


def run(loads: list[TriggerLoad], variants: tuple[str, ...] = VARIANTS) -> list[dict[str, Any]]:
    results = []
    with tempfile.TemporaryDirectory(prefix="spark-bench-home-") as home:
        for load in loads:
            for variant in variants:
                with running_emulator("--tls", "--job-seconds", str(load.job_seconds)) as emulator:
                    result = run_variant(emulator, variant, load, home)
                print(f"  triggers {variant} N={load.jobs}: {summary(result)}", file=sys.stderr, flush=True)
                results.append(result)
    return results


def summary(result: dict[str, Any]) -> str:
    return (
        f"{result['succeeded']}/{result['jobs']} done in {result['seconds']:.1f} s, lag p50/p99/max "
        f"{result['lag_p50_ms']:.0f}/{result['lag_p99_ms']:.0f}/{result['lag_max_ms']:.0f} ms, "
        f"{result['cpu_ms_per_poll']:.2f} CPU ms/poll, RSS +{result['rss_growth_mib']:.0f} MiB, "
        f"masker +{result['masker_patterns_added']}, {result['connections_per_job']:.2f} conn/job"
        + (f", errors {result['errors']}" if result["errors"] else "")
    )
