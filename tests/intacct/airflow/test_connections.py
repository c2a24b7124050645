from __future__ import annotations

import json

import pytest

from intacct.airflow import connections


def test_postgres_connection_becomes_a_psycopg_url(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_INTACCT_STATE_DB",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "db.internal",
                "port": 5433,
                "schema": "state",
                "login": "etl",
                "password": "p@ss/word",
            }
        ),
    )
    url = connections.state_db_url()
    assert url.startswith("postgresql+psycopg://etl:")
    assert url.endswith("@db.internal:5433/state")
    # special characters in the password survive the round trip through the URL
    from sqlalchemy.engine import make_url

    assert make_url(url).password == "p@ss/word"


def test_sqlite_connection_uses_host_as_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv(
        "AIRFLOW_CONN_FORECAST_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "f.db")})
    )
    assert connections.forecast_db_url() == f"sqlite:///{tmp_path / 'f.db'}"


def test_sqlalchemy_url_in_extra_wins(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_FORECAST_DB",
        json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": "sqlite:////srv/forecast.db"}}),
    )
    assert connections.forecast_db_url() == "sqlite:////srv/forecast.db"


def test_missing_connection_falls_back_to_the_embedded_default(monkeypatch, tmp_path):
    monkeypatch.delenv("AIRFLOW_CONN_INTACCT_STATE_DB", raising=False)
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert connections.state_db_url() == f"sqlite:///{tmp_path / 'intacct_state.db'}"


def test_unsupported_connection_type_is_named(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_INTACCT_STATE_DB", json.dumps({"conn_type": "mysql", "host": "x"}))
    with pytest.raises(ValueError, match="'intacct_state_db' has type 'mysql'"):
        connections.state_db_url()
