"""Mechanisms that keep a long-lived triggerer's cost per job flat (speed itself is for the benchmarks).

A triggerer runs for weeks with thousands of triggers: nothing may stay behind per job (secrets
masker patterns, sessions, connections), and one trigger's polls reuse one connection.
"""

from __future__ import annotations

import asyncio
import gc
import time
import warnings

from airflow.sdk._shared.secrets_masker import _secrets_masker

from airflow_provider_spark_logs._compat import redact
from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs.protocol.messages import LogFilters
from airflow_provider_spark_logs.testing import Fault
from airflow_provider_spark_logs.triggers.spark_logs import SparkLogJobTrigger
from tests.helpers import wait_until

FOLDER, SERVICE = "Pricing", "Motor Quote"


def trigger_for(job_id: str, poll_interval: float = 0.05) -> SparkLogJobTrigger:
    return SparkLogJobTrigger(
        job_id=job_id, folder=FOLDER, service=SERVICE, deadline=time.time() + 30, poll_interval=poll_interval
    )


def status_polls(emulator, job_id: str) -> list:
    return [r for r in emulator.requests if r.target == "status" and r.path.endswith(job_id)]


def test_async_status_polls_keep_no_download_url_and_add_no_masker_pattern(emulator, connect):
    connect()
    emulator.job_seconds = 0.5
    hook = SparkLogHook()
    masker = _secrets_masker()

    job_ids = [SparkLogHook().submit_export(FOLDER, SERVICE, LogFilters()) for _ in range(5)]

    async def poll_until_done(job_id: str) -> None:
        while not (await hook.aget_job_status(FOLDER, SERVICE, job_id)).done:
            await asyncio.sleep(0.05)
        for _ in range(10):
            await hook.aget_job_status(FOLDER, SERVICE, job_id)

    async def scenario() -> int:
        async with hook.async_session():
            await hook.aget_config()  # the connection's own secret is masked here, once
            before = len(masker.patterns)
            for job_id in job_ids:
                await poll_until_done(job_id)
            return before

    before = asyncio.run(scenario())
    assert len(masker.patterns) == before
    for job_id in job_ids:
        token = emulator.jobs[job_id]["download_token"]  # the secret part of the URL the polls were sent
        assert token
        assert redact(f"url {token} end") == f"url {token} end"  # not in the masker


def test_one_trigger_polls_over_one_connection(emulator, connect):
    connect()
    emulator.job_seconds = 1.0
    job_id = SparkLogHook().submit_export(FOLDER, SERVICE, LogFilters())
    emulator.clear_requests()

    async def run_to_end() -> list:
        return [event.payload async for event in trigger_for(job_id).run()]

    (event,) = asyncio.run(run_to_end())
    assert event["status"] == "success"
    polls = status_polls(emulator, job_id)
    assert len(polls) >= 5
    assert len({poll.connection for poll in polls}) == 1


def test_trigger_closes_its_session_when_done_and_when_cancelled(emulator, connect):
    connect()
    emulator.job_seconds = 0.5
    hook = SparkLogHook()
    finishing = hook.submit_export(FOLDER, SERVICE, LogFilters())
    emulator.inject(Fault("status", "never_finish"))
    endless = hook.submit_export(FOLDER, SERVICE, LogFilters())

    async def scenario() -> None:
        cancelled = asyncio.create_task(anext(trigger_for(endless, poll_interval=0.05).run()))
        wait = asyncio.get_running_loop().run_in_executor(None, wait_until, lambda: status_polls(emulator, endless))
        await wait
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        await anext(trigger_for(finishing).run())

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(scenario())
        gc.collect()
    assert not [w for w in caught if "Unclosed" in str(w.message)]


def test_triggers_of_one_oauth2_client_share_one_token(emulator, connect):
    connect("oauth2")
    emulator.job_seconds = 0.3
    job_ids = [SparkLogHook().submit_export(FOLDER, SERVICE, LogFilters()) for _ in range(5)]
    masker = _secrets_masker()
    before = len(masker.patterns)

    async def run_all() -> list:
        return await asyncio.gather(*(anext(trigger_for(job_id).run()) for job_id in job_ids))

    events = asyncio.run(run_all())
    assert [event.payload["status"] for event in events] == ["success"] * 5
    assert [r.target for r in emulator.requests].count("token") == 1  # the workers' token, reused
    assert len(masker.patterns) == before
