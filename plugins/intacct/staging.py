"""Staging batches in the state database: one extraction of one Intacct object, visible only when complete.

A batch is `running` while its pages stream in, `complete` once every page landed, and `failed` (its
rows removed) when the extraction stopped half-way; readers only ever see complete batches. Old batches
are pruned by a retention count per object and kind.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import cache
from typing import TypeVar

from sqlalchemy import Column, Connection, Dialect, Engine, Table, and_, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from intacct.objects import ObjectSpec
from intacct.state.schema import intacct_batch, staging_tables

BATCH_KINDS = ("full", "incremental", "targeted")
T = TypeVar("T")
# Values per SQL IN list: well inside SQLite's and PostgreSQL's limits on bound parameters.
IN_CHUNK = 1000


def chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """`values` in consecutive lists of at most `size`, for IN filters."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


@dataclass(frozen=True)
class Batch:
    id: int
    object: str
    kind: str
    status: str
    run_id: str | None
    started_at: datetime
    finished_at: datetime | None
    row_count: int
    api_calls: int
    watermark: datetime | None


def begin_batch(engine: Engine, spec: ObjectSpec, kind: str, run_id: str | None) -> int:
    """Open a batch for `spec`; its rows stay invisible until `complete_batch`."""
    if kind not in BATCH_KINDS:
        raise ValueError(f"unknown batch kind {kind!r}: expected one of {', '.join(BATCH_KINDS)}")
    with engine.begin() as connection:
        return connection.execute(
            insert(intacct_batch)
            .values(
                object=spec.name,
                kind=kind,
                run_id=run_id,
                status="running",
                started_at=datetime.now(UTC),
                row_count=0,
                api_calls=0,
            )
            .returning(intacct_batch.c.id)
        ).scalar_one()


def store_page(
    engine: Engine, spec: ObjectSpec, batch_id: int, records: Sequence[Sequence[str | None]], tz: tzinfo
) -> int:
    """Convert the records of one `query` page (values in `spec.select` order) and add them to a batch."""
    return insert_columns(engine, spec, batch_id, spec.to_columns(records, tz))


def insert_rows(engine: Engine, spec: ObjectSpec, batch_id: int, rows: Iterable[Mapping[str, object]]) -> int:
    """Add converted records to a running batch, in one transaction; missing columns are NULL."""
    rows = list(rows)
    columns = {column: [row.get(column) for row in rows] for column in spec.columns}
    return insert_columns(engine, spec, batch_id, columns)


def insert_columns(engine: Engine, spec: ObjectSpec, batch_id: int, columns: Mapping[str, Sequence]) -> int:
    """Add one page to a running batch, in one transaction: `columns` holds each staging column's values,
    one per record (a column it lacks is NULL). Returns the number of records.

    Values go through each column type's own bind processing (so they are stored exactly as SQLAlchemy
    stores them), one column at a time, then in one `executemany` (SQLite) or one COPY (PostgreSQL with
    psycopg 3):
    building a parameter dict per row would cost more than the database's own work.
    """
    count = len(next(iter(columns.values()), ()))
    if not count:
        return 0
    table = staging_tables[spec.name]
    values: list[Sequence[object]] = []
    for column, process in _bind_processors(table, engine.dialect):
        given = [batch_id] * count if column.name == "batch_id" else columns.get(column.name, [None] * count)
        if len(given) != count:
            raise ValueError(f"column {column.name} has {len(given)} values for {count} records")
        values.append([process(value) for value in given] if process else given)
    parameters = list(zip(*values, strict=True))
    with engine.begin() as connection:
        if connection.dialect.driver == "psycopg":  # psycopg 3: PostgreSQL's COPY
            _copy_rows(connection, table, parameters)
        else:
            connection.exec_driver_sql(_insert_sql(table, connection.dialect), parameters)
    return count


@cache
def _bind_processors(table: Table, dialect: Dialect) -> list[tuple[Column, Callable | None]]:
    # What SQLAlchemy itself applies: the bind processing of each type's implementation for this dialect.
    return [(column, column.type.dialect_impl(dialect).bind_processor(dialect)) for column in table.c]


def _target(table: Table, dialect: Dialect) -> str:
    """`table (column, ...)`, quoted for `dialect`."""
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(column.name) for column in table.c)
    return f"{dialect.identifier_preparer.format_table(table)} ({names})"


@cache
def _insert_sql(table: Table, dialect: Dialect) -> str:
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    return f"INSERT INTO {_target(table, dialect)} VALUES ({', '.join(marker for _ in table.c)})"


def _copy_rows(connection: Connection, table: Table, parameters: list[tuple]) -> None:
    """PostgreSQL's bulk load, inside the connection's transaction (psycopg adapts the values)."""
    statement = f"COPY {_target(table, connection.dialect)} FROM STDIN"
    dbapi_error = connection.dialect.loaded_dbapi.Error
    dbapi_connection = connection.connection
    try:
        with dbapi_connection.driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in parameters:
                copy.write_row(row)
    except dbapi_error as error:  # raised as SQLAlchemy raises it for a statement (IntegrityError, ...)
        lost = connection.dialect.is_disconnect(error, dbapi_connection, None)
        if lost:
            connection.invalidate(error)  # the pool must not hand this connection out again
        raise DBAPIError.instance(statement, None, error, dbapi_error, connection_invalidated=lost) from error


