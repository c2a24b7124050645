"""What the DAG benchmarks share: their work directory, a throwaway Airflow home and its environment, a
library call timed where a task makes it, and a run's timings read back from Airflow's metadata database."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import bench_extract
from bench_extract import REPO, ScratchPostgres

AIRFLOW = Path(sys.executable).with_name("airflow")


@contextmanager
def bench_workdir(prefix: str, *, keep: bool) -> Iterator[tuple[Path, list[ScratchPostgres]]]:
    """A benchmark's work directory (its Airflow home goes in `airflow_home/`) and the list its scratch
    PostgreSQL databases are added to: dropped and removed afterwards (unless `keep`), a SIGTERM too."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # sys.exit runs the finally below
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    scratch: list[ScratchPostgres] = []
    try:
        yield workdir, scratch
    finally:
        for database in scratch:
            database.drop()
        if keep:
            print(f"kept {workdir} (the Airflow home, the SQLite databases, airflow.log)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def sql_connection(url: str) -> str:
    """An Airflow connection (AIRFLOW_CONN_* JSON) holding a SQLAlchemy URL, as the state DB's is."""
    return json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": url}})


def airflow_env(
    home: Path, gateway, state_url: str, slots: int, forecast: Mapping[str, str]
) -> dict[str, str]:
    """The environment of a child running the repository's DAGs against `gateway` (a sandbox
    `GatewayServer`) and the state database `state_url`; `forecast` adds how Forecast is reached (the
    SQL target's connection, or FORECAST_TARGET=rest and the REST connection)."""
    return {
        **bench_extract._child_env(),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "INTACCT_API_SLOTS": str(slots),  # the tasks' pool slots and the extraction's requests in flight
        "AIRFLOW_CONN_INTACCT_DEFAULT": json.dumps(gateway.airflow_connection(slots=slots)),
        "AIRFLOW_CONN_INTACCT_STATE_DB": sql_connection(state_url),
        **forecast,
    }


def prepare_airflow_home(env: Mapping[str, str], slots: int) -> None:
    """`airflow db migrate` and the `intacct_api` pool in the home `env` names."""
    for command in (["db", "migrate"], ["pools", "set", "intacct_api", str(slots), "Intacct API"]):
        done = subprocess.run([str(AIRFLOW), *command], env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"airflow {' '.join(command)} failed:\n{done.stderr[-3000:]}")


def time_calls(
    module: Any, name: str, *, probe: Callable[..., Callable[[], Any]] | None = None
) -> dict[str, Any]:
    """Wrap `module.name` so each call records its seconds in the returned dict (the last call's win).
    `probe(*args, **kwargs)` runs before the call and returns a function run after it, whose result is
    kept as "probe" (e.g. the calls the call made). Wrap before the DAGs are parsed."""
    timed: dict[str, Any] = {}
    function = getattr(module, name)

    def wrapper(*args, **kwargs):
        after = probe(*args, **kwargs) if probe else None
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            timed["seconds"] = time.perf_counter() - started
            if after:
                timed["probe"] = after()

    setattr(module, name, wrapper)
    return timed


def _instant(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def dag_run_timings(home: Path, dag_id: str) -> dict:
    """The newest run of `dag_id` in Airflow's metadata database: its run id, start, end and tasks."""
    with sqlite3.connect(home / "airflow.db") as metadata:
        run_id, started, ended = metadata.execute(
            "SELECT run_id, start_date, end_date FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1",
            (dag_id,),
        ).fetchone()
        rows = metadata.execute(
            "SELECT task_id, start_date, end_date, state FROM task_instance WHERE dag_id = ? AND run_id = ?",
            (dag_id, run_id),
        ).fetchall()
    tasks = {
        task_id: {"start": _instant(start), "end": _instant(end), "state": state}
        for task_id, start, end, state in rows
    }
    return {"run_id": run_id, "start": _instant(started), "end": _instant(ended), "tasks": tasks}
