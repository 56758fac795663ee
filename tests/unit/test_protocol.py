"""The I/O-free protocol: connection rules, request bodies, answer parsing, retry decisions."""

from __future__ import annotations

import contextlib
import json
import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_spark_logs.exceptions import (
    SparkApiError,
    SparkAuthError,
    SparkConfigError,
    SparkNotFoundError,
    SparkProtocolError,
    SparkRetriesExhaustedError,
)
from airflow_provider_spark_logs.protocol.connection import may_send_credentials, parse_connection
from airflow_provider_spark_logs.protocol.exchange import Done, Exchange, RefreshToken, Wait, retry_after
from airflow_provider_spark_logs.protocol.job_watch import JobWatch
from airflow_provider_spark_logs.protocol.messages import (
    LogFilters,
    auth_headers,
    download_request,
    parse_status,
    parse_submit,
    parse_token,
    status_request,
    submit_request,
    token_request,
)
from airflow_provider_spark_logs.timestamps import format_timestamp

UTC = timezone.utc


def config(**overrides):
    fields = {
        "host": "https://excel.uat.us.coherent.global/acme",
        "login": None,
        "password": "key-123",
        "extra": {},
    }
    fields.update(overrides)
    return parse_connection("spark", **fields)


# ------------------------------------------------------------------ connection


@pytest.mark.parametrize(
    ("host", "extra", "base_url", "tenant"),
    [
        ("https://excel.env.coherent.global/acme", {}, "https://excel.env.coherent.global", "acme"),
        ("https://excel.env.coherent.global/acme/", {}, "https://excel.env.coherent.global", "acme"),
        ("https://excel.env.coherent.global", {"tenant": "acme"}, "https://excel.env.coherent.global", "acme"),
        ("https://excel.env.coherent.global/acme", {"tenant": "acme"}, "https://excel.env.coherent.global", "acme"),
        ("https://excel.env.coherent.global/acme/api/v3", {}, "https://excel.env.coherent.global", "acme"),
        ("excel.env.coherent.global/acme", {}, "https://excel.env.coherent.global", "acme"),
        ("http://127.0.0.1:8080", {"tenant": "t"}, "http://127.0.0.1:8080", "t"),
        ("https://proxy.local/spark", {"tenant": "acme"}, "https://proxy.local/spark", "acme"),
    ],
)
def test_host_and_tenant(host, extra, base_url, tenant):
    parsed = config(host=host, extra=extra)
    assert (parsed.base_url, parsed.tenant) == (base_url, tenant)
    assert parsed.api_root == f"{base_url}/{tenant}/api/v3"


def test_prefixed_extras_from_older_forms():
    parsed = config(host="https://excel.env.coherent.global", extra={"extra__coherent_spark__tenant": "acme"})
    assert parsed.tenant == "acme"


def test_auth_type_defaults_follow_login():
    assert config().auth_type == "api_key"
    oauth = config(login="client")
    assert oauth.auth_type == "oauth2"
    assert oauth.client_id == "client"
    assert oauth.token_url == ("https://keycloak.uat.us.coherent.global/auth/realms/acme/protocol/openid-connect/token")


@pytest.mark.parametrize("token", ["tok", "Bearer tok", "bearer   tok", " Bearer tok "])
def test_bearer_prefix_is_optional(token):
    parsed = config(password=token, extra={"auth_type": "bearer"})
    assert auth_headers(parsed) == {"Authorization": "Bearer tok"}


def test_api_key_headers():
    assert auth_headers(config()) == {"x-synthetic-key": "key-123", "x-tenant-name": "acme"}


def test_extras_are_read_and_typed():
    parsed = config(extra={"timeout": "5", "max_retries": "2", "verify": "false"})
    assert (parsed.timeout, parsed.max_retries, parsed.verify) == (5.0, 2, False)
    defaults = config()
    assert (defaults.timeout, defaults.max_retries, defaults.verify) == (60.0, 5, True)


