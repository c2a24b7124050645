#!/usr/bin/env bash
# `make airflow`: `airflow standalone` on 127.0.0.1 with this checkout's dags and plugins, a sandbox Intacct
# gateway behind the `intacct_default` connection, and the `intacct_api` pool, so the UI can be opened and
# the DAGs triggered by hand. Stop it with Ctrl-C (the sandbox stops with it).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
export AIRFLOW_HOME=${AIRFLOW_HOME:-$REPO/airflow_home}
export AIRFLOW__CORE__DAGS_FOLDER=$REPO/dags
export AIRFLOW__CORE__PLUGINS_FOLDER=$REPO/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__API__HOST=127.0.0.1
export AIRFLOW__API__PORT=${AIRFLOW_PORT:-8080}
# Task processes reach the execution API through the base URL, which otherwise assumes port 8080.
export AIRFLOW__API__BASE_URL=http://127.0.0.1:$AIRFLOW__API__PORT
SANDBOX_PORT=${SANDBOX_PORT:-18990}
INTACCT_API_SLOTS=${INTACCT_API_SLOTS:-2}
export INTACCT_API_SLOTS
# shellcheck source=dev_connections.sh
source "$REPO/scripts/dev_connections.sh"
export AIRFLOW_CONN_INTACCT_DEFAULT="{\"conn_type\": \"http\", \"host\": \"127.0.0.1\", \"port\": $SANDBOX_PORT, \"schema\": \"http\", \"login\": \"xml_gateway\", \"password\": \"sandbox-user-secret\", \"extra\": {\"sender_id\": \"sandbox_sender\", \"sender_password\": \"sandbox-sender-secret\", \"company_id\": \"SANDBOX-CO\", \"slots\": $INTACCT_API_SLOTS}}"

cd "$REPO"
export PATH="$REPO/.venv/bin:$PATH"  # standalone starts its components as `airflow ...` subprocesses
.venv/bin/python -m sandbox.intacct_gateway --port "$SANDBOX_PORT" --seed 42 --customers 1200 --slots "$INTACCT_API_SLOTS" &
SANDBOX_PID=$!
trap 'kill $SANDBOX_PID 2>/dev/null || true' EXIT

.venv/bin/airflow db migrate >/dev/null
# Our state database too, before any task (as the demo, make stack and the compose init do).
PYTHONPATH=plugins .venv/bin/python -c 'from intacct.airflow.connections import state_db_url
from intacct.state import db, migrations
migrations.upgrade(db.open_engine(state_db_url()))' >/dev/null
.venv/bin/airflow pools set intacct_api "$INTACCT_API_SLOTS" "Intacct API concurrency (the company's slots)" >/dev/null
echo "Sandbox Intacct gateway: http://127.0.0.1:$SANDBOX_PORT/ia/xml/xmlgw.phtml"
echo "Airflow UI: http://127.0.0.1:$AIRFLOW__API__PORT (admin password: $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated)"
.venv/bin/airflow standalone
