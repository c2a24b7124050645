"""The selection steps: when a run names nothing, a person picks in the Airflow UI (Required Actions).

Human-in-the-loop multi-selects whose options are computed at run time from the plan:
- `SelectIntacctRecords` (import DAGs): the importable records (and the inactive ones when the run asked
  for them), narrowed by `name_filter`. Options are Intacct ids; names (and users' emails) are in the
  request's body, so the answer, which lands in XCom, carries ids only.
- `SelectLinks` (link DAGs): the plan's suggested links; options are "id → Forecast record id (confidence:
  reason)", names in the body.
When the run's params already say what to do (ids, `select_all`, `links` or `unlink`), nobody is asked and
the step passes on what they say, so scheduled and scripted runs never wait.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.standard.operators.hitl import HITLOperator

from intacct import apply, choices, report
from intacct.airflow import tasks
from intacct.entities import entity
from intacct.refusal import SHOWN

# A multi-select of more records than this is no help to anyone: narrow it, or name them in the params.
MAX_OPTIONS = 500
_PLACEHOLDER = "(computed when the task runs)"


def _cell(text: str) -> str:
    return text.replace("|", "/")


def _answer(chosen: Sequence[str]) -> dict[str, Any]:
    """What the step passes on when nobody is asked: the shape of a person's answer."""
    return {"chosen_options": list(chosen), "params_input": {}, "responded_by_user": None}


class _PlanSelection(HITLOperator):
    """A multi-select over the records of this run's plan."""

    def __init__(self, *, entity_type: str, plan_task_id: str, subject: str, **kwargs: Any) -> None:
        super().__init__(subject=subject, options=[_PLACEHOLDER], multiple=True, **kwargs)
        self.entity_type = entity_type
        self.plan_task_id = plan_task_id

    def _plan_id(self, context) -> int:
        return context["ti"].xcom_pull(task_ids=self.plan_task_id)["plan_id"]

    def _note(self, context, lines: list[str]) -> None:
        run = tasks.RunContext.from_airflow(context, self.entity_type)
        # A section, not notes: a task that runs again replaces it instead of adding a copy.
        report.update_report(
            tasks.state_engine(), run.dag_id, run.run_id, run.entity_type, details={"Selection": lines}
        )

    def _offer(self, context, offered: Sequence[Any], what: str, how_else: str) -> Sequence[Any]:
        """The first MAX_OPTIONS of `offered`; the report says how many were left out and how to narrow."""
        if len(offered) > MAX_OPTIONS:
            self._note(
                context,
                [
                    f"the selection step shows the first {MAX_OPTIONS} of {len(offered):,} {what}; "
                    f"{len(offered) - MAX_OPTIONS:,} were left out: narrow the list with name_filter, "
                    f"or {how_else}"
                ],
            )
        return offered[:MAX_OPTIONS]


