"""The state database's tables as they are now: the shape the code reads and writes.

The migrations under `include/migrations/versions/` are the history that builds this shape on an empty or
older database; `tests/intacct/test_migrations.py` fails when the two drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

metadata = MetaData()


class UtcDateTime(TypeDecorator):
    """Timezone-aware timestamps on every backend.

    PostgreSQL keeps the offset natively; SQLite has no such type, so values are stored as UTC and given
    back with UTC attached. Naive datetimes are refused: a timestamp without a zone is a bug waiting.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give it a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# One extraction of one Intacct object; its rows become visible only once `finished_at` is set.
intacct_batch = Table(
    "intacct_batch",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("object", String(40), nullable=False),
    Column("kind", String(12), nullable=False),  # full | incremental | targeted
    Column("run_id", String(250)),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("row_count", Integer, nullable=False, default=0),
    Column("api_calls", Integer, nullable=False, default=0),
    Column("watermark", UtcDateTime),  # newest Intacct WHENMODIFIED seen, never the wall clock
    Index("ix_intacct_batch_object_finished", "object", "finished_at"),
)

# Every Intacct request our client sent, aggregated per run, month, function and object:
# customers pay per API transaction, so reports show what a run spent and the month so far.
intacct_api_usage = Table(
    "intacct_api_usage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(250), nullable=False),
    Column("month", String(7), nullable=False),  # YYYY-MM, UTC
    Column("function", String(60), nullable=False),
    Column("object", String(60), nullable=False),
    Column("calls", BigInteger, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index("ix_intacct_api_usage_month", "month"),
    Index("ix_intacct_api_usage_run", "run_id"),
)

# What each DAG run did, in numbers and in words; the Markdown is what the task log prints.
run_report = Table(
    "run_report",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dag_id", String(250), nullable=False),
    Column("run_id", String(250), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("status", String(20), nullable=False),
    Column("summary_json", Text, nullable=False),
    Column("markdown", Text, nullable=False),
    Index("ix_run_report_dag_run", "dag_id", "run_id"),
)
