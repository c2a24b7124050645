"""Imports and links, exactly once: refusals write nothing; crashes and races converge; on both backends."""

from __future__ import annotations

import json
import threading
from datetime import UTC, timedelta

import pytest
from sqlalchemy import func, select

from intacct import apply, intents, linking, locks, plan, snapshot, staging
from intacct import links as link_store
from intacct.forecast.sql import SqlForecastTarget, ensure_forecast_schema
from intacct.forecast.target import NewClient, NewDepartment, NewPerson
from intacct.links import LinkPair, LinkRequestRefused
from intacct.objects import CUSTOMER, EMPLOYEE, USERINFO
from intacct.state.schema import intacct_audit, intacct_import_intent


class Crash(RuntimeError):
    pass


class World:
    """A Forecast database, a state database, and helpers to stage, snapshot and plan."""

    def __init__(self, state_engine, forecast_engine):
        self.state = state_engine
        self.forecast_engine = forecast_engine
        self.target = SqlForecastTarget(forecast_engine)

    def stage(self, spec, records, kind="full"):
        batch_id = staging.begin_batch(self.state, spec, kind, "test")
        staging.insert_rows(self.state, spec, batch_id, [spec.to_row(r, UTC) for r in records])
        staging.complete_batch(self.state, spec, batch_id, api_calls=1, watermark=None)
        return batch_id

    def plan(self, entity_type, batch_id):
        snap = snapshot.take_snapshot(self.target, self.state, run_id="test")
        return plan.build_plan(self.state, entity_type, batch_id=batch_id, snapshot_id=snap.id).plan_id

    def clients(self):
        return sorted((c.name, c.city, c.country) for c in self.target.list_clients())

    def linked(self, entity_type):
        names = {c.id: c.name for c in self.target.list_clients()}
        names |= {d.id: d.name for d in self.target.list_departments()}
        return sorted((link.intacct_key, link.origin) for link in link_store.links(self.state, entity_type))

    def intents(self):
        with self.state.connect() as connection:
            return connection.execute(select(func.count()).select_from(intacct_import_intent)).scalar_one()

    def audit_actions(self):
        with self.state.connect() as connection:
            return [
                r
                for r in connection.execute(
                    # in the order written: without ORDER BY, PostgreSQL may reuse the space of deleted rows
                    select(intacct_audit.c.action, intacct_audit.c.intacct_key).order_by(intacct_audit.c.id)
                )
            ]


@pytest.fixture
def world(state_engine, make_engine, empty_database_url):
    engine = make_engine(empty_database_url)
    ensure_forecast_schema(engine)
    return World(state_engine, engine)


def customers(n):
    return [
        {
            "RECORDNO": str(i),
            "CUSTOMERID": f"C{i}",
            "NAME": f"Customer {i} GmbH",
            "STATUS": "active",
            "DISPLAYCONTACT.MAILADDRESS.ADDRESS1": f"Straße {i}",
            "DISPLAYCONTACT.MAILADDRESS.CITY": "Berlin",
            "DISPLAYCONTACT.MAILADDRESS.COUNTRY": "Germany",
            "TAXID": f"DE{i:09d}",
        }
        for i in range(1, n + 1)
    ]


def import_clients(world, keys, **kwargs):
    plan_id = world.plan("client", world.stage(CUSTOMER, customers(5)))
    request = apply.ImportRequest("client", tuple(keys), dry_run=kwargs.pop("dry_run", False))
    return apply.import_selected(world.state, world.target, plan_id, request, run_id="run-1", **kwargs)


def test_import_creates_mapped_clients_and_links_them(world):
    outcome = import_clients(world, ["C1", "C2", "C3"])

    assert [key for key, _ in outcome.created] == ["C1", "C2", "C3"]
    created = {c.id: c for c in world.target.list_clients()}
    for key, forecast_id in outcome.created:
        n = int(key[1:])
        client = created[forecast_id]
        assert (client.name, client.street, client.city, client.country, client.vat_number) == (
            f"Customer {n} GmbH",
            f"Straße {n}",
            "Berlin",
            "DE",
            f"DE{n:09d}",
        )
    assert world.linked("client") == [("C1", "import"), ("C2", "import"), ("C3", "import")]
    assert sorted(a for a in world.audit_actions()) == [("import", "C1"), ("import", "C2"), ("import", "C3")]
    assert world.intents() == 0


