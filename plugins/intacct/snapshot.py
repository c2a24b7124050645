"""Forecast snapshots: a copy of Forecast's clients, departments, people and profiles in the state database.

The plan compares Intacct's staging batches with Forecast in SQL; this module brings Forecast's side into
the same database (the `stg_forecast_*` tables), read through `ForecastTarget` only, so it works the same
whether Forecast is reached through SQL or its REST API. Match keys (`intacct.matching`) are computed here,
once, and stored with the rows.

Like a staging batch, a snapshot is `running` while its rows land, `complete` once all of them did, and
`failed` (its rows removed) otherwise; readers only ever see complete snapshots.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, update

from intacct import matching
from intacct.forecast.target import (
    ForecastClient,
    ForecastDepartment,
    ForecastPerson,
    ForecastTarget,
    Profile,
)
from intacct.state.schema import forecast_snapshot, forecast_snapshot_tables

CHUNK_ROWS = 1000


@dataclass(frozen=True)
class SnapshotResult:
    id: int
    status: str  # running | complete | failed
    run_id: str | None
    target: str
    started_at: datetime
    finished_at: datetime | None
    client_count: int
    department_count: int
    person_count: int


def take_snapshot(
    target: ForecastTarget, state_engine: Engine, *, run_id: str | None, chunk_rows: int = CHUNK_ROWS
) -> SnapshotResult:
    """Copy everything `target` lists into a new snapshot and return it, complete.

    On any error the snapshot is marked failed, its rows are removed and the error propagates: a half
    copy of Forecast must never be read as the whole of it.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    with state_engine.begin() as connection:
        snapshot_id = connection.execute(
            insert(forecast_snapshot)
            .values(
                started_at=datetime.now(UTC),
                status="running",
                run_id=run_id,
                target=target.describe(),
                client_count=0,
                department_count=0,
                person_count=0,
            )
            .returning(forecast_snapshot.c.id)
        ).scalar_one()
    try:
        expected = {
            "client": _insert(
                state_engine, "client", snapshot_id, map(_client_row, target.list_clients()), chunk_rows
            ),
            "department": _insert(
                state_engine,
                "department",
                snapshot_id,
                map(_department_row, target.list_departments()),
                chunk_rows,
            ),
            "person": _insert(
                state_engine, "person", snapshot_id, map(_person_row, target.list_people()), chunk_rows
            ),
            "profile": _insert(
                state_engine, "profile", snapshot_id, map(_profile_row, target.list_profiles()), chunk_rows
            ),
        }
        _complete(state_engine, snapshot_id, expected)
    except BaseException:
        _fail(state_engine, snapshot_id)
        raise
    return get_snapshot(state_engine, snapshot_id)


def get_snapshot(state_engine: Engine, snapshot_id: int) -> SnapshotResult:
    with state_engine.connect() as connection:
        row = (
            connection.execute(select(forecast_snapshot).where(forecast_snapshot.c.id == snapshot_id))
            .mappings()
            .one()
        )
    return _result(row)


