"""The REST adapter against the Forecast API stand-in over real HTTP: the contract, faults, pace, secrets.

What Forecast holds is read through the stand-in's admin view, never through the adapter under test.
"""

from __future__ import annotations

import logging
import time

import pytest
import requests

from intacct.forecast import target as ft
from intacct.forecast.http import (
    ApiConfig,
    ForecastApi,
    ForecastAuthError,
    ForecastRejected,
    ForecastThrottled,
    ForecastUnavailable,
)
from intacct.forecast.rest import RestForecastTarget
from intacct.gateway.retry import RetryPolicy
from sandbox.forecast_api.server import ForecastApiServer

QUICK_RETRIES = RetryPolicy(base_delay=0.01, max_delay=0.05, max_attempts=4, max_total=10)


@pytest.fixture
def server():
    with ForecastApiServer(rate=0, departments=3, people=2) as s:
        yield s


def rest_target(server, **config) -> RestForecastTarget:
    options = {"max_requests_per_second": 0, "retry": QUICK_RETRIES, **config}
    return RestForecastTarget(
        ForecastApi(ApiConfig(base_url=server.base_url, api_key=server.api_key, **options))
    )


def admin(server, method: str, path: str, json=None):
    reply = requests.request(method, f"{server.admin_url}/{path}", json=json, timeout=10)
    reply.raise_for_status()
    return reply.json()


def ledger(server) -> list[tuple[str, str, int]]:
    return [(r["method"], r["path"], r["status"]) for r in admin(server, "GET", "requests")["requests"]]


def arm(server, name: str, **params) -> None:
    admin(server, "POST", "faults", {"name": name, **params})


def test_clients_are_listed_created_and_updated_one_post_each(server):
    target = rest_target(server)
    before = len(admin(server, "GET", "clients"))
    made = target.create_clients(
        [ft.NewClient("Acme Corp", city="Oslo", country="NO"), ft.NewClient("Beta", vat_number="DK1")]
    )
    assert [c.name for c in made] == ["Acme Corp", "Beta"]
    stored = {c["id"]: c for c in admin(server, "GET", "clients")}
    assert len(stored) == before + 2
    assert stored[made[0].id]["city"] == "Oslo" and stored[made[0].id]["country"] == "NO"
    updated = target.update_client(made[1].id, notes="from Intacct")
    assert updated.notes == "from Intacct" and updated.vat_number == "DK1"
    assert [c.id for c in target.list_clients()] == sorted(stored)
    methods = [m for m, _, _ in ledger(server)]
    assert methods.count("POST") == 2 and methods.count("PUT") == 1
    assert target.api.calls.writes == 3


def test_an_unknown_client_id_is_record_not_found(server):
    with pytest.raises(ft.RecordNotFound, match="no Forecast client with id 999"):
        rest_target(server).update_client(999, name="x")


def test_create_refuses_the_wrong_record_type_before_any_request(server):
    target = rest_target(server)
    with pytest.raises(TypeError, match="expected NewClient items, got dict"):
        target.create_clients([{"name": "Acme"}])
    with pytest.raises(TypeError, match="expected NewPerson items, got NewClient"):
        target.create_people([ft.NewClient("Acme")])
    assert ledger(server) == []


def test_departments_are_read_only_and_said_so(server):
    target = rest_target(server)
    assert not target.supports(ft.CREATE_DEPARTMENTS) and not target.supports(ft.UPDATE_DEPARTMENTS)
    assert [d.name for d in target.list_departments()] == [
        d["name"] for d in admin(server, "GET", "departments")
    ]
    with pytest.raises(ft.UnsupportedOperation, match="read-only"):
        target.create_departments([ft.NewDepartment("Sales")])
    with pytest.raises(ft.UnsupportedOperation):
        target.require(ft.CREATE_DEPARTMENTS)


def test_people_get_their_profile_and_department_and_system_users_stay_out(server):
    target = rest_target(server)
    profiles = {p.name: p.id for p in target.list_profiles()}
    assert profiles["Admin"] < 0 and profiles["Collaborator"] < 0  # Forecast's built-ins: negative ids
    department = target.list_departments()[0]
    [person] = target.create_people(
        [ft.NewPerson("Ada", "Lovelace", "ada@example.com", profiles["Manager"], department.id)]
    )
    stored = {p["id"]: p for p in admin(server, "GET", "persons")}
    assert stored[person.id]["profile_ids"] == [profiles["Manager"]]
    assert stored[person.id]["department_id"] == department.id
    assert person.profile_id is None  # the API's person carries no profile
    system = [pid for pid, p in stored.items() if p["is_system_user"]]
    assert system and not {p.id for p in target.list_people()} & set(system)
    with pytest.raises(ValueError, match="system user"):
        target.update_person(system[0], first_name="x")
    moved = target.update_person(person.id, department_id=None, active=False)
    assert moved.department_id is None and moved.active is False


def test_people_naming_an_unknown_profile_or_department_are_refused_before_any_post(server):
    target = rest_target(server)
    admin(server, "DELETE", "requests")
    with pytest.raises(
        ValueError, match=r"nothing written.*unknown profile_id 77.*unknown department_id 555"
    ):
        target.create_people(
            [
                ft.NewPerson("A", "B", "a@example.com", 77),
                ft.NewPerson("C", "D", "c@example.com", -5, department_id=555),
            ]
        )
    assert [m for m, _, _ in ledger(server)].count("POST") == 0


