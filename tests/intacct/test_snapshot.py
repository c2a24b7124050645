from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from intacct import snapshot
from intacct.forecast.sql import SqlForecastTarget, ensure_forecast_schema
from intacct.forecast.target import (
    ForecastClient,
    ForecastDepartment,
    ForecastPerson,
    ForecastTarget,
    NewClient,
    NewDepartment,
    NewPerson,
    Profile,
    UnsupportedOperation,
)
from intacct.state.schema import forecast_snapshot, forecast_snapshot_tables

COLLABORATOR = (Profile(-3, "Collaborator"),)


class ListedTarget(ForecastTarget):
    """A Forecast that only lists fixed records: no SQL behind it, as the REST adapter will be."""

    capabilities = frozenset()

    def __init__(self, clients=(), departments=(), people=(), profiles=COLLABORATOR):
        self.clients, self.departments, self.people, self.profiles = clients, departments, people, profiles

    def describe(self) -> str:
        return "listed test target"

    def list_clients(self) -> list[ForecastClient]:
        return list(self.clients)

    def list_departments(self) -> list[ForecastDepartment]:
        return list(self.departments)

    def list_people(self) -> list[ForecastPerson]:
        return list(self.people)

    def list_profiles(self) -> list[Profile]:
        return list(self.profiles)

    def create_clients(self, new: Sequence[NewClient]) -> list[ForecastClient]:
        raise UnsupportedOperation("read-only")

    def update_client(self, client_id: int, **changes) -> ForecastClient:
        raise UnsupportedOperation("read-only")

    def create_departments(self, new: Sequence[NewDepartment]) -> list[ForecastDepartment]:
        raise UnsupportedOperation("read-only")

    def update_department(self, department_id: int, **changes) -> ForecastDepartment:
        raise UnsupportedOperation("read-only")

    def create_people(self, new: Sequence[NewPerson]) -> list[ForecastPerson]:
        raise UnsupportedOperation("read-only")

    def update_person(self, person_id: int, **changes) -> ForecastPerson:
        raise UnsupportedOperation("read-only")


class BrokenPeople(ListedTarget):
    def list_people(self) -> list[ForecastPerson]:
        raise ConnectionError("Forecast went away")


def clients(n: int) -> list[ForecastClient]:
    return [ForecastClient(i, f"Client {i} Ltd", None, None, None, None, None, None) for i in range(1, n + 1)]


def person(forecast_id: int, first: str, last: str, email: str | None) -> ForecastPerson:
    return ForecastPerson(forecast_id, first, last, email, -3, None, True)


def stored_rows(state_engine) -> int:
    with state_engine.connect() as connection:
        return sum(
            connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in forecast_snapshot_tables.values()
        )


def test_snapshot_copies_everything_with_match_keys(state_engine):
    target = ListedTarget(
        clients=[
            ForecastClient(
                7, "Société Générale S.A.", "29 Bd Haussmann", "75009", "Paris", "FR", "FR123", "VIP"
            ),
            ForecastClient(3, "Acme, Inc.", None, None, None, "US", None, None),
            ForecastClient(9, "   ", None, None, None, None, None, None),
        ],
        departments=[ForecastDepartment(1, "Research & Development"), ForecastDepartment(2, "Отдел продаж")],
        people=[
            ForecastPerson(11, "José", "Núñez", " Jose.Nunez@Example.COM ", -3, 2, True),
            ForecastPerson(12, None, None, None, -2, None, False),
        ],
        profiles=[Profile(-3, "Collaborator"), Profile(-2, "Manager")],
    )

    result = snapshot.take_snapshot(target, state_engine, run_id="manual__1")

    assert (result.status, result.run_id, result.target) == ("complete", "manual__1", "listed test target")
    assert (result.client_count, result.department_count, result.person_count) == (3, 2, 2)
    assert result.started_at <= result.finished_at
    assert result.finished_at.tzinfo is not None

    client_rows = snapshot.snapshot_rows(state_engine, result.id, "client")
    assert [(r["forecast_id"], r["name_key"]) for r in client_rows] == [
        (3, "acme"),
        (7, "societe generale"),
        (9, None),
    ]
    assert client_rows[1] | {"snapshot_id": None} == {
        "snapshot_id": None,
        "forecast_id": 7,
        "name": "Société Générale S.A.",
        "street": "29 Bd Haussmann",
        "zip": "75009",
        "city": "Paris",
        "country": "FR",
        "vat_number": "FR123",
        "notes": "VIP",
        "name_key": "societe generale",
    }
    assert [
        (r["name"], r["name_key"]) for r in snapshot.snapshot_rows(state_engine, result.id, "department")
    ] == [
        ("Research & Development", "research and development"),
        ("Отдел продаж", "отдел продаж"),
    ]
    people = snapshot.snapshot_rows(state_engine, result.id, "person")
    assert [
        (p["email_key"], p["name_key"], p["profile_id"], p["department_id"], p["active"]) for p in people
    ] == [
        ("jose.nunez@example.com", "jose nunez", -3, 2, True),
        (None, None, -2, None, False),
    ]
    assert (
        people[0]["email"] == " Jose.Nunez@Example.COM "
    )  # the value as Forecast has it; only the key is normalised
    assert [
        (p["forecast_id"], p["name"]) for p in snapshot.snapshot_rows(state_engine, result.id, "profile")
    ] == [
        (-3, "Collaborator"),
        (-2, "Manager"),
    ]
    assert snapshot.latest_snapshot(state_engine) == result


