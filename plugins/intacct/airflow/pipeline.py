"""The tasks every Intacct DAG has in common, and the two flows built from them.

`import_flow` (validate → extract → snapshot → plan → choose → import → report) and `link_flow`
(validate → extract → snapshot → plan → choose links → link → report) wire a whole DAG for any entity
of the registry (`intacct.entities`), so a DAG file only declares its params and documentation.
Every task's `pre_execute` is `tasks.freeze_long_lived_objects` (the garbage collector skips what
Airflow had alive before the task started).
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow.sdk import TriggerRule, task

from intacct.airflow import defaults
from intacct.airflow import tasks as t
from intacct.entities import entity
from intacct.objects import spec_for

# The Intacct objects an extraction task is named after: extract_customers, extract_employees, …
_OBJECT_TASK_NAMES = {
    "CUSTOMER": "customers",
    "DEPARTMENT": "departments",
    "USERINFO": "users",
    "EMPLOYEE": "employees",
}


def validate_task(entity_type: str, declared: Sequence[str], *, ids_param: str | None = None):
    @task(task_id="validate", pre_execute=t.freeze_long_lived_objects)
    def validate(**context):
        run = t.RunContext.from_airflow(context, entity_type)
        return t.validate(
            run, context["dag_run"].conf, context["params"], list(declared), ids_param=ids_param
        )

    return validate()


def snapshot_task(entity_type: str):
    @task(task_id="snapshot_forecast", pre_execute=t.freeze_long_lived_objects)
    def snapshot_forecast(**context):
        return t.snapshot_forecast(t.RunContext.from_airflow(context, entity_type))

    return snapshot_forecast()


def plan_task(entity_type: str, batch, snapshot):
    @task(task_id="plan", pre_execute=t.freeze_long_lived_objects)
    def plan(batch: dict, snapshot: dict, **context):
        return t.build_plan(t.RunContext.from_airflow(context, entity_type), batch, snapshot["snapshot_id"])

    return plan(batch, snapshot)


def report_task(entity_type: str):
    @task(task_id="report", trigger_rule=TriggerRule.ALL_DONE, pre_execute=t.freeze_long_lived_objects)
    def report(**context):
        run = t.RunContext.from_airflow(context, entity_type)
        return t.finish_report(run, upstream_failed=t.upstream_failed(context))

    return report()


def extract_task(
    entity_type: str,
    object_name: str,
    *,
    side_objects: Sequence[tuple[str, str]] = (),
    targeted: bool = False,
):
    """Extract one Intacct object in the `intacct_api` pool, holding as many slots as it sends requests.

    `side_objects` are (Intacct object, the boolean param that needs it): objects only some runs need
    (employees and departments for department assignment), read when their param is set, in the same
    task and together with the object (one sign-in, one round of probes, their pages sharing the slots);
    their batches come back under "side_batches". `targeted` reads only the records a link DAG's `links`
    name (a few calls whatever the company's size), or everything when they name none, so that the plan
    can suggest links.
    """
    for name in (object_name, *(obj for obj, _ in side_objects)):
        spec_for(name)  # an unknown object fails when the DAG file is parsed, not when it runs

    @task(
        task_id=f"extract_{_OBJECT_TASK_NAMES[object_name]}",
        pool=defaults.INTACCT_POOL,
        pool_slots=defaults.INTACCT_SLOTS,
        **defaults.EXTRACT_RETRIES,
        pre_execute=t.freeze_long_lived_objects,
    )
    def extract(**context):
        params = context["params"]
        run = t.RunContext.from_airflow(context, entity_type)
        keys = t.link_extraction_keys(entity_type, params) if targeted else None
        sides = [obj for obj, needed_when in side_objects if params.get(needed_when)]
        return t.extract_intacct(
            run, object_name, side_objects=sides, keys=keys, slots=defaults.INTACCT_SLOTS
        )

    return extract()


def import_flow(entity_type: str, declared: Sequence[str], *, side_objects: Sequence[tuple[str, str]] = ()):
    """Wire an import DAG: `side_objects` are (Intacct object, the boolean param that needs it)."""
    from intacct.airflow.selection import SelectIntacctRecords

    e = entity(entity_type)
    checked = validate_task(entity_type, declared, ids_param=e.ids_param)
    batch = extract_task(entity_type, e.intacct_object, side_objects=side_objects)
    snapshot = snapshot_task(entity_type)
    checked >> [batch, snapshot]
    planned = plan_task(entity_type, batch, snapshot)
    choose = SelectIntacctRecords(
        task_id=f"choose_{e.intacct_records}",
        entity_type=entity_type,
        plan_task_id="plan",
        pre_execute=t.freeze_long_lived_objects,
    )
    planned >> choose

    @task(pre_execute=t.freeze_long_lived_objects)
    def import_selected(plan: dict, selection: dict, batch: dict, **context):
        run = t.RunContext.from_airflow(context, entity_type)
        side_batches = batch.get("side_batches")
        return t.import_chosen(run, plan["plan_id"], selection, context["params"], side_batches)

    imported = import_selected(planned, choose.output, batch)
    imported >> report_task(entity_type)


def link_flow(entity_type: str, declared: Sequence[str]):
    """Wire a link DAG: the pairs named in `links` (and `unlink`), or, when none are named, the plan's
    suggested links that a person picks."""
    from intacct.airflow.selection import SelectLinks

    e = entity(entity_type)
    checked = validate_task(entity_type, declared)
    batch = extract_task(entity_type, e.intacct_object, targeted=True)
    snapshot = snapshot_task(entity_type)
    checked >> [batch, snapshot]
    planned = plan_task(entity_type, batch, snapshot)
    choose = SelectLinks(
        task_id="choose_links",
        entity_type=entity_type,
        plan_task_id="plan",
        pre_execute=t.freeze_long_lived_objects,
    )
    planned >> choose

    @task(pre_execute=t.freeze_long_lived_objects)
    def link(plan: dict, selection: dict, **context):
        run = t.RunContext.from_airflow(context, entity_type)
        return t.link_chosen(run, plan["plan_id"], selection, context["params"])

    link(planned, choose.output) >> report_task(entity_type)


def sync_flow(entity_type: str, declared: Sequence[str]):
    """Wire the department sync: validate → read changes → reconcile → commit the watermark → report."""
    from intacct.airflow import sync

    checked = validate_task(entity_type, declared)

    @task(
        task_id="read_changes",
        pool=defaults.INTACCT_POOL,
        pool_slots=defaults.INTACCT_SLOTS,
        **defaults.EXTRACT_RETRIES,
        pre_execute=t.freeze_long_lived_objects,
    )
    def read_changes(**context):
        run = t.RunContext.from_airflow(context, entity_type)
        return sync.read_department_changes(run, context["params"], slots=defaults.INTACCT_SLOTS)

    @task(pre_execute=t.freeze_long_lived_objects)
    def reconcile(read: dict, **context):
        run = t.RunContext.from_airflow(context, entity_type)
        return sync.reconcile_departments(run, read, context["params"])

    @task(pre_execute=t.freeze_long_lived_objects)
    def commit_watermark(read: dict, **context):
        run = t.RunContext.from_airflow(context, entity_type)
        return sync.commit_watermark(run, read, context["params"])

    read = read_changes()
    checked >> read
    reconciled = reconcile(read)
    committed = commit_watermark(read)
    reconciled >> committed >> report_task(entity_type)
