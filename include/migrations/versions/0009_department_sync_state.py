"""What the hourly department sync keeps: marks on the links it follows, and where each sync stands.

`intacct_link` gains `source_state` (the Intacct record went inactive or was deleted, the link kept),
`intacct_parent` (the parent department it was last seen under) and `follows_department` (a person who
follows their Intacct department). `intacct_sync_state` holds each sync's watermark, the time of its last
full compare and the API user's time zone.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("intacct_link") as batch:
        batch.add_column(sa.Column("source_state", sa.String(10), nullable=True))
        batch.add_column(sa.Column("intacct_parent", sa.String(250), nullable=True))
        batch.add_column(
            sa.Column("follows_department", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "intacct_sync_state",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("watermark", TS),
        sa.Column("full_compare_at", TS),
        sa.Column("time_zone", sa.String(10)),
        sa.Column("run_id", sa.String(250)),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("intacct_sync_state")
    with op.batch_alter_table("intacct_link") as batch:
        batch.drop_column("follows_department")
        batch.drop_column("intacct_parent")
        batch.drop_column("source_state")
