"""Real runs of the client DAGs with dag.test(), against the sandbox, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from intacct import links, report
from intacct.forecast.target import NewClient

pytestmark = [pytest.mark.airflow, pytest.mark.slow]
REPO_DAGS = Path(__file__).resolve().parents[2] / "dags"


def run(dag_id, conf):
    # A freshly parsed DAG for every run, as the scheduler has: dag.test() merges run_conf into the
    # parsed DAG's params in place, so a reused DAG object would carry one run's conf into the next.
    return DagBag(dag_folder=str(REPO_DAGS)).dags[dag_id].test(run_conf=conf)


def latest(pipeline, dag_id):
    return report.get_report(pipeline.state, dag_id=dag_id)


def test_import_rerun_and_dry_run(pipeline):
    wanted = [c["CUSTOMERID"] for c in pipeline.customers(4)]

    dry = run("intacct_import_clients", {"customer_ids": wanted, "dry_run": True})
    assert dry.state == "success"
    assert pipeline.forecast.list_clients() == []
    dry_report = latest(pipeline, "intacct_import_clients")
    assert dry_report.summary["dry_run"] is True and dry_report.summary["outcome"]["created"] == 4
    assert "dry run: nothing was written" in dry_report.markdown

    first = run("intacct_import_clients", {"customer_ids": wanted})
    assert first.state == "success"
    names = sorted(c.name for c in pipeline.forecast.list_clients())
    by_id = {c["CUSTOMERID"]: c for c in pipeline.customers(4)}
    assert names == sorted(by_id[k]["NAME"].strip() for k in wanted)
    assert sorted(link.intacct_key for link in links.links(pipeline.state, "client")) == sorted(wanted)
    first_report = latest(pipeline, "intacct_import_clients")
    assert first_report.summary["outcome"]["created"] == 4
    assert "Intacct API calls:" in first_report.markdown and "clients linked: 4" in first_report.markdown

    again = run("intacct_import_clients", {"customer_ids": wanted})
    assert again.state == "success"
    assert len(pipeline.forecast.list_clients()) == 4
    rerun_report = latest(pipeline, "intacct_import_clients")
    assert rerun_report.summary["outcome"]["created"] == 0
    assert rerun_report.summary["outcome"]["skipped_linked"] == 4


def test_unknown_conf_key_is_refused_before_anything_is_written(pipeline):
    wanted = [c["CUSTOMERID"] for c in pipeline.customers(1)]
    pipeline.gateway.ledger.reset()
    result = run("intacct_import_clients", {"customer_ids": wanted, "customer_idz": ["C1"]})
    assert result.state == "failed"
    refused = latest(pipeline, "intacct_import_clients")
    assert refused.status == "refused"
    assert "unknown parameter(s) customer_idz" in refused.markdown
    assert pipeline.forecast.list_clients() == []
    assert pipeline.gateway.ledger.requests() == 0  # refused before Intacct was called


def test_link_refused_link_and_unlink(pipeline):
    (first,) = pipeline.customers(1)
    alpha, beta = pipeline.forecast.create_clients([NewClient(first["NAME"].strip()), NewClient("Beta Ltd")])

    linked = run(
        "intacct_link_clients",
        {"links": [{"forecast_client_id": alpha.id, "intacct_customer_id": first["CUSTOMERID"]}]},
    )
    assert linked.state == "success"
    assert [(k.forecast_id, k.intacct_key) for k in links.links(pipeline.state, "client")] == [
        (alpha.id, first["CUSTOMERID"])
    ]

    refused = run(
        "intacct_link_clients",
        {"links": [{"forecast_client_id": beta.id, "intacct_customer_id": first["CUSTOMERID"]}]},
    )
    assert refused.state == "failed"
    message = latest(pipeline, "intacct_link_clients").markdown
    assert (
        f"Intacct record '{first['CUSTOMERID']}' is already linked to Forecast client {alpha.id}" in message
    )
    assert len(links.links(pipeline.state, "client")) == 1

    unlinked = run("intacct_link_clients", {"unlink": [alpha.id]})
    assert unlinked.state == "success"
    assert links.links(pipeline.state, "client") == []


def start_responder(answers, stop):
    """Answer pending human-in-the-loop requests as the REST PATCH handler does (Airflow 3.3 internals)."""

    def _loop():
        from airflow.models.hitl import HITLDetail
        from airflow.models.taskinstance import TaskInstance
        from airflow.models.trigger import handle_event_submit
        from airflow.triggers.base import TriggerEvent
        from airflow.utils import timezone
        from airflow.utils.session import create_session
        from airflow.utils.state import TaskInstanceState
        from sqlalchemy import select

        while not stop.is_set():
            with create_session() as session:
                for detail in session.scalars(
                    select(HITLDetail).where(HITLDetail.responded_at.is_(None))
                ).all():
                    ti = session.get(TaskInstance, detail.ti_id)
                    if (
                        ti is None
                        or ti.task_id not in answers
                        or ti.state != TaskInstanceState.AWAITING_INPUT
                    ):
                        continue
                    detail.chosen_options = answers[ti.task_id](detail.options)
                    detail.params_input = {}
                    detail.responded_at = timezone.utcnow()
                    detail.responded_by = {"id": "test", "name": "test"}
                    handle_event_submit(
                        TriggerEvent(detail.as_resume_event_payload()), task_instance=ti, session=session
                    )
            stop.wait(0.3)

    thread = threading.Thread(target=_loop, daemon=True)
    thread.start()
    return thread


def run_answering(dag_id: str, conf: dict, step: str, pick):
    """Run a DAG while a responder answers its selection step `step` with `pick(options)`: the run and
    the options the step offered."""
    offered = []

    def answer(options):
        offered.extend(options)
        return pick(options)

    stop = threading.Event()
    start_responder({step: answer}, stop)
    try:
        return run(dag_id, conf), offered
    finally:
        stop.set()


def test_without_ids_a_person_chooses_from_the_importable_customers(pipeline):
    result, offered = run_answering("intacct_import_clients", {}, "choose_customers", lambda o: o[:2])
    assert result.state == "success"
    visible = {
        c["CUSTOMERID"] for c in pipeline.gateway.store.records("CUSTOMER") if not c.get("MEGAENTITYID")
    }
    assert offered and set(offered) <= visible  # ids only, from this run's plan
    assert sorted(link.intacct_key for link in links.links(pipeline.state, "client")) == sorted(offered[:2])
    assert len(pipeline.forecast.list_clients()) == 2


def test_a_wrong_intacct_password_fails_the_run_with_one_sentence_and_counts_the_call(pipeline, monkeypatch):
    import json

    from intacct import usage

    monkeypatch.setenv(
        "AIRFLOW_CONN_INTACCT_DEFAULT",
        json.dumps({**pipeline.gateway.airflow_connection(), "password": "wrong-password-123"}),
    )
    pipeline.gateway.ledger.reset()
    result = run("intacct_import_clients", {"customer_ids": ["C1001"]})
    assert result.state == "failed"
    failed = latest(pipeline, "intacct_import_clients")
    assert failed.status == "failed"
    assert "sign" in failed.markdown.lower() and "wrong-password-123" not in failed.markdown
    # the refused sign-ins are billed calls too, and our count agrees with what the gateway served
    spent = usage.summary(pipeline.state, f"intacct_import_clients/{failed.run_id}").run_calls
    assert spent == pipeline.gateway.ledger.requests("auth_failure") >= 1
    assert pipeline.forecast.list_clients() == []
