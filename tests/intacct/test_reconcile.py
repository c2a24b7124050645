"""Department changes carried onto synced departments: every kind, the policy, the guard, on both backends."""

from __future__ import annotations

from datetime import UTC

import pytest

from intacct import links as link_store
from intacct import reconcile, staging
from intacct.forecast.sql import SqlForecastTarget, ensure_forecast_schema
from intacct.forecast.target import NewDepartment
from intacct.objects import DEPARTMENT


@pytest.fixture
def forecast(make_engine, empty_database_url):
    engine = make_engine(empty_database_url)
    ensure_forecast_schema(engine)
    return SqlForecastTarget(engine)


def department(key, title, status="active", parent=""):
    return {"RECORDNO": key[1:], "DEPARTMENTID": key, "TITLE": title, "STATUS": status, "PARENTID": parent}


def stage(state, records, kind="incremental"):
    batch_id = staging.begin_batch(state, DEPARTMENT, kind, "test")
    staging.insert_rows(state, DEPARTMENT, batch_id, [DEPARTMENT.to_row(r, UTC) for r in records])
    staging.complete_batch(state, DEPARTMENT, batch_id, api_calls=1, watermark=None)
    return batch_id


def link_all(state, forecast, records):
    made = forecast.create_departments([NewDepartment(r["TITLE"]) for r in records])
    with state.begin() as connection:
        link_store.insert_links(
            connection,
            "department",
            [(d.id, r["DEPARTMENTID"], int(r["RECORDNO"])) for d, r in zip(made, records, strict=True)],
            origin="import",
            run_id="t",
            actor="t",
            audit_action="import",
        )
    reconcile.baseline_parents(state, stage(state, records, kind="full"))
    return {r["DEPARTMENTID"]: d.id for d, r in zip(made, records, strict=True)}


BASE = [
    department("D1", "Sales"),
    department("D2", "Engineering"),
    department("D3", "Support", parent="D2"),
    department("D4", "Finance"),
]


def sync(state, forecast, records, *, full=False, deleted=(), policy="keep", dry_run=False):
    changes = reconcile.department_changes(
        state,
        forecast,
        batch_id=stage(state, records, "full" if full else "incremental"),
        full=full,
        deleted_keys=deleted,
    )
    outcome = reconcile.apply_changes(
        state,
        forecast,
        changes,
        policy=policy,
        run_id="sync",
        actor="scheduler",
        owner="test",
        dry_run=dry_run,
    )
    return changes, outcome


def marks(state):
    return {
        link.intacct_key: (link.source_state, link.intacct_parent)
        for link in link_store.links(state, "department")
    }


def test_rename_move_deactivate_delete_and_reactivate(state_engine, forecast):
    ids = link_all(state_engine, forecast, BASE)
    changes, outcome = sync(
        state_engine,
        forecast,
        [
            department("D1", "Sales & Marketing"),
            department("D3", "Support", parent="D1"),
            department("D4", "Finance", status="inactive"),
        ],
        deleted=["D2"],
    )
    assert sorted((c.kind, c.intacct_key) for c in changes.changes) == [
        ("deactivate", "D4"),
        ("delete", "D2"),
        ("move", "D3"),
        ("rename", "D1"),
    ]
    assert {d.id: d.name for d in forecast.list_departments()}[ids["D1"]] == "Sales & Marketing"
    assert marks(state_engine) == {
        "D1": (None, ""),
        "D2": ("deleted", ""),
        "D3": (None, "D1"),
        "D4": ("inactive", ""),
    }
    assert len(outcome.applied) == 4 and len(forecast.list_departments()) == 4  # kept, per policy

    # reactivation clears the mark; unchanged departments produce no change at all
    changes, _ = sync(state_engine, forecast, [department("D4", "Finance")])
    assert [(c.kind, c.intacct_key) for c in changes.changes] == [("reactivate", "D4")]
    assert marks(state_engine)["D4"][0] is None
    changes, _ = sync(state_engine, forecast, [department("D4", "Finance")])
    assert changes.changes == []


