"""Real DAG runs with Forecast reached through its public REST API: the stand-in over loopback HTTP.

The client flows run the very tests of `test_client_dags` with the REST target; the department and
team-member flows are checked where REST differs: departments are linked by name (the API cannot create
them) and refused by name when Forecast has none of that name; team members are linked (named and
suggested) and imported through the selection step; the hourly sync reports a rename it cannot make
(the API cannot rename departments) and still marks deactivations. The API key appears in no report, no
staging row and no XCom.
"""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData, select
from tests.dags import test_client_dags as client_dags
from tests.dags.conftest import sandbox_company
from tests.dags.test_client_dags import latest, run, run_answering
from tests.dags.test_department_sync import SYNC, sync, synced
from tests.dags.test_team_dags import (
    active_departments,
    importable_users,
    linked,
    oracle_departments,
)

from intacct import links
from intacct.airflow.sync import NOT_RENAMED, TITLES
from intacct.forecast.target import NewDepartment, NewPerson

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def test_client_import_rerun_and_dry_run_over_rest(rest_pipeline):
    client_dags.test_import_rerun_and_dry_run(rest_pipeline)
    done = latest(rest_pipeline, "intacct_import_clients")
    assert "Forecast API calls:" in done.markdown


def test_client_link_refused_link_and_unlink_over_rest(rest_pipeline):
    client_dags.test_link_refused_link_and_unlink(rest_pipeline)


def test_client_import_survives_forecast_faults_without_a_duplicate(rest_pipeline):
    api = rest_pipeline.forecast_api
    wanted = [c["CUSTOMERID"] for c in rest_pipeline.customers(6)]
    for fault in (
        {"name": "drop_after_write", "method": "POST", "count": 2},
        {"name": "server_error", "method": "POST", "count": 1, "status": 502},
        {"name": "throttle", "method": "POST", "count": 1, "retry_after": 1},
        {"name": "html_error", "method": "GET", "count": 1},
    ):
        rest_pipeline.forecast._admin("POST", "faults", fault)
    assert run("intacct_import_clients", {"customer_ids": wanted}).state == "success"
    names = [c.name for c in rest_pipeline.forecast.list_clients()]
    expected = sorted(c["NAME"].strip() for c in rest_pipeline.customers(6))
    assert sorted(names) == expected  # each once, although two POSTs lost their answer
    assert len(links.links(rest_pipeline.state, "client")) == 6
    statuses = [r["status"] for r in rest_pipeline.forecast._admin("GET", "requests")["requests"]]
    assert {429, 502} <= set(statuses)
    assert api.api_key not in latest(rest_pipeline, "intacct_import_clients").markdown


def test_departments_are_linked_by_name_and_refused_by_name_without_a_match(rest_pipeline):
    departments = active_departments(rest_pipeline)
    with_match, without = departments[:3], departments[3]
    made = rest_pipeline.forecast.create_departments(
        [NewDepartment(d["TITLE"].upper()) for d in with_match]  # normalised names match
    )
    wanted = [d["DEPARTMENTID"] for d in with_match]

    refused = run("intacct_import_departments", {"department_ids": [*wanted, without["DEPARTMENTID"]]})
    assert refused.state == "failed"
    report = latest(rest_pipeline, "intacct_import_departments")
    assert report.status == "refused"
    assert without["DEPARTMENTID"] in report.markdown and without["TITLE"] in report.markdown
    assert "create it in Forecast first" in report.markdown
    assert linked(rest_pipeline, "department") == {}

    assert run("intacct_import_departments", {"department_ids": wanted}).state == "success"
    assert linked(rest_pipeline, "department") == dict(zip(wanted, [d.id for d in made], strict=True))
    done = latest(rest_pipeline, "intacct_import_departments")
    assert done.summary["outcome"]["linked_by_name"] == 3 and done.summary["outcome"]["created"] == 0
    assert "Linked by name" in done.markdown
    assert len(rest_pipeline.forecast.list_departments()) == 3  # nothing created


