"""Intacct staging: one table per extracted object, and a status on each batch.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
STAGING = {
    "stg_intacct_customer": (
        "customer_id",
        [
            ("recordno", sa.BigInteger),
            ("customer_id", sa.Text),
            ("name", sa.Text),
            ("status", sa.Text),
            ("parent_id", sa.Text),
            ("tax_id", sa.Text),
            ("email", sa.Text),
            ("phone", sa.Text),
            ("address1", sa.Text),
            ("address2", sa.Text),
            ("city", sa.Text),
            ("state", sa.Text),
            ("zip", sa.Text),
            ("country", sa.Text),
            ("country_code", sa.Text),
            ("entity_id", sa.Text),
            ("when_created", TS),
            ("when_modified", TS),
        ],
    ),
    "stg_intacct_department": (
        "department_id",
        [
            ("recordno", sa.BigInteger),
            ("department_id", sa.Text),
            ("title", sa.Text),
            ("parent_id", sa.Text),
            ("supervisor_id", sa.Text),
            ("status", sa.Text),
            ("when_created", TS),
            ("when_modified", TS),
        ],
    ),
    "stg_intacct_user": (
        "login_id",
        [
            ("recordno", sa.BigInteger),
            ("login_id", sa.Text),
            ("description", sa.Text),
            ("user_type", sa.Text),
            ("status", sa.Text),
            ("login_disabled", sa.Boolean),
            ("contact_name", sa.Text),
            ("first_name", sa.Text),
            ("last_name", sa.Text),
            ("email", sa.Text),
            ("when_created", TS),
            ("when_modified", TS),
        ],
    ),
    "stg_intacct_employee": (
        "employee_id",
        [
            ("recordno", sa.BigInteger),
            ("employee_id", sa.Text),
            ("department_id", sa.Text),
            ("location_id", sa.Text),
            ("status", sa.Text),
            ("contact_name", sa.Text),
            ("first_name", sa.Text),
            ("last_name", sa.Text),
            ("email", sa.Text),
            ("when_created", TS),
            ("when_modified", TS),
        ],
    ),
}


def upgrade() -> None:
    with op.batch_alter_table("intacct_batch") as batch:
        batch.add_column(sa.Column("status", sa.String(10), nullable=False, server_default="running"))
    op.execute(
        "UPDATE intacct_batch SET status = CASE WHEN finished_at IS NULL THEN 'failed' ELSE 'complete' END"
    )
    for table, (key, columns) in STAGING.items():
        op.create_table(
            table,
            sa.Column(
                "batch_id", sa.Integer, sa.ForeignKey("intacct_batch.id", ondelete="CASCADE"), nullable=False
            ),
            *(sa.Column(name, type_, nullable=name != "recordno") for name, type_ in columns),
            sa.PrimaryKeyConstraint("batch_id", "recordno", name=f"pk_{table}"),
        )
        op.create_index(f"ix_{table}_key", table, ["batch_id", key])


def downgrade() -> None:
    for table in STAGING:
        op.drop_table(table)
    with op.batch_alter_table("intacct_batch") as batch:
        batch.drop_column("status")
