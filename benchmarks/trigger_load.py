"""One event loop full of triggers, as in a triggerer: run as a child process, prints one JSON line.

``python -m benchmarks.trigger_load SETUP_JSON``; the connection comes from
``AIRFLOW_CONN_COHERENT_SPARK_DEFAULT``. Once its imports are done, it submits the jobs (with the
emulator's latency off), so that they all start now; it writes their ids to ``jobs_file``. Each
trigger is rebuilt from its serialized kwargs (as the triggerer does) and run to its end; the
loop's lag, the process's CPU time, RSS and secret-masker patterns are measured around the run.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from airflow.sdk._shared.secrets_masker import _secrets_masker

from airflow_provider_spark_logs.triggers.spark_logs import SparkLogJobTrigger
from benchmarks.baselines import NewSessionPerPollTrigger, SyncToAsyncTrigger
from benchmarks.emulator_process import FOLDER, SERVICE, EmulatorProcess

LAG_PROBE_SECONDS = 0.01


def build_trigger(variant: str, job_id: str, poll_interval: float) -> Any:
    """The trigger as the triggerer gets it: rebuilt from its classpath and serialized kwargs."""
    common = {"job_id": job_id, "folder": FOLDER, "service": SERVICE, "poll_interval": poll_interval}
    if variant == "provider":
        original: Any = SparkLogJobTrigger(**common, deadline=time.time() + 3600, job_timeout=3600)
    elif variant == "new_session":
        original = NewSessionPerPollTrigger(**common, spark_conn_id="coherent_spark_default")
    else:
        original = SyncToAsyncTrigger(**common, spark_conn_id="coherent_spark_default")
    classpath, kwargs = original.serialize()
    module, _, name = classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**kwargs)


def rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak_rss() -> None:
    """Make VmHWM start again from the current RSS (Linux: write 5 to clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")


async def probe_lag(samples: list[float], stop: asyncio.Event) -> None:
    """How late the loop wakes a sleeper: what every other coroutine in a busy triggerer suffers."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(LAG_PROBE_SECONDS)
        samples.append(time.perf_counter() - started - LAG_PROBE_SECONDS)


class GcPauses:
    """The longest pause of the cyclic garbage collector, per generation: part of any loop's lag."""

    def __init__(self) -> None:
        self.longest = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            generation = info["generation"]
            self.count[generation] += 1
            self.longest[generation] = max(self.longest[generation], time.perf_counter() - self._started)


async def run_to_end(trigger: Any) -> list[Any]:
    return [event async for event in trigger.run()]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


async def measure(variant: str, job_ids: list[str], poll_interval: float, cap: float) -> dict[str, Any]:
    masker = _secrets_masker()
    triggers = [build_trigger(variant, job_id, poll_interval) for job_id in job_ids]
    gc.collect()
    patterns_before, rss_before = len(masker.patterns), rss_kib()
    reset_peak_rss()
    lag: list[float] = []
    stop = asyncio.Event()
    prober = asyncio.create_task(probe_lag(lag, stop))
    pauses = GcPauses()
    gc.callbacks.append(pauses)
    cpu_before, started = time.process_time(), time.perf_counter()
    tasks = [asyncio.create_task(run_to_end(trigger)) for trigger in triggers]
    done, pending = await asyncio.wait(tasks, timeout=cap)
    elapsed = time.perf_counter() - started
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    cpu = time.process_time() - cpu_before
    stop.set()
    await prober
    gc.callbacks.remove(pauses)
    succeeded = sum(
        1 for task in done if not task.exception() and task.result() and task.result()[0].payload["status"] == "success"
    )
    errors = [repr(task.exception()) for task in done if task.exception()][:3]
    del triggers, tasks, done, pending
    gc.collect()
    return {
        "variant": variant,
        "jobs": len(job_ids),
        "succeeded": succeeded,
        "errors": errors,
        "capped": elapsed >= cap,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "lag_p50_ms": 1000 * statistics.median(lag) if lag else 0.0,
        "lag_p99_ms": 1000 * percentile(lag, 0.99),
        "lag_max_ms": 1000 * max(lag, default=0.0),
        "rss_growth_mib": (rss_kib() - rss_before) / 1024,
        "rss_peak_growth_mib": (rss_kib("VmHWM") - rss_before) / 1024,
        "masker_patterns_added": len(masker.patterns) - patterns_before,
        "gc_full_collections": pauses.count[2],
        "gc_longest_full_pause_ms": 1000 * pauses.longest[2],
        "gc_longest_young_pause_ms": 1000 * max(pauses.longest[:2]),
        "heap_objects": len(gc.get_objects()),
    }


def main(argv: list[str]) -> int:
    setup = json.loads(argv[0])
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    emulator = EmulatorProcess(**setup["emulator"], process=None)
    emulator.settings(latency=0.0, job_seconds=setup["job_seconds"])
    submitting = time.monotonic()
    job_ids = emulator.submit_jobs(setup["jobs"])
    Path(setup["jobs_file"]).write_text(json.dumps(job_ids))
    emulator.clear_requests()
    # Progress counts from each submit: stretch the jobs by the time submitting took, so that the
    # first job takes job_seconds from now, and the last one not much longer.
    stretched = setup["job_seconds"] + time.monotonic() - submitting
    emulator.settings(latency=setup["latency"], job_seconds=stretched)
    result = asyncio.run(measure(setup["variant"], job_ids, setup["poll_interval"], setup["cap"]))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
