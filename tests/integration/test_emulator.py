"""The Spark emulator over real HTTP: auth, jobs, exports and filters, faults, control API, CLI."""

from __future__ import annotations

import csv
import http.client
import io
import itertools
import json
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests

from airflow_provider_spark_logs.testing import CallRecord, Fault, SparkEmulator

pytest_plugins = ["pytester"]

UTC = timezone.utc
MS = timedelta(milliseconds=1)
DAY = datetime(2026, 3, 1, tzinfo=UTC)
FOLDER, SERVICE = "Pricing", "Motor Quote"
LEADING = [
    "Description",
    "Log Time",
    "Transaction date",
    "Version",
    "Version ID",
    "User name",
    "Source system",
    "Correlation ID",
    "Call purpose",
    "Call ID",
    "Calc time (ms)",
    "Total time (ms)",
]
TRAILING = ["Error Details", "Warning Details"]


# ------------------------------------------------------------------ helpers


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wait_for(condition, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)
    return result


def key_headers(emu: SparkEmulator) -> dict[str, str]:
    return {"x-synthetic-key": emu.api_key, "x-tenant-name": emu.tenant}


def log_url(emu: SparkEmulator, job_id: str | None = None, *, fmt: str = "csv", **names: str) -> str:
    tenant = names.get("tenant", emu.tenant)
    folder, service = quote(names.get("folder", FOLDER)), quote(names.get("service", SERVICE))
    url = f"{emu.base_url}/{tenant}/api/v3/folders/{folder}/services/{service}/log/download{fmt}"
    return f"{url}/status/{job_id}" if job_id else url


def submit(emu: SparkEmulator, body: dict | None = None, *, fmt: str = "csv", **names: str) -> requests.Response:
    return requests.post(log_url(emu, fmt=fmt, **names), json=body or {}, headers=key_headers(emu), timeout=10)


def day_body(**request_data: Any) -> dict:
    data = {"start_date": iso(DAY), "end_date": iso(DAY + timedelta(days=1) - MS), **request_data}
    return {"request_data": data}


def status(emu: SparkEmulator, job_id: str, *, fmt: str = "csv", **names: str) -> requests.Response:
    return requests.get(log_url(emu, job_id, fmt=fmt, **names), headers=key_headers(emu), timeout=10)


def finished_url(emu: SparkEmulator, job_id: str, fmt: str = "csv") -> str:
    def done() -> str | None:
        answer = status(emu, job_id, fmt=fmt)
        assert answer.status_code == 200, answer.text
        return answer.json()["response_data"]["download_url"]

    return wait_for(done)


def job_id_of(answer: requests.Response) -> str:
    assert answer.status_code == 200, answer.text
    return answer.json()["response_data"]["job_id"]


def download(emu: SparkEmulator, body: dict, fmt: str = "csv") -> zipfile.ZipFile:
    url = finished_url(emu, job_id_of(submit(emu, body, fmt=fmt)), fmt)
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert archive.testzip() is None
    return archive


def csv_members(archive: zipfile.ZipFile) -> dict[str, list[list[str]]]:
    return {
        name: list(csv.reader(io.StringIO(archive.read(name).decode("utf-8"), newline="")))
        for name in archive.namelist()
    }


def exported_rows(emu: SparkEmulator, body: dict) -> list[dict[str, str]]:
    rows = []
    for table in csv_members(download(emu, body)).values():
        rows += [dict(zip(table[0], row, strict=True)) for row in table[1:]]
    return rows


def exported_ids(emu: SparkEmulator, body: dict) -> set[str]:
    return {row["Call ID"] for row in exported_rows(emu, body)}


def day_calls(emu: SparkEmulator) -> list[CallRecord]:
    return emu.calls(FOLDER, SERVICE, DAY, DAY + timedelta(days=1))


def error_of(answer: requests.Response, status_code: int) -> dict:
    assert answer.status_code == status_code, answer.text
    body = answer.json()
    assert body["status"] == "Error"
    assert body["response_data"] is None
    return body["error"]


def get_token(emu: SparkEmulator, **form: str) -> requests.Response:
    data = {"grant_type": "client_credentials", "client_id": emu.client_id, "client_secret": emu.client_secret}
    return requests.post(emu.token_url, data={**data, **form}, timeout=10)


@pytest.fixture
def emu():
    with SparkEmulator(job_seconds=0) as emulator:
        yield emulator


# ------------------------------------------------------------------ synthetic history


