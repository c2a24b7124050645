"""Apply: turn the operator's selection into Forecast records and links, exactly once.

Import, for each selected Intacct record of a plan:
1. everything is checked before anything is written (`check_import`); a refusal names each value;
2. one apply per entity type runs at a time (a lock row in the state database): a racing second run
   waits, then finds the records linked and skips them;
3. intents left by an earlier run that died are settled before the plan is made
   (`recover_interrupted`, which every DAG runs ahead of its Forecast snapshot): the Forecast record the
   dead run created (newer than the intent's id floor, same values) is linked, or, if the write never
   happened, the intent is dropped. Intents that appear between plan and apply are recovered under the
   lock the same way, and the records whose write never happened are created then;
4. per batch: the intent is committed, the Forecast records are created in one call, then links, audit
   rows and intent removal are committed together.
This holds for a Forecast reached only through an API: no step relies on a transaction spanning Forecast
and the state database.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select

from intacct import links as link_store
from intacct import plan as plans
from intacct import staging
from intacct.entities import entity
from intacct.forecast import target as ft
from intacct.locks import ApplyBusy, apply_lock  # noqa: F401  (ApplyBusy: callers catch it from here)
from intacct.objects import EMPLOYEE, OBJECTS, USERINFO
from intacct.refusal import Refused
from intacct.schema import (
    forecast_snapshot_tables,
    intacct_import_intent,
)

log = logging.getLogger(__name__)

IMPORTABLE = ("importable", "suggest_link")
ALREADY_LINKED = {"linked", "source_deleted", "orphan_link"}
EMPLOYEE_JOINS = ("contact", "email")
# Called at named points of an import; tests use it to inject crashes. Production passes nothing.
Checkpoint = Callable[[str], None]


class ImportRefused(Refused):
    """An import request that cannot be carried out; nothing was written. `problems` names each value."""

    prefix = "import refused, nothing was written"


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

    def counts(self) -> dict[str, int]:
        return {
            "created": len(self.created),
            "linked_by_name": len(self.linked_by_name),
            "recovered": len(self.recovered),
            "skipped_linked": len(self.skipped_linked),
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


def _resolve_profile(target: ft.ForecastTarget, profile: str | int | None) -> int:
    profiles = target.list_profiles()
    names = ", ".join(p.name for p in profiles)
    if profile is None:
        raise ImportRefused([f"permission_level is required for team members: one of {names}"])
    for candidate in profiles:
        if candidate.id == profile or (
            isinstance(profile, str) and candidate.name.lower() == profile.lower()
        ):
            return candidate.id
    raise ImportRefused(
        [f"permission_level {profile!r} is not a Forecast permission profile: use one of {names}"]
    )


def _department_links(state_engine: Engine) -> list[link_store.Link]:
    """The department links that assigning needs; refused when there is none at all."""
    found = link_store.links(state_engine, "department")
    if not found:
        raise ImportRefused(
            [
                "assign_departments was asked for, but no Intacct department is linked to Forecast yet: "
                "import or link departments first"
            ]
        )
    return found


def check_team_member_options(
    state_engine: Engine, target: ft.ForecastTarget, *, profile: str | int | None, assign_departments: bool
) -> None:
    """Refuse, before anything is read from Intacct, a team-member import that cannot work whatever is
    selected: no or an unknown permission profile, or departments to assign with none linked."""
    _resolve_profile(target, profile)
    if assign_departments:
        _department_links(state_engine)


def _employee_departments(
    engine: Engine, users: dict[str, dict], employee_batch_id: int | None, join: str
) -> dict[str, str | None]:
    """Intacct DEPARTMENTID of each user's employee: by shared contact name, else by email."""
    if employee_batch_id is None:
        latest = staging.latest_batch(engine, EMPLOYEE.name, kinds=("full",))  # all employees, not a subset
        if latest is None:
            raise ImportRefused(
                ["assign_departments needs an extraction of Intacct employees; none was found"]
            )
        employee_batch_id = latest.id
    employees = staging.batch_rows(engine, EMPLOYEE, employee_batch_id)
    by_contact = {e["contact_name"]: e for e in employees if e["contact_name"]}
    by_email = {e["email_key"]: e for e in employees if e["email_key"]}
    result: dict[str, str | None] = {}
    for key, user in users.items():
        employee = None
        if join == "contact" and user.get("contact_name"):
            employee = by_contact.get(user["contact_name"])
        if employee is None and user.get("email_key"):
            employee = by_email.get(user["email_key"])
        result[key] = employee["department_id"] if employee else None
    return result


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


@dataclass
class _TeamMemberSettings:
    profile_id: int | None = None
    departments: dict[str, int | None] = field(default_factory=dict)
    without_department: list[tuple[str, str | None]] = field(default_factory=list)
    updates: list[tuple[str, int, int | None, int]] = field(default_factory=list)


