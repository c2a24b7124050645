"""Keep the departments synced from Intacct in step, hourly (wiring only: the work is in `intacct.airflow`)."""

from __future__ import annotations

from airflow.sdk import Param, dag

from intacct.airflow import dag_params, defaults, pipeline

ENTITY = "department"
DOC = """
### Keep synced departments in step with Intacct (hourly)

validate → read changes → reconcile → commit watermark → report

Every hour, reads only the Intacct departments changed since the last successful run (WHENMODIFIED in the
API user's time zone, 15 minutes of look-back) and the deletions AUDITHISTORY reports; once a day, on the
first run, with **full_compare**, or when AUDITHISTORY is not permitted, compares the full list instead.
For **linked** departments only (others are never touched): a rename in Intacct renames the Forecast
department; a new parent is recorded on the link; a department made inactive or deleted follows
**inactive_policy** (`keep`: keep the Forecast department and mark the link; `unlink`; default from the
Airflow Variable `intacct_department_inactive_policy`, else `keep`); reactivation clears the mark. Statuses
the sync does not know (e.g. "active non-posting") and Forecast departments deleted in Forecast (orphan
links) are reported, never acted on or recreated.

**Mass-change guard**: a run that would rename, deactivate or delete more than **guard_share** (20%) and more
than **guard_minimum** (5) of the linked departments writes nothing and fails, listing them and printing
an approval token; run again with **approve_change_set** set to that token to let exactly that change set
through. The watermark moves only when a run succeeds; **dry_run** reports without writing or moving it.
"""
PARAMS = {
    "inactive_policy": Param(
        None,
        type=["null", "string"],
        enum=[None, "keep", "unlink"],
        title="Inactive and deleted departments",
        description="keep (mark the link, keep the Forecast department) or unlink. Empty: the Airflow "
        "Variable intacct_department_inactive_policy, else keep.",
    ),
    "full_compare": Param(False, type="boolean", title="Compare every department this run"),
    "approve_change_set": Param(
        None,
        type=["null", "string"],
        title="Approve a held-back change set",
        description="The token a run held back by the mass-change guard printed.",
    ),
    "guard_share": Param(
        0.2, type="number", minimum=0, maximum=1, title="Guard: share of linked departments"
    ),
    "guard_minimum": Param(5, type="integer", minimum=0, title="Guard: changes always allowed"),
    "dry_run": dag_params.dry_run(),
}


@dag(
    dag_id="intacct_department_sync",
    schedule="@hourly",
    tags=["intacct", "forecast", "departments", "sync"],
    doc_md=DOC,
    params=PARAMS,
    # The hourly schedule is the point of this DAG: it starts unpaused (the others run only when triggered).
    is_paused_upon_creation=False,
    **defaults.dag_defaults(),
)
def intacct_department_sync():
    pipeline.sync_flow(ENTITY, list(PARAMS))


intacct_department_sync()
