"""The sandbox Forecast API over real HTTP: auth, validation, CRUD, rate limit, faults, admin view, CLI."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.forecast_api import (
    DEFAULT_API_KEY,
    KEY_HEADER,
    ForecastApiServer,
    RateLimiter,
    generate_company,
)

REPO = Path(__file__).resolve().parents[2]
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
BUILT_IN = {-1: "Admin", -2: "Controller", -3: "Manager", -4: "Coordinator", -5: "Collaborator"}


class Api:
    """requests against one server's /api with its key (or `key`), never retrying."""

    def __init__(self, server: ForecastApiServer, key: str | None = None):
        self.server = server
        self.http = requests.Session()
        if key != "":
            self.http.headers[KEY_HEADER] = key or server.api_key

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, self.server.base_url + path, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, json=body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
        return self.call("PUT", path, json=body, **kwargs)

    def delete(self, path: str) -> requests.Response:
        return self.call("DELETE", path)


def admin(server: ForecastApiServer, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, server.admin_url + path, json=body, timeout=10)


def error_of(answer: requests.Response, status: int) -> str:
    """The message of a Forecast error answer, after checking its shape."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"status", "message"} and body["status"] == status
    return body["message"]


@pytest.fixture
def server() -> Iterator[ForecastApiServer]:
    """A small company without a rate limit, of the test's own."""
    with ForecastApiServer(seed=3, clients=5, people=6, departments=3, rate=0) as running:
        yield running


@pytest.fixture
def api(server: ForecastApiServer) -> Iterator[Api]:
    client = Api(server)
    yield client
    client.http.close()


# ---- authentication and content type ------------------------------------------------------------------


def test_a_missing_wrong_or_deactivated_key_gets_401_and_no_key_is_ever_echoed(server, api, caplog):
    caplog.set_level(logging.DEBUG, logger="sandbox.forecast_api")
    answers = [
        Api(server, key="").get("/v1/clients"),
        Api(server, key="not-the-key").get("/v1/clients"),
        Api(server, key="not-the-key").post("/v1/clients", {"name": "Sneaky"}),
    ]
    for answer in answers:
        assert error_of(answer, 401) == "Server failed to authenticate the request."
    second = "second-key-0123"
    answers.append(admin(server, "POST", "/keys", {"key": second, "active": True}))
    answers.append(Api(server, key=second).get("/v1/clients"))
    assert answers[-1].status_code == 200
    answers.append(admin(server, "POST", "/keys", {"key": second, "active": False}))
    answers.append(Api(server, key=second).get("/v1/clients"))
    assert error_of(answers[-1], 401) == "Server failed to authenticate the request."
    answers.append(api.post("/v1/clients", {"name": "Real"}))
    assert answers[-1].status_code == 201
    answers += [admin(server, "GET", path) for path in ("/requests", "/summary", "/clients", "/persons")]
    assert [a.status_code for a in answers[-4:]] == [200] * 4
    assert [c["name"] for c in admin(server, "GET", "/clients").json()].count("Sneaky") == 0
    assert admin(server, "GET", "/summary").json()["keys"] == {"active": 1, "inactive": 1}
    assert error_of(admin(server, "POST", "/keys", {"active": True}), 400)
    texts = [a.text + str(a.headers) for a in answers] + [r.getMessage() for r in caplog.records]
    for key in (server.api_key, second):
        assert not any(key in text for text in texts)


def test_writes_need_a_json_content_type_charset_allowed(server, api):
    for content_type in (None, "text/plain", "application/x-www-form-urlencoded"):
        headers = {"Content-Type": content_type} if content_type else {}
        answer = api.call("POST", "/v1/clients", data=b'{"name": "Plain"}', headers=headers)
        assert "application/json" in error_of(answer, 415)
        assert api.call("PUT", "/v1/clients/1", data=b'{"name": "Plain"}', headers=headers).status_code == 415
    assert "Plain" not in [c["name"] for c in api.get("/v1/clients").json()]
    charset = {"Content-Type": "application/json; charset=utf-8"}
    assert api.call("POST", "/v1/clients", data=b'{"name": "Typed"}', headers=charset).status_code == 201
    for body, fragment in ((b"[1, 2]", "JSON object"), (b"{not json", "not valid"), (b"", "JSON object")):
        assert fragment in error_of(api.call("POST", "/v1/clients", data=body, headers=charset), 400)


# ---- validation ---------------------------------------------------------------------------------------

PERSON = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "profile_ids": [-5]}


@pytest.mark.parametrize(
    ("path", "body", "fragments"),
    [
        ("/v1/clients", {"street": "Main Street 1"}, ("name", "required")),
        ("/v1/clients", {"name": "  "}, ("name", "non-empty")),
        ("/v1/clients", {"name": "Acme", "country": "Denmark"}, ("country", '"Denmark"', "ISO 3166-1")),
        ("/v1/clients", {"name": "Acme", "country": "dk"}, ("country", '"dk"')),
        ("/v1/clients", {"name": "Acme", "vat": "DK1"}, ('unknown field "vat"', "vat_number")),
        ("/v1/clients", {"name": "Acme", "created_by": 3}, ("created_by is read-only",)),
        ("/v2/persons", {**PERSON, "profile_ids": None} | {}, ("profile_ids", "list")),
        (
            "/v2/persons",
            {k: v for k, v in PERSON.items() if k != "profile_ids"},
            ("profile_ids is required",),
        ),
        ("/v2/persons", {**PERSON, "profile_ids": [-5, -3]}, ("exactly one", "Advanced Analytics")),
        ("/v2/persons", {**PERSON, "profile_ids": []}, ("exactly one",)),
        ("/v2/persons", {**PERSON, "profile_ids": [77]}, ("no profile with id 77",)),
        (
            "/v2/persons",
            {**PERSON, "email": "API.Owner@Sandbox-Forecast.example"},
            ("already used by person 1",),
        ),
        ("/v2/persons", {**PERSON, "email": "ada@example.com, bob@example.com"}, ("single e-mail address",)),
        ("/v2/persons", {**PERSON, "email": "ada example.com"}, ("single e-mail address",)),
        ("/v2/persons", {k: v for k, v in PERSON.items() if k != "email"}, ("email is required",)),
        ("/v2/persons", {**PERSON, "department_id": 99}, ("department_id 99", "no department")),
        ("/v2/persons", {**PERSON, "client_id": 99}, ("client_id 99", "no client")),
        ("/v2/persons", {**PERSON, "active": "yes"}, ("active", "true or false")),
        ("/v2/persons", {**PERSON, "is_system_user": True}, ("is_system_user is read-only",)),
        ("/v2/persons", {**PERSON, "external_refs": []}, ("external_refs can only be set when updating",)),
        ("/v2/persons", {**PERSON, "monday": 2000}, ("monday", "minutes")),
        ("/v2/persons", {**PERSON, "start_date": "02/12/2026"}, ("start_date", "YYYY-MM-DD")),
    ],
)
def test_a_refused_write_says_what_is_wrong_and_changes_nothing(server, api, path, body, fragments):
    before = admin(server, "GET", "/summary").json()["records"]
    message = error_of(api.post(path, body), 400)
    for fragment in fragments:
        assert fragment in message
    assert admin(server, "GET", "/summary").json()["records"] == before


def test_updates_are_checked_like_creates(server, api):
    for path, body, fragment in (
        ("/v1/clients/1", {"name": None}, "name must be a non-empty string"),
        ("/v1/clients/1", {"id": 9}, "id is read-only"),
        ("/v2/persons/3", {"profile_ids": [-1, -2]}, "exactly one"),
        ("/v2/persons/3", {"email": "api.owner@SANDBOX-FORECAST.example"}, "already used by person 1"),
        ("/v2/persons/3", {"external_refs": [{"key": "intacct"}]}, "external_refs must be a list"),
        ("/v2/persons/3", {"department_id": 42}, "no department"),
    ):
        assert fragment in error_of(api.put(path, body), 400)
    own_email = api.get("/v2/persons/3").json()["email"]
    assert api.put("/v2/persons/3", {"email": own_email.upper()}).status_code == 200  # its own, in any case


