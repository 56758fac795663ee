"""SparkLogHook over real HTTP against the emulator: auth schemes, retries, errors, downloads."""

from __future__ import annotations

import asyncio
import io
import json
import ssl
import time
import zipfile
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from airflow_provider_spark_logs._compat import redact
from airflow_provider_spark_logs.exceptions import (
    SparkApiError,
    SparkAuthError,
    SparkConfigError,
    SparkDownloadError,
    SparkNotFoundError,
    SparkRetriesExhaustedError,
)
from airflow_provider_spark_logs.hooks.spark_logs import ASYNC_USER_AGENT, SparkLogHook
from airflow_provider_spark_logs.protocol.messages import LogFilters
from airflow_provider_spark_logs.testing import Fault, SparkEmulator
from tests.helpers import call_ids_in, wait_until

UTC = timezone.utc
DAY = LogFilters(start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 1, 2, tzinfo=UTC))
AUTH_TYPES = ["api_key", "bearer", "oauth2"]


def requests_to(emulator, target):
    return [r for r in emulator.requests if r.target == target]


def finished_status(hook, job_id, folder="Pricing", service="Motor Quote"):
    return wait_until(lambda: (s := hook.get_job_status(folder, service, job_id)).done and s)


def export_zip(hook, filters=DAY, folder="Pricing", service="Motor Quote") -> zipfile.ZipFile:
    job_id = hook.submit_export(folder, service, filters)
    buffer = io.BytesIO()
    hook.download(finished_status(hook, job_id, folder, service).download_url, buffer)
    return zipfile.ZipFile(buffer)


# ------------------------------------------------------------------ the happy path, per auth type


@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_export_round_trip(emulator, connect, auth_type):
    hook = SparkLogHook(connect(auth_type))
    archive = export_zip(hook)
    assert archive.testzip() is None
    expected = emulator.calls("Pricing", "Motor Quote", DAY.start, DAY.end)
    assert sorted(call_ids_in(archive)) == sorted(c.call_id for c in expected)
    assert len(expected) > 10


def test_host_may_end_in_the_tenant(emulator, connect):
    conn = emulator.airflow_connection(auth_type="api_key", host_with_tenant=True)
    assert conn["host"].endswith(f"/{emulator.tenant}")
    hook = SparkLogHook(connect(host=conn["host"], extra={"tenant": None}))
    assert hook.test_connection()[0]


def test_bearer_token_with_prefix(emulator, connect):
    hook = SparkLogHook(connect("bearer", password=f"Bearer {emulator.bearer_token}"))
    assert hook.test_connection() == (
        True,
        f"Connected to Spark tenant '{emulator.tenant}' at {emulator.base_url} with auth_type 'bearer'.",
    )


def test_window_bounds_are_exact_to_the_millisecond(emulator, connect):
    """A call exactly at the window's end belongs to the next window, not this one."""
    hook = SparkLogHook(connect())
    midnight = datetime(2026, 1, 2, tzinfo=UTC)
    first = call_ids_in(export_zip(hook, LogFilters(start=midnight - timedelta(hours=1), end=midnight)))
    second = call_ids_in(export_zip(hook, LogFilters(start=midnight, end=midnight + timedelta(hours=1))))
    at_midnight = [
        c.call_id for c in emulator.calls("Pricing", "Motor Quote", midnight, midnight + timedelta(milliseconds=1))
    ]
    assert at_midnight, "the emulator's history has a call exactly at midnight"
    assert set(at_midnight) <= set(second)
    assert not set(at_midnight) & set(first)


def test_filters_reach_spark(emulator, connect):
    hook = SparkLogHook(connect())
    calls = emulator.calls("Pricing", "Motor Quote", DAY.start, DAY.end)
    user = calls[0].user_name
    filters = LogFilters(start=DAY.start, end=DAY.end, user_name=user, has_errors=False)
    expected = [c.call_id for c in calls if c.user_name == user and not c.errors]
    assert sorted(call_ids_in(export_zip(hook, filters))) == sorted(expected)


