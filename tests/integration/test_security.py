"""No secret leaks: API key, bearer token, client secret, OAuth token and download URLs.

The emulator runs with distinctive, per-session random secrets; the operators, sensor, trigger and
transfer run with them; then every place Airflow keeps or shows something is searched for them:
task and trigger logs, XCom, rendered templates, trigger kwargs and events, task_instance
next_kwargs, every text column of the metadata DB, every file of the Airflow home, and exception
text. Each test also checks that the secret really was used (the emulator saw it), so that a
search that finds nothing means something.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import sqlite3
import traceback
import uuid
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from airflow_provider_spark_logs._compat import TaskDeferred
from airflow_provider_spark_logs.exceptions import (
    SparkApiError,
    SparkAuthError,
    SparkDownloadError,
    SparkLandingError,
    SparkLogError,
    SparkRetriesExhaustedError,
)
from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs.sensors.spark_logs import SparkLogJobSensor
from airflow_provider_spark_logs.testing import Fault, SparkEmulator
from tests.helpers import (
    CONTEXT,
    export_op,
    finish_a_job,
    first_event,
    land_op,
    trigger_for,
    wait_until_done,
)

TEST_DAGS = Path(__file__).resolve().parent / "dags"
AUTH_TYPES = ("api_key", "bearer", "oauth2")
CREDENTIAL_HEADERS = ("x-synthetic-key", "x-tenant-name", "authorization")
TOKENS_FRAGMENT = "/tokens/"

_RUN = uuid.uuid4().hex[:12]
API_KEY = f"sk-LEAKCHECK-apikey-{_RUN}"
BEARER_TOKEN = f"LEAKCHECK-bearer-{_RUN}"
CLIENT_ID = f"leakcheck-client-{_RUN}"
CLIENT_SECRET = f"LEAKCHECK-clientsecret-{_RUN}"
WRONG_SECRET = f"LEAKCHECK-wrong-{_RUN}"


# ------------------------------------------------------------------ fixtures and helpers


@pytest.fixture
def emulator_options() -> dict[str, Any]:
    """Secrets known to this module, to search for: conftest's ``emulator`` starts with these."""
    return {
        "api_key": API_KEY,
        "bearer_token": BEARER_TOKEN,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "job_seconds": 1,
    }


def issued_tokens(emulator: SparkEmulator) -> set[str]:
    """Every bearer token the emulator saw: the static one, and the OAuth2 tokens it issued."""
    tokens = set()
    for record in emulator.requests:
        scheme, _, token = record.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            tokens.add(token.strip())
    return tokens


def oauth_tokens(emulator: SparkEmulator) -> set[str]:
    return issued_tokens(emulator) - {BEARER_TOKEN}


def download_secrets(emulator: SparkEmulator) -> set[str]:
    """Download tokens and URL paths: those requested, and those the jobs hold now."""
    found = set()
    for record in emulator.requests:
        if record.target == "download":
            found.add(record.path.split("?")[0])
            token = record.path.split(TOKENS_FRAGMENT, 1)[-1].split("/")[0]
            if token:
                found.add(token)
    found |= {job["download_token"] for job in emulator.jobs.values() if job["download_token"]}
    return found


def all_secrets(emulator: SparkEmulator, *extra: str) -> set[str]:
    """Every value that must never show: credentials, issued tokens (and their signatures), URLs."""
    values = {API_KEY, BEARER_TOKEN, CLIENT_SECRET, WRONG_SECRET, *extra}
    values.add(base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode())
    for token in oauth_tokens(emulator):
        values.add(token)
        values.add(token.rsplit(".", 1)[-1])  # the random signature alone, should a token be cut
    values |= download_secrets(emulator)
    return {v for v in values if v}


def leaks(text: str, secrets: Iterable[str]) -> list[str]:
    """The secrets (and the download-URL fragment) found in ``text``."""
    found = [s for s in secrets if s in text]
    if TOKENS_FRAGMENT in text:
        found.append(TOKENS_FRAGMENT)
    return found


def exception_texts(error: BaseException) -> list[str]:
    """str, repr, attributes and the formatted traceback of an error and every error in its chain."""
    texts, seen, todo = [], set(), [error]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts += [str(current), repr(current), repr(current.args), repr(vars(current))]
        texts += traceback.format_exception(type(current), current, current.__traceback__)
        todo += [current.__cause__, current.__context__]
    return texts


