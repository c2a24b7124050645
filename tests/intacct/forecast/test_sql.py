from __future__ import annotations

from dataclasses import FrozenInstanceError

import pytest
from sqlalchemy import event, insert, inspect, select
from sqlalchemy.exc import IntegrityError

from intacct.forecast import sql
from intacct.forecast.sql import DEFAULT_PROFILES, SqlForecastTarget, ensure_forecast_schema
from intacct.forecast.target import (
    ALL_CAPABILITIES,
    CREATE_DEPARTMENTS,
    UPDATE_DEPARTMENTS,
    ForecastClient,
    ForecastDepartment,
    ForecastPerson,
    ForecastTarget,
    NewClient,
    NewDepartment,
    NewPerson,
    RecordNotFound,
    UnsupportedOperation,
)
from intacct.state import db


@pytest.fixture
def forecast_engine(empty_database_url, make_engine):
    engine = make_engine(empty_database_url)
    ensure_forecast_schema(engine)
    return engine


@pytest.fixture
def target(forecast_engine):
    return SqlForecastTarget(forecast_engine)


def profile_id(target: SqlForecastTarget, name: str) -> int:
    return next(p.id for p in target.list_profiles() if p.name == name)


def count_inserts(engine, table: str) -> list[int]:
    """Start counting the INSERT statements into `table`; the list grows as they run."""
    seen: list[int] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} "):
            seen.append(1)

    event.listen(engine, "before_cursor_execute", before)
    return seen


# --- schema and profiles ---------------------------------------------------------------------------


def test_schema_has_the_four_tables_and_the_five_default_profiles(target, forecast_engine):
    assert {"client", "department", "person", "profile"} <= set(inspect(forecast_engine).get_table_names())
    assert [p.name for p in target.list_profiles()] == list(DEFAULT_PROFILES)
    assert DEFAULT_PROFILES == ("Admin", "Controller", "Manager", "Coordinator", "Collaborator")


def test_ensure_schema_twice_keeps_what_is_there(target, forecast_engine):
    [client] = target.create_clients([NewClient("Acme")])
    ensure_forecast_schema(forecast_engine)
    assert target.list_clients() == [client]
    assert [p.name for p in target.list_profiles()] == list(DEFAULT_PROFILES)


def test_ensure_schema_adds_no_defaults_when_a_profile_exists(empty_database_url, make_engine):
    engine = make_engine(empty_database_url)
    sql.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(sql.profile).values(name="Custom"))
    ensure_forecast_schema(engine)
    assert [p.name for p in SqlForecastTarget(engine).list_profiles()] == ["Custom"]


def test_forecast_tables_are_not_in_the_state_schema():
    from intacct.state import schema

    assert not {"client", "department", "person", "profile"} & set(schema.metadata.tables)


# --- clients ---------------------------------------------------------------------------------------


def test_create_clients_returns_them_in_input_order_with_every_field(target):
    new = [
        NewClient(
            "Zeta Ltd", street="1 High St", zip="N1 9GU", city="London", country="GB", vat_number="GB123"
        ),
        NewClient("Alpha GmbH", city="Berlin", country="DE", notes="Key account"),
        NewClient("株式会社トヨタ", country="JP"),
    ]
    created = target.create_clients(new)

    assert [c.name for c in created] == ["Zeta Ltd", "Alpha GmbH", "株式会社トヨタ"]
    assert created[0] == ForecastClient(
        id=created[0].id,
        name="Zeta Ltd",
        street="1 High St",
        zip="N1 9GU",
        city="London",
        country="GB",
        vat_number="GB123",
        notes=None,
    )
    assert created[0].id < created[1].id < created[2].id
    assert target.list_clients() == created


def test_create_clients_with_no_records_writes_nothing(target):
    assert target.create_clients([]) == []
    assert target.list_clients() == []


