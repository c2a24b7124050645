# Airflow connections for local development, as AIRFLOW_CONN_* JSON (sourced by the demo and `make airflow`).
# Production sets the same connection ids in its secrets backend; these values are the embedded defaults.
: "${AIRFLOW_HOME:?AIRFLOW_HOME must be set}"
export AIRFLOW_CONN_INTACCT_STATE_DB="{\"conn_type\": \"sqlite\", \"host\": \"$AIRFLOW_HOME/intacct_state.db\"}"
export AIRFLOW_CONN_FORECAST_DB="{\"conn_type\": \"sqlite\", \"host\": \"$AIRFLOW_HOME/forecast.db\"}"
