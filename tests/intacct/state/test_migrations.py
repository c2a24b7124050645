from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, select, text
from sqlalchemy.exc import IntegrityError

from intacct.state import migrations, schema

ADD_COLUMN_REVISION = '''
"""test-only: a later release adds a column"""
import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = {head!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intacct_batch") as batch:
        batch.add_column(sa.Column("source_note", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("intacct_batch") as batch:
        batch.drop_column("source_note")
'''


def test_fresh_database_reaches_head(empty_database_url, make_engine):
    engine = make_engine(empty_database_url)
    assert migrations.current_revision(engine) is None

    assert migrations.upgrade(engine) == migrations.head_revision()
    assert {"intacct_batch", "intacct_api_usage", "run_report", migrations.VERSION_TABLE} <= set(
        inspect(engine).get_table_names()
    )


def test_upgrade_twice_is_a_no_op(empty_database_url, make_engine):
    engine = make_engine(empty_database_url)
    first = migrations.upgrade(engine)
    assert migrations.upgrade(engine) == first


def test_migrations_build_exactly_the_schema_the_code_uses(empty_database_url, make_engine):
    engine = make_engine(empty_database_url)
    migrations.upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "version_table": migrations.VERSION_TABLE}
        )
        drift = [
            d for d in compare_metadata(context, schema.metadata) if "intacct_schema_version" not in str(d)
        ]
    assert drift == []


def test_existing_database_upgrades_in_place_without_losing_rows(empty_database_url, make_engine, tmp_path):
    # A copy of this checkout's revisions plus one that adds a column, as a later release would ship.
    script_location = tmp_path / "migrations"
    shutil.copytree(
        migrations.migrations_dir(), script_location, ignore=shutil.ignore_patterns("__pycache__")
    )
    head = migrations.head_revision()
    (script_location / "versions" / "9001_add_source_note.py").write_text(
        ADD_COLUMN_REVISION.format(head=head)
    )

    engine = make_engine(empty_database_url)
    migrations.upgrade(engine)
    started = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    with engine.begin() as connection:
        for obj in ("CUSTOMER", "DEPARTMENT", "USERINFO"):
            connection.execute(
                schema.intacct_batch.insert().values(
                    object=obj, kind="full", started_at=started, finished_at=started, row_count=7, api_calls=2
                )
            )

    assert migrations.upgrade(engine, script_location=script_location) == "9001"

    columns = {c["name"] for c in inspect(engine).get_columns("intacct_batch")}
    assert "source_note" in columns
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT object, row_count, api_calls, source_note FROM intacct_batch ORDER BY object")
        ).all()
        started_back = connection.execute(select(schema.intacct_batch.c.started_at)).scalars().all()
    assert [tuple(r) for r in rows] == [
        ("CUSTOMER", 7, 2, None),
        ("DEPARTMENT", 7, 2, None),
        ("USERINFO", 7, 2, None),
    ]
    assert started_back == [started] * 3


def test_runs_with_several_reports_keep_their_newest_one(empty_database_url, make_engine):
    engine = make_engine(empty_database_url)
    migrations.upgrade(engine, "0007")  # before a report was unique per run
    at = datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    rows = [
        ("d", "run-1", "first"),
        ("d", "run-1", "newest"),
        ("d", "run-2", "only"),
        ("e", "run-1", "other"),
    ]
    with engine.begin() as connection:
        for dag_id, run_id, markdown in rows:
            connection.execute(
                insert(schema.run_report).values(
                    dag_id=dag_id,
                    run_id=run_id,
                    created_at=at,
                    status="success",
                    summary_json="{}",
                    markdown=markdown,
                )
            )

    assert migrations.upgrade(engine, "0008") == "0008"

    with engine.connect() as connection:
        kept = connection.execute(
            select(
                schema.run_report.c.dag_id, schema.run_report.c.run_id, schema.run_report.c.markdown
            ).order_by(schema.run_report.c.id)
        ).all()
    assert [tuple(r) for r in kept] == [
        ("d", "run-1", "newest"),
        ("d", "run-2", "only"),
        ("e", "run-1", "other"),
    ]
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(
            insert(schema.run_report).values(
                dag_id="d",
                run_id="run-1",
                created_at=at,
                status="success",
                summary_json="{}",
                markdown="twin",
            )
        )


def test_migrations_refuse_to_run_from_the_alembic_cli(tmp_path):
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations.migrations_dir()))
    config.set_main_option("sqlalchemy.url", f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(RuntimeError, match=r"intacct\.state\.migrations\.upgrade"):
        command.upgrade(config, "head")
    assert not Path(tmp_path / "x.db").exists() or Path(tmp_path / "x.db").stat().st_size == 0


def _migrate_when_released(url: str, release, results) -> None:
    """In a child process: wait for the start signal, then migrate (the first tasks of a new deployment)."""
    from intacct.state import db

    engine = db.open_engine(url)
    release.wait()
    try:
        results.put(migrations.upgrade(engine))
    except Exception as exc:  # the parent reports what each process hit
        results.put(f"{type(exc).__name__}: {exc}")
    finally:
        engine.dispose()


@pytest.mark.slow
def test_processes_migrating_a_fresh_database_at_once_all_reach_head(backend):
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # as separate task processes, nothing shared
    for _ in range(3):
        url = backend.create()
        release, results = context.Event(), context.Queue()
        workers = [
            context.Process(target=_migrate_when_released, args=(url, release, results)) for _ in range(3)
        ]
        for worker in workers:
            worker.start()
        release.set()
        for worker in workers:
            worker.join(60)
        outcomes = [results.get(timeout=5) for _ in workers]
        assert outcomes == [migrations.head_revision()] * len(workers), outcomes