def test_rerun_of_the_same_import_changes_nothing(world):
    import_clients(world, ["C1", "C2"])
    before = (world.clients(), world.linked("client"))

    # a fresh plan sees them linked; the stale plan of a retried task finds them linked under the lock
    second = import_clients(world, ["C1", "C2"])
    plan_id = world.plan("client", world.stage(CUSTOMER, customers(5)))
    third = apply.import_selected(
        world.state, world.target, plan_id, apply.ImportRequest("client", ("C1", "C2")), run_id="run-3"
    )

    assert second.created == [] and sorted(second.skipped_linked) == ["C1", "C2"]
    assert third.created == [] and sorted(third.skipped_linked) == ["C1", "C2"]
    assert (world.clients(), world.linked("client")) == before


def test_dry_run_writes_nothing(world):
    outcome = import_clients(world, ["C1", "C4"], dry_run=True)
    assert outcome.dry_run and [key for key, _ in outcome.created] == ["C1", "C4"]
    assert world.clients() == [] and world.linked("client") == [] and world.intents() == 0


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (["C1", "NOPE"], "'NOPE' is not an Intacct CUSTOMER of this run's extraction"),
        (["C1", "C1"], "'C1' is selected more than once"),
        ([], "no Intacct records were selected"),
    ],
)
def test_bad_selections_are_refused_before_anything_is_written(world, keys, message):
    with pytest.raises(apply.ImportRefused, match=message):
        import_clients(world, keys)
    assert world.clients() == [] and world.linked("client") == [] and world.intents() == 0


def test_conflicts_and_inactive_records_are_refused_with_their_reason(world):
    records = [
        *customers(1),
        {"RECORDNO": "7", "CUSTOMERID": "C7", "NAME": "", "STATUS": "active"},
        {"RECORDNO": "8", "CUSTOMERID": "C8", "NAME": "Sleeping", "STATUS": "inactive"},
    ]
    plan_id = world.plan("client", world.stage(CUSTOMER, records))
    with pytest.raises(apply.ImportRefused) as refused:
        apply.import_selected(
            world.state, world.target, plan_id, apply.ImportRequest("client", ("C1", "C7", "C8")), run_id="r"
        )
    assert refused.value.problems == (
        "'C7' cannot be imported: the customer has no name",
        "'C8' is inactive (the customer is inactive in Intacct); set include_inactive to import it",
    )
    assert world.clients() == []

    outcome = apply.import_selected(
        world.state,
        world.target,
        plan_id,
        apply.ImportRequest("client", ("C8",), include_inactive=True),
        run_id="r",
    )
    assert [key for key, _ in outcome.created] == ["C8"]


CHECKPOINTS = ("before_intent", "after_intent", "after_forecast_write", "after_link_write")


@pytest.mark.parametrize("point", CHECKPOINTS)
@pytest.mark.parametrize("batch", [1, 2], ids=["first-batch", "mid-import"])
def test_a_crash_at_any_step_then_a_rerun_converges(world, point, batch):
    keys = ["C1", "C2", "C3", "C4", "C5"]
    seen = {"n": 0}

    def crash(at: str) -> None:
        if at == point:
            seen["n"] += 1
            if seen["n"] == batch:
                raise Crash(at)

    with pytest.raises(Crash):
        import_clients(world, keys, batch_size=2, checkpoint=crash)
    rerun = import_clients(world, keys, batch_size=2)

    # the state an uninterrupted run leaves: each customer once in Forecast, linked to its own client
    names = {c.id: c.name for c in world.target.list_clients()}
    assert sorted(names.values()) == [f"Customer {i} GmbH" for i in range(1, 6)]
    assert {
        link.intacct_key: names[link.forecast_id] for link in link_store.links(world.state, "client")
    } == {f"C{i}": f"Customer {i} GmbH" for i in range(1, 6)}
    assert world.intents() == 0
    accounted = [k for k, _ in rerun.created] + [k for k, _ in rerun.recovered] + rerun.skipped_linked
    assert sorted(accounted) == keys  # every key once: created now, recovered, or already done


