"""Test harness shared by every test.

- Every run gets a throwaway AIRFLOW_HOME, set before anything imports Airflow, so tests never touch a
  developer's Airflow, and DAG tests see exactly this checkout's dags/ and plugins/.
- `backend` runs a SQL-touching test on SQLite and on PostgreSQL (test ids say which). PostgreSQL is the
  production database: when it is unreachable the tests fail with a message, they are never skipped.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="intacct-test-airflow-home-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
    }
)

from sqlalchemy import Engine, text  # noqa: E402  (after AIRFLOW_HOME is set)
from sqlalchemy.engine import make_url  # noqa: E402

from intacct.state import db, migrations, schema  # noqa: E402

# The server .ci/run and `make test` make sure of; override to point the tests at another one.
PG_ADMIN_URL = os.environ.get("INTACCT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_AIRFLOW_HOME, ignore_errors=True)


class DatabaseFactory:
    """Creates fresh, empty databases on one backend and drops them when the test session ends."""

    def __init__(self, backend: str, workdir: Path):
        self.backend = backend
        self._workdir = workdir
        self._created: list[str] = []
        self._admin: Engine | None = None
        if backend == "postgresql":
            self._admin = db.open_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
            try:
                with self._admin.connect() as connection:
                    connection.execute(text("SELECT 1"))
            except Exception as exc:
                pytest.fail(
                    f"PostgreSQL is not reachable at {db.describe(PG_ADMIN_URL)} ({type(exc).__name__}). "
                    "The tests need it: run `make test` (it starts the local server) or start it with "
                    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`.",
                    pytrace=False,
                )

    def create(self) -> str:
        name = f"intacct_test_{uuid.uuid4().hex[:12]}"
        if self.backend == "sqlite":
            return f"sqlite:///{self._workdir / (name + '.db')}"
        with self._admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self._admin is None:
            return
        with self._admin.connect() as connection:
            for name in self._created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request, tmp_path_factory) -> Iterator[DatabaseFactory]:
    """A database backend (sqlite or postgresql) that hands out fresh databases."""
    factory = DatabaseFactory(request.param, tmp_path_factory.mktemp(f"db-{request.param}"))
    yield factory
    factory.drop_all()


@pytest.fixture
def empty_database_url(backend: DatabaseFactory) -> str:
    """A brand-new database with nothing in it."""
    return backend.create()


@pytest.fixture(scope="session")
def _migrated_state_engine(backend: DatabaseFactory) -> Iterator[Engine]:
    engine = db.open_engine(backend.create())
    migrations.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def state_engine(_migrated_state_engine: Engine) -> Iterator[Engine]:
    """The state database at the newest schema, emptied after each test."""
    yield _migrated_state_engine
    with _migrated_state_engine.begin() as connection:
        for table in reversed(schema.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def make_engine() -> Iterator[Callable[[str], Engine]]:
    """Open engines that are disposed after the test."""
    engines: list[Engine] = []

    def _open(url: str) -> Engine:
        engine = db.open_engine(url)
        engines.append(engine)
        return engine

    yield _open
    for engine in engines:
        engine.dispose()


@pytest.fixture
def every_backend(tmp_path) -> Iterator[dict[str, DatabaseFactory]]:
    """One database factory per backend in the same test, for checks that compare their answers."""
    factories = {name: DatabaseFactory(name, tmp_path / name) for name in BACKENDS}
    for factory in factories.values():
        factory._workdir.mkdir()
    yield factories
    for factory in factories.values():
        factory.drop_all()
