"""Apache Airflow provider for Coherent Spark's API call history (log downloads)."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

CONN_TYPE = "coherent_spark"
DEFAULT_CONN_ID = "coherent_spark_default"


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow's providers manager (entry point ``apache_airflow_provider``)."""
    return {
        "package-name": "airflow-provider-spark-logs",
        "name": "Coherent Spark",
        "description": "Export Coherent Spark API call history (log downloads) into object storage.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Coherent Spark",
                "external-doc-url": "https://docs.coherent.global/",
                "tags": ["service"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Coherent Spark",
                "python-modules": ["airflow_provider_spark_logs.hooks.spark_logs"],
            }
        ],
        "operators": [
            {
                "integration-name": "Coherent Spark",
                "python-modules": ["airflow_provider_spark_logs.operators.spark_logs"],
            }
        ],
        "sensors": [
            {
                "integration-name": "Coherent Spark",
                "python-modules": ["airflow_provider_spark_logs.sensors.spark_logs"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Coherent Spark",
                "python-modules": ["airflow_provider_spark_logs.triggers.spark_logs"],
            }
        ],
        "transfers": [
            {
                "source-integration-name": "Coherent Spark",
                "target-integration-name": "Common IO",
                "python-module": "airflow_provider_spark_logs.transfers.spark_logs_to_object_storage",
            }
        ],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_provider_spark_logs.hooks.spark_logs.SparkLogHook",
                "hook-name": "Coherent Spark",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "Spark base URL",
                        "login": "OAuth2 client id",
                        "password": "API key, bearer token or client secret",
                    },
                    "placeholders": {
                        "host": "https://excel.my-env.coherent.global/my-tenant",
                        "login": "only for oauth2",
                    },
                },
                "conn-fields": {
                    "tenant": {
                        "label": "Tenant",
                        "description": "Spark tenant; optional when the base URL ends in it.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "auth_type": {
                        "label": "Authentication",
                        "description": "What the password field holds.",
                        "schema": {
                            "type": ["string", "null"],
                            "enum": [None, "api_key", "bearer", "oauth2"],
                            # The UI shows these instead of the raw values; null is "automatic".
                            "values_display": {
                                "null": "automatic (API key, or OAuth2 when a client id is set)",
                                "api_key": "API key",
                                "bearer": "bearer token",
                                "oauth2": "OAuth2 client credentials",
                            },
                        },
                    },
                    "token_url": {
                        "label": "OAuth2 token URL",
                        "description": "Defaults to the Keycloak endpoint derived from the base URL.",
                        "schema": {"type": ["string", "null"], "format": "url"},
                    },
                    "timeout": {
                        "label": "Request timeout (s)",
                        "schema": {"type": ["number", "null"], "default": 60, "minimum": 1},
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "schema": {"type": ["integer", "null"], "default": 5, "minimum": 0},
                    },
                    "verify": {
                        "label": "Verify TLS certificates",
                        "description": "true (the default when empty), false, or the path of a CA bundle file.",
                        # A string, not a switch: a switch could not hold a CA bundle path, and would
                        # turn an existing one into true or false when the form is saved.
                        "schema": {"type": ["string", "null"]},
                    },
                },
            }
        ],
    }
