"""The package as Airflow and its users see it: provider info against Airflow's schema, types, lint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import airflow
import jsonschema
import pytest

from airflow_provider_spark_logs import get_provider_info

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.compat
def test_provider_info_matches_airflows_schema():
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_package_is_typed():
    assert (ROOT / "airflow_provider_spark_logs" / "py.typed").exists()


def tool(name):
    return shutil.which(name, path=str(Path(sys.executable).parent)) or pytest.fail(f"{name} is not installed")


def test_ruff_is_clean():
    result = subprocess.run([tool("ruff"), "check", str(ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_mypy_is_clean():
    result = subprocess.run([tool("mypy")], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout
