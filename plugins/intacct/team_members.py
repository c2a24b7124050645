"""What a team-member import adds to an import: the permission profile, and each person's Forecast
department taken from their Intacct employee (user → employee → department), which the hourly sync also
uses to move people whose department changed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from intacct import links as link_store
from intacct import staging
from intacct.forecast import target as ft
from intacct.objects import EMPLOYEE, USERINFO
from intacct.refusal import ImportRefused

if TYPE_CHECKING:  # apply builds on this module
    from intacct.apply import ImportRequest


def resolve_profile(target: ft.ForecastTarget, profile: str | int | None) -> int:
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
    resolve_profile(target, profile)
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


@dataclass
class TeamMemberSettings:
    profile_id: int | None = None
    departments: dict[str, int | None] = field(default_factory=dict)
    without_department: list[tuple[str, str | None]] = field(default_factory=list)
    updates: list[tuple[str, int, int | None, int]] = field(default_factory=list)


def team_member_settings(
    state_engine: Engine,
    target: ft.ForecastTarget,
    header,
    request: ImportRequest,
    to_create: dict[str, dict],
) -> TeamMemberSettings:
    """The profile and, when asked for, each person's Forecast department (refusing what cannot work)."""
    settings = TeamMemberSettings(profile_id=resolve_profile(target, request.profile))
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
    synced = staging.rows_by_key(state_engine, USERINFO, header["intacct_batch_id"], sorted(linked_people))
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
    users = staging.rows_by_key(state_engine, USERINFO, users_batch.id, sorted(following))
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
