"""A 200 MiB ZIP lands in S3 with the process's peak memory growing by less than 64 MiB."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import finish_a_job

MIB = 2**20
SCRIPT = Path(__file__).with_name("land_and_measure.py")


def test_a_200_mib_zip_lands_in_bounded_memory(emulator, connect, s3):
    connect()
    small = finish_a_job(emulator, timeout=120)
    emulator.zip_padding_bytes = 200 * MIB
    big = finish_a_job(emulator, timeout=120)
    result = subprocess.run(
        [sys.executable, str(SCRIPT), small, big, f"s3://{s3.name}/memory/"],
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["size"] >= 200 * MIB
    assert report["growth"] < 64 * MIB, f"peak RSS grew by {report['growth'] / MIB:.1f} MiB"
    body = s3.client.get_object(Bucket=s3.name, Key="memory/big.zip")["Body"]
    digest, size = hashlib.sha256(), 0
    for chunk in body.iter_chunks(MIB):
        digest.update(chunk)
        size += len(chunk)
    assert (size, digest.hexdigest()) == (report["size"], report["sha256"])
    print(f"peak RSS growth while landing {size / MIB:.0f} MiB: {report['growth'] / MIB:.1f} MiB")