def test_department_selection_offers_only_those_forecast_has_and_names_the_rest(rest_pipeline):
    departments = active_departments(rest_pipeline)
    rest_pipeline.forecast.create_departments([NewDepartment(departments[0]["TITLE"])])
    assert run("intacct_import_departments", {"select_all": True}).state == "success"
    assert list(linked(rest_pipeline, "department")) == [departments[0]["DEPARTMENTID"]]
    report = latest(rest_pipeline, "intacct_import_departments")
    assert "create these" in report.markdown and departments[1]["DEPARTMENTID"] in report.markdown


def test_team_members_imported_over_rest_with_their_departments(rest_pipeline):
    departments = active_departments(rest_pipeline)
    rest_pipeline.forecast.create_departments([NewDepartment(d["TITLE"]) for d in departments])
    assert run("intacct_import_departments", {"select_all": True}).state == "success"
    users = importable_users(rest_pipeline)[:4]
    keys = [u["LOGINID"] for u in users]
    result = run(
        "intacct_import_team_members",
        {"user_ids": keys, "permission_level": "Manager", "assign_departments": True},
    )
    assert result.state == "success"
    people = {p.id: p for p in rest_pipeline.forecast.list_people()}
    person_links = linked(rest_pipeline, "person")
    assert sorted(person_links) == sorted(keys)
    manager = next(p.id for p in rest_pipeline.forecast.list_profiles() if p.name == "Manager")
    assert {people[pid].profile_id for pid in person_links.values()} == {manager}
    assert {people[pid].email.lower() for pid in person_links.values()} == {
        u["CONTACTINFO.EMAIL1"].lower() for u in users
    }
    rerun = run("intacct_import_team_members", {"user_ids": keys, "permission_level": "Manager"})
    assert rerun.state == "success" and len(rest_pipeline.forecast.list_people()) == len(people)


def test_the_api_key_is_in_no_report_staging_row_or_xcom(rest_pipeline):
    wanted = [c["CUSTOMERID"] for c in rest_pipeline.customers(2)]
    assert run("intacct_import_clients", {"customer_ids": wanted}).state == "success"
    key = rest_pipeline.forecast_api.api_key
    state = MetaData()
    state.reflect(rest_pipeline.state)
    with rest_pipeline.state.connect() as connection:
        for table in state.sorted_tables:
            for row in connection.execute(select(table)):
                assert key not in repr(tuple(row)), f"the API key is in {table.name}"
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        values = [repr(x.value) for x in session.scalars(select(XComModel))]
    assert values and not any(key in v for v in values)


def test_team_members_linked_by_name_and_by_suggestion_then_unlinked_over_rest(rest_pipeline):
    ada, alan = importable_users(rest_pipeline)[:2]
    profile = rest_pipeline.forecast.list_profiles()[0].id
    other, twin = rest_pipeline.forecast.create_people(
        [
            NewPerson("Forecast", "Only", "forecast.only@example.com", profile),
            NewPerson("Someone", "Else", alan["CONTACTINFO.EMAIL1"].upper(), profile),
        ]
    )
    before = rest_pipeline.forecast.list_people()

    named = run(
        "intacct_link_team_members",
        {"links": [{"forecast_person_id": other.id, "intacct_user_id": ada["LOGINID"]}]},
    )
    assert named.state == "success", latest(rest_pipeline, "intacct_link_team_members").markdown
    assert linked(rest_pipeline, "person") == {ada["LOGINID"]: other.id}

    suggested, offered = run_answering("intacct_link_team_members", {}, "choose_links", lambda o: o)
    assert suggested.state == "success", latest(rest_pipeline, "intacct_link_team_members").markdown
    assert any(o.startswith(f"{alan['LOGINID']} → Forecast person {twin.id} (95%") for o in offered)
    assert linked(rest_pipeline, "person") == {ada["LOGINID"]: other.id, alan["LOGINID"]: twin.id}

    assert run("intacct_link_team_members", {"unlink": [other.id, twin.id]}).state == "success"
    assert linked(rest_pipeline, "person") == {}
    assert rest_pipeline.forecast.list_people() == before  # linking never writes to Forecast's people


