"""Reconciliation: what changed in Intacct's departments, carried onto the departments already synced.

`department_changes` compares a DEPARTMENT batch (the departments changed since the last run, or all of
them in a full compare) and the deletions Intacct reported with the department links and Forecast's
departments, and returns one `ChangeSet`:

| kind | when | what `apply_changes` does |
|---|---|---|
| `rename` | the Intacct title differs from the Forecast name | renames the Forecast department |
| `move` | the Intacct parent changed | records the new parent on the link |
| `deactivate` | the department is inactive in Intacct | policy `keep`: marks the link; `unlink`: unlinks |
| `delete` | deleted in Intacct (AUDITHISTORY, or absent from a full compare) | the same, marked deleted |
| `reactivate` | active again after a mark | clears the mark |
| `unknown_status` | a status the policy does not know ("active non-posting") | nothing: reported |
| `orphan` | the Forecast department was deleted in Forecast | nothing (never recreated): reported |

Unlinked departments are never touched. The mass-change guard holds back a change set that would rename,
deactivate or delete more than a share and more than a minimum of the linked departments, unless the
run carries that change set's approval token.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, update

from intacct import links as link_store
from intacct import staging
from intacct.forecast import target as ft
from intacct.locks import apply_lock
from intacct.objects import DEPARTMENT
from intacct.state.schema import intacct_link

POLICIES = ("keep", "unlink")
KNOWN_STATUSES = ("active", "inactive")
# Kinds a mass-change guard counts: the ones that change what people see in Forecast or lose a link.
GUARDED = ("rename", "deactivate", "delete")
ACTED_ON = ("rename", "move", "deactivate", "delete", "reactivate")


@dataclass(frozen=True)
class Change:
    kind: str
    intacct_key: str
    forecast_id: int | None
    before: str | None
    after: str | None

    def line(self) -> str:
        what = {
            "rename": f"renamed {self.before!r} → {self.after!r}",
            "move": f"moved from parent {self.before or '(top)'} to {self.after or '(top)'}",
            "deactivate": "made inactive in Intacct",
            "delete": "deleted in Intacct",
            "reactivate": f"active again in Intacct (was marked {self.before})",
            "unknown_status": f"has status {self.after!r} in Intacct, which the sync does not act on",
            "orphan": "its Forecast department was deleted in Forecast; the link is kept, nothing recreated",
        }[self.kind]
        return f"{self.intacct_key} (Forecast department {self.forecast_id}): {what}"


@dataclass(frozen=True)
class Guard:
    """Hold back a change set that touches more than `share` and more than `minimum` of the links."""

    share: float = 0.2
    minimum: int = 5

    def __post_init__(self) -> None:
        if not 0 <= self.share <= 1 or self.minimum < 0:
            raise ValueError(f"the mass-change guard needs 0 <= share <= 1 and minimum >= 0, got {self}")


@dataclass
class ChangeSet:
    changes: list[Change] = field(default_factory=list)
    linked: int = 0  # department links when the set was computed

    def of(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def guarded(self) -> list[Change]:
        return [c for c in self.changes if c.kind in GUARDED]

    def token(self) -> str:
        """The approval token of exactly this change set (its guarded changes, in a stable order)."""
        items = sorted((c.kind, c.intacct_key, c.before or "", c.after or "") for c in self.guarded)
        return hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]

    def blocked_by(self, guard: Guard, approval: str | None) -> bool:
        """Whether the guard holds this set back: too many guarded changes, and not approved by token."""
        n = len(self.guarded)
        too_many = n > guard.minimum and n > guard.share * self.linked
        return too_many and approval != self.token()


def department_changes(
    state_engine: Engine,
    target: ft.ForecastTarget,
    *,
    batch_id: int,
    full: bool,
    deleted_keys: Sequence[str] = (),
) -> ChangeSet:
    """The changes a DEPARTMENT batch and the reported deletions make to the linked departments.

    `full` says the batch holds every department, so a linked one missing from it was deleted.
    """
    department_links = link_store.links(state_engine, "department")
    rows = staging.rows_by_key(
        state_engine, DEPARTMENT, batch_id, [link.intacct_key for link in department_links]
    )
    names = {d.id: d.name for d in target.list_departments()}
    deleted = set(deleted_keys)
    found: list[Change] = []
    for link in department_links:
        found += _link_changes(link, rows.get(link.intacct_key), names, full or link.intacct_key in deleted)
    return ChangeSet(found, linked=len(department_links))


def _link_changes(link: link_store.Link, row: dict | None, names: dict[int, str], gone: bool) -> list[Change]:
    """The changes of one linked department; `gone`: deleted unless the batch holds it."""
    key, forecast_id = link.intacct_key, link.forecast_id
    if forecast_id not in names:
        return [Change("orphan", key, forecast_id, None, None)]
    if row is None:
        deleted = gone and link.source_state != "deleted"
        return [Change("delete", key, forecast_id, link.source_state, None)] if deleted else []
    found = []
    status = row["status"] or ""
    if status not in KNOWN_STATUSES:
        found.append(Change("unknown_status", key, forecast_id, None, status))
    elif status == "inactive" and link.source_state != "inactive":
        found.append(Change("deactivate", key, forecast_id, link.source_state, None))
    elif status == "active" and link.source_state is not None:
        found.append(Change("reactivate", key, forecast_id, link.source_state, None))
    if row["fc_name"] and row["fc_name"] != names[forecast_id]:
        found.append(Change("rename", key, forecast_id, names[forecast_id], row["fc_name"]))
    parent = row["parent_id"] or None
    # A parent seen for the first time is the baseline, not a move (see `baseline_parents`).
    if link.intacct_parent is not None and parent != (link.intacct_parent or None):
        found.append(Change("move", key, forecast_id, link.intacct_parent or None, parent))
    return found


def baseline_parents(state_engine: Engine, batch_id: int) -> int:
    """Record the parent of linked departments seen for the first time (no move to report yet)."""
    unknown = [link for link in link_store.links(state_engine, "department") if link.intacct_parent is None]
    rows = staging.rows_by_key(state_engine, DEPARTMENT, batch_id, [link.intacct_key for link in unknown])
    with state_engine.begin() as connection:
        for key, row in rows.items():
            connection.execute(_link(key).values(intacct_parent=row["parent_id"] or ""))
    return len(rows)


def _link(key: str):
    return update(intacct_link).where(
        intacct_link.c.entity_type == "department", intacct_link.c.intacct_key == key
    )


@dataclass
class SyncOutcome:
    applied: list[Change] = field(default_factory=list)
    reported: list[Change] = field(default_factory=list)  # orphans, unknown statuses, and in a dry run all
    unlinked: list[str] = field(default_factory=list)


def apply_changes(
    state_engine: Engine,
    target: ft.ForecastTarget,
    changes: ChangeSet,
    *,
    policy: str,
    run_id: str | None,
    actor: str | None,
    owner: str,
    dry_run: bool = False,
) -> SyncOutcome:
    """Carry a change set onto Forecast and the links, each change audited with the run id.

    Under the department apply lock, so an import or link of departments never races it. Every step is
    idempotent (a rerun after a crash finds what is done already and does the rest).
    """
    if policy not in POLICIES:
        raise ValueError(
            f"unknown policy {policy!r} for inactive and deleted departments: use keep or unlink"
        )
    outcome = SyncOutcome()
    acted = [c for c in changes.changes if c.kind in ACTED_ON]
    outcome.reported = [c for c in changes.changes if c.kind not in ACTED_ON]
    if dry_run:
        outcome.reported += acted
        return outcome
    renames_allowed = target.supports(ft.UPDATE_DEPARTMENTS)
    with apply_lock(state_engine, "department", owner=owner) as heartbeat:
        for c in acted:
            heartbeat()
            if c.kind == "rename":
                if not renames_allowed:
                    outcome.reported.append(c)
                    continue
                target.update_department(c.forecast_id, name=c.after)
            with state_engine.begin() as connection:
                if c.kind in ("deactivate", "delete") and policy == "unlink":
                    link_store.remove_links(
                        connection, "department", [c.forecast_id], run_id=run_id, actor=actor
                    )
                    outcome.unlinked.append(c.intacct_key)
                else:
                    values = {
                        "move": {"intacct_parent": c.after or ""},
                        "deactivate": {"source_state": "inactive"},
                        "delete": {"source_state": "deleted"},
                        "reactivate": {"source_state": None},
                    }.get(c.kind)
                    if values:
                        connection.execute(_link(c.intacct_key).values(**values))
                link_store.audit(
                    connection,
                    action=c.kind,
                    entity_type="department",
                    forecast_id=c.forecast_id,
                    intacct_key=c.intacct_key,
                    before={"value": c.before},
                    after={"value": c.after},
                    run_id=run_id,
                    actor=actor,
                )
            outcome.applied.append(c)
    return outcome
