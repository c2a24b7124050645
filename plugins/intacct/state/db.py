"""The one place that opens database engines.

Both databases this project touches are reached through a SQLAlchemy URL: the state database (ours:
staging, plan, links, audit, reports) and, for the SQL adapter, Forecast's entity tables. The Airflow
side turns a connection id into such a URL (`intacct.airflow.connections`); everything below it only
sees URLs and engines.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

STATE_DB_FILE = "intacct_state.db"
FORECAST_DB_FILE = "forecast.db"


def airflow_home() -> Path:
    """The Airflow home, where the embedded SQLite defaults live (as Airflow itself resolves it)."""
    return Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow")


def default_state_url() -> str:
    """The embedded default for the state database: a SQLite file under the Airflow home."""
    return f"sqlite:///{airflow_home() / STATE_DB_FILE}"


def default_forecast_url() -> str:
    """The embedded default for the SQL Forecast target: a SQLite file under the Airflow home."""
    return f"sqlite:///{airflow_home() / FORECAST_DB_FILE}"


def open_engine(url: str) -> Engine:
    """Open an engine for `url`, with the settings each backend needs to be safe under concurrency.

    SQLite: the parent folder is created, WAL lets readers work during a write, foreign keys are on and
    writers wait for the lock instead of failing at once. PostgreSQL: connections are checked before use,
    so a server restart between tasks costs a reconnect rather than a failed task.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True)
    raise ValueError(
        f"unsupported database backend {parsed.get_backend_name()!r} in URL "
        f"{parsed.render_as_string(hide_password=True)}: use sqlite:/// or postgresql://"
    )


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def describe(url: str) -> str:
    """A URL fit for logs and reports: the password is never shown."""
    return make_url(url).render_as_string(hide_password=True)
