"""The state database's tables as they are now: the shape the code reads and writes.

The migrations under `include/migrations/versions/` are the history that builds this shape on an empty or
older database; `tests/intacct/state/test_migrations.py` fails when the two drift apart.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects import sqlite

from intacct.objects import OBJECTS, ObjectSpec

metadata = MetaData()


class _SqliteDateTime(sqlite.DATETIME):
    """SQLite's DATETIME, writing its text with `isoformat` (in C): the very text SQLAlchemy's default
    storage format gives ("2026-11-25 10:00:00.000000"), at a fraction of the cost for staging's
    timestamps. Reading is SQLAlchemy's own."""

    def bind_processor(self, dialect):
        def process(value: datetime | None) -> str | None:
            return None if value is None else value.isoformat(" ", "microseconds")

        return process


class UtcDateTime(TypeDecorator):
    """Timezone-aware timestamps on every backend.

    PostgreSQL keeps the offset natively; SQLite has no such type, so values are stored as UTC and given
    back with UTC attached. Naive datetimes are refused: a timestamp without a zone is a bug waiting.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteDateTime())
        return dialect.type_descriptor(self.impl)

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
    Column("status", String(10), nullable=False, default="running"),  # running | complete | failed
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

# What each run sent to Forecast's REST API (reads and writes apart); the SQL target makes no calls.
forecast_api_usage = Table(
    "forecast_api_usage",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(250), nullable=False),
    Column("method", String(10), nullable=False),
    Column("resource", String(100), nullable=False),  # e.g. v1/clients, v2/persons/{id}
    Column("calls", BigInteger, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index("ix_forecast_api_usage_run", "run_id"),
)

# What each DAG run did, in numbers and in words; the Markdown is what the task log prints. One per run:
# the unique key lets the run's tasks, finishing at once, create it exactly once (`intacct.report`).
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
    UniqueConstraint("dag_id", "run_id", name="uq_run_report_dag_run"),
)


_COLUMN_TYPES = {"text": Text, "int": BigInteger, "bool": Boolean, "timestamp": UtcDateTime, "date": Date}


def _staging_table(spec: ObjectSpec) -> Table:
    """One row per Intacct record per batch; the columns come from the object's spec."""
    key = spec.key_column
    return Table(
        spec.staging_table,
        metadata,
        Column("batch_id", Integer, ForeignKey("intacct_batch.id", ondelete="CASCADE"), nullable=False),
        *(Column(f.column, _COLUMN_TYPES[f.kind], nullable=f.column != "recordno") for f in spec.fields),
        *(Column(name, Text) for name in spec.derived),
        PrimaryKeyConstraint("batch_id", "recordno", name=f"pk_{spec.staging_table}"),
        # Read by business key (a targeted import or link); never by match key: the plan copies a batch.
        Index(f"ix_{spec.staging_table}_key", "batch_id", key),
    )


staging_tables: dict[str, Table] = {name: _staging_table(spec) for name, spec in OBJECTS.items()}


