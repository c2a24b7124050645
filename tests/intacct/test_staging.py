from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from intacct import staging
from intacct.objects import CUSTOMER, DEPARTMENT


def row(recordno: int, **extra) -> dict:
    base = {f.column: None for f in CUSTOMER.fields}
    return {
        **base,
        "recordno": recordno,
        "customer_id": f"C{recordno}",
        "name": f"Customer {recordno}",
        **extra,
    }


def test_batch_is_invisible_until_complete(state_engine):
    batch_id = staging.begin_batch(state_engine, CUSTOMER, "full", "run-1")
    staging.insert_rows(state_engine, CUSTOMER, batch_id, [row(1), row(2)])
    assert staging.latest_batch(state_engine, "CUSTOMER") is None

    watermark = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert staging.complete_batch(state_engine, CUSTOMER, batch_id, api_calls=3, watermark=watermark) == 2
    latest = staging.latest_batch(state_engine, "CUSTOMER")
    assert (latest.id, latest.status, latest.row_count, latest.api_calls) == (batch_id, "complete", 2, 3)
    assert latest.watermark == watermark
    assert [r["customer_id"] for r in staging.batch_rows(state_engine, CUSTOMER, batch_id)] == ["C1", "C2"]


def test_failed_batch_keeps_no_rows(state_engine):
    batch_id = staging.begin_batch(state_engine, CUSTOMER, "full", "run-1")
    staging.insert_rows(state_engine, CUSTOMER, batch_id, [row(1)])
    staging.fail_batch(state_engine, CUSTOMER, batch_id, api_calls=1)
    assert staging.get_batch(state_engine, batch_id).status == "failed"
    assert staging.batch_rows(state_engine, CUSTOMER, batch_id) == []
    assert staging.latest_batch(state_engine, "CUSTOMER") is None


def test_a_record_twice_in_one_batch_fails_loudly(state_engine):
    batch_id = staging.begin_batch(state_engine, CUSTOMER, "full", None)
    staging.insert_rows(state_engine, CUSTOMER, batch_id, [row(1)])
    with pytest.raises(IntegrityError):
        staging.insert_rows(state_engine, CUSTOMER, batch_id, [row(1)])


def test_latest_batch_filters_by_kind(state_engine):
    full = staging.begin_batch(state_engine, DEPARTMENT, "full", None)
    staging.complete_batch(state_engine, DEPARTMENT, full, api_calls=1, watermark=None)
    targeted = staging.begin_batch(state_engine, DEPARTMENT, "targeted", None)
    staging.complete_batch(state_engine, DEPARTMENT, targeted, api_calls=1, watermark=None)
    assert staging.latest_batch(state_engine, "DEPARTMENT").id == targeted
    assert staging.latest_batch(state_engine, "DEPARTMENT", kinds=("full",)).id == full


def test_prune_keeps_the_newest_batches_per_kind_and_never_running_ones(state_engine):
    ids = []
    for n in range(4):
        batch_id = staging.begin_batch(state_engine, CUSTOMER, "full", None)
        staging.insert_rows(state_engine, CUSTOMER, batch_id, [row(n + 1)])
        staging.complete_batch(state_engine, CUSTOMER, batch_id, api_calls=1, watermark=None)
        ids.append(batch_id)
    running = staging.begin_batch(state_engine, CUSTOMER, "full", None)

    assert staging.prune_batches(state_engine, "CUSTOMER", keep=2) == 2
    assert staging.latest_batch(state_engine, "CUSTOMER").id == ids[-1]
    assert staging.batch_rows(state_engine, CUSTOMER, ids[0]) == []
    assert len(staging.batch_rows(state_engine, CUSTOMER, ids[2])) == 1
    assert staging.get_batch(state_engine, running).status == "running"


def test_unknown_batch_kind_is_refused(state_engine):
    with pytest.raises(ValueError, match="unknown batch kind 'partial'"):
        staging.begin_batch(state_engine, CUSTOMER, "partial", None)


def test_prune_never_counts_failed_batches_as_kept(state_engine):
    complete = staging.begin_batch(state_engine, CUSTOMER, "full", None)
    staging.complete_batch(state_engine, CUSTOMER, complete, api_calls=1, watermark=None)
    failed = staging.begin_batch(state_engine, CUSTOMER, "full", None)
    staging.fail_batch(state_engine, CUSTOMER, failed, api_calls=1)

    assert staging.prune_batches(state_engine, "CUSTOMER", keep=1) == 0
    assert staging.latest_batch(state_engine, "CUSTOMER").id == complete


def test_prune_leaves_protected_batches_alone(state_engine):
    ids = []
    for n in range(3):
        batch_id = staging.begin_batch(state_engine, CUSTOMER, "full", None)
        staging.insert_rows(state_engine, CUSTOMER, batch_id, [row(n + 1)])
        staging.complete_batch(state_engine, CUSTOMER, batch_id, api_calls=1, watermark=None)
        ids.append(batch_id)

    assert staging.prune_batches(state_engine, "CUSTOMER", keep=1, protected={ids[0]}) == 1
    assert len(staging.batch_rows(state_engine, CUSTOMER, ids[0])) == 1  # a recent plan still uses it
    assert staging.batch_rows(state_engine, CUSTOMER, ids[1]) == []


def test_staged_timestamps_are_stored_as_sqlalchemy_stores_every_timestamp(state_engine):
    from datetime import timedelta, timezone

    from sqlalchemy.dialects import sqlite

    moment = datetime(2026, 11, 25, 23, 59, 58, 7, tzinfo=timezone(timedelta(hours=-8)))
    batch_id = staging.begin_batch(state_engine, CUSTOMER, "full", None)
    whole_second = moment.replace(microsecond=0)
    staging.insert_rows(
        state_engine,
        CUSTOMER,
        batch_id,
        [row(1, when_modified=moment), row(2, when_modified=whole_second), row(3)],
    )
    (stored,) = staging.batch_rows(state_engine, CUSTOMER, batch_id)[:1]
    assert stored["when_modified"] == moment and stored["when_modified"].tzinfo == UTC
    if state_engine.dialect.name == "sqlite":
        with state_engine.connect() as connection:
            raw = (
                connection.exec_driver_sql(
                    "SELECT when_modified FROM stg_intacct_customer WHERE batch_id = ? ORDER BY recordno",
                    (batch_id,),
                )
                .scalars()
                .all()
            )
        # SQLAlchemy's own SQLite DATETIME text, so SQL comparing timestamps sees one format everywhere
        default = sqlite.DATETIME().bind_processor(state_engine.dialect)
        naive = [m.astimezone(UTC).replace(tzinfo=None) for m in (moment, whole_second)]
        assert raw == [*map(default, naive), None]
        assert raw[:2] == ["2026-11-26 07:59:58.000007", "2026-11-26 07:59:58.000000"]
