"""Links an operator chose: link existing Forecast records to Intacct records one-to-one, unlink, relink;
checked against the plan's extraction and Forecast snapshot, written in one transaction under the apply
lock (`intacct.links` is the store they land in)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from intacct import links as link_store
from intacct import plan as plans
from intacct import staging
from intacct.entities import entity
from intacct.locks import apply_lock, owner_name
from intacct.objects import OBJECTS
from intacct.state.schema import forecast_snapshot_tables


@dataclass(frozen=True)
class LinkRequest:
    entity_type: str
    links: tuple[link_store.LinkPair, ...] = ()
    unlink: tuple[int, ...] = ()  # Forecast ids
    relink: bool = False
    dry_run: bool = False


@dataclass
class LinkOutcome:
    entity_type: str
    dry_run: bool
    linked: list[link_store.LinkPair] = field(default_factory=list)
    unlinked: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"linked": len(self.linked), "unlinked": len(self.unlinked)}


def check_links(state_engine: Engine, plan_id: int, request: LinkRequest) -> dict[str, int | None]:
    """Check a link/unlink request against its plan's batch and snapshot; returns each key's RECORDNO.

    Raises `LinkRequestRefused` listing every offending pair; nothing is written.
    """
    header = plans.plan_header(state_engine, plan_id)
    if header is None:
        raise link_store.LinkRequestRefused([f"plan {plan_id} does not exist"])
    spec = entity(request.entity_type)
    if header["entity_type"] != request.entity_type:
        raise link_store.LinkRequestRefused([f"plan {plan_id} is a {header['entity_type']} plan"])
    staged = staging.rows_by_key(
        state_engine,
        OBJECTS[spec.intacct_object],
        header["intacct_batch_id"],
        [p.intacct_key for p in request.links],
    )
    table = forecast_snapshot_tables[request.entity_type]
    with state_engine.connect() as connection:
        forecast_ids = set(
            connection.execute(
                select(table.c.forecast_id).where(table.c.snapshot_id == header["forecast_snapshot_id"])
            ).scalars()
        )
    existing = link_store.links(state_engine, request.entity_type)
    problems = link_store.check_link_request(
        existing,
        request.links,
        forecast_ids=forecast_ids,
        intacct_keys=set(staged),
        entity_label=request.entity_type,
        relink=request.relink,
    )
    linked = {link.forecast_id for link in existing}
    unlinking = set(request.unlink)
    problems += [
        f"unlink {i}: Forecast {request.entity_type} {i} is not linked"
        for i in request.unlink
        if i not in linked
    ]
    problems += [f"unlink {i}: appears more than once" for i, n in Counter(request.unlink).items() if n > 1]
    problems += [
        f"({p.forecast_id}, {p.intacct_key!r}): Forecast {request.entity_type} {p.forecast_id} is also being unlinked"
        for p in request.links
        if p.forecast_id in unlinking
    ]
    if problems:
        raise link_store.LinkRequestRefused(problems)
    return {key: row["recordno"] for key, row in staged.items()}


def link_selected(
    state_engine: Engine,
    plan_id: int,
    request: LinkRequest,
    *,
    run_id: str | None,
    actor: str | None = None,
) -> LinkOutcome:
    """Carry out a checked link/unlink request in one transaction (or only check it, for a dry run)."""
    outcome = LinkOutcome(request.entity_type, request.dry_run, list(request.links), list(request.unlink))
    if request.dry_run:
        check_links(state_engine, plan_id, request)
        return outcome
    # Under the import lock: an import between its Forecast write and its link write must not lose the race.
    with apply_lock(state_engine, request.entity_type, owner=owner_name(run_id)):
        recordnos = check_links(state_engine, plan_id, request)
        _write_links(state_engine, request, recordnos, run_id=run_id, actor=actor)
    return outcome


def _write_links(state_engine: Engine, request: LinkRequest, recordnos, *, run_id, actor) -> None:
    with state_engine.begin() as connection:
        if request.unlink:
            link_store.remove_links(
                connection, request.entity_type, request.unlink, run_id=run_id, actor=actor
            )
        if request.links:
            link_store.replace_links(
                connection, request.entity_type, request.links, recordnos, run_id=run_id, actor=actor
            )
