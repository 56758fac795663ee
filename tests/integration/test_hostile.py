"""A hostile or broken Spark, document store or ZIP gets nothing out of us (issue 11).

Each test drives the public hook, operators or trigger against the emulator's hostile fault kinds
and checks what was refused, what was limited, and that nothing partial or secret came out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import tempfile
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from airflow_provider_spark_logs._compat import redact
from airflow_provider_spark_logs.exceptions import (
    SparkConfigError,
    SparkDownloadError,
    SparkLandingError,
    SparkLogError,
    SparkProtocolError,
    SparkTlsError,
)
from airflow_provider_spark_logs.hooks.spark_logs import _SHARED_TOKENS, SparkLogHook
from airflow_provider_spark_logs.operators.spark_logs import SparkLogExportOperator
from airflow_provider_spark_logs.protocol.messages import LogFilters
from airflow_provider_spark_logs.testing import Fault, SparkEmulator
from airflow_provider_spark_logs.transfers.spark_logs_to_object_storage import SparkLogToObjectStorageOperator
from airflow_provider_spark_logs.triggers.spark_logs import SparkLogJobTrigger
from tests.helpers import call_ids_in, first_event, land

pytestmark = pytest.mark.usefixtures("spool_dir")

UTC = timezone.utc
DAY_START = datetime(2026, 1, 1, tzinfo=UTC)
DAY_END = datetime(2026, 1, 2, tzinfo=UTC)
CONTEXT = {"data_interval_start": DAY_START, "data_interval_end": DAY_END}
FOLDER, SERVICE = "Pricing", "Motor Quote"
# Secrets with characters that URL, form and JSON encodings change, so that an encoded echo shows.
API_KEY = "sk-hostile/key+with=odd&chars"
BEARER_TOKEN = "hostile-bearer/token+=="
CLIENT_SECRET = "hostile secret/+=&%"
CREDENTIAL_HEADERS = ("x-synthetic-key", "x-tenant-name", "authorization")


@pytest.fixture
def emulator():
    with SparkEmulator(api_key=API_KEY, bearer_token=BEARER_TOKEN, client_secret=CLIENT_SECRET, job_seconds=0) as emu:
        yield emu


def encodings(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote_plus(secret), quote(secret), json.dumps(secret)[1:-1]}


def a_finished_job(emulator: SparkEmulator) -> str:
    job_id = SparkLogHook().submit_export(FOLDER, SERVICE, _filters())
    hook = SparkLogHook()
    deadline = time.monotonic() + 10
    while not hook.get_job_status(FOLDER, SERVICE, job_id).done:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    emulator.clear_requests()
    return job_id


def _filters():
    return LogFilters(start=DAY_START, end=DAY_END)


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def credentials_sent_to_docstore(emulator: SparkEmulator) -> list[str]:
    return [h for r in emulator.requests if r.server == "docstore" for h in CREDENTIAL_HEADERS if h in r.headers]


# ------------------------------------------------------------------ 1. credentials and URL parsers


@pytest.mark.parametrize("auth_type", ["api_key", "bearer", "oauth2"])
@pytest.mark.parametrize(
    "template",
    [
        "http://{docstore_host}\\@{api_host}{path}",  # urlsplit reads the API, urllib3 connects to the store
        "http://{docstore_host}\\\\@{api_host}{path}",
        "http://user@{docstore_host}{path}",
        "http://{api_host}@{docstore_host}{path}",
        "http://{docstore_host}\t@{api_host}{path}",
        "http://{docstore_host}#@{api_host}{path}",
    ],
)
def test_a_download_url_the_parsers_disagree_on_is_refused(emulator, connect, tmp_path, auth_type, template):
    connect(auth_type)
    job_id = a_finished_job(emulator)
    emulator.inject(Fault("status", "download_url", url=template, times=10))
    with pytest.raises(SparkProtocolError, match="download_url"):
        land(job_id, f"file://{tmp_path}/lake/x.zip")
    assert not credentials_sent_to_docstore(emulator)
    assert not [r for r in emulator.requests if r.target == "download"]
    assert files_under(tmp_path / "lake") == []


# ------------------------------------------------------------------ 2. unpack limits


def unpack(emulator, connect, tmp_path, members, **kwargs):
    connect()
    job_id = a_finished_job(emulator)
    emulator.inject(Fault("download", "archive", members=members, **kwargs.pop("fault", {})))
    return land(job_id, f"file://{tmp_path}/lake/day.zip", unpack=True, **kwargs)


def test_a_zip_bomb_is_refused_by_its_compression_ratio(emulator, connect, tmp_path):
    with pytest.raises(SparkLandingError, match="max_compression_ratio"):
        unpack(emulator, connect, tmp_path, [["report.csv", 60_000_000]])
    assert files_under(tmp_path / "lake") == []


def test_the_total_unpacked_size_is_limited(emulator, connect, tmp_path):
    members = [["a.csv", 600_000], ["b.csv", 600_000]]
    with pytest.raises(SparkLandingError, match="max_unpacked_bytes=1000000"):
        unpack(emulator, connect, tmp_path, members, fault={"fill": "text"}, max_unpacked_bytes=1_000_000)
    assert files_under(tmp_path / "lake") == []


def test_the_member_count_is_limited_by_default(emulator, connect, tmp_path):
    with pytest.raises(SparkLandingError, match="max_unpacked_files=1000"):
        unpack(emulator, connect, tmp_path, [["r{i}.csv", 3]], fault={"repeat": 1001, "fill": "text"})
    assert files_under(tmp_path / "lake") == []


def test_a_limit_can_be_raised(emulator, connect, tmp_path):
    unpack(emulator, connect, tmp_path, [["r{i}.csv", 3]], fault={"repeat": 12, "fill": "text"}, max_unpacked_files=12)
    assert len(files_under(tmp_path / "lake" / "day")) == 12


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize(
    ("members", "problem"),
    [
        ([["a/report.csv", 10], ["b/report.csv", 10]], "collide"),
        ([["Report.csv", 10], ["report.CSV", 10]], "collide"),
        ([["report.csv", 10], ["report.csv", 10]], "collide"),
        ([["x\nforged.csv", 10]], "control character"),
        ([["x\x1b[31m.csv", 10]], "control character"),
        ([["x" * 300 + ".csv", 10]], "too long"),
    ],
)
def test_member_names_that_collide_or_cannot_be_stored_are_refused(emulator, connect, tmp_path, members, problem):
    with pytest.raises(SparkLandingError, match=problem):
        unpack(emulator, connect, tmp_path, members, fault={"fill": "text"})
    assert files_under(tmp_path / "lake") == []


def test_a_member_that_fails_to_land_takes_the_others_back(emulator, connect, tmp_path):
    blocked = tmp_path / "lake" / "day" / "b.csv"
    blocked.mkdir(parents=True)  # a directory where the second member should go
    with pytest.raises(SparkLandingError):
        unpack(emulator, connect, tmp_path, [["a.csv", 100], ["b.csv", 100]], fault={"fill": "text"})
    assert files_under(tmp_path / "lake") == []


def test_a_rerun_is_not_blocked_by_half_of_an_earlier_unpack(emulator, connect, tmp_path):
    leftover = tmp_path / "lake" / "day" / "a.csv"
    leftover.parent.mkdir(parents=True)
    leftover.write_text("half of an earlier run")
    unpack(emulator, connect, tmp_path, [["a.csv", 100], ["b.csv", 100]], fault={"fill": "text"}, overwrite=False)
    assert files_under(tmp_path / "lake") == ["day.zip", "day/a.csv", "day/b.csv"]
    assert leftover.read_bytes().startswith(b"0,call-")


def test_a_finished_landing_is_not_overwritten_without_overwrite(emulator, connect, tmp_path):
    unpack(emulator, connect, tmp_path, [["a.csv", 100]], fault={"fill": "text"})
    with pytest.raises(SparkLandingError, match="overwrite=False"):
        unpack(emulator, connect, tmp_path, [["a.csv", 100]], fault={"fill": "text"}, overwrite=False)


def test_unpacked_members_are_the_zips(emulator, connect, tmp_path):
    connect()
    job_id = a_finished_job(emulator)
    land(job_id, f"file://{tmp_path}/lake/day.zip", unpack=True)
    landed = zipfile.ZipFile(tmp_path / "lake" / "day.zip")
    csvs = sorted((tmp_path / "lake" / "day").iterdir())
    assert [p.name for p in csvs] == sorted(landed.namelist())
    assert call_ids_in(landed)


# ------------------------------------------------------------------ 3. secrets echoed in errors


@pytest.mark.parametrize("as_json", [False, True])
def test_a_token_endpoint_echoing_the_form_does_not_put_the_secret_in_the_message(emulator, connect, as_json):
    connect("oauth2")
    emulator.inject(Fault("token", "echo", json=as_json))
    ok, message = SparkLogHook().test_connection()
    assert not ok
    assert "client_secret=" in message or "client_secret" in message  # the echo is quoted...
    assert not [s for s in encodings(CLIENT_SECRET) if s in message]  # ...without the secret


@pytest.mark.parametrize(("auth_type", "secret"), [("api_key", API_KEY), ("bearer", BEARER_TOKEN)])
@pytest.mark.parametrize("as_json", [False, True])
def test_a_401_echoing_the_headers_does_not_put_the_secret_in_the_message(
    emulator, connect, auth_type, secret, as_json
):
    connect(auth_type)
    emulator.inject(Fault("status", "echo", status=401, source="headers", json=as_json))
    ok, message = SparkLogHook().test_connection()
    assert not ok
    assert "401" in message
    assert not [s for s in encodings(secret) if s in message]


def test_a_401_echoing_an_oauth2_token_does_not_put_it_in_the_message(emulator, connect):
    connect("oauth2")
    emulator.inject(Fault("status", "echo", status=401, source="headers", json=True, times=2))
    ok, message = SparkLogHook().test_connection()
    tokens = {r.headers["authorization"].split(" ", 1)[1] for r in emulator.requests if "authorization" in r.headers}
    assert not ok
    assert tokens
    assert not [t for t in tokens if t in message]


# ------------------------------------------------------------------ weaknesses: debug logs


def test_urllib3_debug_logs_of_a_download_are_masked(emulator, connect, tmp_path, caplog):
    connect()
    job_id = a_finished_job(emulator)
    with caplog.at_level(logging.DEBUG, logger="urllib3"):
        land(job_id, f"file://{tmp_path}/x.zip")
    token = emulator.jobs[job_id]["download_token"]
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("/docstore/" in text for text in logged), "urllib3 did not log the download"
    assert not [text for text in logged if token in redact(text)]


# ------------------------------------------------------------------ weaknesses: TLS


@pytest.fixture
def tls_emulator():
    with SparkEmulator(tls=True, job_seconds=0) as emu:
        yield emu


def test_a_missing_ca_bundle_is_a_config_error(emulator, connect, tmp_path):
    connect(extra={"verify": str(tmp_path / "no-such-ca.pem")})
    with pytest.raises(SparkConfigError, match="verify"):
        SparkLogHook().get_config()
    with pytest.raises(SparkConfigError, match="verify"):
        asyncio.run(SparkLogHook().aget_config())


def unverifiable(emulator: SparkEmulator) -> str:
    """The emulator's connection without its CA: its certificate cannot be verified."""
    conn = emulator.airflow_connection()
    del conn["extra"]["verify"]
    conn["extra"]["max_retries"] = 3
    return json.dumps(conn)


