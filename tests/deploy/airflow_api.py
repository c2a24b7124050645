"""Airflow's public REST API as the deployment tests drive it (tests/deploy/test_stack.py, test_ui.py): a free
port to serve on, a session signed in with the simple auth manager admin's JWT, requests that must succeed,
and waiting until a condition holds.

Nothing here knows how the server was started; the harness of each test does.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from scripts import stack


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def admin_password(passwords_file: Path) -> str:
    """The admin's password from the file the simple auth manager writes when the API server starts."""
    return json.loads(passwords_file.read_text())[stack.ADMIN_USER]


def wait_for(
    what: str,
    check: Callable[[], Any],
    timeout: float,
    *,
    interval: float = 1.0,
    given_up: Callable[[], str | None] = lambda: None,
    detail: Callable[[], str] = lambda: "",
) -> Any:
    """Call `check` every `interval` s until it returns something truthy, and return that. Fail the test
    when `timeout` s have passed, or at once when `given_up` names a reason why waiting is pointless;
    `detail` adds to either message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reason = given_up()
        if reason:
            pytest.fail(f"{reason} while waiting for {what}{detail()}", pytrace=False)
        found = check()
        if found:
            return found
        time.sleep(interval)
    pytest.fail(f"no {what} after {timeout:.0f} s{detail()}", pytrace=False)


@dataclass
class AirflowApi:
    """The REST API (`/api/v2`) of the Airflow API server at `url`, through one session."""

    url: str
    session: requests.Session = field(default_factory=requests.Session)

    def sign_in(self, password: str) -> requests.Response:
        """Ask `/auth/token` for the admin's JWT; once it is given, every later request carries it."""
        response = requests.post(
            f"{self.url}/auth/token", json={"username": stack.ADMIN_USER, "password": password}, timeout=30
        )
        if response.ok:
            self.session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        return response

    def get(self, path: str) -> requests.Response:
        return self.session.get(f"{self.url}/api/v2{path}", timeout=30)

    def api(self, method: str, path: str, **kwargs: Any) -> dict:
        """A request that must succeed; its JSON."""
        response = self.session.request(method, f"{self.url}/api/v2{path}", timeout=30, **kwargs)
        assert response.ok, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json()

    def run_path(self, dag_id: str, run_id: str) -> str:
        return f"/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.api("GET", f"{self.run_path(dag_id, run_id)}/taskInstances")["task_instances"]
