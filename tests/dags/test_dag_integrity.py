"""Every file in dags/ parses, follows the team's conventions, and touches nothing outside at import."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_"))

# Connections that point nowhere: a DAG file that reaches out at import time fails loudly below.
UNREACHABLE = {
    "AIRFLOW_CONN_INTACCT_DEFAULT": json.dumps({"conn_type": "http", "host": "127.0.0.1", "port": 9}),
    "AIRFLOW_CONN_INTACCT_STATE_DB": json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": 9}),
    "AIRFLOW_CONN_FORECAST_DB": json.dumps({"conn_type": "postgres", "host": "127.0.0.1", "port": 9}),
}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    with pytest.MonkeyPatch.context() as mp:
        for key, value in UNREACHABLE.items():
            mp.setenv(key, value)
        return DagBag(dag_folder=str(REPO / "dags"))


def test_dags_folder_has_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_every_dag_file_defines_a_dag(dagbag, dag_file):
    assert [d for d in dagbag.dags.values() if Path(d.fileloc) == dag_file], f"{dag_file.name} defines no DAG"


def _dag_ids():
    from airflow.dag_processing.dagbag import DagBag

    return sorted(DagBag(dag_folder=str(REPO / "dags")).dag_ids) if DAG_FILES else []


@pytest.mark.parametrize("dag_id", _dag_ids())
def test_dag_follows_conventions(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert dag.tags, f"{dag_id} has no tags"
    assert dag.doc_md and len(dag.doc_md.strip()) > 40, f"{dag_id} has no doc_md worth reading"
    owners = {task.owner for task in dag.tasks}
    assert owners and "airflow" not in owners, f"{dag_id} tasks need a real owner, got {owners}"


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_imports_without_network_or_database(dag_file):
    # A fresh interpreter where any socket connection or engine creation raises: parsing a DAG file runs
    # on every scheduler loop, so it must be pure wiring.
    probe = textwrap.dedent(
        f"""
        import runpy, socket, sqlite3, sys
        import psycopg
        sys.path[:0] = [{str(REPO / "plugins")!r}, {str(REPO / "dags")!r}]
        def refuse(*a, **k):
            raise RuntimeError("DAG file touched the network or a database at import time")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        sqlite3.connect = refuse
        psycopg.connect = refuse
        runpy.run_path({str(dag_file)!r}, run_name="dag_import_probe")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_airflow_does_not_load_the_library_as_plugin_files():
    # Airflow imports every .py under plugins/ by its bare file name unless ignored; our gateway/requests.py
    # would then replace the `requests` library in every Airflow process (a real outage seen in standalone).
    probe = textwrap.dedent(
        """
        import sys
        from airflow import plugins_manager
        plugins_manager.ensure_plugins_loaded()
        import requests
        shadowed = [m for m in ("requests", "sql", "db", "tasks", "hooks") if "/plugins/" in (getattr(sys.modules.get(m), "__file__", "") or "")]
        print(shadowed)
        sys.exit(1 if shadowed else 0)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
