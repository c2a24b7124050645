"""Forecast API usage: what each run sent to Forecast's REST API, per method and resource.

Forecast bills no calls, but its fair-use policy bounds them; the report states each run's count, reads
and writes apart, beside Intacct's.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forecast_api_usage",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("method", sa.String(10), nullable=False),
        sa.Column("resource", sa.String(100), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_forecast_api_usage_run", "forecast_api_usage", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_forecast_api_usage_run", table_name="forecast_api_usage")
    op.drop_table("forecast_api_usage")