# ------------------------------------------------------------------ OAuth2 tokens


def test_oauth2_token_is_cached(emulator, connect):
    hook = SparkLogHook(connect("oauth2"))
    job_id = hook.submit_export("Pricing", "Motor Quote", DAY)
    finished_status(hook, job_id)
    assert len(requests_to(emulator, "token")) == 1
    assert len(requests_to(emulator, "status")) >= 2


def test_oauth2_token_is_fetched_again_when_it_expires(connect):
    from airflow_provider_spark_logs.testing import SparkEmulator

    with SparkEmulator(token_ttl=1, job_seconds=2.5) as emu:
        hook = SparkLogHook(connect("oauth2", host=emu.base_url, extra={"token_url": emu.token_url}))
        job_id = hook.submit_export("Pricing", "Motor Quote", DAY)
        finished_status(hook, job_id)
        assert len(requests_to(emu, "token")) >= 2
        assert all(r.status == 200 for r in emu.requests)


def test_oauth2_token_is_fetched_again_after_a_401_once(emulator, connect):
    hook = SparkLogHook(connect("oauth2"))
    emulator.inject(Fault("submit", "status", status=401))
    assert hook.submit_export("Pricing", "Motor Quote", DAY)
    assert len(requests_to(emulator, "token")) == 2
    emulator.inject(Fault("submit", "status", status=401, times=2))
    with pytest.raises(SparkAuthError):
        hook.submit_export("Pricing", "Motor Quote", DAY)


def test_wrong_client_secret(emulator, connect):
    hook = SparkLogHook(connect("oauth2", password="not-the-secret"))
    with pytest.raises(SparkAuthError) as error:
        hook.submit_export("Pricing", "Motor Quote", DAY)
    assert "oauth2" in str(error.value)
    assert "not-the-secret" not in str(error.value)


# ------------------------------------------------------------------ retries


@pytest.mark.parametrize("status", [502, 503, 504])
def test_proxy_errors_are_retried(emulator, connect, status):
    hook = SparkLogHook(connect())
    emulator.inject(Fault("submit", "status", status=status, html=True, times=2))
    assert hook.submit_export("Pricing", "Motor Quote", DAY)
    assert [r.status for r in requests_to(emulator, "submit")] == [status, status, 200]


@pytest.mark.parametrize(
    "headers",
    [
        {"Retry-After": "1"},
        {"x-retry-after": "1"},
        {"Retry-After": "HTTP-DATE"},
    ],
)
def test_retry_after_is_honoured(emulator, connect, headers):
    hook = SparkLogHook(connect())
    job_id = hook.submit_export("Pricing", "Motor Quote", DAY)
    if headers.get("Retry-After") == "HTTP-DATE":
        headers = {"Retry-After": format_datetime(datetime.now(UTC) + timedelta(seconds=2), usegmt=True)}
    emulator.inject(Fault("status", "status", status=429, headers=headers))
    hook.get_job_status("Pricing", "Motor Quote", job_id)
    first, second = requests_to(emulator, "status")
    assert first.status == 429
    assert second.status == 200
    assert 0.9 <= second.time - first.time < 3.5


def test_connection_reset_is_retried(emulator, connect):
    hook = SparkLogHook(connect())
    emulator.inject(Fault("submit", "reset", times=2))
    assert hook.submit_export("Pricing", "Motor Quote", DAY)
    assert len(requests_to(emulator, "submit")) == 3


def test_slow_response_times_out_and_is_retried(emulator, connect):
    hook = SparkLogHook(connect(extra={"timeout": 0.5}))
    emulator.inject(Fault("submit", "delay", seconds=2.0))
    started = time.monotonic()
    assert hook.submit_export("Pricing", "Motor Quote", DAY)
    assert time.monotonic() - started < 2.0
    wait_until(lambda: len(requests_to(emulator, "submit")) == 2)  # the slow one is logged when it ends


