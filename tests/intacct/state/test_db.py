from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from intacct.state import db, schema


def test_default_urls_live_under_the_airflow_home(monkeypatch, tmp_path):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    assert db.default_state_url() == f"sqlite:///{tmp_path / 'intacct_state.db'}"
    assert db.default_forecast_url() == f"sqlite:///{tmp_path / 'forecast.db'}"


def test_sqlite_engine_creates_its_folder_and_uses_wal(tmp_path):
    engine = db.open_engine(f"sqlite:///{tmp_path / 'nested' / 'state.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert (tmp_path / "nested" / "state.db").exists()
    engine.dispose()


def test_plain_postgresql_url_uses_psycopg_3():
    engine = db.open_engine("postgresql://u:secret@127.0.0.1:5432/x")
    assert engine.url.drivername == "postgresql+psycopg"
    engine.dispose()


def test_unsupported_backend_is_refused_by_name_and_hides_the_password():
    with pytest.raises(ValueError, match="unsupported database backend 'mysql'") as info:
        db.open_engine("mysql://user:hunter22@db/x")
    assert "hunter22" not in str(info.value)


def test_describe_hides_the_password():
    assert "hunter22" not in db.describe("postgresql://user:hunter22@db/x")


def test_timestamps_come_back_timezone_aware_in_utc(state_engine):
    paris = timezone(timedelta(hours=1))
    started = datetime(2026, 11, 25, 9, 15, 30, tzinfo=paris)
    with state_engine.begin() as connection:
        connection.execute(
            schema.intacct_batch.insert().values(
                object="CUSTOMER", kind="full", started_at=started, row_count=0, api_calls=0
            )
        )
        back = connection.execute(select(schema.intacct_batch.c.started_at)).scalar_one()
    assert back == started
    assert back.utcoffset() == timedelta(0)
    assert back.tzinfo is not None and back.astimezone(UTC).hour == 8


def test_naive_timestamps_are_refused(state_engine):
    with pytest.raises(Exception, match="naive datetime"), state_engine.begin() as connection:
        connection.execute(
            schema.intacct_batch.insert().values(
                object="CUSTOMER", kind="full", started_at=datetime(2026, 1, 1), row_count=0, api_calls=0
            )
        )
