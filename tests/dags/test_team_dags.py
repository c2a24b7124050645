"""Real runs of the department and team-member DAGs with dag.test(), against the sandbox, on both backends:
imports with ids, through the selection step, dry runs, reruns, department assignment checked against an
oracle of the sandbox's own records, links (named, suggested and chosen, unlink, relink) and refusals."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import ParamValidationError
from tests.dags.test_client_dags import latest, run, run_answering

from intacct import links
from intacct.forecast.target import NewPerson

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def active_departments(pipeline) -> list[dict]:
    return sorted(
        (d for d in pipeline.gateway.store.records("DEPARTMENT") if d["STATUS"] == "active"),
        key=lambda d: d["DEPARTMENTID"],
    )


def importable_users(pipeline) -> list[dict]:
    """Active users who can sign in and whose email is their own (the plan's importable ones)."""
    users = pipeline.gateway.store.records("USERINFO")
    emails = [u["CONTACTINFO.EMAIL1"].lower() for u in users if u["CONTACTINFO.EMAIL1"]]
    return sorted(
        (
            u
            for u in users
            if u["STATUS"] == "active"
            and u["LOGINDISABLED"] == "false"
            and u["CONTACTINFO.EMAIL1"]
            and emails.count(u["CONTACTINFO.EMAIL1"].lower()) == 1
        ),
        key=lambda u: u["LOGINID"],
    )


def linked(pipeline, entity_type) -> dict[str, int]:
    return {link.intacct_key: link.forecast_id for link in links.links(pipeline.state, entity_type)}


# -- departments ------------------------------------------------------------------------------------


def test_department_import_with_ids_dry_run_and_rerun(pipeline):
    wanted = [d["DEPARTMENTID"] for d in active_departments(pipeline)[:3]]

    dry = run("intacct_import_departments", {"department_ids": wanted, "dry_run": True})
    assert dry.state == "success"
    assert pipeline.forecast.list_departments() == []
    dry_report = latest(pipeline, "intacct_import_departments")
    assert dry_report.summary["outcome"]["created"] == 3 and "would import" in dry_report.markdown

    assert run("intacct_import_departments", {"department_ids": wanted}).state == "success"
    titles = {d["DEPARTMENTID"]: d["TITLE"] for d in active_departments(pipeline)}
    names = {d.id: d.name for d in pipeline.forecast.list_departments()}
    assert {k: names[f] for k, f in linked(pipeline, "department").items()} == {k: titles[k] for k in wanted}
    done = latest(pipeline, "intacct_import_departments")
    assert f"{wanted[0]} {titles[wanted[0]]}" in done.markdown  # names beside ids

    assert run("intacct_import_departments", {"department_ids": wanted}).state == "success"
    rerun = latest(pipeline, "intacct_import_departments")
    assert rerun.summary["outcome"]["created"] == 0 and rerun.summary["outcome"]["skipped_linked"] == 3
    assert len(pipeline.forecast.list_departments()) == 3


def test_department_import_through_the_selection_step(pipeline):
    result, offered = run_answering("intacct_import_departments", {}, "choose_departments", lambda o: o[:2])
    assert result.state == "success"
    assert set(offered) <= {d["DEPARTMENTID"] for d in pipeline.gateway.store.records("DEPARTMENT")}
    assert sorted(linked(pipeline, "department")) == sorted(offered[:2])


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"department_ids": ["NOPE-1"]}, "'NOPE-1' is not an Intacct DEPARTMENT of this run's extraction"),
        ({"department_ids": ["D100", "D100"]}, "department_ids names 'D100' 2 times"),
        ({"department_ids": ["D100"], "departmnet_ids": ["D1"]}, "unknown parameter(s) departmnet_ids"),
    ],
)
def test_department_import_refusals_write_nothing(pipeline, conf, message):
    result = run("intacct_import_departments", conf)
    assert result.state == "failed"
    refused = latest(pipeline, "intacct_import_departments")
    assert refused.status == "refused" and message in refused.markdown
    assert pipeline.forecast.list_departments() == [] and linked(pipeline, "department") == {}


# -- team members -----------------------------------------------------------------------------------


def oracle_departments(pipeline) -> dict[str, str]:
    """LOGINID → DEPARTMENTID from the sandbox's own records: user and employee share a contact record.
    Employees private to an entity are invisible to the top-level session (show_private is off)."""
    by_contact = {
        e["CONTACTKEY"]: e["DEPARTMENTID"]
        for e in pipeline.gateway.store.records("EMPLOYEE")
        if not e["MEGAENTITYID"]
    }
    return {u["LOGINID"]: by_contact.get(u["CONTACTKEY"]) for u in pipeline.gateway.store.records("USERINFO")}


