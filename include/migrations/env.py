"""Alembic environment for the state database.

Always driven from code (`intacct.state.migrations.upgrade`), which hands over an open connection: there is no
alembic.ini and no URL here, so credentials never pass through Alembic's configuration.
"""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with intacct.state.migrations.upgrade(engine), not the alembic CLI")

context.configure(
    connection=connection,
    version_table=context.config.get_main_option("version_table"),
    render_as_batch=True,  # SQLite can only alter tables by copying them; batch mode does that for us
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