def test_retries_are_capped_by_max_retries(emulator, connect):
    hook = SparkLogHook(connect(extra={"max_retries": 2}))
    emulator.inject(Fault("submit", "status", status=503, html=True, times=5))
    with pytest.raises(SparkRetriesExhaustedError) as error:
        hook.submit_export("Pricing", "Motor Quote", DAY)
    assert len(requests_to(emulator, "submit")) == 3
    assert "3 attempts" in str(error.value)
    assert "HTTP 503" in str(error.value)


# ------------------------------------------------------------------ errors that are not retried


def test_400_carries_the_api_message(emulator, connect):
    hook = SparkLogHook(connect())
    emulator.inject(Fault("submit", "status", status=400, message="start_date is invalid"))
    with pytest.raises(SparkApiError) as error:
        hook.submit_export("Pricing", "Motor Quote", DAY)
    assert error.value.status == 400
    assert "start_date is invalid" in str(error.value)
    assert len(requests_to(emulator, "submit")) == 1


@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_wrong_credentials(emulator, connect, auth_type):
    hook = SparkLogHook(connect(auth_type, password="wrong-secret-value"))
    ok, message = hook.test_connection()
    assert not ok
    assert f"auth_type '{auth_type}'" in message
    assert "check credentials or the feature permission" in message
    assert "with HTTP 401" in message
    # In the user's terms: not the connection id (the UI tests a copy under a random one), not the probe.
    for internal in ("coherent_spark_default", "00000000-0000", "connection-test"):
        assert internal not in message
    assert "wrong-secret-value" not in message


def test_unknown_job_is_not_found(emulator, connect):
    hook = SparkLogHook(connect())
    with pytest.raises(SparkNotFoundError, match="Pricing/Motor Quote"):
        hook.get_job_status("Pricing", "Motor Quote", "no-such-job")
    assert len(requests_to(emulator, "status")) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"host": ""}, "no host"),
        ({"extra": {"tenant": None}}, "no tenant"),
        ({"extra": {"auth_type": "kerberos"}}, "auth_type 'kerberos'"),
        ({"password": ""}, "no password"),
    ],
)
def test_bad_connections_fail_before_any_request(emulator, connect, changes, field):
    hook = SparkLogHook(connect(**changes))
    with pytest.raises(SparkConfigError, match=field):
        hook.submit_export("Pricing", "Motor Quote", DAY)
    assert emulator.requests == []


def test_the_connection_test_does_not_retry_and_leaves_later_calls_retrying(emulator, connect):
    hook = SparkLogHook(connect())
    emulator.inject(Fault("status", "status", status=503))
    ok, message = hook.test_connection()
    assert not ok
    assert "after 1 attempts" in message
    assert len(requests_to(emulator, "status")) == 1
    emulator.inject(Fault("submit", "status", status=503))
    assert hook.submit_export("Pricing", "Motor Quote", DAY)
    assert len(requests_to(emulator, "submit")) == 2


def test_oauth2_without_secret_fails_before_any_request(emulator, connect):
    hook = SparkLogHook(connect("oauth2", password=None))
    assert hook.test_connection()[0] is False
    assert emulator.requests == []


# ------------------------------------------------------------------ downloads


def test_download_carries_no_spark_credentials(emulator, connect):
    hook = SparkLogHook(connect())
    export_zip(hook)
    (download,) = requests_to(emulator, "download")
    assert not {"x-synthetic-key", "x-tenant-name", "authorization"} & set(download.headers)
    assert all("x-synthetic-key" in r.headers for r in emulator.requests if r.target in ("submit", "status"))


def test_download_cut_off_mid_body(emulator, connect):
    hook = SparkLogHook(connect())
    job_id = hook.submit_export("Pricing", "Motor Quote", DAY)
    url = finished_status(hook, job_id).download_url
    emulator.inject(Fault("download", "truncate", after_bytes=100))
    with pytest.raises(SparkDownloadError, match=r"cut off|ended after"):
        hook.download(url, io.BytesIO())