def test_a_rename_and_back_lands_where_intacct_is(state_engine, forecast):
    ids = link_all(state_engine, forecast, BASE)
    sync(state_engine, forecast, [department("D1", "Revenue")])
    sync(state_engine, forecast, [department("D1", "Sales")])
    assert {d.id: d.name for d in forecast.list_departments()}[ids["D1"]] == "Sales"


def test_unlink_policy_and_a_full_compare_find_deletions_without_audit_history(state_engine, forecast):
    link_all(state_engine, forecast, BASE)
    changes, outcome = sync(state_engine, forecast, BASE[:2] + BASE[3:], full=True, policy="unlink")
    assert [(c.kind, c.intacct_key) for c in changes.changes] == [("delete", "D3")]
    assert outcome.unlinked == ["D3"]
    assert "D3" not in marks(state_engine) and len(forecast.list_departments()) == 4  # Forecast keeps it


def test_unknown_statuses_and_orphans_are_reported_not_acted_on(state_engine, forecast):
    ids = link_all(state_engine, forecast, BASE)
    with forecast._engine.begin() as connection:
        connection.exec_driver_sql(f"DELETE FROM department WHERE id = {ids['D2']}")
    _, outcome = sync(state_engine, forecast, [department("D1", "Sales", status="active non-posting")])
    assert sorted((c.kind, c.intacct_key) for c in outcome.reported) == [
        ("orphan", "D2"),
        ("unknown_status", "D1"),
    ]
    assert outcome.applied == []
    assert len(forecast.list_departments()) == 3  # the orphan is never recreated


def test_unlinked_departments_are_never_touched(state_engine, forecast):
    link_all(state_engine, forecast, BASE[:1])
    (other,) = forecast.create_departments([NewDepartment("Not linked")])
    changes, _ = sync(state_engine, forecast, [department("D9", "Renamed in Intacct", status="inactive")])
    assert changes.changes == []
    assert {d.id: d.name for d in forecast.list_departments()}[other.id] == "Not linked"


def test_a_dry_run_reports_everything_and_writes_nothing(state_engine, forecast):
    ids = link_all(state_engine, forecast, BASE)
    _, outcome = sync(state_engine, forecast, [department("D1", "Revenue")], deleted=["D2"], dry_run=True)
    assert sorted(c.kind for c in outcome.reported) == ["delete", "rename"] and outcome.applied == []
    assert {d.id: d.name for d in forecast.list_departments()}[ids["D1"]] == "Sales"
    assert marks(state_engine)["D2"][0] is None


def test_the_guard_blocks_a_mass_change_and_its_token_lets_only_that_set_through(state_engine, forecast):
    many = [department(f"D{n}", f"Team {n}") for n in range(1, 21)]
    link_all(state_engine, forecast, many)
    guard = reconcile.Guard(share=0.2, minimum=5)
    renamed = [department(f"D{n}", f"Squad {n}") for n in range(1, 8)]  # 7 of 20: over 20% and over 5
    changes = reconcile.department_changes(
        state_engine, forecast, batch_id=stage(state_engine, renamed), full=False
    )
    assert len(changes.guarded) == 7 and changes.blocked_by(guard, None)
    token = changes.token()
    assert not changes.blocked_by(guard, token)
    assert changes.blocked_by(guard, "0" * 16)
    other = reconcile.department_changes(
        state_engine,
        forecast,
        batch_id=stage(state_engine, [*renamed, department("D8", "Squad 8")]),
        full=False,
    )
    assert other.token() != token and other.blocked_by(guard, token)  # a token approves one set only
    small = reconcile.department_changes(
        state_engine, forecast, batch_id=stage(state_engine, renamed[:5]), full=False
    )
    assert not small.blocked_by(guard, None)  # 5 is not more than the minimum