def test_history_is_deterministic_and_has_calls_on_the_bounds(emu):
    calls = day_calls(emu)
    assert calls == SparkEmulator().calls(FOLDER, SERVICE, DAY, DAY + timedelta(days=1))
    assert 20 <= len(calls) <= 40
    times = {call.log_time for call in calls}
    assert {DAY, DAY + timedelta(hours=12), DAY + timedelta(days=1) - MS} <= times
    assert calls == sorted(calls, key=lambda call: call.log_time)
    assert {call.version for call in calls} == {"1.0.0", "1.1.0", "1.2.0"}
    assert len({call.version_id for call in calls}) == 3
    assert any(call.errors for call in calls)
    assert any(call.warnings for call in calls)
    correlation_ids = [call.correlation_id for call in calls]
    assert len(set(correlation_ids)) < len(correlation_ids)
    assert len({call.call_id for call in calls}) == len(calls)
    assert calls != emu.calls(FOLDER, "Home Quote", DAY, DAY + timedelta(days=1))


def test_calls_are_half_open(emu):
    noon = DAY + timedelta(hours=12)
    assert [c.log_time for c in emu.calls(FOLDER, SERVICE, noon, noon + MS)] == [noon]
    assert all(c.log_time < noon for c in emu.calls(FOLDER, SERVICE, DAY, noon))
    assert emu.calls(FOLDER, SERVICE, noon, noon) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        emu.calls(FOLDER, SERVICE, datetime(2026, 3, 1), noon)


# ------------------------------------------------------------------ authentication


@pytest.mark.parametrize("scheme", ["api_key", "bearer", "oauth2"])
def test_each_auth_scheme_is_accepted(emu, scheme):
    headers = {
        "api_key": lambda: key_headers(emu),
        "bearer": lambda: {"Authorization": f"Bearer {emu.bearer_token}"},
        "oauth2": lambda: {"Authorization": f"Bearer {get_token(emu).json()['access_token']}"},
    }[scheme]()
    answer = requests.post(log_url(emu), json={}, headers=headers, timeout=10)
    job_id_of(answer)
    assert emu.requests[-1].target == "submit"
    assert emu.requests[-1].status == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-synthetic-key": "wrong", "x-tenant-name": "demo-tenant"},
        {"x-synthetic-key": "emulator-api-key"},
        {"x-synthetic-key": "emulator-api-key", "x-tenant-name": "other-tenant"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "emulator-bearer-token"},
        {"Authorization": "Basic ZW11bGF0b3ItY2xpZW50OmVtdWxhdG9yLWNsaWVudC1zZWNyZXQ="},
    ],
    ids=["none", "wrong-key", "key-without-tenant", "key-other-tenant", "wrong-bearer", "no-scheme", "basic"],
)
def test_bad_credentials_get_401_envelope(emu, headers):
    answer = requests.get(log_url(emu, "some-job"), headers=headers, timeout=10)
    error = error_of(answer, 401)
    assert error == {
        "error_category": "access_error",
        "error_type": "error.UNAUTHORIZED",
        "message": "INVALID_TOKEN",
        "additional_details": None,
    }
    assert answer.json()["response_meta"] is None


def test_issued_access_tokens_expire():
    with SparkEmulator(token_ttl=0.3) as emu:
        token = get_token(emu).json()
        assert token["expires_in"] == 0.3
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        assert requests.post(log_url(emu), json={}, headers=headers, timeout=10).status_code == 200
        wait_for(lambda: requests.post(log_url(emu), json={}, headers=headers, timeout=10).status_code == 401)


# ------------------------------------------------------------------ token endpoint


def test_token_endpoint_answers_like_keycloak(emu):
    answer = get_token(emu)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "expires_in", "refresh_expires_in", "token_type", "not-before-policy", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert body["access_token"] != get_token(emu).json()["access_token"]
    assert emu.requests[-1].target == "token"


