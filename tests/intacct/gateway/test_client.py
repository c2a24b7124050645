"""The client against the sandbox gateway over real HTTP: several functions in one request."""

from __future__ import annotations

import pytest

from intacct.gateway import errors, responses
from intacct.gateway import requests as build
from intacct.gateway.client import ClientConfig, IntacctClient, _in_request_order
from intacct.gateway.retry import RetryPolicy
from sandbox.intacct_gateway.gateway import DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD
from sandbox.intacct_gateway.generator import DEFAULT_USER_ID, DEFAULT_USER_PASSWORD
from sandbox.intacct_gateway.server import GatewayServer
from sandbox.intacct_gateway.store import DEFAULT_COMPANY_ID


@pytest.fixture(scope="module")
def gateway():
    with GatewayServer(seed=3, customers=50, departments=5, users=5) as server:
        yield server


@pytest.fixture
def client(gateway):
    gateway.ledger.reset()
    config = ClientConfig(
        sender=build.SenderCredentials(DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD),
        login=build.LoginCredentials(DEFAULT_USER_ID, DEFAULT_COMPANY_ID, DEFAULT_USER_PASSWORD),
        endpoint=gateway.endpoint,
        retry=RetryPolicy(base_delay=0.01, max_delay=0.05, max_attempts=3, max_total=5),
    )
    client = IntacctClient(config)
    client.sign_in()
    yield client
    client.close()


def by_recordno(descending: bool) -> build.Element:
    return build.query("CUSTOMER", ("RECORDNO",), orderby=(("RECORDNO", descending),), pagesize=1)


def test_several_functions_share_one_request_and_each_is_counted(gateway, client):
    lowest, highest = client.call_many([(by_recordno(False), "CUSTOMER"), (by_recordno(True), "CUSTOMER")])

    recordnos = sorted(int(r["RECORDNO"]) for r in gateway.store.records("CUSTOMER"))
    assert int(next(lowest.records())["RECORDNO"]) == recordnos[0]
    assert int(next(highest.records())["RECORDNO"]) == recordnos[-1]
    assert gateway.ledger.requests() == 2  # the sign-in, then both queries together
    assert gateway.ledger.calls("query", "CUSTOMER") == 2
    assert client.counter.snapshot()[("query", "CUSTOMER")] == 2


def test_a_failed_function_raises_its_own_error(gateway, client):
    unknown = build.query("NOSUCHOBJECT", ("RECORDNO",))
    with pytest.raises(errors.UnknownObjectError):
        client.call_many([(by_recordno(False), "CUSTOMER"), (unknown, "NOSUCHOBJECT")])
    assert gateway.ledger.requests() == 2  # not retried: the request was understood


def test_call_many_needs_a_function(client):
    with pytest.raises(ValueError, match="at least one function"):
        client.call_many([])


def _response(*control_ids: str | None) -> responses.Response:
    auth = responses.Authentication("success", None, None, None, None, None)
    results = [responses.Result(function="query", control_id=cid, status="success") for cid in control_ids]
    return responses.Response(control_id="r", authentication=auth, results=results)


def test_results_are_matched_by_control_id_or_else_by_position():
    swapped = _response("b", "a")
    assert [r.control_id for r in _in_request_order(swapped, ["a", "b"])] == ["a", "b"]
    unechoed = _response(None, None)
    assert _in_request_order(unechoed, ["a", "b"]) == unechoed.results
    with pytest.raises(errors.NotXmlResponseError, match="1 of the 2 functions"):
        _in_request_order(_response(None), ["a", "b"])


def fresh_client(gateway) -> IntacctClient:
    gateway.ledger.reset()
    return IntacctClient(
        ClientConfig(
            sender=build.SenderCredentials(DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD),
            login=build.LoginCredentials(DEFAULT_USER_ID, DEFAULT_COMPANY_ID, DEFAULT_USER_PASSWORD),
            endpoint=gateway.endpoint,
            retry=RetryPolicy(base_delay=0.01, max_delay=0.05, max_attempts=3, max_total=5),
        )
    )


def test_the_users_formatting_rides_with_the_first_functions_and_the_sign_in_goes_alone(gateway):
    client = fresh_client(gateway)
    zone, (lowest,) = client.call_with_time_zone([(by_recordno(False), "CUSTOMER")])
    sign_in, first = gateway.ledger.entries()
    assert [c.function for c in sign_in.calls] == ["getAPISession"]  # Intacct: never mixed with others
    assert [c.function for c in first.calls] == ["query", "readUserFormatting"]
    assert zone.utcoffset(None) is not None
    lowest_recordno = min(int(r["RECORDNO"]) for r in gateway.store.records("CUSTOMER"))
    assert int(next(lowest.records())["RECORDNO"]) == lowest_recordno
    # The formatting is known now: the next call is its one function in one request.
    assert client.call_with_time_zone([(by_recordno(True), "CUSTOMER")])[0] == zone
    assert [c.function for c in gateway.ledger.entries()[-1].calls] == ["query"]
    assert client.user_formatting() is client.user_formatting()
    assert gateway.ledger.calls("readUserFormatting") == gateway.ledger.calls("getAPISession") == 1
