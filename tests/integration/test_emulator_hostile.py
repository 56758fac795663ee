"""The emulator's hostile fault kinds, over real HTTP, as the provider's security tests use them."""

from __future__ import annotations

import gzip
import io
import json
import time
import zipfile
from datetime import timezone
from urllib.parse import quote

import pytest
import requests

from airflow_provider_spark_logs.testing import Fault, SparkEmulator

UTC = timezone.utc
FOLDER, SERVICE = "Pricing", "Motor Quote"


@pytest.fixture
def emu():
    with SparkEmulator(job_seconds=0) as emulator:
        yield emulator


def key_headers(emu):
    return {"x-synthetic-key": emu.api_key, "x-tenant-name": emu.tenant}


def log_url(emu):
    return f"{emu.base_url}/{emu.tenant}/api/v3/folders/{FOLDER}/services/{quote(SERVICE)}/log/downloadcsv"


def submit(emu):
    return requests.post(log_url(emu), json={}, headers=key_headers(emu), timeout=10)


def status(emu, job_id):
    return requests.get(f"{log_url(emu)}/status/{job_id}", headers=key_headers(emu), timeout=10)


def finished_url(emu):
    job_id = submit(emu).json()["response_data"]["job_id"]
    deadline = time.monotonic() + 10
    while not (url := status(emu, job_id).json()["response_data"]["download_url"]):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return job_id, url


def test_echo_repeats_the_posted_form(emu):
    emu.inject(Fault("token", "echo"))
    answer = requests.post(emu.token_url, data={"client_secret": "s3cr=t&x"}, timeout=10)
    assert answer.status_code == 400
    assert answer.text == "client_secret=s3cr%3Dt%26x"


def test_echo_repeats_the_headers_in_an_envelope(emu):
    emu.inject(Fault("status", "echo", status=401, source="headers", json=True))
    answer = status(emu, "whatever")
    assert answer.status_code == 401
    assert f"x-synthetic-key: {emu.api_key}" in answer.json()["error"]["message"]


def test_oversize_streams_a_json_body_of_the_given_size(emu):
    emu.inject(Fault("status", "oversize", bytes=3_000_000))
    answer = status(emu, "whatever")
    assert len(answer.content) == 3_000_000
    assert len(json.loads(answer.content)["pad"]) == 3_000_000 - 11


def test_download_url_and_job_id_can_be_anything(emu):
    job_id = submit(emu).json()["response_data"]["job_id"]
    emu.inject(Fault("status", "download_url", url="http://elsewhere:1\\@{api_host}{path}"))
    url = status(emu, job_id).json()["response_data"]["download_url"]
    assert url.startswith(f"http://elsewhere:1\\@{emu.base_url.removeprefix('http://')}/docstore/")
    emu.inject(Fault("submit", "job_id", job_id="../x\nforged"))
    assert submit(emu).json()["response_data"]["job_id"] == "../x\nforged"
    assert len(emu.jobs) == 1


def test_gzip_follows_accept_encoding(emu):
    _, url = finished_url(emu)
    plain = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=10)
    emu.inject(Fault("download", "gzip", times=2))
    identity = requests.get(url, headers={"Accept-Encoding": "identity"}, stream=True, timeout=10)
    assert "Content-Encoding" not in identity.headers
    assert identity.raw.read() == plain.content
    gzipped = requests.get(url, stream=True, timeout=10)
    assert gzipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(gzipped.raw.read(decode_content=False)) == plain.content


def test_gzip_bomb_inflates_to_the_given_size(emu):
    _, url = finished_url(emu)
    emu.inject(Fault("download", "gzip_bomb", inflated_bytes=50_000_000))
    answer = requests.get(url, stream=True, timeout=10)
    raw = answer.raw.read(decode_content=False)
    assert len(raw) < 100_000
    assert len(gzip.decompress(raw)) == 50_000_000


def test_drip_sends_the_zip_slowly(emu):
    _, url = finished_url(emu)
    emu.inject(Fault("download", "drip", chunk_bytes=2, interval=0.05))
    started = time.monotonic()
    with requests.get(url, stream=True, timeout=10) as answer:
        first = answer.raw.read(6)
    assert first[:2] == b"PK"
    assert time.monotonic() - started >= 0.1


@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_archive_to_order(emu):
    _, url = finished_url(emu)
    emu.inject(
        Fault("download", "archive", members=[["a/report.csv", 10], ["b/report.csv", 10], ["r{i}.csv", 5]], repeat=3)
    )
    archive = zipfile.ZipFile(io.BytesIO(requests.get(url, timeout=10).content))
    names = archive.namelist()
    assert names.count("a/report.csv") == 3
    assert {"r0.csv", "r1.csv", "r2.csv"} <= set(names)
    emu.inject(Fault("download", "archive", members=[["bomb.csv", 20_000_000]]))
    info = zipfile.ZipFile(io.BytesIO(requests.get(url, timeout=10).content)).infolist()[0]
    assert info.file_size / info.compress_size > 500
    emu.inject(Fault("download", "archive", members=[["rows.csv", 100_000]], fill="text"))
    member = zipfile.ZipFile(io.BytesIO(requests.get(url, timeout=10).content)).read("rows.csv")
    assert member.startswith(b"0,call-000000000000,")
    assert len(member) == 100_000
