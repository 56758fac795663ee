"""The package as Airflow and its users see it: provider registration, the connection form, lint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import airflow
import jsonschema
import pytest

from airflow_provider_spark_logs import get_provider_info

ROOT = Path(__file__).resolve().parents[2]


def test_provider_info_matches_airflows_schema():
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_airflow_lists_the_provider_and_its_connection_form():
    script = (
        "from airflow.providers_manager import ProvidersManager as P; import json; p = P();"
        "hook = p.hooks['coherent_spark'];"
        "fields = sorted(k for k in p.connection_form_widgets if k.startswith('extra__coherent_spark__'));"
        "print(json.dumps([hook.hook_name, hook.hook_class_name, hook.connection_testable, fields,"
        " p.field_behaviours['coherent_spark']['hidden_fields'], sorted(p.providers)]))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env=os.environ)
    name, hook_class, testable, fields, hidden, providers = json.loads(out.stdout.strip().splitlines()[-1])
    assert (name, testable) == ("Coherent Spark", True)
    assert hook_class == "airflow_provider_spark_logs.hooks.spark_logs.SparkLogHook"
    assert [f.rsplit("__", 1)[1] for f in fields] == sorted(
        ["tenant", "auth_type", "token_url", "timeout", "max_retries", "verify"]
    )
    assert hidden == ["schema", "port"]
    assert "airflow-provider-spark-logs" in providers


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
