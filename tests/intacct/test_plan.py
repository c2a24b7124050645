"""Every plan action and every suggestion/conflict rule, on crafted data, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import NoResultFound

from intacct import plan, snapshot, staging
from intacct.forecast.sql import SqlForecastTarget, ensure_forecast_schema
from intacct.forecast.target import NewClient, NewDepartment, NewPerson
from intacct.objects import CUSTOMER, DEPARTMENT, USERINFO
from intacct.state.schema import intacct_link


@pytest.fixture
def forecast(make_engine, empty_database_url):
    engine = make_engine(empty_database_url)
    ensure_forecast_schema(engine)
    return SqlForecastTarget(engine)


def stage(state_engine, spec, records, kind="full"):
    batch_id = staging.begin_batch(state_engine, spec, kind, "test")
    staging.insert_rows(state_engine, spec, batch_id, [spec.to_row(r, UTC) for r in records])
    staging.complete_batch(state_engine, spec, batch_id, api_calls=1, watermark=None)
    return batch_id


def link(state_engine, entity_type, forecast_id, intacct_key):
    with state_engine.begin() as connection:
        connection.execute(
            insert(intacct_link).values(
                entity_type=entity_type,
                forecast_id=forecast_id,
                intacct_key=intacct_key,
                origin="link",
                linked_at=datetime.now(UTC),
            )
        )


def customer(n, name, status="active", city=None, **extra):
    return {
        "RECORDNO": str(n),
        "CUSTOMERID": f"C{n}",
        "NAME": name,
        "STATUS": status,
        "DISPLAYCONTACT.MAILADDRESS.CITY": city,
        **extra,
    }


def rows_by_key(state_engine, plan_id):
    return {r.intacct_key: r for r in plan.plan_rows(state_engine, plan_id)}


def test_client_plan_covers_every_action(state_engine, forecast):
    acme, initech_a, initech_b, umbrella, hooli, linked_same, linked_changed, linked_inactive, gone_fc = (
        c.id
        for c in forecast.create_clients(
            [
                NewClient(name="ACME"),
                NewClient(name="Initech"),
                NewClient(name="Initech LLC"),
                NewClient(name="Umbrella"),
                NewClient(name="Hooli"),
                NewClient(name="Same Co", city="Oslo"),
                NewClient(name="Changed Co", city="Bergen"),
                NewClient(name="Sleepy Co"),
                NewClient(name="Deleted In Intacct"),
            ]
        )
    )
    batch = stage(
        state_engine,
        CUSTOMER,
        [
            customer(1, "Globex"),
            customer(2, "Acme, Inc."),
            customer(3, "Initech"),
            customer(4, "Umbrella Corp"),
            customer(5, "umbrella"),
            customer(6, "Old Co", status="inactive"),
            customer(7, "Same Co", city="Oslo"),
            customer(8, "Changed Co", city="Trondheim"),
            customer(9, "Orphaned Co"),
            customer(10, ""),
            customer(11, "Sleepy Co", status="inactive"),
            customer(12, "Hooli"),
        ],
    )
    link(state_engine, "client", linked_same, "C7")
    link(state_engine, "client", linked_changed, "C8")
    link(state_engine, "client", 999_999, "C9")  # its Forecast client was deleted
    link(state_engine, "client", linked_inactive, "C11")
    link(state_engine, "client", gone_fc, "C-GONE")  # its Intacct customer was deleted
    link(state_engine, "client", hooli, "C-HOOLI-OLD")  # Hooli is taken: never suggested again
    snap = snapshot.take_snapshot(forecast, state_engine, run_id="test")

    result = plan.build_plan(state_engine, "client", batch_id=batch, snapshot_id=snap.id)
    rows = rows_by_key(state_engine, result.plan_id)

    assert rows["C1"].action == "importable" and rows["C1"].forecast_id is None
    assert (rows["C2"].action, rows["C2"].forecast_id, rows["C2"].confidence) == ("suggest_link", acme, 0.9)
    assert "same name" in rows["C2"].reason
    assert rows["C3"].action == "conflict"
    assert "2 Forecast records have the same name" in rows["C3"].reason
    assert f"ids {initech_a} to {initech_b}" in rows["C3"].reason
    for key in ("C4", "C5"):
        assert rows[key].action == "conflict"
        assert "2 Intacct records have the name" in rows[key].reason and str(umbrella) in rows[key].reason
    assert rows["C6"].action == "source_inactive" and "inactive" in rows["C6"].reason
    assert (rows["C7"].action, rows["C7"].forecast_id, rows["C7"].changed_fields) == (
        "linked",
        linked_same,
        (),
    )
    assert (rows["C8"].action, rows["C8"].changed_fields) == ("linked", ("city",))
    assert rows["C9"].action == "orphan_link" and "999999" in rows["C9"].reason
    assert rows["C10"].action == "conflict" and rows["C10"].reason == "the customer has no name"
    assert (rows["C11"].action, rows["C11"].forecast_id) == ("source_inactive", linked_inactive)
    assert rows["C12"].action == "importable"  # the only name match is linked elsewhere
    assert (rows["C-GONE"].action, rows["C-GONE"].forecast_id) == ("source_deleted", gone_fc)
    assert rows["C-HOOLI-OLD"].action == "source_deleted"
    assert result.counts == {
        "importable": 2,
        "linked": 2,
        "suggest_link": 1,
        "conflict": 4,
        "source_inactive": 2,
        "source_deleted": 2,
        "orphan_link": 1,
    }


def test_only_a_full_batch_says_a_record_was_deleted(state_engine, forecast):
    (kept,) = (c.id for c in forecast.create_clients([NewClient(name="Kept")]))
    link(state_engine, "client", kept, "C-ELSEWHERE")
    link(state_engine, "client", 424242, "C-ORPHAN")
    batch = stage(state_engine, CUSTOMER, [customer(1, "Named")], kind="targeted")
    snap = snapshot.take_snapshot(forecast, state_engine, run_id=None)

    rows = rows_by_key(
        state_engine, plan.build_plan(state_engine, "client", batch_id=batch, snapshot_id=snap.id).plan_id
    )

    assert "C-ELSEWHERE" not in rows  # a targeted batch cannot tell it is gone
    assert rows["C-ORPHAN"].action == "orphan_link"  # but a missing Forecast record is known regardless
    assert rows["C1"].action == "importable"


def user(n, login, email=None, first=None, last=None, status="active", disabled="false"):
    return {
        "RECORDNO": str(n),
        "LOGINID": login,
        "STATUS": status,
        "LOGINDISABLED": disabled,
        "CONTACTINFO.FIRSTNAME": first,
        "CONTACTINFO.LASTNAME": last,
        "CONTACTINFO.EMAIL1": email,
    }


def test_person_plan_matches_by_email_then_name_and_names_conflicts(state_engine, forecast):
    profile = forecast.list_profiles()[0].id
    by_email, by_name, twin_a, twin_b = (
        p.id
        for p in forecast.create_people(
            [
                NewPerson("Ada", "Lovelace", "ADA@example.com", profile),
                NewPerson("Grace", "Hopper", "grace.h@elsewhere.org", profile),
                NewPerson("Alan", "Turing", "alan1@example.com", profile),
                NewPerson("Alan", "Turing", "alan2@example.com", profile),
            ]
        )
    )
    batch = stage(
        state_engine,
        USERINFO,
        [
            user(1, "ada", "ada@example.com", "Ada", "Lovelace"),
            user(2, "grace", "grace@example.com", "Grace", "Hopper"),
            user(3, "noemail", None, "No", "Email"),
            user(4, "shared1", "team@example.com", "Shared", "One"),
            user(5, "shared2", "Team@Example.com", "Shared", "Two"),
            user(6, "disabled", "ws@example.com", "Web", "Services", disabled="true"),
            user(7, "locked", "locked@example.com", "Locked", "Out", status="lockedout"),
            user(8, "alan", "alan@example.com", "Alan", "Turing"),
            user(9, "new", "new@example.com", "New", "Person"),
        ],
    )
    snap = snapshot.take_snapshot(forecast, state_engine, run_id=None)

    rows = rows_by_key(
        state_engine, plan.build_plan(state_engine, "person", batch_id=batch, snapshot_id=snap.id).plan_id
    )

    assert (rows["ada"].action, rows["ada"].forecast_id, rows["ada"].confidence) == (
        "suggest_link",
        by_email,
        0.95,
    )
    assert (rows["grace"].action, rows["grace"].forecast_id, rows["grace"].confidence) == (
        "suggest_link",
        by_name,
        0.6,
    )
    assert rows["noemail"].action == "conflict" and "no email" in rows["noemail"].reason
    for key in ("shared1", "shared2"):
        assert rows[key].action == "conflict" and "shares its email with 1 other" in rows[key].reason
    assert rows["disabled"].action == "source_inactive" and "login disabled" in rows["disabled"].reason
    assert rows["locked"].action == "source_inactive" and "lockedout" in rows["locked"].reason
    assert rows["alan"].action == "conflict" and f"ids {twin_a} to {twin_b}" in rows["alan"].reason
    assert rows["new"].action == "importable"


def test_department_plan_treats_active_non_posting_as_active(state_engine, forecast):
    (sales,) = (d.id for d in forecast.create_departments([NewDepartment("Sales")]))
    batch = stage(
        state_engine,
        DEPARTMENT,
        [
            {"RECORDNO": "1", "DEPARTMENTID": "D1", "TITLE": "SALES", "STATUS": "active"},
            {"RECORDNO": "2", "DEPARTMENTID": "D2", "TITLE": "Research", "STATUS": "active non-posting"},
            {"RECORDNO": "3", "DEPARTMENTID": "D3", "TITLE": "Closed", "STATUS": "inactive"},
        ],
    )
    snap = snapshot.take_snapshot(forecast, state_engine, run_id=None)

    rows = rows_by_key(
        state_engine, plan.build_plan(state_engine, "department", batch_id=batch, snapshot_id=snap.id).plan_id
    )
    assert (rows["D1"].action, rows["D1"].forecast_id) == ("suggest_link", sales)
    assert rows["D2"].action == "importable"
    assert rows["D3"].action == "source_inactive"


def test_plan_refuses_a_batch_of_the_wrong_object(state_engine, forecast):
    batch = stage(state_engine, DEPARTMENT, [{"RECORDNO": "1", "DEPARTMENTID": "D1", "TITLE": "X"}])
    snap = snapshot.take_snapshot(forecast, state_engine, run_id=None)
    with pytest.raises(ValueError, match="a client plan needs a complete CUSTOMER batch"):
        plan.build_plan(state_engine, "client", batch_id=batch, snapshot_id=snap.id)
    with pytest.raises(ValueError, match="unknown entity type 'vendor'"):
        plan.build_plan(state_engine, "vendor", batch_id=batch, snapshot_id=snap.id)


def test_recent_plans_name_the_batches_and_snapshots_pruning_must_keep(state_engine, forecast):
    from datetime import timedelta

    batch = stage(state_engine, CUSTOMER, [customer(1, "Kept Co")])
    snap = snapshot.take_snapshot(forecast, state_engine, run_id=None)
    plan.build_plan(state_engine, "client", batch_id=batch, snapshot_id=snap.id)

    assert plan.recent_plan_inputs(state_engine, timedelta(hours=1)) == ({batch}, {snap.id})
    unused = snapshot.take_snapshot(forecast, state_engine, run_id=None)
    snapshot.take_snapshot(forecast, state_engine, run_id=None)
    assert snapshot.prune_snapshots(state_engine, keep=1, protected={snap.id}) == 1  # only the unused one
    assert snapshot.get_snapshot(state_engine, snap.id).status == "complete"
    with pytest.raises(NoResultFound):
        snapshot.get_snapshot(state_engine, unused.id)