def test_secret_stays_out_of_repr():
    assert "key-123" not in repr(config())


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"host": None}, ["no host", "Spark base URL"]),
        ({"host": "  "}, ["no host"]),
        ({"host": "ftp://excel.env/acme"}, ["not an http(s) URL"]),
        ({"host": "https://excel.env.coherent.global"}, ["no tenant", "extra 'tenant'"]),
        ({"extra": {"auth_type": "basic"}}, ["auth_type 'basic'", "api_key, bearer, oauth2"]),
        ({"password": None}, ["no password", "API key"]),
        ({"password": "", "extra": {"auth_type": "bearer"}}, ["no password", "bearer token"]),
        ({"login": "client", "password": None}, ["no password", "client secret"]),
        ({"extra": {"auth_type": "oauth2"}}, ["no login", "client id"]),
        ({"host": "https://spark.acme.io/acme", "login": "c"}, ["token URL", "token_url"]),
        ({"extra": {"timeout": "0"}}, ["timeout", "above 0"]),
        ({"extra": {"max_retries": "-1"}}, ["max_retries"]),
        ({"extra": {"verify": "maybe"}}, ["verify", "CA bundle"]),
    ],
)
def test_bad_connections_name_the_field_and_the_fix(overrides, names):
    with pytest.raises(SparkConfigError) as error:
        config(**overrides)
    for name in names:
        assert name in str(error.value)
    assert "'spark'" in str(error.value)


# ------------------------------------------------------------------ filters and requests


def test_window_is_half_open_on_the_wire():
    filters = LogFilters(start="2026-01-01T00:00:00Z", end=datetime(2026, 1, 2, tzinfo=UTC))
    assert filters.request_body() == {
        "request_data": {"start_date": "2026-01-01T00:00:00.000Z", "end_date": "2026-01-01T23:59:59.999Z"}
    }


def test_timestamps_are_utc_with_milliseconds():
    local = datetime(2026, 3, 29, 2, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert format_timestamp(local) == "2026-03-29T00:30:15.123Z"
    assert LogFilters(start=datetime(2026, 1, 1)).start == datetime(2026, 1, 1, tzinfo=UTC)


def test_every_filter_reaches_the_body():
    body = LogFilters(
        timezone_offset=5.5,
        correlation_id="corr-1",
        call_purpose="quote",
        user_name="a@b.c",
        has_warnings=False,
        has_errors=True,
        version_id="v-1",
    ).request_body()
    assert body == {
        "request_data": {
            "timezone_offset": 5.5,
            "call_ids": ["corr-1"],
            "callpurpose": "quote",
            "userName": "a@b.c",
            "has_warnings": False,
            "has_errors": True,
        },
        "request_meta": {"version_id": "v-1"},
    }
    assert LogFilters(source_system="crm").request_body()["request_data"]["call_ids"] == ["crm"]
    assert LogFilters(call_ids=("a", "b")).request_body()["request_data"]["call_ids"] == ["a", "b"]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"start": "yesterday"}, "start"),
        ({"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "end"),
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z"}, "empty"),
        ({"timezone_offset": 15}, "timezone_offset"),
        ({"timezone_offset": "2"}, "timezone_offset"),
        ({"timezone_offset": True}, "timezone_offset"),
        ({"call_ids": "abc"}, "call_ids"),
        ({"call_ids": [1, 2]}, "call_ids"),
        ({"call_ids": []}, "call_ids"),
        ({"call_ids": ["a"], "correlation_id": "c"}, "call_ids and correlation_id"),
        ({"correlation_id": "c", "source_system": "s"}, "correlation_id and source_system"),
        ({"has_errors": "yes"}, "has_errors"),
        ({"user_name": " "}, "user_name"),
    ],
)
def test_bad_filters_name_the_parameter(kwargs, name):
    with pytest.raises(SparkConfigError, match=name):
        LogFilters(**kwargs)


def test_folder_and_service_are_encoded_path_segments():
    request = submit_request(config(), "Pricing Team", "Motor/Quote", LogFilters())
    assert request.url == (
        "https://excel.uat.us.coherent.global/acme/api/v3/folders/Pricing%20Team/services/Motor%2FQuote/log/downloadcsv"
    )
    assert status_request(config(), "f", "s", "job 1").url.endswith("/log/downloadcsv/status/job%201")


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_folder_or_service_is_rejected(name):
    with pytest.raises(SparkConfigError, match="folder"):
        submit_request(config(), name, "s", LogFilters())
    with pytest.raises(SparkConfigError, match="service"):
        status_request(config(), "f", name, "job")


