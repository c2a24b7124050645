"""The Forecast ↔ Intacct links and their audit log.

A link is one-to-one both ways (unique constraints on each side), so two racing writers cannot both win.
Every change — import, link, relink, unlink, update — appends an audit row with the values before and
after, who did it and in which run.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, and_, delete, insert, or_, select

from intacct.entities import ENTITY_TYPES
from intacct.refusal import Refused
from intacct.state.schema import intacct_audit, intacct_link


@dataclass(frozen=True)
class Link:
    entity_type: str
    forecast_id: int
    intacct_key: str
    intacct_recordno: int | None
    origin: str
    linked_at: datetime
    linked_by: str | None
    run_id: str | None
    source_state: str | None = None  # the department sync's mark: inactive | deleted in Intacct
    intacct_parent: str | None = None
    follows_department: bool = False

    def as_audit(self) -> dict[str, object]:
        return {"forecast_id": self.forecast_id, "intacct_key": self.intacct_key, "origin": self.origin}


@dataclass(frozen=True)
class LinkPair:
    forecast_id: int
    intacct_key: str


class LinkRequestRefused(Refused):
    """A link or unlink request that cannot be carried out; `problems` lists every offending pair."""


def _check_entity(entity_type: str) -> None:
    if entity_type not in ENTITY_TYPES:
        raise ValueError(f"unknown entity type {entity_type!r}: expected one of {', '.join(ENTITY_TYPES)}")


def _row_to_link(row) -> Link:
    return Link(**{k: row[k] for k in Link.__dataclass_fields__})


def links(connection_or_engine: Connection | Engine, entity_type: str) -> list[Link]:
    """Every link of one entity type."""
    _check_entity(entity_type)
    query = select(intacct_link).where(intacct_link.c.entity_type == entity_type).order_by(intacct_link.c.id)
    if isinstance(connection_or_engine, Engine):
        with connection_or_engine.connect() as connection:
            return [_row_to_link(r) for r in connection.execute(query).mappings()]
    return [_row_to_link(r) for r in connection_or_engine.execute(query).mappings()]


def _audit_row(
    *,
    action: str,
    entity_type: str,
    forecast_id: int | None,
    intacct_key: str | None,
    before: object,
    after: object,
    run_id: str | None,
    actor: str | None,
    at: datetime | None = None,
) -> dict[str, object]:
    return {
        "at": at or datetime.now(UTC),
        "actor": actor,
        "run_id": run_id,
        "action": action,
        "entity_type": entity_type,
        "forecast_id": forecast_id,
        "intacct_key": intacct_key,
        "before_json": None if before is None else json.dumps(before, sort_keys=True, default=str),
        "after_json": None if after is None else json.dumps(after, sort_keys=True, default=str),
    }


def audit(connection: Connection, **entry) -> None:
    """Append one audit row (action, entity_type, forecast_id, intacct_key, before, after, run_id, actor)."""
    connection.execute(insert(intacct_audit).values(**_audit_row(**entry)))


def insert_links(
    connection: Connection,
    entity_type: str,
    rows: Iterable[tuple[int, str, int | None]],
    *,
    origin: str,
    run_id: str | None,
    actor: str | None,
    audit_action: str,
) -> int:
    """Insert (forecast_id, intacct_key, recordno) links with their audit rows, in the caller's transaction."""
    now = datetime.now(UTC)
    payload = [
        {
            "entity_type": entity_type,
            "forecast_id": forecast_id,
            "intacct_key": key,
            "intacct_recordno": recordno,
            "origin": origin,
            "linked_at": now,
            "linked_by": actor,
            "run_id": run_id,
        }
        for forecast_id, key, recordno in rows
    ]
    if not payload:
        return 0
    connection.execute(insert(intacct_link), payload)
    connection.execute(
        insert(intacct_audit),
        [
            _audit_row(
                action=audit_action,
                entity_type=entity_type,
                forecast_id=p["forecast_id"],
                intacct_key=p["intacct_key"],
                before=None,
                after={"forecast_id": p["forecast_id"], "intacct_key": p["intacct_key"], "origin": origin},
                run_id=run_id,
                actor=actor,
                at=now,
            )
            for p in payload
        ],
    )
    return len(payload)


