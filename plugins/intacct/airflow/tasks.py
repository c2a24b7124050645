"""The task functions every DAG shares: validate, extract, snapshot, plan, apply, report.

DAG files wrap these in `@task` and wire them; all the work is here or below. Each function opens what it
needs from Airflow connections, returns only counts and ids of stored data (XCom never carries personal
data), and writes what it learned into the run's report, so the report task can tell the whole story
even when an earlier task refused the request or failed.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta, tzinfo
from functools import cache
from typing import Any

from airflow.sdk.exceptions import AirflowFailException
from sqlalchemy import Engine

from intacct import (
    apply,
    choices,
    extract,
    intents,
    linking,
    links,
    report,
    snapshot,
    staging,
    team_members,
    usage,
)
from intacct import plan as plans
from intacct.airflow import connections, run_params
from intacct.airflow.forecast_hook import ForecastConnectionError, ForecastHook
from intacct.airflow.hooks import IntacctConnectionError, IntacctHook
from intacct.airflow.run_params import RequestRefused
from intacct.forecast.http import ForecastApi, ForecastApiError
from intacct.forecast.rest import RestForecastTarget
from intacct.forecast.sql import SqlForecastTarget, ensure_forecast_schema
from intacct.forecast.target import ForecastTarget, UnsupportedOperation
from intacct.gateway.counter import CallCounter
from intacct.gateway.errors import IntacctError
from intacct.links import LinkRequestRefused
from intacct.objects import spec_for
from intacct.refusal import SHOWN, ImportRefused
from intacct.state import db, migrations

log = logging.getLogger(__name__)

INTACCT_CONN_ID = IntacctHook.default_conn_name
# Complete batches of each object and kind (and Forecast snapshots) kept; older ones are pruned after
# each run. The Airflow Variable `intacct_batch_retention` overrides it.
BATCH_RETENTION = 5
RETENTION_VARIABLE = "intacct_batch_retention"
# Batches and snapshots of plans this recent are never pruned: a run may still be waiting to apply them.
PLAN_PROTECTION = timedelta(days=2)


FORECAST_TARGET_VARIABLE = "FORECAST_TARGET"
FORECAST_TARGETS = ("sql", "rest")
# The REST clients the current task opened (one task at a time per process, `dag.test()` included).
_open_forecast_apis: list[ForecastApi] = []


class WorkerSettingError(ValueError):
    """A setting in the Airflow worker's environment is not valid; the message says which and why."""


# Requests the user can get wrong: they end the run as "refused" with a message naming the values.
REFUSALS = (
    ImportRefused,
    LinkRequestRefused,
    IntacctConnectionError,
    ForecastConnectionError,
    UnsupportedOperation,
    RequestRefused,
    WorkerSettingError,
)


@dataclass(frozen=True)
class RunContext:
    """Who is running what: enough for the report, the audit log and the usage counter."""

    dag_id: str
    run_id: str
    entity_type: str
    actor: str | None = None

    @property
    def usage_key(self) -> str:
        # Run ids repeat across DAGs (scheduled__<date>): API usage is counted per DAG run.
        return f"{self.dag_id}/{self.run_id}"

    @classmethod
    def from_airflow(cls, context: Mapping[str, Any], entity_type: str) -> RunContext:
        dag_run = context["dag_run"]
        actor = getattr(dag_run, "triggering_user_name", None) or (
            "scheduler" if getattr(dag_run, "run_type", "") == "scheduled" else None
        )
        return cls(context["dag"].dag_id, dag_run.run_id, entity_type, actor)


def batch_retention() -> int:
    from airflow.sdk import Variable

    raw = Variable.get(RETENTION_VARIABLE, default=None)
    try:
        keep = int(raw) if raw is not None else BATCH_RETENTION
    except ValueError:
        raise ValueError(
            f"Airflow Variable {RETENTION_VARIABLE} must be a whole number, got {raw!r}"
        ) from None
    if keep < 1:
        raise ValueError(f"Airflow Variable {RETENTION_VARIABLE} must be at least 1, got {keep}")
    return keep


@cache
def state_engine() -> Engine:
    """The state database, migrated to the newest schema (once per worker process)."""
    engine = db.open_engine(connections.state_db_url())
    migrations.upgrade(engine)
    return engine