def test_team_members_chosen_in_the_selection_step_over_rest_get_profile_and_department(rest_pipeline):
    departments = active_departments(rest_pipeline)
    rest_pipeline.forecast.create_departments([NewDepartment(d["TITLE"]) for d in departments])
    assert run("intacct_import_departments", {"select_all": True}).state == "success"
    department_links = linked(rest_pipeline, "department")
    oracle = oracle_departments(rest_pipeline)
    # users whose employee sits in a linked department, so each pick has a department to check
    placed = [
        u["LOGINID"] for u in importable_users(rest_pipeline) if oracle[u["LOGINID"]] in department_links
    ]
    result, offered = run_answering(
        "intacct_import_team_members",
        {"permission_level": "Controller", "assign_departments": True},
        "choose_users",
        lambda options: [o for o in options if o in placed][:3],
    )
    chosen = [o for o in offered if o in placed][:3]
    assert result.state == "success", latest(rest_pipeline, "intacct_import_team_members").markdown
    assert len(chosen) == 3
    person_links = linked(rest_pipeline, "person")
    assert sorted(person_links) == sorted(chosen)
    controller = next(p.id for p in rest_pipeline.forecast.list_profiles() if p.name == "Controller")
    people = {p.id: p for p in rest_pipeline.forecast.list_people()}
    assert len(people) == 3
    for key, person_id in person_links.items():
        assert people[person_id].profile_id == controller, key
        assert people[person_id].department_id == department_links[oracle[key]], key

    rerun = run("intacct_import_team_members", {"user_ids": chosen, "permission_level": "Controller"})
    assert rerun.state == "success"
    assert latest(rest_pipeline, "intacct_import_team_members").summary["outcome"]["created"] == 0
    assert {p.id: p for p in rest_pipeline.forecast.list_people()} == people


class TestDepartmentSyncOverRest:
    @pytest.fixture
    def gateway(self):
        # A company of its own: the test changes its departments.
        with sandbox_company(seed=5, customers=20, departments=30, users=5) as server:
            yield server

    def test_a_rename_is_reported_for_forecast_and_a_deactivation_marks_the_link(self, rest_pipeline):
        departments = active_departments(rest_pipeline)[:6]
        rest_pipeline.forecast.create_departments([NewDepartment(d["TITLE"]) for d in departments])
        assert run("intacct_import_departments", {"select_all": True}).state == "success"
        assert sync(rest_pipeline).state == "success", latest(rest_pipeline, SYNC).markdown
        before = synced(rest_pipeline)
        forecast_ids = linked(rest_pipeline, "department")
        renamed, retired = sorted(before)[:2]
        store = rest_pipeline.gateway.store
        store.update("DEPARTMENT", renamed, {"TITLE": "Renamed in Intacct"})
        store.update("DEPARTMENT", retired, {"STATUS": "inactive"})

        assert sync(rest_pipeline).state == "success", latest(rest_pipeline, SYNC).markdown
        after = synced(rest_pipeline)
        assert after[renamed] == before[renamed]  # Forecast's name unchanged: the API cannot rename
        assert after[retired] == (before[retired][0], "inactive", before[retired][2])
        assert {k: v for k, v in after.items() if k not in (renamed, retired)} == {
            k: v for k, v in before.items() if k not in (renamed, retired)
        }
        done = latest(rest_pipeline, SYNC)
        assert done.summary["details"][NOT_RENAMED] == [
            f"{renamed} (Forecast department {forecast_ids[renamed]}): "
            f"renamed {before[renamed][0]!r} → 'Renamed in Intacct'"
        ]
        assert "rename these departments in Forecast" in done.markdown
        assert "**Renamed**" not in done.markdown  # nothing claims a rename that did not happen
        assert len(done.summary["details"][TITLES["deactivate"]]) == 1
