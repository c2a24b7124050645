"""`make stack` for real: scripts/stack.py starts the Celery stack on free ports, with a scratch Airflow home,
scratch PostgreSQL databases and a Redis database of its own; DAG runs go through Airflow's public REST
API and the tests check where their tasks ran, what they stored, and that `stop` leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import requests
from scripts import stack
from sqlalchemy import text
from sqlalchemy.engine import make_url
from tests.conftest import PG_ADMIN_URL, DatabaseFactory
from tests.deploy.airflow_api import AirflowApi, admin_password, free_port, wait_for

from intacct import report
from intacct.state import db

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

STACK = [sys.executable, str(stack.REPO / "scripts" / "stack.py")]
BROKER_SERVER = "redis://127.0.0.1:6379"
RUN_TIMEOUT_S = 150
CLIENTS_DAG = "intacct_import_clients"
SYNC_DAG = "intacct_department_sync"
PORT_OPTIONS = ("--api-port", "--sandbox-port", "--worker-log-port", "--triggerer-log-port")


def empty_redis_db() -> int:
    """A Redis database other than 0 with no key in it: the Celery broker of this test alone."""
    for number in range(1, 16):
        if redis.Redis.from_url(f"{BROKER_SERVER}/{number}").dbsize() == 0:
            return number
    pytest.fail(f"no empty Redis database among 1-15 on {BROKER_SERVER}", pytrace=False)


def stack_command(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    # The test session's own Airflow settings (a throwaway home, unit-test mode) are not the stack's.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    return subprocess.run(
        [*STACK, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@dataclass(kw_only=True)
class RunningStack(AirflowApi):
    """The stack `start` brought up: `url` is its API server's."""

    home: Path
    sandbox_url: str
    queue: str
    state_url: str
    start_args: list[str]

    def wait_for_dag(self, dag_id: str) -> None:
        """Until the dag-processor has parsed it: a DAG the API does not know cannot be triggered."""
        wait_for(f"{dag_id} in the API", lambda: self.get(f"/dags/{dag_id}").ok, RUN_TIMEOUT_S)

    def wait_for_run(self, dag_id: str, find_run) -> dict:
        seen: list[dict | None] = [None]

        def finished() -> dict | None:
            seen.append(run := find_run())
            return run if run and run["state"] in ("success", "failed") else None

        return wait_for(
            f"finished run of {dag_id}",
            finished,
            RUN_TIMEOUT_S,
            interval=2,
            detail=lambda: f" (last seen: {seen[-1]})",
        )

    def assert_ran_on_the_celery_worker(self, dag_id: str, run_id: str) -> list[dict]:
        """Every task instance of the run succeeded, was queued on the stack's own Celery queue (only
        the Celery executor has queues) and was executed by the stack's worker: its log names the task
        instance's id and task id when it takes the workload, and the id again with the final state."""
        tis = self.task_instances(dag_id, run_id)
        assert tis, f"{dag_id} {run_id} has no task instances"
        for ti in tis:
            where = f"{dag_id}.{ti['task_id']} ({ti['id']})"
            assert ti["state"] == "success", f"{where} is {ti['state']}"
            assert ti["queue"] == self.queue, f"{where} was queued on {ti['queue']!r}, not {self.queue!r}"
        # The worker logs a workload's end after the task reported its state: give the last one a moment.
        deadline = time.monotonic() + 20
        while True:
            missing = self._not_in_worker_log(dag_id, tis)
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert not missing, "the Celery worker's log does not show:\n" + "\n".join(missing)
        return tis

    def _not_in_worker_log(self, dag_id: str, tis: list[dict]) -> list[str]:
        worker_log = stack.log_path(self.home, "celery-worker").read_text(errors="replace")
        finished = {
            m.group("ti"): m.group("state")
            for m in re.finditer(
                r"Workload finished .*?final_state=(?P<state>\w+) .*?workload_id=(?P<ti>[0-9a-f-]{36})",
                worker_log,
            )
        }
        missing = []
        for ti in tis:
            taken = f"ti=TaskInstanceDTO(id=UUID('{ti['id']}'), task_id='{ti['task_id']}', dag_id='{dag_id}'"
            if taken not in worker_log:
                missing.append(f"{ti['task_id']} ({ti['id']}) taken as a Celery workload")
            if finished.get(ti["id"]) != "success":
                missing.append(f"{ti['task_id']} ({ti['id']}) finished with final_state=success")
        return missing

    def stored_report(self, dag_id: str, run_id: str) -> report.StoredReport | None:
        engine = db.open_engine(self.state_url)
        try:
            return report.get_report(engine, dag_id=dag_id, run_id=run_id)
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def running_stack(tmp_path_factory) -> Iterator[RunningStack]:
    home = tmp_path_factory.mktemp("stack")
    databases = DatabaseFactory("postgresql", home)  # fails the test, saying so, without PostgreSQL
    airflow_url, state_url = make_url(databases.create()), make_url(databases.create())
    # The factory names them and drops them at the end; `start` must create them.
    server = db.open_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        for url in (airflow_url, state_url):
            connection.execute(text(f'DROP DATABASE "{url.database}"'))
    server.dispose()
    queue = f"intacct_stack_test_{uuid.uuid4().hex[:10]}"
    broker_db = empty_redis_db()
    ports = {option: free_port() for option in PORT_OPTIONS}
    api_port, sandbox_port = ports["--api-port"], ports["--sandbox-port"]
    args = [
        "--home",
        str(home),
        *(arg for option, port in ports.items() for arg in (option, str(port))),
        "--pg-url",
        PG_ADMIN_URL,
        "--airflow-db",
        airflow_url.database,
        "--state-db",
        state_url.database,
        "--redis-url",
        f"{BROKER_SERVER}/{broker_db}",
        "--queue",
        queue,
        "--worker-concurrency",
        "4",
        "--sandbox-customers",
        "200",
    ]
    records: list[stack.ProcessRecord] = []
    try:
        started = stack_command("start", *args)
        output = started.stdout + started.stderr
        records = [r for name in stack.STOP_ORDER if (r := stack.read_record(home, name))]
        assert started.returncode == 0, f"stack.py start failed ({started.returncode}):\n{output[-5000:]}"
        for url in (airflow_url, state_url):
            assert f"created database {url.database}" in output, output
        passwords = stack.passwords_path(home)
        assert f"http://127.0.0.1:{api_port}" in output and str(passwords) in output, output
        running = RunningStack(
            url=f"http://127.0.0.1:{api_port}",
            home=home,
            sandbox_url=f"http://127.0.0.1:{sandbox_port}",
            queue=queue,
            state_url=state_url.render_as_string(hide_password=False),
            start_args=args,
        )
        token = running.sign_in(admin_password(passwords))
        assert token.status_code in (200, 201), f"/auth/token: {token.status_code} {token.text[:300]}"
        yield running
    finally:
        stopped = stack_command("stop", "--home", str(home), timeout=180)
        left = [f"{r.name} (pid {r.pid})" for r in records if r.process() is not None]
        databases.drop_all()
        redis.Redis.from_url(f"{BROKER_SERVER}/{broker_db}").flushdb()
        assert stopped.returncode == 0, f"stack.py stop failed:\n{stopped.stdout}{stopped.stderr}"
        assert not left, f"still running after stack.py stop: {left}"
        assert not list((home / "pids").glob("*.json")), "stack.py stop left pid records behind"


