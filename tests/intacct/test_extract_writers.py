"""Writer processes: pages stored by child processes land exactly as pages stored in this thread."""

from __future__ import annotations

import os
import signal
from datetime import timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError

from intacct import extract_writers, staging
from intacct.objects import CUSTOMER
from intacct.state import db

TZ = timezone(timedelta(hours=-8))


def page(first: int, count: int, **overrides) -> list[tuple[str | None, ...]]:
    """A `query` page of customers in `CUSTOMER.select` order."""
    values = {
        "CUSTOMERID": "C{n}",
        "NAME": "Ääkköset & Söhne GmbH {n}",
        "STATUS": "active",
        "DISPLAYCONTACT.MAILADDRESS.COUNTRY": "Germany",
        "WHENCREATED": "03/04/2021 05:06:07",
        "WHENMODIFIED": "11/25/2026 23:59:59",
        **overrides,
    }
    return [
        tuple(
            str(n) if f == "RECORDNO" else (values[f].format(n=n) if f in values else None)
            for f in CUSTOMER.select
        )
        for n in range(first, first + count)
    ]


def stored_by(engine, processes: int, pages: list) -> list[dict]:
    batch_id = staging.begin_batch(engine, CUSTOMER, "full", None)
    with extract_writers.PageWriters(engine) as store:
        store.start(processes)
        assert store.processes == processes
        for records in pages:
            store.put(CUSTOMER, batch_id, records, TZ)
        store.finish()
    staging.complete_batch(engine, CUSTOMER, batch_id, api_calls=0, watermark=None)
    return [
        {k: v for k, v in r.items() if k != "batch_id"}
        for r in staging.batch_rows(engine, CUSTOMER, batch_id)
    ]


def test_writer_processes_store_what_this_thread_stores(state_engine):
    pages = [page(1 + 50 * i, 50) for i in range(7)]
    in_processes = stored_by(state_engine, 2, pages)
    assert len(in_processes) == 350
    assert in_processes == stored_by(state_engine, 0, pages)
    first = in_processes[0]
    assert first["name_key"] == "aakkoset and sohne gmbh 1"  # the legal form is not at the end
    assert first["fc_country"] == "DE"
    assert first["when_modified"].isoformat() == "2026-11-26T07:59:59+00:00"


def test_a_page_a_writer_cannot_store_raises_its_error_here(state_engine):
    batch_id = staging.begin_batch(state_engine, CUSTOMER, "full", None)
    with extract_writers.PageWriters(state_engine) as store:
        store.start(1)
        store.put(CUSTOMER, batch_id, page(1, 10, WHENMODIFIED="yesterday"), TZ)
        with pytest.raises(ValueError, match=r"CUSTOMER 1: field WHENMODIFIED has value 'yesterday'"):
            store.finish()
    with extract_writers.PageWriters(state_engine) as store:
        store.start(1)
        store.put(CUSTOMER, batch_id, page(1, 2000), TZ)
        store.put(CUSTOMER, batch_id, page(1, 2000), TZ)  # the same records again
        with pytest.raises(IntegrityError) as failed:
            store.finish()
        (writer,) = store._writers
    # The error comes back without the page's 2,000 rows of parameters, and the writer ended on its own.
    assert len(str(failed.value)) < 2000
    assert writer.process.returncode == 0


def test_closing_does_not_wait_on_a_writer_whose_error_nobody_reads(state_engine, monkeypatch):
    monkeypatch.setattr(extract_writers, "_STOP_TIMEOUT", 60)
    batch_id = staging.begin_batch(state_engine, CUSTOMER, "full", None)
    store = extract_writers.PageWriters(state_engine)
    store.start(1)
    (writer,) = store._writers
    store.put(CUSTOMER, batch_id, page(1, 10, WHENMODIFIED="yesterday"), TZ)
    store.close()  # the fetching side stops for a reason of its own and never reads the writer's error
    assert writer.process.returncode == 0  # it hung up too, rather than being killed after a timeout


def test_a_writer_killed_mid_batch_is_reported_not_ignored(state_engine):
    batch_id = staging.begin_batch(state_engine, CUSTOMER, "full", None)
    with extract_writers.PageWriters(state_engine) as store:
        store.start(1)
        (writer,) = store._writers
        os.kill(writer.process.pid, signal.SIGKILL)
        writer.process.wait()
        with pytest.raises(extract_writers.WriterProcessError, match=r"exit code -9.*the batch is discarded"):
            store.put(CUSTOMER, batch_id, page(1, 10), TZ)
            store.finish()


def test_writers_leave_no_process_behind_and_never_see_the_url_on_a_command_line(state_engine):
    with extract_writers.PageWriters(state_engine) as store:
        store.start(2)
        processes = [w.process for w in store._writers]
        for process in processes:
            assert not any("sqlite" in arg or "postgresql" in arg for arg in process.args)
    assert all(process.poll() is not None for process in processes)


def test_an_in_memory_database_is_stored_in_this_process():
    engine = db.open_engine("sqlite:///:memory:")
    store = extract_writers.PageWriters(engine)
    store.start(2)
    assert store.processes == 0
    with pytest.raises(ValueError, match="0 or more"):
        store.start(-1)
