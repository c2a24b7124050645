#!/usr/bin/env bash
# Start `airflow standalone` on 127.0.0.1 with this checkout's dags and plugins, so the UI can be opened.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
export AIRFLOW_HOME=${AIRFLOW_HOME:-$REPO/airflow_home}
export AIRFLOW__CORE__DAGS_FOLDER=$REPO/dags
export AIRFLOW__CORE__PLUGINS_FOLDER=$REPO/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT=${AIRFLOW_PORT:-8080}
source "$REPO/scripts/dev_connections.sh"
echo "Airflow UI: http://127.0.0.1:$AIRFLOW__API__PORT (admin password: $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated)"
exec "$REPO/.venv/bin/airflow" standalone
