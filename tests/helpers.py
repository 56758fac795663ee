"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
import csv
import io
import json
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


def first_event(trigger):
    """The first event of a trigger's ``run()``, as the triggerer would take it."""

    async def collect():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(collect())


class TaskStateStore:
    """Airflow 3.3's task_state_store as a task sees it: JSON values by key, kept across tries."""

    def __init__(self):
        self.values = {}

    def get(self, key, default=None):
        return json.loads(self.values[key]) if key in self.values else default

    def set(self, key, value, *, retention=None):
        self.values[key] = json.dumps(value)

    def delete(self, key):
        self.values.pop(key, None)