def test_team_members_imported_with_a_permission_level_and_their_departments(pipeline):
    departments = active_departments(pipeline)
    unlinked = departments[-1]["DEPARTMENTID"]
    wanted = [d["DEPARTMENTID"] for d in departments[:-1]]
    assert run("intacct_import_departments", {"department_ids": wanted}).state == "success"
    users = importable_users(pipeline)
    keys = [u["LOGINID"] for u in users]

    result = run(
        "intacct_import_team_members",
        {"user_ids": keys, "permission_level": "Manager", "assign_departments": True},
    )
    assert result.state == "success"
    people = {p.id: p for p in pipeline.forecast.list_people()}
    manager = next(p.id for p in pipeline.forecast.list_profiles() if p.name == "Manager")
    department_links = linked(pipeline, "department")
    oracle = oracle_departments(pipeline)
    person_links = linked(pipeline, "person")
    assert sorted(person_links) == sorted(keys)
    for key, person_id in person_links.items():
        person = people[person_id]
        assert person.profile_id == manager
        assert person.department_id == department_links.get(oracle[key]), key
    done = latest(pipeline, "intacct_import_team_members")
    assert done.summary["outcome"]["created"] == len(keys)
    placed = [k for k in keys if oracle[k] in department_links]
    assert done.summary["outcome"]["assigned_departments"] == len(placed)
    into = done.summary["details"]["Imported into their Intacct department"]
    assert len(into) == len(placed)
    assert any(f"Intacct department {oracle[placed[0]]} " in line for line in into)
    missing = [k for k in keys if oracle[k] not in department_links]
    listed = done.summary["details"].get("Without a department (import or link it first)", [])
    assert len(listed) == len(missing)
    if any(oracle[k] == unlinked for k in keys):
        assert any(f"Intacct department {unlinked}" in line and "is not linked" in line for line in listed)
    assert "departments linked:" in done.markdown

    # a rerun changes nothing; moving an employee in Intacct moves the synced person on the next import
    mover = next(k for k in keys if oracle[k] in department_links)
    target_department = next(d for d in wanted if d != oracle[mover])
    employee = next(
        e
        for e in pipeline.gateway.store.records("EMPLOYEE")
        if e["CONTACTKEY"] == next(u for u in users if u["LOGINID"] == mover)["CONTACTKEY"]
    )
    pipeline.gateway.store.update("EMPLOYEE", employee["EMPLOYEEID"], {"DEPARTMENTID": target_department})
    again = run(
        "intacct_import_team_members",
        {"user_ids": keys[:1], "permission_level": "Manager", "assign_departments": True},
    )
    assert again.state == "success"
    assert len(pipeline.forecast.list_people()) == len(keys)
    moved = {p.id: p.department_id for p in pipeline.forecast.list_people()}[person_links[mover]]
    assert moved == department_links[target_department]
    assert latest(pipeline, "intacct_import_team_members").summary["outcome"]["department_updates"] >= 1


def test_a_team_member_dry_run_says_what_it_would_do_and_writes_nothing(pipeline):
    wanted = [d["DEPARTMENTID"] for d in active_departments(pipeline)]
    assert run("intacct_import_departments", {"department_ids": wanted}).state == "success"
    keys = [u["LOGINID"] for u in importable_users(pipeline)][:5]

    dry = run(
        "intacct_import_team_members",
        {"user_ids": keys, "permission_level": "Manager", "assign_departments": True, "dry_run": True},
    )
    assert dry.state == "success"
    report = latest(pipeline, "intacct_import_team_members")
    assert report.summary["dry_run"] is True and report.summary["outcome"]["created"] == len(keys)
    assert "would import" in report.markdown
    would_go = report.summary["details"]["Would go into their Intacct department"]
    assert len(would_go) == report.summary["outcome"]["assigned_departments"] > 0
    assert pipeline.forecast.list_people() == [] and linked(pipeline, "person") == {}


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"user_ids": ["nobody.here"]}, "'nobody.here' is not an Intacct USERINFO of this run's extraction"),
        ({"user_ids": ["ulefevre", "ulefevre"]}, "user_ids names 'ulefevre' 2 times"),
        ({"user_ids": ["ulefevre"], "usr_ids": ["x"]}, "unknown parameter(s) usr_ids"),
    ],
)
def test_team_member_id_refusals_write_nothing(pipeline, conf, message):
    result = run("intacct_import_team_members", {"permission_level": "Collaborator", **conf})
    assert result.state == "failed"
    refused = latest(pipeline, "intacct_import_team_members")
    assert refused.status == "refused" and message in refused.markdown, refused.markdown
    assert pipeline.forecast.list_people() == [] and linked(pipeline, "person") == {}


def test_malformed_team_member_links_are_named_by_position(pipeline):
    pipeline.gateway.ledger.reset()
    result = run(
        "intacct_link_team_members",
        {
            "links": [
                {"forecast_person_id": 3},
                {"forecast_person_id": "seven", "intacct_user_id": "ulefevre"},
                {"forecast_person_id": 4, "intacct_user_id": ""},
                {"forecast_person_id": 5, "intacct_user_id": "ulefevre", "email": "x"},
            ]
        },
    )
    assert result.state == "failed"
    text = latest(pipeline, "intacct_link_team_members").markdown
    assert "links[0] {'forecast_person_id': 3}: intacct_user_id missing" in text
    assert "forecast_person_id must be a positive integer, got 'seven'" in text
    assert "intacct_user_id must be a non-empty string, got ''" in text
    assert "links[3] " in text and "unknown key(s) email" in text
    assert pipeline.gateway.ledger.requests() == 0
    assert linked(pipeline, "person") == {}


