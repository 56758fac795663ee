"""The I/O-free decisions behind issue 11: which URLs are fetched and get credentials, what answer
text may be quoted, how big and deep an answer may be, how long a retry may wait, which names and
ZIP members are refused, and which limits apply."""

from __future__ import annotations

import errno
import io
import json
import random
import tempfile
import zipfile

import pytest

from airflow_provider_spark_logs.exceptions import (
    SparkApiError,
    SparkConfigError,
    SparkLandingError,
    SparkProtocolError,
    SparkRetriesExhaustedError,
    SparkTlsError,
)
from airflow_provider_spark_logs.protocol.connection import may_send_credentials, parse_connection
from airflow_provider_spark_logs.protocol.exchange import Exchange, Wait
from airflow_provider_spark_logs.protocol.messages import (
    MAX_ANSWER_BYTES,
    download_request,
    parse_status,
    parse_submit,
    path_segment,
    redirect_target,
    status_request,
    token_request,
)
from airflow_provider_spark_logs.protocol.redaction import redacted
from airflow_provider_spark_logs.protocol.urls import plain_url
from airflow_provider_spark_logs.spool import spool_file, spool_folder
from airflow_provider_spark_logs.unpacking import UnpackLimits, check_declared_sizes, planned_members

SECRET = "s3cr=t/+&% key"


def config(host="https://excel.env.coherent.global/acme", **extra):
    return parse_connection("spark", host=host, login=None, password=SECRET, extra=extra)


# ------------------------------------------------------------------ URLs all parsers read alike


@pytest.mark.parametrize(
    "url",
    [
        "https://other:81\\@excel.env.coherent.global/x",  # urlsplit: excel..., urllib3: other
        "https://excel.env.coherent.global\\.other/x",
        "https://user@excel.env.coherent.global/x",
        "https://excel.env.coherent.global:443@other/x",
        "https://other#@excel.env.coherent.global/x",
        "https://other\t@excel.env.coherent.global/x",
        "https://excel.env.coherent.global/x y",
        "https://excel.env.coherent.global/x\n",
        "https://excel.env.coherent.global/x#frag",
        "https://%65xcel.env.coherent.global/x",
        "https://2130706433/x",
        "https://0x7f000001/x",
        "https://127.1/x",
        "https://010.0.0.1/x",
        "https://[::1%25eth0]/x",
        "https://excel.env.coherent.global:0/x",
        "https://excel.env.coherent.global:99999/x",
        "https://excél.env.coherent.global/x",
        "ftp://excel.env.coherent.global/x",
        "file:///etc/passwd",
        "//excel.env.coherent.global/x",
        "https:///x",
        "",
    ],
)
def test_urls_the_parsers_could_read_differently_are_not_plain(url):
    assert plain_url(url) is None
    assert not may_send_credentials(config(), url)


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://excel.env.coherent.global/x.zip?sig=a%2Fb@c", ("https", "excel.env.coherent.global", 443)),
        ("HTTPS://Excel.Env.Coherent.Global:443/x", ("https", "excel.env.coherent.global", 443)),
        ("http://127.0.0.1:8080/x", ("http", "127.0.0.1", 8080)),
        ("http://[::1]:8080", ("http", "[::1]", 8080)),
        ("https://bucket.s3.amazonaws.com", ("https", "bucket.s3.amazonaws.com", 443)),
    ],
)
def test_plain_urls_and_their_origins(url, origin):
    assert plain_url(url).origin == origin


def test_credentials_go_to_the_exact_api_origin_only():
    parsed = config(host="https://excel.env.coherent.global:443/acme")
    assert may_send_credentials(parsed, "https://EXCEL.env.coherent.global/docs/x.zip")
    assert not may_send_credentials(parsed, "https://excel.env.coherent.global:8443/x.zip")
    assert not may_send_credentials(parsed, "http://excel.env.coherent.global/x.zip")
    assert not may_send_credentials(parsed, "https://excel.env.coherent.global.evil.com/x.zip")
    assert not may_send_credentials(parsed, "https://other\\@excel.env.coherent.global/x.zip")


