"""What an operator can choose from a plan: records to import (by name, or "all of them") and links.

The selection step (a person picks from a list) and `select_all` (no list at all: a company of 18,000
customers does not fit a command line) read the same candidates, so they can never disagree; the link
DAGs' selection step offers the plan's suggested links.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from intacct import apply, staging
from intacct import plan as plans
from intacct.entities import entity
from intacct.links import LinkPair
from intacct.objects import OBJECTS


@dataclass(frozen=True)
class Candidate:
    key: str  # the Intacct id
    name: str
    email: str  # users: how a person tells two namesakes apart ("" for other records)
    matches_forecast: bool  # a Forecast record looks like it (a suggested link): importing adds a twin


def display_name(row: dict) -> str:
    """The name a person knows a staged Intacct record by."""
    if row.get("fc_name"):
        return str(row["fc_name"])
    person = " ".join(str(row[k]) for k in ("fc_first_name", "fc_last_name") if row.get(k))
    return person or str(row.get("fc_email") or "")


def candidates(
    engine: Engine,
    plan_id: int,
    *,
    include_inactive: bool,
    name_filter: str | None = None,
    by_name: bool = False,
) -> list[Candidate]:
    """The plan's records that may be imported (see `apply.importable_rows`), in id order, optionally only
    those whose name contains `name_filter` (ignoring case). `by_name` (the target links instead of
    creating, `apply.links_by_name`): only those matching a Forecast record, the only ones it can import."""
    found = _importable(engine, plan_id, include_inactive=include_inactive, name_filter=name_filter)
    return [c for c in found if c.matches_forecast] if by_name else found


def without_match(
    engine: Engine, plan_id: int, *, include_inactive: bool, name_filter: str | None = None
) -> list[Candidate]:
    """The importable records no Forecast record matches: what a target that links by name cannot import
    (they must be created in Forecast first)."""
    found = _importable(engine, plan_id, include_inactive=include_inactive, name_filter=name_filter)
    return [c for c in found if not c.matches_forecast]


def _importable(
    engine: Engine, plan_id: int, *, include_inactive: bool, name_filter: str | None
) -> list[Candidate]:
    header = plans.plan_header(engine, plan_id)
    rows = apply.importable_rows(engine, plan_id, include_inactive=include_inactive)
    spec = OBJECTS[entity(header["entity_type"]).intacct_object]
    staged = staging.rows_by_key(engine, spec, header["intacct_batch_id"], [r.intacct_key for r in rows])
    found = []
    for r in rows:
        row = staged.get(r.intacct_key, {})
        email = str(row.get("fc_email") or "")
        found.append(Candidate(r.intacct_key, display_name(row), email, r.forecast_id is not None))
    if name_filter:
        wanted = name_filter.casefold()
        found = [c for c in found if wanted in c.name.casefold()]
    return found


@dataclass(frozen=True)
class AllImportable:
    keys: list[str]
    left_out: list[Candidate]  # candidates that match a Forecast record: link them, or name them


def select_all(
    engine: Engine,
    plan_id: int,
    *,
    include_inactive: bool,
    name_filter: str | None = None,
    by_name: bool = False,
) -> AllImportable:
    """Every candidate that matches no Forecast record. Those that do are left out: importing them all
    unseen would put a twin beside each existing Forecast record; they are linked, or named one by one.
    `by_name`: the opposite, every candidate matching a Forecast record (they are linked to it)."""
    found = candidates(engine, plan_id, include_inactive=include_inactive, name_filter=name_filter)
    if by_name:
        return AllImportable([c.key for c in found if c.matches_forecast], [])
    return AllImportable(
        [c.key for c in found if not c.matches_forecast], [c for c in found if c.matches_forecast]
    )


def suggested_links(
    engine: Engine, plan_id: int, *, name_filter: str | None = None
) -> list[tuple[str, LinkPair]]:
    """The plan's suggested links as (label, pair), most confident first: the label (ids, confidence and
    reason, no names) is what a person picks in the link DAGs' selection step."""
    header = plans.plan_header(engine, plan_id)
    e = entity(header["entity_type"])
    rows = sorted(
        plans.plan_rows(engine, plan_id, actions=["suggest_link"]),
        key=lambda r: (-(r.confidence or 0), r.intacct_key or ""),
    )
    if name_filter:
        staged = staging.rows_by_key(
            engine, OBJECTS[e.intacct_object], header["intacct_batch_id"], [r.intacct_key for r in rows]
        )
        wanted = name_filter.casefold()
        rows = [r for r in rows if wanted in display_name(staged.get(r.intacct_key, {})).casefold()]
    return [
        (
            f"{r.intacct_key} → Forecast {e.forecast_record} {r.forecast_id} ({r.confidence:.0%}: {r.reason})",
            LinkPair(r.forecast_id, r.intacct_key),
        )
        for r in rows
    ]