def test_redirect_to_another_origin_gets_no_credentials(emulator, connect):
    hook = SparkLogHook(connect())
    job_id = hook.submit_export("Pricing", "Motor Quote", DAY)
    url = finished_status(hook, job_id).download_url
    emulator.inject(Fault("download", "redirect", location=url))
    buffer = io.BytesIO()
    hook.download(url, buffer)
    assert zipfile.ZipFile(buffer).testzip() is None
    for record in requests_to(emulator, "download"):
        assert not {"x-synthetic-key", "authorization"} & set(record.headers)


# ------------------------------------------------------------------ async transport


@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_async_status_polls(emulator, connect, auth_type):
    hook = SparkLogHook(connect(auth_type))
    job_id = hook.submit_export("Pricing", "Motor Quote", DAY)

    async def scenario():
        deadline = time.monotonic() + 10
        while not (status := await hook.aget_job_status("Pricing", "Motor Quote", job_id)).done:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        return status

    status = asyncio.run(scenario())
    assert (status.progress, status.downloadable) == (100, True)
    assert not hasattr(status, "download_url")  # the event loop side never keeps the URL
    agents = {r.headers["user-agent"] for r in emulator.requests if r.target == "status"}
    assert agents == {ASYNC_USER_AGENT}


def test_async_retry_after(emulator, connect):
    hook = SparkLogHook(connect())
    job_id = hook.submit_export("Pricing", "Motor Quote", DAY)
    emulator.inject(Fault("status", "status", status=429, headers={"Retry-After": "1"}))
    emulator.inject(Fault("status", "reset"))
    assert asyncio.run(hook.aget_job_status("Pricing", "Motor Quote", job_id))
    first, second, third = requests_to(emulator, "status")
    assert 0.9 <= second.time - first.time < 3.0
    assert third.status == 200


def test_async_errors_match_sync_errors(emulator, connect):
    hook = SparkLogHook(connect("bearer", password="bad-token-value"))
    with pytest.raises(SparkAuthError) as error:
        asyncio.run(hook.aget_job_status("Pricing", "Motor Quote", "x"))
    assert "bad-token-value" not in str(error.value)


# ------------------------------------------------------------------ secrets


@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_secrets_are_masked(emulator, connect, auth_type):
    hook = SparkLogHook(connect(auth_type))
    job_id = hook.submit_export("Pricing", "Motor Quote", DAY)
    status = finished_status(hook, job_id)
    secrets = [hook.get_config().secret, status.download_url]
    if auth_type == "oauth2":
        secrets.append(hook._token.value)
    for secret in secrets:
        assert redact(f"value {secret} here") == "value *** here"


# ------------------------------------------------------------------ HTTPS


def test_https_trusts_the_connections_ca_over_requests_ca_bundle(monkeypatch):
    """The connection's ``verify`` wins, even with a CA bundle in the environment that does not know the CA."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi_like_bundle())
    with SparkEmulator(job_seconds=0, tls=True) as emulator:
        monkeypatch.setenv("AIRFLOW_CONN_SPARK_TLS", json.dumps(emulator.airflow_connection()))
        hook = SparkLogHook("spark_tls")
        archive = export_zip(hook)
        assert archive.testzip() is None
        job_id = hook.submit_export("Pricing", "Motor Quote", DAY)
        asyncio.run(SparkLogHook("spark_tls").aget_job_status("Pricing", "Motor Quote", job_id))
        (polled,) = [r for r in emulator.requests if r.headers["user-agent"] == ASYNC_USER_AGENT]
        assert polled.status == 200
        assert all(r.status == 200 for r in emulator.requests)


def certifi_like_bundle() -> str:
    """A CA bundle of public CAs only: what REQUESTS_CA_BUNDLE usually points at."""
    return ssl.get_default_verify_paths().openssl_cafile