@pytest.mark.parametrize(
    ("host", "extra"),
    [
        ("https://excel.env.coherent.global\\x/acme", {}),
        ("https://excel.env.coherent.global/acme", {"token_url": "https://kc\\@excel.env.coherent.global/t"}),
        ("https://excel.env.coherent.global/acme", {"token_url": "https://u@kc.env.coherent.global/t"}),
    ],
)
def test_a_connection_url_that_parsers_read_differently_is_refused(host, extra):
    login = "client" if "token_url" in extra else None
    with pytest.raises(SparkConfigError, match="plain http"):
        parse_connection("spark", host=host, login=login, password=SECRET, extra=extra)


# ------------------------------------------------------------------ where downloads may come from


@pytest.mark.parametrize(
    ("api", "url", "extra", "refused"),
    [
        ("https://excel.env.coherent.global/acme", "https://docs.example.com/x.zip", {}, None),
        ("https://excel.env.coherent.global/acme", "https://excel.env.coherent.global/x.zip", {}, None),
        ("https://excel.env.coherent.global/acme", "http://docs.example.com/x.zip", {}, "plain http"),
        ("https://excel.env.coherent.global/acme", "https://169.254.169.254/x", {}, "not a public address"),
        ("https://excel.env.coherent.global/acme", "https://10.0.0.8/x", {}, "not a public address"),
        ("https://excel.env.coherent.global/acme", "https://[fd00::1]/x", {}, "not a public address"),
        ("https://excel.env.coherent.global/acme", "https://[::ffff:10.0.0.8]/x", {}, "not a public address"),
        ("https://excel.env.coherent.global/acme", "https://127.0.0.1/x", {}, "not a public address"),
        ("https://excel.env.coherent.global/acme", "https://localhost/x", {}, "loopback name"),
        ("https://excel.env.coherent.global/acme", "https://a.localhost/x", {}, "loopback name"),
        ("https://excel.env.coherent.global/acme", "http://10.0.0.8/x", {"download_hosts": ["10.0.0.8"]}, None),
        ("https://excel.env.coherent.global/acme", "http://docs.corp/x", {"download_hosts": "*.corp, x"}, None),
        ("https://excel.env.coherent.global/acme", "http://corp/x", {"download_hosts": ["*.corp"]}, "plain http"),
        ("http://127.0.0.1:8080/acme", "http://127.0.0.1:9090/x", {}, None),
        ("http://localhost:8080/acme", "http://[::1]:9090/x", {}, None),
        ("http://127.0.0.1:8080/acme", "http://10.0.0.8:9090/x", {}, "plain http"),
        ("http://10.0.0.2:8080/acme", "http://127.0.0.1:9090/x", {}, "plain http"),
    ],
)
def test_which_hosts_downloads_come_from(api, url, extra, refused):
    parsed = config(host=api, **extra)
    if refused is None:
        assert download_request(parsed, url).url == url
    else:
        with pytest.raises(SparkProtocolError, match=f"{refused}.*download_hosts"):
            download_request(parsed, url)


@pytest.mark.parametrize(
    ("api", "host", "address", "extra", "refused"),
    [
        ("https://excel.env.coherent.global/acme", "docs.example.com", "93.184.216.34", {}, False),
        ("https://excel.env.coherent.global/acme", "docs.example.com", "169.254.169.254", {}, True),
        ("https://excel.env.coherent.global/acme", "docs.example.com", "10.1.2.3", {}, True),
        ("https://excel.env.coherent.global/acme", "docs.example.com", "::1", {}, True),
        ("https://excel.env.coherent.global/acme", "docs.corp", "10.1.2.3", {"download_hosts": ["docs.corp"]}, False),
        ("https://excel.env.coherent.global/acme", "excel.env.coherent.global", "10.1.2.3", {}, False),
        ("http://127.0.0.1:8080/acme", "localhost", "127.0.0.1", {}, False),
        ("http://127.0.0.1:8080/acme", "localhost", "10.1.2.3", {}, True),
    ],
)
def test_names_are_checked_again_by_the_address_they_reached(api, host, address, extra, refused):
    import ipaddress

    problem = config(host=api, **extra).downloads.address_refusal(host, ipaddress.ip_address(address))
    assert (problem is not None) == refused


