# Sourced by the other scripts. `venv_for DIR AIRFLOW [uv pip options]` makes DIR hold this checkout
# (editable, with its object-store extras and the `test` dependency group) beside the Airflow that
# AIRFLOW names.
# It installs only when pyproject.toml, AIRFLOW or the options changed since the last install, so a
# second run starts at once. `main_venv` is .venv, the main target: the newest Airflow 3.3.
set -euo pipefail
MAIN_AIRFLOW="apache-airflow>=3.3,<3.4"

venv_for() {
  local dir=$1 airflow=$2
  shift 2
  local python="${PYTHON:-python3}" key
  key=$( (cat pyproject.toml; echo "$airflow $*") | sha256sum | cut -c1-16)
  [ -f "$dir/.installed-$key" ] && return 0
  if [ ! -x "$dir/bin/python" ]; then
    echo "Creating $dir with $($python --version)..." >&2
    "$python" -m venv "$dir"
  fi
  if ! "$dir/bin/python" -m uv --version >/dev/null 2>&1; then
    "$dir/bin/python" -m pip --version >/dev/null 2>&1 || "$dir/bin/python" -m ensurepip >/dev/null
    "$dir/bin/python" -m pip install -q --disable-pip-version-check uv
  fi
  echo "Installing airflow-provider-spark-logs[s3,gcs,azure] and $airflow into $dir (about a minute)..." >&2
  "$dir/bin/python" -m uv pip install -q --python "$dir/bin/python" -e ".[s3,gcs,azure]" --group test "$airflow" "$@"
  rm -f "$dir"/.installed-*
  touch "$dir/.installed-$key"
}

main_venv() {
  # A fresh resolve may pick an old Google provider (12.0.0 ignores is_anonymous with fake-gcs-server).
  venv_for .venv "$MAIN_AIRFLOW" "apache-airflow-providers-google>=22.8"
}
