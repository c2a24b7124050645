"""The Airflow UI, checked in a browser as a person would.

`scripts/airflow_standalone.sh` (what `make airflow` runs) starts on free ports with a scratch Airflow home.
Through the REST API, a team-member import is triggered with a permission level and no user ids, so it
stops at its selection step. Headless Chromium (Debian's package, driven by Selenium) signs in on the
login page, then loads the DAG list, the import's trigger form and the selection step that waits for an
answer, and saves a screenshot of each (in the test's tmp_path and in test-output/ui/). It then answers
the step, and the REST API and Forecast show that the run went on and imported the chosen user. The
last check is that the scheduler ran the hourly department sync by itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from tests.deploy.ui_support import (
    RunningAirflow,
    button,
    choose,
    click,
    headless_chromium,
    log_tail,
    menu_options,
    screenshot,
    sign_in,
    standalone,
    wait_for_texts,
    wait_until,
)

from intacct import choices
from intacct.forecast.sql import SqlForecastTarget
from intacct.state import db

pytestmark = [pytest.mark.slow]

DAG_IDS = (
    "intacct_department_sync",
    "intacct_import_clients",
    "intacct_import_departments",
    "intacct_import_team_members",
    "intacct_link_clients",
    "intacct_link_team_members",
)
TEAM_DAG = "intacct_import_team_members"
SELECTION_TASK = "choose_users"
SYNC_DAG = "intacct_department_sync"
PERMISSION_LEVEL = "Collaborator"


@pytest.fixture(scope="module")
def airflow(tmp_path_factory) -> Iterator[RunningAirflow]:
    with standalone(tmp_path_factory.mktemp("airflow-home"), DAG_IDS) as server:
        yield server


@pytest.fixture(scope="module")
def import_run(airflow: RunningAirflow) -> str:
    """A team-member import with a permission level and no user ids: it will ask whom to import."""
    # Only the sync starts unpaused; a paused DAG's triggered run would wait in `queued`.
    airflow.api("PATCH", f"/dags/{TEAM_DAG}", json={"is_paused": False})
    run = airflow.api(
        "POST",
        f"/dags/{TEAM_DAG}/dagRuns",
        json={"logical_date": None, "conf": {"permission_level": PERMISSION_LEVEL}},
    )
    return run["dag_run_id"]


@pytest.fixture(scope="module")
def waiting_selection(airflow: RunningAirflow, import_run: str) -> dict:
    """The selection step's request once it waits for an answer (its HITL details)."""

    def waiting() -> dict | None:
        states = airflow.task_states(TEAM_DAG, import_run)
        if {"failed", "upstream_failed"} & set(states.values()):
            pytest.fail(
                f"{import_run} failed before asking: {states}\n{log_tail(airflow.log)}", pytrace=False
            )
        response = airflow.get(airflow.hitl_path(TEAM_DAG, import_run, SELECTION_TASK))
        if not response.ok:
            return None
        request = response.json()
        waits = request["task_instance"]["state"] == "awaiting_input" and not request["response_received"]
        return request if waits else None

    return airflow.wait_for(f"{SELECTION_TASK} waiting for an answer in {import_run}", waiting)


@pytest.fixture(scope="module")
def offered_users(
    airflow: RunningAirflow, import_run: str, waiting_selection: dict
) -> list[choices.Candidate]:
    """The users the run's plan offers, read from the state database the way the selection step does."""
    plan = airflow.api(
        "GET", f"{airflow.run_path(TEAM_DAG, import_run)}/taskInstances/plan/xcomEntries/return_value"
    )
    engine = db.open_engine(f"sqlite:///{airflow.home / db.STATE_DB_FILE}")
    try:
        offered = choices.candidates(engine, plan["value"]["plan_id"], include_inactive=False)
    finally:
        engine.dispose()
    assert offered, "the plan offers no user to import"
    assert [c.key for c in offered] == waiting_selection["options"]
    return offered


@pytest.fixture(scope="module")
def signed_in(airflow: RunningAirflow) -> Iterator[WebDriver]:
    """Headless Chromium, signed in as admin through the UI's login page."""
    driver = headless_chromium()
    try:
        sign_in(driver, airflow)
        yield driver
    finally:
        driver.quit()


@pytest.mark.usefixtures("import_run")  # started now, so it reaches its selection step meanwhile
def test_the_dag_list_shows_the_six_dags(signed_in: WebDriver, airflow: RunningAirflow, tmp_path):
    signed_in.get(f"{airflow.url}/dags")
    wait_for_texts(signed_in, "the DAG list", [f"{len(DAG_IDS)} Dags", *DAG_IDS])
    screenshot(signed_in, tmp_path, "dag_list")


