"""Landing rules without I/O: object names, safe CSV and JSON member names, destinations checked at parse time."""

from __future__ import annotations

import io
import zipfile

import pytest

from airflow_provider_spark_logs.destinations import default_object_name
from airflow_provider_spark_logs.exceptions import SparkConfigError
from airflow_provider_spark_logs.operators.spark_logs import SparkLogExportOperator
from airflow_provider_spark_logs.transfers.spark_logs_to_object_storage import SparkLogToObjectStorageOperator
from airflow_provider_spark_logs.unpacking import UnpackLimits, planned_members
from tests.helpers import DAY_END, DAY_START


def test_default_names():
    assert default_object_name("Pricing", "Motor Quote", DAY_START, DAY_END, "j") == (
        "Pricing/Motor_Quote/20260101T000000Z_20260102T000000Z.zip"
    )
    assert default_object_name("../x", "a/b", None, None, "job/1") == "x/a_b/job_job_1.zip"


@pytest.mark.parametrize("export_format", ["csv", "json"])
def test_member_names_cannot_escape_the_prefix(export_format):
    buffer = io.BytesIO()
    names = ["../../evil", "/etc/abs", "dir/inner", "..\\win"]
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in [*(f"{n}.{export_format}" for n in names), "notes.txt", "other.xml", "sub/"]:
            archive.writestr(name, "x")
    with zipfile.ZipFile(buffer) as archive:
        names = [member.name for member in planned_members(archive, "j", UnpackLimits(), export_format)]
    assert names == [f"{n}.{export_format}" for n in ("evil", "abs", "inner", "win")]


@pytest.mark.parametrize("destination", ["nosuchscheme://bucket/key.zip", ""])
def test_an_unknown_destination_fails_at_parse_time(destination):
    with pytest.raises(SparkConfigError, match="destination"):
        SparkLogToObjectStorageOperator(task_id="land", job_id="j", folder="f", service="s", destination=destination)
    with pytest.raises(SparkConfigError, match="destination"):
        SparkLogExportOperator(task_id="export", folder="f", service="s", destination=destination)


def test_destination_needs_waiting():
    with pytest.raises(SparkConfigError, match="wait_for_completion"):
        SparkLogExportOperator(
            task_id="export", folder="f", service="s", destination="file:///tmp/x/", wait_for_completion=False
        )
