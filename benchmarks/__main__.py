"""``bash scripts/bench [--quick] [--sections ...] [--json FILE]``: run the benchmarks, print Markdown tables.

Every row of a table is measured in the same run, against the shipped emulator in its own process
(HTTPS, every answer held back ``--latency`` seconds). Nothing here asserts a timing: the numbers
are for people to read (the README's "Performance" section holds a run's output).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

from benchmarks import landing, triggers, worker_time
from benchmarks.triggers import VARIANT_NAMES, TriggerLoad

SECTIONS = ("triggers", "landing", "worker")


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    memory_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:")
    )
    return (
        f"{os.cpu_count()} cores ({model}), {memory_kib / 2**20:.0f} GiB RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}, Airflow {version('apache-airflow')}, aiohttp {version('aiohttp')}"
    )


def trigger_loads(quick: bool, latency: float) -> list[TriggerLoad]:
    if quick:
        return [TriggerLoad(200, job_seconds=4, poll_interval=1, latency=latency, cap=20)]
    return [
        TriggerLoad(200, job_seconds=4, poll_interval=1, latency=latency, cap=60),
        TriggerLoad(1000, job_seconds=4, poll_interval=1, latency=latency, cap=60),
        TriggerLoad(1000, job_seconds=30, poll_interval=10, latency=latency, cap=120),
        TriggerLoad(5000, job_seconds=30, poll_interval=10, latency=latency, cap=150),
    ]


def trigger_table(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| triggers | poll / job | pattern | done | time to all done | loop lag p50 / p99 / max | CPU per poll "
        "| RSS growth | masker patterns added | TCP connections per job | longest GC pause |",
        "|---:|---|---|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        time_cell = f"stopped at {r['seconds']:.0f} s" if r["capped"] else f"{r['seconds']:.1f} s"
        lines.append(
            f"| {r['jobs']:,} | {r['poll_interval']:g} s / {r['job_seconds']:g} s | {VARIANT_NAMES[r['variant']]} "
            f"| {r['succeeded']:,} | {time_cell} "
            f"| {r['lag_p50_ms']:.1f} / {r['lag_p99_ms']:.0f} / {r['lag_max_ms']:.0f} ms "
            f"| {r['cpu_ms_per_poll']:.2f} ms "
            f"| {r['rss_growth_mib']:+.0f} MiB | {r['masker_patterns_added']:,} "
            f"| {r['connections_per_job']:.2f} (max {r['connections_per_job_max']:.0f}) "
            f"| {r['gc_longest_full_pause_ms']:.0f} ms |"
        )
    return lines


def landing_table(result: dict[str, Any]) -> list[str]:
    size = f"{result['zip_mib'] / 1024:g} GiB" if result["zip_mib"] >= 1024 else f"{result['zip_mib']} MiB"
    curl, curl_sync = result["curl_seconds"], result["curl_sync_seconds"]
    lines = [
        f"| landing a {size} ZIP (median of {result['repeats']} rounds) | time | speed vs `curl -o` "
        "| vs `curl -o` + `sync` | peak RSS growth | CPU |",
        "|---|---:|---:|---:|---:|---:|",
        f"| `curl -o` (same URL, same disk) | {curl:.2f} s | 1.00 x | - | - | {result['curl_cpu_seconds']:.2f} s |",
        f"| `curl -o`, then `sync --data` the file | {curl_sync:.2f} s | {curl / curl_sync:.2f} x | 1.00 x | - "
        f"| {result['curl_sync_cpu_seconds']:.2f} s |",
    ]
    failed = len(result.get("s3_failures", []))
    s3_label = "`s3://` (moto), all checks" + (f" ({failed} of {result['repeats']} failed in moto)" if failed else "")
    for name, label in (("file", "`file://`, all checks, synced"), ("s3", s3_label)):
        r = result[name]
        lines.append(
            f"| {label} | {r['seconds']:.2f} s | {r['speed_vs_curl']:.2f} x | {r['speed_vs_curl_sync']:.2f} x "
            f"| {r['rss_peak_growth_mib']:.0f} MiB | {r['cpu_seconds']:.2f} s |"
        )
    return lines


def worker_table(results: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| export of a job of | mode | worker-seconds | worker CPU | export done after |",
        "|---|---|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['job_seconds']:g} s | {r['mode']} | {r['worker_seconds']:.2f} s | {r['worker_cpu_seconds']:.2f} s "
            f"| {r['export_seconds']:.1f} s |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bash scripts/bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run (200 triggers, 64 MiB)")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--latency", type=float, default=0.2, help="seconds each API call is held back")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick, "latency": args.latency}
    output = [f"Machine: {results['machine']}.", ""]
    if "triggers" in args.sections:
        print("triggers...", file=sys.stderr, flush=True)
        results["triggers"] = triggers.run(trigger_loads(args.quick, args.latency))
        output += [f"Triggers, in one event loop, over HTTPS, each call held back {args.latency:g} s:", ""]
        output += [*trigger_table(results["triggers"]), ""]
    if "landing" in args.sections:
        print("landing...", file=sys.stderr, flush=True)
        results["landing"] = landing.run(64 if args.quick else 1024, 1 if args.quick else 3)
        output += ["Landing, from the emulator's document store (plain HTTP, loopback):", ""]
        output += [*landing_table(results["landing"]), ""]
    if "worker" in args.sections:
        print("worker time...", file=sys.stderr, flush=True)
        results["worker"] = worker_time.run(10 if args.quick else 60, 10, args.latency)
        output += [f"Worker time per export, over HTTPS, each call held back {args.latency:g} s:", ""]
        output += [*worker_table(results["worker"]), ""]
    output.append(f"({time.monotonic() - started:.0f} s in all)")
    print("\n".join(output))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
