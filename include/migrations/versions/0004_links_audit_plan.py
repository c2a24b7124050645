"""Links, audit log, plans; match keys and mapped Forecast values on Intacct staging.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
DERIVED = {
    "stg_intacct_customer": (
        "name_key",
        "fc_name",
        "fc_street",
        "fc_zip",
        "fc_city",
        "fc_country",
        "fc_vat_number",
    ),
    "stg_intacct_department": ("name_key", "fc_name"),
    "stg_intacct_user": ("email_key", "name_key", "fc_first_name", "fc_last_name", "fc_email"),
    "stg_intacct_employee": ("email_key", "name_key"),
}


def upgrade() -> None:
    for table, columns in DERIVED.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.add_column(sa.Column(column, sa.Text))
        for column in columns:
            if column.endswith("_key"):
                op.create_index(f"ix_{table}_{column}", table, ["batch_id", column])

    op.create_table(
        "intacct_link",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entity_type", sa.String(20), nullable=False),
        sa.Column("forecast_id", sa.BigInteger, nullable=False),
        sa.Column("intacct_key", sa.String(250), nullable=False),
        sa.Column("intacct_recordno", sa.BigInteger),
        sa.Column("origin", sa.String(10), nullable=False),
        sa.Column("linked_at", TS, nullable=False),
        sa.Column("linked_by", sa.String(250)),
        sa.Column("run_id", sa.String(250)),
        sa.UniqueConstraint("entity_type", "forecast_id", name="uq_intacct_link_forecast"),
        sa.UniqueConstraint("entity_type", "intacct_key", name="uq_intacct_link_intacct"),
    )
    op.create_table(
        "intacct_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(250)),
        sa.Column("run_id", sa.String(250)),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("entity_type", sa.String(20), nullable=False),
        sa.Column("forecast_id", sa.BigInteger),
        sa.Column("intacct_key", sa.String(250)),
        sa.Column("before_json", sa.Text),
        sa.Column("after_json", sa.Text),
    )
    op.create_index("ix_intacct_audit_entity", "intacct_audit", ["entity_type", "intacct_key"])
    op.create_table(
        "intacct_plan",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entity_type", sa.String(20), nullable=False),
        sa.Column("run_id", sa.String(250)),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("intacct_batch_id", sa.Integer, sa.ForeignKey("intacct_batch.id", ondelete="SET NULL")),
        sa.Column("batch_kind", sa.String(12), nullable=False),
        sa.Column("forecast_snapshot_id", sa.Integer),
    )
    op.create_table(
        "intacct_plan_row",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "plan_id", sa.Integer, sa.ForeignKey("intacct_plan.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("intacct_key", sa.String(250)),
        sa.Column("intacct_recordno", sa.BigInteger),
        sa.Column("forecast_id", sa.BigInteger),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("confidence", sa.Float),
        sa.Column("changed_fields", sa.Text),
    )
    op.create_index("ix_intacct_plan_row_action", "intacct_plan_row", ["plan_id", "action"])
    op.create_index("ix_intacct_plan_row_key", "intacct_plan_row", ["plan_id", "intacct_key"])
    op.create_table(
        "intacct_plan_source",
        sa.Column("plan_id", sa.Integer, nullable=False),
        sa.Column("intacct_key", sa.String(250), nullable=False),
        sa.Column("recordno", sa.BigInteger),
        sa.Column("inactive_reason", sa.Text),
        sa.Column("problem", sa.Text),
        sa.Column("key1", sa.Text),
        sa.Column("key2", sa.Text),
        *(sa.Column(f"v{n}", sa.Text) for n in range(1, 7)),
        sa.PrimaryKeyConstraint("plan_id", "intacct_key", name="pk_intacct_plan_source"),
    )
    op.create_index("ix_intacct_plan_source_key1", "intacct_plan_source", ["plan_id", "key1"])
    op.create_index("ix_intacct_plan_source_key2", "intacct_plan_source", ["plan_id", "key2"])
    op.create_table(
        "intacct_plan_target",
        sa.Column("plan_id", sa.Integer, nullable=False),
        sa.Column("forecast_id", sa.BigInteger, nullable=False),
        sa.Column("key1", sa.Text),
        sa.Column("key2", sa.Text),
        *(sa.Column(f"v{n}", sa.Text) for n in range(1, 7)),
        sa.PrimaryKeyConstraint("plan_id", "forecast_id", name="pk_intacct_plan_target"),
    )
    op.create_index("ix_intacct_plan_target_key1", "intacct_plan_target", ["plan_id", "key1"])
    op.create_index("ix_intacct_plan_target_key2", "intacct_plan_target", ["plan_id", "key2"])


def downgrade() -> None:
    op.drop_table("intacct_plan_target")
    op.drop_table("intacct_plan_source")
    op.drop_table("intacct_plan_row")
    op.drop_table("intacct_plan")
    op.drop_table("intacct_audit")
    op.drop_table("intacct_link")
    for table, columns in DERIVED.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.drop_column(column)
