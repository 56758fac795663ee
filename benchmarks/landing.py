"""Section "landing": a big ZIP from the emulator's document store into file:// and S3, against curl."""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.emulator_process import EmulatorProcess, dumps, running_emulator
from benchmarks.triggers import child_env

MOTO_KEY, MOTO_SECRET = "bench-access-key", "bench-secret-key-for-moto"


def wait_for_port(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


@contextmanager
def moto_bucket() -> Iterator[tuple[str, dict[str, Any]]]:
    """moto's standalone S3 server with one bucket: (bucket, aws_default connection)."""
    import boto3

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, time.monotonic() + 60)
        endpoint = f"http://127.0.0.1:{port}"
        conn = {
            "conn_type": "aws",
            "login": MOTO_KEY,
            "password": MOTO_SECRET,
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        }
        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=MOTO_KEY,
            aws_secret_access_key=MOTO_SECRET,
            region_name="us-east-1",
        ).create_bucket(Bucket=bucket)
        yield bucket, conn
    finally:
        server.terminate()
        server.wait(timeout=60)


def curl(url: str, target: Path, ca_path: str | None, *, sync: bool = False) -> dict[str, float]:
    """``curl -o`` of the URL (and with ``sync``, ``sync --data`` of the file): wall and CPU time."""
    command = ["curl", "-sS", "--fail", "-o", str(target), url]
    if ca_path:
        command[1:1] = ["--cacert", ca_path]
    started = time.perf_counter()
    cpu = 0.0
    for step in [command, ["sync", "--data", str(target)]] if sync else [command]:
        process = subprocess.Popen(step)
        _pid, status, usage = os.wait4(process.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{step[0]} failed with {os.waitstatus_to_exitcode(status)}")
        cpu += usage.ru_utime + usage.ru_stime
    return {"seconds": time.perf_counter() - started, "cpu_seconds": cpu}


def land(emulator: EmulatorProcess, job_id: str, destination: str, env: dict[str, str]) -> dict[str, Any]:
    answer = subprocess.run(
        [sys.executable, "-m", "benchmarks.landing_run", job_id, destination],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        check=False,
    )
    if answer.returncode != 0:
        raise RuntimeError(f"landing into {destination} failed:\n{answer.stderr[-3000:]}")
    return dict(json.loads(answer.stdout.strip().splitlines()[-1]))


def finished_job(emulator: EmulatorProcess, zip_mib: int) -> tuple[str, str]:
    emulator.settings(zip_padding_bytes=zip_mib * 2**20, job_seconds=0)
    (job_id,) = emulator.submit_jobs(1)
    deadline = time.monotonic() + 1800
    while (url := emulator.download_url(job_id)) is None:
        if time.monotonic() > deadline:
            raise RuntimeError("the emulator did not build the ZIP in time")
        time.sleep(0.5)
    return job_id, url


def run(zip_mib: int, repeats: int, *, tls: bool = False) -> dict[str, Any]:
    """Median of ``repeats`` rounds of curl, file:// and S3, interleaved so that they share conditions."""
    scratch = Path(tempfile.mkdtemp(prefix="spark-bench-landing-", dir=Path.cwd()))
    rounds: dict[str, list[dict[str, Any]]] = {"curl": [], "curl_sync": [], "file": [], "s3": []}
    failures: list[str] = []
    try:
        with running_emulator(*(["--tls"] if tls else [])) as emulator, moto_bucket() as (bucket, aws):
            job_id, url = finished_job(emulator, zip_mib)
            with tempfile.TemporaryDirectory(prefix="spark-bench-home-") as home:
                env = {**child_env(emulator.connection(), home), "AIRFLOW_CONN_AWS_DEFAULT": dumps(aws)}
                for attempt in range(repeats):
                    for name, sync in (("curl", False), ("curl_sync", True)):
                        rounds[name].append(curl(url, scratch / "curl.zip", emulator.ca_path, sync=sync))
                        (scratch / "curl.zip").unlink()
                    landed_path = scratch / f"landed-{attempt}.zip"
                    rounds["file"].append(land(emulator, job_id, f"file://{landed_path}", env))
                    landed_path.unlink()
                    try:
                        rounds["s3"].append(land(emulator, job_id, f"s3://{bucket}/spark/landed.zip", env))
                    except RuntimeError as error:  # moto's in-memory server gives up on big uploads at times
                        failures.append(str(error).splitlines()[-1])
                    print(
                        f"  landing round {attempt + 1}: "
                        + ", ".join(
                            f"{name} {values[-1]['seconds']:.2f} s" for name, values in rounds.items() if values
                        ),
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    curl_seconds = statistics.median(r["seconds"] for r in rounds["curl"])
    curl_cpu = statistics.median(r["cpu_seconds"] for r in rounds["curl"])
    result: dict[str, Any] = {
        "zip_mib": zip_mib,
        "repeats": repeats,
        "tls": tls,
        "curl_seconds": curl_seconds,
        "curl_cpu_seconds": curl_cpu,
        "curl_sync_seconds": statistics.median(r["seconds"] for r in rounds["curl_sync"]),
        "curl_sync_cpu_seconds": statistics.median(r["cpu_seconds"] for r in rounds["curl_sync"]),
    }
    result["s3_failures"] = failures
    for name in ("file", "s3"):
        if not rounds[name]:
            raise RuntimeError(f"every landing into {name} failed: {failures}")
        seconds = statistics.median(r["seconds"] for r in rounds[name])
        result[name] = {
            "seconds": seconds,
            "speed_vs_curl": curl_seconds / seconds,
            "speed_vs_curl_sync": result["curl_sync_seconds"] / seconds,
            "cpu_seconds": statistics.median(r["cpu_seconds"] for r in rounds[name]),
            "rss_peak_growth_mib": max(r["rss_peak_growth_mib"] for r in rounds[name]),
        }
    return result
