"""Airflow's providers manager, in a process of its own, finds the provider, its hook and its connection form."""

from __future__ import annotations

import json
import os
import subprocess
import sys


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