# ---- clients and persons ------------------------------------------------------------------------------


def test_clients_are_created_read_updated_and_deleted_with_timestamps(server, api):
    moment = [datetime(2026, 12, 2, 18, 46, 56, tzinfo=UTC)]
    server.store.clock = lambda: moment[0]
    answer = api.post("/v1/clients", {"name": "John Dow Inc.", "street": "Broadway 1", "country": "US"})
    assert answer.status_code == 201
    created = answer.json()
    assert created == {
        "id": 6,  # after the five generated ones
        "name": "John Dow Inc.",
        "street": "Broadway 1",
        "zip": None,
        "city": None,
        "country": "US",
        "vat_number": None,
        "notes": None,
        "created_by": 1,
        "updated_by": 1,
        "created_at": "2026-12-02T18:46:56Z",
        "updated_at": "2026-12-02T18:46:56Z",
    }
    assert api.get("/v1/clients/6").json() == created
    listed = api.get("/v1/clients").json()
    assert [c["id"] for c in listed] == [1, 2, 3, 4, 5, 6] and listed[-1] == created
    assert all(TIMESTAMP.fullmatch(c["created_at"]) and TIMESTAMP.fullmatch(c["updated_at"]) for c in listed)

    moment[0] += timedelta(minutes=1, seconds=2)
    answer = api.put("/v1/clients/6", {"name": "Jane Doe Inc.", "vat_number": "US123", "country": None})
    assert answer.status_code == 200
    updated = answer.json()
    assert updated == {
        **created,
        "name": "Jane Doe Inc.",
        "vat_number": "US123",
        "country": None,
        "updated_at": "2026-12-02T18:47:58Z",
    }
    assert api.get("/v1/clients/6").json() == updated

    assert api.delete("/v1/clients/6").status_code == 200
    assert "no client with id 6" in error_of(api.get("/v1/clients/6"), 404)
    assert error_of(api.put("/v1/clients/6", {"name": "Ghost"}), 404)
    assert error_of(api.delete("/v1/clients/6"), 404)
    assert api.post("/v1/clients", {"name": "Next"}).json()["id"] == 7  # ids are never reused


def test_persons_are_created_without_profile_ids_in_answers_and_profiles_read_apart(server, api):
    department = api.get("/v1/departments").json()[0]["id"]
    answer = api.post(
        "/v2/persons", {**PERSON, "profile_ids": [-3], "department_id": department, "job_title": "Analyst"}
    )
    assert answer.status_code == 201
    person = answer.json()
    assert "profile_ids" not in person and "external_refs" not in person
    assert person["id"] == 9  # API owner, system user and six generated persons came first
    assert person["email"] == "ada@example.com" and person["department_id"] == department
    assert [person[day] for day in ("monday", "friday", "saturday", "sunday")] == [480, 480, 0, 0]
    assert person["active"] is True and person["is_system_user"] is False and person["permissions"] == []
    assert person["created_by"] == person["updated_by"] == 1 and TIMESTAMP.fullmatch(person["created_at"])
    assert api.get("/v2/persons/9").json() == person
    assert [p["id"] for p in api.get("/v2/persons").json()] == list(range(1, 10))
    assert all("profile_ids" not in p for p in api.get("/v2/persons").json())
    profiles = api.get("/v1/profiles/person/9").json()
    assert [(p["id"], p["name"]) for p in profiles] == [(-3, "Manager")]

    refs = [{"key": "intacct_employee", "value": "E-1001"}]
    answer = api.put("/v2/persons/9", {"profile_ids": [-5], "external_refs": refs, "active": False})
    assert answer.status_code == 200
    assert answer.json()["active"] is False and "external_refs" not in answer.json()
    assert [p["id"] for p in api.get("/v1/profiles/person/9").json()] == [-5]
    full = admin(server, "GET", "/persons/9").json()
    assert full["profile_ids"] == [-5] and full["external_refs"] == refs
    assert "no person with id 99" in error_of(api.get("/v1/profiles/person/99"), 404)