def forecast_target_kind() -> str:
    """Which Forecast adapter this deployment uses: the worker setting `FORECAST_TARGET` (`sql` or
    `rest`) when set; otherwise `rest` when the connection `forecast_default` exists, else `sql`."""
    raw = os.environ.get(FORECAST_TARGET_VARIABLE, "").strip().lower()
    if raw:
        if raw not in FORECAST_TARGETS:
            raise WorkerSettingError(
                f"{FORECAST_TARGET_VARIABLE}={raw!r} is not a Forecast target: use {' or '.join(FORECAST_TARGETS)}"
            )
        return raw
    return "rest" if ForecastHook.is_defined() else "sql"


def forecast_capabilities() -> frozenset[str]:
    """What this deployment's Forecast target can do, without opening it."""
    return (RestForecastTarget if forecast_target_kind() == "rest" else SqlForecastTarget).capabilities


def forecast_target() -> ForecastTarget:
    """Forecast through the adapter `forecast_target_kind` names. The REST adapter's calls are counted
    into the run's usage when the task's `reporting` block ends; the SQL adapter's embedded default
    database gets its schema on first use."""
    if forecast_target_kind() == "rest":
        target = ForecastHook().get_target()
        _open_forecast_apis.append(target.api)
        return target
    return SqlForecastTarget(_forecast_engine(connections.forecast_db_url()))


def _record_forecast_calls(engine: Engine, run: RunContext) -> None:
    while _open_forecast_apis:
        api = _open_forecast_apis.pop()
        usage.record_forecast_calls(engine, run.usage_key, api.calls.drain())
        api.close()


@cache
def _forecast_engine(url: str) -> Engine:
    engine = db.open_engine(url)
    if url == db.default_forecast_url():
        ensure_forecast_schema(engine)
    return engine


@contextmanager
def reporting(run: RunContext) -> Iterator[Engine]:
    """Record a refusal or failure in the run's report before the task fails with one clear sentence;
    whatever happened, count the Forecast API calls the task made."""
    engine = state_engine()
    try:
        yield engine
    except REFUSALS as exc:
        problems = getattr(exc, "problems", ())
        report_id = report.update_report(
            engine,
            run.dag_id,
            run.run_id,
            run.entity_type,
            status="refused",
            notes=[str(exc)],
            # The message names the first few; a long refusal keeps every value in the report (and its CSV).
            details={"Refused": list(problems)} if len(problems) > SHOWN else {},
        )
        raise AirflowFailException(f"{exc} (report {report_id})") from None
    except (IntacctError, ForecastApiError) as exc:
        if exc.retryable:
            # The task's own retries may still get through: note it, and let the report task judge the
            # run from the final task states.
            report.update_report(
                engine, run.dag_id, run.run_id, run.entity_type, notes=[f"(will retry) {exc}"]
            )
            raise
        report.update_report(
            engine, run.dag_id, run.run_id, run.entity_type, status="failed", notes=[str(exc)]
        )
        raise AirflowFailException(str(exc)) from None
    except AirflowFailException:
        raise
    except Exception as exc:
        note = f"{type(exc).__name__}: {exc}"
        report.update_report(engine, run.dag_id, run.run_id, run.entity_type, notes=[note])
        raise
    finally:
        _record_forecast_calls(engine, run)


# -- validate ----------------------------------------------------------------------------------------


def validate(
    run: RunContext,
    conf: Mapping[str, Any] | None,
    params: Mapping[str, Any],
    declared: Sequence[str],
    *,
    ids_param: str | None = None,
) -> dict[str, int]:
    """First task of every DAG: refuse what can be refused before anything is read or written."""
    with reporting(run) as engine:
        selected = run_params.check_request(run.entity_type, conf, params, declared, ids_param=ids_param)
        if "permission_level" in params:
            team_members.check_team_member_options(
                engine,
                forecast_target(),
                profile=params.get("permission_level"),
                assign_departments=bool(params.get("assign_departments")),
            )
        report.update_report(
            engine, run.dag_id, run.run_id, run.entity_type, dry_run=bool(params.get("dry_run"))
        )
        return {"selected": selected}


# -- extract -------------------------------------------------------------------------------------------


WRITER_PROCESSES_VARIABLE = "INTACCT_WRITER_PROCESSES"


