"""pytest plugin with a ``spark_emulator`` fixture.

Enable it in a ``conftest.py``::

    pytest_plugins = ["airflow_provider_spark_logs.testing.pytest_plugin"]
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from airflow_provider_spark_logs.testing.emulator import SparkEmulator


@pytest.fixture
def spark_emulator() -> Iterator[SparkEmulator]:
    """A started :class:`SparkEmulator` with default settings, stopped after the test.

    Function-scoped so that faults, jobs and the request log never leak from one test to the next.
    """
    with SparkEmulator() as emulator:
        yield emulator