def test_a_bad_server_certificate_is_reported_at_once(tls_emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_COHERENT_SPARK_DEFAULT", unverifiable(tls_emulator))
    monkeypatch.setattr(time, "sleep", lambda _s: pytest.fail("a certificate failure was retried"))
    with pytest.raises(SparkTlsError, match="certificate"):
        SparkLogHook().submit_export(FOLDER, SERVICE, _filters())


def test_a_bad_server_certificate_ends_the_trigger_at_once(tls_emulator, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_COHERENT_SPARK_DEFAULT", unverifiable(tls_emulator))
    trigger = SparkLogJobTrigger(
        job_id="0" * 8, folder=FOLDER, service=SERVICE, deadline=time.time() + 60, poll_interval=0.01
    )
    event = first_event(trigger)
    assert event["status"] == "error"
    assert "certificate" in event["message"]


# ------------------------------------------------------------------ weaknesses: path segments


@pytest.mark.parametrize("value", [".", "..", "a\nb", "a\rb", "a\x00b"])
@pytest.mark.parametrize("name", ["folder", "service"])
def test_dot_segments_and_control_characters_are_refused_at_parse_time(name, value):
    with pytest.raises(SparkConfigError, match=name):
        SparkLogExportOperator(**{"task_id": "t", "folder": FOLDER, "service": SERVICE, name: value})


@pytest.mark.parametrize("value", [".", "..", "a\nb"])
def test_a_bad_job_id_is_refused_at_parse_time(value):
    with pytest.raises(SparkConfigError, match="job_id"):
        SparkLogToObjectStorageOperator(
            task_id="t", job_id=value, folder=FOLDER, service=SERVICE, destination="file:///tmp/x/"
        )


@pytest.mark.parametrize("job_id", ["..", ".", "abc\n2026-01-01 INFO forged line", "a/b", "", "x" * 200])
def test_a_job_id_from_spark_that_is_not_a_plain_token_is_refused(emulator, connect, job_id):
    connect()
    emulator.inject(Fault("submit", "job_id", job_id=job_id))
    with pytest.raises(SparkProtocolError, match="job_id"):
        SparkLogHook().submit_export(FOLDER, SERVICE, _filters())
    assert [r.target for r in emulator.requests] == ["submit"]


# ------------------------------------------------------------------ weaknesses: download bodies


class Counter:
    def __init__(self):
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)


def download_url_of(job_id: str) -> str:
    return SparkLogHook().get_job_status(FOLDER, SERVICE, job_id).download_url


def test_the_zip_is_asked_for_without_content_encoding(emulator, connect, tmp_path):
    connect()
    job_id = a_finished_job(emulator)
    emulator.inject(Fault("download", "gzip", times=3))  # gzips when the client accepts it
    land(job_id, f"file://{tmp_path}/x.zip")
    (download,) = [r for r in emulator.requests if r.target == "download"]
    assert download.headers["accept-encoding"] == "identity"
    assert call_ids_in(tmp_path / "x.zip")


@pytest.mark.parametrize("kind", ["gzip", "gzip_bomb"])
def test_a_store_that_gzips_anyway_is_refused_without_inflating(emulator, connect, kind):
    connect()
    job_id = a_finished_job(emulator)
    params = {"always": True} if kind == "gzip" else {"inflated_bytes": 64 * 2**20}
    emulator.inject(Fault("download", kind, **params))
    written = Counter()
    with pytest.raises(SparkDownloadError, match="Content-Encoding"):
        SparkLogHook().download(download_url_of(job_id), written)
    assert written.size < 2**20


@pytest.mark.timeout(60)
def test_a_slow_drip_download_ends_at_its_deadline(emulator, connect):
    connect(extra={"download_timeout": 1})
    job_id = a_finished_job(emulator)
    emulator.inject(Fault("download", "drip", chunk_bytes=1, interval=0.05))
    with pytest.raises(SparkDownloadError, match="download_timeout=1"):
        SparkLogHook().download(download_url_of(job_id), Counter())


@pytest.mark.parametrize("target", ["status", "token"])
def test_an_oversized_answer_is_refused_at_the_cap(emulator, connect, target):
    connect("oauth2")
    job_id = a_finished_job(emulator)
    _SHARED_TOKENS.clear()  # hooks share tokens per client: the next call must fetch one, and get the oversized answer
    emulator.inject(Fault(target, "oversize", bytes=20_000_000))
    with pytest.raises(SparkProtocolError, match="1 MiB"):
        SparkLogHook().get_job_status(FOLDER, SERVICE, job_id)


def test_an_oversized_status_answer_ends_the_trigger_with_an_error(emulator, connect):
    connect()
    job_id = a_finished_job(emulator)
    emulator.inject(Fault("status", "oversize", bytes=20_000_000))
    trigger = SparkLogJobTrigger(
        job_id=job_id, folder=FOLDER, service=SERVICE, deadline=time.time() + 30, poll_interval=0.01
    )
    event = first_event(trigger)
    assert event["status"] == "error"
    assert "1 MiB" in event["message"]


@pytest.mark.parametrize("body", ["[" * 100_000, '{"a":' * 100_000, '{"status": "Error", "error": ' + "[" * 100_000])
def test_deeply_nested_json_is_a_protocol_error_on_both_paths(emulator, connect, body):
    connect()
    job_id = a_finished_job(emulator)
    emulator.inject(Fault("status", "status", status=200, body=body, times=2))
    with pytest.raises(SparkProtocolError):
        SparkLogHook().get_job_status(FOLDER, SERVICE, job_id)
    trigger = SparkLogJobTrigger(
        job_id=job_id, folder=FOLDER, service=SERVICE, deadline=time.time() + 30, poll_interval=0.01
    )
    event = first_event(trigger)
    assert event["status"] == "error"


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://example.com/x.zip", "gopher://x/", "//[::1"])
def test_a_redirect_to_another_scheme_is_our_error(emulator, connect, location):
    connect()
    job_id = a_finished_job(emulator)
    emulator.inject(Fault("download", "redirect", location=location))
    with pytest.raises(SparkProtocolError, match="redirect"):
        SparkLogHook().download(download_url_of(job_id), Counter())


# ------------------------------------------------------------------ weaknesses: internal hosts


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "fault",
    [
        *(
            Fault("status", "download_url", url=url)
            for url in (
                "http://169.254.169.254/latest/meta-data/x.zip",
                "https://169.254.169.254/latest/meta-data/x.zip",
                "https://10.255.255.1/x.zip",
                "https://192.168.0.1/x.zip",
                "https://[fd00::1]/x.zip",
                "https://[::ffff:169.254.169.254]/x.zip",
                "http://example.com/x.zip",
            )
        ),
        Fault("download", "redirect", location="http://169.254.169.254/x.zip"),
        Fault("download", "redirect", location="https://10.255.255.1/x.zip"),
    ],
    ids=repr,
)
def test_a_download_from_an_internal_address_or_over_plain_http_is_refused(emulator, connect, fault):
    connect(extra={"timeout": 1, "max_retries": 0})  # today's code would try, and fail quickly
    job_id = a_finished_job(emulator)
    emulator.inject(fault)
    with pytest.raises(SparkProtocolError, match="download_hosts"):
        SparkLogHook().download(download_url_of(job_id), Counter())


