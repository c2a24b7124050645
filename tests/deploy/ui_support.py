"""The harness of the browser check (tests/deploy/test_ui.py): `make airflow` started in a process group of
its own and stopped with it, its REST API (tests/deploy/airflow_api.py), and headless Debian Chromium driven
by Selenium.

Nothing here knows the pipeline's DAGs; the test says what to trigger, load and look for.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from scripts import stack
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from tests.deploy.airflow_api import AirflowApi, admin_password, free_port, wait_for

REPO = stack.REPO
STANDALONE = REPO / "scripts" / "airflow_standalone.sh"
# A copy of every screenshot outside pytest's tmp dirs, to open after the run (git-ignored).
SCREENSHOTS = REPO / "test-output" / "ui"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
BROWSER_PACKAGES = ("chromium", "chromium-driver")

START_TIMEOUT_S = 180
RUN_TIMEOUT_S = 180
PAGE_TIMEOUT_S = 30
STOP_TIMEOUT_S = 30


def log_tail(path: Path, lines: int = 40) -> str:
    """The end of the standalone log, without the line where Airflow prints the admin password."""
    kept = [line for line in path.read_text(errors="replace").splitlines() if "password" not in line.lower()]
    return "\n".join(kept[-lines:])


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of a process group, read from /proc."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # the process ended while we looked
        if int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(stat.parent.name))
    return members


def stop_group(process: subprocess.Popen) -> list[int]:
    """Stop the whole process group `process` leads (TERM, then KILL); return what is still alive."""
    pgid = process.pid
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if not group_members(pgid):
            break
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.5)
    process.wait(timeout=STOP_TIMEOUT_S)  # reap the leader: a zombie left behind is no process
    return group_members(pgid)


@dataclass(kw_only=True)
class RunningAirflow(AirflowApi):
    """`make airflow` on free ports: its process, home and log, and the admin's password."""

    process: subprocess.Popen
    home: Path
    log: Path
    password: str = ""

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = RUN_TIMEOUT_S) -> Any:
        """Poll `check` until it returns something truthy; fail with the log's end when the time is up
        or standalone has stopped."""

        def exited() -> str | None:
            if self.process.poll() is None:
                return None
            return f"airflow standalone exited ({self.process.returncode})"

        return wait_for(
            what, check, timeout, given_up=exited, detail=lambda: f"; the log ends:\n{log_tail(self.log)}"
        )

    def sign_in_api(self) -> None:
        """The admin's password (written when the API server starts) and a JWT for the REST API."""
        password_file = self.home / stack.passwords_path(self.home).name  # standalone's home is Airflow's

        def token() -> bool:
            try:  # the file may not be there yet, or be half written
                self.password = admin_password(password_file)
            except (OSError, ValueError, KeyError):
                return False
            try:
                return self.sign_in(self.password).ok
            except requests.ConnectionError:
                return False

        self.wait_for("API token", token, START_TIMEOUT_S)

    def hitl_path(self, dag_id: str, run_id: str, task_id: str) -> str:
        """The API path of a (not mapped) task's human-in-the-loop request."""
        return f"{self.run_path(dag_id, run_id)}/taskInstances/{task_id}/-1/hitlDetails"

    def required_actions_page(self, dag_id: str, run_id: str, task_id: str) -> str:
        """The UI page where a task's human-in-the-loop request is answered."""
        return f"{self.url}/dags/{dag_id}/runs/{quote(run_id, safe='')}/tasks/{task_id}/required_actions"

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}


@contextmanager
def standalone(home: Path, dag_ids: tuple[str, ...]) -> Iterator[RunningAirflow]:
    """`scripts/airflow_standalone.sh` in a process group of its own, until the API lists `dag_ids`;
    afterwards the whole group is stopped and must be gone."""
    port = free_port()
    # The test session's own Airflow settings (a throwaway home, unit-test mode) are not the server's.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW_PORT=str(port), SANDBOX_PORT=str(free_port()))
    log = home / "standalone.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(STANDALONE)], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = RunningAirflow(process=process, home=home, url=f"http://127.0.0.1:{port}", log=log)
    try:
        server.sign_in_api()

        def parsed() -> bool:
            response = server.get("/dags?limit=100")
            return response.ok and sorted(d["dag_id"] for d in response.json()["dags"]) == sorted(dag_ids)

        server.wait_for(f"DAGs {', '.join(dag_ids)} in the API", parsed, START_TIMEOUT_S)
        yield server
    finally:
        alive = stop_group(process)
        assert not alive, f"processes of airflow standalone still running after TERM and KILL: {alive}"


