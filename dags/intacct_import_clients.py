"""Import Intacct customers as Forecast clients (wiring only: the work is in `intacct.airflow`)."""

from __future__ import annotations

from airflow.sdk import dag

from intacct.airflow import dag_params, defaults, pipeline

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
PARAMS = dag_params.import_params(ENTITY)


@dag(
    dag_id="intacct_import_clients",
    schedule=None,
    tags=["intacct", "forecast", "clients"],
    doc_md=DOC,
    params=PARAMS,
    **defaults.dag_defaults(),
)
def intacct_import_clients():
    pipeline.import_flow(ENTITY, list(PARAMS))


intacct_import_clients()
