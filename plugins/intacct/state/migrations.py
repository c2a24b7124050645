"""Versioned, in-place upgrades of the state database (Alembic, driven from code).

Why Alembic rather than numbered SQL files: the state database is SQLite in the embedded default and
PostgreSQL in production, and Alembic's operations (with batch mode for SQLite's limited ALTER TABLE)
emit the right DDL for each from one migration. Revisions live in `include/migrations/versions/`; the
version is kept in `intacct_schema_version`, a name of our own so the state database can share a server
(or even a database) with Airflow's or Forecast's, which use Alembic's default table.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from intacct.state.sql_files import include_dir

VERSION_TABLE = "intacct_schema_version"
# Any fixed number works: it only has to be the same for every process that migrates this database.
_PG_MIGRATION_LOCK = 74_617_001


def migrations_dir() -> Path:
    """Where the revisions are: `include/migrations` (see `intacct.state.sql_files.include_dir`)."""
    return include_dir() / "migrations"


def _config(script_location: Path) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("version_table", VERSION_TABLE)
    return config


def upgrade(engine: Engine, revision: str = "head", *, script_location: Path | None = None) -> str | None:
    """Bring the database at `engine` up to `revision`; safe to call from several processes at once.

    Returns the revision the database is at afterwards.
    """
    config = _config(script_location or migrations_dir())
    with engine.begin() as connection:
        # Two tasks starting together must not both create the same tables: the second waits for the
        # first's transaction, then finds the database at head.
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        elif connection.dialect.name == "sqlite":
            # pysqlite opens a transaction only before DML, so DDL would run (and commit) unlocked.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return current_revision(engine)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for a database never migrated."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()


def head_revision(script_location: Path | None = None) -> str | None:
    """The newest revision this checkout knows."""
    return ScriptDirectory.from_config(_config(script_location or migrations_dir())).get_current_head()
