"""The hourly department reads against the sandbox gateway over real HTTP: cheap, complete, never losing
a change or a deletion, on both state-database backends."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert

from intacct import changes, staging
from intacct.airflow.hooks import IntacctHook
from intacct.extract import ExtractOptions
from intacct.gateway import requests as build
from intacct.gateway.client import ClientConfig, IntacctClient
from intacct.gateway.counter import CallCounter
from intacct.gateway.retry import RetryPolicy
from intacct.objects import DEPARTMENT
from intacct.state.schema import intacct_link
from sandbox.intacct_gateway.clock import Clock
from sandbox.intacct_gateway.gateway import DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD
from sandbox.intacct_gateway.generator import DEFAULT_USER_ID, DEFAULT_USER_PASSWORD
from sandbox.intacct_gateway.server import GatewayServer
from sandbox.intacct_gateway.store import DEFAULT_COMPANY_ID

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SANDBOX_ZONE = timezone(timedelta(hours=-8))  # the sandbox user's gmtoffset
LOOKBACK = timedelta(minutes=2)
FAST_RETRIES = RetryPolicy(base_delay=0.01, max_delay=0.05, max_attempts=8, max_total=20)


@pytest.fixture
def gateway():
    with GatewayServer(seed=11, customers=5, departments=40, users=20, clock=Clock(START)) as server:
        yield server


def make_client(server, *, time_zone=SANDBOX_ZONE) -> IntacctClient:
    config = ClientConfig(
        sender=build.SenderCredentials(DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD),
        login=build.LoginCredentials(DEFAULT_USER_ID, DEFAULT_COMPANY_ID, DEFAULT_USER_PASSWORD),
        endpoint=server.endpoint,
        read_timeout=30,
        retry=FAST_RETRIES,
        time_zone=time_zone,
    )
    return IntacctClient(config, now=server.store.clock.now)


def full_compare(server, engine):
    """The daily full batch; then an hour passes on the company's clock and the ledger starts afresh."""
    result = changes.read_department_ids(make_client(server), engine, DEPARTMENT, run_id="full")
    server.store.clock.advance(3600)
    server.ledger.reset()
    return result


def read(server, engine, since, *, client=None, run_id="hourly", **options):
    return changes.read_changes(
        client or make_client(server),
        engine,
        DEPARTMENT,
        since=since,
        lookback=LOOKBACK,
        run_id=run_id,
        options=ExtractOptions(**options),
    )


def staged(engine, result) -> dict[str, dict]:
    return {r["department_id"]: r for r in staging.batch_rows(engine, DEPARTMENT, result.batch_id)}


def stamp(text: str) -> datetime:
    return datetime.strptime(text, "%m/%d/%Y %H:%M:%S").replace(tzinfo=SANDBOX_ZONE)


def load_unstamped_department(store) -> str:
    """A department Intacct never stamped with a WHENMODIFIED (only its WHENCREATED says it is new),
    D-UNSTAMPED, created now: its WHENCREATED."""
    created = store.clock.now()
    store.load(
        "DEPARTMENT",
        [
            {
                "RECORDNO": store.table("DEPARTMENT").next_key,
                "DEPARTMENTID": "D-UNSTAMPED",
                "TITLE": "Created without a WHENMODIFIED",
                "STATUS": "active",
                "WHENCREATED": created,
            }
        ],
    )
    assert store.get("DEPARTMENT", "D-UNSTAMPED")["WHENMODIFIED"] == ""
    return created


def deletable(server) -> list[str]:
    """Departments nothing points at (no child department, no employee), which the store may delete."""
    records = server.store.records("DEPARTMENT")
    parents = {r["PARENTID"] for r in records}
    used = {e["DEPARTMENTID"] for e in server.store.records("EMPLOYEE")}
    return [r["DEPARTMENTID"] for r in records if r["DEPARTMENTID"] not in parents | used]


def ledger_calls(server) -> int:
    return server.ledger.calls()