def test_only_client_users_can_be_deleted(server, api):
    message = error_of(api.delete("/v2/persons/3"), 400)
    assert "only persons with client_id not equal to null can be deleted" in message
    client_user = api.post("/v2/persons", {**PERSON, "client_id": 1}).json()
    assert "persons" in error_of(api.delete("/v1/clients/1"), 400)  # the client still has a client user
    assert api.delete(f"/v2/persons/{client_user['id']}").status_code == 200
    assert error_of(api.get(f"/v2/persons/{client_user['id']}"), 404)
    assert api.delete("/v1/clients/1").status_code == 200


def test_a_system_user_can_be_read_but_not_changed(server, api):
    system_user = api.get("/v2/persons/2").json()
    assert system_user["is_system_user"] is True and system_user["last_name"] == "Integrations"
    assert "system user" in error_of(api.put("/v2/persons/2", {"first_name": "Hacked"}), 403)
    assert "system user" in error_of(api.delete("/v2/persons/2"), 403)
    assert api.get("/v2/persons/2").json() == system_user
    owner = api.get("/v2/persons/1").json()
    assert (owner["first_name"], owner["last_name"], owner["is_system_user"]) == ("API", "Owner", False)


def test_departments_are_read_only(server, api):
    departments = api.get("/v1/departments").json()
    assert [d["id"] for d in departments] == [1, 2, 3] and all(set(d) == {"id", "name"} for d in departments)
    assert api.get("/v1/departments/2").json() == departments[1]
    for answer in (
        api.post("/v1/departments", {"name": "New"}),
        api.put("/v1/departments/2", {"name": "Renamed"}),
        api.delete("/v1/departments/2"),
    ):
        assert "departments are read-only in Forecast's public API" in error_of(answer, 405)
        assert answer.headers["Allow"] == "GET"
    assert api.get("/v1/departments").json() == departments
    assert admin(server, "PUT", "/departments/2", {"name": "Renamed"}).status_code == 200
    assert api.get("/v1/departments/2").json() == {"id": 2, "name": "Renamed"}


def test_profiles_list_the_built_ins_with_negative_ids_and_custom_ones_after(server, api):
    profiles = api.get("/v1/profiles").json()
    assert {p["id"]: p["name"] for p in profiles} == BUILT_IN
    assert [p["id"] for p in profiles] == [-1, -2, -3, -4, -5]
    assert all(
        set(p) == {"id", "name", "can_be_edited", "person_count", "profile_permission"} for p in profiles
    )
    assert [p["can_be_edited"] for p in profiles] == [False, True, True, True, True]
    assert sum(p["person_count"] for p in profiles) == 8  # every person holds one
    custom = admin(server, "POST", "/profiles", {"name": "Finance Viewer"})
    assert custom.status_code == 201 and custom.json()["id"] == 1
    assert api.post("/v2/persons", {**PERSON, "profile_ids": [1]}).status_code == 201
    assert api.get("/v1/profiles").json()[-1] == {
        "id": 1,
        "name": "Finance Viewer",
        "can_be_edited": True,
        "person_count": 1,
        "profile_permission": [],
    }
    assert "read-only" in error_of(api.post("/v1/profiles", {"name": "Mine"}), 405)


def test_unknown_paths_get_404_and_unserved_methods_405(server, api):
    assert "/api/v1/projects" in error_of(api.get("/v1/projects"), 404)
    assert error_of(api.get("/v1/clients/abc"), 404)
    assert error_of(api.get("/v1/persons"), 404)  # persons live at v2
    assert error_of(requests.get(server.url + "/nowhere", timeout=10), 404)
    answer = api.call("PATCH", "/v1/clients/1", json={"name": "x"})
    assert "PATCH" in error_of(answer, 405) and answer.headers["Allow"] == "GET, PUT, DELETE"
    assert api.delete("/v1/clients").headers["Allow"] == "GET, POST"
    assert error_of(api.put("/v2/persons", {}), 405)
    assert error_of(admin(server, "GET", "/gremlins"), 404)
    assert error_of(admin(server, "PUT", "/clients"), 405)


