"""Import intents (crash recovery) and the per-entity apply lock.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "intacct_import_intent",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entity_type", sa.String(20), nullable=False),
        sa.Column("intacct_key", sa.String(250), nullable=False),
        sa.Column("intacct_recordno", sa.BigInteger),
        sa.Column("run_id", sa.String(250)),
        sa.Column("payload_json", sa.Text, nullable=False),
        sa.Column("forecast_id_floor", sa.BigInteger, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("entity_type", "intacct_key", name="uq_intacct_import_intent"),
    )
    op.create_table(
        "intacct_apply_lock",
        sa.Column("entity_type", sa.String(20), primary_key=True),
        sa.Column("owner", sa.String(250)),
        sa.Column("heartbeat_at", TS),
    )


def downgrade() -> None:
    op.drop_table("intacct_apply_lock")
    op.drop_table("intacct_import_intent")
