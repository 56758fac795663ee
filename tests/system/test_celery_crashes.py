"""A production-shaped deployment backfills two weeks through a triggerer crash and a worker crash.

PostgreSQL, Redis, CeleryExecutor, an api-server, a scheduler, a dag-processor, two Celery workers
and two triggerers (see ``celery_deployment``) run the daily example over 14 days, 7 runs at a
time, against the emulator with 20 s jobs and some 429s. While it runs:

1. the triggerer holding deferred exports is SIGKILLed with its whole process tree; the other one
   must take its triggers over, and no export may be submitted again for those days;
2. a Celery worker is SIGKILLed, with its task processes, while it downloads a ZIP (a slow answer
   from the document store holds it there), and a new worker starts, as a supervisor would.

Then every run must have succeeded (with the DAG's retries), every day's calls must have landed
exactly once, nothing else may be in the lake (no partial or temporary file), every ZIP must pass
its CRC check, and no spool file may be left on the machine. The seconds from each kill until the
work went on are printed, with the settings that govern them, tuned down here from their defaults:

* ``[triggerer] job_heartbeat_sec`` 1 (default 5) and ``triggerer_health_check_threshold`` 10
  (default 30): a triggerer whose heartbeat is older than the threshold is dead, and the others
  take its triggers on their next loop;
* ``[scheduler] task_instance_heartbeat_timeout`` 20 (default 300) and its detection interval 2
  (default 10): a task whose worker stopped heartbeating is failed, and retried after the DAG's
  ``retry_delay`` (1 minute in the example).

Run it by hand with ``bash scripts/test -m celery -s`` (as root it creates the unprivileged user
``airflowtest`` for PostgreSQL); it needs ``apt-get install postgresql redis-server``.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from airflow_provider_spark_logs.hooks.spark_logs import ASYNC_USER_AGENT
from airflow_provider_spark_logs.spool import SPOOL_FOLDER_PREFIX
from airflow_provider_spark_logs.testing import Fault, SparkEmulator
from tests.helpers import AirflowCli, call_ids_in, free_ports, jobs_for_day, wait_until
from tests.system.celery_deployment import (
    CeleryAirflow,
    Component,
    Postgres,
    airflow_env,
    holds_socket,
    missing_packages,
    process_tree,
    redis_server,
    tcp_connections_to,
)

pytestmark = pytest.mark.celery

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "example_dags"
DAG_ID = "example_spark_logs_daily"
TASK_ID = "export_and_land"
UTC = timezone.utc
FIRST_DAY = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 14
ACTIVE_RUNS = 7
WINDOWS = [(FIRST_DAY + timedelta(days=i), FIRST_DAY + timedelta(days=i + 1)) for i in range(DAYS)]
JOB_SECONDS = 20
POLL_SECONDS = 2
DOWNLOAD_STALL_SECONDS = 60  # holds a worker inside its landing until it is killed

TUNED = {
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
    "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "10",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "3",
    "AIRFLOW__CORE__PARALLELISM": "16",
}


@dataclass
class Deployment:
    airflow: CeleryAirflow
    lake: Path
    tmp: Path  # the workers' TMPDIR
    triggerers: dict[str, int]  # component name -> its triggerer job id
    started: float  # time.time() when the deployment began to come up


def _triggerer_jobs(airflow: CeleryAirflow) -> list[int]:
    rows = airflow.query("SELECT id FROM job WHERE job_type = 'TriggererJob' AND state = 'running' ORDER BY id")
    return [int(row["id"]) for row in rows]


def _start_triggerer(airflow: CeleryAirflow, name: str) -> int:
    """Start a triggerer and return the id of the job row it registers (one at a time, so it is its own)."""
    known = set(_triggerer_jobs(airflow))
    airflow.start(name, "triggerer", "--skip-serve-logs")

    def registered() -> list[int]:
        airflow.check_alive(name)
        return [job for job in _triggerer_jobs(airflow) if job not in known]

    return wait_until(registered, timeout=120, interval=0.5)[0]


@pytest.fixture
def deployment(tmp_path: Path, emulator: SparkEmulator) -> Iterator[Deployment]:
    missing = missing_packages()
    if missing:
        message = f"needs the distribution packages {missing}: apt-get install -y {' '.join(missing)}"
        if os.environ.get("SPARK_LOGS_REQUIRE_SYSTEM_PACKAGES"):
            pytest.fail(message)
        pytest.skip(message)
    started = time.time()
    folder, lake, tmp = tmp_path / "deployment", tmp_path / "lake", tmp_path / "tmp"
    for path in (folder, lake, tmp):
        path.mkdir()
    with Postgres.running() as postgres, redis_server(folder) as redis_port:
        (api_port,) = free_ports(1)
        env = {
            **airflow_env(folder / "home", EXAMPLES, postgres, redis_port, api_port),
            **TUNED,
            "AIRFLOW_CONN_COHERENT_SPARK_DEFAULT": json.dumps(emulator.airflow_connection(auth_type="api_key")),
            "SPARK_LOGS_DESTINATION": lake.as_uri() + "/",
            "SPARK_LOGS_POLL_SECONDS": str(POLL_SECONDS),
            "TMPDIR": str(tmp),
        }
        airflow = CeleryAirflow(AirflowCli(folder / "home", env), folder, postgres.dsn)
        try:
            airflow.cli.run("db", "migrate")
            airflow.start("api-server", "api-server")
            airflow.start("scheduler", "scheduler")
            airflow.start("dag-processor", "dag-processor")
            for name in ("worker-1", "worker-2"):
                _start_worker(airflow, name)
            triggerers = {name: _start_triggerer(airflow, name) for name in ("triggerer-1", "triggerer-2")}
            yield Deployment(airflow, lake, tmp, triggerers, started)
        finally:
            airflow.stop()


def _start_worker(airflow: CeleryAirflow, name: str) -> Component:
    return airflow.start(
        name, "celery", "worker", "--celery-hostname", f"{name}@%h", "--skip-serve-logs",
        "--without-mingle", "--without-gossip",
    )  # fmt: skip


# --------------------------------------------------------------------------- reading the state


def _runs(airflow: CeleryAirflow) -> list[dict[str, object]]:
    return airflow.query(
        "SELECT run_id, state, data_interval_start FROM dag_run WHERE dag_id = %s AND run_type = 'backfill' "
        "ORDER BY logical_date",
        DAG_ID,
    )


def _tries(airflow: CeleryAirflow) -> dict[str, list[dict[str, object]]]:
    """Per run id, the export task's tries, oldest first: try number, state, start, end, pid."""
    columns = "run_id, try_number, state, start_date, end_date, pid"
    rows = airflow.query(
        f"SELECT {columns} FROM task_instance_history WHERE dag_id = %s AND task_id = %s "  # noqa: S608
        f"UNION ALL SELECT {columns} FROM task_instance WHERE dag_id = %s AND task_id = %s ORDER BY try_number",
        DAG_ID, TASK_ID, DAG_ID, TASK_ID,
    )  # fmt: skip
    tries: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        tries.setdefault(str(row["run_id"]), []).append(row)
    return tries