# ---- rate limit and latency ---------------------------------------------------------------------------


def test_the_rate_limit_answers_429_with_retry_after_and_does_not_apply_the_request():
    with ForecastApiServer(rate=5, burst=5) as server:
        api = Api(server)
        assert [api.get("/v1/clients").status_code for _ in range(5)] == [200] * 5
        refused = api.post("/v1/clients", {"name": "Too Soon"})
        assert "retry after" in error_of(refused, 429)
        retry_after = int(refused.headers["Retry-After"])
        assert retry_after >= 1
        assert admin(server, "GET", "/clients").json() == []  # admin calls are not limited either
        time.sleep(retry_after)
        assert api.post("/v1/clients", {"name": "Later"}).status_code == 201
        assert [c["name"] for c in admin(server, "GET", "/clients").json()] == ["Later"]
        ledger = admin(server, "GET", "/requests").json()
        assert ledger["by_status"] == {"200": 5, "429": 1, "201": 1}
        assert ledger["counts"] == {"GET": 5, "POST": 2}
        other = Api(server, key="another-key")
        admin(server, "POST", "/keys", {"key": "another-key"})
        assert [other.get("/v1/clients").status_code for _ in range(5)] == [200] * 5  # a bucket per key
        assert admin(server, "POST", "/rate", {"rate": 0}).json() == {"rate": 0.0, "burst": 1.0}
        assert {api.get("/v1/clients").status_code for _ in range(20)} == {200}


def test_retry_after_is_the_whole_seconds_until_a_token_is_free():
    now = [100.0]
    limiter = RateLimiter(0.25, 1, clock=lambda: now[0])
    assert limiter.take("k") == 0
    assert limiter.take("k") == 4  # a token every 4 s
    now[0] += 3.5
    assert limiter.take("k") == 1  # 0.5 s to go: at least 1
    now[0] += 0.5
    assert limiter.take("k") == 0


def test_latency_delays_every_answer():
    with ForecastApiServer(rate=0, latency_ms=200) as server:
        began = time.perf_counter()
        assert Api(server).get("/v1/profiles").status_code == 200
        assert time.perf_counter() - began >= 0.2


# ---- faults -------------------------------------------------------------------------------------------


def test_server_error_answers_before_applying_and_disarms_after_its_count(server, api):
    fault = {"name": "server_error", "method": "post", "path": "/api/v1/clients", "status": 502}
    armed = admin(server, "POST", "/faults", fault)
    assert armed.status_code == 201 and armed.json()["count"] == 1 and armed.json()["method"] == "POST"
    assert api.get("/v1/clients").status_code == 200  # other methods pass
    assert "Bad Gateway" in error_of(api.post("/v1/clients", {"name": "Lost"}), 502)
    assert "Lost" not in [c["name"] for c in admin(server, "GET", "/clients").json()]
    assert admin(server, "GET", "/faults").json() == []
    assert api.post("/v1/clients", {"name": "Kept"}).status_code == 201


def test_a_fault_can_strike_every_nth_request_until_disarmed(server, api):
    admin(server, "POST", "/faults", {"name": "server_error", "every": 2, "path": "/api/v1/departments"})
    statuses = [api.get("/v1/departments").status_code for _ in range(4)]
    assert statuses == [200, 503, 200, 503]
    assert api.get("/v1/clients").status_code == 200
    assert admin(server, "GET", "/faults").json()[0]["fired"] == 2
    assert admin(server, "DELETE", "/faults").json() == []
    assert api.get("/v1/departments").status_code == 200


def test_html_error_answers_a_proxy_page():
    with ForecastApiServer(rate=0, faults=["html_error:count=2"]) as server:
        api = Api(server)
        for _ in range(2):
            answer = api.post("/v1/clients", {"name": "Lost"})
            assert answer.status_code == 502
            assert answer.headers["Content-Type"].startswith("text/html") and "<html>" in answer.text
        assert api.get("/v1/clients").json() == []


