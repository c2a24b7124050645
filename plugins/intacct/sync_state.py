"""Where each sync stands, kept in the state database between runs (`intacct_sync_state`).

The watermark is the newest Intacct timestamp a successful run has seen: a failed run never moves it, so
the next run reads again from where the last good one stopped and loses no change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select, update

from intacct.state.schema import intacct_sync_state


@dataclass(frozen=True)
class SyncState:
    name: str
    watermark: datetime | None
    full_compare_at: datetime | None
    time_zone: str | None  # the API user's GMT offset, "+HH:MM"
    run_id: str | None


def load(engine: Engine, name: str) -> SyncState | None:
    with engine.connect() as connection:
        row = (
            connection.execute(select(intacct_sync_state).where(intacct_sync_state.c.name == name))
            .mappings()
            .first()
        )
    if row is None:
        return None
    return SyncState(row["name"], row["watermark"], row["full_compare_at"], row["time_zone"], row["run_id"])


def save(
    engine: Engine,
    name: str,
    *,
    watermark: datetime | None,
    time_zone: str | None,
    run_id: str | None,
    full_compare_at: datetime | None = None,
) -> None:
    """Record a successful run: its watermark, zone, and (when it compared everything) when it did."""
    values = {
        "watermark": watermark,
        "time_zone": time_zone,
        "run_id": run_id,
        "updated_at": datetime.now(UTC),
    }
    if full_compare_at is not None:
        values["full_compare_at"] = full_compare_at
    with engine.begin() as connection:
        changed = connection.execute(
            update(intacct_sync_state).where(intacct_sync_state.c.name == name).values(**values)
        ).rowcount
        if not changed:
            connection.execute(insert(intacct_sync_state).values(name=name, **values))
