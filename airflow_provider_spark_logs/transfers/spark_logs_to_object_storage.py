"""``SparkLogToObjectStorageOperator``: land a finished export's ZIP in object storage.

Works with any store Airflow's ``ObjectStoragePath`` knows (``file://``, ``s3://``, ``gs://``,
``abfs://``...). See :mod:`airflow_provider_spark_logs.landing` for how a ZIP is checked and
published without ever exposing a partial object.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow_provider_spark_logs import DEFAULT_CONN_ID
from airflow_provider_spark_logs._compat import BaseOperator, Context, ObjectStoragePath
from airflow_provider_spark_logs.arguments import check_destination, check_names
from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs.landing import land_export
from airflow_provider_spark_logs.lineage import LandingLineage
from airflow_provider_spark_logs.operators.spark_logs import announce_landed
from airflow_provider_spark_logs.protocol.messages import ExportFormat, check_export_format
from airflow_provider_spark_logs.unpacking import (
    DEFAULT_MAX_COMPRESSION_RATIO,
    DEFAULT_MAX_UNPACKED_BYTES,
    DEFAULT_MAX_UNPACKED_FILES,
    UnpackLimits,
)


class SparkLogToObjectStorageOperator(LandingLineage, BaseOperator):
    """Download a finished job's ZIP, check it, and publish it at ``destination``; return its URI.

    :param job_id: the finished job (templated), e.g. ``"{{ ti.xcom_pull(task_ids='export') }}"``.
    :param folder: Spark folder of the job (templated).
    :param service: Spark service of the job (templated).
    :param destination: a full object URI, or a prefix ending in ``/`` under which
        ``{folder}/{service}/job_{job_id}.zip`` is used (templated; a str or an ``ObjectStoragePath``).
    :param destination_conn_id: the store's connection, e.g. ``aws_default``.
    :param overwrite: replace an existing object (re-runs are idempotent); False fails if it exists.
    :param unpack: also land the ZIP's CSV (or JSON) files under the ZIP's key without ``.zip``.
    :param export_format: ``csv`` (default) or ``json``: the format the job was started with, whose
        endpoint its download URL is read from.
    :param max_unpacked_bytes: limits of the ZIP's checks and of ``unpack``, as in
        :class:`~airflow_provider_spark_logs.operators.spark_logs.SparkLogExportOperator`.
    :param max_unpacked_files: see ``max_unpacked_bytes``.
    :param max_compression_ratio: see ``max_unpacked_bytes``.
    :param spark_conn_id: the ``coherent_spark`` connection.

    With Asset ``outlets``, each asset event's extra carries the landed ``uri``, ``size`` and
    ``sha256``, for DAGs scheduled on the asset.
    """

    template_fields: Sequence[str] = ("job_id", "folder", "service", "destination")
    ui_color = "#e8f1fb"

    def __init__(
        self,
        *,
        job_id: str,
        folder: str,
        service: str,
        destination: str | ObjectStoragePath,
        destination_conn_id: str | None = None,
        overwrite: bool = True,
        unpack: bool = False,
        export_format: ExportFormat = "csv",
        max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES,
        max_unpacked_files: int = DEFAULT_MAX_UNPACKED_FILES,
        max_compression_ratio: float = DEFAULT_MAX_COMPRESSION_RATIO,
        spark_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.folder = folder
        self.service = service
        self.destination = destination
        self.destination_conn_id = destination_conn_id
        self.overwrite = overwrite
        self.unpack = unpack
        self.export_format = check_export_format(export_format)
        self.unpack_limits = UnpackLimits(max_unpacked_bytes, max_unpacked_files, max_compression_ratio)
        self.spark_conn_id = spark_conn_id
        check_names(job_id=job_id, folder=folder, service=service)
        check_destination(destination, destination_conn_id)

    @cached_property
    def hook(self) -> SparkLogHook:
        return SparkLogHook(self.spark_conn_id)

    def execute(self, context: Context) -> str:
        check_names(job_id=self.job_id, folder=self.folder, service=self.service)
        landed = land_export(
            self.hook,
            folder=self.folder,
            service=self.service,
            job_id=self.job_id,
            destination=self.destination,
            destination_conn_id=self.destination_conn_id,
            overwrite=self.overwrite,
            unpack=self.unpack,
            export_format=self.export_format,
            limits=self.unpack_limits,
        )
        announce_landed(landed, self.outlets, context)
        self.landing = (self.job_id, landed)
        return landed.uri
