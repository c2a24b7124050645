"""The hourly department sync, run for real with dag.test() against the sandbox, on SQLite and PostgreSQL:
departments are changed in Intacct between runs, and Forecast and the links are checked after each run."""

from __future__ import annotations

import pytest
from airflow.dag_processing.dagbag import DagBag
from tests.dags.conftest import sandbox_company
from tests.dags.test_client_dags import REPO_DAGS, latest, run
from tests.intacct.test_changes import load_unstamped_department, stamp

from intacct import links, sync_state

pytestmark = [pytest.mark.airflow, pytest.mark.slow]
SYNC = "intacct_department_sync"


@pytest.fixture
def gateway():
    # A company of its own per test: the tests change its departments.
    with sandbox_company(seed=5, customers=20, departments=30, users=5) as server:
        yield server


def run_without_task_retries(dag_id, conf):
    """A run whose failing task fails at once, instead of after its retries' minutes of back-off."""
    dag = DagBag(dag_folder=str(REPO_DAGS)).dags[dag_id]
    for task in dag.tasks:
        task.retries = 0
    return dag.test(run_conf=conf)


def later(pipeline, minutes=61):
    pipeline.gateway.store.clock.advance(minutes * 60)


def synced(pipeline) -> dict[str, tuple[str, str | None, str | None]]:
    """DEPARTMENTID → (Forecast name, link mark, parent on the link), for every linked department."""
    names = {d.id: d.name for d in pipeline.forecast.list_departments()}
    return {
        link.intacct_key: (names.get(link.forecast_id), link.source_state, link.intacct_parent)
        for link in links.links(pipeline.state, "department")
    }


def sync(pipeline, **conf):
    later(pipeline)
    return run(SYNC, conf)


def import_all(pipeline) -> list[str]:
    assert run("intacct_import_departments", {"select_all": True}).state == "success"
    first = sync(pipeline)  # the first run compares everything and records the parents
    assert first.state == "success", latest(pipeline, SYNC).markdown
    assert "full compare of every Intacct department (the first run)" in latest(pipeline, SYNC).markdown
    return sorted(synced(pipeline))


def test_renames_moves_deactivations_deletions_and_reactivations_follow_intacct(pipeline):
    keys = import_all(pipeline)
    store = pipeline.gateway.store
    records = {d["DEPARTMENTID"]: d for d in store.records("DEPARTMENT")}
    parent = next(k for k in keys if not records[k]["PARENTID"])  # the top: moving under it makes no cycle
    moved = next(k for k in keys if records[k]["PARENTID"] not in ("", parent))
    parents = {d["PARENTID"] for d in records.values()}
    deleted = next(k for k in keys if k not in parents and k not in (parent, moved))  # nothing refers to it
    renamed, retired = [k for k in keys if k not in (parent, moved, deleted)][:2]
    before = synced(pipeline)
    store.update("DEPARTMENT", renamed, {"TITLE": "Renamed in Intacct"})
    store.update("DEPARTMENT", moved, {"PARENTID": parent})
    store.update("DEPARTMENT", retired, {"STATUS": "inactive"})
    store.delete("DEPARTMENT", deleted)

    assert sync(pipeline).state == "success", latest(pipeline, SYNC).markdown
    after = synced(pipeline)
    assert after[renamed][0] == "Renamed in Intacct"
    assert after[moved][2] == parent
    assert after[retired][1] == "inactive" and after[retired][0] == before[retired][0]  # kept
    assert after[deleted][1] == "deleted" and after[deleted][0] == before[deleted][0]
    unchanged = {k: v for k, v in after.items() if k not in (renamed, moved, retired, deleted)}
    assert unchanged == {k: before[k] for k in unchanged}
    done = latest(pipeline, SYNC)
    assert done.summary["outcome"]["rename"] == 1 and done.summary["outcome"]["delete"] == 1
    assert "incremental" in done.markdown and "watermark before:" in done.markdown

    # back again: the rename is undone, the inactive one is active, the marks are cleared
    store.update("DEPARTMENT", renamed, {"TITLE": before[renamed][0]})
    store.update("DEPARTMENT", retired, {"STATUS": "active"})
    assert sync(pipeline).state == "success", latest(pipeline, SYNC).markdown
    again = synced(pipeline)
    assert again[renamed][0] == before[renamed][0]
    assert again[retired][1] is None

    # nothing changed: nothing to do, and the audit log holds every change of the two runs
    assert sync(pipeline).state == "success"
    assert latest(pipeline, SYNC).summary["outcome"] == dict.fromkeys(
        latest(pipeline, SYNC).summary["outcome"], 0
    )