def test_an_hour_without_changes_costs_three_calls_and_stages_nothing(gateway, state_engine):
    full = full_compare(gateway, state_engine)
    newest = max(stamp(r["WHENMODIFIED"] or r["WHENCREATED"]) for r in gateway.store.records("DEPARTMENT"))
    since = newest + LOOKBACK + timedelta(seconds=1)  # nothing changed in the look-back either
    client = make_client(gateway)

    result = read(gateway, state_engine, since, client=client)

    assert result.batch.rows == 0 and result.deleted_keys == [] and result.audit_note is None
    assert result.api_calls == client.counter.total == ledger_calls(gateway) == 3
    sign_in, first = gateway.ledger.entries()
    assert [c.function for c in sign_in.calls] == ["getAPISession"]  # alone, as Intacct asks
    assert [(c.function, c.object) for c in first.calls] == [
        ("query", "DEPARTMENT"),
        ("query", "AUDITHISTORY"),
    ]
    assert result.watermark == since  # nothing seen: the watermark stays, never the wall clock
    assert result.time_zone == SANDBOX_ZONE
    batch = staging.get_batch(state_engine, result.batch.batch_id)
    assert (batch.kind, batch.status, batch.watermark) == ("incremental", "complete", since)

    # From the full compare's watermark the look-back re-reads the newest records, at the same cost.
    gateway.ledger.reset()
    again = read(gateway, state_engine, full.watermark)
    assert again.api_calls == ledger_calls(gateway) == 3
    assert again.watermark == full.watermark
    assert 1 <= again.batch.rows <= 5


def test_without_the_time_zone_the_read_spends_one_more_call_and_says_which_zone_to_keep(
    gateway, state_engine
):
    full = full_compare(gateway, state_engine)
    first = read(gateway, state_engine, full.watermark, client=make_client(gateway, time_zone=None))
    assert first.api_calls == ledger_calls(gateway) == 4  # getAPISession, readUserFormatting, two queries
    assert gateway.ledger.calls("readUserFormatting") == 1
    assert first.time_zone.utcoffset(None) == timedelta(hours=-8)

    gateway.ledger.reset()
    kept = make_client(gateway, time_zone=first.time_zone)  # what the caller stored, handed back
    second = read(gateway, state_engine, first.watermark, client=kept)
    assert second.api_calls == ledger_calls(gateway) == 3
    assert gateway.ledger.calls("readUserFormatting") == 0


def test_renames_status_changes_new_and_never_modified_departments_are_staged(gateway, state_engine):
    full = full_compare(gateway, state_engine)
    store = gateway.store
    records = store.records("DEPARTMENT")
    renamed, deactivated = records[3]["DEPARTMENTID"], records[7]["DEPARTMENTID"]
    store.update("DEPARTMENT", renamed, {"TITLE": "Platform & Tools"})
    store.clock.advance(60)
    store.update("DEPARTMENT", deactivated, {"STATUS": "inactive"})
    store.clock.advance(60)
    store.create("DEPARTMENT", {"DEPARTMENTID": "D-NEW", "TITLE": "Brand New"})
    store.clock.advance(60)
    created = load_unstamped_department(store)

    result = read(gateway, state_engine, full.watermark)

    rows = staged(state_engine, result.batch)
    assert {renamed, deactivated, "D-NEW", "D-UNSTAMPED"} <= rows.keys()
    assert rows[renamed]["title"] == "Platform & Tools"
    assert rows[deactivated]["status"] == "inactive"
    assert rows["D-UNSTAMPED"]["when_modified"] is None
    assert result.watermark == created  # the newest timestamp seen: here a WHENCREATED
    assert result.api_calls == ledger_calls(gateway) == 3


def test_a_hard_delete_is_reported_by_its_department_id(gateway, state_engine):
    gone = deletable(gateway)[0]
    full = full_compare(gateway, state_engine)  # staged gone's RECORDNO
    recordno = int(gateway.store.get("DEPARTMENT", gone)["RECORDNO"])
    gateway.store.delete("DEPARTMENT", gone)
    assert gateway.store.records("AUDITHISTORY")[-1]["OBJECTKEY"] == f"{recordno}--REC"  # the sandbox's style

    result = read(gateway, state_engine, full.watermark)

    assert result.deleted_keys == [gone]
    assert gone not in staged(state_engine, result.batch)
    assert result.watermark == stamp(gateway.store.records("AUDITHISTORY")[-1]["ACCESSTIME"])
    assert result.api_calls == ledger_calls(gateway) == 3