def test_the_trigger_form_offers_the_permission_levels_by_name(
    signed_in: WebDriver, airflow: RunningAirflow, tmp_path
):
    param = airflow.api("GET", f"/dags/{TEAM_DAG}/details")["params"]["permission_level"]
    levels = [level for level in param["schema"]["enum"] if level is not None]
    assert PERMISSION_LEVEL in levels, levels

    signed_in.get(f"{airflow.url}/dags/{TEAM_DAG}")
    wait_until(
        signed_in,
        "the Trigger button",
        lambda d: d.find_element(By.CSS_SELECTOR, "button[aria-label='Trigger Dag']"),
    ).click()
    field = wait_until(
        signed_in, "the permission_level field", lambda d: d.find_element(By.ID, "element_permission_level")
    )
    wait_for_texts(signed_in, "the trigger form", [f"Trigger Dag - {TEAM_DAG}", param["schema"]["title"]])
    click(signed_in, field)
    wait_until(
        signed_in,
        f"the permission levels {levels} as choices",
        lambda d: set(levels) <= {o.text for o in menu_options(d, "element_permission_level")},
    )
    screenshot(signed_in, tmp_path, "trigger_form_permission_level")


def test_the_waiting_selection_step_shows_the_offered_users(
    signed_in: WebDriver, airflow: RunningAirflow, import_run: str, offered_users, tmp_path
):
    signed_in.get(airflow.required_actions_page(TEAM_DAG, import_run, SELECTION_TASK))
    wait_for_texts(
        signed_in,
        "the selection step",
        [
            "Awaiting Input",
            "Choose the Intacct users to import",
            *(c.name for c in offered_users),
            *(c.email for c in offered_users),
        ],
    )
    wait_until(signed_in, "the options field", lambda d: d.find_element(By.ID, "element_chosen_options"))
    screenshot(signed_in, tmp_path, "selection_step_waiting")


def test_answering_the_selection_in_the_browser_imports_the_chosen_user(
    signed_in: WebDriver, airflow: RunningAirflow, import_run: str, offered_users, tmp_path
):
    chosen = offered_users[-1]
    page = airflow.required_actions_page(TEAM_DAG, import_run, SELECTION_TASK)
    if signed_in.current_url != page:  # when this test runs on its own
        signed_in.get(page)
    choose(signed_in, "element_chosen_options", chosen.key)
    button(signed_in, "Respond").click()
    wait_for_texts(signed_in, "the answer's confirmation", [f"{SELECTION_TASK} response successful"])
    screenshot(signed_in, tmp_path, "selection_step_answered")

    def finished() -> dict | None:
        run = airflow.api("GET", airflow.run_path(TEAM_DAG, import_run))
        return run if run["state"] in ("success", "failed") else None

    run = airflow.wait_for(f"the end of {import_run}", finished)
    assert run["state"] == "success", airflow.task_states(TEAM_DAG, import_run)
    answer = airflow.api("GET", airflow.hitl_path(TEAM_DAG, import_run, SELECTION_TASK))
    assert answer["chosen_options"] == [chosen.key]
    assert answer["responded_by_user"]["name"] == "admin"

    forecast = db.open_engine(f"sqlite:///{airflow.home / db.FORECAST_DB_FILE}")
    try:
        target = SqlForecastTarget(forecast)
        people = target.list_people()
        profile = {p.name: p.id for p in target.list_profiles()}[PERMISSION_LEVEL]
    finally:
        forecast.dispose()
    imported = [p for p in people if (p.email or "").lower() == chosen.email.lower()]
    assert len(imported) == 1, f"{chosen.email} in Forecast: {imported}"
    assert imported[0].profile_id == profile
    assert len(people) == 1, "only the chosen user is imported"


def test_the_scheduler_runs_the_hourly_department_sync(airflow: RunningAirflow):
    """The sync starts unpaused with catchup off, so the scheduler runs it for the latest hour at once."""

    def scheduled_run() -> dict | None:
        runs = airflow.api("GET", f"/dags/{SYNC_DAG}/dagRuns")["dag_runs"]
        done = [r for r in runs if r["run_type"] == "scheduled" and r["state"] in ("success", "failed")]
        return done[0] if done else None

    run = airflow.wait_for(f"finished scheduled run of {SYNC_DAG}", scheduled_run)
    assert run["state"] == "success", airflow.task_states(SYNC_DAG, run["dag_run_id"])
