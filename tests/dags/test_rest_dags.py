"""Real DAG runs with Forecast reached through its public REST API: the stand-in over loopback HTTP.

The client flows run the very tests of `test_client_dags` with the REST target; the department and
team-member flows are checked where REST differs: departments are linked by name (the API cannot create
them) and refused by name when Forecast has none of that name. The API key appears in no report, no
staging row and no XCom.
"""

from __future__ import annotations

import pytest
from sqlalchemy import MetaData, select
from tests.dags import test_client_dags as client_dags
from tests.dags.test_client_dags import latest, run
from tests.dags.test_team_dags import active_departments, importable_users, linked

from intacct import links
from intacct.forecast.target import NewDepartment

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
