"""The real client against a misbehaving server over loopback HTTP (`hostile_server.py`).

Each test drives `IntacctClient` with small timeouts and budgets and checks what the run would show: how
long it took (bounded by the configuration), the error and whether it may be retried, how many requests
the server answered, and that the message says what the server did.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from intacct.gateway import errors
from intacct.gateway import requests as build
from intacct.gateway.client import ClientConfig, IntacctClient, query_page

from .hostile_server import OVERSIZED_BYTES, HostileServer

REPO = Path(__file__).resolve().parents[3]
MIB = 1024 * 1024
# Generous slack on every time bound: a loaded 2-core machine, thread start-up, the back-off waits.
SLACK = 5.0


def hostile_client(
    server: HostileServer,
    *,
    deadline: float = 2.0,
    read_timeout: float = 2.0,
    max_mb: float = 1.0,
    attempts: int = 3,
    task_budget: float = 60.0,
) -> IntacctClient:
    from intacct.gateway.retry import RetryPolicy

    return IntacctClient(
        ClientConfig(
            sender=build.SenderCredentials("sender", "sender-secret"),
            login=build.LoginCredentials("user", "HOSTILE", "user-secret"),
            endpoint=server.endpoint,
            connect_timeout=2.0,
            read_timeout=read_timeout,
            response_deadline=deadline,
            max_response_mb=max_mb,
            retry=RetryPolicy(
                base_delay=0.01, max_delay=0.05, max_attempts=attempts, max_total=60, task_budget=task_budget
            ),
        )
    )


def read_page(client: IntacctClient):
    return query_page(client, "CUSTOMER", ("RECORDNO", "NAME"))


def failing_read(client: IntacctClient) -> tuple[errors.IntacctError, float]:
    """The error a page read ends with, and the seconds it took (the sign-in excluded)."""
    client.sign_in()
    started = time.monotonic()
    with pytest.raises(errors.IntacctError) as caught:
        read_page(client)
    return caught.value, time.monotonic() - started


# -- refused at once: responses that can never become valid ---------------------------------------------


def test_an_external_entity_is_refused_as_hostile_without_a_retry():
    with HostileServer("xxe") as server:
        error, elapsed = failing_read(hostile_client(server))
        assert server.hostile_requests == 1
    assert type(error) is errors.HostileXmlError and not error.retryable
    assert str(error).startswith(
        "the response declares XML entities (a DOCTYPE), which Intacct never sends: refused as hostile"
    )
    assert "check the endpoint" in str(error) and "root:" not in str(error)
    assert elapsed < SLACK


def test_entity_expansion_is_refused_as_hostile_without_a_retry():
    with HostileServer("entity_expansion") as server:
        error, elapsed = failing_read(hostile_client(server))
        assert server.hostile_requests == 1
    assert type(error) is errors.HostileXmlError and not error.retryable
    assert "refused as hostile" in str(error) and "lollol" not in str(error)
    assert elapsed < SLACK


def test_xml_broken_in_its_middle_is_not_retried():
    with HostileServer("malformed") as server:
        error, elapsed = failing_read(hostile_client(server))
        assert server.hostile_requests == 1
    assert type(error) is errors.ProtocolError and not error.retryable
    assert "Opening and ending tag mismatch: NAME" in str(error)
    assert "retrying cannot fix it" in str(error)
    assert elapsed < SLACK


@pytest.mark.parametrize("length", [True, False], ids=["content-length", "chunked"])
def test_a_body_over_the_size_limit_is_refused_at_once_and_not_retried(length):
    with HostileServer("oversized", length=length) as server:
        error, elapsed = failing_read(hostile_client(server, max_mb=1))
        assert server.hostile_requests == 1
    assert type(error) is errors.ResponseTooLargeError and not error.retryable
    message = str(error)
    assert "larger than the 1 MiB limit" in message and "max_response_mb" in message
    if length:
        assert "Content-Length: 209,715,200 bytes" in message  # refused before reading the body
    else:
        assert "more than 1,048,576 bytes arrived" in message
    assert elapsed < SLACK  # 200 MB were never read


def test_a_compressed_body_is_limited_by_its_decoded_size():
    with HostileServer("gzip_bomb") as server:
        error, elapsed = failing_read(hostile_client(server, max_mb=1))
        assert server.hostile_requests == 1
    assert type(error) is errors.ResponseTooLargeError and not error.retryable
    assert "more than 1,048,576 bytes arrived" in str(error)
    assert elapsed < SLACK


# -- retried: real transients ---------------------------------------------------------------------------


def test_an_html_page_with_status_200_is_retried_as_transient():
    with HostileServer("html_200") as server:
        error, elapsed = failing_read(hostile_client(server, attempts=3))
        assert server.hostile_requests == 3
    assert type(error) is errors.NotXmlResponseError and error.retryable
    assert "rooted at <html>" in str(error) and "Just a moment" in str(error)
    assert elapsed < SLACK


@pytest.mark.parametrize(
    ("behaviour", "params", "error_type", "said"),
    [
        ("truncated", {}, errors.NotXmlResponseError, "truncated XML"),
        ("drop", {}, errors.TransportError, "the connection to Intacct dropped"),
        ("silent", {"seconds": 5.0}, errors.TransportError, "did not answer query within 0.5 s"),
    ],
)
def test_transient_failures_are_retried_up_to_the_attempt_limit(behaviour, params, error_type, said):
    with HostileServer(behaviour, **params) as server:
        error, elapsed = failing_read(hostile_client(server, attempts=3, read_timeout=0.5))
        assert server.hostile_requests == 3
    assert type(error) is error_type and error.retryable
    assert said in str(error)
    assert elapsed < 3 * 0.5 + SLACK


@pytest.mark.parametrize("framing", ["length", "chunked", "close"])
def test_a_trickling_response_is_cut_at_its_deadline_and_retried(framing, caplog):
    # One byte every 0.2 s never stalls a read for read_timeout: only the deadline ends it.
    deadline = 1.0
    with HostileServer("trickle", interval=0.2, framing=framing) as server:
        client = hostile_client(server, deadline=deadline, read_timeout=5.0, attempts=2)
        with caplog.at_level(logging.INFO, logger="intacct.gateway.client"):
            error, elapsed = failing_read(client)
        assert server.hostile_requests == 2
    assert type(error) is errors.TransportError and error.retryable
    assert "Intacct sent only" in str(error) and "response deadline (1 s) exceeded" in str(error)
    assert 2 * deadline - 0.2 <= elapsed < 2 * deadline + SLACK
    assert any("Intacct is slow to answer query" in r.getMessage() for r in caplog.records)


def test_a_slow_response_within_its_deadline_is_read_whole_and_logged(caplog):
    # Five pieces 0.5 s apart, with a deadline of 4 s: logged at each quarter of it, and read whole.
    with HostileServer("slow", pieces=5, seconds=2.5) as server:
        client = hostile_client(server, deadline=4.0)
        client.sign_in()
        with caplog.at_level(logging.INFO, logger="intacct.gateway.client"):
            page = read_page(client)
        assert server.hostile_requests == 1
    assert page.count == 20 and len(page.values(("RECORDNO",))) == 20
    assert any("Intacct is slow to answer query" in r.getMessage() for r in caplog.records)
    assert client.retry_summary() == "retries: 0 (0.0 s of the 60 s budget per task)"


def test_all_calls_of_a_client_share_one_retry_budget():
    # Each attempt trickles until its 0.5 s deadline; the task may spend 1.2 s on failures in all.
    with HostileServer("trickle", interval=0.1) as server:
        client = hostile_client(server, deadline=0.5, read_timeout=5.0, attempts=8, task_budget=1.2)
        first, first_elapsed = failing_read(client)
        first_attempts = server.hostile_requests
        second, second_elapsed = failing_read(client)
        second_attempts = server.hostile_requests - first_attempts
    assert isinstance(first, errors.TransportError) and isinstance(second, errors.TransportError)
    assert first_attempts == 3  # 0.5 s, 1.0 s, then 1.5 s spent: past 1.2 s, far below 8 attempts
    assert second_attempts == 1  # the budget is the task's, not the call's: nothing left to retry with
    assert first_elapsed + second_elapsed < 4 * 0.5 + SLACK
    summary = client.retry_summary()
    assert summary.startswith("retries: 2 (") and summary.endswith(" s of the 1.2 s budget per task)")
    spent = float(summary.split("(")[1].split(" s")[0])
    assert 4 * 0.5 - 0.2 <= spent < 4 * 0.5 + SLACK


# -- memory stays bounded while a 200 MB body is refused -------------------------------------------------

CHILD = """
import json, resource, sys, time
from intacct.gateway import errors, requests as build
from intacct.gateway.client import ClientConfig, IntacctClient, query_page
from intacct.gateway.retry import RetryPolicy

