"""Forecast snapshots: Forecast's clients, departments, people and profiles with their match keys.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
SNAPSHOT_TABLES = {
    "stg_forecast_client": (
        [
            ("name", sa.Text),
            ("street", sa.Text),
            ("zip", sa.Text),
            ("city", sa.Text),
            ("country", sa.Text),
            ("vat_number", sa.Text),
            ("notes", sa.Text),
            ("name_key", sa.Text),
        ],
        ["name_key"],
    ),
    "stg_forecast_department": ([("name", sa.Text), ("name_key", sa.Text)], ["name_key"]),
    "stg_forecast_person": (
        [
            ("first_name", sa.Text),
            ("last_name", sa.Text),
            ("email", sa.Text),
            ("email_key", sa.Text),
            ("name_key", sa.Text),
            ("profile_id", sa.BigInteger),
            ("department_id", sa.BigInteger),
            ("active", sa.Boolean),
        ],
        ["email_key", "name_key"],
    ),
    "stg_forecast_profile": ([("name", sa.Text)], []),
}


def upgrade() -> None:
    op.create_table(
        "forecast_snapshot",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("run_id", sa.String(250)),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("client_count", sa.Integer, nullable=False),
        sa.Column("department_count", sa.Integer, nullable=False),
        sa.Column("person_count", sa.Integer, nullable=False),
    )
    for table, (columns, keys) in SNAPSHOT_TABLES.items():
        op.create_table(
            table,
            sa.Column(
                "snapshot_id",
                sa.Integer,
                sa.ForeignKey("forecast_snapshot.id", ondelete="CASCADE"),
                nullable=False,
            ),
            sa.Column("forecast_id", sa.BigInteger, nullable=False),
            *(sa.Column(name, type_) for name, type_ in columns),
            sa.PrimaryKeyConstraint("snapshot_id", "forecast_id", name=f"pk_{table}"),
        )
        for key in keys:
            op.create_index(f"ix_{table}_{key}", table, ["snapshot_id", key])


def downgrade() -> None:
    for table in SNAPSHOT_TABLES:
        op.drop_table(table)
    op.drop_table("forecast_snapshot")