def complete_batch(
    engine: Engine, spec: ObjectSpec, batch_id: int, *, api_calls: int, watermark: datetime | None
):
    """Make a batch visible, recording its size, cost and watermark."""
    table = staging_tables[spec.name]
    with engine.begin() as connection:
        rows = connection.execute(select(func.count()).where(table.c.batch_id == batch_id)).scalar_one()
        connection.execute(
            update(intacct_batch)
            .where(intacct_batch.c.id == batch_id)
            .values(
                status="complete",
                finished_at=datetime.now(UTC),
                row_count=rows,
                api_calls=api_calls,
                watermark=watermark,
            )
        )
    return rows


def fail_batch(engine: Engine, spec: ObjectSpec, batch_id: int, *, api_calls: int) -> None:
    """Mark a batch failed and drop its partial rows: a half extraction must never be read as a whole."""
    with engine.begin() as connection:
        connection.execute(
            delete(staging_tables[spec.name]).where(staging_tables[spec.name].c.batch_id == batch_id)
        )
        connection.execute(
            update(intacct_batch)
            .where(intacct_batch.c.id == batch_id)
            .values(status="failed", finished_at=datetime.now(UTC), api_calls=api_calls)
        )


def get_batch(engine: Engine, batch_id: int) -> Batch:
    with engine.connect() as connection:
        row = connection.execute(select(intacct_batch).where(intacct_batch.c.id == batch_id)).mappings().one()
    return Batch(**{k: row[k] for k in Batch.__dataclass_fields__})


def latest_batch(engine: Engine, object_name: str, kinds: Iterable[str] = BATCH_KINDS) -> Batch | None:
    """The newest complete batch of an object among `kinds`, or None."""
    with engine.connect() as connection:
        row = (
            connection.execute(
                select(intacct_batch)
                .where(
                    and_(
                        intacct_batch.c.object == object_name,
                        intacct_batch.c.status == "complete",
                        intacct_batch.c.kind.in_(list(kinds)),
                    )
                )
                .order_by(intacct_batch.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    return Batch(**{k: row[k] for k in Batch.__dataclass_fields__}) if row else None


def rows_by_key(engine: Engine, spec: ObjectSpec, batch_id: int, keys: Sequence[str]) -> dict[str, dict]:
    """The rows of one batch whose business key is in `keys`, by key, without the Intacct timestamps
    (converting those is most of the cost of reading rows, and importing does not need them)."""
    table = staging_tables[spec.name]
    key_column = table.c[spec.key_column]
    columns = [c for c in table.c if c.name not in ("when_created", "when_modified")]
    found: dict[str, dict] = {}
    with engine.connect() as connection:
        for chunk in chunks(keys):
            query = select(*columns).where(table.c.batch_id == batch_id, key_column.in_(chunk))
            for row in connection.execute(query).mappings():
                found[row[spec.key_column]] = dict(row)
    return found


def batch_rows(engine: Engine, spec: ObjectSpec, batch_id: int) -> list[dict[str, object]]:
    """All rows of one batch, ordered by RECORDNO (for reports and tests; the plan reads them in SQL)."""
    table = staging_tables[spec.name]
    with engine.connect() as connection:
        result = connection.execute(
            select(table).where(table.c.batch_id == batch_id).order_by(table.c.recordno)
        )
        return [dict(row) for row in result.mappings()]


def prune_batches(engine: Engine, object_name: str, *, keep: int, protected: Collection[int] = ()) -> int:
    """Keep the newest `keep` complete batches of each kind of an object; returns how many batches went.

    Older complete batches go, and so do failed batches older than the oldest one kept. Running batches
    are never touched (another run may be filling them), nor are `protected` ones (a recent plan's).
    """
    if keep < 1:
        raise ValueError(f"retention must keep at least one batch, got {keep}")
    removed = 0
    with engine.begin() as connection:
        for kind in BATCH_KINDS:
            of_kind = and_(intacct_batch.c.object == object_name, intacct_batch.c.kind == kind)
            kept = (
                connection.execute(
                    select(intacct_batch.c.id)
                    .where(of_kind, intacct_batch.c.status == "complete")
                    .order_by(intacct_batch.c.id.desc())
                    .limit(keep)
                )
                .scalars()
                .all()
            )
            if not kept:
                continue
            ids = (
                connection.execute(
                    select(intacct_batch.c.id).where(
                        of_kind,
                        intacct_batch.c.status != "running",
                        intacct_batch.c.id < min(kept),
                        intacct_batch.c.id.not_in(list(protected)),
                    )
                )
                .scalars()
                .all()
            )
            if ids:
                # Explicit child deletes: SQLite only cascades when foreign keys are on for the connection.
                for table in staging_tables.values():
                    connection.execute(delete(table).where(table.c.batch_id.in_(ids)))
                connection.execute(delete(intacct_batch).where(intacct_batch.c.id.in_(ids)))
                removed += len(ids)
    return removed
