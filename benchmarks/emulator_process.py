"""The shipped emulator in its own process, as the benchmarks' Spark.

In its own process so that its threads never compete with the measured event loop for the GIL;
steered through its control API.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

FOLDER, SERVICE = "Pricing", "Motor Quote"
#: One minute of history: a small ZIP, so that thousands of jobs cost the emulator little to build.
WINDOW = {"request_data": {"start_date": "2026-01-01T12:00:00.000Z", "end_date": "2026-01-01T12:00:59.999Z"}}


@dataclass
class EmulatorProcess:
    """Addresses of a running emulator process, and what the benchmarks ask of it."""

    base_url: str
    docstore_url: str
    tenant: str
    ca_path: str | None
    process: subprocess.Popen[str] | None  # None in a child process that only talks to it

    def addresses(self) -> dict[str, Any]:
        """What a child process needs to reach it."""
        return {
            "base_url": self.base_url,
            "docstore_url": self.docstore_url,
            "tenant": self.tenant,
            "ca_path": self.ca_path,
        }

    @property
    def verify(self) -> str | bool:
        return self.ca_path or True

    def connection(self) -> dict[str, Any]:
        """The Airflow connection (api_key) pointing at it, with its CA as ``verify``."""
        extra: dict[str, Any] = {"tenant": self.tenant, "auth_type": "api_key"}
        if self.ca_path:
            extra["verify"] = self.ca_path
        return {"conn_type": "coherent_spark", "host": self.base_url, "password": "emulator-api-key", "extra": extra}

    def control(self, method: str, name: str, body: Any = None) -> Any:
        answer = requests.request(
            method, f"{self.base_url}/_emulator/{name}", json=body, verify=self.verify, timeout=120
        )
        answer.raise_for_status()
        return answer.json()

    def settings(self, **values: float) -> dict[str, Any]:
        return dict(self.control("POST", "settings", values))

    def requests(self) -> list[dict[str, Any]]:
        return list(self.control("GET", "requests"))

    def clear_requests(self) -> None:
        self.control("DELETE", "requests")

    def log_url(self) -> str:
        return f"{self.base_url}/{self.tenant}/api/v3/folders/{quote(FOLDER)}/services/{quote(SERVICE)}/log/downloadcsv"

    def submit_jobs(self, count: int) -> list[str]:
        """Submit ``count`` export jobs (set latency to 0 first, or this takes count x latency)."""
        local = threading.local()
        headers = {"x-synthetic-key": "emulator-api-key", "x-tenant-name": self.tenant}

        def submit(_: int) -> str:
            session = getattr(local, "session", None) or requests.Session()
            local.session = session
            answer = session.post(self.log_url(), json=WINDOW, headers=headers, verify=self.verify, timeout=60)
            answer.raise_for_status()
            return str(answer.json()["response_data"]["job_id"])

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(submit, range(count)))

    def download_url(self, job_id: str) -> str | None:
        answer = requests.get(
            f"{self.log_url()}/status/{job_id}",
            headers={"x-synthetic-key": "emulator-api-key", "x-tenant-name": self.tenant},
            verify=self.verify,
            timeout=60,
        )
        answer.raise_for_status()
        url = answer.json()["response_data"]["download_url"]
        return str(url) if url else None


@contextmanager
def running_emulator(*args: str) -> Iterator[EmulatorProcess]:
    """``python -m airflow_provider_spark_logs.testing --port 0 ARGS``, stopped at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_spark_logs.testing", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("Spark emulator ready:"):
            raise RuntimeError(f"the emulator did not start: {line!r}")
        fields = dict(part.split("=", 1) for part in line.split()[3:])
        yield EmulatorProcess(fields["base_url"], fields["docstore"], fields["tenant"], fields.get("ca"), process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
