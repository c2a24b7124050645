"""Import Intacct departments as Forecast departments (wiring only: the work is in `intacct.airflow`)."""

from __future__ import annotations

from airflow.sdk import dag

from intacct.airflow import dag_params, defaults, pipeline

ENTITY = "department"
DOC = """
### Import Intacct departments as Forecast departments

validate → extract departments → snapshot Forecast → plan → choose departments → import selected → report

Trigger with **department_ids** (Intacct DEPARTMENTIDs), or leave it empty and answer the
**choose_departments** step (Browse → Required Actions): a multi-select of the importable departments
(**name_filter** narrows it), or set **select_all**. Each selected department becomes a Forecast department
of the same name, linked to it; departments already imported or linked are skipped, never duplicated, and
those that look like an existing Forecast department are reported as suggested links. Inactive departments
are imported only with **include_inactive** ("active non-posting" ones are active). **dry_run** writes
nothing and reports what would happen.

Import departments before team members when people should be assigned to them; `intacct_department_sync`
then keeps the linked departments in step with Intacct.
"""
PARAMS = dag_params.import_params(ENTITY)


@dag(
    dag_id="intacct_import_departments",
    schedule=None,
    tags=["intacct", "forecast", "departments"],
    doc_md=DOC,
    params=PARAMS,
    **defaults.dag_defaults(),
)
def intacct_import_departments():
    pipeline.import_flow(ENTITY, list(PARAMS))


intacct_import_departments()