def test_client_names_need_not_be_unique(target):
    first, second = target.create_clients([NewClient("Acme"), NewClient("Acme")])
    assert first.id != second.id
    assert len(target.list_clients()) == 2


def test_create_is_batched_and_keeps_input_order(forecast_engine):
    target = SqlForecastTarget(forecast_engine)
    inserts = count_inserts(forecast_engine, "client")
    names = [f"Client {n:04d} {'x' * (n % 7)}" for n in range(2500)]
    names.reverse()  # input order unrelated to any sort order the database might fall into

    created = target.create_clients([NewClient(name) for name in names])

    assert len(inserts) == 3  # 1,000 + 1,000 + 500 rows: one statement per chunk, not per row
    assert [c.name for c in created] == names
    assert [c.id for c in created] == sorted(c.id for c in created)
    by_id = {c.id: c.name for c in target.list_clients()}
    assert all(by_id[c.id] == c.name for c in created)


def test_a_failing_chunk_leaves_nothing_written(forecast_engine):
    target = SqlForecastTarget(forecast_engine, chunk_rows=2)
    records = [NewClient(f"Client {n}") for n in range(5)]
    # A value the database refuses in the third chunk (validation would stop it earlier, so bypass it).
    object.__setattr__(records[4], "name", None)
    with pytest.raises(IntegrityError):
        target.create_clients(records)
    assert target.list_clients() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "client name must be a non-empty string, got ''"),
        ({"name": "   "}, "got '   '"),
        ({"name": None}, "got None"),
        ({"name": "Acme", "country": "us"}, "country 'us' is not an ISO 3166-1 alpha-2 code"),
        ({"name": "Acme", "country": "USA"}, "country 'USA'"),
        ({"name": "Acme", "country": ""}, "country ''"),
        ({"name": "Acme", "zip": 12345}, "client zip must be a string or None, got 12345"),
    ],
)
def test_new_client_refuses_bad_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NewClient(**kwargs)


def test_new_records_are_frozen():
    with pytest.raises(FrozenInstanceError):
        NewClient("Acme").name = "Other"


def test_update_client_changes_only_the_given_fields(target, forecast_engine):
    [client] = target.create_clients([NewClient("Acme", city="Oslo", country="NO", notes="keep me")])
    with forecast_engine.connect() as connection:
        before = connection.execute(select(sql.client.c.updated_at)).scalar_one()

    updated = target.update_client(client.id, name="Acme AS", street="Karl Johans gate 1", country=None)

    assert updated == ForecastClient(
        id=client.id,
        name="Acme AS",
        street="Karl Johans gate 1",
        zip=None,
        city="Oslo",
        country=None,
        vat_number=None,
        notes="keep me",
    )
    assert target.list_clients() == [updated]
    with forecast_engine.connect() as connection:
        assert connection.execute(select(sql.client.c.updated_at)).scalar_one() >= before


def test_update_client_refusals_change_nothing(target):
    [client] = target.create_clients([NewClient("Acme", country="NO")])
    with pytest.raises(ValueError, match=r"unknown client field\(s\) 'colour', 'vat'"):
        target.update_client(client.id, name="Changed", vat="X", colour="red")
    with pytest.raises(ValueError, match="country 'Norway'"):
        target.update_client(client.id, country="Norway")
    with pytest.raises(ValueError, match="client name must be a non-empty string"):
        target.update_client(client.id, name=" ")
    with pytest.raises(RecordNotFound, match="no Forecast client with id 999999") as missing:
        target.update_client(999999, name="Ghost")
    assert isinstance(missing.value, LookupError)
    assert (missing.value.entity, missing.value.ids) == ("client", (999999,))
    assert target.list_clients() == [client]


def test_update_client_without_changes_returns_the_client(target):
    [client] = target.create_clients([NewClient("Acme")])
    assert target.update_client(client.id) == client
    with pytest.raises(RecordNotFound):
        target.update_client(client.id + 1)


