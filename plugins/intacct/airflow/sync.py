"""The tasks of the hourly department sync: read what changed, reconcile it, then move the watermark.

1. `read_department_changes` (in the `intacct_api` pool): the departments changed since the last
   successful run's watermark (with a look-back for Intacct's eventual consistency) and the deletions
   AUDITHISTORY reports; a full compare of every department instead once a day, when asked, on the first
   run, or when AUDITHISTORY is not permitted for the web-services user (the report says so).
2. `reconcile_departments`: the change set (`intacct.reconcile`), held back whole by the mass-change
   guard unless the run approves exactly that set by its token, else applied (or only reported, in a dry
   run), every change audited with the run id.
3. `commit_watermark`: runs only when both succeeded, so a failed run never moves the watermark and the
   next run reads again from where the last good one stopped.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from intacct import changes as intacct_changes
from intacct import extract, reconcile, report, sync_state, team_members
from intacct import links as link_store
from intacct.airflow import tasks as t
from intacct.airflow.run_params import RequestRefused
from intacct.locks import apply_lock
from intacct.objects import DEPARTMENT, EMPLOYEE

log = logging.getLogger(__name__)

SYNC_NAME = "department"
# Intacct's reads are eventually consistent and WHENMODIFIED has whole seconds: re-read this far back.
LOOKBACK = timedelta(minutes=15)
FULL_COMPARE_EVERY = timedelta(days=1)
POLICY_VARIABLE = "intacct_department_inactive_policy"


def _zone(text: str | None) -> timezone | None:
    if not text:
        return None
    sign = -1 if text.startswith("-") else 1
    hours, minutes = text.lstrip("+-").split(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes)))


def _zone_text(zone) -> str | None:
    offset = zone.utcoffset(None) if zone is not None else None
    if offset is None:
        return None
    minutes = int(offset.total_seconds() // 60)
    return f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _full_compare_reasons(state: sync_state.SyncState | None, params: Mapping[str, Any]) -> list[str]:
    if params.get("full_compare"):
        return ["asked for by the run"]
    if state is None or state.watermark is None:
        return ["the first run"]
    if state.full_compare_at is None or datetime.now(UTC) - state.full_compare_at >= FULL_COMPARE_EVERY:
        return ["once a day"]
    return []


def _read_employees(client, engine, run: t.RunContext, options, since: datetime | None):
    """When people follow their department: the employees changed since `since` (all, without one)."""
    if not any(link.follows_department for link in link_store.links(engine, "person")):
        return None
    if since is None:
        return extract.extract_full(client, engine, EMPLOYEE, run_id=run.run_id, options=options)
    return extract.extract_incremental(
        client, engine, EMPLOYEE, since=since - LOOKBACK, run_id=run.run_id, options=options
    )


def read_department_changes(run: t.RunContext, params: Mapping[str, Any], *, slots: int) -> dict[str, Any]:
    """Read the department changes of this run into a staging batch; XCom gets ids and timestamps only."""
    with t.reporting(run) as engine:
        state = sync_state.load(engine, SYNC_NAME)
        reasons = _full_compare_reasons(state, params)
        notes: list[str] = []
        deleted: list[str] = []
        # The stored zone saves a call an hour; a full compare reads it afresh, so a daylight-saving change
        # makes it stale for a day at most.
        zone = None if reasons else _zone(state.time_zone)
        with t.intacct_client(run, engine, slots=slots, what=DEPARTMENT.name, time_zone=zone) as (
            client,
            options,
        ):
            read = None
            if not reasons:
                read = intacct_changes.read_changes(
                    client,
                    engine,
                    DEPARTMENT,
                    since=state.watermark,
                    lookback=LOOKBACK,
                    run_id=run.run_id,
                    options=options,
                )
                if read.deleted_keys is None:
                    notes.append(
                        f"deletions could not be read from AUDITHISTORY ({read.audit_note}); "
                        "compared the full list of departments instead"
                    )
                    reasons.append("AUDITHISTORY is not permitted")
                else:
                    deleted = list(read.deleted_keys)
            if reasons:
                result = intacct_changes.read_department_ids(
                    client, engine, DEPARTMENT, run_id=run.run_id, options=options
                )
                batch = {"batch_id": result.batch_id, "kind": "full", "rows": result.rows}
                watermark = result.watermark or (state.watermark if state else None)
            else:
                batch = {"batch_id": read.batch.batch_id, "kind": "incremental", "rows": read.batch.rows}
                watermark = read.watermark
            employees = _read_employees(client, engine, run, options, None if reasons else state.watermark)
            zone_text = _zone_text(client.user_time_zone())
        if reasons:
            notes.append(f"full compare of every Intacct department ({'; '.join(reasons)})")
        else:
            notes.append(f"deletions reported by AUDITHISTORY: {len(deleted)}")
        before = state.watermark if state else None
        notes.append(
            f"watermark before: {_iso(before) or 'none (first run)'}; after this run: {_iso(watermark)}"
        )
        report.update_report(
            engine,
            run.dag_id,
            run.run_id,
            run.entity_type,
            batch={"id": batch["batch_id"], "kind": batch["kind"], "rows": batch["rows"]},
            details={"Reads": notes},
        )
        return {
            **batch,
            "full": bool(reasons),
            "deleted_keys": deleted,
            "watermark_before": _iso(before),
            "watermark": _iso(watermark),
            "time_zone": zone_text,
            "employee_batch_id": employees.batch_id if employees else None,
        }


def _policy(params: Mapping[str, Any]) -> str:
    from airflow.sdk import Variable

    policy = params.get("inactive_policy") or Variable.get(POLICY_VARIABLE, default=None) or "keep"
    if policy not in reconcile.POLICIES:
        raise RequestRefused(
            f"inactive_policy {policy!r} (param or Airflow Variable {POLICY_VARIABLE}) is not one of "
            f"{', '.join(reconcile.POLICIES)}"
        )
    return policy


TITLES = {
    "rename": "Renamed",
    "move": "Moved (new Intacct parent recorded on the link)",
    "deactivate": "Made inactive in Intacct",
    "delete": "Deleted in Intacct",
    "reactivate": "Active again in Intacct",
    "orphan": "Orphan links (the Forecast department was deleted; never recreated)",
    "unknown_status": "Statuses the sync does not act on",
}
NOT_RENAMED = (
    "Not renamed: rename these departments in Forecast (Forecast's public API cannot rename departments)"
)


def reconcile_departments(
    run: t.RunContext, read: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, int]:
    """Compute this run's change set, let the guard judge it, then apply it (or report it, dry)."""
    with t.reporting(run) as engine:
        policy = _policy(params)
        target = t.forecast_target()
        dry_run = bool(params.get("dry_run"))
        if not dry_run:
            reconcile.baseline_parents(engine, read["batch_id"])
        changes = reconcile.department_changes(
            engine, target, batch_id=read["batch_id"], full=read["full"], deleted_keys=read["deleted_keys"]
        )
        guard = reconcile.Guard(
            share=float(params.get("guard_share", 0.2)), minimum=int(params.get("guard_minimum", 5))
        )
        if changes.blocked_by(guard, params.get("approve_change_set")):
            token = changes.token()
            report.update_report(
                engine,
                run.dag_id,
                run.run_id,
                run.entity_type,
                details={"Held back by the mass-change guard": [c.line() for c in changes.guarded]},
            )
            raise RequestRefused(
                f"the mass-change guard held back {len(changes.guarded)} of {changes.linked} linked departments "
                f"(more than {guard.share:.0%} and more than {guard.minimum}); nothing was written. If the "
                f"changes listed in the report are right, run again with approve_change_set = {token}"
            )
        outcome = reconcile.apply_changes(
            engine,
            target,
            changes,
            policy=policy,
            run_id=run.run_id,
            actor=run.actor,
            owner=f"{run.dag_id}/{run.run_id}",
            dry_run=dry_run,
        )
        moves = []
        if read.get("employee_batch_id"):
            moves = team_members.department_moves(engine, target, employee_batch_id=read["employee_batch_id"])
            if moves and not dry_run:
                with apply_lock(engine, "person", owner=f"{run.dag_id}/{run.run_id}") as heartbeat:
                    team_members.move_people(
                        engine, target, moves, run_id=run.run_id, actor=run.actor, heartbeat=heartbeat
                    )
        prefix = "Would be: " if dry_run else ""
        # Outside a dry run a reported rename was not applied: the target cannot rename departments.
        not_renamed = [] if dry_run else [c for c in outcome.reported if c.kind == "rename"]
        done = outcome.reported if dry_run else outcome.applied + outcome.reported
        done = [c for c in done if c not in not_renamed]
        details = {prefix + TITLES[kind]: [c.line() for c in done if c.kind == kind] for kind in TITLES}
        details[NOT_RENAMED] = [c.line() for c in not_renamed]
        details["Unlinked (policy unlink)"] = outcome.unlinked
        details[prefix + "Team members re-assigned (their Intacct employee moved)"] = [
            f"{key} (Forecast person {person}): department {before} → {after}"
            for key, person, before, after in moves
        ]
        counts = {kind: len(changes.of(kind)) for kind in TITLES} | {"reassign": len(moves)}
        return t.record_outcome(engine, run, counts, details)


def commit_watermark(run: t.RunContext, read: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """Move the sync's watermark to what this (successful) run read; a dry run leaves it where it was."""
    with t.reporting(run) as engine:
        if params.get("dry_run"):
            return {"watermark": read["watermark_before"], "moved": False}
        watermark = datetime.fromisoformat(read["watermark"]) if read["watermark"] else None
        sync_state.save(
            engine,
            SYNC_NAME,
            watermark=watermark,
            time_zone=read["time_zone"],
            run_id=run.run_id,
            full_compare_at=datetime.now(UTC) if read["full"] else None,
        )
        return {"watermark": read["watermark"], "moved": True}
