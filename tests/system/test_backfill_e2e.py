"""End to end: a real ``airflow standalone`` backfills the daily example over five days against the emulator.

The scheduler, DAG processor, triggerer and API server run as real processes (LocalExecutor on
SQLite) in their own AIRFLOW_HOME, on free loopback ports. ``airflow backfill create`` makes one run
per day; each export task defers, the triggerer does the waiting, the task resumes on a worker and
lands the day's ZIP under a local "lake". The test checks every run, the deferrals, the landed keys
and that the Call IDs of all ZIPs together are the emulator's history of the range exactly once.

It takes one to two minutes; deselect it with ``-k "not standalone_backfill"``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_spark_logs.hooks.spark_logs import ASYNC_USER_AGENT, SYNC_USER_AGENT
from tests.helpers import AirflowCli, call_ids_in, free_ports, jobs_for_day, wait_until

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "example_dags"
DAG_ID = "example_spark_logs_daily"
TASK_ID = "export_and_land"
UTC = timezone.utc

# `backfill create --from-date 2026-01-01 --to-date 2026-01-05`: with CronDataIntervalTimetable a
# run's logical date is the start of its data interval, and both ends of the range are inclusive
# logical dates, so this makes five runs whose intervals tile [2026-01-01, 2026-01-06).
FROM_DATE, TO_DATE = "2026-01-01", "2026-01-05"
FIRST_DAY = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 5
WINDOWS = [(FIRST_DAY + timedelta(days=i), FIRST_DAY + timedelta(days=i + 1)) for i in range(DAYS)]

JOB_SECONDS = 8  # > the triggerer's pick-up delay (~3 s on 2 busy cores) + the 1 s poll interval
STARTUP_TIMEOUT = 180
BACKFILL_TIMEOUT = 600  # three tries with the example's one-minute retry delay still fit
STOP_GRACE = 20


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _utc(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _live_processes(session_id: int, home: Path) -> list[int]:
    """Processes, zombies excluded, in the session we started or running with our AIRFLOW_HOME."""
    marker = f"AIRFLOW_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            state, sid = fields[0], int(fields[3])
            if state == "Z":
                continue
            if sid == session_id or marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return found


@dataclass
class Standalone:
    """A running ``airflow standalone`` and the ``airflow`` CLI for the same home."""

    cli: AirflowCli
    process: subprocess.Popen[bytes]
    output: Path
    lake: Path
    secrets: list[str] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return self.cli.home

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def output_tail(self, lines: int = 60) -> str:
        text = self.output.read_text(errors="replace") if self.output.exists() else ""
        return self.redact("\n".join(text.splitlines()[-lines:]))

    def query(self, sql: str, *params: object) -> list[dict[str, object]]:
        """Read the metadata DB, read-only, while Airflow runs."""
        with contextlib.closing(
            sqlite3.connect(f"file:{self.home / 'airflow.db'}?mode=ro", uri=True, timeout=30)
        ) as db:
            db.row_factory = sqlite3.Row
            return [dict(row) for row in db.execute(sql, params)]

    def check_alive(self) -> None:
        assert self.process.poll() is None, (
            f"airflow standalone exited with {self.process.returncode}:\n{self.output_tail()}"
        )

    def task_logs(self, run_id: str) -> dict[str, str]:
        """File name -> text of every log file of the run's export task (attempts and trigger logs)."""
        folder = self.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={TASK_ID}"
        if not folder.is_dir():
            return {}
        return {p.name: p.read_text(errors="replace") for p in sorted(folder.iterdir()) if p.is_file()}


def _stop(process: subprocess.Popen[bytes], home: Path) -> list[int]:
    """Stop standalone and every process it started; returns those that needed SIGKILL.

    Standalone runs in its own session. SIGTERM goes to the whole group so that each component
    shuts down by itself (a SIGINT to standalone alone makes it wait for a scheduler that can take
    minutes to stop); whatever is left after a grace period is killed, by pid.
    """
    session = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(session, signal.SIGTERM)
    with contextlib.suppress(AssertionError):
        wait_until(lambda: process.poll() is not None and not _live_processes(session, home), STOP_GRACE, 0.2)
    killed = _live_processes(session, home)
    if killed:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(session, signal.SIGKILL)
    for pid in killed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=30)
    wait_until(lambda: not _live_processes(session, home), timeout=30, interval=0.2)
    return killed


