"""Faults that must not be retried end the extraction loudly, with one sentence and no visible batch."""

from __future__ import annotations

import pytest

from intacct import extract, staging
from intacct.gateway import errors
from intacct.gateway import requests as build
from intacct.gateway.client import ClientConfig, IntacctClient
from intacct.gateway.retry import RetryPolicy
from intacct.objects import CUSTOMER
from sandbox.intacct_gateway.server import GatewayServer


@pytest.fixture
def gateway():
    with GatewayServer(seed=3, customers=50, departments=5, users=5) as server:
        yield server


def client_for(server) -> IntacctClient:
    conn = server.airflow_connection()
    extra = conn["extra"]
    return IntacctClient(
        ClientConfig(
            sender=build.SenderCredentials(extra["sender_id"], extra["sender_password"]),
            login=build.LoginCredentials(conn["login"], extra["company_id"], conn["password"]),
            endpoint=server.endpoint,
            retry=RetryPolicy(base_delay=0.01, max_delay=0.01, max_attempts=3, max_total=5),
        )
    )


def test_an_invalid_request_gw0011_is_not_retried(gateway, state_engine):
    client = client_for(gateway)
    client.sign_in()
    gateway.faults.enable("invalid_request")
    with pytest.raises(errors.IntacctError) as raised:
        extract.extract_full(client, state_engine, CUSTOMER, run_id="r")
    assert not raised.value.retryable
    assert "GW-0011" in str(raised.value)
    # each request in flight when the refusal came (at most one per slot) was sent once, never again
    assert gateway.ledger.requests("invalid_request") <= client.config.slots
    assert staging.latest_batch(state_engine, "CUSTOMER") is None


def test_an_unknown_object_is_named(gateway):
    client = client_for(gateway)
    with pytest.raises(errors.UnknownObjectError, match="NOSUCHOBJECT"):
        client.call(build.query("NOSUCHOBJECT", ["RECORDNO"]), object_name="NOSUCHOBJECT")