def test_every_objectkey_style_maps_to_a_department_id(gateway, state_engine):
    records = gateway.store.records("DEPARTMENT")
    full = full_compare(gateway, state_engine)
    by_recordno = records[0]  # staged by the full compare
    numeric_id = records[1]["RECORDNO"]  # a bare number that is also a RECORDNO: which one is meant?
    with state_engine.begin() as connection:  # a linked department the staging no longer holds
        connection.execute(
            insert(intacct_link).values(
                entity_type="department",
                forecast_id=7,
                intacct_key="D-LINKED",
                intacct_recordno=9001,
                origin="link",
                linked_at=START,
            )
        )
    at = gateway.store.clock.now()
    styles = [
        f"{by_recordno['RECORDNO']}--REC",  # the sandbox's (and estuary's) "<RECORDNO>--REC"
        "9001",  # a bare RECORDNO, known from the links
        "D-TEXT-ID",  # the DEPARTMENTID itself
        "424242--REC",  # a RECORDNO nobody here ever saw
    ]
    for key in styles:
        gateway.store.append_audit(
            {"OBJECTTYPE": "department", "OBJECTKEY": key, "ACCESSMODE": "D", "ACCESSTIME": at}
        )

    result = read(gateway, state_engine, full.watermark)

    assert result.deleted_keys == [by_recordno["DEPARTMENTID"], "D-LINKED", "D-TEXT-ID"]
    assert result.unmapped_deletions == ["424242--REC"]
    # A bare number that is one department's RECORDNO and another one's ID is not guessed.
    assert changes.map_deleted_keys(state_engine, DEPARTMENT, ["9001", "42"]) == (["D-LINKED"], ["42"])
    with state_engine.begin() as connection:
        connection.execute(
            insert(intacct_link).values(
                entity_type="department",
                forecast_id=8,
                intacct_key=numeric_id,
                intacct_recordno=9002,
                origin="link",
                linked_at=START,
            )
        )
    assert changes.map_deleted_keys(state_engine, DEPARTMENT, [numeric_id]) == ([], [numeric_id])


def test_without_audithistory_permission_the_changes_are_still_read(gateway, state_engine):
    full = full_compare(gateway, state_engine)
    renamed = gateway.store.records("DEPARTMENT")[5]["DEPARTMENTID"]
    gateway.store.update("DEPARTMENT", renamed, {"TITLE": "Still Read"})
    gateway.faults.enable("audit_denied")

    result = read(gateway, state_engine, full.watermark)

    assert result.deleted_keys is None
    assert "PL04000005" in result.audit_note and "deletions since" in result.audit_note
    assert staged(state_engine, result.batch)[renamed]["title"] == "Still Read"
    # The refused request lost the page with it: the page alone once more, nothing else re-spent.
    assert gateway.ledger.calls("query", "DEPARTMENT") == 2
    assert gateway.ledger.calls("query", "AUDITHISTORY") == 1
    assert result.api_calls == ledger_calls(gateway) == 4


def test_an_intermittent_audithistory_failure_is_tried_again_alone(gateway, state_engine):
    gone = deletable(gateway)[0]
    full = full_compare(gateway, state_engine)
    gateway.store.delete("DEPARTMENT", gone)
    gateway.faults.enable("audit_errors", first=1)

    result = read(gateway, state_engine, full.watermark)

    assert result.deleted_keys == [gone] and result.audit_note is None
    # The client does not retry DL02000001 (it is also what a bad field gets): read_changes does, once.
    assert gateway.ledger.calls("query", "AUDITHISTORY", status="failure") == 1
    assert gateway.ledger.calls("query", "AUDITHISTORY") == 2
    assert gateway.ledger.calls("query", "DEPARTMENT") == 2  # the page re-spent once, never more
    assert result.api_calls == ledger_calls(gateway) == 5


def test_an_audithistory_failing_every_time_is_reported_not_retried_forever(gateway, state_engine):
    full = full_compare(gateway, state_engine)
    gateway.faults.enable("audit_errors")
    result = read(gateway, state_engine, full.watermark)
    assert result.deleted_keys is None and "failed 2 times" in result.audit_note
    assert "DL02000001" in result.audit_note
    assert gateway.ledger.calls("query", "AUDITHISTORY") == changes.AUDIT_ATTEMPTS


def test_many_deletions_are_paged_by_audit_id(gateway, state_engine):
    victims = deletable(gateway)[:5]
    full = full_compare(gateway, state_engine)
    for key in victims:
        gateway.store.delete("DEPARTMENT", key)
        gateway.store.clock.advance(1)
    result = read(gateway, state_engine, full.watermark, page_size=2)
    assert result.deleted_keys == victims
    assert gateway.ledger.calls("query", "AUDITHISTORY") == 3  # 2 + 2 + 1