def _team_member_settings(
    state_engine: Engine,
    target: ft.ForecastTarget,
    header,
    request: ImportRequest,
    to_create: dict[str, dict],
) -> _TeamMemberSettings:
    """The profile and, when asked for, each person's Forecast department (refusing what cannot work)."""
    settings = _TeamMemberSettings(profile_id=_resolve_profile(target, request.profile))
    if not request.assign_departments:
        return settings
    all_links = _department_links(state_engine)
    # A linked department deleted in Forecast since counts as not linked: its people go without one.
    existing = {d.id for d in target.list_departments()}
    department_links = {
        link.intacct_key: link.forecast_id for link in all_links if link.forecast_id in existing
    }
    # As the product does: the people imported now, and every team member synced before whose Intacct
    # department changed since (those of this run's users extraction).
    linked_people = {link.intacct_key: link.forecast_id for link in link_store.links(state_engine, "person")}
    synced = _staged_rows(state_engine, USERINFO.name, header["intacct_batch_id"], sorted(linked_people))
    users = {**synced, **to_create}
    employee_departments = _employee_departments(
        state_engine, users, request.employee_batch_id, request.employee_join
    )
    for key in users:
        settings.departments[key] = department_links.get(employee_departments.get(key) or "")
    settings.without_department = sorted(
        (k, employee_departments.get(k)) for k in to_create if settings.departments[k] is None
    )
    settings.updates = _moves(target, linked_people, {k: settings.departments.get(k) for k in synced})
    return settings


def _moves(
    target: ft.ForecastTarget, people: dict[str, int], departments: dict[str, int | None]
) -> list[tuple[str, int, int | None, int]]:
    """(key, person, department before, after) of the linked people whose Forecast department is not the
    one their Intacct department is linked to (people whose department is not linked stay as they are)."""
    wanted = {k: d for k, d in departments.items() if d is not None and k in people}
    if not wanted:
        return []
    current = {p.id: p.department_id for p in target.list_people()}
    return [
        (key, people[key], current[people[key]], department)
        for key, department in sorted(wanted.items())
        if people[key] in current and current[people[key]] != department
    ]


def department_moves(
    state_engine: Engine, target: ft.ForecastTarget, *, employee_batch_id: int, join: str = "contact"
) -> list[tuple[str, int, int | None, int]]:
    """For the sync: the team members synced with assign_departments whose Intacct employee (as read in
    `employee_batch_id`, e.g. the employees changed since the last run) is now in another linked department."""
    following = {
        link.intacct_key: link.forecast_id
        for link in link_store.links(state_engine, "person")
        if link.follows_department
    }
    users_batch = staging.latest_batch(state_engine, USERINFO.name, kinds=("full",))
    if not following or users_batch is None:
        return []
    users = _staged_rows(state_engine, USERINFO.name, users_batch.id, sorted(following))
    employee_departments = _employee_departments(state_engine, users, employee_batch_id, join)
    existing = {d.id for d in target.list_departments()}
    department_links = {
        link.intacct_key: link.forecast_id
        for link in link_store.links(state_engine, "department")
        if link.forecast_id in existing
    }
    return _moves(
        target,
        following,
        {k: department_links.get(d) for k, d in employee_departments.items() if d is not None},
    )


def move_people(
    state_engine: Engine,
    target: ft.ForecastTarget,
    moves: Sequence[tuple[str, int, int | None, int]],
    *,
    run_id: str | None,
    actor: str | None,
    heartbeat: Callable[[], None] = lambda: None,
) -> None:
    """Give each person their new Forecast department, one audit row per change."""
    for key, person_id, before, after in moves:
        heartbeat()
        target.update_person(person_id, department_id=after)
        with state_engine.begin() as connection:
            link_store.audit(
                connection,
                action="update",
                entity_type="person",
                forecast_id=person_id,
                intacct_key=key,
                before={"department_id": before},
                after={"department_id": after},
                run_id=run_id,
                actor=actor,
            )


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
    people = _TeamMemberSettings()
    if request.entity_type == "person" and (to_create or skipped):
        people = _team_member_settings(state_engine, target, header, request, to_create)
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


def _payload_json(payload) -> str:
    return json.dumps({"type": type(payload).__name__, **vars(payload)}, sort_keys=True)


def _payload_from_json(entity_type: str, text: str):
    values = json.loads(text)
    values.pop("type")
    return entity(entity_type).new_record(**values)


def _write_intents(state_engine: Engine, entity_type: str, items, floor: int, run_id: str | None) -> None:
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