def test_a_failed_run_loses_no_change_and_leaves_the_watermark(pipeline):
    keys = import_all(pipeline)
    watermark = sync_state.load(pipeline.state, "department").watermark
    pipeline.gateway.store.update("DEPARTMENT", keys[0], {"TITLE": "Changed while Intacct was down"})
    # Intacct goes down mid-run: the sign-in is answered, every request after it gets a 503.
    pipeline.gateway.ledger.reset()
    pipeline.gateway.faults.enable("server_error", status=503, nth=tuple(range(2, 10_000)))
    try:
        later(pipeline)
        failed = run_without_task_retries(SYNC, {})
    finally:
        pipeline.gateway.faults.disable("server_error")
    assert failed.state == "failed"
    ledger = pipeline.gateway.ledger
    assert ledger.calls("getAPISession", status="success") == 1 and ledger.requests() > 1  # down mid-run
    assert sync_state.load(pipeline.state, "department").watermark == watermark
    assert sync(pipeline).state == "success"
    assert synced(pipeline)[keys[0]][0] == "Changed while Intacct was down"
    assert sync_state.load(pipeline.state, "department").watermark > watermark


def test_the_guard_holds_back_a_mass_rename_until_its_token_approves_it(pipeline):
    keys = import_all(pipeline)
    many = keys[:10]
    for key in many:
        pipeline.gateway.store.update("DEPARTMENT", key, {"TITLE": f"Reorganised {key}"})
    before = synced(pipeline)

    held = sync(pipeline)
    assert held.state == "failed"
    refused = latest(pipeline, SYNC)
    assert refused.status == "refused"
    assert len(refused.summary["details"]["Held back by the mass-change guard"]) == 10
    token = refused.markdown.split("approve_change_set = ")[1][:16]
    assert synced(pipeline) == before  # nothing written

    assert sync(pipeline, approve_change_set="0" * 16).state == "failed"  # another token does nothing
    approved = sync(pipeline, approve_change_set=token)
    assert approved.state == "success", latest(pipeline, SYNC).markdown
    assert all(synced(pipeline)[k][0] == f"Reorganised {k}" for k in many)


def test_a_dry_run_reports_and_writes_nothing_and_audit_denied_falls_back_to_a_full_compare(pipeline):
    keys = import_all(pipeline)
    watermark = sync_state.load(pipeline.state, "department").watermark
    pipeline.gateway.store.update("DEPARTMENT", keys[0], {"TITLE": "Dry"})
    before = synced(pipeline)
    assert sync(pipeline, dry_run=True).state == "success"
    assert synced(pipeline) == before
    assert "Would be: Renamed" in latest(pipeline, SYNC).markdown
    assert sync_state.load(pipeline.state, "department").watermark == watermark

    parents = {d["PARENTID"] for d in pipeline.gateway.store.records("DEPARTMENT")}
    leaf = next(k for k in keys[1:] if k not in parents)  # a department nothing refers to can be deleted
    pipeline.gateway.faults.enable("audit_denied")
    try:
        pipeline.gateway.store.delete("DEPARTMENT", leaf)
        assert sync(pipeline).state == "success", latest(pipeline, SYNC).markdown
    finally:
        pipeline.gateway.faults.disable("audit_denied")
    text = latest(pipeline, SYNC).markdown
    assert "deletions could not be read from AUDITHISTORY" in text
    assert synced(pipeline)[leaf][1] == "deleted"  # found by the full compare
    assert synced(pipeline)[keys[0]][0] == "Dry"


