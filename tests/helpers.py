"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
import csv
import importlib
import io
import json
import re
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from airflow_provider_spark_logs._compat import AIRFLOW_V_3_2_PLUS, BaseTrigger
from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs.operators.spark_logs import SparkLogExportOperator
from airflow_provider_spark_logs.protocol.messages import LogFilters
from airflow_provider_spark_logs.sensors.spark_logs import SparkLogJobSensor
from airflow_provider_spark_logs.spool import Spool
from airflow_provider_spark_logs.transfers.spark_logs_to_object_storage import SparkLogToObjectStorageOperator
from airflow_provider_spark_logs.triggers.spark_logs import SparkLogJobTrigger

UTC = timezone.utc
DAY_START = datetime(2026, 1, 1, tzinfo=UTC)
DAY_END = datetime(2026, 1, 2, tzinfo=UTC)
CONTEXT = {"data_interval_start": DAY_START, "data_interval_end": DAY_END}
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def wait_until(condition: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll ``condition`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def free_ports(count: int) -> list[int]:
    """``count`` distinct loopback ports that were free a moment ago."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def jobs_for_day(jobs: dict[str, dict[str, Any]], start: datetime) -> list[str]:
    """The emulator's jobs (``emulator.jobs``) whose window starts at midnight of ``start``'s day."""
    prefix = f"{start:%Y-%m-%d}T00:00:00"
    return [job_id for job_id, job in jobs.items() if str(job["filters"]["start"]).startswith(prefix)]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    return free_ports(1)[0]


@contextmanager
def server_process(command: list[str], port: int, name: str, env: dict[str, str] | None = None) -> Iterator[None]:
    """A server process on loopback, up once its port listens, terminated at the end."""
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: listening(port) or server.poll() is not None, timeout=60)
        assert server.poll() is None, f"{name} exited at start: {command}"
        yield
    finally:
        server.terminate()
        server.wait(timeout=30)


def export_op(**kwargs):
    """An export operator for Pricing/Motor Quote that polls quickly; ``kwargs`` override."""
    defaults = {"task_id": "export", "folder": "Pricing", "service": "Motor Quote", "poll_interval": 0.1}
    return SparkLogExportOperator(**{**defaults, **kwargs})


def sensor(**kwargs):
    """A job sensor for Pricing/Motor Quote that pokes quickly; ``kwargs`` override."""
    defaults = {"task_id": "wait", "folder": "Pricing", "service": "Motor Quote", "poke_interval": 0.1, "timeout": 10}
    return SparkLogJobSensor(**{**defaults, **kwargs})


def land_op(job_id, destination, **kwargs):
    """The transfer operator for a finished Pricing/Motor Quote job; ``kwargs`` go to it."""
    return SparkLogToObjectStorageOperator(
        task_id="land", job_id=job_id, folder="Pricing", service="Motor Quote", destination=destination, **kwargs
    )


def land(job_id, destination, **kwargs):
    """Land a finished Pricing/Motor Quote job with the transfer operator; its landed URI."""
    return land_op(job_id, destination, **kwargs).execute({})


def expected_ids(emulator):
    """The Call IDs of Pricing/Motor Quote over the day 2026-01-01, as the emulator holds them."""
    return sorted(c.call_id for c in emulator.calls("Pricing", "Motor Quote", DAY_START, DAY_END))


@contextmanager
def named_spool(path: Path) -> Iterator[Spool]:
    """A finished file as the named spool that ``landing.publish`` takes."""
    with path.open("rb") as file:
        yield Spool(file, path, anonymous=False)


def call_ids_in(archive: zipfile.ZipFile | Path | IO[bytes]) -> list[str]:
    """Every ``Call ID`` in the CSV members of an export ZIP."""
    if not isinstance(archive, zipfile.ZipFile):
        with zipfile.ZipFile(archive) as opened:
            return call_ids_in(opened)
    ids = []
    for name in archive.namelist():
        if name.endswith(".csv"):
            with archive.open(name) as member:
                ids += [row["Call ID"] for row in csv.DictReader(io.TextIOWrapper(member, "utf-8"))]
    return ids


def first_event(trigger, timeout: float = 30.0):
    """The first event of a trigger's ``run()``, as the triggerer would take it; one must come."""

    async def collect():
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(asyncio.wait_for(collect(), timeout=timeout))


def trigger_for(job_id, deadline_in=10.0, **kwargs):
    """A trigger watching ``job_id`` of Pricing/Motor Quote, polling quickly, ``deadline_in`` seconds from now."""
    return SparkLogJobTrigger(
        job_id=job_id,
        folder="Pricing",
        service="Motor Quote",
        deadline=time.time() + deadline_in,
        poll_interval=0.05,
        job_timeout=deadline_in,
        **kwargs,
    )


def finish_a_job(emulator, timeout: float = 30.0) -> str:
    """Export the day DAY_START..DAY_END through the current connection and wait for its ZIP; the job id."""
    emulator.job_seconds = 0
    job_id = SparkLogHook().submit_export("Pricing", "Motor Quote", LogFilters(start=DAY_START, end=DAY_END))
    wait_until_done(job_id, timeout)
    return job_id


def wait_until_done(job_id, timeout: float = 10.0) -> None:
    """Wait until the Pricing/Motor Quote job ``job_id`` is done, as seen through the current connection."""
    hook = SparkLogHook()
    wait_until(lambda: hook.get_job_status("Pricing", "Motor Quote", job_id).done, timeout=timeout)


def rebuilt_by_airflow(trigger: BaseTrigger) -> BaseTrigger:
    """The trigger as the triggerer gets it back: stored through Airflow's own ``Trigger`` row (kwargs
    serialized by that version's serializer, ``serde`` from 3.2, and encrypted), then built again."""
    from airflow.models.trigger import Trigger

    row = Trigger.from_object(trigger)
    module, name = row.classpath.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)(**row.kwargs)


def dag_bag(folder: Path) -> Any:
    """Airflow's DagBag of a folder, parsed in this process (it moved to ``dag_processing`` in 3.2)."""
    if AIRFLOW_V_3_2_PLUS:
        from airflow.dag_processing.dagbag import DagBag
    else:
        from airflow.models.dagbag import DagBag
    return DagBag(dag_folder=str(folder))


class TaskStateStore:
    """Airflow 3.3's task_state_store as a task sees it: JSON values by key, kept across tries."""

    def __init__(self):
        self.values = {}
        self.writes = []

    def get(self, key, default=None):
        return json.loads(self.values[key]) if key in self.values else default

    def set(self, key, value, *, retention=None):
        self.writes.append(key)
        self.values[key] = json.dumps(value)

    def delete(self, key):
        self.values.pop(key, None)


class AirflowCli:
    """The ``airflow`` command in its own home with a migrated SQLite DB, connected to the emulator."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.executable = str(Path(sys.executable).parent / "airflow")

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([self.executable, *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, (
            f"airflow {' '.join(args)} failed:\n{result.stdout[-5000:]}{result.stderr[-5000:]}"
        )
        return result

    def dags_test(self, dag_id: str, logical_date: str) -> str:
        """The run's log, as plain text (Airflow 3.1.0 colours it even into a pipe)."""
        result = self.run("dags", "test", dag_id, logical_date)
        return ANSI_ESCAPE.sub("", result.stdout + result.stderr)