@pytest.fixture
def standalone(tmp_path, emulator, airflow_cli):
    api_port, worker_log_port, trigger_log_port = free_ports(3)
    lake = tmp_path / "lake"
    bin_dir = str(Path(sys.executable).parent)  # standalone starts its components as `airflow` from PATH
    env = {
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(worker_log_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(trigger_log_port),
        # No generated admin password to print: standalone's output ends up in failure messages.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        # Backfill runs are only scheduled for unpaused DAGs. With the scheduler's own cron runs off,
        # unpausing the DAG does not add a scheduled run for "yesterday" next to the backfill.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "SPARK_LOGS_DESTINATION": lake.as_uri() + "/",
        "SPARK_LOGS_POLL_SECONDS": "1",
    }
    cli = airflow_cli(EXAMPLES, **env)  # its own AIRFLOW_HOME under tmp_path, DB migrated
    output = tmp_path / "standalone.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [cli.executable, "standalone"],
            env=cli.env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    secrets = [emulator.api_key, emulator.bearer_token, emulator.client_secret]
    running = Standalone(cli, process, output, lake, secrets)
    try:
        yield running
    finally:
        stopping = time.monotonic()
        killed = _stop(process, cli.home)
        print(f"standalone stopped in {time.monotonic() - stopping:.0f} s; SIGKILLed {len(killed)} processes")
        still_bound = [p for p in (api_port, worker_log_port, trigger_log_port) if _listening(p)]
        assert not still_bound, f"ports still listening after standalone stopped: {still_bound}"


def _runs(airflow: Standalone) -> list[dict[str, object]]:
    return airflow.query(
        "SELECT id, run_id, run_type, state, logical_date, data_interval_start, data_interval_end, backfill_id "
        "FROM dag_run WHERE dag_id = ? ORDER BY logical_date",
        DAG_ID,
    )


def _tries(airflow: Standalone) -> dict[str, dict[str, object]]:
    """Per run id: the export task's state, try number and the states of its earlier tries."""
    current = airflow.query(
        "SELECT run_id, state, try_number FROM task_instance WHERE dag_id = ? AND task_id = ?", DAG_ID, TASK_ID
    )
    history = airflow.query(
        "SELECT run_id, try_number, state FROM task_instance_history WHERE dag_id = ? AND task_id = ? "
        "ORDER BY try_number",
        DAG_ID,
        TASK_ID,
    )
    tries = {row["run_id"]: {**row, "earlier": []} for row in current}
    for row in history:
        if row["run_id"] in tries:
            tries[row["run_id"]]["earlier"].append(f"{row['try_number']}:{row['state']}")
    return tries


def _diagnostics(airflow: Standalone, runs: list[dict[str, object]]) -> str:
    lines = [f"runs: {json.dumps(runs, default=str)}", f"tries: {json.dumps(_tries(airflow), default=str)}"]
    for run in runs:
        if run["state"] != "success":
            for name, text in airflow.task_logs(str(run["run_id"])).items():
                tail = "\n".join(text.splitlines()[-25:])
                lines.append(f"--- {run['run_id']} {name} (tail) ---\n{airflow.redact(tail)}")
    lines.append(f"--- airflow standalone output (tail) ---\n{airflow.output_tail()}")
    return "\n".join(lines)


def _job_for(jobs: dict[str, dict[str, object]], start: datetime) -> str | None:
    found = jobs_for_day(jobs, start)
    return found[0] if len(found) == 1 else None


@pytest.mark.timeout(900)
def test_standalone_backfill_defers_in_the_triggerer_and_lands_each_day_exactly_once(standalone, emulator, capsys):
    airflow = standalone
    emulator.job_seconds = JOB_SECONDS
    started = time.monotonic()

    # A backfill can only be made once the DAG processor has serialized the example.
    def dag_serialized():
        airflow.check_alive()
        return airflow.query("SELECT dag_id FROM serialized_dag WHERE dag_id = ?", DAG_ID)

    try:
        wait_until(dag_serialized, timeout=STARTUP_TIMEOUT, interval=1)
    except AssertionError as error:
        errors = airflow.query("SELECT filename, stacktrace FROM import_error")
        raise AssertionError(
            f"{error}: {DAG_ID} not serialized; import errors: {airflow.redact(json.dumps(errors))}\n"
            f"--- airflow standalone output (tail) ---\n{airflow.output_tail()}"
        ) from None
    ready = time.monotonic()

    airflow.cli.run(
        "backfill", "create", "--dag-id", DAG_ID, "--from-date", FROM_DATE, "--to-date", TO_DATE,
        "--max-active-runs", str(DAYS),
    )  # fmt: skip
    # The scheduler leaves the runs of a paused DAG queued, backfill or not; new DAGs start paused.
    # Only this DAG is unpaused: the other examples (e.g. the asset-triggered consumer) stay idle.
    airflow.cli.run("dags", "unpause", DAG_ID)

    def backfill_finished():
        airflow.check_alive()
        runs = [r for r in _runs(airflow) if r["run_type"] == "backfill"]
        return len(runs) >= DAYS and all(r["state"] in ("success", "failed") for r in runs)

    try:
        wait_until(backfill_finished, timeout=BACKFILL_TIMEOUT, interval=2)
    except AssertionError as error:
        raise AssertionError(f"{error}: backfill did not finish\n{_diagnostics(airflow, _runs(airflow))}") from None
    finished = time.monotonic()

    runs = _runs(airflow)
    tries = _tries(airflow)
    requests = emulator.requests
    jobs = emulator.jobs
    polls = {
        job_id: [
            r
            for r in requests
            if r.target == "status"
            and f"/status/{job_id}" in r.path
            and r.headers.get("user-agent") == ASYNC_USER_AGENT
        ]
        for job_id in jobs
    }

    def polls_while_running(job_id):
        done_at = float(jobs[job_id]["created"]) + JOB_SECONDS
        return sum(p.time < done_at for p in polls[job_id])

    with capsys.disabled():
        print(f"\nstandalone ready after {ready - started:.0f} s, backfill done after {finished - ready:.0f} s")
        print(
            f"{'run id':<38} {'logical date':<11} {'data interval':<24} run     task    tries  earlier  trigger polls"
        )
        for run in runs:
            task = tries.get(run["run_id"], {})
            start, end = _utc(run["data_interval_start"]), _utc(run["data_interval_end"])
            job_id = _job_for(jobs, start) if start else None
            trigger = f"{polls_while_running(job_id)} running/{len(polls[job_id])}" if job_id else "no job"
            print(
                f"{run['run_id']!s:<38} {_utc(run['logical_date']):%Y-%m-%d}  [{start:%m-%d}, {end:%m-%d}) UTC"
                f"{'':<8} {run['state']!s:<7} {task.get('state')!s:<7} {task.get('try_number')!s:<6} "
                f"{' '.join(task.get('earlier', [])) or '-':<8} {trigger}"
            )

    # 1. Exactly one backfill run per day, no other run (the scheduler's own cron runs are off), all green.
    # With CronDataIntervalTimetable the logical date is the start of the data interval, while the run
    # id is made from run_after, the end of the interval.
    diagnostics = _diagnostics(airflow, runs)
    assert [r["run_type"] for r in runs] == ["backfill"] * DAYS, diagnostics
    assert [r["state"] for r in runs] == ["success"] * DAYS, diagnostics
    assert [(_utc(r["data_interval_start"]), _utc(r["data_interval_end"])) for r in runs] == WINDOWS, diagnostics
    assert [_utc(r["logical_date"]) for r in runs] == [start for start, _ in WINDOWS], diagnostics
    assert all(tries[r["run_id"]]["state"] == "success" for r in runs), diagnostics

    # 2. Each task deferred and the triggerer did the waiting: the task's log says it paused as
    # DEFERRED; the triggerer wrote the trigger's own log next to it, with the success event; and
    # Spark saw status polls from the async transport, which only the trigger uses, for every job.
    for run in runs:
        logs = airflow.task_logs(str(run["run_id"]))
        attempts = [t for n, t in logs.items() if n.startswith("attempt=") and n.endswith(".log")]
        triggers = [t for n, t in logs.items() if ".log.trigger." in n]
        assert any("Pausing task as DEFERRED" in t for t in attempts), f"{run['run_id']}: {sorted(logs)}\n{diagnostics}"
        job_id = _job_for(jobs, _utc(run["data_interval_start"]))
        assert job_id, f"{run['run_id']}: no single Spark job for its window in {jobs}"
        assert any("Trigger fired event" in t and job_id in t for t in triggers), (
            f"{run['run_id']}: no trigger event in {sorted(logs)}\n{diagnostics}"
        )
    submits = [r for r in requests if r.target == "submit"]
    assert len(submits) == len(jobs) == DAYS, f"{len(submits)} submits, {len(jobs)} jobs for {DAYS} days"
    assert {r.headers.get("user-agent") for r in submits} == {SYNC_USER_AGENT}
    # The trigger found each job still running at least once, i.e. it waited (slept and polled again).
    assert all(polls_while_running(job_id) for job_id in jobs), {
        job_id: f"{polls_while_running(job_id)} running/{len(p)}" for job_id, p in polls.items()
    }
    downloads = [r for r in requests if r.target == "download"]
    assert len(downloads) == DAYS
    assert {r.headers.get("user-agent") for r in downloads} == {SYNC_USER_AGENT}, "the trigger downloaded"

    # 3. One ZIP per day, at the deterministic key of its window.
    expected_keys = {
        airflow.lake / f"date={start:%Y-%m-%d}/Pricing/Motor_Quote/{start:%Y%m%dT%H%M%SZ}_{end:%Y%m%dT%H%M%SZ}.zip"
        for start, end in WINDOWS
    }
    landed = set(airflow.lake.rglob("*.zip"))
    assert landed == expected_keys, f"landed {sorted(map(str, landed))}"
    assert not [p for p in airflow.lake.rglob("*") if p.is_file() and p not in landed], "stray files in the lake"

    # 4. Exactly once: all ZIPs together hold the history of [first start, last end), no call twice.
    history = emulator.calls("Pricing", "Motor Quote", WINDOWS[0][0], WINDOWS[-1][1])
    midnights = {start for start, _ in WINDOWS[1:]}
    assert midnights <= {c.log_time for c in history}, "the history should have calls exactly at midnight"
    landed_ids = Counter(i for path in sorted(landed) for i in call_ids_in(path))
    expected_ids = Counter(c.call_id for c in history)
    assert landed_ids == expected_ids, (
        f"twice: {sorted(i for i, n in landed_ids.items() if n > 1)[:10]}; "
        f"missing: {sorted((expected_ids - landed_ids).elements())[:10]}; "
        f"extra: {sorted((landed_ids - expected_ids).elements())[:10]}"
    )
    assert emulator.api_key not in airflow.output.read_text(errors="replace")
