"""The request ledger and the JSON admin API."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
import requests
from tests.sandbox.xml_client import (
    XmlClient,
    condition,
    function,
    login,
    make_server,
    query_xml,
    request_xml,
)

from sandbox.intacct_gateway import FunctionCall

LOOKUP = "<lookup><object>DEPARTMENT</object></lookup>"


# ---- ledger ---------------------------------------------------------------------------------------------


def test_the_ledger_counts_requests_and_calls_per_function_and_object(fresh_client: XmlClient):
    server = fresh_client.server
    auth = fresh_client.session_auth()
    fresh_client.call(
        function(query_xml("CUSTOMER", "RECORDNO"), "a"),
        function(query_xml("WIDGET", "RECORDNO"), "b"),
        auth=auth,
    )
    fresh_client.call(function(query_xml("CUSTOMER", "RECORDNO")), auth=auth)
    fresh_client.call(function(LOOKUP), auth=login(password="wrong"))
    server.faults.enable("throttle", first=1)
    fresh_client.post(request_xml(function(LOOKUP), auth=auth))

    ledger = server.ledger
    assert ledger.requests() == 5
    assert (ledger.requests("ok"), ledger.requests("auth_failure"), ledger.requests("throttled")) == (3, 1, 1)
    assert ledger.counts() == {("getAPISession", ""): 1, ("query", "CUSTOMER"): 2, ("query", "WIDGET"): 1}
    assert ledger.calls("query") == 3
    assert ledger.calls("query", "CUSTOMER", "success") == 2
    assert ledger.calls(status="failure") == 1
    second = ledger.entries()[1]
    assert second.calls == (
        FunctionCall("query", "CUSTOMER", "success"),
        FunctionCall("query", "WIDGET", "failure", "XL03000009"),
    )
    assert (second.http_status, second.outcome, second.company) == (200, "ok", "SANDBOX-CO")
    assert second.duration_ms > 0
    assert ledger.entries()[-1].http_status == 429
    ledger.reset()
    assert ledger.requests() == 0 and ledger.counts() == {}


# ---- admin API ------------------------------------------------------------------------------------------


def test_admin_summary(client: XmlClient):
    summary = client.http.get(client.server.admin_url).json()
    assert summary["company_id"] == "SANDBOX-CO"
    assert summary["gmtoffset"] == "-08:00"
    assert summary["records"]["CUSTOMER"] == 300
    assert summary["faults"] == {"slots": {"count": 2}}


def test_admin_reads_records(client: XmlClient):
    admin = client.server.admin_url
    listing = client.http.get(f"{admin}/records/department?offset=2&limit=3").json()
    assert listing["count"] == 30 and [d["DEPARTMENTID"] for d in listing["records"]] == [
        "D102",
        "D103",
        "D104",
    ]
    assert client.http.get(f"{admin}/records/DEPARTMENT/D102").json()["TITLE"] == "Engineering"
    assert client.http.get(f"{admin}/records/DEPARTMENT/recordno/3").json()["DEPARTMENTID"] == "D102"
    assert client.http.get(f"{admin}/records/DEPARTMENT/NOPE").status_code == 404
    assert client.http.get(f"{admin}/records/WIDGET").status_code == 400


def test_admin_changes_records_and_the_gateway_serves_the_change(fresh_client: XmlClient):
    admin, http = fresh_client.server.admin_url, fresh_client.http
    created = http.post(
        f"{admin}/records/CUSTOMER",
        json={"values": {"CUSTOMERID": "C-ADMIN", "NAME": "Müller & <Co>"}, "entity": "E200"},
    )
    assert created.status_code == 201
    assert created.json()["MEGAENTITYID"] == "E200"
    patched = http.patch(
        f"{admin}/records/CUSTOMER/C-ADMIN", json={"values": {"STATUS": "inactive"}, "entity": ""}
    )
    assert (patched.json()["STATUS"], patched.json()["MEGAENTITYID"]) == ("inactive", "")
    data = fresh_client.data(
        query_xml("CUSTOMER", "NAME", "STATUS", filter=condition("equalto", "CUSTOMERID", "C-ADMIN"))
    )
    assert (data.findtext("CUSTOMER/NAME"), data.findtext("CUSTOMER/STATUS")) == ("Müller & <Co>", "inactive")
    recordno = patched.json()["RECORDNO"]
    assert (
        http.delete(
            f"{admin}/records/CUSTOMER/recordno/{recordno}", json={"actor": "xml_gateway"}
        ).status_code
        == 200
    )
    assert (
        fresh_client.data(
            query_xml("CUSTOMER", "NAME", filter=condition("equalto", "CUSTOMERID", "C-ADMIN"))
        ).get("count")
        == "0"
    )
    audit = http.get(f"{admin}/records/AUDITHISTORY").json()["records"]
    assert [(a["ACCESSMODE"], a["USERID"]) for a in audit if a["OBJECTKEY"] == "C-ADMIN"] == [
        ("C", "Admin"),
        ("M", "Admin"),
        ("D", "xml_gateway"),
    ]


def test_admin_refuses_bad_changes_with_a_message(fresh_client: XmlClient):
    admin, http = fresh_client.server.admin_url, fresh_client.http
    duplicate = http.post(f"{admin}/records/CUSTOMER", json={"values": {"CUSTOMERID": "C1001", "NAME": "x"}})
    assert duplicate.status_code == 400 and "already exists" in duplicate.json()["error"]
    assert http.post(f"{admin}/records/CUSTOMER", json={"CUSTOMERID": "x"}).status_code == 400  # no "values"
    assert http.post(f"{admin}/records/CUSTOMER", data=b"{not json").status_code == 400
    assert http.put(f"{admin}/records/CUSTOMER", json={}).status_code == 405
    assert http.get(f"{admin}/nothing-here").status_code == 404


def test_admin_sets_and_clears_faults(fresh_client: XmlClient):
    admin, http = fresh_client.server.admin_url, fresh_client.http
    assert http.post(f"{admin}/faults/throttle", json={"nth": [1]}).json() == {
        "slots": {"count": 2},
        "throttle": {"every": 0, "nth": [1], "first": 0, "rate": 0.0, "seed": 0, "times": 0},
    }
    assert fresh_client.post(request_xml(function(LOOKUP), auth=login())).status_code == 429
    assert http.delete(f"{admin}/faults/throttle").json() == {"slots": {"count": 2}}
    replaced = http.put(f"{admin}/faults", json={"latency": {"ms": 1}, "audit_denied": {}}).json()
    assert set(replaced) == {"slots", "latency", "audit_denied"}
    assert http.get(f"{admin}/faults").json() == replaced
    assert http.delete(f"{admin}/faults").json() == {"slots": {"count": 2}}
    refused = http.post(f"{admin}/faults/gremlins", json={})
    assert refused.status_code == 400 and "unknown fault" in refused.json()["error"]


def test_admin_reads_and_resets_the_ledger(fresh_client: XmlClient):
    admin, http = fresh_client.server.admin_url, fresh_client.http
    fresh_client.call(function(LOOKUP), auth=login())
    snapshot = http.get(f"{admin}/ledger").json()
    assert snapshot["requests"] == 1 and snapshot["outcomes"] == {"ok": 1}
    assert snapshot["calls"] == [
        {"function": "lookup", "object": "DEPARTMENT", "status": "success", "count": 1}
    ]
    assert snapshot["entries"][0]["calls"] == [
        {"function": "lookup", "object": "DEPARTMENT", "status": "success", "errorno": ""}
    ]
    assert len(http.get(f"{admin}/ledger?limit=0").json()["entries"]) == 1
    http.delete(f"{admin}/ledger")
    assert http.get(f"{admin}/ledger").json()["requests"] == 0


def test_admin_expires_sessions_and_moves_the_clock(fresh_client: XmlClient):
    admin, http = fresh_client.server.admin_url, fresh_client.http
    auth = fresh_client.session_auth()
    assert http.post(f"{admin}/sessions/expire").json()["expired"] >= 1
    assert (
        fresh_client.call(function(LOOKUP), auth=auth).findtext("operation/authentication/status")
        == "failure"
    )
    now = http.get(f"{admin}/clock").json()
    assert now == {"now": "2026-03-02T17:30:00+00:00", "frozen": True}
    assert http.post(f"{admin}/clock", json={"advance": 90}).json()["now"] == "2026-03-02T17:31:30+00:00"
    target = datetime(2027, 1, 1, tzinfo=UTC).isoformat()
    assert http.post(f"{admin}/clock", json={"set": target}).json()["now"] == target
    assert http.post(f"{admin}/clock", json={}).status_code == 400


def _own_non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("198.51.100.1", 9))  # no packet is sent: this only picks the outgoing interface
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_the_admin_api_answers_loopback_clients_only():
    address = _own_non_loopback_address()
    if address is None:
        pytest.skip("this machine has no network interface besides loopback")
    with make_server(host="0.0.0.0") as server:
        port = server.url.rsplit(":", 1)[1]
        remote = requests.get(f"http://{address}:{port}/_admin", timeout=5)
        assert remote.status_code == 403
        assert "loopback" in remote.json()["error"]
        gateway = requests.post(
            f"http://{address}:{port}/ia/xml/xmlgw.phtml",
            data=request_xml(function(LOOKUP), auth=login()).encode(),
            timeout=5,
        )
        assert gateway.status_code == 200
        assert requests.get(f"http://127.0.0.1:{port}/_admin", timeout=5).status_code == 200
