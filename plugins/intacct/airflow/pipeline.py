"""The tasks every Intacct DAG has in common, as TaskFlow tasks ready to wire.

A DAG file calls these with its entity type and adds its own extract and apply tasks in between, so the
validate → … → snapshot → plan → … → report skeleton is written once.
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow.sdk import TriggerRule, task

from intacct.airflow import tasks as t


def validate_task(entity_type: str, declared: Sequence[str], *, ids_param: str | None = None):
    @task(task_id="validate")
    def validate(**context):
        run = t.RunContext.from_airflow(context, entity_type)
        return t.validate(
            run, context["dag_run"].conf, context["params"], list(declared), ids_param=ids_param
        )

    return validate()


def snapshot_task(entity_type: str):
    @task(task_id="snapshot_forecast")
    def snapshot_forecast(**context):
        return t.snapshot_forecast(t.RunContext.from_airflow(context, entity_type))

    return snapshot_forecast()


def plan_task(entity_type: str, batch, snapshot):
    @task(task_id="plan")
    def plan(batch: dict, snapshot: dict, **context):
        return t.build_plan(t.RunContext.from_airflow(context, entity_type), batch, snapshot["snapshot_id"])

    return plan(batch, snapshot)


def report_task(entity_type: str):
    @task(task_id="report", trigger_rule=TriggerRule.ALL_DONE)
    def report(**context):
        run = t.RunContext.from_airflow(context, entity_type)
        return t.finish_report(run, upstream_failed=t.upstream_failed(context))

    return report()
