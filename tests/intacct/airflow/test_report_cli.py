from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from intacct import report
from intacct.airflow import report_cli
from intacct.state import db, migrations


def test_prints_the_latest_report_and_refuses_csv_without_a_plan(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    engine = db.open_engine(url)
    migrations.upgrade(engine)
    report.update_report(engine, "intacct_link_clients", "run-9", "client", notes=["hello"])
    monkeypatch.setenv(
        "AIRFLOW_CONN_INTACCT_STATE_DB",
        json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "state.db")}),
    )

    assert report_cli.main([]) == 0
    assert "## intacct_link_clients — success" in capsys.readouterr().out

    assert report_cli.main(["--csv", str(tmp_path / "plan.csv")]) == 1
    assert "has no plan" in capsys.readouterr().err
    assert report_cli.main(["--id", "999"]) == 1
    engine.dispose()


REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_finds_the_state_db_connection_stored_in_airflows_database(tmp_path):
    """As on a deployment whose init stored the connections in Airflow's metadata database (compose)."""
    home = tmp_path / "airflow"
    home.mkdir()
    state = tmp_path / "stored-state.db"
    engine = db.open_engine(f"sqlite:///{state}")
    migrations.upgrade(engine)
    report.update_report(
        engine, "intacct_import_clients", "run-stored", "client", notes=["from the stored db"]
    )
    engine.dispose()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW__", "_AIRFLOW"))
    }
    env.update(AIRFLOW_HOME=str(home), PYTHONPATH=f"{REPO / 'plugins'}{os.pathsep}{REPO}")
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    # Without a sqlite provider the CLI stores a "sqlite" type as "generic": the URL goes in the extra.
    subprocess.run(
        [
            *airflow,
            "connections",
            "add",
            "intacct_state_db",
            "--conn-type",
            "generic",
            "--conn-extra",
            json.dumps({"sqlalchemy_url": f"sqlite:///{state}"}),
        ],
        env=env,
        check=True,
        capture_output=True,
    )

    shown = subprocess.run(
        [sys.executable, "-m", "intacct.airflow.report_cli"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    assert "## intacct_import_clients" in shown.stdout and "from the stored db" in shown.stdout
    assert not (home / "intacct_state.db").exists()  # not the embedded default
