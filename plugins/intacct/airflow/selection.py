"""The selection step: when a run names no Intacct ids, a person picks them in the Airflow UI.

A human-in-the-loop multi-select whose options are computed at run time from the plan: the importable
records (and the inactive ones when the run asked for them), narrowed by `name_filter`. Options are
Intacct ids; the names are in the request's body, so the answer (which lands in XCom) carries ids only.
When the run's params already name the ids, or ask for `select_all`, nobody is asked and the step passes
the ids on, so scheduled and scripted runs never wait.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator

from intacct import choices, report
from intacct.airflow import tasks

# A multi-select of more records than this is no help to anyone: name them in the params instead.
MAX_OPTIONS = 500
_PLACEHOLDER = "(computed when the task runs)"


class SelectIntacctRecords(HITLOperator):
    """Ask which Intacct records to import, unless the run's `ids_param` already names them."""

    def __init__(self, *, entity_type: str, ids_param: str, plan_task_id: str, **kwargs: Any) -> None:
        self.records_label = {"client": "customers", "department": "departments", "person": "users"}[
            entity_type
        ]
        super().__init__(
            subject=f"Choose the Intacct {self.records_label} to import",
            options=[_PLACEHOLDER],
            multiple=True,
            **kwargs,
        )
        self.entity_type = entity_type
        self.ids_param = ids_param
        self.plan_task_id = plan_task_id

    def _choices(self, context) -> list[choices.Candidate]:
        """The records that may be imported (narrowed by `name_filter`), in id order."""
        plan = context["ti"].xcom_pull(task_ids=self.plan_task_id)
        params = context["params"]
        return choices.candidates(
            tasks.state_engine(),
            plan["plan_id"],
            include_inactive=bool(params.get("include_inactive")),
            name_filter=params.get("name_filter"),
        )

    def _note(self, context, lines: list[str]) -> None:
        run = tasks.RunContext.from_airflow(context, self.entity_type)
        # A section, not notes: a task that runs again replaces it instead of adding a copy.
        report.update_report(
            tasks.state_engine(), run.dag_id, run.run_id, run.entity_type, details={"Selection": lines}
        )

    def _select_all(self, context) -> dict[str, Any]:
        plan = context["ti"].xcom_pull(task_ids=self.plan_task_id)
        params = context["params"]
        chosen = choices.select_all(
            tasks.state_engine(),
            plan["plan_id"],
            include_inactive=bool(params.get("include_inactive")),
            name_filter=params.get("name_filter"),
        )
        narrowed = f" whose name contains {params['name_filter']!r}" if params.get("name_filter") else ""
        lines = [f"select_all chose {len(chosen.keys):,} importable {self.records_label}{narrowed}"]
        if chosen.left_out:
            lines.append(
                f"select_all left out {len(chosen.left_out):,} {self.records_label} that match an existing Forecast "
                f"record (suggested links): link them, or name them in {self.ids_param} to import them anyway"
            )
        self.log.info("; ".join(lines))
        self._note(context, lines)
        return {"chosen_options": chosen.keys, "params_input": {}, "responded_by_user": None}

    def execute(self, context):
        named = list(context["params"].get(self.ids_param) or [])
        if named:
            self.log.info("the run names %d record(s) in %s; nobody is asked", len(named), self.ids_param)
            return {"chosen_options": named, "params_input": {}, "responded_by_user": None}
        if context["params"].get("select_all"):
            return self._select_all(context)
        offered = self._choices(context)
        if not offered:
            self.log.info("nothing in the plan can be imported; nobody is asked")
            return {"chosen_options": [], "params_input": {}, "responded_by_user": None}
        shown = offered[:MAX_OPTIONS]
        if len(offered) > MAX_OPTIONS:
            self._note(
                context,
                [
                    f"the selection step shows the first {MAX_OPTIONS} of {len(offered):,} importable "
                    f"{self.records_label}; {len(offered) - MAX_OPTIONS:,} were left out: narrow the list with "
                    f"name_filter, name them in {self.ids_param}, or set select_all"
                ],
            )
        self.options = [c.key for c in shown]
        self.body = "\n".join(
            [
                f"Pick the Intacct {self.records_label} to import ({len(shown)} shown"
                + (
                    f" of {len(offered):,}; narrow with `name_filter`, or name others in `{self.ids_param}`"
                    if len(offered) > MAX_OPTIONS
                    else ""
                )
                + "):",
                "",
                "| id | name | note |",
                "|---|---|---|",
                *(
                    f"| {c.key} | {c.name.replace('|', '/')} | "
                    f"{'matches a Forecast record (a suggested link)' if c.matches_forecast else ''} |"
                    for c in shown
                ),
            ]
        )
        return super().execute(context)

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        # The operator is rebuilt from the DAG file when the answer arrives: recompute the real options.
        self.options = [c.key for c in self._choices(context)[:MAX_OPTIONS]] or [_PLACEHOLDER]
        return super().execute_complete(context, event)