def _held_triggers(airflow: CeleryAirflow) -> dict[int, list[str]]:
    """Triggerer job id -> run ids of the export tasks whose triggers it holds."""
    rows = airflow.query(
        "SELECT t.triggerer_id, ti.run_id FROM trigger t JOIN task_instance ti ON ti.trigger_id = t.id "
        "WHERE ti.dag_id = %s AND ti.state = 'deferred' AND t.triggerer_id IS NOT NULL",
        DAG_ID,
    )
    held: dict[int, list[str]] = {}
    for row in rows:
        held.setdefault(int(row["triggerer_id"]), []).append(str(row["run_id"]))
    return held


def _day_of(airflow: CeleryAirflow, run_id: str) -> datetime:
    (row,) = airflow.query("SELECT data_interval_start FROM dag_run WHERE run_id = %s AND dag_id = %s", run_id, DAG_ID)
    return row["data_interval_start"].astimezone(UTC)  # type: ignore[attr-defined]


def _diagnostics(deployment: Deployment) -> str:
    airflow = deployment.airflow
    lines = [f"runs: {_runs(airflow)}", f"tries: {_tries(airflow)}"]
    logs = airflow.folder / "home" / "logs" / f"dag_id={DAG_ID}"
    for run in _runs(airflow):
        if run["state"] != "success":
            for log in sorted((logs / f"run_id={run['run_id']}").rglob("*")):
                if log.is_file():
                    tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
                    lines.append(f"--- {log.relative_to(logs)} (tail) ---\n{tail}")
    return "\n".join([*lines, airflow.outputs()])


