"""The SQL adapter: Forecast's clients, departments, people and permission profiles as database tables.

The tables follow Forecast's public API field names (see `intacct.forecast.target`). A real Forecast
database already has them; the embedded default and the tests create them with `ensure_forecast_schema`.
They live in their own `MetaData`, apart from the state database's: the two are different databases, and
the state database's migrations must never touch Forecast's tables.

Creating is batched: one call is one transaction, written as multi-row `INSERT ... RETURNING` statements
of up to `CHUNK_ROWS` rows each (SQLite >= 3.35 and PostgreSQL both return the new ids), so importing ten
thousand records costs ten statements and one commit rather than ten thousand of each. The new ids are
paired with the input records by value (`_in_input_order`), because neither backend promises the order
of RETURNING rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    select,
    text,
    update,
)

from intacct.forecast.target import (
    ALL_CAPABILITIES,
    CLIENT_FIELDS,
    DEFAULT_PROFILES,
    DEPARTMENT_FIELDS,
    PERSON_FIELDS,
    ForecastClient,
    ForecastDepartment,
    ForecastPerson,
    ForecastTarget,
    NewClient,
    NewDepartment,
    NewPerson,
    Profile,
    RecordNotFound,
    check_new_records,
    client_changes,
    department_changes,
    person_changes,
)
from intacct.state.schema import UtcDateTime

# Rows per INSERT statement: well under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters.
CHUNK_ROWS = 1000
# Any fixed number works: it only has to be the same for every process that seeds this database.
_PG_SCHEMA_LOCK = 74_617_002

metadata = MetaData()

profile = Table(
    "profile",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    UniqueConstraint("name", name="uq_profile_name"),
)

client = Table(
    "client",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),  # not unique: Forecast allows two clients of the same name
    Column("street", Text),
    Column("zip", Text),
    Column("city", Text),
    Column("country", String(2)),  # ISO 3166-1 alpha-2
    Column("vat_number", Text),
    Column("notes", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

department = Table(
    "department",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

person = Table(
    "person",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("first_name", Text),
    Column("last_name", Text),
    Column("email", Text),
    Column("profile_id", Integer, ForeignKey("profile.id"), nullable=False),
    Column("department_id", Integer, ForeignKey("department.id")),
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)


def ensure_forecast_schema(engine: Engine) -> None:
    """Create the Forecast tables that are missing, and the default profiles when there is no profile.

    Safe to call on every start and from several processes: existing tables and profiles are left as
    they are, and on PostgreSQL a lock makes concurrent callers take turns.
    """
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_SCHEMA_LOCK})
        metadata.create_all(connection)
        if connection.execute(select(profile.c.id).limit(1)).first() is None:
            connection.execute(insert(profile), [{"name": name} for name in DEFAULT_PROFILES])


Record = TypeVar("Record")


class SqlForecastTarget(ForecastTarget):
    """`ForecastTarget` over the tables above, in the database `engine` points at."""

    capabilities = ALL_CAPABILITIES

    def __init__(self, engine: Engine, *, chunk_rows: int = CHUNK_ROWS):
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
        self._engine = engine
        self._chunk_rows = chunk_rows

    def describe(self) -> str:
        url = self._engine.url
        if url.get_backend_name() == "sqlite":
            return f"Forecast SQL tables in SQLite file {url.database or ':memory:'}"
        where = f"{url.host or 'localhost'}:{url.port}" if url.port else (url.host or "localhost")
        return f"Forecast SQL tables in {url.get_backend_name()} database {url.database!r} on {where}"

    # --- clients

    def list_clients(self) -> list[ForecastClient]:
        return self._list(client, _client)

    def create_clients(self, new: Sequence[NewClient]) -> list[ForecastClient]:
        check_new_records(new, NewClient)
        with self._engine.begin() as connection:
            return [_client(row) for row in self._insert(connection, client, (vars(c) for c in new))]

    def update_client(self, client_id: int, **changes: Any) -> ForecastClient:
        values = client_changes(changes)
        with self._engine.begin() as connection:
            return _client(self._update(connection, client, "client", client_id, values))

    # --- departments

    def list_departments(self) -> list[ForecastDepartment]:
        return self._list(department, _department)

    def create_departments(self, new: Sequence[NewDepartment]) -> list[ForecastDepartment]:
        check_new_records(new, NewDepartment)
        with self._engine.begin() as connection:
            return [_department(row) for row in self._insert(connection, department, (vars(d) for d in new))]

    def update_department(self, department_id: int, **changes: Any) -> ForecastDepartment:
        values = department_changes(changes)
        with self._engine.begin() as connection:
            return _department(self._update(connection, department, "department", department_id, values))

    # --- people

    def list_people(self) -> list[ForecastPerson]:
        return self._list(person, _person)

    def create_people(self, new: Sequence[NewPerson]) -> list[ForecastPerson]:
        """Create team members; refused, with nothing written, when a profile or department is unknown."""
        check_new_records(new, NewPerson)
        with self._engine.begin() as connection:
            problems = [
                *_unknown_references(connection, profile, "profile_id", new),
                *_unknown_references(connection, department, "department_id", new),
            ]
            if problems:
                raise ValueError(f"create_people refused, nothing written: {'; '.join(problems)}")
            return [_person(row) for row in self._insert(connection, person, (vars(p) for p in new))]

    def update_person(self, person_id: int, **changes: Any) -> ForecastPerson:
        values = person_changes(changes)
        with self._engine.begin() as connection:
            problems = [
                f"unknown {field} {values[field]}"
                for field, table in (("profile_id", profile), ("department_id", department))
                if values.get(field) is not None and _missing_ids(connection, table, [values[field]])
            ]
            if problems:
                raise ValueError(f"update_person {person_id} refused: {'; '.join(problems)}")
            return _person(self._update(connection, person, "person", person_id, values))

    # --- profiles

    def list_profiles(self) -> list[Profile]:
        return self._list(profile, lambda row: Profile(id=row["id"], name=row["name"]))

    # --- shared

    def _list(self, table: Table, to_record: Callable[[Mapping[str, Any]], Record]) -> list[Record]:
        with self._engine.connect() as connection:
            return [
                to_record(row) for row in connection.execute(select(table).order_by(table.c.id)).mappings()
            ]

    def _insert(
        self, connection: Connection, table: Table, rows: Iterable[dict[str, Any]]
    ) -> list[Mapping[str, Any]]:
        records = list(rows)
        now = datetime.now(UTC)
        statement = insert(table).returning(*table.c)
        created: list[Mapping[str, Any]] = []
        for start in range(0, len(records), self._chunk_rows):
            chunk = records[start : start + self._chunk_rows]
            payload = [{**record, "created_at": now, "updated_at": now} for record in chunk]
            returned = connection.execute(statement, payload).mappings().all()
            created += _in_input_order(chunk, returned)
        return created

    def _update(
        self, connection: Connection, table: Table, entity: str, record_id: int, values: dict[str, Any]
    ) -> Mapping[str, Any]:
        if values:
            statement = (
                update(table)
                .where(table.c.id == record_id)
                .values(**values, updated_at=datetime.now(UTC))
                .returning(*table.c)
            )
        else:
            statement = select(table).where(table.c.id == record_id)
        row = connection.execute(statement).mappings().first()
        if row is None:
            raise RecordNotFound(entity, [record_id])
        return row


def _in_input_order(
    chunk: Sequence[Mapping[str, Any]], returned: Sequence[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The rows `INSERT ... RETURNING` gave back, reordered to match the records that were sent.

    The order of RETURNING rows is not guaranteed (SQLite documents it as arbitrary), and SQLAlchemy's
    guaranteed-order mode falls back to one statement per row on SQLite. So rows are paired with records
    by their values instead: records with identical values are interchangeable, and get ascending ids.
    """
    fields = list(chunk[0]) if chunk else []
    by_values: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for row in sorted(returned, key=lambda r: r["id"], reverse=True):
        by_values.setdefault(tuple(row[f] for f in fields), []).append(row)
    ordered = []
    for record in chunk:
        candidates = by_values.get(tuple(record[f] for f in fields))
        if not candidates:
            raise RuntimeError(f"the database gave back no row for inserted values {dict(record)!r}")
        ordered.append(candidates.pop())
    return ordered


