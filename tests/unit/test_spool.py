"""Spool files: invisible beside a local destination, findable elsewhere, and cleaned up after crashes."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile

import pytest

from airflow_provider_spark_logs.exceptions import SparkLandingError
from airflow_provider_spark_logs.spool import (
    SPOOL_FOLDER_PREFIX,
    left_by_a_dead_process,
    owner_tag,
    remove_stale_spools,
    spool_file,
    spool_folder,
)

HOST = socket.gethostname()


@pytest.fixture(autouse=True)
def temp_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return tmp_path / "tmp"


@pytest.fixture
def dead_pid():
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_an_anonymous_spool_beside_the_destination_is_never_listed(tmp_path):
    lake = tmp_path / "lake"
    lake.mkdir()
    with spool_file(".zip", lake) as spool:
        spool.file.write(b"x" * 2**20)
        spool.file.flush()
        assert spool.anonymous
        assert list(lake.iterdir()) == []
        assert spool.path.read_bytes() == b"x" * 2**20  # readable again by path while open
    assert list(lake.iterdir()) == []


def test_without_o_tmpfile_the_spool_is_named_in_the_providers_folder_and_removed(tmp_path, monkeypatch, temp_dir):
    monkeypatch.delattr(os, "O_TMPFILE")
    with spool_file(".zip", tmp_path) as spool:
        assert not spool.anonymous
        assert spool.path.parent == temp_dir / f"{SPOOL_FOLDER_PREFIX}{os.getuid()}"
        assert spool.path.name.startswith(f"{os.getpid()}@{HOST}.")
        assert spool.path.name.endswith(".zip")
    assert not spool.path.exists()


def test_a_spool_is_removed_when_its_block_fails(monkeypatch):
    monkeypatch.delattr(os, "O_TMPFILE")
    with pytest.raises(RuntimeError), spool_file(".zip") as spool:
        raise RuntimeError("download failed")
    assert not spool.path.exists()


def test_owner_tags_tell_dead_processes_of_this_machine_only(dead_pid):
    assert owner_tag() == f"{os.getpid()}@{HOST}"
    assert not left_by_a_dead_process(owner_tag())
    assert left_by_a_dead_process(f"{dead_pid}@{HOST}")
    assert not left_by_a_dead_process(f"{dead_pid}@another-{HOST}")  # a shared folder: never judged
    assert not left_by_a_dead_process("9c3c5e4c-d71f-408a-9442-2aea05031b92")
    assert not left_by_a_dead_process(f"1@{HOST}")  # init: alive, even if not ours to signal


def test_the_next_spool_removes_those_of_dead_processes_and_keeps_the_rest(dead_pid, caplog):
    folder = spool_folder()
    stale = folder / f"{dead_pid}@{HOST}.k2j3h4g5.zip"
    live = folder / f"{os.getpid()}@{HOST}.a1b2c3d4.zip"
    elsewhere = folder / f"{dead_pid}@another-{HOST}.q1w2e3r4.csv"
    for path in (stale, live, elsewhere):
        path.write_bytes(b"spooled")
    with spool_file(".zip"):
        pass
    assert sorted(folder.iterdir()) == sorted([live, elsewhere])
    assert f"Removed spool files left by processes that are gone: {stale.name}" in caplog.text
    assert remove_stale_spools() == []


def test_a_spool_folder_that_is_not_ours_is_refused(temp_dir, tmp_path):
    (temp_dir / f"{SPOOL_FOLDER_PREFIX}{os.getuid()}").symlink_to(tmp_path)
    with pytest.raises(SparkLandingError, match=r"is not a directory of this user .* point TMPDIR elsewhere"):
        spool_folder()