def test_a_name_that_resolves_to_an_internal_address_is_refused_once_connected(emulator, monkeypatch):
    """DNS cannot be reached here, so the resolver is the one stand-in: docs.example.com -> 127.0.0.1."""
    conn = {"conn_type": "coherent_spark", "host": "https://excel.example.com/acme", "password": "key"}
    monkeypatch.setenv("AIRFLOW_CONN_COHERENT_SPARK_DEFAULT", json.dumps({**conn, "extra": {"max_retries": 0}}))
    resolve = socket.getaddrinfo
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, *a, **k: resolve("127.0.0.1" if host == "docs.example.com" else host, *a, **k),
    )
    port = emulator.docstore_url.rsplit(":", 1)[1]
    with pytest.raises(SparkProtocolError, match=r"resolved to 127\.0\.0\.1.*download_hosts"):
        SparkLogHook().download(f"https://docs.example.com:{port}/docstore/x.zip", Counter())
    assert emulator.requests == []


def test_a_loopback_store_is_refused_when_the_api_is_not_on_loopback(monkeypatch):
    address = _non_loopback_address()
    with SparkEmulator(host=address, job_seconds=0) as emu:
        monkeypatch.setenv("AIRFLOW_CONN_COHERENT_SPARK_DEFAULT", json.dumps(emu.airflow_connection()))
        job_id = a_finished_job(emu)
        emu.inject(Fault("status", "download_url", url="http://127.0.0.1:9/x.zip"))
        with pytest.raises(SparkProtocolError, match="download_hosts"):
            SparkLogHook().download(download_url_of(job_id), Counter())