# --------------------------------------------------------------------------- the crashes


@dataclass
class Crash:
    what: str
    killed_at: float
    went_on_at: float
    how: str

    def report(self, t0: float) -> str:
        return (
            f"{self.what}: SIGKILL at +{self.killed_at - t0:.0f} s; the work went on "
            f"{self.went_on_at - self.killed_at:.1f} s later ({self.how})"
        )


def _crash_a_triggerer(deployment: Deployment, emulator: SparkEmulator) -> tuple[Crash, list[str]]:
    """Kill the triggerer holding the most deferred exports once it holds a few; returns their run ids."""
    airflow = deployment.airflow

    def holding() -> tuple[str, list[str]] | None:
        airflow.check_alive(*deployment.triggerers)
        held = _held_triggers(airflow)
        name, job = max(deployment.triggerers.items(), key=lambda item: len(held.get(item[1], [])))
        return (name, held[job]) if len(held.get(job, [])) >= 3 else None

    name, run_ids = wait_until(holding, timeout=300, interval=0.5)
    days = {run_id: _day_of(airflow, run_id) for run_id in run_ids}
    killed_at = airflow.components[name].crash()
    survivor = next(job for other, job in deployment.triggerers.items() if other != name)

    jobs = emulator.jobs
    held_jobs = {job_id for day in days.values() for job_id in jobs_for_day(jobs, day)}

    def polled_again() -> float | None:
        polls = [
            r.time for r in emulator.requests
            if r.target == "status" and r.time > killed_at and r.headers.get("user-agent") == ASYNC_USER_AGENT
            and any(f"/status/{job_id}" in r.path for job_id in held_jobs)
        ]  # fmt: skip
        return min(polls) if polls else None

    went_on_at = wait_until(polled_again, timeout=120, interval=0.2)
    still_held = _held_triggers(airflow).get(deployment.triggerers[name], [])
    assert not still_held, f"the dead triggerer still holds {still_held}"
    taken = _held_triggers(airflow).get(survivor, [])
    crash = Crash(
        f"triggerer {name} ({len(run_ids)} deferred exports)",
        killed_at,
        went_on_at,
        f"first status poll of one of its jobs by the other triggerer; it now holds {len(taken)}",
    )
    return crash, run_ids


def _downloading_worker(deployment: Deployment, docstore_port: int) -> tuple[str, int] | None:
    """The worker, and its process, that has a connection to the document store open right now."""
    airflow = deployment.airflow
    inodes = tcp_connections_to(docstore_port)
    if not inodes:
        return None
    for name, component in airflow.components.items():
        if name.startswith("worker") and component.running():
            for pid in process_tree(component.pid):
                if holds_socket(pid, inodes):
                    return name, pid
    return None


