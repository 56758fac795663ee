# Sourced by the other scripts: make .venv hold this package with the given extra (default "test").
# Installs only when pyproject.toml changed since the last install, so a second run starts at once.
set -euo pipefail
extra="${1:-test}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $($python --version)..." >&2
  "$python" -m venv .venv
fi
stamp=".venv/.installed-$extra-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "Installing airflow-provider-spark-logs[$extra] and Apache Airflow into .venv (about a minute)..." >&2
  if ! .venv/bin/python -m uv --version >/dev/null 2>&1; then
    .venv/bin/python -m pip --version >/dev/null 2>&1 || .venv/bin/python -m ensurepip >/dev/null
    .venv/bin/python -m pip install -q --disable-pip-version-check uv
  fi
  .venv/bin/python -m uv pip install -q --python .venv/bin/python -e ".[$extra]"
  touch "$stamp"
fi
