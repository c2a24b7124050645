"""Core tables: extraction batches, Intacct API usage, run reports.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intacct_batch",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("object", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("run_id", sa.String(250)),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("api_calls", sa.Integer, nullable=False),
        sa.Column("watermark", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_intacct_batch_object_finished", "intacct_batch", ["object", "finished_at"])
    op.create_table(
        "intacct_api_usage",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("function", sa.String(60), nullable=False),
        sa.Column("object", sa.String(60), nullable=False),
        sa.Column("calls", sa.BigInteger, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_intacct_api_usage_month", "intacct_api_usage", ["month"])
    op.create_index("ix_intacct_api_usage_run", "intacct_api_usage", ["run_id"])
    op.create_table(
        "run_report",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dag_id", sa.String(250), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("summary_json", sa.Text, nullable=False),
        sa.Column("markdown", sa.Text, nullable=False),
    )
    op.create_index("ix_run_report_dag_run", "run_report", ["dag_id", "run_id"])


def downgrade() -> None:
    op.drop_table("run_report")
    op.drop_table("intacct_api_usage")
    op.drop_table("intacct_batch")