def test_token_endpoint_accepts_http_basic_client_auth(emu):
    answer = requests.post(
        emu.token_url,
        data={"grant_type": "client_credentials"},
        auth=(emu.client_id, emu.client_secret),
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.json()["access_token"]


@pytest.mark.parametrize(
    ("form", "status_code", "error"),
    [
        ({"client_secret": "wrong"}, 401, "unauthorized_client"),
        ({"client_id": "someone-else"}, 401, "unauthorized_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
    ],
)
def test_token_endpoint_refusals(emu, form, status_code, error):
    answer = get_token(emu, **form)
    assert answer.status_code == status_code
    assert answer.json()["error"] == error
    if status_code == 401:
        assert answer.json()["error_description"] == "Invalid client or Invalid client credentials"


def test_token_endpoint_of_another_realm_is_not_found(emu):
    answer = requests.post(emu.token_url.replace(emu.tenant, "other"), data={}, timeout=10)
    assert answer.status_code == 404


# ------------------------------------------------------------------ submit, status, download


def test_happy_path_exports_the_window_exactly(emu):
    answer = submit(emu, day_body())
    assert answer.json()["status"] == "Success"
    assert answer.json()["error"] is None
    assert answer.json()["response_meta"]["system"] == "SPARK"
    archive = download(emu, day_body())
    tables = csv_members(archive)
    calls = day_calls(emu)
    by_version = {c.version: c for c in calls}
    assert sorted(tables) == [f"{SERVICE} {version}.csv" for version in sorted(by_version)]
    for name, table in tables.items():
        call = by_version[name.removeprefix(f"{SERVICE} ").removesuffix(".csv")]
        assert table[0] == [*LEADING, *call.inputs, *call.outputs, *TRAILING]
    rows = {row["Call ID"]: row for row in exported_rows(emu, day_body())}
    assert set(rows) == {call.call_id for call in calls}
    for call in calls:
        row = rows[call.call_id]
        assert row["Log Time"] == iso(call.log_time)
        assert (row["Version"], row["Version ID"]) == (call.version, call.version_id)
        assert (row["User name"], row["Call purpose"]) == (call.user_name, call.call_purpose)
        assert row["Correlation ID"] == call.correlation_id
        assert row["Error Details"] == call.errors
        assert row["Warning Details"] == call.warnings
        assert row["Driver age"] == str(call.inputs["Driver age"])


def test_end_date_is_inclusive_to_the_millisecond(emu):
    noon = DAY + timedelta(hours=12)
    body = {"request_data": {"start_date": iso(noon - timedelta(hours=1)), "end_date": iso(noon)}}
    until_noon = exported_ids(emu, body)
    body["request_data"]["end_date"] = iso(noon - MS)
    before_noon = exported_ids(emu, body)
    (noon_call,) = emu.calls(FOLDER, SERVICE, noon, noon + MS)
    assert noon_call.call_id in until_noon
    assert until_noon - before_noon == {noon_call.call_id}
    body = {"request_data": {"start_date": iso(noon + MS), "end_date": iso(noon + timedelta(hours=1))}}
    assert noon_call.call_id not in exported_ids(emu, body)


def test_consecutive_windows_export_every_call_once(emu):
    bounds = [DAY + timedelta(hours=h) for h in (0, 12, 24, 36)]
    exported: list[str] = []
    for start, end in itertools.pairwise(bounds):
        body = {"request_data": {"start_date": iso(start), "end_date": iso(end - MS)}}
        exported += [row["Call ID"] for row in exported_rows(emu, body)]
    expected = [call.call_id for call in emu.calls(FOLDER, SERVICE, bounds[0], bounds[-1])]
    assert sorted(exported) == sorted(expected)


def test_date_only_bounds_cover_whole_days(emu):
    body = {"request_data": {"start_date": "2026-03-01", "end_date": "2026-03-01"}}
    assert exported_ids(emu, body) == {call.call_id for call in day_calls(emu)}


def test_timestamps_with_offsets_are_understood(emu):
    body = {"request_data": {"start_date": "2026-03-01T01:00:00+01:00", "end_date": "2026-03-01T12:59:59.999+01:00"}}
    expected = emu.calls(FOLDER, SERVICE, DAY, DAY + timedelta(hours=12))
    assert exported_ids(emu, body) == {call.call_id for call in expected}


def test_timezone_offset_shifts_log_times(emu):
    rows = exported_rows(emu, day_body(timezone_offset=5.5))
    calls = {call.call_id: call for call in day_calls(emu)}
    for row in rows:
        shifted = datetime.fromisoformat(row["Log Time"])
        assert shifted.utcoffset() == timedelta(hours=5, minutes=30)
        assert shifted == calls[row["Call ID"]].log_time


def test_default_window_is_the_last_seven_days(emu):
    before = datetime.now(UTC)
    job_id = job_id_of(submit(emu, {}))
    filters = emu.jobs[job_id]["filters"]
    end = datetime.fromisoformat(filters["end"].replace("Z", "+00:00"))
    start = datetime.fromisoformat(filters["start"].replace("Z", "+00:00"))
    assert before - MS <= end <= datetime.now(UTC)
    assert end - start == timedelta(days=7)


def first_with(calls: list[CallRecord], attribute: str) -> str:
    return next(getattr(call, attribute) for call in calls if getattr(call, attribute))


@pytest.mark.parametrize(
    ("field", "value_of", "keeps"),
    [
        ("callpurpose", lambda calls: calls[0].call_purpose, lambda c, v: c.call_purpose == v),
        ("userName", lambda calls: calls[0].user_name, lambda c, v: c.user_name == v),
        ("has_warnings", lambda calls: True, lambda c, v: bool(c.warnings)),
        ("has_warnings", lambda calls: False, lambda c, v: not c.warnings),
        ("has_errors", lambda calls: True, lambda c, v: bool(c.errors)),
        ("has_errors", lambda calls: False, lambda c, v: not c.errors),
        ("call_ids", lambda calls: [calls[0].call_id, calls[5].call_id], lambda c, v: c.call_id in v),
        ("call_ids", lambda calls: [calls[3].correlation_id], lambda c, v: c.correlation_id == v[0]),
        ("call_ids", lambda calls: [calls[0].source_system], lambda c, v: c.source_system == v[0]),
    ],
    ids=[
        "purpose",
        "user",
        "warnings",
        "no-warnings",
        "errors",
        "no-errors",
        "call-ids",
        "correlation-id",
        "source-system",
    ],
)
def test_request_data_filters(emu, field, value_of, keeps):
    calls = day_calls(emu)
    value = value_of(calls)
    expected = {call.call_id for call in calls if keeps(call, value)}
    assert 0 < len(expected) < len(calls)
    assert exported_ids(emu, day_body(**{field: value})) == expected


def test_version_id_filter(emu):
    calls = day_calls(emu)
    version_id = calls[0].version_id
    body = {**day_body(), "request_meta": {"version_id": version_id}}
    archive = download(emu, body)
    assert archive.namelist() == [f"{SERVICE} {calls[0].version}.csv"]
    assert exported_ids(emu, body) == {call.call_id for call in calls if call.version_id == version_id}


def test_no_match_gives_one_header_only_csv(emu):
    tables = csv_members(download(emu, day_body(call_ids=["no-such-call"])))
    assert len(tables) == 1
    (table,) = tables.values()
    assert len(table) == 1
    assert table[0][: len(LEADING)] == LEADING
    assert table[0][-2:] == TRAILING


def test_json_sibling_endpoint(emu):
    archive = download(emu, day_body(), fmt="json")
    assert all(name.endswith(".json") for name in archive.namelist())
    records = [record for name in archive.namelist() for record in json.loads(archive.read(name))]
    assert {record["Call ID"] for record in records} == {call.call_id for call in day_calls(emu)}
    assert status(emu, job_id_of(submit(emu, day_body())), fmt="json").status_code == 404


def test_progress_grows_until_the_url_appears():
    with SparkEmulator(job_seconds=0.5) as emu:
        job_id = job_id_of(submit(emu, day_body()))
        first = status(emu, job_id).json()
        assert first["status"] is None
        assert first["error"] is None
        assert first["response_data"] == {"progress": first["response_data"]["progress"], "download_url": None}
        assert first["response_data"]["progress"] < 100
        url = finished_url(emu, job_id)
        assert url.startswith(f"{emu.docstore_url}/docstore/api/v1/documents/versions/tokens/")
        assert url.endswith(".zip")
        assert status(emu, job_id).json()["response_data"] == {"progress": 100, "download_url": url}


def test_folder_and_service_are_percent_decoded(emu):
    job_id = job_id_of(submit(emu, {}))
    assert (emu.jobs[job_id]["folder"], emu.jobs[job_id]["service"]) == (FOLDER, SERVICE)
    assert "Motor%20Quote" in emu.requests[-1].path


def test_download_needs_no_credentials_and_records_headers(emu):
    download(emu, day_body())
    (record,) = [r for r in emu.requests if r.target == "download"]
    assert record.server == "docstore"
    assert not {"x-synthetic-key", "x-tenant-name", "authorization"} & set(record.headers)
    assert all(r.headers["x-synthetic-key"] == emu.api_key for r in emu.requests if r.target == "submit")


def test_connections_are_kept_alive(emu):
    host, port = emu.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    for _ in range(2):
        connection.request("GET", "/nowhere")
        response = connection.getresponse()
        assert response.status == 404
        assert json.loads(response.read())["error"]["error_type"] == "error.NOT_FOUND"
    connection.request("HEAD", "/nowhere")
    response = connection.getresponse()
    assert response.status == 404
    assert response.read() == b""
    connection.close()


# ------------------------------------------------------------------ 4xx envelopes


@pytest.mark.parametrize(
    ("request_data", "field"),
    [
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": 20260301}, "end_date"),
        ({"timezone_offset": "5"}, "timezone_offset"),
        ({"timezone_offset": True}, "timezone_offset"),
        ({"call_ids": "abc"}, "call_ids"),
        ({"call_ids": [1, 2]}, "call_ids"),
        ({"callpurpose": 3}, "callpurpose"),
        ({"userName": ["a"]}, "userName"),
        ({"has_warnings": "true"}, "has_warnings"),
        ({"has_errors": 1}, "has_errors"),
        ({"start_date": "2024-01-01", "end_date": "2026-01-01"}, "window too long"),
        ({"start_date": "2026-03-02", "end_date": "2026-03-01"}, "before start_date"),
    ],
)
def test_invalid_request_data_gets_400_naming_the_field(emu, request_data, field):
    error = error_of(submit(emu, {"request_data": request_data}), 400)
    assert field in error["message"]
    assert emu.jobs == {}


def test_invalid_version_id_and_body_shapes(emu):
    assert "version_id" in error_of(submit(emu, {"request_meta": {"version_id": 7}}), 400)["message"]
    assert "request_data" in error_of(submit(emu, {"request_data": [1]}), 400)["message"]
    answer = requests.post(log_url(emu), json=[1, 2], headers=key_headers(emu), timeout=10)
    assert "JSON object" in error_of(answer, 400)["message"]
    answer = requests.post(
        log_url(emu), data=b"{not json", headers={**key_headers(emu), "Content-Type": "application/json"}, timeout=10
    )
    assert "not valid JSON" in error_of(answer, 400)["message"]


def test_wrong_content_type_gets_415(emu):
    answer = requests.post(
        log_url(emu), data="{}", headers={**key_headers(emu), "Content-Type": "text/plain"}, timeout=10
    )
    assert error_of(answer, 415)["error_type"] == "error.UNSUPPORTED_MEDIA_TYPE"


def test_not_found_envelopes(emu):
    assert "other-tenant" in error_of(submit(emu, {}, tenant="other-tenant"), 404)["message"]
    assert error_of(status(emu, "no-such-job"), 404)["error_type"] == "error.NOT_FOUND"
    job_id = job_id_of(submit(emu, {}))
    assert "not found" in error_of(status(emu, job_id, service="Home Quote"), 404)["message"]
    assert error_of(requests.get(log_url(emu), headers=key_headers(emu), timeout=10), 404)
    assert error_of(requests.get(f"{emu.docstore_url}/docstore/x", timeout=10), 404)
    missing = f"{emu.docstore_url}/docstore/api/v1/documents/versions/tokens/nope/file.zip"
    assert error_of(requests.get(missing, timeout=10), 404)


def test_services_can_be_restricted():
    with SparkEmulator(job_seconds=0, services=[(FOLDER, SERVICE)]) as emu:
        job_id_of(submit(emu, {}))
        message = error_of(submit(emu, {}, service="Home Quote"), 404)["message"]
        assert "Home Quote" in message
        assert FOLDER in message


# ------------------------------------------------------------------ faults


def test_status_fault_with_headers_and_envelope(emu):
    emu.inject(Fault("submit", "status", status=429, headers={"Retry-After": "2"}, message="slow down"))
    answer = submit(emu, {})
    assert answer.headers["Retry-After"] == "2"
    assert error_of(answer, 429)["message"] == "slow down"
    job_id_of(submit(emu, {}))
    assert [r.status for r in emu.requests] == [429, 200]


def test_status_fault_with_html_or_custom_body(emu):
    emu.inject(Fault("status", "status", status=502, html=True))
    emu.inject(Fault("status", "status", status=503, body="busy", headers={"x-retry-after": "1"}))
    first, second = status(emu, "any"), status(emu, "any")
    assert first.status_code == 502
    assert first.headers["Content-Type"] == "text/html"
    assert "<html>" in first.text
    assert (second.status_code, second.text, second.headers["x-retry-after"]) == (503, "busy", "1")
    assert status(emu, "any").status_code == 404


def test_faults_are_fifo_per_target_and_used_times(emu):
    emu.inject(Fault("submit", "status", status=500, times=2))
    emu.inject(Fault("status", "status", status=504))
    emu.inject(Fault("submit", "status", status=503))
    codes = [submit(emu, {}).status_code for _ in range(4)]
    assert codes == [500, 500, 503, 200]
    assert len(emu.pending_faults) == 1
    emu.clear_faults()
    assert status(emu, "any").status_code == 404


def test_delay_fault(emu):
    emu.inject(Fault("submit", "delay", seconds=0.3))
    started = time.monotonic()
    job_id_of(submit(emu, {}))
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    job_id_of(submit(emu, {}))
    assert time.monotonic() - started < 0.3


def test_delayed_request_is_recorded_and_takes_effect_even_if_the_client_gives_up(emu):
    emu.inject(Fault("submit", "delay", seconds=1.0))
    with pytest.raises(requests.Timeout):
        requests.post(log_url(emu), json={}, headers=key_headers(emu), timeout=0.2)
    (record,) = emu.requests
    assert (record.target, record.status) == ("submit", 200)
    assert len(emu.jobs) == 1


@pytest.mark.parametrize("target", ["token", "submit", "status"])
def test_reset_fault(emu, target):
    emu.inject(Fault(target, "reset"))
    call = {"token": lambda: get_token(emu), "submit": lambda: submit(emu, {}), "status": lambda: status(emu, "x")}
    with pytest.raises(requests.ConnectionError):
        call[target]()
    assert emu.requests[-1].status == 0
    assert call[target]().status_code in (200, 404)


def test_token_status_fault(emu):
    emu.inject(Fault("token", "status", status=503, html=True))
    assert get_token(emu).status_code == 503
    assert get_token(emu).status_code == 200


def finished_job_url(emu: SparkEmulator) -> str:
    return finished_url(emu, job_id_of(submit(emu, day_body())))


def test_truncate_fault_sends_true_length_then_stops(emu):
    url = finished_job_url(emu)
    full = requests.get(url, timeout=10).content
    emu.inject(Fault("download", "truncate", after_bytes=100))
    host, port = emu.docstore_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    connection.request("GET", url.removeprefix(emu.docstore_url))
    response = connection.getresponse()
    assert int(response.headers["Content-Length"]) == len(full)
    with pytest.raises(http.client.IncompleteRead) as cut:
        response.read()
    assert cut.value.partial == full[:100]
    connection.close()


def test_corrupt_fault_fails_a_crc_check(emu):
    url = finished_job_url(emu)
    full = requests.get(url, timeout=10).content
    emu.inject(Fault("download", "corrupt"))
    damaged = requests.get(url, timeout=10).content
    assert len(damaged) == len(full)
    assert sum(a != b for a, b in zip(damaged, full, strict=True)) == 1
    assert zipfile.ZipFile(io.BytesIO(damaged)).testzip() is not None


def test_corrupt_fault_hits_padding_when_present(emu):
    emu.zip_padding_bytes = 3 * 1024 * 1024 + 5
    url = finished_job_url(emu)
    emu.inject(Fault("download", "corrupt"))
    damaged = zipfile.ZipFile(io.BytesIO(requests.get(url, timeout=10).content))
    assert damaged.testzip() == "padding.bin"


def test_expired_fault_revokes_the_token(emu):
    job_id = job_id_of(submit(emu, day_body()))
    url = finished_url(emu, job_id)
    emu.inject(Fault("download", "expired"))
    assert error_of(requests.get(url, timeout=10), 410)["message"] == "Download link expired"
    assert requests.get(url, timeout=10).status_code == 404
    fresh = finished_url(emu, job_id)
    assert fresh != url
    assert requests.get(fresh, timeout=10).status_code == 200


def test_redirect_fault_defaults_to_the_other_origin(emu):
    url = finished_job_url(emu)
    emu.inject(Fault("download", "redirect"))
    first = requests.get(url, allow_redirects=False, timeout=10)
    assert first.status_code == 302
    assert first.headers["Location"] == emu.base_url + url.removeprefix(emu.docstore_url)
    emu.inject(Fault("download", "redirect"))
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(answer.content)).testzip() is None
    assert [(r.server, r.status) for r in emu.requests if r.target == "download"] == [
        ("docstore", 302),
        ("docstore", 302),
        ("api", 200),
    ]


def test_redirect_fault_to_a_given_location(emu):
    url = finished_job_url(emu)
    emu.inject(Fault("download", "redirect", location="http://elsewhere.invalid/x.zip"))
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.headers["Location"] == "http://elsewhere.invalid/x.zip"


@pytest.mark.parametrize("http_status", [200, 500])
def test_job_error_fault_applies_to_the_next_submitted_job(emu, http_status):
    before = job_id_of(submit(emu, {}))
    emu.inject(Fault("status", "job_error", http_status=http_status, message="boom"))
    failing = job_id_of(submit(emu, {}))
    after = job_id_of(submit(emu, {}))
    for _ in range(2):
        answer = status(emu, failing)
        assert answer.status_code == http_status
        assert answer.json()["status"] == "Error"
        assert answer.json()["error"]["message"] == "boom"
    assert finished_url(emu, before)
    assert finished_url(emu, after)


def test_never_finish_fault(emu):
    emu.inject(Fault("status", "never_finish", times=2))
    stuck = [job_id_of(submit(emu, {})) for _ in range(2)]
    assert finished_url(emu, job_id_of(submit(emu, {})))
    for job_id in stuck:
        assert status(emu, job_id).json()["response_data"] == {"progress": 60, "download_url": None}
    assert emu.jobs[stuck[0]]["fault"]["kind"] == "never_finish"


def test_request_faults_on_status_do_not_attach_to_jobs(emu):
    emu.inject(Fault("status", "status", status=503))
    job_id = job_id_of(submit(emu, {}))
    assert status(emu, job_id).status_code == 503
    assert finished_url(emu, job_id)


def test_big_zips_build_in_the_background_and_stream(emu):
    emu.zip_padding_bytes = 100 * 1024 * 1024
    job_id = job_id_of(submit(emu, day_body()))
    started = time.monotonic()
    first = status(emu, job_id).json()["response_data"]
    assert time.monotonic() - started < 0.5
    assert first == {"progress": 99, "download_url": None}
    with requests.get(finished_url(emu, job_id), stream=True, timeout=10) as answer:
        received = sum(len(chunk) for chunk in answer.iter_content(1024 * 1024))
    assert received == int(answer.headers["Content-Length"]) > 100 * 1024 * 1024


def test_zip_padding(emu):
    emu.zip_padding_bytes = 1024 * 1024 + 3
    archive = download(emu, day_body())
    info = archive.getinfo("padding.bin")
    assert (info.file_size, info.compress_type) == (1024 * 1024 + 3, zipfile.ZIP_STORED)


@pytest.mark.parametrize(
    ("args", "params", "message"),
    [
        (("nowhere", "status"), {}, "unknown fault target"),
        (("submit", "truncate"), {}, "does not apply"),
        (("status", "job_error"), {"status": 500}, "no parameter"),
        (("submit", "delay"), {"seconds": "1"}, "wrong type"),
    ],
)
def test_invalid_faults_are_refused(args, params, message):
    with pytest.raises(ValueError, match=message):
        Fault(*args, **params)
    with pytest.raises(ValueError, match="times"):
        Fault("submit", "reset", times=0)


# ------------------------------------------------------------------ control API


def test_control_api(emu):
    control = f"{emu.base_url}/_emulator"
    health = requests.get(f"{control}/health", timeout=10).json()
    assert health == {
        "status": "ok",
        "tenant": emu.tenant,
        "base_url": emu.base_url,
        "docstore_url": emu.docstore_url,
        "token_url": emu.token_url,
    }
    fault = {"target": "submit", "kind": "status", "times": 2, "params": {"status": 503}}
    assert requests.post(f"{control}/faults", json=fault, timeout=10).status_code == 201
    assert requests.post(f"{control}/faults", json={"target": "token", "kind": "reset"}, timeout=10).ok
    assert [f["remaining"] for f in requests.get(f"{control}/faults", timeout=10).json()] == [2, 1]
    assert submit(emu, {}).status_code == 503
    assert requests.delete(f"{control}/faults", timeout=10).ok
    assert submit(emu, {}).status_code == 200
    records = requests.get(f"{control}/requests", timeout=10).json()
    assert [(r["target"], r["status"]) for r in records] == [("submit", 503), ("submit", 200)]
    bad = requests.post(f"{control}/faults", json={"target": "submit", "kind": "explode"}, timeout=10)
    assert "Invalid fault" in error_of(bad, 400)["message"]
    assert len(requests.get(f"{control}/jobs", timeout=10).json()) == 1


def test_control_api_calls_match_the_python_api(emu):
    params = {"folder": FOLDER, "service": SERVICE, "start": iso(DAY), "end": iso(DAY + timedelta(hours=12))}
    answer = requests.get(f"{emu.base_url}/_emulator/calls", params=params, timeout=10)
    expected = emu.calls(FOLDER, SERVICE, DAY, DAY + timedelta(hours=12))
    assert [call["call_id"] for call in answer.json()] == [call.call_id for call in expected]
    assert answer.json()[0]["log_time"] == iso(DAY)
    missing = requests.get(f"{emu.base_url}/_emulator/calls", params={"folder": FOLDER}, timeout=10)
    assert "service" in error_of(missing, 400)["message"]


def test_control_api_settings(emu):
    answer = requests.post(f"{emu.base_url}/_emulator/settings", json={"zip_padding_bytes": 10}, timeout=10)
    assert answer.json()["zip_padding_bytes"] == 10
    assert emu.zip_padding_bytes == 10
    bad = requests.post(f"{emu.base_url}/_emulator/settings", json={"nope": 1}, timeout=10)
    assert error_of(bad, 400)


# ------------------------------------------------------------------ lifecycle, connection, CLI, plugin


def test_airflow_connection_shapes(emu):
    assert emu.airflow_connection() == {
        "conn_type": "coherent_spark",
        "host": emu.base_url,
        "password": emu.api_key,
        "extra": {"tenant": emu.tenant, "auth_type": "api_key"},
    }
    assert emu.airflow_connection("bearer")["password"] == emu.bearer_token
    oauth = emu.airflow_connection("oauth2", host_with_tenant=True)
    assert oauth["host"] == f"{emu.base_url}/{emu.tenant}"
    assert (oauth["login"], oauth["password"]) == (emu.client_id, emu.client_secret)
    assert oauth["extra"] == {"auth_type": "oauth2", "token_url": emu.token_url}
    with pytest.raises(ValueError, match="auth_type"):
        emu.airflow_connection("kerberos")


def test_stop_frees_ports_and_temp_files_and_is_idempotent(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # other processes' emulators stay out of sight
    before = set(Path(tempfile.gettempdir()).glob("spark-emulator-*"))
    emu = SparkEmulator(job_seconds=0).start()
    ports = [int(url.rsplit(":", 1)[1]) for url in (emu.base_url, emu.docstore_url)]
    session = requests.Session()  # keeps a connection open across stop()
    url = finished_job_url(emu)
    assert session.get(url, timeout=10).status_code == 200
    assert set(Path(tempfile.gettempdir()).glob("spark-emulator-*")) - before
    emu.stop()
    emu.stop()
    assert set(Path(tempfile.gettempdir()).glob("spark-emulator-*")) == before
    for port in ports:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", port))
            probe.listen()
    with pytest.raises(RuntimeError, match="not running"):
        _ = emu.base_url
    session.close()


@contextmanager
def emulator_cli(*args: str) -> Iterator[tuple[subprocess.Popen, str]]:
    """The emulator's CLI with these arguments, and the ready line it printed; killed at the end."""
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_spark_logs.testing", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready: list[str] = []
        reader = threading.Thread(target=lambda: ready.append(process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout=30)
        assert ready, "no ready line"
        yield process, ready[0]
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()


def ready_fields(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split()[3:])


def test_cli_prints_one_ready_line_and_exits_on_sigterm():
    with emulator_cli("--job-seconds", "0") as (process, line):
        assert line.startswith("Spark emulator ready: base_url=http://127.0.0.1:")
        fields = ready_fields(line)
        assert set(fields) == {"base_url", "tenant", "docstore", "token_url"}
        assert "emulator-api-key" not in line
        health = requests.get(f"{fields['base_url']}/_emulator/health", timeout=10).json()
        assert health["docstore_url"] == fields["docstore"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert process.stdout.read() == ""


def test_cli_help_documents_defaults():
    answer = subprocess.run(
        [sys.executable, "-m", "airflow_provider_spark_logs.testing", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    for text in ("--job-seconds", "default: 2.0", "--token-ttl", "default: 300.0", "--zip-padding-mib"):
        assert text in answer.stdout


def test_pytest_plugin_fixture(pytester):
    pytester.makeconftest('pytest_plugins = ["airflow_provider_spark_logs.testing.pytest_plugin"]')
    pytester.makepyfile(
        """
        import requests

        def test_it(spark_emulator):
            health = requests.get(spark_emulator.base_url + "/_emulator/health", timeout=10)
            assert health.json()["tenant"] == "demo-tenant"
        """
    )
    pytester.runpytest_inprocess().assert_outcomes(passed=1)


# ------------------------------------------------------------------ HTTPS, latency, connections


@pytest.fixture
def tls_emu():
    with SparkEmulator(job_seconds=0, tls=True) as emulator:
        yield emulator


def test_https_mode_serves_both_origins_with_a_ca_made_at_start(tls_emu):
    assert tls_emu.base_url.startswith("https://127.0.0.1:")
    assert tls_emu.docstore_url.startswith("https://127.0.0.1:")
    assert tls_emu.airflow_connection()["extra"]["verify"] == tls_emu.ca_path
    ca_path = Path(tls_emu.ca_path)
    assert b"BEGIN CERTIFICATE" in ca_path.read_bytes()
    assert [path.name for path in ca_path.parent.glob("*key*")] == ["server-key.pem"]  # the CA's key stays in memory
    with requests.Session() as session:
        # verify per request: a session's verify loses to REQUESTS_CA_BUNDLE (psf/requests#3829)
        options = {"verify": tls_emu.ca_path, "headers": key_headers(tls_emu), "timeout": 10}
        job_id = job_id_of(session.post(log_url(tls_emu), json=day_body(), **options))
        url = wait_for(lambda: session.get(log_url(tls_emu, job_id), **options).json()["response_data"]["download_url"])
        assert url.startswith(tls_emu.docstore_url)
        answer = session.get(url, verify=tls_emu.ca_path, timeout=10)
    assert zipfile.ZipFile(io.BytesIO(answer.content)).testzip() is None
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{tls_emu.base_url}/_emulator/health", timeout=10)  # the system's CAs do not know it
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{tls_emu.base_url.replace('https', 'http')}/_emulator/health", timeout=10)
    tls_emu.stop()
    assert not ca_path.parent.exists()


def test_without_tls_there_is_no_ca(emu):
    assert emu.ca_path is None
    assert "verify" not in emu.airflow_connection()["extra"]


def test_latency_holds_back_every_answer(emu):
    emu.latency = 0.3
    started = time.monotonic()
    assert status(emu, "no-such-job").status_code == 404
    assert time.monotonic() - started >= 0.3
    answer = requests.post(f"{emu.base_url}/_emulator/settings", json={"latency": 0.5}, timeout=10)
    assert answer.json()["latency"] == 0.5
    assert emu.latency == 0.5
    with pytest.raises(ValueError, match="latency"):
        emu.latency = -1


def test_requests_record_the_connection_they_came_over(emu):
    with requests.Session() as session:
        for _ in range(3):
            session.get(log_url(emu, "no-such-job"), headers=key_headers(emu), timeout=10)
    status(emu, "no-such-job")  # a new connection
    url = finished_url(emu, job_id_of(submit(emu, day_body())))
    requests.get(url, timeout=10)
    records = emu.requests
    first, second = {r.connection for r in records[:3]}, records[3].connection
    assert len(first) == 1
    assert second not in first
    assert len({r.connection for r in records}) == len(records) - 2  # numbers are unique across both servers
    assert records[-1].server == "docstore"


def test_cli_https_and_latency():
    with emulator_cli("--tls", "--latency", "0.25") as (process, line):
        fields = ready_fields(line)
        assert fields["base_url"].startswith("https://")
        assert fields["docstore"].startswith("https://")
        settings = requests.post(f"{fields['base_url']}/_emulator/settings", json={}, timeout=10, verify=fields["ca"])
        assert settings.json()["latency"] == 0.25
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert not Path(fields["ca"]).exists()