def ensure_browser() -> None:
    """Debian's Chromium and its driver: installed with apt-get when missing (no browser download works
    here, and Selenium Manager is never asked for one)."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    missing = ", ".join(str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists())
    packages = " ".join(BROWSER_PACKAGES)
    if shutil.which("apt-get") is None:
        pytest.fail(f"{missing} missing and there is no apt-get to install {packages}", pytrace=False)
    if os.geteuid() != 0:
        pytest.fail(
            f"{missing} missing; installing needs root: sudo apt-get install {packages}", pytrace=False
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *BROWSER_PACKAGES]
    result = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:  # a fresh machine may have no package lists yet
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        result = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(
            f"could not install {packages} (exit {result.returncode}):\n"
            + "\n".join((result.stdout + result.stderr).splitlines()[-15:]),
            pytrace=False,
        )


def headless_chromium() -> WebDriver:
    ensure_browser()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1400"):
        options.add_argument(argument)
    options.add_argument("--lang=en-US")
    # An explicit driver path: Selenium Manager (which would download one) is never run.
    return webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))


def wait_until(driver: WebDriver, what: str, condition: Callable[[WebDriver], Any]) -> Any:
    try:
        return WebDriverWait(driver, PAGE_TIMEOUT_S).until(condition)
    except TimeoutException:
        pytest.fail(f"the page never showed {what} ({driver.current_url})", pytrace=False)


def sign_in(driver: WebDriver, airflow: RunningAirflow) -> None:
    """Sign in as admin on the UI's login page, typing into its fields."""
    driver.get(f"{airflow.url}/")
    wait_until(driver, "the login form", lambda d: d.find_elements(By.NAME, "username"))
    assert "/auth/login" in driver.current_url, driver.current_url
    driver.find_element(By.NAME, "username").send_keys(stack.ADMIN_USER)
    driver.find_element(By.NAME, "password").send_keys(airflow.password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(driver, "the UI after signing in", lambda d: "/auth/login" not in d.current_url)


def page_text(driver: WebDriver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def wait_for_texts(driver: WebDriver, what: str, texts: list[str]) -> None:
    """Until every one of `texts` is on the page (the React app fills it in after loading)."""
    try:
        WebDriverWait(driver, PAGE_TIMEOUT_S).until(lambda d: all(t in page_text(d) for t in texts))
    except TimeoutException:
        text = page_text(driver)
        pytest.fail(f"{what}: not on the page: {[t for t in texts if t not in text]}", pytrace=False)


def screenshot(driver: WebDriver, tmp_path: Path, name: str) -> Path:
    """A PNG of the window in `tmp_path`, copied to test-output/ui/; both paths are printed."""
    shot = tmp_path / f"{name}.png"
    assert driver.save_screenshot(str(shot)), f"no screenshot of {name}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    copy = shutil.copy(shot, SCREENSHOTS / shot.name)
    print(f"screenshot {name}: {shot} (copy: {copy})")
    return shot


def click(driver: WebDriver, element: WebElement) -> None:
    """Scroll `element` to the middle of the window, then click it (forms open in scrolling dialogs)."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def menu_options(driver: WebDriver, field_id: str) -> list[WebElement]:
    """The open choices of a select field of an Airflow form (a react-select inside `#<field_id>`)."""
    return driver.find_elements(By.CSS_SELECTOR, f"#{field_id} [id*='-option-']")


def choose(driver: WebDriver, field_id: str, option: str) -> None:
    """Open the select field `field_id` and click its choice `option`."""
    click(driver, wait_until(driver, f"the field {field_id}", lambda d: d.find_element(By.ID, field_id)))
    wait_until(
        driver,
        f"the choice {option} of {field_id}",
        lambda d: next((o for o in menu_options(d, field_id) if o.text == option), None),
    ).click()


def button(driver: WebDriver, label: str) -> WebElement:
    return wait_until(
        driver,
        f"the button {label}",
        lambda d: next((b for b in d.find_elements(By.TAG_NAME, "button") if b.text == label), None),
    )
