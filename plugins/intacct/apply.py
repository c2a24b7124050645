"""Apply: turn the operator's selection into Forecast records and links, exactly once.

Import, for each selected Intacct record of a plan:
1. everything is checked before anything is written (`check_import`); a refusal names each value;
2. one apply per entity type runs at a time (a lock row in the state database): a racing second run
   waits, then finds the records linked and skips them;
3. intents left by an earlier run that died are settled before the plan is made
   (`intents.recover_interrupted`, which every DAG runs ahead of its Forecast snapshot): the Forecast record the
   dead run created (newer than the intent's id floor, same values) is linked, or, if the write never
   happened, the intent is dropped. Intents that appear between plan and apply are recovered under the
   lock the same way, and the records whose write never happened are created then;
4. per batch: the intent is committed, the Forecast records are created in one call, then links, audit
   rows and intent removal are committed together.
This holds for a Forecast reached only through an API: no step relies on a transaction spanning Forecast
and the state database. Team members add a permission profile and departments (`team_members`); links an
operator chose are `linking`'s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from intacct import intents, staging, team_members
from intacct import links as link_store
from intacct import plan as plans
from intacct.entities import entity
from intacct.forecast import target as ft
from intacct.locks import apply_lock, owner_name
from intacct.objects import OBJECTS
from intacct.refusal import ImportRefused

IMPORTABLE = ("importable", "suggest_link")
ALREADY_LINKED = {"linked", "source_deleted", "orphan_link"}
EMPLOYEE_JOINS = ("contact", "email")
# Called at named points of an import; tests use it to inject crashes. Production passes nothing.
Checkpoint = Callable[[str], None]


@dataclass(frozen=True)
class ImportRequest:
    entity_type: str
    keys: tuple[str, ...]
    include_inactive: bool = False
    profile: str | int | None = None  # people: the permission profile, by name or id
    assign_departments: bool = False  # people: give each person the Forecast department of their employee
    employee_join: str = "contact"  # people: how users find their employee (shared contact, else email)
    employee_batch_id: int | None = None
    dry_run: bool = False


@dataclass
class ImportOutcome:
    entity_type: str
    dry_run: bool
    created: list[tuple[str, int | None]] = field(default_factory=list)  # (Intacct key, Forecast id)
    recovered: list[tuple[str, int]] = field(default_factory=list)
    skipped_linked: list[str] = field(default_factory=list)
    # (Intacct key, the Intacct DEPARTMENTID to link first; None without an employee or its department)
    without_department: list[tuple[str, str | None]] = field(default_factory=list)
    # (Intacct key, Forecast person, department before, department after)
    department_updates: list[tuple[str, int, int | None, int]] = field(default_factory=list)
    # (Intacct key, Forecast id) linked by name because the target cannot create the entity
    linked_by_name: list[tuple[str, int]] = field(default_factory=list)
    # people: (Intacct key, the Forecast department it was imported into)
    assigned_departments: list[tuple[str, int]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.created),
            "linked_by_name": len(self.linked_by_name),
            "recovered": len(self.recovered),
            "skipped_linked": len(self.skipped_linked),
            "assigned_departments": len(self.assigned_departments),
            "without_department": len(self.without_department),
            "department_updates": len(self.department_updates),
        }


@dataclass(frozen=True)
class _Selection:
    """A checked import request: what to create (payload per key) and what to skip."""

    to_create: dict[str, tuple[int | None, object]]  # key -> (recordno, New* payload)
    skipped_linked: list[str]
    without_department: list[tuple[str, str | None]]
    department_updates: list[tuple[str, int, int | None, int]]
    to_link: dict[str, tuple[int | None, int]] = field(default_factory=dict)  # key -> (recordno, Forecast id)


# -- checking ------------------------------------------------------------------------------------------


def linked_keys(engine: Engine, entity_type: str) -> set[str]:
    return {link.intacct_key for link in link_store.links(engine, entity_type)}


def links_by_name(capabilities: frozenset[str], entity_type: str) -> bool:
    """Whether importing `entity_type` into a target with `capabilities` links records matched by name
    instead of creating them (departments over Forecast's public API, which cannot create them)."""
    e = entity(entity_type)
    return e.link_by_name and e.create_capability not in capabilities


def importable_rows(engine: Engine, plan_id: int, *, include_inactive: bool) -> list[plans.PlanRow]:
    """The plan rows an import may select: importable, suggested, and (when asked) inactive ones not linked."""
    actions = [*IMPORTABLE, *(["source_inactive"] if include_inactive else [])]
    entity_type = plans.plan_header(engine, plan_id)["entity_type"]
    linked = linked_keys(engine, entity_type)
    return [r for r in plans.plan_rows(engine, plan_id, actions=actions) if r.intacct_key not in linked]


def _plan_header(engine: Engine, plan_id: int):
    header = plans.plan_header(engine, plan_id)
    if header is None:
        raise ImportRefused([f"plan {plan_id} does not exist"])
    return header


def _staged_rows(engine: Engine, object_name: str, batch_id: int, keys: Sequence[str]) -> dict[str, dict]:
    return staging.rows_by_key(engine, OBJECTS[object_name], batch_id, keys)


def _payload(entity_type: str, row: dict, *, profile_id: int | None, department_id: int | None):
    if entity_type == "client":
        return ft.NewClient(
            name=row["fc_name"],
            street=row["fc_street"],
            zip=row["fc_zip"],
            city=row["fc_city"],
            country=row["fc_country"],
            vat_number=row["fc_vat_number"],
        )
    if entity_type == "department":
        return ft.NewDepartment(name=row["fc_name"])
    return ft.NewPerson(
        first_name=row["fc_first_name"],
        last_name=row["fc_last_name"],
        email=row["fc_email"],
        profile_id=profile_id,
        department_id=department_id,
        active=row["status"] == "active" and not row["login_disabled"],
    )


def _request_problems(header, request: ImportRequest, target: ft.ForecastTarget, plan_id: int) -> list[str]:
    problems: list[str] = []
    if header["entity_type"] != request.entity_type:
        problems.append(f"plan {plan_id} is a {header['entity_type']} plan, not a {request.entity_type} plan")
    if request.employee_join not in EMPLOYEE_JOINS:
        problems.append(f"employee_join {request.employee_join!r} is not one of {', '.join(EMPLOYEE_JOINS)}")
    e = entity(request.entity_type)
    if not target.supports(e.create_capability) and not links_by_name(target.capabilities, e.entity_type):
        problems.append(f"{target.describe()} cannot create {e.forecast_records}: link them instead")
    duplicates = sorted(k for k, n in Counter(request.keys).items() if n > 1)
    problems += [f"{k!r} is selected more than once" for k in duplicates]
    if not request.keys:
        problems.append("no Intacct records were selected")
    return problems


def _classify(
    state_engine: Engine, plan_id: int, header, request: ImportRequest, target: ft.ForecastTarget
) -> tuple[dict[str, dict], list[str], list[str], dict[str, tuple[int | None, int]]]:
    """Sort the selected keys into (staged rows to create, keys already linked, problems, and, when the
    target links by name instead of creating, keys to link)."""
    by_name = links_by_name(target.capabilities, request.entity_type)
    to_link: dict[str, tuple[int | None, int]] = {}
    spec = entity(request.entity_type)
    rows = {r.intacct_key: r for r in plans.plan_rows(state_engine, plan_id, keys=request.keys)}
    staged = _staged_rows(state_engine, spec.intacct_object, header["intacct_batch_id"], request.keys)
    to_create: dict[str, dict] = {}
    skipped: list[str] = []
    problems: list[str] = []
    linked = linked_keys(state_engine, request.entity_type)
    for key in request.keys:
        row = rows.get(key)
        if row is None or key not in staged:
            problems.append(f"{key!r} is not an Intacct {spec.intacct_object} of this run's extraction")
        elif key in linked or row.action in ALREADY_LINKED:
            skipped.append(key)
        elif row.action == "conflict":
            problems.append(f"{key!r} cannot be imported: {row.reason}")
        elif row.action == "source_inactive" and not request.include_inactive:
            problems.append(f"{key!r} is inactive ({row.reason}); set include_inactive to import it")
        elif by_name and row.forecast_id is None:
            problems.append(
                f"{key!r} ({staged[key].get('fc_name') or 'no name'}) has no Forecast {spec.forecast_record} of the same "
                f"name, and {target.describe()} cannot create {spec.forecast_records}: create it in "
                "Forecast first (Admin > Departments), then run again, or leave it out"
            )
        elif by_name:
            to_link[key] = (staged[key]["recordno"], row.forecast_id)
        else:
            to_create[key] = staged[key]
    return to_create, skipped, problems, to_link


def check_import(
    state_engine: Engine, target: ft.ForecastTarget, plan_id: int, request: ImportRequest
) -> _Selection:
    """Check a whole import request against its plan; raise `ImportRefused` listing every problem."""
    header = _plan_header(state_engine, plan_id)
    problems = _request_problems(header, request, target, plan_id)
    if problems:
        raise ImportRefused(problems)
    to_create, skipped, problems, to_link = _classify(state_engine, plan_id, header, request, target)
    if problems:
        raise ImportRefused(problems)
    people = team_members.TeamMemberSettings()
    if request.entity_type == "person" and (to_create or skipped):
        people = team_members.team_member_settings(state_engine, target, header, request, to_create)
    try:
        payloads = {
            key: (
                row["recordno"],
                _payload(
                    request.entity_type,
                    row,
                    profile_id=people.profile_id,
                    department_id=people.departments.get(key),
                ),
            )
            for key, row in to_create.items()
        }
    except ValueError as exc:  # the target's own validation of a value Intacct gave us
        raise ImportRefused([str(exc)]) from None
    return _Selection(payloads, skipped, people.without_department, people.updates, to_link)


# -- writing -------------------------------------------------------------------------------------------


def _link_by_name(
    state_engine: Engine, entity_type: str, selection: _Selection, *, run_id, actor
) -> tuple[list[tuple[str, int]], list[str]]:
    """Link each selected record to the Forecast record of its name; returns (linked, skipped: linked
    meanwhile). Under the apply lock, so a racing run finds them linked."""
    with apply_lock(state_engine, entity_type, owner=owner_name(run_id)):
        existing = link_store.links(state_engine, entity_type)
        linked_keys_now = {link.intacct_key for link in existing}
        taken = {link.forecast_id for link in existing}
        skipped = [*selection.skipped_linked, *(k for k in selection.to_link if k in linked_keys_now)]
        todo = [
            (key, recordno, forecast_id)
            for key, (recordno, forecast_id) in selection.to_link.items()
            if key not in linked_keys_now
        ]
        clash = [f"{key!r} → Forecast record {fid}" for key, _, fid in todo if fid in taken]
        if clash:
            raise ImportRefused(
                [f"{c}: that Forecast record was linked by another run meanwhile" for c in clash]
            )
        intents.link_created(state_engine, entity_type, todo, run_id=run_id, actor=actor, origin="link")
    return [(key, forecast_id) for key, _, forecast_id in todo], skipped


def _settle_partial(
    state_engine: Engine, entity_type: str, chunk, partial: ft.PartialWrite, *, run_id, actor
) -> None:
    """Link what a failed create call did write. The failed record keeps its intent when its outcome is
    open (recovery settles it); when Forecast refused it, it and the rest were never written."""
    done = len(partial.created)
    created = [(key, recordno, r.id) for (key, (recordno, _)), r in zip(chunk, partial.created, strict=False)]
    intents.link_created(state_engine, entity_type, created, run_id=run_id, actor=actor)
    refused = isinstance(partial.cause, ValueError | LookupError)
    unwritten = chunk[done:] if refused else chunk[done + 1 :]
    intents.drop_intents(state_engine, entity_type, [key for key, _ in unwritten])


def import_selected(
    state_engine: Engine,
    target: ft.ForecastTarget,
    plan_id: int,
    request: ImportRequest,
    *,
    run_id: str | None,
    actor: str | None = None,
    batch_size: int = 1000,
    checkpoint: Checkpoint | None = None,
) -> ImportOutcome:
    """Import the selected Intacct records of a plan into Forecast and link them (see the module doc)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    mark = checkpoint or (lambda _point: None)
    selection = check_import(state_engine, target, plan_id, request)
    outcome = ImportOutcome(
        request.entity_type,
        request.dry_run,
        skipped_linked=selection.skipped_linked,
        without_department=selection.without_department,
        department_updates=selection.department_updates,
    )
    if request.dry_run:
        outcome.created = [(key, None) for key in selection.to_create]
        outcome.linked_by_name = [(key, forecast_id) for key, (_, forecast_id) in selection.to_link.items()]
        outcome.assigned_departments = _assigned_departments(selection, selection.to_create)
        return outcome
    if selection.to_link:
        outcome.linked_by_name, outcome.skipped_linked = _link_by_name(
            state_engine, request.entity_type, selection, run_id=run_id, actor=actor
        )
        return outcome

    entity_type = request.entity_type
    create = getattr(target, entity(entity_type).create_method)
    with apply_lock(state_engine, entity_type, owner=owner_name(run_id)) as heartbeat:
        recovered, redo = intents.recover(state_engine, target, entity_type, run_id=run_id, actor=actor)
        outcome.recovered = recovered
        # Another run may have linked some of the selection while we waited for the lock.
        linked_now = {link.intacct_key for link in link_store.links(state_engine, entity_type)}
        pending = [(k, v) for k, v in selection.to_create.items() if k not in linked_now]
        recovered_keys = {k for k, _ in recovered}
        outcome.skipped_linked += [
            k for k in selection.to_create if k in linked_now and k not in recovered_keys
        ]
        pending_keys = {k for k, _ in pending}
        pending += [(k, (recordno, payload)) for k, recordno, payload in redo if k not in pending_keys]
        floor = max((r.id for r in getattr(target, entity(entity_type).list_method)()), default=0)
        for start in range(0, len(pending), batch_size):
            chunk = pending[start : start + batch_size]
            mark("before_intent")
            intents.write_intents(state_engine, entity_type, chunk, floor, run_id)
            mark("after_intent")
            try:
                records = create([payload for _, (_, payload) in chunk])
            except ft.PartialWrite as partial:
                _settle_partial(state_engine, entity_type, chunk, partial, run_id=run_id, actor=actor)
                raise partial.cause from partial
            except (ValueError, LookupError):
                # The target refused the batch before writing (its contract): the intents promise nothing.
                intents.drop_intents(state_engine, entity_type, [key for key, _ in chunk])
                raise
            mark("after_forecast_write")
            created = [
                (key, recordno, record.id)
                for (key, (recordno, _)), record in zip(chunk, records, strict=True)
            ]
            intents.link_created(state_engine, entity_type, created, run_id=run_id, actor=actor)
            mark("after_link_write")
            outcome.created += [(key, forecast_id) for key, _, forecast_id in created]
            floor = max([floor, *(forecast_id for _, _, forecast_id in created)])
            heartbeat()
        team_members.move_people(
            state_engine,
            target,
            selection.department_updates,
            run_id=run_id,
            actor=actor,
            heartbeat=heartbeat,
        )
        outcome.assigned_departments = _assigned_departments(selection, [k for k, _ in outcome.created])
        if request.assign_departments:
            # From now on the sync keeps these people in their Intacct department.
            following = [k for k, _ in outcome.created + outcome.recovered] + outcome.skipped_linked
            with state_engine.begin() as connection:
                link_store.follow_departments(connection, following)
    return outcome


def _assigned_departments(selection: _Selection, keys) -> list[tuple[str, int]]:
    """(key, Forecast department) of the people among `keys` whose payload carries a department."""
    departments = {
        key: department
        for key, (_, payload) in selection.to_create.items()
        if (department := getattr(payload, "department_id", None)) is not None
    }
    return [(key, departments[key]) for key in keys if key in departments]
