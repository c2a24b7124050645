"""Fixtures for real DAG runs: Airflow's metadata database, the sandbox gateway, and the connections."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from intacct import db
from intacct.airflow import tasks
from intacct.forecast.sql import SqlForecastTarget, ensure_forecast_schema
from sandbox.intacct_gateway.clock import Clock
from sandbox.intacct_gateway.server import GatewayServer


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's own metadata database in the throwaway AIRFLOW_HOME (created once per test session)."""
    from airflow.utils.db import initdb

    initdb()


def sandbox_company(**sizes) -> GatewayServer:
    """A sandbox gateway for DAG runs: `sizes` are GatewayServer's seed and record counts."""
    return GatewayServer(clock=Clock(datetime(2026, 11, 2, tzinfo=UTC)), **sizes)


@pytest.fixture(scope="module")
def gateway():
    with sandbox_company(seed=11, customers=300, departments=20, users=30) as server:
        yield server


class Pipeline:
    """The connections a DAG run uses, pointed at the sandbox and at fresh databases of one backend."""

    def __init__(self, monkeypatch, gateway, state_url: str, forecast_url: str):
        self.gateway = gateway
        self.state_url = state_url
        self.forecast_engine = db.open_engine(forecast_url)
        ensure_forecast_schema(self.forecast_engine)
        self.forecast = SqlForecastTarget(self.forecast_engine)
        connection = gateway.airflow_connection(retry_max_total=20)
        monkeypatch.setenv("AIRFLOW_CONN_INTACCT_DEFAULT", json.dumps(connection))
        monkeypatch.setenv(
            "AIRFLOW_CONN_INTACCT_STATE_DB",
            json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": state_url}}),
        )
        monkeypatch.setenv(
            "AIRFLOW_CONN_FORECAST_DB",
            json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": forecast_url}}),
        )
        tasks.state_engine.cache_clear()

    @property
    def state(self):
        return tasks.state_engine()

    def customers(self, n: int, *, status: str = "active") -> list[dict[str, str]]:
        records = sorted(self.gateway.store.records("CUSTOMER"), key=lambda r: int(r["RECORDNO"]))
        return [
            r for r in records if r.get("STATUS") == status and r.get("NAME") and not r.get("MEGAENTITYID")
        ][:n]


@pytest.fixture
def pipeline(monkeypatch, gateway, backend, airflow_db):
    p = Pipeline(monkeypatch, gateway, backend.create(), backend.create())
    yield p
    tasks.state_engine().dispose()
    tasks.state_engine.cache_clear()
    p.forecast_engine.dispose()
