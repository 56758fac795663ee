"""The distribution as users get it: what pip accepts, what the wheel holds, and that it works installed.

Slow (builds, resolves, makes a venv), so in the system tier. The wheel tests also run in the compat
job, beside each supported Airflow; what pip accepts does not depend on the Airflow installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from airflow_provider_spark_logs import __version__

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_spark_logs"
DIST_INFO = f"airflow_provider_spark_logs-{__version__}.dist-info"
AIRFLOW = f"apache-airflow=={version('apache-airflow')}"


def run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None, check: bool = True):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    if check:
        assert result.returncode == 0, f"{' '.join(map(str, args))}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built from the checkout as a release would be."""
    out = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    return out


def wheel_of(dist: Path) -> Path:
    (wheel,) = dist.glob("*.whl")
    return wheel


def test_airflow_3_0_is_refused_at_install_time():
    """3.0 fails at `pip install`, never at import; the same command with this Airflow resolves."""
    uv = [sys.executable, "-m", "uv", "pip", "install", "--dry-run", "--python", sys.executable, ROOT]
    refused = run(*uv, "apache-airflow==3.0.6", check=False)
    assert refused.returncode != 0
    assert "No solution found" in refused.stderr
    assert "apache-airflow>=3.1.0,<4" in refused.stderr
    run(*uv, AIRFLOW)
    pip = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", ROOT]
    refused = run(*pip, "apache-airflow==3.0.6", check=False)
    assert refused.returncode != 0
    assert "ResolutionImpossible" in refused.stderr


@pytest.mark.compat
def test_the_distribution_holds_the_package_typed_and_licensed(dist):
    run(sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.iterdir()))
    with zipfile.ZipFile(wheel_of(dist)) as wheel:
        names = wheel.namelist()
        metadata = wheel.read(f"{DIST_INFO}/METADATA").decode()
    outside = [n for n in names if not n.startswith((f"{PACKAGE}/", f"{DIST_INFO}/"))]
    assert outside == []
    assert f"{PACKAGE}/py.typed" in names
    assert f"{DIST_INFO}/licenses/LICENSE" in names
    assert {n.rsplit(".", 1)[-1] for n in names if n.startswith(f"{PACKAGE}/")} == {"py", "typed"}
    assert not [n for n in names if "__pycache__" in n or "/tests/" in n]
    assert f"Version: {__version__}\n" in metadata
    assert "Requires-Dist: apache-airflow<4,>=3.1.0\n" in metadata
    assert "License-Expression: Apache-2.0\n" in metadata
    assert "Project-URL: Source Code, " in metadata
    assert "Project-URL: Changelog, " in metadata


INSTALLED_CHECK = """
import importlib.metadata as md, json, sys
(entry_point,) = [e for e in md.entry_points(group="apache_airflow_provider") if e.value.startswith("airflow_provider")]
info = entry_point.load()()
from airflow_provider_spark_logs.hooks.spark_logs import SparkLogHook
from airflow_provider_spark_logs._compat import AIRFLOW_V_3_2_PLUS
if AIRFLOW_V_3_2_PLUS:
    from airflow.dag_processing.dagbag import DagBag
else:
    from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
import airflow_provider_spark_logs
print(json.dumps({
    "versions": info["versions"], "conn_type": SparkLogHook.conn_type, "package": airflow_provider_spark_logs.__file__,
    "import_errors": bag.import_errors, "dags": sorted(bag.dag_ids),
}))
"""


def airflow_json(venv: Path, env: dict[str, str], *command: str) -> list[dict[str, str]]:
    """An ``airflow ... -o json`` listing; Airflow may print warnings before the JSON."""
    out = run(venv / "bin" / "airflow", *command, "-o", "json", cwd=venv.parent, env=env).stdout
    return json.loads(out[out.index("[") :])


@pytest.mark.compat
def test_the_wheel_works_installed_beside_airflow(dist, tmp_path):
    """A fresh venv with the wheel and this Airflow (pinned as this venv has them, from uv's cache)."""
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "uv", "venv", "--quiet", "--python", sys.executable, venv)
    frozen = run(sys.executable, "-m", "uv", "pip", "freeze", "--python", sys.executable).stdout.splitlines()
    pins = tmp_path / "pins.txt"
    pins.write_text("\n".join(line for line in frozen if not line.startswith(("-e", "airflow-provider-spark-logs"))))
    python = venv / "bin" / "python"
    uv_install = [sys.executable, "-m", "uv", "pip", "install", "--quiet", "--python", python, "-c", pins]
    run(*uv_install, wheel_of(dist), AIRFLOW)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": "",
    }
    providers = airflow_json(venv, env, "providers", "list")
    assert {"package_name": "airflow-provider-spark-logs", "version": __version__} in [
        {key: p[key] for key in ("package_name", "version")} for p in providers
    ]
    hooks = airflow_json(venv, env, "providers", "hooks")
    assert {
        "connection_type": "coherent_spark",
        "class": "airflow_provider_spark_logs.hooks.spark_logs.SparkLogHook",
        "package_name": "airflow-provider-spark-logs",
    } in [{key: h[key] for key in ("connection_type", "class", "package_name")} for h in hooks]
    out = run(python, "-c", INSTALLED_CHECK, ROOT / "example_dags", cwd=tmp_path, env=env).stdout
    installed = json.loads(out.strip().splitlines()[-1])
    assert installed["versions"] == [__version__]
    assert installed["conn_type"] == "coherent_spark"
    assert installed["package"].startswith(str(venv))
    assert installed["import_errors"] == {}
    assert installed["dags"] == [
        "example_spark_logs_consumer",
        "example_spark_logs_daily",
        "example_spark_logs_range",
        "example_spark_logs_split",
    ]