def _crash_a_worker_while_it_lands(deployment: Deployment, emulator: SparkEmulator) -> tuple[Crash, str]:
    """Kill a worker while it downloads a ZIP, start a new one; returns the run id of the killed landing."""
    airflow = deployment.airflow
    docstore_port = int(emulator.docstore_url.rsplit(":", 1)[1])
    emulator.inject(Fault("download", "delay", seconds=DOWNLOAD_STALL_SECONDS))
    name, pid = wait_until(lambda: _downloading_worker(deployment, docstore_port), timeout=300, interval=0.2)
    (landing,) = airflow.query(
        "SELECT run_id, try_number FROM task_instance WHERE dag_id = %s AND task_id = %s AND pid = %s",
        DAG_ID, TASK_ID, pid,
    )  # fmt: skip
    running = {
        str(row["pid"]): f"{row['run_id']} try {row['try_number']}"
        for row in airflow.query("SELECT run_id, try_number, pid FROM task_instance WHERE state = 'running'")
    }
    killed_at = airflow.components[name].crash()
    _start_worker(airflow, f"{name}-replacement")
    killed = [running[str(p)] for p in airflow.components[name].killed if str(p) in running]
    run_id, killed_try = str(landing["run_id"]), int(landing["try_number"])  # type: ignore[call-overload]

    def next_try_started() -> dict[str, object] | None:
        tries = _tries(airflow).get(run_id, [])
        later = [
            t for t in tries
            if int(t["try_number"]) > killed_try and t["start_date"] and t["start_date"].timestamp() > killed_at  # type: ignore[call-overload,attr-defined]
        ]  # fmt: skip
        return {"failed": tries[killed_try - 1]["end_date"], "started": later[0]["start_date"]} if later else None

    seen = wait_until(next_try_started, timeout=300, interval=0.5)
    failed_after = seen["failed"].timestamp() - killed_at  # type: ignore[attr-defined]
    crash = Crash(
        f"Celery {name} (landing {run_id}, try {killed_try}; tasks killed with it: {', '.join(killed)})",
        killed_at,
        seen["started"].timestamp(),  # type: ignore[attr-defined]
        f"the next try started on a worker; the scheduler failed the silent try after {failed_after:.1f} s, "
        "then the DAG's retry_delay",
    )
    return crash, run_id


# --------------------------------------------------------------------------- the test


def _spark_history(emulator: SparkEmulator, days: dict[str, list[str]], t0: float) -> str:
    """What Spark saw of these days' jobs: each job's creation, and its downloads (seconds after ``t0``)."""
    jobs, requests = emulator.jobs, emulator.requests
    lines = []
    for day, job_ids in days.items():
        for job_id in job_ids:
            downloads = [
                f"+{r.time - t0:.0f}:{r.status}" for r in requests if r.target == "download" and job_id[:8] in r.path
            ]
            lines.append(f"{day} job {job_id} made +{float(jobs[job_id]['created']) - t0:.0f}, downloads {downloads}")
    return "; ".join(lines)


def _report(deployment: Deployment, crashes: list[Crash], phases: dict[str, float], t0: float) -> str:
    """Phases, crashes, settings, and each run's tries with their start and end (seconds after ``t0``)."""
    airflow = deployment.airflow

    def since(moment: object) -> str:
        return f"{moment.timestamp() - t0:.0f}" if moment else "?"  # type: ignore[attr-defined]

    lines = [
        "  " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in phases.items()),
        *(f"  {crash.report(t0)}" for crash in crashes),
        "  tuned: " + ", ".join(f"{k.removeprefix('AIRFLOW__').lower()}={v}" for k, v in TUNED.items()),
        "  run, then each try of the export task: state, +start-end s after the backfill was created",
    ]
    tries = _tries(airflow)
    for run in _runs(airflow):
        history = "  ".join(
            f"{t['try_number']}:{t['state']} +{since(t['start_date'])}-{since(t['end_date'])}"
            for t in tries.get(str(run["run_id"]), [])
        )
        lines.append(f"  {run['run_id']!s:<38} {run['state']!s:<8} {history}")
    return "\n".join(lines)