class SelectIntacctRecords(_PlanSelection):
    """Ask which Intacct records to import, unless the run's ids param or `select_all` already says."""

    def __init__(self, *, entity_type: str, plan_task_id: str, **kwargs: Any) -> None:
        e = entity(entity_type)
        super().__init__(
            entity_type=entity_type,
            plan_task_id=plan_task_id,
            subject=f"Choose the Intacct {e.intacct_records} to import",
            **kwargs,
        )
        self.records_label = e.intacct_records
        self.ids_param = e.ids_param

    def _by_name(self) -> bool:
        """Whether this deployment's Forecast target links these records by name instead of creating them."""
        return apply.links_by_name(tasks.forecast_capabilities(), self.entity_type)

    def _choices(self, context) -> list[choices.Candidate]:
        """The records that may be imported (narrowed by `name_filter`), in id order."""
        params = context["params"]
        return choices.candidates(
            tasks.state_engine(),
            self._plan_id(context),
            include_inactive=bool(params.get("include_inactive")),
            name_filter=params.get("name_filter"),
            by_name=self._by_name(),
        )

    def _note(self, context, lines: list[str]) -> None:
        """The section "Selection", plus, for a target that links by name, the records it cannot import."""
        if self._by_name():
            params = context["params"]
            missing = choices.without_match(
                tasks.state_engine(),
                self._plan_id(context),
                include_inactive=bool(params.get("include_inactive")),
                name_filter=params.get("name_filter"),
            )
            e = entity(self.entity_type)
            lines = [
                *lines,
                f"{tasks.forecast_target_kind().upper()} target: Forecast's public API cannot create "
                f"{e.forecast_records}, so only {e.intacct_records} with a Forecast {e.forecast_record} of "
                f"the same name are offered, to be linked to it",
                *(
                    [
                        f"create these {len(missing):,} in Forecast first (Admin > Departments), then run "
                        "again: "
                        + ", ".join(report.describe(c.key, c.name) for c in missing[:SHOWN])
                        + (f" and {len(missing) - SHOWN:,} more" if len(missing) > SHOWN else "")
                    ]
                    if missing
                    else []
                ),
            ]
        super()._note(context, lines)

    def _select_all(self, context) -> dict[str, Any]:
        params = context["params"]
        chosen = choices.select_all(
            tasks.state_engine(),
            self._plan_id(context),
            include_inactive=bool(params.get("include_inactive")),
            name_filter=params.get("name_filter"),
            by_name=self._by_name(),
        )
        narrowed = f" whose name contains {params['name_filter']!r}" if params.get("name_filter") else ""
        lines = [f"select_all chose {len(chosen.keys):,} importable {self.records_label}{narrowed}"]
        if chosen.left_out:
            lines.append(
                f"select_all left out {len(chosen.left_out):,} {self.records_label} that match an existing "
                f"Forecast record (suggested links): link them, or name them in {self.ids_param} to import "
                "them anyway"
            )
        self.log.info("; ".join(lines))
        self._note(context, lines)
        return _answer(chosen.keys)

    def execute(self, context):
        named = list(context["params"].get(self.ids_param) or [])
        if named:
            self.log.info("the run names %d record(s) in %s; nobody is asked", len(named), self.ids_param)
            return _answer(named)
        if context["params"].get("select_all"):
            return self._select_all(context)
        if self._by_name():
            self._note(context, [])
        offered = self._choices(context)
        if not offered:
            self.log.info("nothing in the plan can be imported; nobody is asked")
            return _answer([])
        shown = self._offer(
            context,
            offered,
            f"importable {self.records_label}",
            f"name them in {self.ids_param}, or set select_all",
        )
        people = self.entity_type == "person"
        self.options = [c.key for c in shown]
        self.body = "\n".join(
            [
                f"Pick the Intacct {self.records_label} to import ({len(shown)} of {len(offered):,} shown):",
                "",
                "| id | name |" + (" email |" if people else "") + " note |",
                "|---|---|" + ("---|" if people else "") + "---|",
                *(
                    f"| {c.key} | {_cell(c.name)} |"
                    + (f" {_cell(c.email)} |" if people else "")
                    + f" {'looks like an existing Forecast record (a suggested link)' if c.matches_forecast else ''} |"
                    for c in shown
                ),
            ]
        )
        return super().execute(context)

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        # The operator is rebuilt from the DAG file when the answer arrives: recompute the real options.
        self.options = [c.key for c in self._choices(context)[:MAX_OPTIONS]] or [_PLACEHOLDER]
        return super().execute_complete(context, event)


class SelectLinks(_PlanSelection):
    """Ask which of the plan's suggested links to make, unless the run's `links` or `unlink` say."""

    def __init__(self, *, entity_type: str, plan_task_id: str, **kwargs: Any) -> None:
        e = entity(entity_type)
        super().__init__(
            entity_type=entity_type,
            plan_task_id=plan_task_id,
            subject=f"Choose the Forecast {e.forecast_records} to link to Intacct {e.intacct_records}",
            **kwargs,
        )

    def _suggestions(self, context) -> list[tuple[str, Any]]:
        return choices.suggested_links(
            tasks.state_engine(), self._plan_id(context), name_filter=context["params"].get("name_filter")
        )

    def execute(self, context):
        params = context["params"]
        if params.get("links") or params.get("unlink"):
            self.log.info("the run names its links; nobody is asked")
            return _answer([])
        offered = self._suggestions(context)
        if not offered:
            self.log.info("the plan suggests no link; nobody is asked")
            return _answer([])
        shown = self._offer(context, offered, "suggested links", "name the pairs in links")
        plan_id = self._plan_id(context)
        pairs = [pair for _, pair in shown]
        intacct = report.intacct_names(tasks.state_engine(), plan_id, [p.intacct_key for p in pairs])
        forecast = report.forecast_names(tasks.state_engine(), plan_id, [p.forecast_id for p in pairs])
        self.options = [label for label, _ in shown]
        self.body = "\n".join(
            [
                f"Pick the links to make ({len(shown)} of {len(offered):,} suggestions shown):",
                "",
                "| suggestion | Intacct | Forecast |",
                "|---|---|---|",
                *(
                    f"| {_cell(label)} | {_cell(intacct.get(pair.intacct_key) or '')} | "
                    f"{_cell(forecast.get(pair.forecast_id) or '')} |"
                    for label, pair in shown
                ),
            ]
        )
        return super().execute(context)

    def execute_complete(self, context, event: dict[str, Any]) -> Any:
        self.options = [label for label, _ in self._suggestions(context)[:MAX_OPTIONS]] or [_PLACEHOLDER]
        return super().execute_complete(context, event)
