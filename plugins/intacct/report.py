"""Run reports: what a DAG run did, in numbers and words, stored in the state database.

Every run leaves one: counts per plan action, what was created, skipped or refused and why, suggested
links, Intacct API calls spent (this run and this month against the quota) and readiness ("clients
linked: 0 — link or import clients first"). The Markdown form is printed in the task log; `make report`
prints a stored one and can write its plan rows as CSV.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import IO

from sqlalchemy import Engine, func, insert, select, update

from intacct import plan as plans
from intacct.schema import intacct_link, run_report

# Rows listed by name in a report; the rest are counted (the CSV export has them all).
MAX_LISTED = 25


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


def suggestions(engine: Engine, plan_id: int, limit: int = MAX_LISTED) -> list[str]:
    """The suggested links of a plan as readable lines, most confident first."""
    rows = sorted(
        plans.plan_rows(engine, plan_id, actions=["suggest_link"]),
        key=lambda r: (-(r.confidence or 0), r.intacct_key or ""),
    )
    return [
        f"{r.intacct_key} → Forecast {r.forecast_id} ({r.confidence:.0%}: {r.reason})" for r in rows[:limit]
    ]


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
    if report.outcome:
        lines += ["| result | records |", "|---|---:|"]
        lines += [f"| {name} | {n} |" for name, n in report.outcome.items()]
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
    """
    current = get_report(engine, dag_id=dag_id, run_id=run_id)
    report = RunReport(**current.summary) if current else RunReport(dag_id, run_id, entity_type)
    for name, value in sections.items():
        if name == "details":
            report.details.update({title: list(items) for title, items in value.items()})
        elif name == "notes":
            report.notes += list(value)
        else:
            setattr(report, name, value)
    values = {
        "status": report.status,
        "summary_json": json.dumps(asdict(report), sort_keys=True, default=str),
        "markdown": render_markdown(report),
    }
    with engine.begin() as connection:
        if current is None:
            return connection.execute(
                insert(run_report)
                .values(dag_id=dag_id, run_id=run_id, created_at=datetime.now(UTC), **values)
                .returning(run_report.c.id)
            ).scalar_one()
        connection.execute(update(run_report).where(run_report.c.id == current.id).values(**values))
        return current.id


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
