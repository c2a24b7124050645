"""Import intents: what an import records before it writes to Forecast, so that a crash between the
Forecast write and the link write is recovered, not duplicated.

An intent holds the record's payload and an id floor (the highest Forecast id before the write). A run
that finds intents left by a dead run looks in Forecast for a record newer than the floor with the same
values (`forecast.target.created_from`): found, it is linked; not found, the write never happened and the
intent is dropped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select

from intacct import links as link_store
from intacct.entities import entity
from intacct.forecast import target as ft
from intacct.locks import apply_lock, owner_name
from intacct.state.schema import intacct_import_intent

log = logging.getLogger(__name__)


def _payload_json(payload) -> str:
    return json.dumps({"type": type(payload).__name__, **vars(payload)}, sort_keys=True)


def _payload_from_json(entity_type: str, text: str):
    values = json.loads(text)
    values.pop("type")
    return entity(entity_type).new_record(**values)


def write_intents(state_engine: Engine, entity_type: str, items, floor: int, run_id: str | None) -> None:
    now = datetime.now(UTC)
    with state_engine.begin() as connection:
        connection.execute(
            insert(intacct_import_intent),
            [
                {
                    "entity_type": entity_type,
                    "intacct_key": key,
                    "intacct_recordno": recordno,
                    "run_id": run_id,
                    "payload_json": _payload_json(payload),
                    "forecast_id_floor": floor,
                    "created_at": now,
                }
                for key, (recordno, payload) in items
            ],
        )


def link_created(
    state_engine: Engine,
    entity_type: str,
    created: Sequence[tuple[str, int | None, int]],
    *,
    run_id: str | None,
    actor: str | None,
    origin: str = "import",
) -> None:
    """Link (key, recordno, forecast_id) triples, audit them and drop their intents, in one transaction."""
    keys = [key for key, _, _ in created]
    with state_engine.begin() as connection:
        link_store.insert_links(
            connection,
            entity_type,
            [(forecast_id, key, recordno) for key, recordno, forecast_id in created],
            origin=origin,
            run_id=run_id,
            actor=actor,
            audit_action=origin,
        )
        connection.execute(
            delete(intacct_import_intent).where(
                intacct_import_intent.c.entity_type == entity_type,
                intacct_import_intent.c.intacct_key.in_(keys),
            )
        )


def drop_intents(state_engine: Engine, entity_type: str, keys: Sequence[str]) -> None:
    if keys:
        with state_engine.begin() as connection:
            connection.execute(
                delete(intacct_import_intent).where(
                    intacct_import_intent.c.entity_type == entity_type,
                    intacct_import_intent.c.intacct_key.in_(list(keys)),
                )
            )


def recover(
    state_engine: Engine,
    target: ft.ForecastTarget,
    entity_type: str,
    *,
    run_id: str | None,
    actor: str | None,
) -> tuple[list[tuple[str, int]], list[tuple[str, int | None, object]]]:
    """Finish what a dead run started (the caller holds the apply lock). Returns (linked after recovery, still to create)."""
    with state_engine.connect() as connection:
        intents = (
            connection.execute(
                select(intacct_import_intent)
                .where(intacct_import_intent.c.entity_type == entity_type)
                .order_by(intacct_import_intent.c.id)
            )
            .mappings()
            .all()
        )
    if not intents:
        return [], []
    existing = link_store.links(state_engine, entity_type)
    linked_keys = {link.intacct_key for link in existing}
    taken = {link.forecast_id for link in existing}
    records = sorted(getattr(target, entity(entity_type).list_method)(), key=lambda r: r.id)
    recovered: list[tuple[str, int | None, int]] = []
    redo: list[tuple[str, int | None, object]] = []
    stale: list[str] = []
    for intent in intents:
        key = intent["intacct_key"]
        if key in linked_keys:
            stale.append(key)
            continue
        payload = _payload_from_json(entity_type, intent["payload_json"])
        found = next(
            (
                r
                for r in records
                if r.id > intent["forecast_id_floor"] and r.id not in taken and ft.created_from(r, payload)
            ),
            None,
        )
        if found is not None:
            taken.add(found.id)
            recovered.append((key, intent["intacct_recordno"], found.id))
        else:
            redo.append((key, intent["intacct_recordno"], payload))
    if recovered:
        link_created(state_engine, entity_type, recovered, run_id=run_id, actor=actor)
        log.warning("recovered %d %s import(s) interrupted by an earlier run", len(recovered), entity_type)
    drop_intents(state_engine, entity_type, stale + [key for key, _, _ in redo])
    return [(key, forecast_id) for key, _, forecast_id in recovered], redo


@dataclass(frozen=True)
class Recovery:
    """What settling an interrupted import did: records linked, and intents dropped (never written)."""

    linked: list[tuple[str, int]]  # (Intacct key, Forecast id)
    dropped: list[str]


def _has_open_intents(state_engine: Engine, entity_type: str) -> bool:
    with state_engine.connect() as connection:
        return (
            connection.execute(
                select(intacct_import_intent.c.id)
                .where(intacct_import_intent.c.entity_type == entity_type)
                .limit(1)
            ).first()
            is not None
        )


def recover_interrupted(
    state_engine: Engine,
    target: ft.ForecastTarget,
    entity_type: str,
    *,
    run_id: str | None,
    actor: str | None = None,
) -> Recovery:
    """Settle the imports a dead run left open, before a plan is made.

    A Forecast record such a run created but did not link yet would otherwise read, in the plan, as an
    ordinary Forecast record: a suggestion, or a conflict with the very customer it was made from. Found
    records are linked; intents whose Forecast write never happened are dropped, so their Intacct records
    are importable again and this run's own selection decides. Only the state database is written, and
    only for what Forecast already holds. Takes the apply lock only when there is something to settle.
    """
    if not _has_open_intents(state_engine, entity_type):
        return Recovery([], [])
    with apply_lock(state_engine, entity_type, owner=owner_name(run_id)):
        linked, never_written = recover(state_engine, target, entity_type, run_id=run_id, actor=actor)
    dropped = [key for key, _, _ in never_written]
    if dropped:
        log.warning(
            "%d %s import(s) of an interrupted run never reached Forecast: dropped, select them again",
            len(dropped),
            entity_type,
        )
    return Recovery(linked, dropped)