def test_an_allow_listed_store_is_fetched(monkeypatch, tmp_path):
    address = _non_loopback_address()
    with SparkEmulator(host=address, job_seconds=0) as emu:
        conn = emu.airflow_connection()
        monkeypatch.setenv("AIRFLOW_CONN_COHERENT_SPARK_DEFAULT", json.dumps(conn))
        job_id = a_finished_job(emu)
        with pytest.raises(SparkProtocolError, match="download_hosts"):  # plain http on a private address
            land(job_id, f"file://{tmp_path}/x.zip")
        conn["extra"]["download_hosts"] = [address]
        monkeypatch.setenv("AIRFLOW_CONN_COHERENT_SPARK_DEFAULT", json.dumps(conn))
        land(job_id, f"file://{tmp_path}/x.zip")
        assert call_ids_in(tmp_path / "x.zip")


def _non_loopback_address() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        except OSError:
            pytest.skip("this machine has no non-loopback IPv4 interface")
        address = probe.getsockname()[0]
    if address.startswith("127."):
        pytest.skip("this machine has no non-loopback IPv4 interface")
    return address


# ------------------------------------------------------------------ weaknesses: deadlines


@pytest.mark.timeout(60)
def test_a_long_retry_after_does_not_carry_the_trigger_past_its_deadline(emulator, connect):
    connect()
    job_id = a_finished_job(emulator)
    emulator.inject(Fault("status", "status", status=429, headers={"Retry-After": "600"}, times=100))
    trigger = SparkLogJobTrigger(
        job_id=job_id, folder=FOLDER, service=SERVICE, deadline=time.time() + 2, poll_interval=0.2, job_timeout=2
    )
    event = first_event(trigger)
    assert event["status"] == "timeout"
    assert "job_timeout=2" in event["message"]


