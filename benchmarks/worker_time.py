"""Section "worker time": worker-seconds per export, deferrable against sync, side by side."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from typing import Any

from benchmarks.emulator_process import running_emulator
from benchmarks.triggers import child_env


def run(job_seconds: float, poll_interval: float, latency: float) -> list[dict[str, Any]]:
    """Both modes at once, against one HTTPS emulator holding every answer back ``latency`` s."""
    with (
        running_emulator("--tls", "--job-seconds", str(job_seconds), "--latency", str(latency)) as emulator,
        tempfile.TemporaryDirectory(prefix="spark-bench-home-") as home,
    ):
        env = child_env(emulator.connection(), home)
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.worker_run", mode, str(poll_interval)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for mode in ("deferrable", "sync")
        ]
        results = []
        for process in processes:
            out, err = process.communicate(timeout=job_seconds + 600)
            if process.returncode != 0:
                raise RuntimeError(f"worker time run failed:\n{err[-3000:]}")
            result = dict(json.loads(out.strip().splitlines()[-1]), job_seconds=job_seconds)
            print(f"  worker time {result['mode']}: {result['worker_seconds']:.2f} s", file=sys.stderr, flush=True)
            results.append(result)
    return results
