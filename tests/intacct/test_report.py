from __future__ import annotations

import csv
import io
import sqlite3
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, insert, select

from intacct import plan, report, snapshot, staging
from intacct.forecast.sql import SqlForecastTarget, ensure_forecast_schema
from intacct.forecast.target import NewClient, NewDepartment, NewPerson
from intacct.objects import CUSTOMER, DEPARTMENT, USERINFO
from intacct.state import migrations
from intacct.state.schema import intacct_link, run_report, stg_forecast_person


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


def test_the_lists_csv_has_every_item_of_every_list(state_engine):
    keys = [f"C{n}" for n in range(40)]
    report_id = report.update_report(
        state_engine, "d", "r", "client", details={"Imported": keys}, suggestions=["s1"], notes=["n1", "n2"]
    )
    out = io.StringIO()
    assert report.write_lists_csv(report.get_report(state_engine, report_id), out) == 43
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["list", "item"]
    assert rows[1:] == [
        *(["Imported", key] for key in keys),
        ["Suggested links", "s1"],
        ["Notes", "n1"],
        ["Notes", "n2"],
    ]


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


# -- concurrent updates --------------------------------------------------------------------------------

THREADS, UPDATES = 8, 20
# Each thread replaces a section of its own (two of them different lists under `details`) and adds notes.
OWN_SECTION = {
    0: lambda j: {"plan_counts": {"importable": j}},
    1: lambda j: {"outcome": {"created": j}},
    2: lambda j: {"suggestions": [f"s{j}"]},
    3: lambda j: {"api_usage": f"calls {j}"},
    4: lambda j: {"readiness": [f"r{j}"]},
    5: lambda j: {"batch": {"id": j}},
    6: lambda j: {"details": {"Imported": [f"i{j}"]}},
    7: lambda j: {"details": {"Skipped": [f"k{j}"]}},
}


def test_concurrent_updates_of_one_run_lose_nothing(state_engine):
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def work(thread: int) -> None:
        try:
            start.wait()
            for j in range(UPDATES):
                report.update_report(
                    state_engine, "d", "run-1", "client", notes=[f"t{thread}-{j}"], **OWN_SECTION[thread](j)
                )
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    with state_engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(run_report)).scalar_one() == 1
    summary = report.get_report(state_engine, dag_id="d", run_id="run-1").summary
    notes = summary["notes"]
    assert len(notes) == THREADS * UPDATES
    assert set(notes) == {f"t{t}-{j}" for t in range(THREADS) for j in range(UPDATES)}
    for t in range(THREADS):  # one thread's notes stay in the order it wrote them
        assert [n for n in notes if n.startswith(f"t{t}-")] == [f"t{t}-{j}" for j in range(UPDATES)]
    last = UPDATES - 1
    assert summary["plan_counts"] == {"importable": last}
    assert summary["outcome"] == {"created": last}
    assert summary["suggestions"] == [f"s{last}"]
    assert summary["api_usage"] == f"calls {last}"
    assert summary["readiness"] == [f"r{last}"]
    assert summary["batch"] == {"id": last}
    assert summary["details"] == {"Imported": [f"i{last}"], "Skipped": [f"k{last}"]}


@pytest.mark.parametrize("existing", [False, True], ids=["first-writers", "existing-report"])
def test_a_second_writer_waits_for_the_first_and_merges_into_its_result(state_engine, monkeypatch, existing):
    if existing:
        report.update_report(state_engine, "d", "r", "client")
    holding, release = threading.Event(), threading.Event()
    render = report.render_markdown

    def render_slowly(run_report_: report.RunReport) -> str:
        # The first writer stops here, its merge done and not yet written, its transaction open.
        if run_report_.notes == ["first"]:
            holding.set()
            assert release.wait(10)
        return render(run_report_)

    monkeypatch.setattr(report, "render_markdown", render_slowly)
    first = threading.Thread(
        target=report.update_report, args=(state_engine, "d", "r", "client"), kwargs={"notes": ["first"]}
    )
    second = threading.Thread(
        target=report.update_report, args=(state_engine, "d", "r", "client"), kwargs={"notes": ["second"]}
    )
    first.start()
    assert holding.wait(10)
    second.start()
    second.join(0.5)
    assert second.is_alive()  # it waits, before reading what the first is about to write
    release.set()
    first.join(10)
    second.join(10)
    assert not first.is_alive() and not second.is_alive()

    assert report.get_report(state_engine, dag_id="d", run_id="r").summary["notes"] == ["first", "second"]