@pytest.mark.timeout(60)
def test_a_long_retry_after_does_not_carry_the_worker_past_its_deadline(emulator, connect):
    connect()
    emulator.inject(Fault("status", "status", status=429, headers={"Retry-After": "600"}, times=100))
    op = SparkLogExportOperator(task_id="t", folder=FOLDER, service=SERVICE, poll_interval=0.2, job_timeout=2)
    with pytest.raises(SparkLogError, match="job_timeout=2"):
        op.execute(CONTEXT)


# ------------------------------------------------------------------ weaknesses: destinations and disks


@pytest.mark.parametrize(
    "destination", ["memory://bucket/x/", "http://example.com/x/", "https://example.com/x.zip", "hdfs://nn/x/"]
)
def test_a_destination_that_cannot_be_landed_in_fails_at_parse_time(destination):
    with pytest.raises(SparkConfigError, match="destination"):
        SparkLogToObjectStorageOperator(
            task_id="t", job_id="j", folder=FOLDER, service=SERVICE, destination=destination
        )
    with pytest.raises(SparkConfigError, match="destination"):
        SparkLogExportOperator(task_id="t", folder=FOLDER, service=SERVICE, destination=destination)


@pytest.mark.parametrize(("folder", "problem"), [("x" * 300, "too long"), ("a\tb", "control character")])
def test_a_destination_key_that_cannot_be_stored_fails_before_the_download(
    emulator, connect, tmp_path, folder, problem
):
    connect()
    job_id = a_finished_job(emulator)
    with pytest.raises(SparkConfigError, match=problem):
        land(job_id, f"file://{tmp_path}/lake/{folder}/x.zip")
    assert not [r for r in emulator.requests if r.target == "download"]


@pytest.fixture
def full_spool(tmp_path):
    """A 64 KiB tmpfs for a spool directory (root only), unmounted afterwards."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_spool_disk_is_a_landing_error_naming_it(emulator, connect, full_spool, monkeypatch, s3):
    """Beside a local destination (an anonymous spool there) and in TMPDIR (for an object store)."""
    connect()
    emulator.zip_padding_bytes = 256 * 1024
    job_id = a_finished_job(emulator)
    monkeypatch.setattr(tempfile, "tempdir", str(full_spool))
    with pytest.raises(SparkLandingError, match=f"spool disk at {full_spool}/lake is full"):
        land(job_id, f"file://{full_spool}/lake/x.zip")
    with pytest.raises(SparkLandingError, match=f"spool disk at {full_spool}/airflow-provider-spark-logs-.* is full"):
        land(job_id, f"s3://{s3.name}/x.zip", destination_conn_id="aws_default")
    assert files_under(full_spool) == []
    assert s3.keys() == []
