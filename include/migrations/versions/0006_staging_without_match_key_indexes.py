"""Drop the indexes on the match keys of Intacct staging rows.

No query reads staging by a match key (the plan copies a batch into `intacct_plan_source`, which has
its own), and every extraction paid for maintaining them on every inserted record.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MATCH_KEY_INDEXES = {
    "stg_intacct_customer": ("name_key",),
    "stg_intacct_department": ("name_key",),
    "stg_intacct_user": ("email_key", "name_key"),
    "stg_intacct_employee": ("email_key", "name_key"),
}


def upgrade() -> None:
    for table, columns in MATCH_KEY_INDEXES.items():
        for column in columns:
            op.drop_index(f"ix_{table}_{column}", table_name=table)


def downgrade() -> None:
    for table, columns in MATCH_KEY_INDEXES.items():
        for column in columns:
            op.create_index(f"ix_{table}_{column}", table, ["batch_id", column])