def _another_writer_can_start(path: str) -> bool:
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)
        return False
    finally:
        probe.close()


def test_on_sqlite_the_write_lock_is_taken_before_the_report_is_read(tmp_path, make_engine):
    path = str(tmp_path / "state.db")
    engine = make_engine(f"sqlite:///{path}")
    migrations.upgrade(engine)
    empty = report.RunReport("d", "r", "client")

    # Why the write comes first: pysqlite opens its transaction at the first write, so a read takes no lock.
    with engine.begin() as connection:
        connection.execute(select(run_report)).all()
        assert _another_writer_can_start(path)
    for case in ("creates the report", "finds it: the insert does nothing, yet locks"):
        with engine.begin() as connection:
            report._locked_report(connection, empty)
            assert not _another_writer_can_start(path), case
        assert _another_writer_can_start(path), case


# -- readable reports: names beside ids ----------------------------------------------------------------


@pytest.fixture
def forecast(make_engine, empty_database_url):
    engine = make_engine(empty_database_url)
    ensure_forecast_schema(engine)
    return SqlForecastTarget(engine)


def stage(state_engine, spec, records):
    batch_id = staging.begin_batch(state_engine, spec, "full", "test")
    staging.insert_rows(state_engine, spec, batch_id, [spec.to_row(r, UTC) for r in records])
    staging.complete_batch(state_engine, spec, batch_id, api_calls=1, watermark=None)
    return batch_id


def make_plan(state_engine, forecast, entity_type, spec, records):
    batch_id = stage(state_engine, spec, records)
    snap = snapshot.take_snapshot(forecast, state_engine, run_id="test")
    return plan.build_plan(state_engine, entity_type, batch_id=batch_id, snapshot_id=snap.id)


def test_describe_names_records_beside_their_ids():
    assert report.describe("C1001", "Acme Corp") == "C1001 Acme Corp"
    assert report.describe("C1001", None) == "C1001"
    assert report.describe_forecast("client", 1, "ACME Corp.") == "Forecast client 1 'ACME Corp.'"
    assert report.describe_forecast("department", 3, "Sales") == "Forecast department 3 'Sales'"
    assert report.describe_forecast("person", 7, "Ada Lovelace") == "Forecast person 7 'Ada Lovelace'"
    assert report.describe_forecast("person", 7, None) == "Forecast person 7"


def test_client_suggestions_name_both_sides(state_engine, forecast):
    (acme,) = (c.id for c in forecast.create_clients([NewClient(name="ACME Corp.")]))
    result = make_plan(
        state_engine,
        forecast,
        "client",
        CUSTOMER,
        [
            {"RECORDNO": "1", "CUSTOMERID": "C1001", "NAME": "Acme Corp", "STATUS": "active"},
            {"RECORDNO": "2", "CUSTOMERID": "C1002", "NAME": "Globex", "STATUS": "active"},
        ],
    )
    (line,) = report.suggestions(state_engine, result.plan_id)
    assert line.startswith(f"C1001 Acme Corp → Forecast client {acme} 'ACME Corp.' (90%: same name")
    assert line.endswith(f"as Forecast record {acme})")
    assert report.intacct_names(state_engine, result.plan_id, ["C1001", "C1002", "NOPE"]) == {
        "C1001": "Acme Corp",
        "C1002": "Globex",
    }
    assert report.forecast_names(state_engine, result.plan_id, [acme, 999_999]) == {acme: "ACME Corp."}