def assert_no_secret_in_error(error: BaseException, secrets: Iterable[str]) -> None:
    secrets = set(secrets)
    for text in exception_texts(error):
        assert not leaks(text, secrets), f"secret in the text of {type(error).__name__}: {text!r}"


def assert_no_credentials_off_origin(emulator: SparkEmulator) -> None:
    """No request to the document store (or for a download there) carried Spark credentials."""
    for record in emulator.requests:
        if record.server == "docstore":
            sent = [h for h in CREDENTIAL_HEADERS if h in record.headers]
            assert not sent, f"{sent} sent to the document store: {record.method} {record.target}"


def used_credential(emulator: SparkEmulator, auth_type: str) -> bool:
    """Whether the emulator's API saw this auth type's real credential in a header."""
    records = [r for r in emulator.requests if r.server == "api"]
    if auth_type == "oauth2":  # a token was issued for the client secret, and then used
        issued = any(r.target == "token" and r.status == 200 for r in records)
        return issued and bool(oauth_tokens(emulator) - {WRONG_SECRET})
    if auth_type == "api_key":
        return any(r.headers.get("x-synthetic-key") == API_KEY for r in records)
    return any(r.headers.get("authorization") == f"Bearer {BEARER_TOKEN}" for r in records)


def saw_header_value(emulator: SparkEmulator, value: str) -> bool:
    return any(value in v for r in emulator.requests for v in r.headers.values())


# ------------------------------------------------------------------ the metadata DB and the home


def _decoded(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, bytes | memoryview):
        raw = bytes(value)
        texts = [raw.decode("utf-8", "replace")]
        with contextlib.suppress(zlib.error):
            texts.append(zlib.decompress(raw).decode("utf-8", "replace"))
        return texts
    return []