def _link_created(
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


def _link_by_name(
    state_engine: Engine, entity_type: str, selection: _Selection, *, run_id, actor
) -> tuple[list[tuple[str, int]], list[str]]:
    """Link each selected record to the Forecast record of its name; returns (linked, skipped: linked
    meanwhile). Under the apply lock, so a racing run finds them linked."""
    with apply_lock(state_engine, entity_type, owner=_lock_owner(run_id)):
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
        _link_created(state_engine, entity_type, todo, run_id=run_id, actor=actor, origin="link")
    return [(key, forecast_id) for key, _, forecast_id in todo], skipped


def _settle_partial(
    state_engine: Engine, entity_type: str, chunk, partial: ft.PartialWrite, *, run_id, actor
) -> None:
    """Link what a failed create call did write. The failed record keeps its intent when its outcome is
    open (recovery settles it); when Forecast refused it, it and the rest were never written."""
    done = len(partial.created)
    created = [(key, recordno, r.id) for (key, (recordno, _)), r in zip(chunk, partial.created, strict=False)]
    _link_created(state_engine, entity_type, created, run_id=run_id, actor=actor)
    refused = isinstance(partial.cause, ValueError | LookupError)
    unwritten = chunk[done:] if refused else chunk[done + 1 :]
    _drop_intents(state_engine, entity_type, [key for key, _ in unwritten])


def _drop_intents(state_engine: Engine, entity_type: str, keys: Sequence[str]) -> None:
    if keys:
        with state_engine.begin() as connection:
            connection.execute(
                delete(intacct_import_intent).where(
                    intacct_import_intent.c.entity_type == entity_type,
                    intacct_import_intent.c.intacct_key.in_(list(keys)),
                )
            )


def _lock_owner(run_id: str | None) -> str:
    # Run ids repeat across DAGs (scheduled__<date>): the owner must name this very apply.
    return f"{run_id or 'apply'}:{uuid.uuid4().hex[:12]}"


def _recover(
    state_engine: Engine,
    target: ft.ForecastTarget,
    entity_type: str,
    *,
    run_id: str | None,
    actor: str | None,
) -> tuple[list[tuple[str, int]], list[tuple[str, int | None, object]]]:
    """Finish what a dead run started. Returns (linked after recovery, still to create)."""
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
        _link_created(state_engine, entity_type, recovered, run_id=run_id, actor=actor)
        log.warning("recovered %d %s import(s) interrupted by an earlier run", len(recovered), entity_type)
    _drop_intents(state_engine, entity_type, stale + [key for key, _, _ in redo])
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
    with apply_lock(state_engine, entity_type, owner=_lock_owner(run_id)):
        linked, never_written = _recover(state_engine, target, entity_type, run_id=run_id, actor=actor)
    dropped = [key for key, _, _ in never_written]
    if dropped:
        log.warning(
            "%d %s import(s) of an interrupted run never reached Forecast: dropped, select them again",
            len(dropped),
            entity_type,
        )
    return Recovery(linked, dropped)


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
        return outcome
    if selection.to_link:
        outcome.linked_by_name, outcome.skipped_linked = _link_by_name(
            state_engine, request.entity_type, selection, run_id=run_id, actor=actor
        )
        return outcome

    entity_type = request.entity_type
    create = getattr(target, entity(entity_type).create_method)
    with apply_lock(state_engine, entity_type, owner=_lock_owner(run_id)) as heartbeat:
        recovered, redo = _recover(state_engine, target, entity_type, run_id=run_id, actor=actor)
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
            _write_intents(state_engine, entity_type, chunk, floor, run_id)
            mark("after_intent")
            try:
                records = create([payload for _, (_, payload) in chunk])
            except ft.PartialWrite as partial:
                _settle_partial(state_engine, entity_type, chunk, partial, run_id=run_id, actor=actor)
                raise partial.cause from partial
            except (ValueError, LookupError):
                # The target refused the batch before writing (its contract): the intents promise nothing.
                _drop_intents(state_engine, entity_type, [key for key, _ in chunk])
                raise
            mark("after_forecast_write")
            created = [
                (key, recordno, record.id)
                for (key, (recordno, _)), record in zip(chunk, records, strict=True)
            ]
            _link_created(state_engine, entity_type, created, run_id=run_id, actor=actor)
            mark("after_link_write")
            outcome.created += [(key, forecast_id) for key, _, forecast_id in created]
            floor = max([floor, *(forecast_id for _, _, forecast_id in created)])
            heartbeat()
        move_people(
            state_engine,
            target,
            selection.department_updates,
            run_id=run_id,
            actor=actor,
            heartbeat=heartbeat,
        )
        if request.assign_departments:
            # From now on the sync keeps these people in their Intacct department.
            following = [k for k, _ in outcome.created + outcome.recovered] + outcome.skipped_linked
            with state_engine.begin() as connection:
                link_store.follow_departments(connection, following)
    return outcome


# -- links ---------------------------------------------------------------------------------------------


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
    header = _plan_header(state_engine, plan_id)
    spec = entity(request.entity_type)
    if header["entity_type"] != request.entity_type:
        raise link_store.LinkRequestRefused([f"plan {plan_id} is a {header['entity_type']} plan"])
    staged = _staged_rows(
        state_engine, spec.intacct_object, header["intacct_batch_id"], [p.intacct_key for p in request.links]
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
    with apply_lock(state_engine, request.entity_type, owner=_lock_owner(run_id)):
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
