"""A production-shaped Airflow on one machine: PostgreSQL, Redis, CeleryExecutor and two triggerers.

Everything comes from packages, nothing from containers: PostgreSQL and Redis from the
distribution (Debian: ``apt-get install postgresql redis-server``, which ``.ci/run`` does),
Airflow and its Celery provider from PyPI (the ``test`` extra). PostgreSQL refuses to run as root,
so when the tests run as root its cluster belongs to an unprivileged user, :data:`POSTGRES_OS_USER`,
created if missing. Every server listens on a free loopback port and keeps its files in a
temporary folder that is removed afterwards.

Each Airflow component (api-server, scheduler, dag-processor, Celery workers, triggerers) runs in
its own session, so it can be stopped cleanly as a group, or crashed as a whole machine would
crash: :meth:`Component.crash` freezes and then SIGKILLs every process of its tree, including task
processes that Airflow moved into process groups of their own.
"""

from __future__ import annotations

import base64
import contextlib
import os
import pwd
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import AirflowCli, free_ports, wait_until

POSTGRES_OS_USER = "airflowtest"
POSTGRES_DB_USER = "airflow"
STOP_GRACE = 20


def postgres_bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are: Debian keeps them out of PATH, per major version."""
    versions = sorted(
        (int(p.parent.parent.name), p.parent)
        for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")
        if p.parent.parent.name.isdigit()
    )
    if versions:
        return versions[-1][1]
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def missing_packages() -> list[str]:
    """The distribution packages this deployment needs that are not installed."""
    missing = [] if postgres_bindir() else ["postgresql"]
    return missing + ([] if shutil.which("redis-server") else ["redis-server"])


# --------------------------------------------------------------------------- processes


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                parent = int(stat[stat.rindex(")") + 2 :].split()[1])
                tree.setdefault(parent, []).append(int(entry.name))
    return tree


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, by parent pid (process groups and sessions do not matter)."""
    children, found, todo = _children(), [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def tree_cpu_seconds(root: int) -> float:
    """User + system CPU of ``root``'s tree: its live processes and the children they reaped."""
    ticks = 0
    for pid in process_tree(root):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            ticks += sum(int(value) for value in stat[stat.rindex(")") + 2 :].split()[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def crash_tree(root: int) -> list[int]:
    """SIGKILL ``root`` and every descendant at once, as a machine or container dying would.

    The tree is frozen first (SIGSTOP, repeated until no new process appears), so that nothing
    forks, reaps or reacts while it is being killed. Returns the pids killed.
    """
    frozen: list[int] = []
    while True:
        new = [pid for pid in process_tree(root) if pid not in frozen]
        if not new:
            break
        for pid in new:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        frozen += new
    for pid in frozen:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return frozen


def tcp_connections_to(port: int) -> set[int]:
    """Socket inodes of established loopback TCP connections whose remote end is ``port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if remote_port == port and fields[3] == "01":  # 01 = ESTABLISHED
                    inodes.add(int(fields[9]))
    return inodes


def holds_socket(pid: int, inodes: set[int]) -> bool:
    """Whether process ``pid`` has one of these sockets open."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) in wanted:
                    return True
    return False


@dataclass
class Component:
    """One long-running process of the deployment, in its own session, with its output in a file."""

    name: str
    process: subprocess.Popen[bytes]
    output: Path
    crashed_at: float | None = None
    killed: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 40) -> str:
        text = self.output.read_text(errors="replace") if self.output.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def crash(self) -> float:
        """SIGKILL the whole tree; returns the wall-clock time of the kill."""
        self.killed = crash_tree(self.pid)
        self.crashed_at = time.time()
        self.process.wait(timeout=30)
        wait_until(lambda: not any(alive(pid) for pid in self.killed), timeout=30, interval=0.1)
        return self.crashed_at

    def stop(self) -> None:
        """SIGTERM the session's group, then SIGKILL whatever is left of the tree after a grace period."""
        tree = process_tree(self.pid) if self.running() else []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGTERM)
        with contextlib.suppress(AssertionError):
            wait_until(lambda: not any(alive(pid) for pid in tree), timeout=STOP_GRACE, interval=0.2)
        for pid in tree:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)


def start_process(name: str, argv: list[str], folder: Path, **popen: object) -> Component:
    output = folder / f"{name}.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(  # type: ignore[call-overload]
            argv, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True, **popen
        )
    return Component(name, process, output)


# --------------------------------------------------------------------------- PostgreSQL and Redis