client = IntacctClient(ClientConfig(
    sender=build.SenderCredentials("sender", "sender-secret"),
    login=build.LoginCredentials("user", "HOSTILE", "user-secret"),
    endpoint=sys.argv[1],
    retry=RetryPolicy(base_delay=0.01, max_delay=0.05, max_attempts=3),
))
client.sign_in()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.monotonic()
try:
    query_page(client, "CUSTOMER", ("RECORDNO", "NAME"))
    error = None
except errors.IntacctError as exc:
    error = exc
print(json.dumps({
    "elapsed": time.monotonic() - started,
    "growth_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before,
    "error": type(error).__name__,
    "retryable": getattr(error, "retryable", None),
    "limit_mb": client.config.max_response_mb,
}))
"""


def refuse_in_child(endpoint: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, endpoint],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": f"{REPO / 'plugins'}:{REPO}", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("length", [True, False], ids=["content-length", "chunked"])
def test_refusing_a_200_mb_body_keeps_memory_far_below_its_size(length):
    with HostileServer("oversized", length=length) as server:
        measured = refuse_in_child(server.endpoint)
        assert server.hostile_requests == 1
    assert (measured["error"], measured["retryable"]) == ("ResponseTooLargeError", False)
    limit = measured["limit_mb"] * MIB
    growth = measured["growth_kib"] * 1024
    # With a Content-Length nothing is read; without one, the client holds at most the limit it counts to.
    assert growth < (8 * MIB if length else limit + 32 * MIB) < OVERSIZED_BYTES / 2
    assert measured["elapsed"] < SLACK
