"""The two patterns the provider's trigger is measured against, as users meet them in other providers.

Both speak the same protocol (requests built and answers parsed by the provider's own I/O-free
module) so that the only difference is how they move bytes.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from asgiref.sync import sync_to_async

from airflow_provider_spark_logs._compat import BaseTrigger, TriggerEvent
from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs.protocol.job_watch import JobWatch
from airflow_provider_spark_logs.protocol.messages import auth_headers, parse_status, status_request


class _PollingTrigger(BaseTrigger):
    def __init__(self, *, job_id: str, folder: str, service: str, poll_interval: float, spark_conn_id: str) -> None:
        super().__init__()
        self.job_id, self.folder, self.service = job_id, folder, service
        self.poll_interval, self.spark_conn_id = poll_interval, spark_conn_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {
            "job_id": self.job_id,
            "folder": self.folder,
            "service": self.service,
            "poll_interval": self.poll_interval,
            "spark_conn_id": self.spark_conn_id,
        }


class NewSessionPerPollTrigger(_PollingTrigger):
    """A naive aiohttp trigger: each poll opens its own ``ClientSession`` (a new TCP+TLS connection)."""

    async def run(self) -> AsyncIterator[TriggerEvent]:
        config = await SparkLogHook(self.spark_conn_id).aget_config()
        request = status_request(config, self.folder, self.service, self.job_id)
        headers = {**request.headers, **auth_headers(config, None)}
        tls: ssl.SSLContext | bool = (
            await asyncio.to_thread(ssl.create_default_context, cafile=config.verify)
            if isinstance(config.verify, str)
            else config.verify
        )
        while True:
            await asyncio.sleep(self.poll_interval)
            async with aiohttp.ClientSession() as session, session.get(request.url, headers=headers, ssl=tls) as answer:
                status = parse_status(await answer.read(), request.what)
            if status.done:
                yield TriggerEvent({"status": "success", "job_id": self.job_id})
                return


class SyncToAsyncTrigger(_PollingTrigger):
    """``sync_to_async`` around the sync hook (Airbyte's pattern): each poll runs on asgiref's one thread."""

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = SparkLogHook(self.spark_conn_id)
        watch = JobWatch(self.job_id, time.time() + 3600, self.poll_interval, 3600)
        await asyncio.sleep(self.poll_interval)
        while (wait := await sync_to_async(hook.check_job)(self.folder, self.service, watch)) is not None:
            await asyncio.sleep(wait)
        yield TriggerEvent({"status": "success", "job_id": self.job_id})