def test_token_request_is_a_client_credentials_form():
    request = token_request(config(login="client"))
    assert request.form == {"grant_type": "client_credentials", "client_id": "client", "client_secret": "key-123"}
    assert "key-123" not in repr(request)
    assert not request.authenticated


def test_credentials_go_to_the_api_origin_only():
    parsed = config(host="https://excel.env.coherent.global:443/acme")
    assert download_request(parsed, "https://excel.env.coherent.global/docs/x.zip").authenticated
    assert not download_request(parsed, "https://entitystore.env.coherent.global/x.zip").authenticated
    assert not may_send_credentials(parsed, "http://excel.env.coherent.global/x.zip")
    assert not download_request(parsed, "https://excel.env.coherent.global/x.zip", redirected=True).authenticated


# ------------------------------------------------------------------ answers


def envelope(**response_data):
    return json.dumps({"status": None, "response_data": response_data, "error": None}).encode()


def test_parse_submit_and_status():
    assert parse_submit(envelope(job_id="j-1"), "submit") == "j-1"
    running = parse_status(envelope(progress=40, download_url=None), "status")
    assert (running.progress, running.done) == (40, False)
    done = parse_status(envelope(progress=100, download_url="https://docs/x.zip"), "status")
    assert done.done
    assert "docs" not in repr(done)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"<html>oops</html>", "not JSON"),
        (b"[1]", "not an object"),
        (json.dumps({"status": None}).encode(), "response_data"),
        (envelope(progress="50"), "response_data.progress"),
        (envelope(progress=101), "response_data.progress"),
        (envelope(progress=-1), "response_data.progress"),
        (envelope(progress=None), "response_data.progress"),
        (envelope(progress=100, download_url=5), "response_data.download_url"),
        (envelope(progress=100, download_url="file:///etc/passwd"), "response_data.download_url"),
    ],
)
def test_malformed_status_is_a_protocol_error_naming_the_field(body, field):
    with pytest.raises(SparkProtocolError, match=field):
        parse_status(body, "the status")


def test_missing_job_id_is_a_protocol_error():
    with pytest.raises(SparkProtocolError, match=r"response_data\.job_id"):
        parse_submit(envelope(), "submit")


def test_error_envelope_with_200_is_an_api_error():
    body = json.dumps({"status": "Error", "response_data": None, "error": {"message": "Job failed"}}).encode()
    with pytest.raises(SparkApiError, match="Job failed"):
        parse_status(body, "the status")


def test_parse_token():
    token = parse_token(json.dumps({"access_token": "abc", "expires_in": 600}).encode(), "token", now=1000.0)
    assert token.expires_at == 1600.0
    assert token.fresh(1569.0)
    assert not token.fresh(1571.0)
    short = parse_token(json.dumps({"access_token": "abc", "expires_in": 10}).encode(), "token", now=1000.0)
    assert short.fresh(1008.9)
    assert not short.fresh(1009.1)
    with pytest.raises(SparkProtocolError, match="access_token"):
        parse_token(b"{}", "token", now=0)


@given(st.binary(max_size=300))
def test_status_parsing_never_fails_in_an_unexpected_way(body):
    with contextlib.suppress(SparkProtocolError, SparkApiError):
        parse_status(body, "the status")


@given(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=5)),
    st.one_of(st.none(), st.text(max_size=20), st.integers()),
)
def test_status_accepts_exactly_numbers_in_range(progress, url):
    body = json.dumps({"response_data": {"progress": progress, "download_url": url}}).encode()
    valid_progress = isinstance(progress, int | float) and not isinstance(progress, bool) and 0 <= progress <= 100
    valid_url = url is None or url == "" or (isinstance(url, str) and url.startswith(("http://", "https://")))
    if valid_progress and valid_url:
        assert parse_status(body, "s").progress == progress
    else:
        with pytest.raises(SparkProtocolError):
            parse_status(body, "s")


