"""Airflow connections → SQLAlchemy URLs for the state database and the SQL Forecast target.

The library below only sees URLs (`intacct.state.db.open_engine`); this is where connection ids become them.
A connection id that is not defined falls back to the embedded SQLite default under the Airflow home,
so the demo runs on a bare machine; production defines both ids.
"""

from __future__ import annotations

import logging

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowNotFoundException
from sqlalchemy.engine import URL

from intacct.state import db

log = logging.getLogger(__name__)

STATE_DB_CONN_ID = "intacct_state_db"
FORECAST_DB_CONN_ID = "forecast_db"


def connection_url(conn) -> str:
    """The SQLAlchemy URL an Airflow connection describes.

    Supported: `postgres` connections (host, port, schema = database, login, password), `sqlite`
    connections (host = file path), and any type whose extra has `sqlalchemy_url`.
    """
    extra = conn.extra_dejson or {}
    if extra.get("sqlalchemy_url"):
        return str(extra["sqlalchemy_url"])
    if conn.conn_type in ("postgres", "postgresql"):
        url = URL.create(
            "postgresql+psycopg",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=conn.port or None,
            database=conn.schema or None,
        )
        return url.render_as_string(hide_password=False)
    if conn.conn_type == "sqlite":
        path = conn.host or conn.schema
        if not path:
            raise ValueError(
                f"connection {conn.conn_id!r} is a sqlite connection without a file path in host"
            )
        return f"sqlite:///{path}"
    raise ValueError(
        f"connection {conn.conn_id!r} has type {conn.conn_type!r}: use a postgres or sqlite connection, "
        "or put a sqlalchemy_url in its extra"
    )


def _url_for(conn_id: str, default: str) -> str:
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        log.info("connection %s is not defined; using the embedded default %s", conn_id, db.describe(default))
        return default
    return connection_url(conn)


def state_db_url(conn_id: str = STATE_DB_CONN_ID) -> str:
    """URL of the state database (staging, plan, links, audit, reports)."""
    return _url_for(conn_id, db.default_state_url())


def forecast_db_url(conn_id: str = FORECAST_DB_CONN_ID) -> str:
    """URL of the Forecast entity tables, for the SQL Forecast target."""
    return _url_for(conn_id, db.default_forecast_url())