@pytest.mark.timeout(1800)
def test_a_celery_deployment_backfills_two_weeks_exactly_once_through_crashes(deployment, emulator, capsys):
    airflow = deployment.airflow
    emulator.job_seconds = JOB_SECONDS

    wait_until(
        lambda: (
            airflow.check_alive("scheduler", "dag-processor", "api-server")
            or airflow.query("SELECT dag_id FROM serialized_dag WHERE dag_id = %s", DAG_ID)
        ),
        timeout=240,
        interval=1,
    )
    ready = time.monotonic()
    t0 = time.time()
    # Spark's rate limit, at submit and while polling: answered, waited out, never a failure.
    emulator.inject(Fault("submit", "status", times=3, status=429, headers={"Retry-After": "1"}))
    emulator.inject(Fault("status", "status", times=6, status=429, headers={"Retry-After": "1"}))
    airflow.cli.run(
        "backfill", "create", "--dag-id", DAG_ID, "--from-date", f"{WINDOWS[0][0]:%Y-%m-%d}",
        "--to-date", f"{WINDOWS[-1][0]:%Y-%m-%d}", "--max-active-runs", str(ACTIVE_RUNS),
    )  # fmt: skip
    airflow.cli.run("dags", "unpause", DAG_ID)

    triggerer_crash, taken_over = _crash_a_triggerer(deployment, emulator)
    worker_crash, relanded = _crash_a_worker_while_it_lands(deployment, emulator)

    def backfill_finished() -> bool:
        runs = _runs(airflow)
        return len(runs) == DAYS and all(r["state"] in ("success", "failed") for r in runs)

    try:
        wait_until(backfill_finished, timeout=900, interval=2)
    except AssertionError as error:
        raise AssertionError(f"{error}: backfill did not finish\n{_diagnostics(deployment)}") from None
    phases = {
        "deployment up": t0 - deployment.started,
        "backfill": time.monotonic() - ready,
        "CPU used by Airflow (migration included)": airflow.cpu_seconds(),
    }
    with capsys.disabled():
        print(f"\n{_report(deployment, [triggerer_crash, worker_crash], phases, t0)}")

    runs, tries, jobs, requests = _runs(airflow), _tries(airflow), emulator.jobs, emulator.requests
    diagnostics = _diagnostics(deployment)
    # 1. Every run succeeded; the killed landing was tried again.
    assert [r["state"] for r in runs] == ["success"] * DAYS, diagnostics
    assert len(tries[relanded]) >= 2, diagnostics
    assert all(run_id in tries for run_id in taken_over)

    # 2. One Spark job per day, whatever was killed: no export submitted twice.
    per_day = {f"{start:%Y-%m-%d}": jobs_for_day(jobs, start) for start, _ in WINDOWS}
    twice = {day: found for day, found in per_day.items() if len(found) != 1}
    assert not twice, f"{twice}: {_spark_history(emulator, twice, t0)}\n{diagnostics}"
    accepted_submits = [r for r in requests if r.target == "submit" and r.status < 400]
    assert len(accepted_submits) == DAYS, f"{len(accepted_submits)} submits accepted for {DAYS} days"
    assert any(r.status == 429 for r in requests), "the 429s were not met"

    # 3. The lake holds exactly one checked ZIP per day and nothing else: no partial, no temporary file.
    expected = {
        deployment.lake / f"date={start:%Y-%m-%d}/Pricing/Motor_Quote/{start:%Y%m%dT%H%M%SZ}_{end:%Y%m%dT%H%M%SZ}.zip"
        for start, end in WINDOWS
    }
    files = {p for p in deployment.lake.rglob("*") if not p.is_dir()}
    assert files == expected, f"extra: {sorted(map(str, files - expected))}; missing: {sorted(expected - files)}"
    for path in sorted(files):
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None, f"{path} fails its CRC check"

    # 4. Every day's calls landed exactly once.
    landed = Counter(call_id for path in sorted(files) for call_id in call_ids_in(path))
    history = Counter(c.call_id for c in emulator.calls("Pricing", "Motor Quote", WINDOWS[0][0], WINDOWS[-1][1]))
    assert landed == history, (
        f"twice: {sorted(i for i, n in landed.items() if n > 1)[:10]}; "
        f"missing: {sorted((history - landed).elements())[:10]}; extra: {sorted((landed - history).elements())[:10]}"
    )

    # 5. No spool file is left on the machine: the killed landing's died with it, or was removed.
    spools = deployment.tmp / f"{SPOOL_FOLDER_PREFIX}{os.getuid()}"
    assert not spools.exists() or list(spools.iterdir()) == []
