from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest

from intacct.airflow import defaults

REPO = Path(__file__).resolve().parents[3]


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_failure_notifier_posts_a_short_message_to_the_configured_webhook(monkeypatch):
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv(
            "AIRFLOW_VAR_INTACCT_FAILURE_WEBHOOK", f"http://127.0.0.1:{server.server_port}/hook"
        )
        context = {"dag": SimpleNamespace(dag_id="intacct_import_clients"), "run_id": "manual__1",
                   "ti": SimpleNamespace(task_id="extract_customers")}  # fmt: skip
        defaults.notify_failure(context)
    finally:
        server.shutdown()
    assert _Receiver.received == [
        {
            "text": "Intacct pipeline: intacct_import_clients run manual__1 failed in task extract_customers",
            "dag_id": "intacct_import_clients",
            "run_id": "manual__1",
            "task_id": "extract_customers",
        }
    ]


def test_failure_notifier_is_silent_without_a_webhook_and_never_raises(monkeypatch):
    monkeypatch.delenv("AIRFLOW_VAR_INTACCT_FAILURE_WEBHOOK", raising=False)
    defaults.notify_failure({"dag": SimpleNamespace(dag_id="d"), "run_id": "r"})
    monkeypatch.setenv("AIRFLOW_VAR_INTACCT_FAILURE_WEBHOOK", "http://127.0.0.1:9/unreachable")
    defaults.notify_failure({"dag": SimpleNamespace(dag_id="d"), "run_id": "r"})  # logs, does not raise


def test_batch_retention_comes_from_a_variable_and_is_checked(monkeypatch):
    import pytest

    from intacct.airflow import tasks

    monkeypatch.delenv("AIRFLOW_VAR_INTACCT_BATCH_RETENTION", raising=False)
    assert tasks.batch_retention() == tasks.BATCH_RETENTION
    monkeypatch.setenv("AIRFLOW_VAR_INTACCT_BATCH_RETENTION", "12")
    assert tasks.batch_retention() == 12
    monkeypatch.setenv("AIRFLOW_VAR_INTACCT_BATCH_RETENTION", "all")
    with pytest.raises(ValueError, match="must be a whole number, got 'all'"):
        tasks.batch_retention()
    monkeypatch.setenv("AIRFLOW_VAR_INTACCT_BATCH_RETENTION", "0")
    with pytest.raises(ValueError, match="at least 1"):
        tasks.batch_retention()


def test_a_retryable_failure_notes_but_does_not_fail_the_run(monkeypatch, tmp_path):
    import pytest
    from airflow.sdk.exceptions import AirflowFailException

    from intacct import report
    from intacct.airflow import tasks
    from intacct.gateway.errors import GatewayServerError, UserAuthenticationError

    monkeypatch.setenv(
        "AIRFLOW_CONN_INTACCT_STATE_DB", json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "s.db")})
    )
    tasks.state_engine.cache_clear()
    run = tasks.RunContext("intacct_import_clients", "manual__1", "client")
    try:
        with pytest.raises(GatewayServerError), tasks.reporting(run):
            raise GatewayServerError(http_status=503)
        stored = report.get_report(tasks.state_engine(), dag_id=run.dag_id, run_id=run.run_id)
        assert stored.status == "success" and stored.summary["notes"][0].startswith("(will retry)")

        with pytest.raises(AirflowFailException, match="Intacct rejected"), tasks.reporting(run):
            raise UserAuthenticationError()
        assert (
            report.get_report(tasks.state_engine(), dag_id=run.dag_id, run_id=run.run_id).status == "failed"
        )
    finally:
        tasks.state_engine().dispose()
        tasks.state_engine.cache_clear()


def test_the_pool_slots_setting_is_a_whole_number_or_named_as_wrong():
    assert defaults.pool_slots(None) == 2 and defaults.pool_slots(" 4 ") == 4
    for bad in ("2.5", "two", "0", "-1"):
        with pytest.raises(
            ValueError, match=f"INTACCT_API_SLOTS must be a whole number of at least 1.*got '{bad}'"
        ):
            defaults.pool_slots(bad)


@pytest.mark.slow
def test_a_bad_pool_slots_setting_is_the_dags_import_error(tmp_path):
    script = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(REPO / 'dags')!r})\n"
        "print(sorted(bag.dags)); print(list(bag.import_errors.values())[0] if bag.import_errors else '')\n"
    )
    env = {**os.environ, "INTACCT_API_SLOTS": "2.5", "AIRFLOW_HOME": str(tmp_path)}
    env["PYTHONPATH"] = f"{REPO / 'plugins'}{os.pathsep}{REPO}"
    parsed = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert "INTACCT_API_SLOTS must be a whole number of at least 1" in parsed.stdout, parsed.stdout
    assert "got '2.5'" in parsed.stdout
