"""What differs between Airflow 3.1, 3.2 and 3.3, as the provider meets it (``_compat``).

These run in the compat job beside each supported Airflow, and in the full suite on 3.3.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
from airflow import __version__ as AIRFLOW_VERSION
from airflow.sdk import DAG, task, task_group

from airflow_provider_spark_logs._compat import Resolvable, amask_secret, redact
from airflow_provider_spark_logs.exceptions import SparkConfigError
from airflow_provider_spark_logs.operators.spark_logs import SparkLogExportOperator
from airflow_provider_spark_logs.triggers.spark_logs import SparkLogJobTrigger
from tests.helpers import rebuilt_by_airflow

pytestmark = pytest.mark.compat

FORM_FIELDS = ["auth_type", "max_retries", "tenant", "timeout", "token_url", "verify"]


def test_values_resolved_at_run_time_are_left_for_later():
    """XComArgs, DAG params and a mapped task group's arguments are checked once resolved, not at parse."""
    seen = []
    with DAG("runtime_values", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)) as dag:

        @task
        def folder() -> str:
            return "Pricing"

        xcom, param = folder(), dag.param("service", "Motor Quote")
        seen += [xcom, param]
        SparkLogExportOperator(task_id="from_xcom_and_param", folder=xcom, service=param)

        @task_group
        def per_folder(name: str) -> None:
            seen.append(name)
            SparkLogExportOperator(task_id="mapped", folder=name, service="Motor Quote")

        per_folder.expand(name=["Pricing", "Claims"])

    assert [type(value).__name__ for value in seen] == ["PlainXComArg", "DagParam", "MappedArgument"]
    assert all(isinstance(value, Resolvable) for value in seen)
    with pytest.raises(SparkConfigError, match="folder"):
        SparkLogExportOperator(task_id="literal", folder="", service="Motor Quote")


def test_trigger_kwargs_survive_airflows_trigger_table():
    """Stored as this Airflow stores a deferral (BaseSerialization on 3.1, serde from 3.2), and back."""
    trigger = SparkLogJobTrigger(
        job_id="job-1", folder="Pricing", service="Motor Quote", deadline=time.time() + 60, poll_interval=0.5
    )
    rebuilt = rebuilt_by_airflow(trigger)
    assert type(rebuilt) is SparkLogJobTrigger
    assert rebuilt.serialize() == trigger.serialize()


class RecordingSupervisor:
    """Stands in for the triggerer's supervisor channel, which only a running triggerer has."""

    def __init__(self) -> None:
        self.sent: list[object] = []

    def send(self, message: object) -> None:
        raise AssertionError("a blocking send from the event loop")

    async def asend(self, message: object) -> None:
        self.sent.append(message)


def test_amask_secret_masks_here_and_tells_the_supervisor_without_blocking(monkeypatch):
    from airflow.sdk.execution_time import task_runner

    supervisor = RecordingSupervisor()
    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", supervisor, raising=False)
    secret = "async-masked-secret-4711"
    asyncio.run(amask_secret(secret))
    assert redact(f"token={secret}") == "token=***"
    (message,) = supervisor.sent
    assert (type(message).__name__, message.value) == ("MaskSecret", secret)


UI_FORM = """
import json, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
    from airflow.providers_manager import ProvidersManager
    (meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "coherent_spark"]
    ProvidersManager().connection_form_widgets  # every hook's form, as `airflow providers widgets` lists it
standard = meta.standard_fields.model_dump()
print(json.dumps({
    "hook": [meta.hook_name, meta.hook_class_name],
    "extra": sorted(meta.extra_fields or {}),
    "hidden": sorted(name for name, field in standard.items() if field and field["hidden"]),
    "host": standard["host"]["title"],
    "warnings": [str(w.message) for w in caught if "SparkLogHook" in str(w.message)],
}))
"""


@pytest.mark.xfail(
    AIRFLOW_VERSION == "3.1.0",
    reason="Airflow 3.1.0's API server builds no provider's form fields without Flask AppBuilder (fixed in 3.1.x)",
    strict=True,
)
def test_the_ui_shows_the_connection_form_without_deprecation_warnings():
    """The form as the UI's API builds it: from the hook's methods on 3.1, from conn-fields on 3.2+."""
    out = subprocess.run([sys.executable, "-c", UI_FORM], capture_output=True, text=True, env=os.environ, check=True)
    form = json.loads(out.stdout.strip().splitlines()[-1])
    assert form["hook"] == ["Coherent Spark", "airflow_provider_spark_logs.hooks.spark_logs.SparkLogHook"]
    assert form["extra"] == FORM_FIELDS
    assert form["hidden"] == ["port", "url_schema"]
    assert form["host"] == "Spark base URL"
    assert form["warnings"] == []
