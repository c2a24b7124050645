"""Fixtures for real DAG runs: Airflow's metadata database, the sandbox gateway, and the connections."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests

from intacct.airflow import tasks
from intacct.forecast import target as ft
from intacct.forecast.sql import SqlForecastTarget, ensure_forecast_schema
from intacct.state import db
from sandbox.intacct_gateway.clock import Clock
from sandbox.intacct_gateway.server import GatewayServer


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's own metadata database in the throwaway AIRFLOW_HOME (created once per test session)."""
    from airflow.utils.db import initdb

    initdb()


@pytest.fixture(scope="session", autouse=True)
def _in_process_supervisors_close_their_selectors():
    """`dag.test()` runs each task under an `InProcessTestSupervisor`, whose selector (an epoll file
    descriptor) Airflow 3.3 never closes: one descriptor per task, and this suite runs thousands of tasks
    in one process, where descriptors past 1024 make `select()` fail ("filedescriptor out of range").
    Each is closed once its task has run; nothing in-process uses it."""
    from airflow.sdk.execution_time.supervisor import InProcessTestSupervisor

    made: list[InProcessTestSupervisor] = []
    init, start = InProcessTestSupervisor.__init__, InProcessTestSupervisor.start.__func__

    def recording_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        made.append(self)

    def closing_start(cls, **kwargs):
        try:
            return start(cls, **kwargs)
        finally:
            while made:
                made.pop().selector.close()

    patch = pytest.MonkeyPatch()
    patch.setattr(InProcessTestSupervisor, "__init__", recording_init)
    patch.setattr(InProcessTestSupervisor, "start", classmethod(closing_start))
    yield
    patch.undo()


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


# The person who owns the stand-in's API key (its first person): not a team member the pipeline made.
API_KEY_OWNER = 1


class StandInForecast:
    """What the Forecast API stand-in holds, read and seeded through its admin view: the tests' own eyes
    on Forecast, independent of the REST adapter under test (and able to seed departments)."""

    def __init__(self, server):
        self.server = server

    def _admin(self, method: str, path: str, body=None):
        reply = requests.request(method, f"{self.server.admin_url}/{path}", json=body, timeout=30)
        reply.raise_for_status()
        return reply.json()

    def list_clients(self) -> list[ft.ForecastClient]:
        fields = ("id", *ft.CLIENT_FIELDS)
        return [ft.ForecastClient(**{k: c.get(k) for k in fields}) for c in self._admin("GET", "clients")]

    def list_departments(self) -> list[ft.ForecastDepartment]:
        return [ft.ForecastDepartment(d["id"], d["name"]) for d in self._admin("GET", "departments")]

    def list_people(self) -> list[ft.ForecastPerson]:
        """Team members: neither system users nor the person who owns the API key."""
        return [
            ft.ForecastPerson(
                p["id"],
                p["first_name"],
                p["last_name"],
                p["email"],
                (p.get("profile_ids") or [None])[0],
                p["department_id"],
                p["active"],
            )
            for p in self._admin("GET", "persons")
            if not p["is_system_user"] and p["id"] != API_KEY_OWNER
        ]

    def list_profiles(self) -> list[ft.Profile]:
        return [ft.Profile(p["id"], p["name"]) for p in self._admin("GET", "profiles")]

    def create_clients(self, new) -> list[ft.ForecastClient]:
        made = self._admin("POST", "clients", [vars(c) for c in new])
        return [ft.ForecastClient(**{k: c.get(k) for k in ("id", *ft.CLIENT_FIELDS)}) for c in made]

    def create_departments(self, new) -> list[ft.ForecastDepartment]:
        made = self._admin("POST", "departments", [vars(d) for d in new])
        return [ft.ForecastDepartment(d["id"], d["name"]) for d in made]

    def create_people(self, new) -> list[ft.ForecastPerson]:
        body = [
            {k: v for k, v in vars(p).items() if k != "profile_id"} | {"profile_ids": [p.profile_id]}
            for p in new
        ]
        ids = [p["id"] for p in self._admin("POST", "persons", body)]
        return [p for p in self.list_people() if p.id in ids]


@pytest.fixture
def forecast_api():
    from sandbox.forecast_api.server import ForecastApiServer

    with ForecastApiServer(rate=0) as server:
        yield server


@pytest.fixture
def rest_pipeline(monkeypatch, gateway, backend, airflow_db, forecast_api):
    """A `pipeline` whose Forecast is the REST API stand-in (reached by the REST target over HTTP)."""
    p = Pipeline(monkeypatch, gateway, backend.create(), backend.create())
    monkeypatch.setenv("FORECAST_TARGET", "rest")
    monkeypatch.setenv(
        "AIRFLOW_CONN_FORECAST_DEFAULT",
        json.dumps(forecast_api.airflow_connection(max_requests_per_second=0, retry_max_total=30)),
    )
    p.forecast = StandInForecast(forecast_api)
    p.forecast_api = forecast_api
    yield p
    tasks.state_engine().dispose()
    tasks.state_engine.cache_clear()
    p.forecast_engine.dispose()
