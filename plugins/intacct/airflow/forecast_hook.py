"""ForecastHook: an Airflow `http` connection → Forecast's REST API (`intacct.forecast.rest`).

The connection `forecast_default`:

| field | meaning |
|---|---|
| host, schema, port | the API, e.g. host `api.forecast.it`, schema `https`; requests go to `<schema>://<host>[:port]/api/v<n>/...` |
| password | the API key (Forecast: Admin > API Keys), sent as `X-FORECAST-API-KEY` |
| extra (JSON) | `max_requests_per_second` (10; 0: no bound of ours), `connect_timeout` (10), `read_timeout` (60), `max_response_mb` (64), `retry_max_attempts` (8), `retry_max_total` (120), `retry_task_budget` (900), `base_path` (`/api`) |

The key is registered with Airflow's log masker and lives nowhere else: not in XCom, the state database or
a report. Unknown extra keys are refused, so a misspelt option is named rather than ignored.
"""

from __future__ import annotations

import json
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException

from intacct.forecast.http import ApiConfig, ForecastApi, ForecastApiError
from intacct.forecast.rest import RestForecastTarget
from intacct.gateway.retry import RetryPolicy

_OPTIONS = {
    "max_requests_per_second": float,
    "connect_timeout": float,
    "read_timeout": float,
    "max_response_mb": float,
}
_RETRY_OPTIONS = {
    "retry_max_attempts": ("max_attempts", int),
    "retry_max_total": ("max_total", float),
    "retry_task_budget": ("task_budget", float),
}
DEFAULT_BASE_PATH = "/api"


class ForecastConnectionError(ValueError):
    """The Airflow connection cannot describe a Forecast API; the message says what to fix."""


class ForecastHook(BaseHook):
    """Talks to one Forecast company through its public REST API."""

    conn_name_attr = "forecast_conn_id"
    default_conn_name = "forecast_default"
    conn_type = "http"
    hook_name = "Forecast (REST API)"

    def __init__(self, forecast_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.forecast_conn_id = forecast_conn_id

    @classmethod
    def is_defined(cls, conn_id: str = default_conn_name) -> bool:
        try:
            cls.get_connection(conn_id)
        except AirflowNotFoundException:
            return False
        return True

    def config(self) -> ApiConfig:
        """Read and check the connection; every problem is named before any request is sent."""
        from airflow.sdk.log import mask_secret

        conn_id = self.forecast_conn_id
        try:
            conn = self.get_connection(conn_id)
        except AirflowNotFoundException:
            raise ForecastConnectionError(
                f"Airflow connection {conn_id!r} is not defined: create an http connection with Forecast's "
                "API host (api.forecast.it, schema https) and the API key as its password"
            ) from None
        try:
            extra = conn.extra_dejson if conn.extra else {}
        except json.JSONDecodeError:
            raise ForecastConnectionError(f"connection {conn_id!r}: extra is not valid JSON") from None
        known = {*_OPTIONS, *_RETRY_OPTIONS, "base_path"}
        unknown = sorted(set(extra) - known)
        if unknown:
            raise ForecastConnectionError(
                f"connection {conn_id!r}: unknown extra key(s) {', '.join(unknown)}; expected some of "
                f"{', '.join(sorted(known))}"
            )
        missing = [
            what
            for what, value in (
                ("host (e.g. api.forecast.it)", conn.host),
                ("password (the Forecast API key)", conn.password),
            )
            if not value
        ]
        if missing:
            raise ForecastConnectionError(f"connection {conn_id!r} is missing {', '.join(missing)}")
        mask_secret(conn.password)
        host = conn.host.rstrip("/")
        if "://" not in host:
            port = f":{conn.port}" if conn.port else ""
            host = f"{conn.schema or 'https'}://{host}{port}"
        base_path = str(extra.get("base_path", DEFAULT_BASE_PATH))
        options = {
            key: _number(conn_id, key, extra[key], kind) for key, kind in _OPTIONS.items() if key in extra
        }
        retry = {
            field: _number(conn_id, key, extra[key], kind)
            for key, (field, kind) in _RETRY_OPTIONS.items()
            if key in extra
        }
        try:
            return ApiConfig(
                base_url=host + base_path if not host.endswith(base_path) else host,
                api_key=conn.password,
                retry=RetryPolicy(**{"max_total": 120.0, **retry}),
                **options,
            )
        except ValueError as exc:
            raise ForecastConnectionError(f"connection {conn_id!r}: {exc}") from None

    def get_target(self) -> RestForecastTarget:
        return RestForecastTarget(ForecastApi(self.config()))

    def test_connection(self) -> tuple[bool, str]:
        """List the permission profiles: proves the host and the key in one read."""
        try:
            target = self.get_target()
            try:
                profiles = target.list_profiles()
            finally:
                target.api.close()
        except (ForecastConnectionError, ForecastApiError) as exc:
            return False, str(exc)
        return True, f"{target.describe()}: the key works; {len(profiles)} permission profiles"


def _number(conn_id: str, key: str, value: Any, kind: type) -> Any:
    try:
        if isinstance(value, bool):
            raise TypeError
        return kind(value)
    except (TypeError, ValueError):
        raise ForecastConnectionError(
            f"connection {conn_id!r}: extra {key!r} must be a number, got {value!r}"
        ) from None
