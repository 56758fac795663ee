"""A local emulator of Coherent Spark's log-download API, for tests, demos and users' own DAG tests.

It is an independent implementation of the API as documented (stdlib only, importing nothing else
from this package), so that a misunderstanding in the provider's client is not mirrored here::

    from airflow_provider_spark_logs.testing import Fault, SparkEmulator

    with SparkEmulator(job_seconds=0) as emu:
        emu.inject(Fault("status", "status", status=429, headers={"Retry-After": "1"}))
        ...  # point the code under test at emu.base_url / emu.airflow_connection()

For loopback use only: credentials are fixed test values and the control API is unauthenticated.
Run it standalone with ``python -m airflow_provider_spark_logs.testing --port 8080``; pytest users
get a ``spark_emulator`` fixture from ``airflow_provider_spark_logs.testing.pytest_plugin``.
"""

from __future__ import annotations

from airflow_provider_spark_logs.testing.app import RequestRecord
from airflow_provider_spark_logs.testing.emulator import SparkEmulator
from airflow_provider_spark_logs.testing.faults import Fault
from airflow_provider_spark_logs.testing.history import CallRecord

__all__ = ["CallRecord", "Fault", "RequestRecord", "SparkEmulator"]
