"""Every Airflow name this provider uses, imported in one place, behind named version flags.

Airflow 3.3 is the main target; 3.1 and 3.2 are supported (3.0 is excluded by the package metadata).
What differs, read from each release's task SDK:

- ``AIRFLOW_V_3_2_PLUS``: ``airflow.sdk`` exports ``conf``, and ``airflow.sdk.exceptions`` has
  ``TaskDeferred`` and ``AirflowNotFoundException``. The connection form comes from provider info
  (``conn-fields``, ``ui-field-behaviour``); 3.1 reads only the hook's Python methods, which 3.2
  deprecates.
- ``AIRFLOW_V_3_3_PLUS``: ``amask_secret`` (masking from the event loop) and ``task_state_store``
  (state that survives retries, so that a retry goes on with its job).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from airflow import __version__ as AIRFLOW_VERSION
from airflow.sdk import (
    Asset,
    BaseHook,
    BaseOperator,
    BaseSensorOperator,
    Connection,
    Context,
    ObjectStoragePath,
    PokeReturnValue,
)
from airflow.sdk.exceptions import AirflowException
from airflow.sdk.io.fs import has_fs
from airflow.sdk.log import mask_secret
from airflow.triggers.base import BaseTrigger, TriggerEvent
from packaging.version import Version

_AIRFLOW_RELEASE = Version(Version(AIRFLOW_VERSION).base_version).release
AIRFLOW_V_3_2_PLUS: bool = _AIRFLOW_RELEASE >= (3, 2)
AIRFLOW_V_3_3_PLUS: bool = _AIRFLOW_RELEASE >= (3, 3)

if TYPE_CHECKING or AIRFLOW_V_3_2_PLUS:
    from airflow.sdk import conf
    from airflow.sdk.exceptions import AirflowNotFoundException, TaskDeferred
    from airflow.sdk.log import redact
else:
    from airflow.configuration import conf
    from airflow.exceptions import AirflowNotFoundException, TaskDeferred
    from airflow.sdk._shared.secrets_masker import redact  # 3.1.0's airflow.sdk.log has no redact

if TYPE_CHECKING or AIRFLOW_V_3_3_PLUS:
    from airflow.sdk.log import amask_secret
else:

    async def amask_secret(secret: Any, name: str | None = None) -> None:
        """What 3.3's ``amask_secret`` does, on the 3.1/3.2 task SDK, which has no public async masking.

        The sync ``mask_secret`` tells the triggerer's supervisor (which masks the triggers' logs)
        through a blocking call: 3.1 refuses that inside the event loop, silently, so the
        supervisor would never learn the secret. Sending the same message with ``asend`` works on
        both, exactly as 3.3 does it.
        """
        from airflow.sdk._shared.secrets_masker import _secrets_masker

        _secrets_masker().add_mask(secret, name)
        with suppress(Exception):  # as in 3.3: outside a task or trigger there is no supervisor
            from airflow.sdk.execution_time import task_runner
            from airflow.sdk.execution_time.comms import MaskSecret

            if comms := getattr(task_runner, "SUPERVISOR_COMMS", None):
                await comms.asend(MaskSecret(value=secret, name=name))


class TaskStateStore(Protocol):
    """The part of Airflow 3.3's ``task_state_store`` that the export operator uses."""

    def get(self, key: str) -> Any: ...

    def set(self, key: str, value: Any) -> None: ...

    def delete(self, key: str) -> None: ...


def task_state_store(context: Context) -> TaskStateStore | None:
    """State that survives the task's retries (Airflow 3.3); None before 3.3: retries start afresh."""
    return context.get("task_state_store") if AIRFLOW_V_3_3_PLUS else None


@runtime_checkable
class Resolvable(Protocol):
    """A value Airflow resolves only at run time: an ``XComArg``, a ``DagParam``, a mapped task group's argument.

    No public Airflow name covers them all (their common base, ``ResolveMixin``, is in
    ``airflow.sdk.definitions._internal``; ``airflow.sdk.XComArg`` is only one of them), so they are
    recognised by the two methods Airflow calls on each of them, in every supported version.
    """

    def iter_references(self) -> Iterable[Any]: ...

    def resolve(self, context: Any) -> Any: ...


def connection_form_widgets(conn_fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Airflow 3.1's connection form fields (wtforms), built from provider info's ``conn-fields``.

    3.1's API server imports these names under stand-ins of its own when Flask AppBuilder is absent.
    """
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import BooleanField, IntegerField, StringField
    from wtforms.validators import Optional, any_of

    widgets: dict[str, Any] = {}
    for name, field in conn_fields.items():
        schema = field.get("schema", {})
        kinds = schema.get("type", [])
        validators: list[Any] = [Optional()]
        if "enum" in schema:
            validators.append(any_of(schema["enum"]))
        options = {
            "label": lazy_gettext(field.get("label", name)),
            "description": field.get("description", ""),
            "default": schema.get("default"),
            "validators": validators,
        }
        if "boolean" in kinds:
            widgets[name] = BooleanField(**options)
        elif "integer" in kinds:
            widgets[name] = IntegerField(widget=BS3TextFieldWidget(), **options)
        else:
            widgets[name] = StringField(widget=BS3TextFieldWidget(), **options)
    return widgets


def ui_field_behaviour(behaviour: dict[str, Any]) -> dict[str, Any]:
    """Airflow 3.1's field behaviour (snake_case keys), from provider info's ``ui-field-behaviour``."""
    return {key.replace("-", "_"): value for key, value in behaviour.items()}


__all__ = [
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
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
    "Resolvable",
    "TaskDeferred",
    "TaskStateStore",
    "TriggerEvent",
    "amask_secret",
    "conf",
    "connection_form_widgets",
    "has_fs",
    "mask_secret",
    "redact",
    "task_state_store",
    "ui_field_behaviour",
]
