"""The apply lock's lease and its holder's process, so that a dead holder is recognised quickly.

`lease_until` is renewed by the holder while it works; `host`, `pid`, `pid_space` and `process_started`
let a waiter on the same host see that the holder's process is gone (see `intacct.locks`). Rows of a
lock held during the upgrade keep their owner; without a lease they are judged by their heartbeat.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
COLUMNS = (
    ("lease_until", TS),
    ("host", sa.String(255)),
    ("pid", sa.Integer()),
    ("pid_space", sa.String(100)),
    ("process_started", sa.String(40)),
)


def upgrade() -> None:
    with op.batch_alter_table("intacct_apply_lock") as batch:
        for name, type_ in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("intacct_apply_lock") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
