"""Fault injection: each fault does what docs/sandbox.md says, when its trigger says."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from lxml import etree
from tests.sandbox.xml_client import (
    XmlClient,
    condition,
    errors,
    function,
    login,
    order,
    query_xml,
    request_xml,
)

from sandbox.intacct_gateway import Faults, GatewayServer

LOOKUP = "<lookup><object>DEPARTMENT</object></lookup>"


def status_of(client: XmlClient, auth: str | None = None) -> int:
    return client.post(request_xml(function(LOOKUP), auth=auth or client.session_auth())).status_code


def gateway_error(answer: requests.Response) -> str:
    return etree.fromstring(answer.content).findtext("errormessage/error/errorno")


# ---- concurrency and latency ----------------------------------------------------------------------------


def test_latency_is_served_in_parallel_up_to_the_slots_and_the_rest_get_429(fresh_client: XmlClient):
    server = fresh_client.server
    body = request_xml(function(LOOKUP), auth=fresh_client.session_auth())
    server.faults.enable("latency", ms=400)
    answers: list[tuple[int, float, bytes]] = []
    start = threading.Barrier(3)

    def send() -> None:
        with requests.Session() as http:
            start.wait()
            began = time.perf_counter()
            answer = http.post(server.endpoint, data=body.encode())
            answers.append((answer.status_code, time.perf_counter() - began, answer.content))

    threads = [threading.Thread(target=send) for _ in range(3)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200, 200, 429]
    throttled = next(a for a in answers if a[0] == 429)
    assert throttled[1] < 0.3  # refused at once, not queued
    assert etree.fromstring(throttled[2]).findtext("errormessage/error/errorno") == "GW-0010"
    assert all(seconds >= 0.4 for status, seconds, _ in answers if status == 200)
    assert wall < 0.75  # the two slots worked side by side
    assert server.ledger.requests("throttled") == 1
    assert server.faults.in_flight() == {}


def test_more_slots_or_none_at_all(fresh_client: XmlClient):
    server = fresh_client.server
    auth = fresh_client.session_auth()
    server.faults.enable("latency", ms=200)
    for slots, expected_throttled in ((3, 0), (0, 0), (1, 2)):
        server.faults.enable("slots", count=slots)
        server.ledger.reset()
        threads = [threading.Thread(target=status_of, args=(XmlClient(server), auth)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert server.ledger.requests("throttled") == expected_throttled, slots


# ---- answers that replace the whole HTTP response -------------------------------------------------------


def test_throttle_answers_429_with_gw0010_on_its_trigger(fresh_client: XmlClient):
    auth = fresh_client.session_auth()
    fresh_client.server.faults.enable("throttle", every=2)
    answers = [fresh_client.post(request_xml(function(LOOKUP), auth=auth)) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 429, 200, 429]
    assert gateway_error(answers[1]) == "GW-0010"
    assert "rate limit" in etree.fromstring(answers[1].content).findtext("errormessage/error/description")


def test_invalid_request_answers_400_with_gw0011(fresh_client: XmlClient):
    fresh_client.server.faults.enable("invalid_request", first=1)
    first = fresh_client.post(request_xml(function(LOOKUP), auth=login()))
    assert (first.status_code, gateway_error(first)) == (400, "GW-0011")
    assert status_of(fresh_client, login()) == 200


@pytest.mark.parametrize("status", [500, 502, 503, 524])
def test_server_errors_come_without_xml(fresh_client: XmlClient, status):
    fresh_client.server.faults.enable("server_error", nth=(1,), status=status)
    answer = fresh_client.post(request_xml(function(LOOKUP), auth=login()))
    assert answer.status_code == status
    assert answer.headers["Content-Type"].startswith("text/plain")
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(answer.content)
    assert status_of(fresh_client, login()) == 200


def test_html_error_pages_come_from_the_cdn(fresh_client: XmlClient):
    fresh_client.server.faults.enable("html_error", nth=(1,))
    answer = fresh_client.post(request_xml(function(LOOKUP), auth=login()))
    assert (answer.status_code, answer.headers["Content-Type"]) == (502, "text/html; charset=UTF-8")
    assert "<html>" in answer.text and 'id="cf-error-details"' in answer.text
    assert fresh_client.server.ledger.requests("html_error") == 1


def test_a_dropped_connection_gets_no_answer(fresh_client: XmlClient):
    server = fresh_client.server
    server.faults.enable("drop_connection", first=1)
    body = request_xml(function(LOOKUP), auth=login()).encode()
    with pytest.raises(requests.ConnectionError):
        requests.post(server.endpoint, data=body, timeout=5)
    assert requests.post(server.endpoint, data=body, timeout=5).status_code == 200
    entry = server.ledger.entries()[0]
    assert (entry.outcome, entry.http_status) == ("dropped", 0)


# ---- answers in XML -------------------------------------------------------------------------------------


def test_maintenance_takes_the_service_off_line_for_some_requests(fresh_client: XmlClient):
    auth = fresh_client.session_auth()
    fresh_client.server.faults.enable("maintenance", first=2)
    for _ in range(2):
        result = fresh_client.call(function(LOOKUP), auth=auth).find("operation/result")
        assert result.findtext("status") == "failure"
        assert errors(result) == [
            ("XL03000009", "The Service is Temporarily Off-line. Please try again later.")
        ]
        assert result.findtext("errormessage/error/correction") == "Please Try Again Later"
    assert fresh_client.call(function(LOOKUP), auth=auth).findtext("operation/result/status") == "success"
    assert fresh_client.server.ledger.requests("maintenance") == 2


def test_maintenance_for_a_while_ends_on_the_company_clock(fresh_client: XmlClient):
    auth = fresh_client.session_auth()
    server = fresh_client.server
    server.faults.enable("maintenance", seconds=600)
    assert fresh_client.call(function(LOOKUP), auth=auth).findtext("operation/result/status") == "failure"
    server.store.clock.advance(599)
    assert fresh_client.call(function(LOOKUP), auth=auth).findtext("operation/result/status") == "failure"
    server.store.clock.advance(1)
    assert fresh_client.call(function(LOOKUP), auth=auth).findtext("operation/result/status") == "success"


def test_sessions_expire_mid_paging(fresh_client: XmlClient):
    fresh_client.server.faults.enable("session_expiry", after=2)
    auth = fresh_client.session_auth()
    first = fresh_client.data(
        "<readByQuery><object>CUSTOMER</object><query/><pagesize>50</pagesize></readByQuery>", auth=auth
    )
    result_id = first.get("resultId")
    more = f"<readMore><resultId>{result_id}</resultId></readMore>"
    assert fresh_client.data(more, auth=auth).get("count") == "50"
    expired = fresh_client.call(function(more), auth=auth)
    assert expired.findtext("operation/authentication/status") == "failure"
    assert errors(expired.find("operation"))[0][1].startswith("Invalid session")
    # a new session works, but the cursor died with the old one: the client must start over
    fresh_auth = f"<sessionid>{fresh_client.session()}</sessionid>"
    assert fresh_client.result(more, auth=fresh_auth).findtext("status") == "failure"


def _offset_pages(client: XmlClient, pagesize: int) -> list[int]:
    seen, offset = [], 0
    while True:
        data = client.data(
            query_xml(
                "CUSTOMER",
                "RECORDNO",
                orderby=order("RECORDNO"),
                options="<showprivate>true</showprivate>",
                pagesize=pagesize,
                offset=offset,
            )
        )
        seen += [int(r.findtext("RECORDNO")) for r in data]
        if data.get("numremaining") == "0":
            return seen
        offset += pagesize


def _keyset_pages(client: XmlClient, pagesize: int) -> list[int]:
    seen, after = [], 0
    while True:
        data = client.data(
            query_xml(
                "CUSTOMER",
                "RECORDNO",
                filter=condition("greaterthan", "RECORDNO", str(after)),
                orderby=order("RECORDNO"),
                options="<showprivate>true</showprivate>",
                pagesize=pagesize,
            )
        )
        page = [int(r.findtext("RECORDNO")) for r in data]
        seen += page
        if data.get("numremaining") == "0":
            return seen
        after = page[-1]


@pytest.mark.parametrize(
    ("pager", "missed"), [(_offset_pages, 5), (_keyset_pages, 0)], ids=["offset", "keyset"]
)
def test_data_changing_between_pages_makes_offset_paging_skip_rows(fresh_client: XmlClient, pager, missed):
    server = fresh_client.server
    server.faults.enable(
        "data_change", object="CUSTOMER", after_pages=1, deletes=5, updates=3, creates=4, seed=1
    )
    seen = pager(fresh_client, 100)
    now_there = [int(c["RECORDNO"]) for c in server.store.records("CUSTOMER")]
    assert len(now_there) == 300 - 5 + 4
    assert len(set(now_there) - set(seen)) == missed
    assert max(now_there) in seen  # records created while paging are reached at the end
    deletes = [
        a
        for a in server.store.records("AUDITHISTORY")
        if a["ACCESSMODE"] == "D" and a["OBJECTTYPE"] == "customer"
    ]
    assert len(deletes) >= 5


def test_data_change_runs_custom_actions_and_repeats(fresh_client: XmlClient):
    server = fresh_client.server
    calls = []
    server.faults.enable("data_change", object="DEPARTMENT", after_pages=2, repeat=True, action=calls.append)
    for _ in range(5):
        fresh_client.data(query_xml("DEPARTMENT", "RECORDNO", pagesize=5))
    fresh_client.data(query_xml("CUSTOMER", "RECORDNO", pagesize=5))  # other objects do not count
    assert calls == [server.store, server.store]


def test_unstable_order_shuffles_queries_without_orderby(fresh_client: XmlClient):
    fresh_client.server.faults.enable("unstable_order", seed=4)
    unordered = query_xml("CUSTOMER", "RECORDNO", pagesize=2000)
    first = [r.findtext("RECORDNO") for r in fresh_client.data(unordered)]
    second = [r.findtext("RECORDNO") for r in fresh_client.data(unordered)]
    assert first != second and sorted(first) == sorted(second)
    ordered = query_xml("CUSTOMER", "RECORDNO", orderby=order("RECORDNO"), pagesize=2000)
    assert [r.findtext("RECORDNO") for r in fresh_client.data(ordered)] == sorted(first, key=int)


AUDIT_QUERY = query_xml(
    "AUDITHISTORY", "ID", "OBJECTKEY", filter=condition("equalto", "ACCESSMODE", "D"), pagesize=10
)


def test_audit_history_permission_can_be_denied(fresh_client: XmlClient):
    fresh_client.server.faults.enable("audit_denied")
    result = fresh_client.result(AUDIT_QUERY)
    assert result.findtext("status") == "failure"
    [(errorno, message)] = errors(result)
    assert errorno == "PL04000005"
    assert message.startswith("You do not have permission for API")
    legacy = fresh_client.result("<readByQuery><object>AUDITHISTORY</object><query/></readByQuery>")
    assert errors(legacy)[0][0] == "PL04000005"
    # lookup bypasses permissions, other objects are not affected
    assert (
        fresh_client.result("<lookup><object>AUDITHISTORY</object></lookup>").findtext("status") == "success"
    )
    assert fresh_client.result(query_xml("CUSTOMER", "RECORDNO")).findtext("status") == "success"


def test_audit_history_fails_intermittently_with_dl02000001(fresh_client: XmlClient):
    fresh_client.server.faults.enable("audit_errors", every=2)
    results = [fresh_client.result(AUDIT_QUERY) for _ in range(4)]
    assert [r.findtext("status") for r in results] == ["success", "failure", "success", "failure"]
    assert errors(results[1]) == [("DL02000001", "There was an error processing the request.")]
    assert fresh_client.result(query_xml("CUSTOMER", "RECORDNO")).findtext("status") == "success"


def test_a_seeded_rate_is_repeatable(fresh_client: XmlClient):
    auth = fresh_client.session_auth()

    def pattern() -> list[int]:
        fresh_client.server.faults.enable("throttle", rate=0.5, seed=9)
        return [status_of(fresh_client, auth) for _ in range(12)]

    first = pattern()
    assert 429 in first and 200 in first
    assert pattern() == first


def test_times_limits_how_often_a_fault_strikes(fresh_client: XmlClient):
    auth = fresh_client.session_auth()
    fresh_client.server.faults.enable("throttle", times=2)
    assert [status_of(fresh_client, auth) for _ in range(4)] == [429, 429, 200, 200]


# ---- configuring ----------------------------------------------------------------------------------------


def test_faults_are_configured_from_specs_kwargs_and_at_runtime():
    assert Faults.parse_spec("server_error:every=5,status=503") == (
        "server_error",
        {"every": 5, "status": 503},
    )
    assert Faults.parse_spec("html_error:nth=3+7") == ("html_error", {"nth": (3, 7)})
    assert Faults.parse_spec("data_change:object=DEPARTMENT,repeat=true,after_pages=2") == (
        "data_change",
        {"object": "DEPARTMENT", "repeat": True, "after_pages": 2},
    )
    assert Faults.parse_spec("audit_denied") == ("audit_denied", {})
    assert Faults.parse_spec("throttle:rate=0.25,seed=3") == ("throttle", {"rate": 0.25, "seed": 3})
    for bad in ("nonsense", "throttle:often=1"):
        with pytest.raises(ValueError, match=r"unknown fault|has no parameter"):
            Faults.parse_spec(bad)
    with GatewayServer(
        customers=5, departments=5, users=5, latency_ms=5, slots=4, faults={"unstable_order": {"seed": 2}}
    ) as server:
        assert server.faults.active() == {
            "slots": {"count": 4},
            "latency": {"ms": 5},
            "unstable_order": {"seed": 2},
        }
        server.faults.disable("unstable_order")
        server.faults.enable("throttle", nth=(2,))
        assert set(server.faults.active()) == {"slots", "latency", "throttle"}
        server.faults.reset()
        assert server.faults.active() == {"slots": {"count": 2}}
        with pytest.raises(ValueError, match="unknown fault"):
            server.faults.enable("gremlins")
        with pytest.raises(ValueError, match="has no parameter"):
            server.faults.enable("latency", seconds=1)


@pytest.mark.parametrize("object_name", ["CUSTOMER", "DEPARTMENT", "USERINFO", "EMPLOYEE"])
def test_data_change_invents_and_edits_every_object(fresh_client: XmlClient, object_name):
    store = fresh_client.server.store
    before = {r["RECORDNO"]: r for r in store.records(object_name)}
    fresh_client.server.faults.enable(
        "data_change", object=object_name, after_pages=1, creates=2, updates=2, seed=8
    )
    fresh_client.data(query_xml(object_name, "RECORDNO", pagesize=1))
    after = {r["RECORDNO"]: r for r in store.records(object_name)}
    assert len(after) == len(before) + 2
    changed = [key for key in before if after[key]["WHENMODIFIED"] != before[key]["WHENMODIFIED"]]
    assert len(changed) == 2
    assert [a["ACCESSMODE"] for a in store.records("AUDITHISTORY")[-4:]].count("C") >= 2
