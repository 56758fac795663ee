"""Windows: the split helper tiles a range, and a run's data interval becomes the window."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta, timezone

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_spark_logs.exceptions import SparkConfigError
from airflow_provider_spark_logs.protocol.messages import LogFilters
from airflow_provider_spark_logs.windows import resolve_window, split_window
from tests.helpers import export_op

UTC = timezone.utc
moments = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
)


def test_split_into_days_with_a_shorter_last_window():
    assert split_window("2026-01-01T00:00:00Z", "2026-01-03T12:00:00Z", timedelta(days=1)) == [
        {"log_start": "2026-01-01T00:00:00+00:00", "log_end": "2026-01-02T00:00:00+00:00"},
        {"log_start": "2026-01-02T00:00:00+00:00", "log_end": "2026-01-03T00:00:00+00:00"},
        {"log_start": "2026-01-03T00:00:00+00:00", "log_end": "2026-01-03T12:00:00+00:00"},
    ]


def test_a_quarter_in_days():
    windows = split_window(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), timedelta(days=1))
    assert len(windows) == 90
    assert windows[-1]["log_end"] == "2026-04-01T00:00:00+00:00"


def test_a_step_longer_than_the_range_gives_one_window():
    assert split_window("2026-01-01T00:00:00Z", "2026-01-01T06:00:00Z", timedelta(days=7)) == [
        {"log_start": "2026-01-01T00:00:00+00:00", "log_end": "2026-01-01T06:00:00+00:00"}
    ]


def test_windows_are_stated_in_utc():
    (window,) = split_window("2026-03-01T01:00:00+01:00", "2026-03-01T02:00:00+01:00", timedelta(hours=1))
    assert window == {"log_start": "2026-03-01T00:00:00+00:00", "log_end": "2026-03-01T01:00:00+00:00"}


@pytest.mark.parametrize(
    ("start", "end", "step", "message"),
    [
        ("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z", timedelta(days=1), "empty or reversed"),
        ("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", timedelta(days=1), "empty or reversed"),
        ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", timedelta(0), "step"),
        ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", timedelta(hours=-1), "step"),
        ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", 3600, "step"),
        ("soon", "2026-01-02T00:00:00Z", timedelta(days=1), "start"),
    ],
)
def test_bad_ranges_are_rejected(start, end, step, message):
    with pytest.raises(SparkConfigError, match=message):
        split_window(start, end, step)


@given(moments, st.integers(1, 10**10), st.integers(1, 10**3))
def test_windows_tile_the_range(start, length_ms, pieces):
    end = start + timedelta(milliseconds=length_ms)
    step = timedelta(milliseconds=max(1, length_ms // pieces))
    windows = split_window(start, end, step)
    bounds = [(datetime.fromisoformat(w["log_start"]), datetime.fromisoformat(w["log_end"])) for w in windows]
    assert bounds[0][0] == start
    assert bounds[-1][1] == end
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    assert all(timedelta(0) < hi - lo <= step for lo, hi in bounds)
    assert all(hi - lo == step for lo, hi in bounds[:-1])


def test_resolve_window_reads_pendulum_intervals():
    start = pendulum.datetime(2026, 3, 29, tz="Europe/London")
    assert resolve_window(None, None, {"data_interval_start": start, "data_interval_end": start.add(days=1)}) == (
        datetime(2026, 3, 29, tzinfo=UTC),
        datetime(2026, 3, 29, 23, tzinfo=UTC),
    )


WINDOW_MESSAGE = re.compile(
    r"(log_)?end \(2026-01-01T00:00:00\+00:00\) must be after (log_)?start \(2026-01-02T00:00:00\+00:00\): "
    r"the window is half-open, \[(log_)?start, (log_)?end\), so this one is empty or reversed\."
)


@pytest.mark.parametrize(
    "make_window",
    [
        lambda start, end: LogFilters(start=start, end=end),
        lambda start, end: split_window(start, end, timedelta(hours=1)),
        lambda start, end: resolve_window(start, end, {}),
        lambda start, end: export_op(log_start=start, log_end=end),
    ],
    ids=["filters", "split_window", "resolve_window", "operator"],
)
def test_a_reversed_window_gets_the_same_message_everywhere(make_window):
    with pytest.raises(SparkConfigError) as error:
        make_window("2026-01-02T00:00:00Z", "2026-01-01T00:00:00Z")
    assert WINDOW_MESSAGE.fullmatch(str(error.value)), str(error.value)
