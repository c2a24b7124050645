"""What every DAG of this project shares: owner, start date, the Intacct pool, failure notification.

Read at DAG-parse time, so nothing here touches the network or a database: the pool size comes from the
environment (the set-up creates the pool with the same number).
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

import pendulum

log = logging.getLogger(__name__)

OWNER = "data-engineering"
START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
# Intacct allows a company a few concurrent requests (2 by default); tasks that call it hold this many
# slots of the `intacct_api` pool, so parallel DAG runs never exceed the company's entitlement.
INTACCT_POOL = "intacct_api"


def pool_slots(value: str | None) -> int:
    """The `INTACCT_API_SLOTS` setting as a slot count; a bad value fails the DAG's import naming it."""
    text = (value or "2").strip()
    if not text.isdigit() or int(text) < 1:
        raise ValueError(
            f"INTACCT_API_SLOTS must be a whole number of at least 1 (the Intacct requests the company may "
            f"run at once, and the size of the {INTACCT_POOL} pool), got {value!r}"
        )
    return int(text)


INTACCT_SLOTS = pool_slots(os.environ.get("INTACCT_API_SLOTS"))
# Extraction is the only step worth retrying as a whole: the client already retries single calls.
EXTRACT_RETRIES: dict[str, Any] = {
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(minutes=15),
}
FAILURE_WEBHOOK_VARIABLE = "intacct_failure_webhook"


def notify_failure(context: dict[str, Any]) -> None:
    """Post a short JSON message (no personal data) to the webhook in the Airflow Variable
    `intacct_failure_webhook`, when it is set. Never raises: a broken notifier must not hide the failure.
    """
    try:
        from airflow.sdk import Variable

        url = Variable.get(FAILURE_WEBHOOK_VARIABLE, default=None)
        if not url:
            return
        import requests

        ti = context.get("ti") or context.get("task_instance")
        payload = {
            "text": f"Intacct pipeline: {context['dag'].dag_id} run {context['run_id']} failed"
            + (f" in task {ti.task_id}" if ti else ""),
            "dag_id": context["dag"].dag_id,
            "run_id": context["run_id"],
            "task_id": getattr(ti, "task_id", None),
        }
        requests.post(url, json=payload, timeout=10)
    except Exception:  # a notifier must never fail the callback chain
        log.exception("failure notification could not be sent")


def dag_defaults() -> dict[str, Any]:
    """Keyword arguments every DAG of this project passes to `@dag`."""
    return {
        "start_date": START_DATE,
        "catchup": False,
        "max_active_runs": 1,
        "default_args": {"owner": OWNER, "retries": 0},
        "on_failure_callback": notify_failure,
    }