# The Forecast ↔ Intacct mappings: one-to-one both ways, enforced by the database, not by hope.
intacct_link = Table(
    "intacct_link",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entity_type", String(20), nullable=False),  # client | department | person
    Column("forecast_id", BigInteger, nullable=False),
    Column("intacct_key", String(250), nullable=False),  # CUSTOMERID | DEPARTMENTID | LOGINID
    Column("intacct_recordno", BigInteger),
    Column("origin", String(10), nullable=False),  # import | link
    Column("linked_at", UtcDateTime, nullable=False),
    Column("linked_by", String(250)),
    Column("run_id", String(250)),
    # What the department sync learned since: the Intacct record went inactive or was deleted (the link is
    # kept, per policy), and the parent it was last seen under.
    Column("source_state", String(10)),  # None | inactive | deleted
    Column("intacct_parent", String(250)),
    # People imported or re-assigned with assign_departments follow their Intacct department in the sync.
    Column("follows_department", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("entity_type", "forecast_id", name="uq_intacct_link_forecast"),
    UniqueConstraint("entity_type", "intacct_key", name="uq_intacct_link_intacct"),
)

# Append-only history of every import, link, unlink and update, with the values before and after.
intacct_audit = Table(
    "intacct_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(250)),
    Column("run_id", String(250)),
    Column("action", String(20), nullable=False),
    Column("entity_type", String(20), nullable=False),
    Column("forecast_id", BigInteger),
    Column("intacct_key", String(250)),
    Column("before_json", Text),
    Column("after_json", Text),
    Index("ix_intacct_audit_entity", "entity_type", "intacct_key"),
)

# One diff of an Intacct batch against a Forecast snapshot and the links.
intacct_plan = Table(
    "intacct_plan",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entity_type", String(20), nullable=False),
    Column("run_id", String(250)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("intacct_batch_id", Integer, ForeignKey("intacct_batch.id", ondelete="SET NULL")),
    Column("batch_kind", String(12), nullable=False),
    Column("forecast_snapshot_id", Integer),
)

intacct_plan_row = Table(
    "intacct_plan_row",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan_id", Integer, ForeignKey("intacct_plan.id", ondelete="CASCADE"), nullable=False),
    Column("intacct_key", String(250)),
    Column("intacct_recordno", BigInteger),
    Column("forecast_id", BigInteger),
    Column("action", String(20), nullable=False),
    Column("reason", Text),
    Column("confidence", Float),
    Column("changed_fields", Text),  # comma-separated Forecast field names
    Index("ix_intacct_plan_row_action", "plan_id", "action"),
    Index("ix_intacct_plan_row_key", "plan_id", "intacct_key"),
)

# Scratch inputs of one plan: each entity's Intacct and Forecast rows projected onto the same columns
# (match keys key1/key2, compared values v1..v6), so one decision SQL serves every entity type.
intacct_plan_source = Table(
    "intacct_plan_source",
    metadata,
    Column("plan_id", Integer, nullable=False),
    Column("intacct_key", String(250), nullable=False),
    Column("recordno", BigInteger),
    Column("inactive_reason", Text),
    Column("problem", Text),
    Column("key1", Text),
    Column("key2", Text),
    *(Column(f"v{n}", Text) for n in range(1, 7)),
    PrimaryKeyConstraint("plan_id", "intacct_key", name="pk_intacct_plan_source"),
    Index("ix_intacct_plan_source_key1", "plan_id", "key1"),
    Index("ix_intacct_plan_source_key2", "plan_id", "key2"),
)

intacct_plan_target = Table(
    "intacct_plan_target",
    metadata,
    Column("plan_id", Integer, nullable=False),
    Column("forecast_id", BigInteger, nullable=False),
    Column("key1", Text),
    Column("key2", Text),
    *(Column(f"v{n}", Text) for n in range(1, 7)),
    PrimaryKeyConstraint("plan_id", "forecast_id", name="pk_intacct_plan_target"),
    Index("ix_intacct_plan_target_key1", "plan_id", "key1"),
    Index("ix_intacct_plan_target_key2", "plan_id", "key2"),
)


# One copy of Forecast's clients, departments, people and profiles, read through the ForecastTarget (never
# through SQL on Forecast's side); its rows count only once `status` is complete.
forecast_snapshot = Table(
    "forecast_snapshot",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("status", String(10), nullable=False, default="running"),  # running | complete | failed
    Column("run_id", String(250)),
    Column("target", Text, nullable=False),  # ForecastTarget.describe(): which Forecast, no credentials
    Column("client_count", Integer, nullable=False, default=0),
    Column("department_count", Integer, nullable=False, default=0),
    Column("person_count", Integer, nullable=False, default=0),
)


def _snapshot_id() -> Column:
    return Column(
        "snapshot_id", Integer, ForeignKey("forecast_snapshot.id", ondelete="CASCADE"), nullable=False
    )


# The stg_forecast_* rows carry their match keys (intacct.matching), computed once when snapshotted.
stg_forecast_client = Table(
    "stg_forecast_client",
    metadata,
    _snapshot_id(),
    Column("forecast_id", BigInteger, nullable=False),
    Column("name", Text),
    Column("street", Text),
    Column("zip", Text),
    Column("city", Text),
    Column("country", Text),
    Column("vat_number", Text),
    Column("notes", Text),
    Column("name_key", Text),
    PrimaryKeyConstraint("snapshot_id", "forecast_id", name="pk_stg_forecast_client"),
    Index("ix_stg_forecast_client_name_key", "snapshot_id", "name_key"),
)

stg_forecast_department = Table(
    "stg_forecast_department",
    metadata,
    _snapshot_id(),
    Column("forecast_id", BigInteger, nullable=False),
    Column("name", Text),
    Column("name_key", Text),
    PrimaryKeyConstraint("snapshot_id", "forecast_id", name="pk_stg_forecast_department"),
    Index("ix_stg_forecast_department_name_key", "snapshot_id", "name_key"),
)

stg_forecast_person = Table(
    "stg_forecast_person",
    metadata,
    _snapshot_id(),
    Column("forecast_id", BigInteger, nullable=False),
    Column("first_name", Text),
    Column("last_name", Text),
    Column("email", Text),
    Column("email_key", Text),
    Column("name_key", Text),
    Column("profile_id", BigInteger),
    Column("department_id", BigInteger),
    Column("active", Boolean),
    PrimaryKeyConstraint("snapshot_id", "forecast_id", name="pk_stg_forecast_person"),
    Index("ix_stg_forecast_person_email_key", "snapshot_id", "email_key"),
    Index("ix_stg_forecast_person_name_key", "snapshot_id", "name_key"),
)

stg_forecast_profile = Table(
    "stg_forecast_profile",
    metadata,
    _snapshot_id(),
    Column("forecast_id", BigInteger, nullable=False),
    Column("name", Text),
    PrimaryKeyConstraint("snapshot_id", "forecast_id", name="pk_stg_forecast_profile"),
)

forecast_snapshot_tables: dict[str, Table] = {
    "client": stg_forecast_client,
    "department": stg_forecast_department,
    "person": stg_forecast_person,
    "profile": stg_forecast_profile,
}

# An import's promise, written before it touches Forecast: if the run dies between the Forecast write and
# the link write, the next apply finds the record it created (newer than `forecast_id_floor`, same
# values) and links it instead of creating it again.
intacct_import_intent = Table(
    "intacct_import_intent",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entity_type", String(20), nullable=False),
    Column("intacct_key", String(250), nullable=False),
    Column("intacct_recordno", BigInteger),
    Column("run_id", String(250)),
    Column("payload_json", Text, nullable=False),
    Column("forecast_id_floor", BigInteger, nullable=False),  # highest Forecast id seen before the write
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("entity_type", "intacct_key", name="uq_intacct_import_intent"),
)

# One apply at a time per entity type (`intacct.locks`): a racing second run waits, then finds everything
# linked. The holder renews its lease while it works; a waiter on its host can also tell its process is gone.
intacct_apply_lock = Table(
    "intacct_apply_lock",
    metadata,
    Column("entity_type", String(20), primary_key=True),
    Column("owner", String(250)),
    Column("heartbeat_at", UtcDateTime),  # the holder's last renewal
    Column("lease_until", UtcDateTime),  # taken over after this unless renewed
    Column("host", String(255)),
    Column("pid", Integer),
    Column("pid_space", String(100)),  # boot id and pid namespace: where `pid` names the holder
    Column("process_started", String(40)),  # the holder's start: tells a reused pid apart
)


# Where each sync stands: the watermark of its last successful run (never advanced by a failed one), when
# it last compared the full list of Intacct records, and the API user's time zone it last read.
intacct_sync_state = Table(
    "intacct_sync_state",
    metadata,
    Column("name", String(50), primary_key=True),  # e.g. department
    Column("watermark", UtcDateTime),
    Column("full_compare_at", UtcDateTime),
    Column("time_zone", String(10)),  # +HH:MM
    Column("run_id", String(250)),
    Column("updated_at", UtcDateTime, nullable=False),
)