def test_slow_answers_normally_after_the_delay(server, api):
    admin(server, "POST", "/faults", {"name": "slow", "delay_s": 0.3, "method": "GET"})
    began = time.perf_counter()
    assert api.get("/v1/clients").status_code == 200
    assert time.perf_counter() - began >= 0.3


def test_drop_after_write_applies_the_write_then_drops_the_connection(server, api):
    admin(server, "POST", "/faults", {"name": "drop_after_write", "path": "/api/v1/clients"})
    assert api.get("/v1/clients").status_code == 200  # reads do not count
    assert api.post("/v1/clients", {"country": "nope"}).status_code == 400  # nor refused writes
    with pytest.raises(requests.exceptions.ConnectionError):
        Api(server).post("/v1/clients", {"name": "Applied Anyway"})
    assert "Applied Anyway" in [c["name"] for c in admin(server, "GET", "/clients").json()]
    last = admin(server, "GET", "/requests").json()["requests"][-1]
    assert (last["status"], last["dropped"], last["fault"]) == (201, True, "drop_after_write")
    assert api.post("/v1/clients", {"name": "Answered"}).status_code == 201  # disarmed after one


def test_throttle_answers_429_with_its_retry_after_and_does_not_apply(server, api):
    admin(server, "POST", "/faults", {"name": "throttle", "retry_after": 3})
    answer = api.post("/v1/clients", {"name": "Throttled"})
    assert error_of(answer, 429) and answer.headers["Retry-After"] == "3"
    assert "Throttled" not in [c["name"] for c in admin(server, "GET", "/clients").json()]


def test_bad_faults_are_refused(server):
    for body, fragment in (
        ({"name": "gremlins"}, "unknown fault 'gremlins'"),
        ({"name": "server_error", "status": 418}, "500"),
        ({"name": "slow", "seconds": 1}, "no parameter seconds"),
        ({"name": "throttle", "retry_after": "soon"}, "retry_after"),
        ({"status": 500}, "names the fault"),
    ):
        assert fragment in error_of(admin(server, "POST", "/faults", body), 400)
    assert admin(server, "GET", "/faults").json() == []


# ---- admin view ---------------------------------------------------------------------------------------


def test_admin_seeds_records_all_or_none_and_sets_what_the_api_cannot(server, api):
    created = admin(server, "POST", "/clients", [{"name": "Seed One"}, {"name": "Seed Two", "country": "DK"}])
    assert created.status_code == 201 and [c["id"] for c in created.json()] == [6, 7]
    department = admin(server, "POST", "/departments", {"name": "Sales EMEA"}).json()
    assert department == {"id": 4, "name": "Sales EMEA"}
    robot = admin(
        server,
        "POST",
        "/persons",
        {**PERSON, "email": "robot@example.com", "is_system_user": True, "department_id": 4},
    ).json()
    assert robot["is_system_user"] is True and robot["profile_ids"] == [-5]
    assert error_of(api.put(f"/v2/persons/{robot['id']}", {"first_name": "x"}), 403)
    batch = [{"name": "Fine"}, {"name": "Bad", "country": "Denmark"}]
    assert "country" in error_of(admin(server, "POST", "/clients", batch), 400)
    assert "Fine" not in [c["name"] for c in admin(server, "GET", "/clients").json()]
    assert admin(server, "DELETE", "/departments/4").status_code == 200
    assert admin(server, "GET", f"/persons/{robot['id']}").json()["department_id"] is None  # unlinked
    assert admin(server, "DELETE", f"/persons/{robot['id']}").status_code == 200  # no client_id needed


