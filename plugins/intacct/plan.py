"""The plan: an Intacct batch diffed against a Forecast snapshot and the existing links.

Every Intacct record of the batch gets one plan row, and so does every link whose Intacct record is not
in the batch. Actions (one vocabulary everywhere):

| action | meaning |
|---|---|
| `importable` | not linked, no Forecast record matches: can be imported |
| `linked` | linked; `changed_fields` lists the Forecast fields that differ from Intacct |
| `suggest_link` | not linked; one unlinked Forecast record matches (`reason`, `confidence`) |
| `conflict` | cannot be imported or linked as is; `reason` names why (no email, shared email, several matches) |
| `source_inactive` | inactive in Intacct (importable only when asked); linked or not |
| `source_deleted` | linked, but gone from Intacct (only a full batch can say so) |
| `orphan_link` | linked, but the Forecast record is gone |

The decisions are SQL (`include/sql/plan_decide.sql`), the same for every entity: each entity only
projects its rows onto common columns (`include/sql/plan_inputs_<entity>.sql`). Match keys were computed
in Python when the rows were staged, so the SQL is identical on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.exc import NoResultFound

from intacct import snapshot, staging
from intacct.entities import ENTITIES, entity  # noqa: F401  (the plan's entities, re-exported)
from intacct.state.schema import intacct_plan, intacct_plan_row, intacct_plan_source, intacct_plan_target
from intacct.state.sql_files import run_file

ACTIONS = (
    "importable",
    "linked",
    "suggest_link",
    "conflict",
    "source_inactive",
    "source_deleted",
    "orphan_link",
)


@dataclass(frozen=True)
class PlanRow:
    intacct_key: str | None
    intacct_recordno: int | None
    forecast_id: int | None
    action: str
    reason: str | None
    confidence: float | None
    changed_fields: tuple[str, ...]


@dataclass(frozen=True)
class PlanResult:
    plan_id: int
    entity_type: str
    batch_id: int
    batch_kind: str
    snapshot_id: int
    counts: dict[str, int]


def build_plan(
    engine: Engine, entity_type: str, *, batch_id: int, snapshot_id: int, run_id: str | None = None
) -> PlanResult:
    """Diff a complete Intacct batch against a Forecast snapshot and the links; store and count the rows."""
    spec = entity(entity_type)
    batch = staging.get_batch(engine, batch_id)
    if batch.object != spec.intacct_object or batch.status != "complete":
        raise ValueError(
            f"batch {batch_id} is a {batch.status} {batch.object} batch; a {entity_type} plan needs a "
            f"complete {spec.intacct_object} batch"
        )
    try:
        snap = snapshot.get_snapshot(engine, snapshot_id)
    except NoResultFound:
        snap = None
    if snap is None or snap.status != "complete":
        raise ValueError(f"Forecast snapshot {snapshot_id} is not a complete snapshot; take a new one")
    fields = {f"f{n}": name for n, name in enumerate(spec.fields, start=1)}
    params = {
        "entity_type": spec.entity_type,
        "batch_id": batch_id,
        "snapshot_id": snapshot_id,
        "is_full": int(batch.kind == "full"),
        "key1_unique": int(spec.key1_unique),
        "key1_label": spec.key1_label,
        "key2_label": spec.key2_label or "key",
        "key1_confidence": spec.key1_confidence,
        "key2_confidence": spec.key2_confidence,
        **{f"f{n}": fields.get(f"f{n}", "") for n in range(1, 7)},
    }
    with engine.begin() as connection:
        plan_id = connection.execute(
            insert(intacct_plan)
            .values(
                entity_type=spec.entity_type,
                run_id=run_id,
                created_at=datetime.now(UTC),
                intacct_batch_id=batch_id,
                batch_kind=batch.kind,
                forecast_snapshot_id=snapshot_id,
            )
            .returning(intacct_plan.c.id)
        ).scalar_one()
        params["plan_id"] = plan_id
        run_file(connection, f"plan_inputs_{spec.entity_type}.sql", params)
        run_file(connection, "plan_decide.sql", params)
        # The projections were only the decision's input; the rows keep what was decided.
        connection.execute(delete(intacct_plan_source).where(intacct_plan_source.c.plan_id == plan_id))
        connection.execute(delete(intacct_plan_target).where(intacct_plan_target.c.plan_id == plan_id))
    return PlanResult(
        plan_id, spec.entity_type, batch_id, batch.kind, snapshot_id, plan_counts(engine, plan_id)
    )


def plan_header(engine: Engine, plan_id: int) -> dict[str, object] | None:
    """The plan's entity type, Intacct batch and Forecast snapshot, or None for an unknown plan."""
    with engine.connect() as connection:
        row = connection.execute(select(intacct_plan).where(intacct_plan.c.id == plan_id)).mappings().first()
    return dict(row) if row else None


def recent_plan_inputs(engine: Engine, within: timedelta) -> tuple[set[int], set[int]]:
    """(Intacct batch ids, Forecast snapshot ids) of plans made within `within`: a run may still apply them
    (a selection step can wait hours for a person), so pruning must leave them alone."""
    since = datetime.now(UTC) - within
    with engine.connect() as connection:
        rows = connection.execute(
            select(intacct_plan.c.intacct_batch_id, intacct_plan.c.forecast_snapshot_id).where(
                intacct_plan.c.created_at >= since
            )
        ).all()
    return {b for b, _ in rows if b is not None}, {s for _, s in rows if s is not None}


def plan_counts(engine: Engine, plan_id: int) -> dict[str, int]:
    """Rows per action, every action present (zero when none)."""
    with engine.connect() as connection:
        found = dict(
            connection.execute(
                select(intacct_plan_row.c.action, func.count())
                .where(intacct_plan_row.c.plan_id == plan_id)
                .group_by(intacct_plan_row.c.action)
            ).all()
        )
    return {action: int(found.get(action, 0)) for action in ACTIONS}


def plan_rows(
    engine: Engine, plan_id: int, actions: Iterable[str] | None = None, *, keys: Sequence[str] | None = None
) -> list[PlanRow]:
    """The rows of a plan (optionally only some actions, or some Intacct keys), ordered by Intacct key."""
    query = select(intacct_plan_row).where(intacct_plan_row.c.plan_id == plan_id)
    if actions is not None:
        query = query.where(intacct_plan_row.c.action.in_(list(actions)))
    with engine.connect() as connection:
        if keys is None:
            rows = list(connection.execute(query).mappings().all())
        else:
            rows = []
            for chunk in staging.chunks(keys):
                rows += (
                    connection.execute(query.where(intacct_plan_row.c.intacct_key.in_(chunk)))
                    .mappings()
                    .all()
                )
    # Sorted here, not in SQL: PostgreSQL would order by its locale's collation, SQLite by bytes.
    rows.sort(key=lambda r: r["intacct_key"] or "")
    return [
        PlanRow(
            intacct_key=r["intacct_key"],
            intacct_recordno=r["intacct_recordno"],
            forecast_id=r["forecast_id"],
            action=r["action"],
            reason=r["reason"],
            confidence=r["confidence"],
            changed_fields=tuple(r["changed_fields"].split(",")) if r["changed_fields"] else (),
        )
        for r in rows
    ]
