"""Small helpers shared by the tests."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import IO


def call_ids_in(archive: zipfile.ZipFile | Path | IO[bytes]) -> list[str]:
    """Every ``Call ID`` in the CSV members of an export ZIP."""
    if not isinstance(archive, zipfile.ZipFile):
        with zipfile.ZipFile(archive) as opened:
            return call_ids_in(opened)
    ids = []
    for name in archive.namelist():
        if name.endswith(".csv"):
            with archive.open(name) as member:
                ids += [row["Call ID"] for row in csv.DictReader(io.TextIOWrapper(member, "utf-8"))]
    return ids
