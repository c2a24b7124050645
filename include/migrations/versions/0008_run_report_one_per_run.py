"""One run report per DAG run: a unique key on (dag_id, run_id) replaces the plain index.

`intacct.report.update_report` relies on it to create a run's report exactly once when two tasks of the
run write at the same moment. Runs that already have several reports (the race this closes) keep their
newest one: the one every later update went to and every reader was shown.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

COLUMNS = ["dag_id", "run_id"]


def upgrade() -> None:
    report = sa.table("run_report", sa.column("id"), sa.column("dag_id"), sa.column("run_id"))
    newest = sa.select(sa.func.max(report.c.id)).group_by(report.c.dag_id, report.c.run_id)
    op.execute(report.delete().where(report.c.id.not_in(newest)))
    with op.batch_alter_table("run_report") as batch:
        batch.drop_index("ix_run_report_dag_run")
        batch.create_unique_constraint("uq_run_report_dag_run", COLUMNS)


def downgrade() -> None:
    with op.batch_alter_table("run_report") as batch:
        batch.drop_constraint("uq_run_report_dag_run", type_="unique")
        batch.create_index("ix_run_report_dag_run", COLUMNS)
