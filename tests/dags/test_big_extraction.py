"""A company big enough for writer processes: the import DAG stores its extraction through them."""

from __future__ import annotations

import pytest
from tests.dags.conftest import sandbox_company
from tests.dags.test_client_dags import latest, run

from intacct import staging


@pytest.fixture(scope="module")
def gateway():
    # About 16,500 customers a top-level session sees: 9 pages, past `extract.WRITERS_FROM_PAGES`.
    with sandbox_company(seed=12, customers=17_000, departments=5, users=5) as server:
        yield server


def test_an_import_run_stores_a_big_extraction_through_writer_processes(pipeline, caplog):
    caplog.set_level("INFO")
    wanted = [c["CUSTOMERID"] for c in pipeline.customers(2)]
    result = run("intacct_import_clients", {"customer_ids": wanted})
    assert result.state == "success"
    assert "pages stored by 2 writer processes" in caplog.text
    batch = staging.latest_batch(pipeline.state, "CUSTOMER")
    visible = [r for r in pipeline.gateway.store.records("CUSTOMER") if not r.get("MEGAENTITYID")]
    assert batch.row_count == len(visible) > 8 * 2000
    assert sorted(c.name for c in pipeline.forecast.list_clients()) == sorted(
        c["NAME"] for c in pipeline.customers(2)
    )
    assert latest(pipeline, "intacct_import_clients").summary["outcome"]["created"] == 2