def _missing_ids(connection: Connection, table: Table, ids: Iterable[int]) -> list[int]:
    """The ids among `ids` that `table` does not have, sorted."""
    wanted = set(ids)
    if not wanted:
        return []
    found = set(connection.execute(select(table.c.id).where(table.c.id.in_(sorted(wanted)))).scalars())
    return sorted(wanted - found)


def _unknown_references(
    connection: Connection, table: Table, field: str, new: Sequence[NewPerson]
) -> list[str]:
    """One message per id in `field` of `new` that `table` does not have, naming who referenced it."""
    referrers: dict[int, list[str]] = {}
    for item in new:
        value = getattr(item, field)
        if value is not None:
            referrers.setdefault(value, []).append(repr(item.email))
    messages = []
    for missing in _missing_ids(connection, table, referrers):
        who = referrers[missing]
        shown = ", ".join(who[:5]) + (f" and {len(who) - 5} more" if len(who) > 5 else "")
        messages.append(f"unknown {field} {missing} (for {shown})")
    return messages


def _client(row: Mapping[str, Any]) -> ForecastClient:
    return ForecastClient(id=row["id"], **{f: row[f] for f in CLIENT_FIELDS})


def _department(row: Mapping[str, Any]) -> ForecastDepartment:
    return ForecastDepartment(id=row["id"], **{f: row[f] for f in DEPARTMENT_FIELDS})


def _person(row: Mapping[str, Any]) -> ForecastPerson:
    return ForecastPerson(id=row["id"], **{f: row[f] for f in PERSON_FIELDS})
