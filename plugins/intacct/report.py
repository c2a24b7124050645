"""Run reports: what a DAG run did, in numbers and words, stored in the state database.

Every run leaves one: counts per plan action, what was created, skipped or refused and why, suggested
links, Intacct API calls spent (this run and this month against the quota) and readiness ("clients
linked: 0 — link or import clients first"). The Markdown form is printed in the task log; `make report`
prints a stored one and can write its plan rows as CSV.

A report is read by a person: records are named beside their ids ("C1001 Acme Corp", "Forecast client 1
'ACME Corp.'"; `intacct_names`, `forecast_names`, `describe`, `describe_forecast`), and a dry run's
counts say what would happen ("would import"), not what did.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import IO

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from intacct import plan as plans
from intacct import staging
from intacct.choices import display_name
from intacct.objects import OBJECTS
from intacct.state.schema import forecast_snapshot_tables, intacct_link, run_report

# Rows listed by name in a report; the rest are counted (the CSV export has them all).
MAX_LISTED = 25


@dataclass(frozen=True)
class OutcomeLabel:
    """How one count of an apply's outcome reads in the result table."""

    done: str  # a real run: what happened
    dry_run: str  # a dry run: what would have happened
    entity_types: frozenset[str] | None = None  # the entities it applies to; None: every one
    answer: bool = False  # what the run was asked to do: shown even when 0


_PERSON = frozenset({"person"})
_DEPARTMENT = frozenset({"department"})


def _intacct_change(what: str) -> OutcomeLabel:
    """A change the department sync found in Intacct: a fact, worded the same in a dry run."""
    return OutcomeLabel(what, what, _DEPARTMENT)


# Outcome keys (`ImportOutcome.counts`, `LinkOutcome.counts`, the sync's counts) → their readable rows,
# in table order.
OUTCOME_LABELS: dict[str, OutcomeLabel] = {
    "created": OutcomeLabel("imported", "would import", answer=True),
    "linked_by_name": OutcomeLabel(
        "linked by name (the target cannot create them)", "would link by name", _DEPARTMENT
    ),
    "recovered": OutcomeLabel("recovered from an interrupted run", "would recover from an interrupted run"),
    "skipped_linked": OutcomeLabel("skipped: already linked", "would skip: already linked"),
    "assigned_departments": OutcomeLabel(
        "imported into their Intacct department", "would import into their Intacct department", _PERSON
    ),
    "without_department": OutcomeLabel(
        "imported without a department", "would import without a department", _PERSON
    ),
    "department_updates": OutcomeLabel(
        "department assignments changed", "would change department assignments", _PERSON
    ),
    "linked": OutcomeLabel("linked", "would link", answer=True),
    "unlinked": OutcomeLabel("unlinked", "would unlink"),
    "rename": _intacct_change("renamed in Intacct"),
    "move": _intacct_change("moved to another parent in Intacct"),
    "deactivate": _intacct_change("made inactive in Intacct"),
    "delete": _intacct_change("deleted in Intacct"),
    "reactivate": _intacct_change("active again in Intacct"),
    "orphan": _intacct_change("orphan links (deleted in Forecast)"),
    "unknown_status": _intacct_change("statuses the sync does not act on"),
    "reassign": OutcomeLabel("team members re-assigned", "would re-assign team members", _DEPARTMENT),
}


@dataclass
class RunReport:
    dag_id: str
    run_id: str
    entity_type: str
    status: str = "success"  # success | refused | failed
    dry_run: bool = False
    plan_id: int | None = None
    batch: dict[str, object] = field(default_factory=dict)  # id, kind, rows
    plan_counts: dict[str, int] = field(default_factory=dict)
    outcome: dict[str, int] = field(default_factory=dict)
    details: dict[str, list[str]] = field(default_factory=dict)  # e.g. skipped, refused, without_department
    suggestions: list[str] = field(default_factory=list)
    api_usage: str = ""
    readiness: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def readiness(engine: Engine) -> list[str]:
    """How far the integration is set up; clients come first (Forecast's own rule)."""
    with engine.connect() as connection:
        counts = dict(
            connection.execute(
                select(intacct_link.c.entity_type, func.count()).group_by(intacct_link.c.entity_type)
            ).all()
        )
    clients = int(counts.get("client", 0))
    lines = [
        f"clients linked: {clients}" + (" — link or import clients first" if clients == 0 else ""),
        f"departments linked: {int(counts.get('department', 0))}",
        f"team members linked: {int(counts.get('person', 0))}",
    ]
    return lines


def describe(key: str, name: str | None) -> str:
    """An Intacct record as a person reads it: "C1001 Acme Corp" (the id alone when it has no name)."""
    return f"{key} {name}" if name else str(key)


def describe_forecast(entity_type: str, forecast_id: int, name: str | None) -> str:
    """A Forecast record as a person reads it: "Forecast client 1 'ACME Corp.'"."""
    described = f"Forecast {entity_type} {forecast_id}"
    return f"{described} '{name}'" if name else described