def test_create_refuses_the_wrong_record_type(target):
    with pytest.raises(TypeError, match="expected NewClient items, got dict"):
        target.create_clients([{"name": "Acme"}])


# --- departments -----------------------------------------------------------------------------------


def test_departments_create_list_update(target):
    created = target.create_departments(
        [NewDepartment("Sales"), NewDepartment("Engineering"), NewDepartment("Sales")]
    )
    assert [d.name for d in created] == ["Sales", "Engineering", "Sales"]
    assert target.list_departments() == created

    renamed = target.update_department(created[1].id, name="R&D")
    assert renamed == ForecastDepartment(id=created[1].id, name="R&D")
    assert [d.name for d in target.list_departments()] == ["Sales", "R&D", "Sales"]

    with pytest.raises(ValueError, match=r"unknown department field\(s\) 'title'"):
        target.update_department(created[0].id, title="X")
    with pytest.raises(RecordNotFound, match="no Forecast department with id 424242"):
        target.update_department(424242, name="X")
    with pytest.raises(ValueError, match="department name must be a non-empty string, got ''"):
        NewDepartment("")


# --- people ----------------------------------------------------------------------------------------


def test_people_create_in_input_order_and_list(target):
    [sales] = target.create_departments([NewDepartment("Sales")])
    admin, collaborator = profile_id(target, "Admin"), profile_id(target, "Collaborator")

    created = target.create_people(
        [
            NewPerson("Zoë", "Ündén", "zoe@example.com", collaborator, department_id=sales.id),
            NewPerson("Ann", None, "ann@example.com", admin),
            NewPerson(None, "Lee", "lee@example.com", collaborator, active=False),
        ]
    )

    assert [p.email for p in created] == ["zoe@example.com", "ann@example.com", "lee@example.com"]
    assert created[0] == ForecastPerson(
        id=created[0].id,
        first_name="Zoë",
        last_name="Ündén",
        email="zoe@example.com",
        profile_id=collaborator,
        department_id=sales.id,
        active=True,
    )
    assert (created[1].last_name, created[1].department_id, created[1].active) == (None, None, True)
    assert created[2].active is False
    assert target.list_people() == created