def latest_snapshot(state_engine: Engine) -> SnapshotResult | None:
    """The newest complete snapshot, or None when there is none yet."""
    with state_engine.connect() as connection:
        row = (
            connection.execute(
                select(forecast_snapshot)
                .where(forecast_snapshot.c.status == "complete")
                .order_by(forecast_snapshot.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    return _result(row) if row else None


def snapshot_rows(state_engine: Engine, snapshot_id: int, entity: str) -> list[dict[str, Any]]:
    """All rows of one entity (client, department, person, profile) of a snapshot, by Forecast id.

    For reports and tests; the plan reads the tables in SQL.
    """
    if entity not in forecast_snapshot_tables:
        raise ValueError(f"unknown entity {entity!r}: expected one of {', '.join(forecast_snapshot_tables)}")
    table = forecast_snapshot_tables[entity]
    with state_engine.connect() as connection:
        result = connection.execute(
            select(table).where(table.c.snapshot_id == snapshot_id).order_by(table.c.forecast_id)
        )
        return [dict(row) for row in result.mappings()]


def prune_snapshots(state_engine: Engine, keep: int, *, protected: Collection[int] = ()) -> int:
    """Keep the newest `keep` complete snapshots; returns how many snapshots were deleted.

    Deleted: complete snapshots older than those kept, and failed ones older than the oldest kept (newer
    failures stay, as evidence of what went wrong since). Running snapshots are never touched: another run
    may be filling them; nor are `protected` ones (those a recent plan still works from).
    """
    if keep < 1:
        raise ValueError(f"retention must keep at least one snapshot, got {keep}")
    with state_engine.begin() as connection:
        kept = (
            connection.execute(
                select(forecast_snapshot.c.id)
                .where(forecast_snapshot.c.status == "complete")
                .order_by(forecast_snapshot.c.id.desc())
                .limit(keep)
            )
            .scalars()
            .all()
        )
        if not kept:
            return 0
        doomed = (
            connection.execute(
                select(forecast_snapshot.c.id).where(
                    forecast_snapshot.c.status.in_(["complete", "failed"]),
                    forecast_snapshot.c.id < min(kept),
                    forecast_snapshot.c.id.not_in(list(protected)),
                )
            )
            .scalars()
            .all()
        )
        if doomed:
            # Explicit child deletes: SQLite only cascades when foreign keys are on for the connection.
            for table in forecast_snapshot_tables.values():
                connection.execute(delete(table).where(table.c.snapshot_id.in_(doomed)))
            connection.execute(delete(forecast_snapshot).where(forecast_snapshot.c.id.in_(doomed)))
    return len(doomed)


def _insert(
    engine: Engine, entity: str, snapshot_id: int, rows: Iterable[dict[str, Any]], chunk_rows: int
) -> int:
    """Add rows to a running snapshot, one transaction per chunk (short write locks on SQLite)."""
    table = forecast_snapshot_tables[entity]
    count = 0
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append({**row, "snapshot_id": snapshot_id})
        if len(chunk) == chunk_rows:
            count += _write(engine, table, chunk)
            chunk = []
    if chunk:
        count += _write(engine, table, chunk)
    return count


def _write(engine: Engine, table, chunk: Sequence[Mapping[str, Any]]) -> int:
    with engine.begin() as connection:
        connection.execute(insert(table), list(chunk))
    return len(chunk)


def _complete(engine: Engine, snapshot_id: int, expected: Mapping[str, int]) -> None:
    with engine.begin() as connection:
        landed = {
            entity: connection.execute(
                select(func.count()).select_from(table).where(table.c.snapshot_id == snapshot_id)
            ).scalar_one()
            for entity, table in forecast_snapshot_tables.items()
        }
        if landed != dict(expected):
            raise RuntimeError(f"snapshot {snapshot_id}: rows listed {dict(expected)} but stored {landed}")
        connection.execute(
            update(forecast_snapshot)
            .where(forecast_snapshot.c.id == snapshot_id)
            .values(
                status="complete",
                finished_at=datetime.now(UTC),
                client_count=landed["client"],
                department_count=landed["department"],
                person_count=landed["person"],
            )
        )


def _fail(engine: Engine, snapshot_id: int) -> None:
    with engine.begin() as connection:
        for table in forecast_snapshot_tables.values():
            connection.execute(delete(table).where(table.c.snapshot_id == snapshot_id))
        connection.execute(
            update(forecast_snapshot)
            .where(forecast_snapshot.c.id == snapshot_id)
            .values(status="failed", finished_at=datetime.now(UTC))
        )


def _result(row: Mapping[str, Any]) -> SnapshotResult:
    return SnapshotResult(**{name: row[name] for name in SnapshotResult.__dataclass_fields__})


def _client_row(c: ForecastClient) -> dict[str, Any]:
    return {
        "forecast_id": c.id,
        "name": c.name,
        "street": c.street,
        "zip": c.zip,
        "city": c.city,
        "country": c.country,
        "vat_number": c.vat_number,
        "notes": c.notes,
        "name_key": matching.client_name_key(c.name),
    }


def _department_row(d: ForecastDepartment) -> dict[str, Any]:
    return {"forecast_id": d.id, "name": d.name, "name_key": matching.department_name_key(d.name)}


def _person_row(p: ForecastPerson) -> dict[str, Any]:
    return {
        "forecast_id": p.id,
        "first_name": p.first_name,
        "last_name": p.last_name,
        "email": p.email,
        "email_key": matching.email_key(p.email),
        "name_key": matching.person_name_key(p.first_name, p.last_name),
        "profile_id": p.profile_id,
        "department_id": p.department_id,
        "active": p.active,
    }


def _profile_row(p: Profile) -> dict[str, Any]:
    return {"forecast_id": p.id, "name": p.name}
