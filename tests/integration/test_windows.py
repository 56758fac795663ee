"""Daily runs in a local time zone export every call exactly once, across DST changes."""

from __future__ import annotations

from collections import Counter

import pendulum
import pytest

from airflow_provider_spark_logs.operators.spark_logs import SparkLogExportOperator
from tests.helpers import call_ids_in


def london_daily_intervals(first_day, count):
    """The data intervals Airflow's own timetable gives a London-time daily DAG."""
    from airflow.timetables.base import TimeRestriction
    from airflow.timetables.interval import CronDataIntervalTimetable

    timetable = CronDataIntervalTimetable("0 0 * * *", timezone="Europe/London")
    restriction = TimeRestriction(earliest=pendulum.parse(first_day, tz="Europe/London"), latest=None, catchup=True)
    intervals, last = [], None
    for _ in range(count):
        last = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction).data_interval
        intervals.append(last)
    return intervals


@pytest.mark.parametrize(("first_day", "odd_hours"), [("2026-03-28", 23), ("2026-10-24", 25)])
def test_daily_runs_across_a_dst_change_export_every_call_once(tmp_path, emulator, connect, first_day, odd_hours):
    connect()
    emulator.job_seconds = 0
    intervals = london_daily_intervals(first_day, 3)
    assert sorted(round((i.end - i.start).total_seconds() / 3600) for i in intervals) == sorted([24, 24, odd_hours])
    landed = []
    for interval in intervals:
        context = {"data_interval_start": interval.start, "data_interval_end": interval.end}
        op = SparkLogExportOperator(
            task_id="export",
            folder="Pricing",
            service="Motor Quote",
            destination=f"file://{tmp_path}/lake/",
            poll_interval=0.05,
        )
        landed.append(op.execute(context))
    for uri, interval in zip(landed, intervals, strict=True):
        start, end = (t.in_timezone("UTC").strftime("%Y%m%dT%H%M%SZ") for t in (interval.start, interval.end))
        assert uri.endswith(f"/Pricing/Motor_Quote/{start}_{end}.zip")
    bodies = [r.json_body["request_data"] for r in emulator.requests if r.target == "submit"]
    assert all(b["start_date"].endswith("Z") and b["end_date"].endswith(".999Z") for b in bodies)
    exported = Counter(i for uri in landed for i in call_ids_in(tmp_path.joinpath(uri.split(str(tmp_path))[1][1:])))
    history = emulator.calls("Pricing", "Motor Quote", intervals[0].start, intervals[-1].end)
    assert exported == Counter(c.call_id for c in history)
    inner_bounds = {i.start for i in intervals[1:]}
    assert any(c.log_time in inner_bounds for c in history), "a call sits exactly on a window bound"