def test_department_and_person_names(state_engine, forecast):
    (sales,) = (d.id for d in forecast.create_departments([NewDepartment("Sales")]))
    departments = make_plan(
        state_engine,
        forecast,
        "department",
        DEPARTMENT,
        [{"RECORDNO": "1", "DEPARTMENTID": "D1", "TITLE": "SALES", "STATUS": "active"}],
    )
    assert report.suggestions(state_engine, departments.plan_id)[0].startswith(
        f"D1 SALES → Forecast department {sales} 'Sales' (90%:"
    )

    profile = forecast.list_profiles()[0].id
    (ada,) = (
        p.id for p in forecast.create_people([NewPerson("Ada", "Lovelace", "ada@example.com", profile)])
    )
    people = make_plan(
        state_engine,
        forecast,
        "person",
        USERINFO,
        [
            {
                "RECORDNO": "1",
                "LOGINID": "ada",
                "STATUS": "active",
                "LOGINDISABLED": "false",
                "CONTACTINFO.FIRSTNAME": "Ada",
                "CONTACTINFO.LASTNAME": "Lovelace",
                "CONTACTINFO.EMAIL1": "ada@example.com",
            },
            {"RECORDNO": "2", "LOGINID": "ops", "STATUS": "active", "CONTACTINFO.EMAIL1": "ops@example.com"},
        ],
    )
    assert report.suggestions(state_engine, people.plan_id)[0].startswith(
        f"ada Ada Lovelace → Forecast person {ada} 'Ada Lovelace' (95%: same email"
    )
    assert report.intacct_names(state_engine, people.plan_id, ["ada", "ops"]) == {
        "ada": "Ada Lovelace",
        "ops": "ops@example.com",  # no name: the email
    }
    # A Forecast person without a name (Forecast's API allows it) goes by email.
    header = plan.plan_header(state_engine, people.plan_id)
    with state_engine.begin() as connection:
        connection.execute(
            insert(stg_forecast_person).values(
                snapshot_id=header["forecast_snapshot_id"], forecast_id=424242, email="robot@example.com"
            )
        )
    assert report.forecast_names(state_engine, people.plan_id, [ada, 424242]) == {
        ada: "Ada Lovelace",
        424242: "robot@example.com",
    }


def test_names_cost_one_query_per_chunk_of_ids(state_engine, forecast):
    (acme,) = (c.id for c in forecast.create_clients([NewClient(name="ACME")]))
    result = make_plan(
        state_engine,
        forecast,
        "client",
        CUSTOMER,
        [{"RECORDNO": "1", "CUSTOMERID": "C1", "NAME": "Acme", "STATUS": "active"}],
    )
    keys = [f"C{n}" for n in range(1, 2 * staging.IN_CHUNK + 2)]  # three chunks
    ids = [acme, *range(10_000, 10_000 + staging.IN_CHUNK)]  # two chunks
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(state_engine, "before_cursor_execute", count)
    try:
        assert report.intacct_names(state_engine, result.plan_id, keys) == {"C1": "Acme"}
        assert len(statements) == 1 + 3  # the plan's header, then one query per chunk of keys
        statements.clear()
        assert report.forecast_names(state_engine, result.plan_id, ids) == {acme: "ACME"}
        assert len(statements) == 1 + 2
        statements.clear()
        assert report.intacct_names(state_engine, result.plan_id, []) == {}
        assert report.forecast_names(state_engine, result.plan_id, []) == {}
        assert statements == []
    finally:
        event.remove(state_engine, "before_cursor_execute", count)


# -- readable reports: the result table ----------------------------------------------------------------

IMPORT_COUNTS = {
    "created": 2,
    "recovered": 0,
    "skipped_linked": 1,
    "without_department": 0,
    "department_updates": 0,
}


def _markdown(entity_type, outcome, *, dry_run=False):
    run = report.RunReport("d", "r", entity_type, dry_run=dry_run, outcome=outcome)
    return report.render_markdown(run)


