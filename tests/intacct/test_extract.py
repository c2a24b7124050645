"""Extraction against the sandbox gateway over real HTTP: complete, duplicate-free, counted, fault-proof."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from intacct import extract, staging
from intacct.gateway import errors
from intacct.gateway import requests as build
from intacct.gateway.client import ClientConfig, IntacctClient
from intacct.gateway.retry import RetryPolicy
from intacct.objects import CUSTOMER, DEPARTMENT, EMPLOYEE, USERINFO
from sandbox.intacct_gateway.clock import Clock
from sandbox.intacct_gateway.gateway import DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD
from sandbox.intacct_gateway.generator import DEFAULT_USER_ID, DEFAULT_USER_PASSWORD
from sandbox.intacct_gateway.server import GatewayServer
from sandbox.intacct_gateway.store import DEFAULT_COMPANY_ID

FAST_RETRIES = RetryPolicy(
    base_delay=0.01, max_delay=0.05, max_attempts=8, max_total=20, maintenance_poll=0.2
)
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def gateway():
    with GatewayServer(seed=7, customers=2300, departments=30, users=60, clock=Clock(START)) as server:
        yield server


def make_client(
    server,
    *,
    slots=2,
    sender_password=DEFAULT_SENDER_PASSWORD,
    password=DEFAULT_USER_PASSWORD,
    entity=None,
    retry=FAST_RETRIES,
) -> IntacctClient:
    config = ClientConfig(
        sender=build.SenderCredentials(DEFAULT_SENDER_ID, sender_password),
        login=build.LoginCredentials(DEFAULT_USER_ID, DEFAULT_COMPANY_ID, password, entity_id=entity),
        endpoint=server.endpoint,
        slots=slots,
        read_timeout=30,
        retry=retry,
    )
    # The sandbox runs on its own (frozen) clock; the client must judge session expiry by the same one.
    return IntacctClient(config, now=server.store.clock.now)


def stamp(text):
    return datetime.strptime(text, "%m/%d/%Y %H:%M:%S")


def staged_keys(state_engine, spec, batch_id):
    return [row[spec.key_column] for row in staging.batch_rows(state_engine, spec, batch_id)]


def intacct_keys(server, spec, *, show_private=False):
    """What a top-level session sees: private-entity records only when it asks for them."""
    return sorted(
        r[spec.key] for r in server.store.records(spec.name) if show_private or not r.get("MEGAENTITYID")
    )


def test_full_extraction_reads_every_record_once_and_counts_its_calls(gateway, state_engine):
    client = make_client(gateway)
    result = extract.extract_full(client, state_engine, CUSTOMER, run_id="r1")

    keys = staged_keys(state_engine, CUSTOMER, result.batch_id)
    assert sorted(keys) == intacct_keys(gateway, CUSTOMER)
    assert len(keys) == len(set(keys)) == result.rows
    pages = gateway.ledger.calls("query", "CUSTOMER")
    # 2,300 records in two 2,000-record pages (the first with the probes), plus two probes (watermark,
    # highest RECORDNO)
    assert result.api_calls == pages == client.counter.snapshot()[("query", "CUSTOMER")]
    assert pages <= 2 + 3
    assert gateway.ledger.requests("throttled") == 0  # two slots used, never exceeded
    batch = staging.get_batch(state_engine, result.batch_id)
    assert (batch.status, batch.kind, batch.row_count) == ("complete", "full", len(keys))
    newest = max(
        stamp(r["WHENMODIFIED"])
        for r in gateway.store.records("CUSTOMER")
        if r.get("WHENMODIFIED") and not r.get("MEGAENTITYID")
    )
    assert batch.watermark.astimezone(client.user_time_zone()).replace(tzinfo=None) == newest


def test_the_sign_in_goes_alone_then_the_probes_share_one_request_with_the_users_formatting(
    gateway, state_engine
):
    extract.extract_full(make_client(gateway), state_engine, CUSTOMER, run_id="r1")
    # Intacct asks for getAPISession alone in its request; then the watermark, the first page (the lowest
    # RECORDNO), the highest RECORDNO and the user's formatting: four transactions, one round trip
    sign_in, probes, *pages = gateway.ledger.entries()
    assert [c.function for c in sign_in.calls] == ["getAPISession"]
    assert [c.function for c in probes.calls] == ["query", "query", "query", "readUserFormatting"]
    assert all([c.function for c in entry.calls] == ["query"] for entry in pages)
    assert gateway.ledger.calls("readUserFormatting") == gateway.ledger.calls("getAPISession") == 1


def test_a_failure_to_store_a_page_stops_the_fetching(gateway, state_engine, monkeypatch):
    stored = []

    def insert_then_fail(engine, spec, batch_id, columns):
        stored.append(batch_id)
        if len(stored) == 2:
            raise RuntimeError("disk full")

    monkeypatch.setattr(staging, "insert_columns", insert_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        extract.extract_full(
            make_client(gateway),
            state_engine,
            CUSTOMER,
            run_id="r1",
            options=extract.ExtractOptions(page_size=100, writers=0),  # stored here, where the patch is
        )
    assert staging.latest_batch(state_engine, "CUSTOMER") is None
    # 23 pages in all; the workers stop within a few pages of the failure (one queued; each of the
    # four slice workers holds one page and may have one more request on the wire)
    workers = 2 * extract.SLICES_PER_SLOT
    assert gateway.ledger.calls("query", "CUSTOMER") <= 3 + 2 + 1 + 2 * workers


def test_staged_values_are_typed_and_in_the_users_time_zone(gateway, state_engine):
    client = make_client(gateway)
    result = extract.extract_full(client, state_engine, USERINFO, run_id="r1")
    rows = {r["login_id"]: r for r in staging.batch_rows(state_engine, USERINFO, result.batch_id)}
    source = {r["LOGINID"]: r for r in gateway.store.records("USERINFO")}
    assert rows.keys() == source.keys()
    zone = client.user_time_zone()
    for login, row in rows.items():
        raw = source[login]
        assert row["recordno"] == int(raw["RECORDNO"])
        assert row["email"] == (raw.get("CONTACTINFO.EMAIL1") or None)
        assert row["login_disabled"] == (raw.get("LOGINDISABLED") == "true")
        if raw.get("WHENCREATED"):
            assert row["when_created"] == datetime.strptime(raw["WHENCREATED"], "%m/%d/%Y %H:%M:%S").replace(
                tzinfo=zone
            )
    assert any(r["email_key"] is None for r in rows.values())  # the generator has users without email


@pytest.mark.parametrize("spec", [DEPARTMENT, EMPLOYEE], ids=lambda s: s.name)
def test_departments_and_employees_are_complete(gateway, state_engine, spec):
    result = extract.extract_full(make_client(gateway), state_engine, spec, run_id="r1")
    assert sorted(staged_keys(state_engine, spec, result.batch_id)) == intacct_keys(gateway, spec)


# What a team-member import with department assignment reads: users, their employees, the departments.
TEAM_OBJECTS = [USERINFO, EMPLOYEE, DEPARTMENT]


def newest_modification(server, spec):
    return max(
        stamp(r["WHENMODIFIED"])
        for r in server.store.records(spec.name)
        if r.get("WHENMODIFIED") and not r.get("MEGAENTITYID")
    )


def test_objects_read_together_are_each_a_complete_batch_of_their_own(gateway, state_engine):
    client = make_client(gateway)
    results = extract.extract_full_many(
        client, state_engine, TEAM_OBJECTS, run_id="r1", options=extract.ExtractOptions(page_size=10)
    )
    assert [r.object for r in results] == [spec.name for spec in TEAM_OBJECTS]
    for spec, result in zip(TEAM_OBJECTS, results, strict=True):
        keys = staged_keys(state_engine, spec, result.batch_id)
        assert sorted(keys) == intacct_keys(gateway, spec)
        assert len(keys) == len(set(keys)) == result.rows
        batch = staging.get_batch(state_engine, result.batch_id)
        assert (batch.object, batch.status, batch.kind, batch.run_id) == (spec.name, "complete", "full", "r1")
        watermark = batch.watermark.astimezone(client.user_time_zone()).replace(tzinfo=None)
        assert watermark == newest_modification(gateway, spec)
        # each batch counts the calls spent on its own object, as the sandbox saw them
        assert result.api_calls == batch.api_calls == gateway.ledger.calls("query", spec.name)
    assert len({r.batch_id for r in results}) == len(TEAM_OBJECTS)
    assert gateway.ledger.requests("throttled") == 0  # the objects shared two slots, never exceeded them


def test_objects_read_together_cost_one_sign_in_one_round_of_probes_and_their_pages(gateway, state_engine):
    client = make_client(gateway)
    results = extract.extract_full_many(
        client, state_engine, TEAM_OBJECTS, options=extract.ExtractOptions(page_size=10)
    )
    sign_in, probes, *pages = gateway.ledger.entries()
    assert [c.function for c in sign_in.calls] == ["getAPISession"]
    # one request before the paging, for every object: its watermark, its first page and its highest
    # RECORDNO; and the user's formatting
    assert [(c.function, c.object) for c in probes.calls] == [
        *(("query", spec.name) for spec in TEAM_OBJECTS for _ in range(3)),
        ("readUserFormatting", "USERINFO"),
    ]
    assert all([c.function for c in entry.calls] == ["query"] for entry in pages)
    assert gateway.ledger.calls("getAPISession") == gateway.ledger.calls("readUserFormatting") == 1
    # every call is a page, but for a constant: the sign-in, the user's formatting, two probes per object
    pages_needed = sum(-(-r.rows // 10) for r in results)
    assert client.counter.total == sum(gateway.ledger.counts().values())
    assert client.counter.total == pages_needed + 2 + 2 * len(TEAM_OBJECTS)
    # the objects' pages went out side by side, not one object after another
    objects = [entry.calls[0].object for entry in pages]
    assert sum(a != b for a, b in itertools.pairwise(objects)) > len(TEAM_OBJECTS) - 1


def test_a_one_page_object_is_read_in_the_request_of_its_probes(gateway, state_engine):
    client = make_client(gateway)
    result = extract.extract_full(client, state_engine, DEPARTMENT)
    assert result.rows == len(intacct_keys(gateway, DEPARTMENT)) < extract.MAX_PAGE_SIZE
    # the sign-in, then the watermark, the first (and only) page, the highest RECORDNO and the formatting
    assert gateway.ledger.requests() == 2
    assert client.counter.total == 1 + 4


def test_when_one_object_of_a_read_fails_no_batch_of_the_read_is_visible(gateway, state_engine, monkeypatch):
    insert = staging.insert_columns

    def fail_employees(engine, spec, batch_id, columns):
        if spec.name == "EMPLOYEE":
            raise RuntimeError("disk full")
        return insert(engine, spec, batch_id, columns)

    monkeypatch.setattr(staging, "insert_columns", fail_employees)
    with pytest.raises(RuntimeError, match="disk full"):
        extract.extract_full_many(
            make_client(gateway),
            state_engine,
            TEAM_OBJECTS,
            run_id="r1",
            options=extract.ExtractOptions(page_size=10, writers=0),  # stored here, where the patch is
        )
    for spec in TEAM_OBJECTS:
        assert staging.latest_batch(state_engine, spec.name) is None


def test_a_read_of_several_objects_names_each_once(gateway, state_engine):
    for specs in ([USERINFO, EMPLOYEE, USERINFO], []):
        with pytest.raises(ValueError, match="reads each object once"):
            extract.extract_full_many(make_client(gateway), state_engine, specs)
    assert gateway.ledger.requests() == 0


def test_targeted_extraction_reads_only_the_named_records(gateway, state_engine):
    wanted = [*intacct_keys(gateway, CUSTOMER)[5:8], "NO-SUCH-CUSTOMER"]
    result = extract.extract_targeted(make_client(gateway), state_engine, CUSTOMER, wanted, run_id="r1")
    assert sorted(staged_keys(state_engine, CUSTOMER, result.batch_id)) == sorted(wanted[:3])
    assert result.kind == "targeted" and result.watermark is None


def test_targeted_extraction_splits_long_id_lists(gateway, state_engine):
    wanted = intacct_keys(gateway, CUSTOMER)[:1500]
    result = extract.extract_targeted(make_client(gateway), state_engine, CUSTOMER, wanted, run_id="r1")
    assert sorted(staged_keys(state_engine, CUSTOMER, result.batch_id)) == sorted(wanted)
    assert gateway.ledger.calls("query", "CUSTOMER") == 2  # two `in` filters of at most 1,000 values


def test_incremental_extraction_reads_what_changed_since_the_watermark(gateway, state_engine):
    client = make_client(gateway)
    full = extract.extract_full(client, state_engine, CUSTOMER, run_id="r1")
    store = gateway.store
    gateway.store.clock.advance(3600)
    changed = intacct_keys(gateway, CUSTOMER)[10:13]
    for key in changed:
        store.update("CUSTOMER", key, {"NAME": f"Renamed {key}"})
    created = store.create("CUSTOMER", {"CUSTOMERID": "C-NEW-1", "NAME": "Brand New & Co"})

    since = extract.next_since(state_engine, CUSTOMER)
    assert since == full.watermark
    result = extract.extract_incremental(
        client,
        state_engine,
        CUSTOMER,
        since=since,
        run_id="r2",
        options=extract.ExtractOptions(overlap=timedelta(0)),
    )
    rows = {r["customer_id"]: r for r in staging.batch_rows(state_engine, CUSTOMER, result.batch_id)}
    # expected, computed from the gateway's records: changed at or after the watermark, in the user's zone
    start = since.astimezone(client.user_time_zone()).replace(tzinfo=None)
    expected = {
        r["CUSTOMERID"]
        for r in gateway.store.records("CUSTOMER")
        if not r.get("MEGAENTITYID")
        and (
            (r.get("WHENMODIFIED") and stamp(r["WHENMODIFIED"]) >= start)
            or (not r.get("WHENMODIFIED") and stamp(r["WHENCREATED"]) >= start)
        )
    }
    assert {*changed, created["CUSTOMERID"]} <= expected
    assert sorted(rows) == sorted(expected)
    assert rows[changed[0]]["name"] == f"Renamed {changed[0]}"
    assert result.watermark > full.watermark
    assert extract.next_since(state_engine, CUSTOMER) == result.watermark


def test_rows_inserted_changed_and_deleted_while_paging(gateway, state_engine):
    before = set(intacct_keys(gateway, CUSTOMER))
    gateway.faults.enable(
        "data_change", object="CUSTOMER", after_pages=1, creates=5, updates=5, deletes=5, seed=3
    )
    result = extract.extract_full(
        make_client(gateway),
        state_engine,
        CUSTOMER,
        run_id="r1",
        options=extract.ExtractOptions(page_size=500),
    )
    keys = staged_keys(state_engine, CUSTOMER, result.batch_id)
    after = set(intacct_keys(gateway, CUSTOMER))
    assert len(keys) == len(set(keys))  # duplicate-free
    assert after & before <= set(keys)  # every record that existed throughout is there
    assert set(keys) <= before | after  # nothing invented
    assert after - before <= set(keys)  # records created while paging land in the open last slice


FAULTS = {
    "server_error": {"every": 3, "status": 503},
    "html_error": {"nth": (2, 5, 6)},
    "drop_connection": {"nth": (3, 4)},
    "throttle": {"first": 3},
    "session_expiry": {"after": 2},
    "unstable_order": {"seed": 5},
}


@pytest.mark.parametrize("fault", FAULTS)
def test_transient_faults_are_survived_with_complete_data(gateway, state_engine, fault):
    gateway.faults.enable(fault, **FAULTS[fault])
    result = extract.extract_full(
        make_client(gateway),
        state_engine,
        CUSTOMER,
        run_id="r1",
        options=extract.ExtractOptions(page_size=400),
    )
    keys = staged_keys(state_engine, CUSTOMER, result.batch_id)
    assert sorted(keys) == intacct_keys(gateway, CUSTOMER)


def test_a_maintenance_window_is_waited_out(gateway, state_engine):
    gateway.faults.enable("maintenance", seconds=0.5)  # measured on the sandbox clock, which we advance

    def advance_while_waiting(seconds):
        gateway.store.clock.advance(seconds)

    client = make_client(gateway)
    client._sleep = advance_while_waiting  # the client waits on the gateway's (frozen) clock
    result = extract.extract_full(client, state_engine, DEPARTMENT, run_id="r1")
    assert result.rows == gateway.store.count("DEPARTMENT")
    assert gateway.ledger.requests("maintenance") + gateway.ledger.calls(status="failure") > 0


def test_more_client_slots_than_the_company_has_are_throttled_and_retried(gateway, state_engine):
    result = extract.extract_full(
        make_client(gateway, slots=4),
        state_engine,
        CUSTOMER,
        run_id="r1",
        options=extract.ExtractOptions(page_size=300),
    )
    assert sorted(staged_keys(state_engine, CUSTOMER, result.batch_id)) == intacct_keys(gateway, CUSTOMER)


def test_a_failed_extraction_leaves_no_visible_batch(gateway, state_engine):
    gateway.faults.enable("server_error", nth=tuple(range(4, 200)))
    client = make_client(
        gateway, retry=RetryPolicy(base_delay=0.01, max_delay=0.01, max_attempts=2, max_total=5)
    )
    with pytest.raises(errors.GatewayServerError):
        extract.extract_full(
            client, state_engine, CUSTOMER, run_id="r1", options=extract.ExtractOptions(page_size=200)
        )
    assert staging.latest_batch(state_engine, "CUSTOMER") is None


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"sender_password": "wrong-sender"}, errors.SenderAuthenticationError, "sender"),
        ({"password": "wrong-password"}, errors.UserAuthenticationError, "user"),
        ({"entity": "NO-SUCH-ENTITY"}, errors.EntityError, "entity"),
    ],
)
def test_bad_credentials_end_with_one_clear_sentence(gateway, kwargs, error, words):
    client = make_client(gateway, **kwargs)
    with pytest.raises(error) as raised:
        client.sign_in()
    message = str(raised.value)
    assert words in message.lower()
    assert "wrong-sender" not in message and "wrong-password" not in message
    assert gateway.ledger.requests() == 1  # not retried


def test_a_gateway_answering_html_fails_loudly(gateway):
    gateway.faults.enable("html_error")
    client = make_client(
        gateway, retry=RetryPolicy(base_delay=0.01, max_delay=0.01, max_attempts=3, max_total=5)
    )
    with pytest.raises(errors.RetryableError, match=r"<html>.*HTTP 502"):
        client.sign_in()
    assert gateway.ledger.requests() == 3


def test_private_entity_records_need_show_private(gateway, state_engine):
    hidden = extract.extract_full(make_client(gateway), state_engine, CUSTOMER, run_id="r1")
    shown = extract.extract_full(
        make_client(gateway),
        state_engine,
        CUSTOMER,
        run_id="r2",
        options=extract.ExtractOptions(show_private=True),
    )
    assert shown.rows > hidden.rows
    assert sorted(staged_keys(state_engine, CUSTOMER, shown.batch_id)) == intacct_keys(
        gateway, CUSTOMER, show_private=True
    )


def test_a_big_full_extraction_is_stored_by_writer_processes_exactly_as_in_process(
    gateway, state_engine, caplog
):
    caplog.set_level("INFO", logger="intacct.extract")
    client = make_client(gateway)
    # Pages of 100: 22 pages, past the size from which writer processes store them.
    in_processes = extract.extract_full(
        client, state_engine, CUSTOMER, options=extract.ExtractOptions(page_size=100)
    )
    assert "pages stored by 2 writer processes" in caplog.text
    in_thread = extract.extract_full(
        client, state_engine, CUSTOMER, options=extract.ExtractOptions(page_size=100, writers=0)
    )
    assert "pages stored in the fetching process" in caplog.text

    def rows(batch_id):
        return [
            {k: v for k, v in r.items() if k != "batch_id"}
            for r in staging.batch_rows(state_engine, CUSTOMER, batch_id)
        ]

    assert rows(in_processes.batch_id) == rows(in_thread.batch_id)
    assert sorted(staged_keys(state_engine, CUSTOMER, in_processes.batch_id)) == intacct_keys(
        gateway, CUSTOMER
    )
    # Slices hold whole pages as far as RECORDNOs let us guess: few requests beyond the pages themselves.
    pages = -(-in_processes.rows // 100)
    assert in_processes.api_calls <= 3 + pages + 2


def test_an_extraction_given_fewer_slots_than_the_company_never_uses_more(gateway, state_engine):
    # Two slots' worth of slices (four) page at once, but only two requests may be on the wire: the
    # sandbox throttles a third one in flight (each taking 50 ms, so the slices do overlap).
    gateway.faults.enable("latency", ms=50)
    client = make_client(gateway, slots=4)
    result = extract.extract_full(
        client, state_engine, CUSTOMER, options=extract.ExtractOptions(page_size=200, slots=2)
    )
    assert sorted(staged_keys(state_engine, CUSTOMER, result.batch_id)) == intacct_keys(gateway, CUSTOMER)
    assert gateway.ledger.requests("throttled") == 0