def test_snapshot_of_the_sql_adapter(state_engine, empty_database_url, make_engine):
    forecast = make_engine(empty_database_url)
    ensure_forecast_schema(forecast)
    target = SqlForecastTarget(forecast)
    [sales] = target.create_departments([NewDepartment("Sales")])
    target.create_clients([NewClient("Acme GmbH", country="DE"), NewClient("Acme Industries")])
    admin = next(p.id for p in target.list_profiles() if p.name == "Admin")
    target.create_people([NewPerson("Ann", "Lee", "Ann.Lee@example.com", admin, department_id=sales.id)])

    result = snapshot.take_snapshot(target, state_engine, run_id=None)

    assert (result.client_count, result.department_count, result.person_count) == (2, 1, 1)
    assert result.target == target.describe()
    assert [r["name_key"] for r in snapshot.snapshot_rows(state_engine, result.id, "client")] == [
        "acme",
        "acme industries",
    ]
    [ann] = snapshot.snapshot_rows(state_engine, result.id, "person")
    assert (ann["email_key"], ann["department_id"], ann["profile_id"]) == (
        "ann.lee@example.com",
        sales.id,
        admin,
    )
    assert len(snapshot.snapshot_rows(state_engine, result.id, "profile")) == 5


def test_rows_land_in_chunks(state_engine):
    result = snapshot.take_snapshot(ListedTarget(clients=clients(7)), state_engine, run_id=None, chunk_rows=3)
    assert result.client_count == 7
    assert [r["forecast_id"] for r in snapshot.snapshot_rows(state_engine, result.id, "client")] == list(
        range(1, 8)
    )


def test_an_empty_forecast_is_a_complete_snapshot(state_engine):
    result = snapshot.take_snapshot(ListedTarget(profiles=()), state_engine, run_id=None)
    assert (result.status, result.client_count, result.department_count, result.person_count) == (
        "complete",
        0,
        0,
        0,
    )


def test_a_failed_listing_leaves_a_failed_snapshot_without_rows(state_engine):
    good = snapshot.take_snapshot(ListedTarget(clients=clients(2)), state_engine, run_id="run-1")

    with pytest.raises(ConnectionError, match="Forecast went away"):
        snapshot.take_snapshot(BrokenPeople(clients=clients(5)), state_engine, run_id="run-2", chunk_rows=2)

    with state_engine.connect() as connection:
        failed = (
            connection.execute(select(forecast_snapshot).where(forecast_snapshot.c.run_id == "run-2"))
            .mappings()
            .one()
        )
    assert failed["status"] == "failed"
    assert failed["finished_at"] is not None
    assert snapshot.snapshot_rows(state_engine, failed["id"], "client") == []
    assert snapshot.latest_snapshot(state_engine) == good
    assert stored_rows(state_engine) == 2 + 1  # the good snapshot's clients and profile only


def test_a_row_that_cannot_be_stored_fails_the_whole_snapshot(state_engine):
    twice = [person(1, "Ann", "Lee", "ann@example.com"), person(1, "Ann", "Lee", "ann@example.com")]
    with pytest.raises(IntegrityError):
        snapshot.take_snapshot(ListedTarget(clients=clients(3), people=twice), state_engine, run_id=None)
    assert snapshot.latest_snapshot(state_engine) is None
    assert stored_rows(state_engine) == 0


def test_latest_snapshot_is_none_before_the_first(state_engine):
    assert snapshot.latest_snapshot(state_engine) is None


def test_prune_keeps_the_newest_complete_snapshots_and_recent_failures(state_engine):
    def failed_snapshot() -> int:
        with pytest.raises(ConnectionError):
            snapshot.take_snapshot(BrokenPeople(), state_engine, run_id="failing")
        with state_engine.connect() as connection:
            return connection.execute(
                select(func.max(forecast_snapshot.c.id)).where(forecast_snapshot.c.status == "failed")
            ).scalar_one()

    failed_snapshot()
    complete = [
        snapshot.take_snapshot(ListedTarget(clients=clients(2)), state_engine, run_id=None) for _ in range(4)
    ]
    recent_failure = failed_snapshot()
    with state_engine.begin() as connection:
        running = connection.execute(
            forecast_snapshot.insert()
            .values(
                started_at=datetime.now(UTC),
                status="running",
                target="another run",
                client_count=0,
                department_count=0,
                person_count=0,
            )
            .returning(forecast_snapshot.c.id)
        ).scalar_one()

    assert snapshot.prune_snapshots(state_engine, keep=2) == 3  # two complete and the old failure

    with state_engine.connect() as connection:
        left = connection.execute(
            select(forecast_snapshot.c.id, forecast_snapshot.c.status).order_by(forecast_snapshot.c.id)
        ).all()
    assert [tuple(r) for r in left] == [
        (complete[2].id, "complete"),
        (complete[3].id, "complete"),
        (recent_failure, "failed"),
        (running, "running"),
    ]
    assert snapshot.snapshot_rows(state_engine, complete[0].id, "client") == []
    assert len(snapshot.snapshot_rows(state_engine, complete[2].id, "client")) == 2
    assert stored_rows(state_engine) == 2 * (2 + 1)
    assert snapshot.latest_snapshot(state_engine) == complete[3]
    assert snapshot.prune_snapshots(state_engine, keep=2) == 0


def test_prune_without_complete_snapshots_deletes_nothing(state_engine):
    with pytest.raises(ConnectionError):
        snapshot.take_snapshot(BrokenPeople(), state_engine, run_id=None)
    assert snapshot.prune_snapshots(state_engine, keep=1) == 0


def test_prune_must_keep_one(state_engine):
    with pytest.raises(ValueError, match="must keep at least one snapshot, got 0"):
        snapshot.prune_snapshots(state_engine, keep=0)


def test_snapshot_rows_of_an_unknown_entity_is_refused(state_engine):
    with pytest.raises(ValueError, match="unknown entity 'customer'"):
        snapshot.snapshot_rows(state_engine, 1, "customer")
