"""OpenLineage: a DAG run with the provider's file transport; the landing tasks' COMPLETE events."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import DAY_END, DAY_START

TEST_DAGS = Path(__file__).resolve().parent / "dags"


def complete_events(path: Path) -> dict[str, dict]:
    """The COMPLETE event of each task, by task id, from the file transport's log."""
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {
        e["job"]["name"].rsplit(".", 1)[-1]: e
        for e in events
        if e["eventType"] == "COMPLETE" and "." in e["job"]["name"]
    }


def test_landing_tasks_report_the_spark_service_in_and_the_landed_object_out(tmp_path, emulator, airflow_cli):
    emulator.job_seconds = 0.3
    events_file, lake = tmp_path / "openlineage.jsonl", tmp_path / "lake"
    transport = {"type": "file", "log_file_path": str(events_file), "append": True}
    cli = airflow_cli(
        TEST_DAGS,
        SPARK_LOGS_TEST_LAKE=str(lake),
        AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps(transport),
        AIRFLOW__OPENLINEAGE__NAMESPACE="tests",
    )
    cli.dags_test("spark_logs_lineage", "2026-01-02")
    events = complete_events(events_file)
    source = f"coherent-spark://{emulator.base_url.split('://', 1)[1]}/{emulator.tenant}"
    landed_zip = lake / "Pricing" / "Motor_Quote" / f"{DAY_START:%Y%m%dT%H%M%SZ}_{DAY_END:%Y%m%dT%H%M%SZ}.zip"
    jobs = set(emulator.jobs)
    for task_id, landed in (("export_and_land", landed_zip), ("land", lake / "transferred.zip")):
        event = events[task_id]
        assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [(source, "Pricing/Motor Quote")]
        (output,) = event["outputs"]
        assert (output["namespace"], output["name"]) == ("file", str(landed))
        assert output["outputFacets"]["outputStatistics"]["size"] == landed.stat().st_size
        query = event["run"]["facets"]["externalQuery"]
        assert query["source"] == source
        assert query["externalQueryId"] in jobs
    # An export without a destination lands nothing, and says so.
    assert events["export"]["outputs"] == []