@pytest.mark.parametrize("value", [["http://x"], ["a b"], 5, ["x:1"], "a,,b"])
def test_bad_download_hosts_name_the_extra(value):
    with pytest.raises(SparkConfigError, match="download_hosts"):
        config(download_hosts=value)


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://x/y", "http://a\\@b/", "//[::1"])
def test_a_redirect_that_is_not_plain_http_is_a_protocol_error(location):
    def follow() -> None:
        target = redirect_target("https://docs.example.com/x.zip", 302, {"Location": location})
        download_request(config(), target or "", redirected=True)

    with pytest.raises(SparkProtocolError, match="redirect"):
        follow()


def test_a_download_url_is_a_secret_of_its_request():
    url = "https://docs.example.com/tokens/abc/x.zip?sig=1"
    request = download_request(config(), url)
    assert request.headers["Accept-Encoding"] == "identity"
    assert url in request.secrets
    assert "tokens/abc" not in repr(request)


# ------------------------------------------------------------------ what answer text we quote


@pytest.mark.parametrize(
    "echo",
    [
        f"client_secret={SECRET}",
        "client_secret=s3cr%3Dt%2F%2B%26%25+key",
        "client_secret=s3cr%3dt%2f%2b%26%25%20key",
        '{"error_description": "bad \\"s3cr=t/+&% key\\""}',
        "Authorization: Bearer s3cr=t/+&% key",
    ],
)
def test_secrets_and_their_encodings_are_cut_from_quoted_text(echo):
    assert "s3cr" not in redacted(echo, [SECRET])


@pytest.mark.parametrize(
    "body",
    [
        f"grant_type=client_credentials&client_id=c&client_secret={SECRET}".encode(),
        b'{"error": "invalid_request", "error_description": "got client_secret=s3cr%3Dt%2F%2B%26%25+key"}',
        b'{"status": "Error", "error": {"message": "x-synthetic-key: s3cr=t/+&% key"}}',
    ],
)
@pytest.mark.parametrize("status", [400, 401, 403, 404, 500])
def test_error_messages_never_quote_a_known_secret(body, status):
    parsed = parse_connection(
        "spark", host="https://excel.env.coherent.global/acme", login="c", password=SECRET, extra={}
    )
    exchange = Exchange(parsed, token_request(parsed))
    with pytest.raises(SparkApiError) as raised:
        exchange.on_response(status, {}, body)
    assert "s3cr" not in str(raised.value)
    assert "s3cr" not in (raised.value.api_message or "")


def test_a_token_the_transport_sent_is_cut_from_an_echo():
    parsed = config()
    exchange = Exchange(parsed, status_request(parsed, "f", "s", "j"))
    exchange.sent({"Authorization": "Bearer the-oauth-token"})
    with pytest.raises(SparkApiError) as raised:
        exchange.on_response(401, {}, b'{"error": {"message": "Bearer the-oauth-token is invalid"}}')
    assert "the-oauth-token" not in str(raised.value)


# ------------------------------------------------------------------ answer size, depth and shape


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 100_000, b'{"error": ' + b"[" * 100_000])
@pytest.mark.parametrize("parse", [parse_status, parse_submit])
def test_deeply_nested_json_is_a_protocol_error(body, parse):
    with pytest.raises(SparkProtocolError):
        parse(body, "the status")


def test_an_answer_over_the_cap_is_refused_by_the_exchange():
    parsed = config()
    exchange = Exchange(parsed, status_request(parsed, "f", "s", "j"))
    with pytest.raises(SparkProtocolError, match="1 MiB"):
        exchange.on_response(200, {}, b" " * (MAX_ANSWER_BYTES + 1))


@pytest.mark.parametrize("job_id", ["..", ".", "a/b", "a\nb", "x" * 129, "-x", "a b", "ä"])
def test_a_job_id_from_spark_must_be_a_plain_token(job_id):
    body = json.dumps({"status": "Success", "response_data": {"job_id": job_id}}).encode()
    with pytest.raises(SparkProtocolError, match="job_id"):
        parse_submit(body, "the export")