def writer_processes() -> int:
    """How many processes store the pages of a big extraction (environment `INTACCT_WRITER_PROCESSES`,
    default `ExtractOptions.writers`; 0 keeps all of it in the task's process)."""
    raw = os.environ.get(WRITER_PROCESSES_VARIABLE)
    if raw is None:
        return extract.ExtractOptions.writers
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= 16:
        raise WorkerSettingError(
            f"{WRITER_PROCESSES_VARIABLE}={raw!r} is not a number of writer processes: set it to 0 (store "
            "pages in the task's process) up to 16, or unset it for the default of "
            f"{extract.ExtractOptions.writers}"
        )
    return value


@contextmanager
def intacct_client(
    run: RunContext,
    engine: Engine,
    *,
    slots: int | None,
    what: str,
    time_zone: tzinfo | None = None,
) -> Iterator[tuple[Any, extract.ExtractOptions]]:
    """A client of the `intacct_default` connection and the extraction options its settings give; on the
    way out, the calls it spent (billed even when the work failed) and its retries go into the report."""
    counter = CallCounter()
    writers = writer_processes()
    hook = IntacctHook(INTACCT_CONN_ID)
    settings = hook.settings()
    client = hook.get_client(counter, time_zone=time_zone)
    options = extract.ExtractOptions(slots=slots, show_private=settings.show_private, writers=writers)
    try:
        yield client, options
    except BaseException:
        client.close()
        # Recording what the failed work spent must not hide its error.
        with contextlib.suppress(Exception):
            usage.record_calls(engine, run.usage_key, counter.drain())
            _record_retries(engine, run, what, client.retry_summary())
        raise
    client.close()
    usage.record_calls(engine, run.usage_key, counter.drain())
    _record_retries(engine, run, what, client.retry_summary())


def extract_intacct(
    run: RunContext,
    object_name: str,
    *,
    side_objects: Sequence[str] = (),
    keys: Sequence[str] | None = None,
    slots: int | None = None,
    incremental: bool = False,
) -> dict[str, Any]:
    """Extract one Intacct object into a staging batch: targeted when `keys` is given (an empty list
    makes an empty targeted batch without calling Intacct), incremental when asked and possible, else full.

    `side_objects` are read in full together with a full read of `object_name` (one client and session,
    their probes in one request, their pages side by side in the slots), each into a batch of its own;
    their batches come back under "side_batches", by object name.
    """
    spec = spec_for(object_name)
    sides = [spec_for(name) for name in side_objects]
    if sides and (keys is not None or incremental):
        raise ValueError(
            "side objects are read with a full extraction only, not a targeted or incremental one"
        )
    with reporting(run) as engine:
        if keys is not None and not keys:
            batch_id = staging.begin_batch(engine, spec, "targeted", run.run_id)
            staging.complete_batch(engine, spec, batch_id, api_calls=0, watermark=None)
            results = [extract.ExtractResult(batch_id, spec.name, "targeted", 0, 0, None)]
        else:
            what = ", ".join(s.name for s in [spec, *sides])
            with intacct_client(run, engine, slots=slots, what=what) as (client, options):
                since = extract.next_since(engine, spec) if incremental else None
                if keys is not None:
                    results = [
                        extract.extract_targeted(
                            client, engine, spec, list(keys), run_id=run.run_id, options=options
                        )
                    ]
                elif since is not None:
                    results = [
                        extract.extract_incremental(
                            client, engine, spec, since=since, run_id=run.run_id, options=options
                        )
                    ]
                else:
                    results = extract.extract_full_many(
                        client, engine, [spec, *sides], run_id=run.run_id, options=options
                    )
        recent_batches, _ = plans.recent_plan_inputs(engine, PLAN_PROTECTION)
        keep = batch_retention()
        for result in results:
            staging.prune_batches(engine, result.object, keep=keep, protected=recent_batches)
            log.info(
                "%s: %s batch %s with %d records", result.object, result.kind, result.batch_id, result.rows
            )
        main, *side_results = results
        extracted = _batch_summary(main)
        if sides:
            extracted["side_batches"] = {r.object: _batch_summary(r) for r in side_results}
        return extracted


