from __future__ import annotations

import io
from datetime import UTC, datetime

from sqlalchemy import insert

from intacct import report
from intacct.schema import intacct_link


def test_a_run_report_accumulates_sections_and_renders_markdown(state_engine):
    report_id = report.update_report(state_engine, "intacct_import_clients", "run-1", "client", dry_run=True)
    report.update_report(
        state_engine,
        "intacct_import_clients",
        "run-1",
        "client",
        plan_counts={"importable": 3, "conflict": 1},
        details={"Imported": ["C1", "C2"]},
        notes=["first note"],
    )
    same = report.update_report(
        state_engine,
        "intacct_import_clients",
        "run-1",
        "client",
        details={"Imported": ["C3"]},
        notes=["second"],
    )
    assert same == report_id

    stored = report.get_report(state_engine, report_id)
    assert stored.summary["details"] == {"Imported": ["C3"]}  # a task that runs again replaces its list
    assert stored.summary["notes"] == ["first note", "second"]
    assert "## intacct_import_clients — success (dry run: nothing was written)" in stored.markdown
    assert "| importable | 3 |" in stored.markdown and "- C3" in stored.markdown
    assert report.get_report(state_engine, dag_id="intacct_import_clients").id == report_id
    assert report.get_report(state_engine, dag_id="other") is None


def test_long_lists_are_cut_with_a_pointer_to_the_csv(state_engine):
    keys = [f"C{n}" for n in range(40)]
    report_id = report.update_report(state_engine, "d", "r", "client", details={"Imported": keys})
    markdown = report.get_report(state_engine, report_id).markdown
    assert "**Imported** (40):" in markdown
    assert f"- … and {40 - report.MAX_LISTED} more (the report's CSV export lists them all)" in markdown
    assert "- C39" not in markdown


def test_readiness_says_clients_come_first(state_engine):
    assert report.readiness(state_engine)[0] == "clients linked: 0 — link or import clients first"
    with state_engine.begin() as connection:
        connection.execute(
            insert(intacct_link).values(
                entity_type="client",
                forecast_id=1,
                intacct_key="C1",
                origin="link",
                linked_at=datetime.now(UTC),
            )
        )
    assert report.readiness(state_engine)[0] == "clients linked: 1"


def test_plan_csv_has_a_header_and_every_row(state_engine):
    out = io.StringIO()
    assert report.write_plan_csv(state_engine, 12345, out) == 0
    assert out.getvalue().splitlines() == [
        "intacct_key,intacct_recordno,forecast_id,action,reason,confidence,changed_fields"
    ]