def test_a_real_run_says_what_it_did_and_leaves_out_what_does_not_apply():
    markdown = _markdown("client", IMPORT_COUNTS)
    assert "| result | records |\n|---|---:|\n| imported | 2 |\n| skipped: already linked | 1 |\n" in markdown
    assert "department" not in markdown and "recovered" not in markdown and "created" not in markdown

    # Department counts apply to team members only; a client run never shows them, even if set.
    assert "department" not in _markdown("client", {**IMPORT_COUNTS, "department_updates": 3})
    person = _markdown("person", {**IMPORT_COUNTS, "recovered": 1, "without_department": 3})
    assert "| recovered from an interrupted run | 1 |" in person
    assert "| imported without a department | 3 |" in person
    assert "department assignments changed" not in person  # 0, and not the answer
    assert "| department assignments changed | 4 |" in _markdown("person", {"department_updates": 4})


def test_a_dry_run_says_what_would_happen():
    markdown = _markdown(
        "person", {**IMPORT_COUNTS, "without_department": 3, "department_updates": 1}, dry_run=True
    )
    assert "| would import | 2 |" in markdown
    assert "| would skip: already linked | 1 |" in markdown
    assert "| would import without a department | 3 |" in markdown
    assert "| would change department assignments | 1 |" in markdown
    assert "| imported |" not in markdown
    links = _markdown("client", {"linked": 2, "unlinked": 1}, dry_run=True)
    assert "| would link | 2 |" in links and "| would unlink | 1 |" in links
    assert "| linked |" not in links


def test_the_answer_stays_at_zero_and_unknown_counts_keep_their_key():
    assert "| imported | 0 |" in _markdown("client", {"created": 0})
    links = _markdown("client", {"linked": 0, "unlinked": 0})
    assert "| linked | 0 |" in links and "unlinked" not in links
    assert "| unlinked | 1 |" in _markdown("client", {"linked": 0, "unlinked": 1})
    assert "| mystery | 0 |" in _markdown("client", {"mystery": 0})
    assert "| result |" not in _markdown("client", {"recovered": 0})  # nothing left: no table
    assert report.outcome_rows(report.RunReport("d", "r", "person", outcome=IMPORT_COUNTS)) == [
        ("imported", 2),
        ("skipped: already linked", 1),
    ]


def test_departments_linked_by_name_and_the_syncs_counts_read_as_words():
    # every import counts linked_by_name; it shows only when departments were linked by name
    assert "linked_by_name" not in _markdown("client", {**IMPORT_COUNTS, "linked_by_name": 0})
    assert "linked by name" not in _markdown("department", {**IMPORT_COUNTS, "linked_by_name": 0})
    by_name = _markdown("department", {"created": 0, "linked_by_name": 3})
    assert "| linked by name (the target cannot create them) | 3 |" in by_name
    assert "| would link by name | 3 |" in _markdown("department", {"linked_by_name": 3}, dry_run=True)

    sync = {"rename": 2, "move": 0, "deactivate": 1, "delete": 0, "reactivate": 0, "orphan": 1}
    markdown = _markdown("department", {**sync, "unknown_status": 0, "reassign": 4})
    assert "| renamed in Intacct | 2 |" in markdown and "| made inactive in Intacct | 1 |" in markdown
    assert "| orphan links (deleted in Forecast) | 1 |" in markdown
    assert "| team members re-assigned | 4 |" in markdown
    assert "moved" not in markdown and "| rename |" not in markdown  # zeros left out, no raw keys
    dry = _markdown("department", {**sync, "reassign": 4}, dry_run=True)
    assert "| renamed in Intacct | 2 |" in dry and "| would re-assign team members | 4 |" in dry


def test_people_imported_into_their_department_are_counted_for_team_members_only():
    person = _markdown("person", {**IMPORT_COUNTS, "assigned_departments": 5})
    assert "| imported into their Intacct department | 5 |" in person
    dry = _markdown("person", {**IMPORT_COUNTS, "assigned_departments": 5}, dry_run=True)
    assert "| would import into their Intacct department | 5 |" in dry
    assert "department" not in _markdown("client", {**IMPORT_COUNTS, "assigned_departments": 5})