def check_link_request(
    existing: Sequence[Link],
    pairs: Sequence[LinkPair],
    *,
    forecast_ids: set[int],
    intacct_keys: set[str],
    entity_label: str,
    relink: bool,
) -> list[str]:
    """Every problem with a link request, each naming its pair; empty when it can be carried out."""
    problems: list[str] = []
    by_forecast = {link.forecast_id: link for link in existing}
    by_intacct = {link.intacct_key: link for link in existing}
    forecast_seen = Counter(p.forecast_id for p in pairs)
    intacct_seen = Counter(p.intacct_key for p in pairs)
    for pair in pairs:
        label = f"({pair.forecast_id}, {pair.intacct_key!r})"
        if pair.forecast_id not in forecast_ids:
            problems.append(f"{label}: no Forecast {entity_label} with id {pair.forecast_id}")
        if pair.intacct_key not in intacct_keys:
            problems.append(f"{label}: no Intacct record {pair.intacct_key!r}")
        if forecast_seen[pair.forecast_id] > 1:
            problems.append(f"{label}: Forecast {entity_label} {pair.forecast_id} appears more than once")
        if intacct_seen[pair.intacct_key] > 1:
            problems.append(f"{label}: Intacct record {pair.intacct_key!r} appears more than once")
        current = by_forecast.get(pair.forecast_id)
        if current and current.intacct_key == pair.intacct_key:
            problems.append(f"{label}: already linked to each other")
            continue
        if relink:
            continue
        if current:
            problems.append(
                f"{label}: Forecast {entity_label} {pair.forecast_id} is already linked to {current.intacct_key!r}"
            )
        other = by_intacct.get(pair.intacct_key)
        if other:
            problems.append(
                f"{label}: Intacct record {pair.intacct_key!r} is already linked to Forecast "
                f"{entity_label} {other.forecast_id}"
            )
    return problems


def replace_links(
    connection: Connection,
    entity_type: str,
    pairs: Sequence[LinkPair],
    recordnos: dict[str, int | None],
    *,
    run_id: str | None,
    actor: str | None,
) -> int:
    """Link each pair, first removing any link either side has (an explicit relink), all audited."""
    forecast_ids = [p.forecast_id for p in pairs]
    keys = [p.intacct_key for p in pairs]
    old = connection.execute(
        select(intacct_link).where(
            intacct_link.c.entity_type == entity_type,
            or_(intacct_link.c.forecast_id.in_(forecast_ids), intacct_link.c.intacct_key.in_(keys)),
        )
    ).mappings()
    for row in old:
        link = _row_to_link(row)
        audit(
            connection,
            action="unlink",
            entity_type=entity_type,
            forecast_id=link.forecast_id,
            intacct_key=link.intacct_key,
            before=link.as_audit(),
            after=None,
            run_id=run_id,
            actor=actor,
        )
        connection.execute(
            delete(intacct_link).where(
                and_(intacct_link.c.entity_type == entity_type, intacct_link.c.id == row["id"])
            )
        )
    return insert_links(
        connection,
        entity_type,
        [(p.forecast_id, p.intacct_key, recordnos.get(p.intacct_key)) for p in pairs],
        origin="link",
        run_id=run_id,
        actor=actor,
        audit_action="link",
    )


def remove_links(
    connection: Connection,
    entity_type: str,
    forecast_ids: Sequence[int],
    *,
    run_id: str | None,
    actor: str | None,
) -> list[Link]:
    """Unlink Forecast records; refuses the whole request if any of them is not linked."""
    _check_entity(entity_type)
    current = {link.forecast_id: link for link in links(connection, entity_type)}
    duplicates = sorted(i for i, n in Counter(forecast_ids).items() if n > 1)
    problems = [f"{i}: not linked" for i in forecast_ids if i not in current]
    problems += [f"{i}: appears more than once" for i in duplicates]
    if problems:
        raise LinkRequestRefused([f"unlink Forecast {entity_type} {p}" for p in problems])
    removed = []
    for forecast_id in forecast_ids:
        link = current[forecast_id]
        connection.execute(
            delete(intacct_link).where(
                intacct_link.c.entity_type == entity_type, intacct_link.c.forecast_id == forecast_id
            )
        )
        audit(
            connection,
            action="unlink",
            entity_type=entity_type,
            forecast_id=forecast_id,
            intacct_key=link.intacct_key,
            before=link.as_audit(),
            after=None,
            run_id=run_id,
            actor=actor,
        )
        removed.append(link)
    return removed


def follow_departments(connection: Connection, keys: Sequence[str]) -> None:
    """Mark team members (by LOGINID) whose department the sync keeps in step with Intacct."""
    for chunk in (list(keys)[i : i + 1000] for i in range(0, len(keys), 1000)):
        connection.execute(
            intacct_link.update()
            .where(intacct_link.c.entity_type == "person", intacct_link.c.intacct_key.in_(chunk))
            .values(follows_department=True)
        )
