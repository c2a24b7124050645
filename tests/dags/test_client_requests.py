"""Requests an operator can get wrong or make huge, through real DAG runs, on SQLite and PostgreSQL:
every bad entry named at once, long refusals cut in the log and kept whole in the report's CSV, and
`select_all` for selections no command line can carry."""

from __future__ import annotations

import csv

import pytest
from airflow.dag_processing.dagbag import DagBag
from tests.dags.test_client_dags import REPO_DAGS

from intacct import links, report
from intacct.forecast.target import NewClient

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def run(dag_id, conf):
    return DagBag(dag_folder=str(REPO_DAGS)).dags[dag_id].test(run_conf=conf)


def latest(pipeline, dag_id):
    return report.get_report(pipeline.state, dag_id=dag_id)


def test_every_malformed_link_entry_is_named_by_position_and_value(pipeline):
    pipeline.gateway.ledger.reset()
    result = run(
        "intacct_link_clients",
        {
            "links": [
                {"forecast_client_id": 3},
                {"forecast_client_id": "seven", "intacct_customer_id": "C1"},
                {"forecast_client_id": 4, "intacct_customer_id": "  "},
                "C1001",
                {"forecast_client_id": 5, "intacct_customer_id": "C2", "note": "x"},
                {"forecast_client_id": 6, "intacct_customer_id": "C3"},
            ],
            "unlink": ["x", 0, "12"],
        },
    )
    assert result.state == "failed"
    refused = latest(pipeline, "intacct_link_clients")
    assert refused.status == "refused"
    text = refused.markdown
    # Airflow's schema check would have stopped at the first entry; ours names each bad one
    assert "links[0] {'forecast_client_id': 3}: intacct_customer_id missing" in text
    assert "links[1] " in text and "forecast_client_id must be a positive integer, got 'seven'" in text
    assert "links[2] " in text and "intacct_customer_id must be a non-empty string, got '  '" in text
    assert "links[3] 'C1001' must be an object" in text
    assert "links[4] " in text and "unknown key(s) note" in text
    assert "links[5]" not in text  # the good entry is not a problem
    assert "unlink[0] must be a Forecast id (a positive integer), got 'x'" in text
    assert "unlink[1] must be a Forecast id (a positive integer), got 0" in text
    assert "unlink[2]" not in text  # "12" is as good as 12
    assert pipeline.gateway.ledger.requests() == 0  # refused before Intacct was called
    assert links.links(pipeline.state, "client") == []


def test_a_refusal_of_ten_thousand_ids_is_one_short_line_and_the_csv_lists_each(pipeline, tmp_path):
    from intacct.airflow import report_cli

    unknown = [f"NOPE-{n:05d}" for n in range(10_000)]
    result = run("intacct_import_clients", {"customer_ids": unknown})
    assert result.state == "failed"
    refused = latest(pipeline, "intacct_import_clients")
    assert refused.status == "refused"
    (note,) = refused.summary["notes"]
    assert len(note) < 1_500, len(note)
    assert "'NOPE-00000' is not an Intacct CUSTOMER of this run's extraction" in note
    assert "and 9,990 more (10,000 in all" in note
    assert "NOPE-09999" not in refused.markdown  # the Markdown shows the first few, not 620,000 characters
    assert len(refused.markdown) < 10_000
    assert refused.summary["details"]["Refused"][-1].startswith("'NOPE-09999'")

    out = tmp_path / "lists.csv"
    assert report_cli.main(["--id", str(refused.id), "--lists-csv", str(out)]) == 0
    with out.open(encoding="utf-8") as f:
        rows = [row for row in csv.DictReader(f) if row["list"] == "Refused"]
    assert [row["item"].split("'")[1] for row in rows] == unknown
    assert pipeline.forecast.list_clients() == []


def test_select_all_imports_the_importable_customers_and_reports_the_look_alikes(pipeline):
    customers = pipeline.customers(300)
    twin = customers[0]
    existing = pipeline.forecast.create_clients([NewClient(twin["NAME"].strip())])[0]

    result = run("intacct_import_clients", {"select_all": True})
    assert result.state == "success"
    done = latest(pipeline, "intacct_import_clients")
    plan_counts = done.summary["plan_counts"]
    linked = {link.intacct_key for link in links.links(pipeline.state, "client")}
    assert len(linked) == plan_counts["importable"] == done.summary["outcome"]["created"] > 100
    assert twin["CUSTOMERID"] not in linked  # it looks like an existing client: left out, reported
    assert plan_counts["suggest_link"] >= 1
    selection = "\n".join(done.summary["details"]["Selection"])
    assert f"select_all chose {plan_counts['importable']:,} importable customers" in selection
    assert f"left out {plan_counts['suggest_link']:,} customers that match an existing Forecast" in selection
    assert existing.id in {c.id for c in pipeline.forecast.list_clients()}
    assert len(pipeline.forecast.list_clients()) == len(linked) + 1

    again = run("intacct_import_clients", {"select_all": True})
    assert again.state == "success"
    assert latest(pipeline, "intacct_import_clients").summary["outcome"]["created"] == 0


def test_name_filter_narrows_select_all_and_neither_goes_with_ids(pipeline):
    wanted = pipeline.customers(1)[0]
    word = wanted["NAME"].split()[0]
    result = run("intacct_import_clients", {"select_all": True, "name_filter": word.upper()})
    assert result.state == "success"
    names = [c.name for c in pipeline.forecast.list_clients()]
    assert names and all(word.casefold() in n.casefold() for n in names)
    assert wanted["NAME"].strip() in names

    refused = run(
        "intacct_import_clients",
        {"customer_ids": [wanted["CUSTOMERID"]], "select_all": True, "name_filter": "x"},
    )
    assert refused.state == "failed"
    text = latest(pipeline, "intacct_import_clients").markdown
    assert "select_all does not go with customer_ids" in text
    assert "name_filter does not go with customer_ids" in text