# ------------------------------------------------------------------ retries


def exchange(auth="api_key", max_retries=3, now=1_000_000.0, request=None):
    extra = {"max_retries": max_retries, "auth_type": auth}
    parsed = config(extra=extra, login="client" if auth == "oauth2" else None)
    return Exchange(parsed, request or status_request(parsed, "f", "s", "j"), clock=lambda: now, rng=random.Random(1))


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": "0"}, 0.0),
        ({"x-retry-after": "3"}, 3.0),
        ({"Retry-After": format_datetime(datetime.fromtimestamp(1_000_012.0, UTC), usegmt=True)}, 12.0),
        ({"Retry-After": format_datetime(datetime.fromtimestamp(999_000.0, UTC), usegmt=True)}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_forms(headers, seconds):
    assert retry_after(headers, now=1_000_000.0) == seconds


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_transient_statuses_wait_and_retry(status):
    ex = exchange()
    assert isinstance(ex.on_response(status, {}, b"<html>busy</html>"), Wait)


def test_retry_after_is_honoured():
    assert exchange().on_response(429, {"Retry-After": "4"}, b"") == Wait(4.0)


def test_backoff_grows_with_jitter_and_a_cap():
    ex = exchange(max_retries=20)
    waits = [ex.on_response(503, {}, b"").seconds for _ in range(10)]
    assert 0.5 <= waits[0] <= 1.0
    assert 1.0 <= waits[1] <= 2.0
    assert 4.0 <= waits[3] <= 8.0
    assert all(w <= 60.0 for w in waits)
    assert len(set(waits)) == len(waits)


def test_retries_are_capped_and_the_error_says_why():
    ex = exchange(max_retries=2)
    ex.on_response(503, {}, b"")
    ex.on_transport_error("ConnectionResetError")
    with pytest.raises(SparkRetriesExhaustedError) as error:
        ex.on_response(503, {}, b"<html><body>Service Unavailable</body></html>")
    assert "3 attempts" in str(error.value)
    assert "HTTP 503: Service Unavailable" in str(error.value)
    assert "max_retries" in str(error.value)


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, SparkApiError),
        (401, SparkAuthError),
        (403, SparkAuthError),
        (404, SparkNotFoundError),
        (500, SparkApiError),
    ],
)
def test_other_errors_are_not_retried(status, error_type):
    body = json.dumps({"status": "Error", "error": {"message": "BAD_THING"}}).encode()
    with pytest.raises(error_type) as error:
        exchange().on_response(status, {}, body)
    assert error.value.status == status
    assert "BAD_THING" in str(error.value)


def test_auth_error_names_the_auth_type_and_connection():
    with pytest.raises(SparkAuthError) as error:
        exchange(auth="bearer").on_response(401, {}, b"{}")
    message = str(error.value)
    assert "'bearer'" in message
    assert "'spark'" in message
    assert "check credentials or the feature permission" in message
    assert "key-123" not in message


def test_oauth2_refreshes_the_token_once_after_401():
    ex = exchange(auth="oauth2")
    assert isinstance(ex.on_response(401, {}, b""), RefreshToken)
    with pytest.raises(SparkAuthError):
        ex.on_response(401, {}, b"")


def test_success_is_done():
    assert exchange().on_response(200, {}, b"x") == Done(b"x")


# ------------------------------------------------------------------ when a trigger first looks


def test_first_wait_spreads_triggers_over_one_more_interval():
    now = 1_000_000.0
    waits = [JobWatch(f"job-{n}", now + 3600, 10.0, 3600).first_wait(now) for n in range(1000)]
    assert all(10.0 <= wait < 20.0 for wait in waits)
    assert min(waits) < 10.5
    assert max(waits) > 19.5
    assert len({round(wait, 3) for wait in waits}) > 900  # not in step
    again = JobWatch("job-7", now + 3600, 10.0, 3600).first_wait(now)
    assert again == waits[7]  # fixed per job: a restarted trigger keeps its phase


def test_first_wait_stops_at_the_deadline():
    assert JobWatch("job-1", 1005.0, 10.0, 5).first_wait(1000.0) == 5.0
