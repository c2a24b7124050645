"""Import Intacct customers as Forecast clients (wiring only: the work is in `intacct.airflow`)."""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from intacct.airflow import defaults
from intacct.airflow import pipeline as p
from intacct.airflow import tasks as t
from intacct.airflow.selection import SelectIntacctRecords
from intacct.apply import ImportRequest

ENTITY = "client"
DOC = """
### Import Intacct customers as Forecast clients

validate → extract customers → snapshot Forecast → plan → choose customers → import selected → report

Trigger with **customer_ids** (Intacct CUSTOMERIDs), or leave it empty and answer the **choose_customers**
step (Browse → Required Actions): a multi-select of the importable customers of this run's plan (the first
500; **name_filter** narrows it). **select_all** imports every importable customer without a list, leaving
out those that match an existing Forecast client (they are reported: link them instead). Each selected
customer that is not yet in Forecast becomes a client (name, street, zip, city, country as ISO code, VAT
number) and is linked to it; customers already imported or linked are skipped and reported, never
duplicated, and existing Forecast clients are never overwritten. Inactive customers are imported only with
**include_inactive**. **dry_run** writes nothing and reports what would happen.

The report (task `report`) lists counts per plan action, what was imported or skipped and why, suggested
links to existing clients, Intacct API calls spent this run and this month, and readiness.
Clients are the first step of the integration: link or import them before departments and team members.
"""

PARAMS = {
    # Strings (one per line in the form); the validate task names every empty or repeated one.
    "customer_ids": Param(
        [],
        type="array",
        items={"type": "string"},
        title="Intacct customer IDs",
        description="CUSTOMERIDs to import, one per line. Empty: choose from a list during the run.",
    ),
    "select_all": Param(
        False,
        type="boolean",
        title="Import every importable customer",
        description="Instead of customer_ids or the list: all importable customers of the plan (narrowed by "
        "name_filter and include_inactive). Customers that match an existing Forecast client are left out "
        "and reported: link them, or name them in customer_ids.",
    ),
    "name_filter": Param(
        None,
        type=["null", "string"],
        title="Name filter",
        description="Only customers whose name contains this text (ignoring case), in the list to choose "
        "from or with select_all.",
    ),
    "include_inactive": Param(False, type="boolean", title="Include inactive customers"),
    "dry_run": Param(
        False, type="boolean", title="Dry run", description="Write nothing; report what would happen."
    ),
}


@dag(
    dag_id="intacct_import_clients",
    schedule=None,
    tags=["intacct", "forecast", "clients"],
    doc_md=DOC,
    params=PARAMS,
    **defaults.dag_defaults(),
)
def intacct_import_clients():
    @task(pool=defaults.INTACCT_POOL, pool_slots=defaults.INTACCT_SLOTS, **defaults.EXTRACT_RETRIES)
    def extract_customers(**context):
        run = t.RunContext.from_airflow(context, ENTITY)
        return t.extract_intacct(run, "CUSTOMER", slots=defaults.INTACCT_SLOTS)

    @task
    def import_selected(plan: dict, selection: dict, **context):
        params = context["params"]
        request = ImportRequest(
            ENTITY,
            tuple(selection["chosen_options"]),
            include_inactive=params["include_inactive"],
            dry_run=params["dry_run"],
        )
        run = t.RunContext.from_airflow(context, ENTITY)
        chosen_by_person = not params["customer_ids"]
        return t.import_selected(run, plan["plan_id"], request, chosen_by_person=chosen_by_person)

    checked = p.validate_task(ENTITY, list(PARAMS), ids_param="customer_ids")
    batch = extract_customers()
    snapshot = p.snapshot_task(ENTITY)
    checked >> [batch, snapshot]
    planned = p.plan_task(ENTITY, batch, snapshot)
    choose = SelectIntacctRecords(
        task_id="choose_customers", entity_type=ENTITY, ids_param="customer_ids", plan_task_id="plan"
    )
    planned >> choose
    import_selected(planned, choose.output) >> p.report_task(ENTITY)


intacct_import_clients()