class HalfThenCrash(SqlForecastTarget):
    """A Forecast that creates the first half of a batch, then fails, as a REST adapter could."""

    def create_clients(self, new):
        half = super().create_clients(new[: len(new) // 2])
        if len(new) > 1:
            raise Crash("connection lost mid-batch")
        return half


def test_a_batch_that_half_landed_in_forecast_is_completed_not_duplicated(world):
    plan_id = world.plan("client", world.stage(CUSTOMER, customers(4)))
    request = apply.ImportRequest("client", ("C1", "C2", "C3", "C4"))
    with pytest.raises(Crash):
        apply.import_selected(
            world.state, HalfThenCrash(world.forecast_engine), plan_id, request, run_id="r1"
        )
    assert len(world.target.list_clients()) == 2 and world.intents() == 4

    outcome = apply.import_selected(world.state, world.target, plan_id, request, run_id="r2")

    assert sorted(k for k, _ in outcome.recovered) == ["C1", "C2"]
    assert sorted(k for k, _ in outcome.created) == ["C3", "C4"]
    assert len(world.target.list_clients()) == 4
    assert world.linked("client") == [(k, "import") for k in ("C1", "C2", "C3", "C4")]


def test_two_racing_imports_create_nothing_twice(world, backend):
    plan_id = world.plan("client", world.stage(CUSTOMER, customers(40)))
    request = apply.ImportRequest("client", tuple(f"C{i}" for i in range(1, 41)))
    errors = []

    def run(name):
        try:
            apply.import_selected(world.state, world.target, plan_id, request, run_id=name, batch_size=7)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(f"race-{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert len(world.target.list_clients()) == 40
    assert len(link_store.links(world.state, "client")) == 40


# -- team members ------------------------------------------------------------------------------------


def users():
    return [
        {
            "RECORDNO": "1",
            "LOGINID": "ada",
            "STATUS": "active",
            "CONTACTINFO.CONTACTNAME": "Lovelace, Ada",
            "CONTACTINFO.FIRSTNAME": "Ada",
            "CONTACTINFO.LASTNAME": "Lovelace",
            "CONTACTINFO.EMAIL1": "ada@example.com",
        },
        {
            "RECORDNO": "2",
            "LOGINID": "alan",
            "STATUS": "active",
            "CONTACTINFO.CONTACTNAME": "Turing, Alan",
            "CONTACTINFO.FIRSTNAME": "Alan",
            "CONTACTINFO.LASTNAME": "Turing",
            "CONTACTINFO.EMAIL1": "alan@example.com",
        },
        {
            "RECORDNO": "3",
            "LOGINID": "nodept",
            "STATUS": "active",
            "CONTACTINFO.CONTACTNAME": "Hopper, Grace",
            "CONTACTINFO.FIRSTNAME": "Grace",
            "CONTACTINFO.LASTNAME": "Hopper",
            "CONTACTINFO.EMAIL1": "grace@example.com",
        },
        {"RECORDNO": "4", "LOGINID": "noemail", "STATUS": "active", "CONTACTINFO.FIRSTNAME": "No"},
    ]


def employees():
    return [
        {"RECORDNO": "10", "EMPLOYEEID": "E1", "DEPARTMENTID": "ENG", "CONTACT.CONTACTNAME": "Lovelace, Ada"},
        # no shared contact: found by email
        {"RECORDNO": "11", "EMPLOYEEID": "E2", "DEPARTMENTID": "OPS", "CONTACT.EMAIL1": "ALAN@example.com"},
        {
            "RECORDNO": "12",
            "EMPLOYEEID": "E3",
            "DEPARTMENTID": "UNLINKED",
            "CONTACT.CONTACTNAME": "Hopper, Grace",
        },
    ]


def link_departments(world):
    eng, ops = world.target.create_departments([NewDepartment("Engineering"), NewDepartment("Operations")])
    with world.state.begin() as connection:
        link_store.insert_links(
            connection,
            "department",
            [(eng.id, "ENG", 1), (ops.id, "OPS", 2)],
            origin="link",
            run_id="t",
            actor="t",
            audit_action="link",
        )
    return eng.id, ops.id


def test_team_members_get_the_profile_and_their_linked_department(world):
    eng, ops = link_departments(world)
    world.stage(EMPLOYEE, employees())
    plan_id = world.plan("person", world.stage(USERINFO, users()))
    request = apply.ImportRequest(
        "person", ("ada", "alan", "nodept"), profile="Manager", assign_departments=True
    )
    outcome = apply.import_selected(world.state, world.target, plan_id, request, run_id="r")

    people = {p.email: p for p in world.target.list_people()}
    manager = next(p.id for p in world.target.list_profiles() if p.name == "Manager")
    assert {p.profile_id for p in people.values()} == {manager}
    assert people["ada@example.com"].department_id == eng
    assert people["alan@example.com"].department_id == ops
    assert people["grace@example.com"].department_id is None
    assert outcome.without_department == [("nodept", "UNLINKED")]  # the department to link first


def ada_synced_without_department(world):
    """Departments linked, Ada already in Forecast (no department) and linked: (ENG's id, Ada, plan id)."""
    eng, _ = link_departments(world)
    profile = world.target.list_profiles()[0].id
    (ada,) = world.target.create_people([NewPerson("Ada", "Lovelace", "ada@example.com", profile)])
    with world.state.begin() as connection:
        link_store.insert_links(
            connection,
            "person",
            [(ada.id, "ada", 1)],
            origin="link",
            run_id="t",
            actor="t",
            audit_action="link",
        )
    world.stage(EMPLOYEE, employees())
    plan_id = world.plan("person", world.stage(USERINFO, users()))
    return eng, ada, plan_id


def test_already_linked_people_get_their_department_when_asked(world):
    eng, ada, plan_id = ada_synced_without_department(world)
    request = apply.ImportRequest("person", ("ada",), profile="Collaborator", assign_departments=True)

    outcome = apply.import_selected(world.state, world.target, plan_id, request, run_id="r")

    assert outcome.skipped_linked == ["ada"] and outcome.department_updates == [("ada", ada.id, None, eng)]
    assert world.target.list_people()[0].department_id == eng
    assert ("update", "ada") in world.audit_actions()


def test_assigning_departments_also_moves_synced_team_members_not_selected_now(world):
    eng, ada, plan_id = ada_synced_without_department(world)
    request = apply.ImportRequest("person", ("alan",), profile="Collaborator", assign_departments=True)

    outcome = apply.import_selected(world.state, world.target, plan_id, request, run_id="r")

    assert [k for k, _ in outcome.created] == ["alan"]
    assert outcome.department_updates == [("ada", ada.id, None, eng)]  # synced before, moved in Intacct
    assert {p.email: p.department_id for p in world.target.list_people()}["ada@example.com"] == eng


@pytest.mark.parametrize(
    ("request_kwargs", "message"),
    [
        ({"keys": ("noemail",), "profile": "Manager"}, "the user has no email address"),
        ({"keys": ("ada",)}, "permission_level is required for team members: one of Admin"),
        (
            {"keys": ("ada",), "profile": "Overlord"},
            "permission_level 'Overlord' is not a Forecast permission profile",
        ),
        (
            {"keys": ("ada",), "profile": "Manager", "assign_departments": True},
            "no Intacct department is linked",
        ),
        ({"keys": ("ada",), "profile": "Manager", "employee_join": "telepathy"}, "employee_join 'telepathy'"),
    ],
)
def test_team_member_refusals_write_nothing(world, request_kwargs, message):
    plan_id = world.plan("person", world.stage(USERINFO, users()))
    with pytest.raises(apply.ImportRefused, match=message):
        apply.import_selected(
            world.state, world.target, plan_id, apply.ImportRequest("person", **request_kwargs), run_id="r"
        )
    assert world.target.list_people() == [] and world.linked("person") == []


# -- links -------------------------------------------------------------------------------------------


def test_link_relink_and_unlink_are_checked_and_audited(world):
    a, b, c = world.target.create_clients([NewClient("Alpha"), NewClient("Beta"), NewClient("Gamma")])
    plan_id = world.plan("client", world.stage(CUSTOMER, customers(3), kind="targeted"))

    outcome = linking.link_selected(
        world.state,
        plan_id,
        linking.LinkRequest("client", (LinkPair(a.id, "C1"), LinkPair(b.id, "C2"))),
        run_id="r",
    )
    assert outcome.counts() == {"linked": 2, "unlinked": 0}
    assert world.linked("client") == [("C1", "link"), ("C2", "link")]

    with pytest.raises(LinkRequestRefused) as refused:
        linking.link_selected(
            world.state,
            plan_id,
            linking.LinkRequest(
                "client",
                (LinkPair(c.id, "C1"), LinkPair(999, "C3"), LinkPair(c.id, "NOPE"), LinkPair(a.id, "C3")),
            ),
            run_id="r",
        )
    problems = "\n".join(refused.value.problems)
    assert f"Intacct record 'C1' is already linked to Forecast client {a.id}" in problems
    assert "no Forecast client with id 999" in problems
    assert "no Intacct record 'NOPE'" in problems
    assert f"Forecast client {c.id} appears more than once" in problems
    assert f"Forecast client {a.id} is already linked to 'C1'" in problems
    assert world.linked("client") == [("C1", "link"), ("C2", "link")]  # nothing written

    linking.link_selected(
        world.state, plan_id, linking.LinkRequest("client", (LinkPair(c.id, "C1"),), relink=True), run_id="r"
    )
    assert {(k.intacct_key, k.forecast_id) for k in link_store.links(world.state, "client")} == {
        ("C1", c.id),
        ("C2", b.id),
    }

    with pytest.raises(LinkRequestRefused, match=f"unlink {a.id}: Forecast client {a.id} is not linked"):
        linking.link_selected(world.state, plan_id, linking.LinkRequest("client", unlink=(a.id,)), run_id="r")
    linking.link_selected(world.state, plan_id, linking.LinkRequest("client", unlink=(b.id,)), run_id="r")
    assert world.linked("client") == [("C1", "link")]

    actions = [a for a, _ in world.audit_actions()]
    assert actions == ["link", "link", "unlink", "link", "unlink"]
    with world.state.connect() as connection:
        last = (
            connection.execute(select(intacct_audit).order_by(intacct_audit.c.id.desc())).mappings().first()
        )
    assert json.loads(last["before_json"])["intacct_key"] == "C2" and last["after_json"] is None


def test_link_dry_run_checks_but_writes_nothing(world):
    (a,) = world.target.create_clients([NewClient("Alpha")])
    plan_id = world.plan("client", world.stage(CUSTOMER, customers(1), kind="targeted"))
    outcome = linking.link_selected(
        world.state, plan_id, linking.LinkRequest("client", (LinkPair(a.id, "C1"),), dry_run=True), run_id="r"
    )
    assert outcome.counts() == {"linked": 1, "unlinked": 0} and world.linked("client") == []


def test_an_inactive_customer_matching_a_forecast_client_is_imported_when_asked_not_skipped(world):
    world.target.create_clients([NewClient("Sleeping Giant")])
    records = [{"RECORDNO": "1", "CUSTOMERID": "C1", "NAME": "Sleeping Giant", "STATUS": "inactive"}]
    plan_id = world.plan("client", world.stage(CUSTOMER, records))
    outcome = apply.import_selected(
        world.state,
        world.target,
        plan_id,
        apply.ImportRequest("client", ("C1",), include_inactive=True),
        run_id="r",
    )
    assert [k for k, _ in outcome.created] == ["C1"] and outcome.skipped_linked == []
    assert [r.intacct_key for r in apply.importable_rows(world.state, plan_id, include_inactive=True)] == []


def test_a_linked_department_deleted_in_forecast_leaves_the_person_without_one_and_no_intent(world):
    eng, _ = link_departments(world)
    with world.forecast_engine.begin() as connection:
        connection.exec_driver_sql(f"DELETE FROM department WHERE id = {eng}")
    world.stage(EMPLOYEE, employees())
    plan_id = world.plan("person", world.stage(USERINFO, users()))
    request = apply.ImportRequest("person", ("ada",), profile="Manager", assign_departments=True)

    outcome = apply.import_selected(world.state, world.target, plan_id, request, run_id="r")

    assert outcome.without_department == [("ada", "ENG")]
    assert world.target.list_people()[0].department_id is None
    assert world.intents() == 0


class RefusingForecast(SqlForecastTarget):
    """A Forecast that refuses a batch before writing anything (its contract for bad values)."""

    def create_clients(self, new):
        raise ValueError("refused by Forecast")


def test_a_batch_forecast_refuses_leaves_no_intent_behind(world):
    plan_id = world.plan("client", world.stage(CUSTOMER, customers(2)))
    request = apply.ImportRequest("client", ("C1", "C2"))
    with pytest.raises(ValueError, match="refused by Forecast"):
        apply.import_selected(
            world.state, RefusingForecast(world.forecast_engine), plan_id, request, run_id="r"
        )
    assert world.intents() == 0
    assert [
        k for k, _ in apply.import_selected(world.state, world.target, plan_id, request, run_id="r2").created
    ] == [
        "C1",
        "C2",
    ]


def test_repeated_unlink_ids_are_refused_even_in_a_dry_run(world):
    (a,) = world.target.create_clients([NewClient("Alpha")])
    plan_id = world.plan("client", world.stage(CUSTOMER, customers(1), kind="targeted"))
    linking.link_selected(
        world.state, plan_id, linking.LinkRequest("client", (LinkPair(a.id, "C1"),)), run_id="r"
    )
    with pytest.raises(LinkRequestRefused, match=f"unlink {a.id}: appears more than once"):
        linking.link_selected(
            world.state, plan_id, linking.LinkRequest("client", unlink=(a.id, a.id), dry_run=True), run_id="r"
        )


def test_a_lock_taken_over_stops_the_old_holder(world):
    # "second" sees "first" as stale at once (stale_after=0), as it would a worker silent for 15 minutes
    with (
        locks.apply_lock(world.state, "client", "first") as heartbeat,
        locks.apply_lock(
            world.state, "client", "second", stale_after=timedelta(0), wait=timedelta(seconds=5)
        ),
        pytest.raises(locks.ApplyBusy, match="taken over"),
    ):
        heartbeat()


def test_the_plain_rerun_after_a_crash_succeeds_though_names_repeat(world):
    """Twins (customers sharing a name) created by a run that died before linking them must not turn the
    rerun's plan into conflicts: the open intents are settled before the plan judges matches."""
    records = customers(6)
    for twin in records[3:]:
        twin["NAME"] = "Twin Trading GmbH"
    batch = world.stage(CUSTOMER, records)
    keys = tuple(r["CUSTOMERID"] for r in records)

    def crash(at: str) -> None:
        if at == "after_forecast_write":
            raise Crash(at)

    first_plan = world.plan("client", batch)
    with pytest.raises(Crash):
        apply.import_selected(
            world.state,
            world.target,
            first_plan,
            apply.ImportRequest("client", keys),
            run_id="dead",
            checkpoint=crash,
        )
    assert len(world.target.list_clients()) == 6 and world.intents() == 6
    # what the first rerun used to plan: the dead run's twins read as Forecast clients, hence conflicts
    assert plan.plan_counts(world.state, world.plan("client", batch))["conflict"] == 3

    # the rerun, as every DAG does it: settle interrupted imports, then snapshot and plan
    settled = intents.recover_interrupted(world.state, world.target, "client", run_id="rerun")
    assert sorted(k for k, _ in settled.linked) == list(keys) and settled.dropped == []
    rerun_plan = world.plan("client", batch)
    assert plan.plan_counts(world.state, rerun_plan)["conflict"] == 0
    outcome = apply.import_selected(
        world.state, world.target, rerun_plan, apply.ImportRequest("client", keys), run_id="rerun"
    )

    assert sorted(outcome.skipped_linked) == list(keys) and outcome.created == []
    names = {c.id: c.name for c in world.target.list_clients()}
    assert len(names) == 6
    linked = {link.intacct_key: names[link.forecast_id] for link in link_store.links(world.state, "client")}
    assert linked == {r["CUSTOMERID"]: r["NAME"] for r in records}
    assert world.intents() == 0


def test_settling_drops_intents_whose_forecast_write_never_happened(world):
    batch = world.stage(CUSTOMER, customers(3))

    def crash(at: str) -> None:
        if at == "after_intent":
            raise Crash(at)

    with pytest.raises(Crash):
        apply.import_selected(
            world.state,
            world.target,
            world.plan("client", batch),
            apply.ImportRequest("client", ("C1", "C2")),
            run_id="dead",
            checkpoint=crash,
        )
    settled = intents.recover_interrupted(world.state, world.target, "client", run_id="rerun")
    assert settled.linked == [] and sorted(settled.dropped) == ["C1", "C2"]
    assert world.intents() == 0 and world.target.list_clients() == []
    # nothing open: settling is a no-op that takes no lock
    assert intents.recover_interrupted(world.state, world.target, "client", run_id="again").linked == []
