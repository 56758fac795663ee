"""Every Airflow name this provider uses, imported in one place.

Airflow 3.3 is the target. Supporting another Airflow version means changing this module only.
"""

from __future__ import annotations

from airflow.sdk import (
    Asset,
    BaseHook,
    BaseOperator,
    BaseSensorOperator,
    Connection,
    Context,
    ObjectStoragePath,
    PokeReturnValue,
    conf,
)
from airflow.sdk.definitions._internal.mixins import ResolveMixin
from airflow.sdk.exceptions import AirflowException, AirflowNotFoundException, TaskDeferred
from airflow.sdk.io.fs import has_fs
from airflow.sdk.log import amask_secret, mask_secret, redact
from airflow.triggers.base import BaseTrigger, TriggerEvent

__all__ = [
    "AirflowException",
    "AirflowNotFoundException",
    "Asset",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
    "BaseTrigger",
    "Connection",
    "Context",
    "ObjectStoragePath",
    "PokeReturnValue",
    "ResolveMixin",
    "TaskDeferred",
    "TriggerEvent",
    "amask_secret",
    "conf",
    "has_fs",
    "mask_secret",
    "redact",
]