def test_a_refusal_after_some_records_were_created_carries_them(server):
    target = rest_target(server)
    taken = admin(server, "GET", "persons")[0]["email"]
    new = [ft.NewPerson("P", str(i), f"p{i}@example.com", -5) for i in range(2)]
    new += [
        ft.NewPerson("Dup", "Licate", taken.upper(), -5),
        ft.NewPerson("Never", "Sent", "n@example.com", -5),
    ]
    with pytest.raises(ft.PartialWrite) as partial:
        target.create_people(new)
    assert [p.email for p in partial.value.created] == ["p0@example.com", "p1@example.com"]
    assert isinstance(partial.value.cause, ForecastRejected)
    assert "already used" in str(partial.value.cause)
    emails = [p["email"] for p in admin(server, "GET", "persons")]
    assert "n@example.com" not in emails and emails.count(taken) == 1


def test_a_post_dropped_after_forecast_applied_it_is_found_not_sent_again(server):
    target = rest_target(server)
    target.list_clients()
    arm(server, "drop_after_write", method="POST", path="/api/v1/clients", count=1)
    made = target.create_clients([ft.NewClient("Twinless AS"), ft.NewClient("Second")])
    names = [c["name"] for c in admin(server, "GET", "clients")]
    assert names.count("Twinless AS") == 1 and names.count("Second") == 1
    assert [c.name for c in made] == ["Twinless AS", "Second"]
    assert made[0].id in {c["id"] for c in admin(server, "GET", "clients") if c["name"] == "Twinless AS"}
    posts = [(m, s) for m, p, s in ledger(server) if m == "POST"]
    assert len(posts) == 2  # the dropped one was found by a GET, not posted again


def test_a_post_refused_by_a_5xx_is_looked_for_then_sent_again_once(server):
    target = rest_target(server)
    arm(server, "server_error", method="POST", path="/api/v1/clients", count=2, status=503)
    [made] = target.create_clients([ft.NewClient("Retried Ltd")])
    assert [c["name"] for c in admin(server, "GET", "clients")].count("Retried Ltd") == 1
    statuses = [s for m, p, s in ledger(server) if m == "POST"]
    assert statuses == [503, 503, 201]
    assert made.name == "Retried Ltd"


def test_reads_survive_html_error_pages_and_slow_answers(server):
    target = rest_target(server, read_timeout=2)
    arm(server, "html_error", method="GET", path="/api/v1/clients", count=2, status=502)
    assert len(target.list_clients()) == len(admin(server, "GET", "clients"))
    arm(server, "slow", method="GET", path="/api/v1/departments", count=1, delay_s=3)
    assert len(target.list_departments()) == 3  # the slow answer timed out, the retry was answered
    assert target.api.retry_summary().startswith("retries: 3")


def test_5xx_that_outlast_the_retries_fail_with_the_status_and_the_limit(server):
    target = rest_target(server)
    arm(server, "server_error", method="GET", path="/api/v1/profiles", count=10, status=500)
    with pytest.raises(ForecastUnavailable, match=r"GET /v1/profiles: HTTP 500.*gave up after 4 attempt"):
        target.list_profiles()


def test_a_429_is_waited_out_as_forecast_asks(server):
    target = rest_target(server)
    arm(server, "throttle", method="POST", count=1, retry_after=1)
    started = time.monotonic()
    target.create_clients([ft.NewClient("Patient Inc")])
    assert time.monotonic() - started >= 1.0
    assert [s for m, _, s in ledger(server) if m == "POST"] == [429, 201]


def test_the_pace_keeps_under_the_stand_ins_rate_limit():
    with ForecastApiServer(rate=20, burst=20) as server:
        target = rest_target(server, max_requests_per_second=20)
        started = time.monotonic()
        target.create_clients([ft.NewClient(f"Paced {i}") for i in range(40)])
        elapsed = time.monotonic() - started
        assert 429 not in {s for _, _, s in ledger(server)}
        assert elapsed >= 40 / 20 - 0.2  # 41 requests spaced 50 ms apart
        assert target.api.calls.writes == 40


def test_without_a_pace_the_rate_limit_is_hit_and_absorbed():
    with ForecastApiServer(rate=20, burst=5) as server:
        target = rest_target(server, retry=RetryPolicy(base_delay=0.05, max_delay=1, max_attempts=20))
        made = target.create_clients([ft.NewClient(f"Burst {i}") for i in range(15)])
        names = [c["name"] for c in admin(server, "GET", "clients")]
        assert all(names.count(c.name) == 1 for c in made)
        assert 429 in {s for _, _, s in ledger(server)}


def test_a_wrong_key_fails_at_once_and_the_key_is_in_no_message(server, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-key-0123456789"
    target = RestForecastTarget(
        ForecastApi(ApiConfig(base_url=server.base_url, api_key=wrong, retry=QUICK_RETRIES))
    )
    with pytest.raises(ForecastAuthError, match="API key was refused") as failure:
        target.list_clients()
    assert wrong not in str(failure.value) and wrong not in caplog.text
    assert len(ledger(server)) == 1  # not retried
    assert server.api_key not in repr(rest_target(server).api.config)


def test_an_over_large_response_is_refused_without_retrying(server):
    admin(server, "POST", "clients", [{"name": "x" * 1000, "notes": "y" * 5000} for _ in range(300)])
    target = rest_target(server, max_response_mb=1)
    with pytest.raises(Exception, match="over the 1 MiB limit"):
        target.list_clients()
    assert len(ledger(server)) == 1


def test_throttled_is_retryable_and_rejected_is_a_value_error():
    assert ForecastThrottled.retryable and ForecastThrottled.throttles
    assert issubclass(ForecastRejected, ValueError) and not ForecastRejected.retryable