def test_uuid_job_ids_are_plain_tokens():
    body = b'{"status": "Success", "response_data": {"job_id": "3f2c9a3e-9b1d-4c47-8a55-0e7c0d4b7f10"}}'
    assert parse_submit(body, "the export") == "3f2c9a3e-9b1d-4c47-8a55-0e7c0d4b7f10"


@pytest.mark.parametrize("value", [".", "..", " .. ", "a\nb", "a\x00", "a\u202eb"])
def test_path_segments_refuse_dot_segments_and_control_characters(value):
    with pytest.raises(SparkConfigError, match="job_id"):
        path_segment(value, "job_id")


# ------------------------------------------------------------------ waits and deadlines


def test_a_retry_after_past_the_deadline_gives_up_at_once():
    parsed = config(max_retries=5)
    now = 1_000_000.0
    exchange = Exchange(parsed, status_request(parsed, "f", "s", "j"), clock=lambda: now, deadline=now + 2)
    with pytest.raises(SparkRetriesExhaustedError, match=r"wait 30 s \(Retry-After\), past the deadline"):
        exchange.on_response(429, {"Retry-After": "30"}, b"")
    assert exchange.timeout() == 2


def test_a_retry_after_within_the_deadline_is_waited():
    parsed = config(max_retries=5)
    exchange = Exchange(
        parsed, status_request(parsed, "f", "s", "j"), clock=lambda: 0.0, deadline=60.0, rng=random.Random(1)
    )
    assert exchange.on_response(429, {"Retry-After": "30"}, b"") == Wait(30.0)


def test_a_certificate_failure_is_not_retried():
    parsed = config(max_retries=5)
    exchange = Exchange(parsed, status_request(parsed, "f", "s", "j"))
    with pytest.raises(SparkTlsError, match=r"excel\.env\.coherent\.global.*self-signed.*verify"):
        exchange.on_certificate_error("self-signed certificate")


# ------------------------------------------------------------------ ZIPs


def archive(*members: tuple[str, bytes]) -> zipfile.ZipFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in members:
            out.writestr(name, data)
    return zipfile.ZipFile(buffer)


def test_a_bomb_is_refused_on_its_declared_sizes_naming_the_limit():
    bomb = archive(("bomb.csv", bytes(5 * 2**20)))
    with pytest.raises(SparkLandingError, match="max_compression_ratio=200"):
        check_declared_sizes(bomb, "j", UnpackLimits())
    check_declared_sizes(bomb, "j", UnpackLimits(max_compression_ratio=2000))


def test_the_declared_total_is_limited():
    with pytest.raises(SparkLandingError, match="max_unpacked_bytes=10"):
        check_declared_sizes(archive(("a.csv", b"x" * 11)), "j", UnpackLimits(max_unpacked_bytes=10))


@pytest.mark.parametrize(
    ("names", "problem"),
    [
        (["a/r.csv", "b/r.csv"], "collide"),
        (["R.csv", "r.CSV"], "collide"),
        (["a\\r.csv", "r.csv"], "collide"),
        (["x\u202e.csv"], "control character"),
        (["é" * 200 + ".csv"], "too long"),
    ],
)
def test_member_names_are_refused_before_anything_inflates(names, problem):
    with pytest.raises(SparkLandingError, match=problem):
        planned_members(archive(*[(n, b"x") for n in names]), "j", UnpackLimits())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_unpacked_bytes": 0},
        {"max_unpacked_files": -1},
        {"max_compression_ratio": True},
        {"max_unpacked_files": "9"},
    ],
)
def test_unpack_limits_must_be_positive_numbers(kwargs):
    with pytest.raises(SparkConfigError, match=next(iter(kwargs))):
        UnpackLimits(**kwargs)


def test_a_full_spool_disk_is_a_landing_error_naming_the_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(SparkLandingError, match=f"spool disk at {spool_folder()} is full"), spool_file(".zip") as spool:
        raise OSError(errno.ENOSPC, "No space left on device")
    assert not spool.path.exists()


def test_other_spool_errors_pass_through(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(PermissionError), spool_file(".zip"):
        raise PermissionError(errno.EACCES, "Permission denied")
