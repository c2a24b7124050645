"""A plan over a generated company, checked row by row against expectations computed here in Python.

The sandbox generates a realistic company (accents, near-duplicate names, inactive and private records);
Forecast is seeded with clients that match some customers by normalised name, some twice, plus links
(one to a Forecast client that is gone, one to a customer Intacct no longer has). The expected action
of every row is derived below from the rules in the plan's documentation, independently of the SQL.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from intacct import extract, plan, snapshot
from intacct.forecast.sql import SqlForecastTarget, ensure_forecast_schema
from intacct.forecast.target import NewClient
from intacct.gateway import requests as build
from intacct.gateway.client import ClientConfig, IntacctClient
from intacct.mapping import client_values
from intacct.matching import client_name_key
from intacct.objects import CUSTOMER
from intacct.state.schema import intacct_link
from sandbox.intacct_gateway.clock import Clock
from sandbox.intacct_gateway.gateway import DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD
from sandbox.intacct_gateway.generator import DEFAULT_USER_ID, DEFAULT_USER_PASSWORD
from sandbox.intacct_gateway.server import GatewayServer
from sandbox.intacct_gateway.store import DEFAULT_COMPANY_ID


def expected_plan(customers, forecast, links):
    """action per Intacct key (and per dangling link), from the documented rules."""
    by_key = {c["key"]: c for c in customers}
    names = {f.id: f for f in forecast}
    linked_forecast = set(links.values())
    expected = {}
    unlinked = [c for c in customers if c["key"] not in links]
    free = [f for f in forecast if f.id not in linked_forecast]
    src = Counter(c["name_key"] for c in unlinked if c["name_key"])
    tgt = Counter(client_name_key(f.name) for f in free)
    for c in customers:
        if c["key"] in links:
            fid = links[c["key"]]
            if fid not in names:
                expected[c["key"]] = "orphan_link"
            elif not c["active"]:
                expected[c["key"]] = "source_inactive"
            else:
                expected[c["key"]] = "linked"
            continue
        key = c["name_key"]
        if key is None or tgt[key] > 1 or (tgt[key] == 1 and src[key] > 1):
            expected[c["key"]] = "conflict"
        elif not c["active"]:
            expected[c["key"]] = "source_inactive"
        elif tgt[key] == 1:
            expected[c["key"]] = "suggest_link"
        else:
            expected[c["key"]] = "importable"
    for key, fid in links.items():
        if key not in by_key:
            expected[key] = "orphan_link" if fid not in names else "source_deleted"
    return expected


@pytest.fixture(scope="module")
def company():
    with GatewayServer(seed=23, customers=600, clock=Clock(datetime(2026, 11, 1, tzinfo=UTC))) as server:
        yield server


def test_plan_of_a_generated_company_matches_the_rules_row_by_row(
    company, state_engine, make_engine, empty_database_url
):
    client = IntacctClient(
        ClientConfig(
            sender=build.SenderCredentials(DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD),
            login=build.LoginCredentials(DEFAULT_USER_ID, DEFAULT_COMPANY_ID, DEFAULT_USER_PASSWORD),
            endpoint=company.endpoint,
        )
    )
    batch = extract.extract_full(client, state_engine, CUSTOMER, run_id="gen")
    records = [r for r in company.store.records("CUSTOMER") if not r.get("MEGAENTITYID")]
    customers = []
    for r in records:
        mapped = client_values(
            {
                "name": r.get("NAME"),
                "address1": r.get("DISPLAYCONTACT.MAILADDRESS.ADDRESS1"),
                "city": r.get("DISPLAYCONTACT.MAILADDRESS.CITY"),
            }
        )
        customers.append(
            {
                "key": r["CUSTOMERID"],
                "name": mapped["name"],
                "name_key": client_name_key(mapped["name"]),
                "active": r.get("STATUS") == "active",
            }
        )
    customers.sort(key=lambda c: c["key"])

    engine = make_engine(empty_database_url)
    ensure_forecast_schema(engine)
    target = SqlForecastTarget(engine)
    named = [c for c in customers if c["name"]]
    seeds = [NewClient(name=c["name"].upper()) for c in named[0:40:4]]  # same name, other case
    seeds += [NewClient(name=f"{named[50]['name']} GmbH"), NewClient(name=named[50]["name"])]  # twice
    seeds += [NewClient(name="Nobody In Intacct Oy"), NewClient(name=named[60]["name"])]
    forecast = target.create_clients(seeds)
    links = {named[60]["key"]: forecast[-1].id, named[70]["key"]: 999_999, "C-DELETED": forecast[-2].id}
    with state_engine.begin() as connection:
        for key, fid in links.items():
            connection.execute(
                insert(intacct_link).values(
                    entity_type="client",
                    forecast_id=fid,
                    intacct_key=key,
                    origin="link",
                    linked_at=datetime.now(UTC),
                )
            )
    snap = snapshot.take_snapshot(target, state_engine, run_id="gen")

    result = plan.build_plan(state_engine, "client", batch_id=batch.batch_id, snapshot_id=snap.id)

    actual = {r.intacct_key: r.action for r in plan.plan_rows(state_engine, result.plan_id)}
    expected = expected_plan(customers, forecast, links)
    mismatches = {
        k: (expected.get(k), actual.get(k))
        for k in expected.keys() | actual.keys()
        if expected.get(k) != actual.get(k)
    }
    assert mismatches == {}
    # the seeded situations really occur, so the comparison above covers every rule
    assert {
        "importable",
        "suggest_link",
        "conflict",
        "source_inactive",
        "linked",
        "orphan_link",
        "source_deleted",
    } <= set(actual.values())
