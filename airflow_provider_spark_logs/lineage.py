"""OpenLineage for landing tasks: the Spark service in, the landed object out.

Used only when the optional ``apache-airflow-providers-openlineage`` is installed: its listener
calls the operators' ``get_openlineage_facets_on_complete``, and this module imports the facet
classes (through ``common.compat``) only then. Without the provider, nothing here is imported.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs.landing import LandedObject
from airflow_provider_spark_logs.protocol.connection import SparkConnectionConfig

SOURCE_SCHEME = "coherent-spark"


def source_namespace(config: SparkConnectionConfig) -> str:
    """``coherent-spark://excel.my-env.coherent.global/my-tenant``: the Spark host and tenant."""
    return f"{SOURCE_SCHEME}://{urlsplit(config.base_url).netloc}/{config.tenant}"


def landed_dataset_name(uri: str) -> tuple[str, str]:
    """OpenLineage's (namespace, name) of a landed object: ``s3://bucket`` + key, ``file`` + path..."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return "file", parts.path
    return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/")


def landing_lineage(
    config: SparkConnectionConfig, folder: str, service: str, job_id: str, landed: LandedObject
) -> Any:
    """The ``OperatorLineage`` of one landing, with the job id and the object's size as facets."""
    from airflow.providers.common.compat.openlineage.facet import (
        Dataset,
        ExternalQueryRunFacet,
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
    )
    from airflow.providers.openlineage.extractors import OperatorLineage

    source = source_namespace(config)
    namespace, name = landed_dataset_name(landed.uri)
    return OperatorLineage(
        inputs=[Dataset(namespace=source, name=f"{folder}/{service}")],
        outputs=[
            OutputDataset(
                namespace=namespace,
                name=name,
                outputFacets={"outputStatistics": OutputStatisticsOutputDatasetFacet(size=landed.size)},
            )
        ],
        run_facets={"externalQuery": ExternalQueryRunFacet(externalQueryId=job_id, source=source)},
    )


class LandingLineage:
    """For the operators that land a job's ZIP: what OpenLineage's listener asks once the task is done."""

    folder: str
    service: str
    landing: tuple[str, LandedObject] | None = None  # (job id, what landed), set by a successful landing

    @property
    def hook(self) -> SparkLogHook:
        raise NotImplementedError

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        if self.landing is None:
            return None
        job_id, landed = self.landing
        return landing_lineage(self.hook.get_config(), self.folder, self.service, job_id, landed)