def _os_user(name: str) -> pwd.struct_passwd:
    """An unprivileged system account, created if missing (only when running as root)."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(name)


@dataclass
class Postgres:
    """A throw-away PostgreSQL cluster on a loopback port, owned by an unprivileged user when root."""

    folder: Path
    port: int
    bindir: Path
    account: pwd.struct_passwd | None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{POSTGRES_DB_USER}@127.0.0.1:{self.port}/airflow"

    @property
    def dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user={POSTGRES_DB_USER} dbname=airflow"

    def _run(self, *argv: str) -> None:
        account = self.account
        as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []} if account else {}
        result = subprocess.run(  # type: ignore[call-overload]
            [str(self.bindir / argv[0]), *argv[1:]], cwd=self.folder, capture_output=True, text=True, **as_user
        )
        assert result.returncode == 0, f"{' '.join(argv)} failed:\n{result.stdout}{result.stderr}"

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[Postgres]:
        bindir = postgres_bindir()
        assert bindir, "PostgreSQL is not installed"
        account = _os_user(POSTGRES_OS_USER) if os.geteuid() == 0 else None
        folder = Path(tempfile.mkdtemp(prefix="spark-logs-postgres-"))
        if account:
            os.chown(folder, account.pw_uid, account.pw_gid)
        server = cls(folder, free_ports(1)[0], bindir, account)
        try:
            server._run("initdb", "-D", "data", "-U", POSTGRES_DB_USER, "--auth=trust", "--encoding=UTF8", "--no-sync")
            options = (
                f"-c listen_addresses=127.0.0.1 -p {server.port} -c unix_socket_directories={folder} "
                "-c fsync=off -c synchronous_commit=off -c max_connections=300"
            )
            server._run("pg_ctl", "start", "-D", "data", "-l", "postgres.log", "-w", "-t", "60", "-o", options)
            server._run("createdb", "-h", "127.0.0.1", "-p", str(server.port), "-U", POSTGRES_DB_USER, "airflow")
            yield server
        finally:
            with contextlib.suppress(AssertionError):
                server._run("pg_ctl", "stop", "-D", "data", "-m", "immediate", "-w")
            shutil.rmtree(folder, ignore_errors=True)


def _redis_answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
        conn.sendall(b"PING\r\n")
        return conn.recv(64).startswith(b"+PONG")
    return False


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[int]:
    """Redis on a loopback port, without persistence; yields the port."""
    port = free_ports(1)[0]
    server = start_process(
        "redis",
        [shutil.which("redis-server") or "redis-server", "--bind", "127.0.0.1", "--port", str(port),
         "--save", "", "--appendonly", "no", "--dir", str(folder)],
        folder,
    )  # fmt: skip
    try:
        wait_until(lambda: _redis_answers(port) or not server.running(), timeout=30, interval=0.1)
        assert server.running(), f"redis-server exited:\n{server.tail()}"
        yield port
    finally:
        server.stop()


# --------------------------------------------------------------------------- Airflow


@dataclass
class CeleryAirflow:
    """Airflow components sharing one home, one PostgreSQL DB and one Redis broker."""

    cli: AirflowCli
    folder: Path
    dsn: str
    components: dict[str, Component] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return self.cli.env

    def start(self, name: str, *args: str) -> Component:
        component = start_process(name, [self.cli.executable, *args], self.folder, env=self.env, cwd=self.folder)
        self.components[name] = component
        return component

    def check_alive(self, *names: str) -> None:
        for name in names:
            component = self.components[name]
            assert component.running(), f"{name} exited with {component.process.returncode}:\n{component.tail()}"

    def query(self, sql: str, *params: object) -> list[dict[str, object]]:
        """Read the metadata DB while Airflow runs."""
        import psycopg2
        import psycopg2.extras

        with (
            contextlib.closing(psycopg2.connect(self.dsn)) as db,
            db.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cursor,
        ):
            cursor.execute(sql, params)
            return [dict(row) for row in cursor.fetchall()]

    def cpu_seconds(self) -> float:
        """CPU used so far by the components (the running ones' trees) and by every child this process reaped."""
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        running = [c.pid for c in self.components.values() if c.running()]
        return usage.ru_utime + usage.ru_stime + sum(tree_cpu_seconds(pid) for pid in running)

    def stop(self) -> None:
        for component in reversed(list(self.components.values())):
            component.stop()

    def outputs(self, lines: int = 30) -> str:
        return "\n".join(f"--- {name} (tail) ---\n{c.tail(lines)}" for name, c in self.components.items())


def airflow_env(home: Path, dags: Path, postgres: Postgres, redis_port: int, api_port: int) -> dict[str, str]:
    """The configuration every component shares: one home, PostgreSQL, Redis, the API server's URL."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.url,
        "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + postgres.url.replace("+psycopg2", ""),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        # Secrets every component must share (in production: from a secrets backend, not generated).
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        # Backfill runs only, no cron runs next to them once the DAG is unpaused.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    }