def db_rows(db: Path) -> Iterator[tuple[str, str, str]]:
    """(table, column, text) for every text or blob value in every table, read-only."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from sqlite_master
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    for text in _decoded(value):
                        yield table, column, text


def db_leaks(db: Path, secrets: set[str]) -> list[tuple[str, str, list[str]]]:
    return [(table, column, found) for table, column, text in db_rows(db) if (found := leaks(text, secrets))]


def file_leaks(root: Path, secrets: set[str]) -> list[tuple[str, list[str]]]:
    """Secrets in the raw bytes of every file under ``root`` (the SQLite file's free pages too)."""
    needles = [*secrets, TOKENS_FRAGMENT]
    hits = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found = [n for n in needles if n.encode() in data]
        if found:
            hits.append((str(path.relative_to(root)), found))
    return hits


def table_texts(db: Path, table: str) -> list[str]:
    return [text for name, _column, text in db_rows(db) if name == table]


# ------------------------------------------------------------------ 1. real DAG runs


#: Each task of the probe DAG on its own connection: one run uses all three auth types.
PROBE_CONNECTIONS = {
    "export_and_land": "oauth2",
    "start_export": "api_key",
    "wait_for_export": "bearer",
    "land": "oauth2",
}


def test_dag_run_leaves_no_secret_in_logs_xcom_rendered_fields_or_db(tmp_path, emulator, airflow_cli):
    lake = tmp_path / "lake"
    env = {"SPARK_LOGS_DESTINATION": f"file://{lake}/", "SPARK_LOGS_POLL_SECONDS": "0.3"}
    for task_id, auth_type in PROBE_CONNECTIONS.items():
        env[f"AIRFLOW_CONN_SPARK_{auth_type.upper()}"] = json.dumps(emulator.airflow_connection(auth_type=auth_type))
        env[f"SPARK_LOGS_{task_id.upper()}_CONN_ID"] = f"spark_{auth_type}"
    cli = airflow_cli(TEST_DAGS, **env)
    emulator.job_seconds = 1.5
    # Through the warning paths too: a retried status poll, a refused and a corrupt download.
    emulator.inject(Fault("status", "status", status=503, headers={"Retry-After": "0"}))
    emulator.inject(Fault("download", "expired"))
    emulator.inject(Fault("download", "corrupt"))
    log = cli.dags_test("spark_logs_secrets_probe", "2026-01-02")

    # It ran, deferred twice, landed two ZIPs, and really used the secrets.
    assert len(list(lake.rglob("*.zip"))) == 2, log[-3000:]
    assert log.count("Pausing task as DEFERRED") >= 2
    assert all(used_credential(emulator, auth_type) for auth_type in AUTH_TYPES)
    assert oauth_tokens(emulator)
    assert emulator.pending_faults == []
    downloads = download_secrets(emulator)
    assert len([s for s in downloads if TOKENS_FRAGMENT not in s]) >= 3  # two jobs, one URL refreshed
    secrets = all_secrets(emulator)

    # Task and trigger logs (printed by `dags test`) and every file of the Airflow home.
    assert not leaks(log, secrets)
    assert not file_leaks(cli.home, secrets)

    # The places the searches look at hold what they should (so a miss means something).
    db = cli.home / "airflow.db"
    job_ids = set(emulator.jobs)
    assert len(job_ids) == 2
    assert all(job_id in log for job_id in job_ids)
    xcom = "\n".join(table_texts(db, "xcom"))
    assert f"file://{lake}/one/Pricing/" in xcom
    assert any(job_id in xcom for job_id in job_ids)
    rendered = "\n".join(table_texts(db, "rendered_task_instance_fields"))
    assert f"file://{lake}/split/" in rendered
    triggers = "\n".join(table_texts(db, "trigger"))
    assert all(job_id in triggers for job_id in job_ids), "both deferrals left trigger rows to search"

    # XCom, rendered fields, trigger rows, next_kwargs: every text column of every table.
    assert not db_leaks(db, secrets)
    assert_no_credentials_off_origin(emulator)


# ------------------------------------------------------------------ 2. trigger kwargs and events


@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_deferrals_carry_no_secret(emulator, connect, auth_type, capsys):
    connect(auth_type)
    emulator.job_seconds = 0.5
    done_job = export_op(wait_for_completion=False).execute(CONTEXT)
    wait_until_done(done_job, timeout=15)
    emulator.job_seconds = 60
    deferrals = []
    with pytest.raises(TaskDeferred) as deferred:
        export_op(deferrable=True, poll_interval=5, job_timeout=600).execute(CONTEXT)
    deferrals.append(deferred.value)
    with pytest.raises(TaskDeferred) as deferred:
        SparkLogJobSensor(
            task_id="wait", job_id=deferrals[0].trigger.job_id, folder="Pricing", service="Motor Quote", deferrable=True
        ).execute(CONTEXT)
    deferrals.append(deferred.value)

    assert used_credential(emulator, auth_type)
    assert download_secrets(emulator), "a download URL was handed out, so it could have leaked"
    secrets = all_secrets(emulator)
    for deferral in deferrals:
        path, kwargs = deferral.trigger.serialize()
        assert path == "airflow_provider_spark_logs.triggers.spark_logs.SparkLogJobTrigger"
        assert all(isinstance(v, str | int | float) for v in kwargs.values())
        assert kwargs["job_id"] == deferrals[0].trigger.job_id
        texts = [json.dumps(kwargs), repr(deferral.trigger), repr(vars(deferral.trigger)), repr(deferral)]
        texts.append(repr(deferral.kwargs))
        for text in texts:
            assert not leaks(text, secrets), text
    out = capsys.readouterr()
    assert not leaks(out.out + out.err, secrets)


def _wrong_credentials(emulator, connect, auth_type):
    connect(auth_type, password=WRONG_SECRET)
    return "a-job-id"


def _job_error(emulator, connect, auth_type):
    connect(auth_type)
    emulator.inject(Fault("status", "job_error", message="Export exploded"))
    return export_op(wait_for_completion=False).execute(CONTEXT)


def _never_finish(emulator, connect, auth_type):
    connect(auth_type)
    emulator.job_seconds = 0
    emulator.inject(Fault("status", "never_finish", progress=60))
    return export_op(wait_for_completion=False).execute(CONTEXT)


def _outage(emulator, connect, auth_type):
    connect(auth_type, extra={"max_retries": 0})
    job_id = export_op(wait_for_completion=False).execute(CONTEXT)
    emulator.inject(Fault("status", "status", status=503, times=1000, headers={"Retry-After": "0"}))
    return job_id


def _success(emulator, connect, auth_type):
    connect(auth_type)
    emulator.job_seconds = 0.3
    return export_op(wait_for_completion=False).execute(CONTEXT)


@pytest.mark.parametrize("auth_type", AUTH_TYPES)
@pytest.mark.parametrize(
    ("start", "deadline_in", "status", "text"),
    [
        (_success, 15.0, "success", None),
        (_wrong_credentials, 15.0, "error", "check credentials"),
        (_job_error, 15.0, "error", "Export exploded"),
        (_never_finish, 0.5, "timeout", "last progress 60%"),
        (_outage, 0.5, "timeout", "HTTP 503"),
    ],
    ids=["success", "wrong-credentials", "job-error", "timeout", "outage"],
)
def test_trigger_events_and_logs_carry_no_secret(
    emulator, connect, capsys, auth_type, start, deadline_in, status, text
):
    job_id = start(emulator, connect, auth_type)
    event = first_event(trigger_for(job_id, deadline_in))
    assert event["status"] == status, event
    assert event["job_id"] == job_id
    if text is not None:
        assert text in event["message"]
    if start is _wrong_credentials:
        assert any(r.status == 401 for r in emulator.requests)
        if auth_type != "oauth2":  # the client secret goes in a form body, which the emulator does not record
            assert saw_header_value(emulator, WRONG_SECRET)
    else:
        assert used_credential(emulator, auth_type)
    if start is _success:
        assert download_secrets(emulator), "the trigger saw the download URL, so it could have leaked"
    secrets = all_secrets(emulator)
    assert not leaks(json.dumps(event), secrets)
    out = capsys.readouterr()
    assert not leaks(out.out + out.err, secrets)


# ------------------------------------------------------------------ 3. exception text


def _export(emulator: SparkEmulator, tmp_path: Path) -> Any:
    return export_op(deferrable=False, job_timeout=0.5).execute(CONTEXT)


def _land(emulator: SparkEmulator, tmp_path: Path) -> Any:
    return land_op(finish_a_job(emulator), f"file://{tmp_path}/lake/day.zip").execute({})


def _export_and_land(emulator: SparkEmulator, tmp_path: Path) -> Any:
    emulator.job_seconds = 0.2
    return export_op(deferrable=False, destination=f"file://{tmp_path}/lake/").execute(CONTEXT)


def _faults(*faults: Fault):
    return lambda emulator: list(faults)


RETRY_NOW = {"Retry-After": "0"}

FAILURES = [
    pytest.param("api_key", {"password": WRONG_SECRET}, _faults(), _export, SparkAuthError, id="wrong-api-key"),
    pytest.param("bearer", {"password": WRONG_SECRET}, _faults(), _export, SparkAuthError, id="wrong-bearer-token"),
    pytest.param("oauth2", {"password": WRONG_SECRET}, _faults(), _export, SparkAuthError, id="wrong-client-secret"),
    pytest.param(
        "api_key",
        {},
        _faults(Fault("submit", "status", status=400, message="Bad window")),
        _export,
        SparkApiError,
        id="submit-400",
    ),
    pytest.param(
        "oauth2",
        {},
        _faults(Fault("submit", "status", status=400, message="Bad window")),
        _export,
        SparkApiError,
        id="submit-400-oauth2",
    ),
    pytest.param(
        "bearer",
        {"extra": {"max_retries": 1}},
        _faults(Fault("submit", "status", status=503, times=2, headers=RETRY_NOW)),
        _export,
        SparkRetriesExhaustedError,
        id="submit-retries-exhausted",
    ),
    pytest.param(
        "api_key",
        {},
        _faults(Fault("status", "job_error", message="Export exploded")),
        _export,
        SparkLogError,
        id="job-error",
    ),
    pytest.param("api_key", {}, _faults(Fault("status", "never_finish")), _export, SparkLogError, id="job-timeout"),
    pytest.param(
        "api_key",
        {"extra": {"max_retries": 1}},
        _faults(Fault("download", "status", status=503, times=2, headers=RETRY_NOW)),
        _land,
        SparkRetriesExhaustedError,
        id="download-retries-exhausted",
    ),
    pytest.param(
        "oauth2",
        {"extra": {"max_retries": 1}},
        _faults(Fault("download", "reset", times=2)),
        _land,
        SparkRetriesExhaustedError,
        id="download-reset",
    ),
    pytest.param(
        "api_key", {}, _faults(Fault("download", "corrupt", times=3)), _land, SparkDownloadError, id="corrupt-3x"
    ),
    pytest.param(
        "oauth2",
        {},
        _faults(Fault("download", "truncate", times=3)),
        _export_and_land,
        SparkDownloadError,
        id="cut-off-3x",
    ),
    pytest.param(
        "bearer", {}, _faults(Fault("download", "expired", times=2)), _land, SparkApiError, id="url-expired-2x"
    ),
    pytest.param(
        "api_key",
        {},
        _faults(Fault("download", "redirect", times=20)),
        _land,
        SparkDownloadError,
        id="too-many-redirects",
    ),
    pytest.param(
        "api_key",
        {},
        lambda emulator: [
            Fault("submit", "status", status=302, headers={"Location": f"{emulator.docstore_url}/x"}, body="")
        ],
        _export,
        SparkApiError,
        id="submit-302-to-docstore",
    ),
    pytest.param("bearer", {"extra": {"auth_type": "nope"}}, _faults(), _export, SparkLogError, id="bad-connection"),
]


@pytest.mark.parametrize(("auth_type", "changes", "faults", "action", "error_type"), FAILURES)
def test_errors_carry_no_secret_or_download_url(
    tmp_path, emulator, connect, capsys, auth_type, changes, faults, action, error_type
):
    connect(auth_type, **changes)
    for fault in faults(emulator):
        emulator.inject(fault)
    with pytest.raises(error_type) as raised:
        action(emulator, tmp_path)

    if changes.get("password") == WRONG_SECRET:
        assert any(r.status == 401 for r in emulator.requests)
        if auth_type != "oauth2":  # the client secret goes in a form body, which the emulator does not record
            assert saw_header_value(emulator, WRONG_SECRET)
    elif "auth_type" not in changes.get("extra", {}):
        assert used_credential(emulator, auth_type)
    if action is not _export:
        assert download_secrets(emulator), "a download URL was handed out, so it could have leaked"
    secrets = all_secrets(emulator)
    assert_no_secret_in_error(raised.value, secrets)
    out = capsys.readouterr()
    assert not leaks(out.out + out.err, secrets), "a secret in the task log of the failure"
    assert_no_credentials_off_origin(emulator)


def test_missing_s3_bucket_error_carries_no_secret(tmp_path, emulator, connect, s3, capsys):
    connect("api_key")
    bucket = f"missing-{uuid.uuid4().hex[:12]}"
    with pytest.raises(SparkLandingError, match=bucket) as raised:
        land_op(finish_a_job(emulator), f"s3://{bucket}/day.zip", destination_conn_id="aws_default").execute({})
    assert used_credential(emulator, "api_key")
    assert download_secrets(emulator)
    secrets = all_secrets(emulator, s3.conn["password"])
    assert_no_secret_in_error(raised.value, secrets)
    out = capsys.readouterr()
    assert not leaks(out.out + out.err, secrets)


# ------------------------------------------------------------------ 4. credentials stay on the API's origin


def credentialed(record) -> bool:
    return any(h in record.headers for h in CREDENTIAL_HEADERS)


@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_download_from_the_document_store_carries_no_credentials(tmp_path, emulator, connect, auth_type):
    connect(auth_type)
    land_op(finish_a_job(emulator), f"file://{tmp_path}/day.zip").execute({})
    api_calls = [r for r in emulator.requests if r.server == "api" and r.target in ("submit", "status")]
    docstore = [r for r in emulator.requests if r.server == "docstore"]
    assert api_calls
    assert all(credentialed(r) for r in api_calls)
    assert [r.target for r in docstore] == ["download"]
    assert not any(credentialed(r) for r in docstore)


def test_a_302_from_the_api_to_the_document_store_is_not_followed(emulator, connect):
    connect("api_key")
    location = f"{emulator.docstore_url}/x"
    emulator.inject(Fault("submit", "status", status=302, headers={"Location": location}))
    with pytest.raises(SparkApiError, match="302") as raised:
        export_op(wait_for_completion=False).execute(CONTEXT)
    (submit,) = emulator.requests
    assert (submit.server, submit.target, submit.status) == ("api", "submit", 302)
    assert submit.headers["x-synthetic-key"] == API_KEY
    assert not [r for r in emulator.requests if r.server == "docstore"]
    assert_no_secret_in_error(raised.value, all_secrets(emulator))


@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_credentials_do_not_follow_a_download_redirect_back_to_the_document_store(
    tmp_path, emulator, connect, auth_type
):
    """docstore -> (302) API origin -> (302) docstore: no hop gets credentials, not even the API's own."""
    connect(auth_type)
    job_id = finish_a_job(emulator)
    emulator.inject(Fault("download", "redirect", times=2))
    land_op(job_id, f"file://{tmp_path}/day.zip").execute({})
    downloads = [(r.server, r.status) for r in emulator.requests if r.target == "download"]
    assert downloads == [("docstore", 302), ("api", 302), ("docstore", 200)]
    assert not any(credentialed(r) for r in emulator.requests if r.target == "download")
    assert_no_credentials_off_origin(emulator)


@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_credentials_never_go_to_a_third_origin(tmp_path, emulator, connect, auth_type):
    connect(auth_type)
    job_id = finish_a_job(emulator)
    with SparkEmulator() as elsewhere:
        emulator.inject(Fault("download", "redirect", times=2, location=f"{elsewhere.base_url}/elsewhere/x.zip"))
        with pytest.raises(SparkApiError) as raised:
            land_op(job_id, f"file://{tmp_path}/day.zip").execute({})
        arrived = elsewhere.requests
    assert arrived, "the redirect was followed to the other origin"
    assert not any(credentialed(r) for r in arrived)
    assert not any(saw_header_value(elsewhere, s) for s in all_secrets(emulator))
    assert used_credential(emulator, auth_type)
    assert_no_credentials_off_origin(emulator)
    assert_no_secret_in_error(raised.value, all_secrets(emulator))


# ------------------------------------------------------------------ 5. TLS verification


TLS_OFF = "TLS verification is off for connection 'coherent_spark_default'"


@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_tls_verification_is_on_by_default(emulator, connect, capsys, auth_type):
    connect(auth_type)
    hook = SparkLogHook()
    config = hook.get_config()
    assert config.verify is True
    assert hook.get_conn().verify is True
    assert asyncio.run(hook._assl(config)) is True  # aiohttp verifies against the system CAs
    out = capsys.readouterr()
    assert TLS_OFF not in out.out + out.err


@pytest.mark.parametrize("value", [False, "false", "0", "no"])
def test_turning_tls_verification_off_is_explicit_and_warned(emulator, connect, capsys, value):
    connect("api_key", extra={"verify": value})
    hook = SparkLogHook()
    config = hook.get_config()
    assert config.verify is False
    assert hook.get_conn().verify is False
    assert asyncio.run(hook._assl(config)) is False
    out = capsys.readouterr()
    text = out.out + out.err
    assert TLS_OFF in text
    assert "warning" in text[: text.index(TLS_OFF)].rsplit("\n", 1)[-1].lower()
    assert not leaks(text, all_secrets(emulator))


def test_a_ca_bundle_keeps_verification_on(tmp_path, emulator, connect, capsys):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")  # a CA bundle path must exist when the connection is read
    connect("api_key", extra={"verify": str(bundle)})
    hook = SparkLogHook()
    assert hook.get_config().verify == str(bundle)
    assert hook.get_conn().verify == str(bundle)
    out = capsys.readouterr()
    assert TLS_OFF not in out.out + out.err


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("auth_type", ["api_key", "oauth2"])
def test_unreachable_document_store_error_carries_no_download_url(tmp_path, emulator, connect, capsys, auth_type):
    """The network error of a download names its URL: it must not reach the error text or its chain."""
    connect(auth_type, extra={"max_retries": 0})
    job_id = finish_a_job(emulator)
    url = SparkLogHook().get_job_status("Pricing", "Motor Quote", job_id).download_url
    unreachable = f"http://127.0.0.1:{_closed_port()}{urlsplit(url).path}"
    emulator.inject(Fault("download", "redirect", location=unreachable))
    with pytest.raises(SparkRetriesExhaustedError, match="network error") as raised:
        land_op(job_id, f"file://{tmp_path}/day.zip").execute({})
    assert used_credential(emulator, auth_type)
    secrets = all_secrets(emulator, unreachable, urlsplit(unreachable).path)
    assert_no_secret_in_error(raised.value, secrets)
    out = capsys.readouterr()
    assert not leaks(out.out + out.err, secrets)


@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_connection_test_message_shown_in_the_ui_carries_no_secret(emulator, connect, auth_type):
    connect(auth_type)
    ok, message = SparkLogHook().test_connection()
    assert ok, message
    connect(auth_type, password=WRONG_SECRET)
    failed, refused = SparkLogHook().test_connection()
    assert not failed
    assert "401" in refused
    assert used_credential(emulator, auth_type)
    for text in (message, refused):
        assert not leaks(text, all_secrets(emulator))
