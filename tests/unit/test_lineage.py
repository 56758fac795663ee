"""Lineage rules without I/O, and the OpenLineage provider staying optional."""

from __future__ import annotations

import subprocess
import sys

import pytest

from airflow_provider_spark_logs.lineage import landed_dataset_name, source_namespace
from airflow_provider_spark_logs.protocol.connection import parse_connection


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://lake/spark-logs/day.zip", ("s3://lake", "spark-logs/day.zip")),
        ("gs://lake/a/b.zip", ("gs://lake", "a/b.zip")),
        ("abfs://container/a/b.zip", ("abfs://container", "a/b.zip")),
        ("file:///data/lake/day.zip", ("file", "/data/lake/day.zip")),
    ],
)
def test_landed_objects_are_named_as_openlineage_names_their_stores(uri, expected):
    assert landed_dataset_name(uri) == expected


def test_the_source_is_the_spark_host_and_tenant():
    config = parse_connection(
        "c", host="https://excel.my-env.coherent.global/my-tenant", login=None, password="key", extra={}
    )
    assert source_namespace(config) == "coherent-spark://excel.my-env.coherent.global/my-tenant"


def test_the_operators_do_not_import_openlineage():
    """Without the OpenLineage provider nothing changes: only its listener ever loads the facets."""
    code = (
        "import sys\n"
        "import airflow_provider_spark_logs.operators.spark_logs\n"
        "import airflow_provider_spark_logs.transfers.spark_logs_to_object_storage\n"
        "facets = ('openlineage.', 'airflow.providers.common.compat.openlineage', 'airflow.providers.openlineage.')\n"
        "print(sorted(m for m in sys.modules if m.startswith(facets) and not m.endswith('.get_provider_info')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