def freeze_long_lived_objects(context: Mapping[str, Any] | None = None) -> None:
    """Every task's `pre_execute` (`intacct.airflow.pipeline`): move the objects alive when the task starts
    to the cyclic garbage collector's permanent generation (`gc.freeze()`), so its collections no longer
    go over them; cycles the task itself makes are still collected. Airflow's supervisor forks a process
    per task (`dag.test()` runs them all in its own), so what is frozen is that process's: garbage already
    waiting in it stays until the process ends."""
    # A task's process holds ~250 MB of Airflow's objects; each full pass over them took 0.2-0.8 s.
    gc.freeze()


def _batch_summary(result: extract.ExtractResult) -> dict[str, Any]:
    """What XCom carries of a batch: its id, kind and counts."""
    return {
        "batch_id": result.batch_id,
        "kind": result.kind,
        "rows": result.rows,
        "api_calls": result.api_calls,
    }


def _record_retries(engine: Engine, run: RunContext, object_name: str, summary: str) -> None:
    """State in the report what the task's retry budget was and how much of it went (per extraction)."""
    report.update_report(
        engine,
        run.dag_id,
        run.run_id,
        run.entity_type,
        details={f"Intacct {object_name} extraction": [summary]},
    )


# -- snapshot and plan ---------------------------------------------------------------------------------


def snapshot_forecast(run: RunContext) -> dict[str, Any]:
    """Settle imports an earlier run left open, then copy Forecast: the plan must not mistake a record
    that run created for an unrelated one (it would read as a conflict with its own Intacct record)."""
    with reporting(run) as engine:
        target = forecast_target()
        settled = intents.recover_interrupted(
            engine, target, run.entity_type, run_id=run.run_id, actor=run.actor
        )
        if settled.linked or settled.dropped:
            report.update_report(
                engine,
                run.dag_id,
                run.run_id,
                run.entity_type,
                details={
                    "Linked before planning (an interrupted run had created them)": [
                        f"{key} → {report.describe_forecast(run.entity_type, forecast_id, None)}"
                        for key, forecast_id in settled.linked
                    ],
                    "Left open by an interrupted run before reaching Forecast (select them again)": (
                        settled.dropped
                    ),
                },
            )
        result = snapshot.take_snapshot(target, engine, run_id=run.run_id)
        _, recent_snapshots = plans.recent_plan_inputs(engine, PLAN_PROTECTION)
        snapshot.prune_snapshots(engine, keep=batch_retention(), protected=recent_snapshots)
        return {
            "snapshot_id": result.id,
            "clients": result.client_count,
            "departments": result.department_count,
            "people": result.person_count,
        }


def build_plan(run: RunContext, batch: Mapping[str, Any], snapshot_id: int) -> dict[str, Any]:
    with reporting(run) as engine:
        result = plans.build_plan(
            engine, run.entity_type, batch_id=batch["batch_id"], snapshot_id=snapshot_id, run_id=run.run_id
        )
        report.update_report(
            engine,
            run.dag_id,
            run.run_id,
            run.entity_type,
            plan_id=result.plan_id,
            batch={"id": batch["batch_id"], "kind": batch["kind"], "rows": batch["rows"]},
            plan_counts=result.counts,
            suggestions=report.suggestions(engine, result.plan_id),
        )
        return {"plan_id": result.plan_id, **result.counts}


# -- apply ---------------------------------------------------------------------------------------------