def intacct_names(engine: Engine, plan_id: int, keys: Sequence[str]) -> dict[str, str]:
    """The names of Intacct records, by key, as staged in the plan's Intacct batch; keys not in that batch
    (or without a name) are left out."""
    header = plans.plan_header(engine, plan_id) if keys else None
    return _intacct_names(engine, header, keys) if header else {}


def forecast_names(engine: Engine, plan_id: int, forecast_ids: Sequence[int]) -> dict[int, str]:
    """The names of Forecast records, by id, as copied in the plan's Forecast snapshot (people: first and
    last name, else email); ids not in that snapshot (or without a name) are left out."""
    header = plans.plan_header(engine, plan_id) if forecast_ids else None
    return _forecast_names(engine, header, forecast_ids) if header else {}


def _intacct_names(engine: Engine, header: dict, keys: Sequence[str]) -> dict[str, str]:
    spec = OBJECTS[plans.entity(header["entity_type"]).intacct_object]
    staged = staging.rows_by_key(engine, spec, header["intacct_batch_id"], list(dict.fromkeys(keys)))
    return {key: name for key, row in staged.items() if (name := display_name(row))}


def _forecast_names(engine: Engine, header: dict, forecast_ids: Sequence[int]) -> dict[int, str]:
    table = forecast_snapshot_tables[header["entity_type"]]
    person = header["entity_type"] == "person"
    columns = [table.c.first_name, table.c.last_name, table.c.email] if person else [table.c.name]
    names: dict[int, str] = {}
    with engine.connect() as connection:
        for chunk in staging.chunks(list(dict.fromkeys(forecast_ids))):
            query = select(table.c.forecast_id, *columns).where(
                table.c.snapshot_id == header["forecast_snapshot_id"], table.c.forecast_id.in_(chunk)
            )
            for forecast_id, *values in connection.execute(query):
                if person:
                    first, last, email = values
                    name = " ".join(part for part in (first, last) if part) or email
                else:
                    name = values[0]
                if name:
                    names[forecast_id] = name
    return names


def suggestions(engine: Engine, plan_id: int, limit: int | None = None) -> list[str]:
    """The suggested links of a plan (all, or the first `limit`) as readable lines, most confident first:
    "C1001 Acme Corp → Forecast client 1 'ACME Corp.' (90%: same name … as Forecast record 1)". The
    Markdown lists the first few; the report's CSV export has them all."""
    rows = sorted(
        plans.plan_rows(engine, plan_id, actions=["suggest_link"]),
        key=lambda r: (-(r.confidence or 0), r.intacct_key or ""),
    )[:limit]
    if not rows:
        return []
    header = plans.plan_header(engine, plan_id)
    entity_type = header["entity_type"]
    intacct = _intacct_names(engine, header, [r.intacct_key for r in rows])
    forecast = _forecast_names(engine, header, [r.forecast_id for r in rows])
    return [
        f"{describe(r.intacct_key, intacct.get(r.intacct_key))} → "
        f"{describe_forecast(entity_type, r.forecast_id, forecast.get(r.forecast_id))} "
        f"({r.confidence:.0%}: {r.reason})"
        for r in rows
    ]


def outcome_rows(report: RunReport) -> list[tuple[str, int]]:
    """The result table's (label, count) rows: worded for the run's mode, without the counts that do not
    apply to its entity, nor zeros that are not the answer (a 0 for "imported" stays). Unknown keys are
    shown as they are."""
    rows = []
    for key, count in report.outcome.items():
        label = OUTCOME_LABELS.get(key)
        if label is None:
            rows.append((key, count))
            continue
        applies = label.entity_types is None or report.entity_type in label.entity_types
        if applies and (count or label.answer):
            rows.append((label.dry_run if report.dry_run else label.done, count))
    return rows


def _listed(title: str, items: Sequence[str]) -> list[str]:
    if not items:
        return []
    lines = [f"**{title}** ({len(items)}):", ""]
    lines += [f"- {item}" for item in items[:MAX_LISTED]]
    if len(items) > MAX_LISTED:
        lines.append(f"- … and {len(items) - MAX_LISTED:,} more (the report's CSV export lists them all)")
    return [*lines, ""]


def render_markdown(report: RunReport) -> str:
    mode = " (dry run: nothing was written)" if report.dry_run else ""
    lines = [
        f"## {report.dag_id} — {report.status}{mode}",
        "",
        f"Run `{report.run_id}`, {report.entity_type}s.",
        "",
    ]
    if report.batch:
        lines += [
            f"Intacct extraction: {report.batch.get('kind')} batch {report.batch.get('id')}, "
            f"{report.batch.get('rows')} records.",
            "",
        ]
    if report.plan_counts:
        lines += ["| plan action | records |", "|---|---:|"]
        lines += [f"| {action} | {n} |" for action, n in report.plan_counts.items()]
        lines.append("")
    if results := outcome_rows(report):
        lines += ["| result | records |", "|---|---:|"]
        lines += [f"| {label} | {n} |" for label, n in results]
        lines.append("")
    for title, items in report.details.items():
        lines += _listed(title, items)
    lines += _listed("Suggested links", report.suggestions)
    lines += _listed("Notes", report.notes)
    if report.api_usage:
        lines += [report.api_usage, ""]
    if report.readiness:
        lines += ["Readiness: " + "; ".join(report.readiness), ""]
    return "\n".join(lines).rstrip() + "\n"