def test_people_synced_with_assign_departments_follow_their_employee_to_another_department(pipeline):
    keys = import_all(pipeline)
    assert (
        run(
            "intacct_import_team_members",
            {"select_all": True, "permission_level": "Collaborator", "assign_departments": True},
        ).state
        == "success"
    )
    store = pipeline.gateway.store
    users = {u["LOGINID"]: u for u in store.records("USERINFO")}
    person_links = {link.intacct_key: link.forecast_id for link in links.links(pipeline.state, "person")}
    department_links = {
        link.intacct_key: link.forecast_id for link in links.links(pipeline.state, "department")
    }
    employees = {e["CONTACTKEY"]: e for e in store.records("EMPLOYEE") if not e["MEGAENTITYID"]}
    mover = next(k for k in sorted(person_links) if users[k]["CONTACTKEY"] in employees)
    employee = employees[users[mover]["CONTACTKEY"]]
    destination = next(k for k in keys if k != employee["DEPARTMENTID"])
    store.update("EMPLOYEE", employee["EMPLOYEEID"], {"DEPARTMENTID": destination})

    assert sync(pipeline).state == "success", latest(pipeline, SYNC).markdown
    departments = {p.id: p.department_id for p in pipeline.forecast.list_people()}
    assert departments[person_links[mover]] == department_links[destination]
    done = latest(pipeline, SYNC)
    assert done.summary["outcome"]["reassign"] == 1
    assert f"{mover} (Forecast person {person_links[mover]})" in done.markdown


def test_a_rename_landing_while_the_run_reads_is_applied_by_the_next_run(pipeline):
    keys = import_all(pipeline)
    store = pipeline.gateway.store
    first, second = keys[0], keys[1]
    store.update("DEPARTMENT", first, {"TITLE": "Renamed before the run"})

    def while_paging(store):
        # The run has read its page of changes: this rename lands behind its cursor.
        store.clock.advance(30)
        store.update("DEPARTMENT", second, {"TITLE": "Renamed while the run was reading"})

    pipeline.gateway.faults.enable("data_change", object="DEPARTMENT", after_pages=1, action=while_paging)
    try:
        assert sync(pipeline).state == "success", latest(pipeline, SYNC).markdown
    finally:
        pipeline.gateway.faults.disable("data_change")
    names = synced(pipeline)
    assert names[first][0] == "Renamed before the run"
    assert names[second][0] != "Renamed while the run was reading"  # not seen by this run...
    watermark = sync_state.load(pipeline.state, "department").watermark
    assert watermark < stamp_of(store, second)  # ...and the watermark stays before it

    assert sync(pipeline).state == "success", latest(pipeline, SYNC).markdown
    assert synced(pipeline)[second][0] == "Renamed while the run was reading"  # ...so the next run has it
    assert latest(pipeline, SYNC).summary["outcome"]["rename"] == 1


def test_a_department_without_whenmodified_is_read_by_its_whencreated_and_left_alone_until_imported(pipeline):
    keys = import_all(pipeline)
    store = pipeline.gateway.store
    before = synced(pipeline)
    forecast_departments = len(pipeline.forecast.list_departments())
    later(pipeline)
    created = load_unstamped_department(store)

    assert sync(pipeline).state == "success", latest(pipeline, SYNC).markdown
    assert "incremental" in latest(pipeline, SYNC).markdown
    assert sync_state.load(pipeline.state, "department").watermark == created  # its WHENCREATED
    assert synced(pipeline) == before  # not linked: the sync never touches it
    assert len(pipeline.forecast.list_departments()) == forecast_departments

    assert run("intacct_import_departments", {"department_ids": ["D-UNSTAMPED"]}).state == "success"
    store.update("DEPARTMENT", "D-UNSTAMPED", {"TITLE": "Stamped at last"})
    assert sync(pipeline).state == "success", latest(pipeline, SYNC).markdown
    assert synced(pipeline)["D-UNSTAMPED"][0] == "Stamped at last"
    assert set(synced(pipeline)) == {*keys, "D-UNSTAMPED"}


def stamp_of(store, department_id: str):
    return stamp(store.get("DEPARTMENT", department_id)["WHENMODIFIED"])
