"""The selection step: when a run names no Intacct ids, a person picks them in the Airflow UI.

A human-in-the-loop multi-select whose options are computed at run time from the plan: the importable
records (and the inactive ones when the run asked for them). Options are Intacct ids; the names are in
the request's body, so the answer (which lands in XCom) carries ids only. When the run's params already
name the ids, nobody is asked and the step passes them on, so scheduled and scripted runs never wait.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator

from intacct import apply, staging
from intacct import plan as plans
from intacct.airflow import tasks
from intacct.objects import OBJECTS

# A multi-select of more records than this is no help to anyone: name them in the params instead.
MAX_OPTIONS = 500
_PLACEHOLDER = "(computed when the task runs)"


class SelectIntacctRecords(HITLOperator):
    """Ask which Intacct records to import, unless the run's `ids_param` already names them."""

    def __init__(self, *, entity_type: str, ids_param: str, plan_task_id: str, **kwargs: Any) -> None:
        label = {"client": "customers", "department": "departments", "person": "users"}[entity_type]
        super().__init__(
            subject=f"Choose the Intacct {label} to import",
            options=[_PLACEHOLDER],
            multiple=True,
            **kwargs,
        )
        self.entity_type = entity_type
        self.ids_param = ids_param
        self.plan_task_id = plan_task_id

    def _choices(self, context) -> list[tuple[str, str]]:
        """(Intacct id, readable name) of each record that may be imported, in id order."""
        plan = context["ti"].xcom_pull(task_ids=self.plan_task_id)
        engine = tasks.state_engine()
        include_inactive = bool(context["params"].get("include_inactive"))
        rows = apply.importable_rows(engine, plan["plan_id"], include_inactive=include_inactive)[:MAX_OPTIONS]
        spec = OBJECTS[plans.entity(self.entity_type).intacct_object]
        batch_id = plans.plan_header(engine, plan["plan_id"])["intacct_batch_id"]
        staged = staging.rows_by_key(engine, spec, batch_id, [r.intacct_key for r in rows])
        names = {key: str(row.get("fc_name") or row.get("fc_email") or "") for key, row in staged.items()}
        return [(r.intacct_key, names.get(r.intacct_key, "")) for r in rows]

    def execute(self, context):
        named = list(context["params"].get(self.ids_param) or [])
        if named:
            self.log.info("the run names %d record(s) in %s; nobody is asked", len(named), self.ids_param)
            return {"chosen_options": named, "params_input": {}, "responded_by_user": None}
        choices = self._choices(context)
        if not choices:
            self.log.info("nothing in the plan can be imported; nobody is asked")
            return {"chosen_options": [], "params_input": {}, "responded_by_user": None}
        self.options = [key for key, _ in choices]
        self.body = "\n".join(
            [
                f"Pick the Intacct records to import ({len(choices)} shown"
                + (
                    f", the first {MAX_OPTIONS}; name others in `{self.ids_param}`"
                    if len(choices) == MAX_OPTIONS
                    else ""
                )
                + "):",
                "",
                "| id | name |",
                "|---|---|",
                *(f"| {key} | {name.replace('|', '/')} |" for key, name in choices),
            ]
        )
        return super().execute(context)

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        # The operator is rebuilt from the DAG file when the answer arrives: recompute the real options.
        self.options = [key for key, _ in self._choices(context)] or [_PLACEHOLDER]
        return super().execute_complete(context, event)