def test_team_members_chosen_in_the_selection_step_by_name_and_email(pipeline):
    result, offered = run_answering(
        "intacct_import_team_members", {"permission_level": "Collaborator"}, "choose_users", lambda o: o[:1]
    )
    assert result.state == "success"
    assert set(offered) == {u["LOGINID"] for u in importable_users(pipeline)}
    assert sorted(linked(pipeline, "person")) == offered[:1]
    (person,) = pipeline.forecast.list_people()
    assert person.active is True


def test_team_member_refusals_before_anything_is_read(pipeline):
    pipeline.gateway.ledger.reset()
    missing = run("intacct_import_team_members", {"user_ids": ["ulefevre"]})
    assert missing.state == "failed"
    assert (
        "permission_level is required for team members: one of Admin"
        in latest(pipeline, "intacct_import_team_members").markdown
    )

    no_departments = run(
        "intacct_import_team_members",
        {"user_ids": ["ulefevre"], "permission_level": "Admin", "assign_departments": True},
    )
    assert no_departments.state == "failed"
    assert (
        "no Intacct department is linked to Forecast yet"
        in latest(pipeline, "intacct_import_team_members").markdown
    )
    assert pipeline.gateway.ledger.requests() == 0  # both refused before Intacct was called
    assert pipeline.forecast.list_people() == []

    with pytest.raises(ParamValidationError, match="'Overlord' is not one of"):
        run("intacct_import_team_members", {"user_ids": ["ulefevre"], "permission_level": "Overlord"})


def test_users_without_their_own_email_or_inactive_are_refused_by_name(pipeline):
    users = pipeline.gateway.store.records("USERINFO")
    importable = {u["LOGINID"] for u in importable_users(pipeline)}
    emails = [u["CONTACTINFO.EMAIL1"].lower() for u in users if u["CONTACTINFO.EMAIL1"]]
    shared = next(
        u for u in users if u["CONTACTINFO.EMAIL1"] and emails.count(u["CONTACTINFO.EMAIL1"].lower()) > 1
    )
    no_email = next(u for u in users if not u["CONTACTINFO.EMAIL1"] and u["LOGINDISABLED"] == "false")
    inactive = next(u for u in users if u["STATUS"] == "inactive" and u["CONTACTINFO.EMAIL1"])
    assert not {shared["LOGINID"], no_email["LOGINID"], inactive["LOGINID"]} & importable
    result = run(
        "intacct_import_team_members",
        {
            "user_ids": [shared["LOGINID"], no_email["LOGINID"], inactive["LOGINID"]],
            "permission_level": "Admin",
        },
    )
    assert result.state == "failed"
    text = latest(pipeline, "intacct_import_team_members").markdown
    assert f"'{shared['LOGINID']}' cannot be imported: shares its email with" in text
    assert f"'{no_email['LOGINID']}' cannot be imported: the user has no email address in Intacct" in text
    assert (
        f"'{inactive['LOGINID']}' is inactive (the user is inactive in Intacct); set include_inactive" in text
    )
    assert pipeline.forecast.list_people() == []


# -- linking team members ---------------------------------------------------------------------------


def test_link_suggested_unlink_and_relink_team_members(pipeline):
    ada, alan = importable_users(pipeline)[:2]
    profile = pipeline.forecast.list_profiles()[0].id
    twin, other = pipeline.forecast.create_people(
        [
            NewPerson("Someone", "Else", ada["CONTACTINFO.EMAIL1"].upper(), profile),
            NewPerson("Forecast", "Only", "forecast.only@example.com", profile),
        ]
    )

    suggested, offered = run_answering("intacct_link_team_members", {}, "choose_links", lambda o: o)
    assert suggested.state == "success"
    assert any(o.startswith(f"{ada['LOGINID']} → Forecast person {twin.id} (95%") for o in offered)
    assert linked(pipeline, "person") == {ada["LOGINID"]: twin.id}

    taken = run(
        "intacct_link_team_members",
        {"links": [{"forecast_person_id": other.id, "intacct_user_id": ada["LOGINID"]}]},
    )
    assert taken.state == "failed"
    assert (
        f"'{ada['LOGINID']}' is already linked to Forecast person {twin.id}"
        in latest(pipeline, "intacct_link_team_members").markdown
    )

    relinked = run(
        "intacct_link_team_members",
        {"links": [{"forecast_person_id": other.id, "intacct_user_id": ada["LOGINID"]}], "relink": True},
    )
    assert relinked.state == "success"
    assert linked(pipeline, "person") == {ada["LOGINID"]: other.id}

    named = run(
        "intacct_link_team_members",
        {"links": [{"forecast_person_id": twin.id, "intacct_user_id": alan["LOGINID"]}], "dry_run": True},
    )
    assert named.state == "success" and linked(pipeline, "person") == {ada["LOGINID"]: other.id}

    assert run("intacct_link_team_members", {"unlink": [other.id]}).state == "success"
    assert linked(pipeline, "person") == {}