def test_create_people_refuses_unknown_references_and_writes_nothing(target):
    [sales] = target.create_departments([NewDepartment("Sales")])
    manager = profile_id(target, "Manager")
    batch = [
        NewPerson("Ann", "Lee", "ann@example.com", manager, department_id=sales.id),
        NewPerson("Bob", "Ray", "bob@example.com", 9999),
        NewPerson("Cy", "Fox", "cy@example.com", manager, department_id=8888),
        NewPerson("Di", "Moe", "di@example.com", 9999, department_id=8888),
    ]
    with pytest.raises(ValueError) as refused:
        target.create_people(batch)
    message = str(refused.value)
    assert "nothing written" in message
    assert "unknown profile_id 9999 (for 'bob@example.com', 'di@example.com')" in message
    assert "unknown department_id 8888 (for 'cy@example.com', 'di@example.com')" in message
    assert target.list_people() == []


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("Ann", "Lee", "ann.example.com", 1), {}, "email 'ann.example.com' is not one email address"),
        (("Ann", "Lee", " ann@example.com", 1), {}, "email ' ann@example.com'"),
        (("Ann", "Lee", "a@b@example.com", 1), {}, "email 'a@b@example.com'"),
        (("Ann", "Lee", None, 1), {}, "email None"),
        (("", " ", "ann@example.com", 1), {}, "first_name and last_name are both empty"),
        (("Ann", "Lee", "ann@example.com", "1"), {}, "profile_id must be an integer, got '1'"),
        (("Ann", "Lee", "ann@example.com", True), {}, "profile_id must be an integer, got True"),
        (
            ("Ann", "Lee", "ann@example.com", 1),
            {"department_id": "7"},
            "department_id must be an integer or None",
        ),
        (("Ann", "Lee", "ann@example.com", 1), {"active": "yes"}, "active must be true or false, got 'yes'"),
    ],
)
def test_new_person_refuses_bad_values(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        NewPerson(*args, **kwargs)


def test_update_person(target):
    [sales, ops] = target.create_departments([NewDepartment("Sales"), NewDepartment("Ops")])
    collaborator, manager = profile_id(target, "Collaborator"), profile_id(target, "Manager")
    [ann, bob] = target.create_people(
        [
            NewPerson("Ann", "Lee", "ann@example.com", collaborator, department_id=sales.id),
            NewPerson("Bob", "Ray", "bob@example.com", collaborator),
        ]
    )

    moved = target.update_person(ann.id, department_id=ops.id, profile_id=manager)
    assert (moved.department_id, moved.profile_id, moved.first_name, moved.email) == (
        ops.id,
        manager,
        "Ann",
        "ann@example.com",
    )
    unassigned = target.update_person(ann.id, department_id=None, active=False)
    assert (unassigned.department_id, unassigned.active, unassigned.profile_id) == (None, False, manager)
    assert target.list_people() == [unassigned, bob]


def test_update_person_refusals_change_nothing(target):
    collaborator = profile_id(target, "Collaborator")
    [ann] = target.create_people([NewPerson("Ann", "Lee", "ann@example.com", collaborator)])
    with pytest.raises(
        ValueError, match=r"update_person .* refused: unknown profile_id 777; unknown department_id 555"
    ):
        target.update_person(ann.id, profile_id=777, department_id=555)
    with pytest.raises(ValueError, match=r"unknown person field\(s\) 'profile'"):
        target.update_person(ann.id, profile="Admin")
    with pytest.raises(ValueError, match="profile_id must be an integer, got None"):
        target.update_person(ann.id, profile_id=None)
    with pytest.raises(RecordNotFound, match="no Forecast person with id 31337"):
        target.update_person(31337, active=False)
    assert target.list_people() == [ann]


# --- capabilities and description -------------------------------------------------------------------


class ReadOnlyDepartments(SqlForecastTarget):
    """Like the REST adapter will be: departments can be listed but not created or renamed."""

    capabilities = ALL_CAPABILITIES - {CREATE_DEPARTMENTS, UPDATE_DEPARTMENTS}


def test_capabilities_say_what_a_target_can_do(forecast_engine):
    full = SqlForecastTarget(forecast_engine)
    assert full.capabilities == ALL_CAPABILITIES
    assert {
        "create_departments",
        "update_departments",
        "create_clients",
        "create_people",
    } <= full.capabilities
    full.require(CREATE_DEPARTMENTS)

    limited = ReadOnlyDepartments(forecast_engine)
    assert not limited.supports(CREATE_DEPARTMENTS)
    assert limited.supports("create_clients")
    with pytest.raises(UnsupportedOperation, match="cannot create departments"):
        limited.require(CREATE_DEPARTMENTS)
    with pytest.raises(ValueError, match="unknown capability 'delete_clients'"):
        limited.require("delete_clients")


def test_forecast_target_is_abstract():
    with pytest.raises(TypeError):
        ForecastTarget()


def test_describe_never_shows_credentials(tmp_path):
    pg = db.open_engine("postgresql://forecast_user:s3cret-pw@db.internal:6543/forecast?sslmode=require")
    sqlite = db.open_engine(f"sqlite:///{tmp_path / 'forecast.db'}")
    try:
        described = SqlForecastTarget(pg).describe()
        assert described == "Forecast SQL tables in postgresql database 'forecast' on db.internal:6543"
        assert "s3cret" not in described and "forecast_user" not in described
        assert (
            SqlForecastTarget(sqlite).describe()
            == f"Forecast SQL tables in SQLite file {tmp_path / 'forecast.db'}"
        )
    finally:
        pg.dispose()
        sqlite.dispose()