def test_a_change_landing_while_paging_is_in_this_batch_or_the_next(gateway, state_engine):
    full = full_compare(gateway, state_engine)
    store = gateway.store
    records = store.records("DEPARTMENT")
    for record in records[:12]:
        store.update("DEPARTMENT", record["DEPARTMENTID"], {"TITLE": f"{record['TITLE']} (1)"})
    behind, ahead = records[0]["DEPARTMENTID"], records[11]["DEPARTMENTID"]

    def while_paging(store):
        # After the first page: a record already read changes, then, much later, one not read yet.
        store.clock.advance(30)
        store.update("DEPARTMENT", behind, {"TITLE": "Changed behind the cursor"})
        store.clock.advance(600)
        store.update("DEPARTMENT", ahead, {"TITLE": "Changed ahead of the cursor"})

    gateway.faults.enable("data_change", object="DEPARTMENT", after_pages=1, action=while_paging)
    first = read(gateway, state_engine, full.watermark, page_size=5)

    rows = staged(state_engine, first.batch)
    assert gateway.ledger.calls("query", "DEPARTMENT") == 3  # 12 changed records, pages of 5
    assert rows[behind]["title"] != "Changed behind the cursor"  # missed by this batch...
    assert rows[ahead]["title"] == "Changed ahead of the cursor"
    # ...so the watermark is the first response's newest timestamp, not the newest of every page: that
    # one is 10 minutes later, and starting there (minus the look-back) would never read `behind` again.
    newest_staged = max(r["when_modified"] for r in rows.values())
    assert first.watermark < stamp(store.get("DEPARTMENT", behind)["WHENMODIFIED"])
    assert newest_staged - LOOKBACK > stamp(store.get("DEPARTMENT", behind)["WHENMODIFIED"])

    gateway.faults.disable("data_change")
    second = read(gateway, state_engine, first.watermark, run_id="next hour")
    assert staged(state_engine, second.batch)[behind]["title"] == "Changed behind the cursor"


def test_a_full_compare_costs_its_pages_plus_a_constant(gateway, state_engine):
    client = make_client(gateway)
    result = changes.read_department_ids(
        client, state_engine, DEPARTMENT, run_id="full", options=ExtractOptions(page_size=10, slots=2)
    )
    records = gateway.store.records("DEPARTMENT")
    assert (result.kind, result.rows) == ("full", len(records))
    assert sorted(staged(state_engine, result)) == sorted(r["DEPARTMENTID"] for r in records)
    newest = max(stamp(r["WHENMODIFIED"]) for r in records if r["WHENMODIFIED"])
    assert result.watermark == newest
    # One slot whatever the options say: the sign-in, the newest-modification probe (the watermark) and
    # the pages; no RECORDNO-bounds probes, no extra page where a slice boundary was guessed wrong.
    assert client.counter.total == ledger_calls(gateway) == math.ceil(len(records) / 10) + 2


@pytest.fixture
def big_gateway():
    with GatewayServer(seed=3, customers=5, departments=2600, users=20, clock=Clock(START)) as server:
        yield server


def test_2500_changes_cost_two_pages_and_the_constant(big_gateway, state_engine):
    full = full_compare(big_gateway, state_engine)
    store = big_gateway.store
    changed = [r["DEPARTMENTID"] for r in store.records("DEPARTMENT")[:2500]]
    for key in changed:
        store.update("DEPARTMENT", key, {"TITLE": f"{key} renamed"})
    store.clock.advance(60)

    client = make_client(big_gateway)
    result = read(big_gateway, state_engine, full.watermark, client=client)

    assert set(changed) <= set(staged(state_engine, result.batch))
    assert big_gateway.ledger.calls("query", "DEPARTMENT") == 2
    assert result.api_calls == client.counter.total == ledger_calls(big_gateway) == 2 + 2  # sign-in, audit


def test_the_hook_hands_the_kept_time_zone_to_the_client(gateway, state_engine, monkeypatch):
    def connect(**extra):
        conn = gateway.airflow_connection(**extra)
        monkeypatch.setenv("AIRFLOW_CONN_INTACCT_DEFAULT", json.dumps(conn))

    connect()
    full = full_compare(gateway, state_engine)
    hook = IntacctHook()
    assert hook.get_client().config.time_zone is None
    counter = CallCounter()
    client = hook.get_client(counter, time_zone=SANDBOX_ZONE)
    client._now = gateway.store.clock.now  # sessions expire on the sandbox's (frozen) clock
    assert client.config.time_zone == SANDBOX_ZONE
    result = read(gateway, state_engine, full.watermark, client=client)
    assert result.api_calls == counter.total == ledger_calls(gateway) == 3

    connect(time_zone="America/Los_Angeles")  # the connection's own zone wins
    assert str(IntacctHook().get_client(time_zone=SANDBOX_ZONE).config.time_zone) == "America/Los_Angeles"