@dataclass(frozen=True)
class StoredReport:
    id: int
    dag_id: str
    run_id: str
    created_at: datetime
    status: str
    summary: dict
    markdown: str


def update_report(engine: Engine, dag_id: str, run_id: str, entity_type: str, **sections) -> int:
    """Merge sections into the run's report (created on first use); each task adds what it knows.

    `notes` are appended; every other section, and each list under `details`, is replaced (so a task
    that runs again, after a retry or a clear, does not list its records twice). Returns the report id.
    Tasks of one run may call this at the same moment: each merge sees the one before it, none is lost.
    """
    with engine.begin() as connection:
        report_id, summary = _locked_report(connection, RunReport(dag_id, run_id, entity_type))
        report = RunReport(**summary)
        for name, value in sections.items():
            if name == "details":
                report.details.update({title: list(items) for title, items in value.items()})
            elif name == "notes":
                report.notes += list(value)
            else:
                setattr(report, name, value)
        connection.execute(update(run_report).where(run_report.c.id == report_id).values(**_stored(report)))
        return report_id


def _locked_report(connection: Connection, empty: RunReport) -> tuple[int, dict]:
    """The run's report (id, summary), created empty when missing, locked against the run's other writers
    until the transaction ends.

    The insert comes first and is a write even when the row exists: PostgreSQL waits there for a
    concurrent first writer; SQLite (pysqlite opens its transaction at the first write, not at a read)
    takes the database's write lock there, so the read below already holds it. PostgreSQL's row lock
    (FOR UPDATE; SQLite has none and needs none) then serialises the writers of an existing report.
    """
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(
        dialect.insert(run_report)
        .values(dag_id=empty.dag_id, run_id=empty.run_id, created_at=datetime.now(UTC), **_stored(empty))
        .on_conflict_do_nothing(index_elements=["dag_id", "run_id"])
    )
    row = connection.execute(
        select(run_report.c.id, run_report.c.summary_json)
        .where(run_report.c.dag_id == empty.dag_id, run_report.c.run_id == empty.run_id)
        .with_for_update()
    ).one()
    return row.id, json.loads(row.summary_json)


def _stored(report: RunReport) -> dict[str, str]:
    return {
        "status": report.status,
        "summary_json": json.dumps(asdict(report), sort_keys=True, default=str),
        "markdown": render_markdown(report),
    }


def get_report(
    engine: Engine, report_id: int | None = None, *, dag_id: str | None = None, run_id: str | None = None
) -> StoredReport | None:
    """A stored report by id, or the latest one (of a DAG and run, when given)."""
    query = select(run_report)
    if report_id is not None:
        query = query.where(run_report.c.id == report_id)
    if dag_id is not None:
        query = query.where(run_report.c.dag_id == dag_id)
    if run_id is not None:
        query = query.where(run_report.c.run_id == run_id)
    with engine.connect() as connection:
        row = connection.execute(query.order_by(run_report.c.id.desc()).limit(1)).mappings().first()
    if row is None:
        return None
    return StoredReport(
        id=row["id"],
        dag_id=row["dag_id"],
        run_id=row["run_id"],
        created_at=row["created_at"],
        status=row["status"],
        summary=json.loads(row["summary_json"]),
        markdown=row["markdown"],
    )


def write_plan_csv(engine: Engine, plan_id: int, out: IO[str]) -> int:
    """Write every row of a plan as CSV; returns the number of rows."""
    writer = csv.writer(out)
    writer.writerow(
        ["intacct_key", "intacct_recordno", "forecast_id", "action", "reason", "confidence", "changed_fields"]
    )
    rows = plans.plan_rows(engine, plan_id)
    for r in rows:
        writer.writerow(
            [
                r.intacct_key,
                r.intacct_recordno,
                r.forecast_id,
                r.action,
                r.reason or "",
                "" if r.confidence is None else r.confidence,
                ",".join(r.changed_fields),
            ]
        )
    return len(rows)


def write_lists_csv(stored: StoredReport, out: IO[str]) -> int:
    """Write every list of a stored report in full (refusals, imports, skips, suggestions, notes) as CSV
    rows of (list, item); returns the number of items. The Markdown shows only the first of each."""
    writer = csv.writer(out)
    writer.writerow(["list", "item"])
    summary = stored.summary
    lists = {**summary.get("details", {}), "Suggested links": summary.get("suggestions", [])}
    lists["Notes"] = summary.get("notes", [])
    written = 0
    for title, items in lists.items():
        for item in items:
            writer.writerow([title, item])
            written += 1
    return written