def test_a_triggered_import_runs_on_the_celery_worker_and_stores_its_report(running_stack):
    customers = requests.get(
        f"{running_stack.sandbox_url}/_admin/records/CUSTOMER", params={"limit": 50}, timeout=30
    ).json()
    chosen = [c["CUSTOMERID"] for c in customers["records"] if c["STATUS"] == "active" and c["NAME"]][:2]
    assert len(chosen) == 2, f"the sandbox offered no two active customers: {customers}"
    running_stack.wait_for_dag(CLIENTS_DAG)
    running_stack.api("PATCH", f"/dags/{CLIENTS_DAG}", json={"is_paused": False})
    run = running_stack.api(
        "POST", f"/dags/{CLIENTS_DAG}/dagRuns", json={"logical_date": None, "conf": {"customer_ids": chosen}}
    )
    run_id = run["dag_run_id"]
    done = running_stack.wait_for_run(
        CLIENTS_DAG, lambda: running_stack.api("GET", running_stack.run_path(CLIENTS_DAG, run_id))
    )
    tis = running_stack.task_instances(CLIENTS_DAG, run_id)
    assert done["state"] == "success", f"{CLIENTS_DAG} {run_id} ended {done['state']}: " + ", ".join(
        f"{ti['task_id']}={ti['state']}" for ti in tis
    )
    ran = running_stack.assert_ran_on_the_celery_worker(CLIENTS_DAG, run_id)
    assert {"extract_customers", "choose_customers", "import_selected", "report"} <= {
        ti["task_id"] for ti in ran
    }

    stored = running_stack.stored_report(CLIENTS_DAG, run_id)
    assert stored is not None, f"the state database has no report for {CLIENTS_DAG} {run_id}"
    assert stored.status == "success" and stored.summary["outcome"]["created"] == 2, stored.markdown


