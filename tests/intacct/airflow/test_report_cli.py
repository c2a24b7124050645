from __future__ import annotations

import json

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