def test_the_ledger_counts_every_api_request_and_reset_empties_the_company(server, api):
    api.get("/v1/clients")
    api.post("/v1/clients", {"name": "Counted"})
    api.post("/v1/clients", {})
    Api(server, key="wrong").get("/v1/clients")
    admin(server, "GET", "/clients")  # admin requests are not in it
    ledger = admin(server, "GET", "/requests").json()
    assert [(r["method"], r["path"], r["status"]) for r in ledger["requests"]] == [
        ("GET", "/api/v1/clients", 200),
        ("POST", "/api/v1/clients", 201),
        ("POST", "/api/v1/clients", 400),
        ("GET", "/api/v1/clients", 401),
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", r["at"]) for r in ledger["requests"])
    assert ledger["counts"] == {"GET": 2, "POST": 2}
    assert ledger["by_status"] == {"200": 1, "201": 1, "400": 1, "401": 1}
    assert admin(server, "DELETE", "/requests").json()["requests"] == []

    admin(server, "POST", "/keys", {"key": "extra-key"})
    admin(server, "POST", "/faults", {"name": "throttle", "count": 5})
    api.get("/v1/clients")
    summary = admin(server, "POST", "/reset").json()
    assert summary["records"] == {"clients": 0, "persons": 2, "departments": 0, "profiles": 5}
    assert summary["requests"]["total"] == 0 and summary["faults"] == []
    assert summary["keys"] == {"active": 1, "inactive": 0}
    persons = api.get("/v2/persons").json()
    assert [(p["id"], p["first_name"], p["last_name"], p["is_system_user"]) for p in persons] == [
        (1, "API", "Owner", False),
        (2, "Forecast", "Integrations", True),
    ]
    assert api.post("/v1/clients", {"name": "First Again"}).json()["id"] == 1


# ---- the generated company ----------------------------------------------------------------------------


def test_the_same_seed_generates_the_same_company():
    def company(seed: int) -> dict[str, list[dict[str, Any]]]:
        store = generate_company(seed, clients=40, people=60, departments=10)
        return {
            name: store.records(name, admin=True)
            for name in ("clients", "persons", "departments", "profiles")
        }

    first = company(11)
    assert first == company(11)
    assert first != company(12)
    clients, persons, departments = first["clients"], first["persons"], first["departments"]
    assert len(clients) == 40 and len(persons) == 62 and len(departments) == 10
    assert len({d["name"] for d in departments}) == 10
    assert len({c["name"] for c in clients}) == 40
    assert all(re.fullmatch(r"[A-Z]{2}", c["country"]) for c in clients)
    assert any(c["vat_number"] for c in clients) and any(c["notes"] for c in clients)
    people = persons[2:]
    emails = [p["email"] for p in people]
    assert len(set(emails)) == 60 and all(e == e.lower() and e.count("@") == 1 for e in emails)
    assert all(len(p["profile_ids"]) == 1 and p["profile_ids"][0] in BUILT_IN for p in people)
    assert 0 < sum(p["department_id"] is None for p in people) < 30
    assert sum(p["active"] for p in people) > 45
    assert {p["department_id"] for p in people} - {None} <= {d["id"] for d in departments}


def test_the_server_hands_out_an_airflow_connection(server):
    assert server.airflow_connection(timeout=30) == {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": server.port,
        "schema": "http",
        "password": DEFAULT_API_KEY,
        "extra": {"timeout": 30},
    }
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.base_url == server.url + "/api" and server.admin_url == server.url + "/admin"


# ---- the command line ---------------------------------------------------------------------------------


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sandbox.forecast_api", *args],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_api_runs_as_a_process_on_a_free_port():
    process = start("--port", "0", "--clients", "3", "--fault", "server_error:method=DELETE")
    try:
        banner = process.stdout.readline()
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+) ", banner).group(1)
        headers = {KEY_HEADER: DEFAULT_API_KEY}
        clients = requests.get(url + "/api/v1/clients", headers=headers, timeout=10)
        assert clients.status_code == 200 and len(clients.json()) == 3
        assert requests.get(url + "/admin/faults", timeout=10).json()[0]["method"] == "DELETE"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--fault", "gremlins:count=2"), "unknown fault 'gremlins'"),
        (("--fault", "server_error:status=200"), "status"),
        (("--clients", "-1"), "at least 0"),
        (("--rate", "fast"), "--rate"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(args, fragment):
    process = start("--port", "0", *args)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 2
    assert fragment in stderr