def test_department_sync_gets_a_scheduled_run_from_the_scheduler(running_stack):
    def scheduled_run() -> dict | None:
        runs = running_stack.api("GET", f"/dags/{SYNC_DAG}/dagRuns", params={"run_type": "scheduled"})
        return next(iter(runs["dag_runs"]), None)

    running_stack.wait_for_dag(SYNC_DAG)
    run = running_stack.wait_for_run(SYNC_DAG, scheduled_run)
    assert run["run_type"] == "scheduled" and run["triggered_by"] == "timetable", run
    assert run["state"] == "success", f"{SYNC_DAG} {run['dag_run_id']} ended {run['state']}"
    running_stack.assert_ran_on_the_celery_worker(SYNC_DAG, run["dag_run_id"])
    stored = running_stack.stored_report(SYNC_DAG, run["dag_run_id"])
    assert stored is not None and stored.status == "success", stored and stored.markdown


def test_a_second_start_starts_nothing(running_stack):
    before = {name: stack.read_record(running_stack.home, name) for name in stack.STOP_ORDER}
    again = stack_command("start", *running_stack.start_args)
    output = again.stdout + again.stderr
    assert again.returncode == 0, output
    for name, record in before.items():
        assert record is not None and record.process() is not None, f"{name} is not running"
        assert f"{name}: already running (pid {record.pid})" in output, output
    assert "started (pid" not in output, output
    assert {name: stack.read_record(running_stack.home, name) for name in stack.STOP_ORDER} == before


@pytest.mark.parametrize("service", ["PostgreSQL", "Redis"])
def test_start_says_what_is_missing_when_a_server_does_not_answer(service, tmp_path):
    dead = f"127.0.0.1:{free_port()}"  # bound a moment ago, now closed: nothing listens there
    servers = {"--pg-url": PG_ADMIN_URL, "--redis-url": f"{BROKER_SERVER}/1"}
    if service == "PostgreSQL":
        servers["--pg-url"], advice = (
            f"postgresql+psycopg://postgres@{dead}/postgres",
            "apt-get install postgresql",
        )
    else:
        servers["--redis-url"], advice = f"redis://{dead}/1", "apt-get install redis-server"
    done = stack_command(
        "start",
        "--home",
        str(tmp_path),
        *(arg for pair in servers.items() for arg in pair),
        *(arg for option in PORT_OPTIONS for arg in (option, str(free_port()))),
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{service} is not answering on {dead}" in done.stderr, done.stderr
    assert advice in done.stderr, done.stderr
    assert not list((tmp_path / "pids").glob("*.json")), (
        f"a process was started although {service} is missing"
    )