def import_chosen(
    run: RunContext,
    plan_id: int,
    selection: Mapping[str, Any],
    params: Mapping[str, Any],
    side_batches: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Import what the selection step passed on (ids named in the params, all importable, or a person's
    pick), with the run's options; an empty choice is nothing to do, not a refusal."""
    side_batches = side_batches or {}
    employees = side_batches.get("EMPLOYEE")
    request = apply.ImportRequest(
        run.entity_type,
        tuple(selection.get("chosen_options") or ()),
        include_inactive=bool(params.get("include_inactive")),
        profile=params.get("permission_level"),
        assign_departments=bool(params.get("assign_departments")),
        employee_batch_id=employees["batch_id"] if employees else None,
        dry_run=bool(params.get("dry_run")),
    )
    departments = side_batches.get("DEPARTMENT")
    return import_selected(
        run, plan_id, request, department_batch_id=departments["batch_id"] if departments else None
    )


def import_selected(
    run: RunContext, plan_id: int, request: apply.ImportRequest, *, department_batch_id: int | None = None
) -> dict[str, int]:
    """Import a checked selection and put what happened, by name, into the run's report."""
    with reporting(run) as engine:
        if not request.keys:
            return record_outcome(engine, run, {"created": 0}, {"Notes": ["nothing was selected to import"]})
        outcome = apply.import_selected(
            engine, forecast_target(), plan_id, request, run_id=run.run_id, actor=run.actor
        )
        keys = [
            *outcome.skipped_linked,
            *(k for k, _ in outcome.linked_by_name),
            *(k for k, _ in outcome.recovered),
            *(k for k, _ in outcome.created),
            *(k for k, _ in outcome.without_department),
            *(k for k, *_ in outcome.department_updates),
        ]
        names = report.intacct_names(engine, plan_id, keys)
        forecast_names = report.forecast_names(engine, plan_id, [fid for _, fid in outcome.linked_by_name])

        def named(key: str) -> str:
            return report.describe(key, names.get(key))

        details = {
            "Skipped: already linked": [named(k) for k in outcome.skipped_linked],
            "Recovered from an interrupted run": [named(k) for k, _ in outcome.recovered],
            ("Would import" if outcome.dry_run else "Imported"): [named(k) for k, _ in outcome.created],
            ("Would link by name" if outcome.dry_run else "Linked by name"): [
                f"{named(k)} → {report.describe_forecast(request.entity_type, fid, forecast_names.get(fid))}"
                for k, fid in outcome.linked_by_name
            ],
        }
        if request.entity_type == "person" and request.assign_departments:
            into = "Would go into" if outcome.dry_run else "Imported into"
            details[f"{into} their Intacct department"] = _assigned_departments(
                engine, outcome.assigned_departments, department_batch_id, named
            )
            details["Without a department (import or link it first)"] = _missing_departments(
                engine, outcome.without_department, department_batch_id, named
            )
            verb = "would move" if outcome.dry_run else "moved"
            details["Department assignments"] = [
                f"{named(key)}: Forecast person {person} {verb} from department {before} to {after}"
                for key, person, before, after in outcome.department_updates
            ]
        return record_outcome(engine, run, outcome.counts(), details)


def _department_describer(engine: Engine, department_batch_id: int | None, department_ids):
    """A function naming an Intacct department ("D100 Operations") from the run's department batch."""
    wanted = sorted({d for d in department_ids if d})
    rows = (
        staging.rows_by_key(engine, spec_for("DEPARTMENT"), department_batch_id, wanted)
        if department_batch_id and wanted
        else {}
    )
    return lambda department_id: report.describe(
        department_id, (rows.get(department_id) or {}).get("fc_name")
    )


def _assigned_departments(
    engine: Engine, assigned: Sequence[tuple[str, int]], department_batch_id: int | None, named
) -> list[str]:
    """Each person given a Forecast department, beside the Intacct department it is linked to."""
    intacct_keys = {link.forecast_id: link.intacct_key for link in links.links(engine, "department")}
    department = _department_describer(
        engine, department_batch_id, [intacct_keys.get(f) for _, f in assigned]
    )
    lines = []
    for key, forecast_department in assigned:
        department_id = intacct_keys.get(forecast_department)
        intacct = f"Intacct department {department(department_id)}, " if department_id else ""
        lines.append(f"{named(key)} → {intacct}Forecast department {forecast_department}")
    return lines


def _missing_departments(
    engine: Engine, missing: Sequence[tuple[str, str | None]], department_batch_id: int | None, named
) -> list[str]:
    """Each person left without a department, with the Intacct department to import or link first."""
    department = _department_describer(engine, department_batch_id, [d for _, d in missing])
    return [
        f"{named(key)}: Intacct department {department(department_id)} is not linked"
        if department_id
        else f"{named(key)}: no Intacct employee with a department (an employee private to an entity "
        "is read only with show_private)"
        for key, department_id in missing
    ]


def link_extraction_keys(entity_type: str, params: Mapping[str, Any]) -> list[str] | None:
    """What a link DAG reads from Intacct: the records its pairs name; nothing for an unlink alone; and,
    when it names nothing, everything, so that the plan can suggest links."""
    pairs = run_params.link_pairs(entity_type, params.get("links"))
    if pairs:
        return [p.intacct_key for p in pairs]
    return [] if params.get("unlink") else None


def link_chosen(
    run: RunContext, plan_id: int, selection: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, int]:
    """Link the pairs named in the params, or the suggested links a person chose in the selection step."""
    pairs = run_params.link_pairs(run.entity_type, params.get("links"))
    chosen = selection.get("chosen_options") or []
    if not pairs and chosen:
        offered = dict(
            choices.suggested_links(state_engine(), plan_id, name_filter=params.get("name_filter"))
        )
        pairs = tuple(offered[label] for label in chosen if label in offered)
    request = linking.LinkRequest(
        run.entity_type,
        links=pairs,
        unlink=run_params.forecast_ids(params.get("unlink"), "unlink"),
        relink=bool(params.get("relink")),
        dry_run=bool(params.get("dry_run")),
    )
    if not request.links and not request.unlink:
        with reporting(run) as engine:
            return record_outcome(engine, run, {"linked": 0}, {"Notes": ["nothing was chosen to link"]})
    return link_selected(run, plan_id, request)


def link_selected(run: RunContext, plan_id: int, request: linking.LinkRequest) -> dict[str, int]:
    with reporting(run) as engine:
        outcome = linking.link_selected(engine, plan_id, request, run_id=run.run_id, actor=run.actor)
        linked, unlinked = (
            ("Would be linked", "Would be unlinked") if outcome.dry_run else ("Linked", "Unlinked")
        )
        names = report.intacct_names(engine, plan_id, [p.intacct_key for p in outcome.linked])
        forecast = report.forecast_names(
            engine, plan_id, [p.forecast_id for p in outcome.linked] + list(outcome.unlinked)
        )
        details = {
            linked: [
                f"{report.describe(p.intacct_key, names.get(p.intacct_key))} → "
                f"{report.describe_forecast(run.entity_type, p.forecast_id, forecast.get(p.forecast_id))}"
                for p in outcome.linked
            ],
            unlinked: [
                report.describe_forecast(run.entity_type, i, forecast.get(i)) for i in outcome.unlinked
            ],
        }
        return record_outcome(engine, run, outcome.counts(), details)


def record_outcome(engine: Engine, run: RunContext, counts: dict[str, int], details: dict[str, list[str]]):
    """Put an apply's counts and its non-empty lists into the run's report; the counts go to XCom."""
    report.update_report(
        engine,
        run.dag_id,
        run.run_id,
        run.entity_type,
        outcome=counts,
        details={title: items for title, items in details.items() if items},
    )
    return counts


# -- report --------------------------------------------------------------------------------------------


def _monthly_quota() -> int:
    try:
        return IntacctHook(INTACCT_CONN_ID).settings().monthly_quota
    except IntacctConnectionError:
        return usage.DEFAULT_MONTHLY_QUOTA


def finish_report(run: RunContext, *, upstream_failed: bool) -> dict[str, Any]:
    """Complete, print and store the run's report; fail the task when the run did not succeed."""
    engine = state_engine()
    stored = report.get_report(engine, dag_id=run.dag_id, run_id=run.run_id)
    status = stored.status if stored else "success"
    if upstream_failed and status == "success":
        status = "failed"
    quota = _monthly_quota()
    report_id = report.update_report(
        engine,
        run.dag_id,
        run.run_id,
        run.entity_type,
        status=status,
        api_usage="\n\n".join(
            line
            for line in (
                usage.summary(engine, run.usage_key, monthly_quota=quota).line(),
                usage.forecast_line(engine, run.usage_key),
            )
            if line
        ),
        readiness=report.readiness(engine),
    )
    final = report.get_report(engine, report_id)
    log.info("Run report %s\n%s", report_id, final.markdown)
    if status != "success":
        raise AirflowFailException(f"the run was {status}: see report {report_id} above")
    counts = {k: v for k, v in final.summary.get("plan_counts", {}).items() if v}
    return {"report_id": report_id, **counts, **final.summary.get("outcome", {})}


def upstream_failed(context: Mapping[str, Any]) -> bool:
    """Whether any other task of this run failed (asked through the Task SDK, not the metadata DB)."""
    ti = context["ti"]
    others = [task_id for task_id in context["dag"].task_ids if task_id != ti.task_id]
    try:
        states = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id], task_ids=others)
    except Exception:
        log.warning(
            "could not read the states of the other tasks; relying on the stored report", exc_info=True
        )
        return False
    return any(state in ("failed", "upstream_failed") for state in states.get(ti.run_id, {}).values())
