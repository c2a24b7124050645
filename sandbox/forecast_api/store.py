"""The in-memory Forecast company: clients, persons, departments and profiles, behind one lock.

Records are dicts keyed by id; every read returns a copy, so a caller never holds a record the next
write changes. Ids start at 1 per resource, increase and are never reused (a reset starts a new company,
numbered from 1 again; built-in profiles keep their fixed negative ids). The store checks what needs the
company (references, unique e-mails, Forecast's rules on system users and deletions); the shape of values
is `resources`' job.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from .resources import (
    CLIENTS,
    PERSONS,
    PROFILES,
    RESOURCES,
    RecordError,
    Resource,
    invalid,
    person_defaults,
)

OWNER_ID = 1  # the admin person who owns the API key: created_by/updated_by of API writes
SYSTEM_USER_ID = 2
BUILTIN_PROFILES = (
    (-1, "Admin", False),
    (-2, "Controller", True),
    (-3, "Manager", True),
    (-4, "Coordinator", True),
    (-5, "Collaborator", True),
)
ADMIN_PROFILE = -1
TIMESTAMP = "%Y-%m-%dT%H:%M:%SZ"


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """A timestamp as Forecast writes it: UTC, whole seconds, "2026-12-02T18:46:56Z"."""
    return moment.astimezone(UTC).strftime(TIMESTAMP)


class Store:
    """One company. Thread-safe: every method holds `lock` (re-entrant; hold it to make several calls
    atomic). `clock` gives "now" for timestamps; replace it to pin them.

    `admin=True` on a write means the admin view's rules: `is_system_user` and `external_refs` settable,
    system users writable, any person deletable, and deleting a record unlinks the persons naming it.
    """

    def __init__(self, *, clock: Callable[[], datetime] = utc_now):
        self.lock = threading.RLock()
        self.clock = clock
        self._records: dict[str, dict[int, dict[str, Any]]] = {}
        self._next_id: dict[str, int] = {}
        self.reset()

    # ---- the company as a whole ---------------------------------------------------------------------

    def reset(self, at: datetime | None = None) -> None:
        """An empty company: built-in profiles, the API owner (person 1, an admin) and one system user."""
        when = stamp(at or self.clock())
        with self.lock:
            self._records = {name: {} for name in RESOURCES}
            self._next_id = dict.fromkeys(RESOURCES, 1)
            for profile_id, name, editable in BUILTIN_PROFILES:
                self._records["profiles"][profile_id] = {
                    "id": profile_id,
                    "name": name,
                    "can_be_edited": editable,
                    "profile_permission": [],
                }
            base = [
                {"first_name": "API", "last_name": "Owner", "email": "api.owner@sandbox-forecast.example"},
                {
                    "first_name": "Forecast",
                    "last_name": "Integrations",
                    "email": "integrations@sandbox-forecast.example",
                    "is_system_user": True,
                },
            ]
            for values in base:
                self._insert(PERSONS, {**values, "profile_ids": [ADMIN_PROFILE]}, actor=OWNER_ID, when=when)

    def counts(self) -> dict[str, int]:
        with self.lock:
            return {name: len(records) for name, records in self._records.items()}

    # ---- reads --------------------------------------------------------------------------------------

    def records(self, resource: str, *, admin: bool = False) -> list[dict[str, Any]]:
        """Every record of a resource, by id (built-in profiles first, Admin to Collaborator)."""
        kind = _resource(resource)
        with self.lock:
            ordered = sorted(self._records[resource].values(), key=_order)
            return [self._view(kind, record, admin) for record in ordered]

    def get(self, resource: str, record_id: int, *, admin: bool = False) -> dict[str, Any]:
        kind = _resource(resource)
        with self.lock:
            return self._view(kind, self._find(kind, record_id), admin)

    def profiles_of(self, person_id: int) -> list[dict[str, Any]]:
        """The profiles of a person, as GET /v1/profiles/person/{id} lists them."""
        with self.lock:
            person = self._find(PERSONS, person_id)
            return [self._view(PROFILES, self._records["profiles"][p], False) for p in person["profile_ids"]]

    # ---- writes -------------------------------------------------------------------------------------

    def create(
        self,
        resource: str,
        values: Mapping[str, Any],
        *,
        actor: int = OWNER_ID,
        admin: bool = False,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Create a record from request values; returns it as the caller's view shows it."""
        kind = _resource(resource)
        with self.lock:
            checked = kind.check(values, creating=True, admin=admin)
            self._check_references(kind, checked, None)
            record = self._insert(kind, checked, actor=actor, when=stamp(at or self.clock()))
            return self._view(kind, record, admin)

    def create_many(
        self, resource: str, items: Iterable[Mapping[str, Any]], *, actor: int = OWNER_ID, admin: bool = True
    ) -> list[dict[str, Any]]:
        """Create several records, all or none: the first refused item leaves the company as it was."""
        with self.lock:
            saved = copy.deepcopy((self._records, self._next_id))
            try:
                return [self.create(resource, item, actor=actor, admin=admin) for item in items]
            except RecordError:
                self._records, self._next_id = saved
                raise

    def update(
        self,
        resource: str,
        record_id: int,
        values: Mapping[str, Any],
        *,
        actor: int = OWNER_ID,
        admin: bool = False,
    ) -> dict[str, Any]:
        """Change the given fields of a record (a partial update); returns the record after it."""
        kind = _resource(resource)
        with self.lock:
            record = self._find(kind, record_id)
            self._refuse_system_user(kind, record, "updated", admin)
            if kind is PROFILES and not record["can_be_edited"]:
                raise invalid(f"profile {record_id} ({record['name']}) cannot be edited")
            checked = kind.check(values, creating=False, admin=admin)
            self._check_references(kind, checked, record_id)
            record.update(checked)
            if "updated_at" in record:
                record["updated_by"] = actor
                record["updated_at"] = stamp(self.clock())
            return self._view(kind, record, admin)

    def delete(self, resource: str, record_id: int, *, admin: bool = False) -> dict[str, Any]:
        """Delete a record; returns it as it was. Through the API only client users (persons with a
        client_id) can be deleted, and a client that client users belong to cannot."""
        kind = _resource(resource)
        with self.lock:
            record = self._find(kind, record_id)
            self._refuse_system_user(kind, record, "deleted", admin)
            if kind is PERSONS and not admin and record["client_id"] is None:
                raise invalid(
                    f"person {record_id} has no client_id: only persons with client_id not equal to null "
                    "can be deleted (deactivate team members with active: false)"
                )
            if kind is PERSONS and record_id == OWNER_ID:
                raise invalid(f"person {OWNER_ID} owns the API key and cannot be deleted")
            if kind is PROFILES:
                self._check_profile_deletable(record)
            users = self._persons_naming(kind, record_id)
            if users and not admin:
                raise invalid(
                    f"{kind.singular} {record_id} still has persons {', '.join(map(str, users))}; "
                    "delete them first"
                )
            for person_id in users:  # admin deletions unlink, as removing it in Forecast's UI would
                for name, target in PERSONS.references.items():
                    if target == kind.name and self._records["persons"][person_id][name] == record_id:
                        self._records["persons"][person_id][name] = None
            view = self._view(kind, record, admin)
            del self._records[kind.name][record_id]
            return view

    # ---- inside the lock ----------------------------------------------------------------------------

    def _insert(self, kind: Resource, values: Mapping[str, Any], *, actor: int, when: str) -> dict[str, Any]:
        record_id = self._next_id[kind.name]
        self._next_id[kind.name] += 1
        record: dict[str, Any] = {"id": record_id}
        if kind is PERSONS:
            record |= person_defaults(when[:10])
        elif kind is PROFILES:
            record |= {"can_be_edited": True, "profile_permission": []}
        elif kind is CLIENTS:
            record |= dict.fromkeys(("street", "zip", "city", "country", "vat_number", "notes"))
        record |= values
        if kind in (CLIENTS, PERSONS):
            record |= {"created_by": actor, "updated_by": actor, "created_at": when, "updated_at": when}
        self._records[kind.name][record_id] = record
        return record

    def _find(self, kind: Resource, record_id: int) -> dict[str, Any]:
        record = self._records[kind.name].get(record_id)
        if record is None:
            raise RecordError(404, f"there is no {kind.singular} with id {record_id}")
        return record

    def _view(self, kind: Resource, record: Mapping[str, Any], admin: bool) -> dict[str, Any]:
        names = (*kind.fields, *kind.hidden) if admin else kind.fields
        view = {name: copy.deepcopy(record.get(name)) for name in names}
        if kind is PROFILES:
            view["person_count"] = sum(
                record["id"] in person["profile_ids"] for person in self._records["persons"].values()
            )
        return view

    def _check_references(self, kind: Resource, values: Mapping[str, Any], record_id: int | None) -> None:
        for name, target in kind.references.items():
            value = values.get(name)
            if value is not None and value not in self._records[target]:
                raise invalid(f"{name} {value}: there is no {RESOURCES[target].singular} with that id")
        for profile_id in values.get("profile_ids", ()):
            if profile_id not in self._records["profiles"]:
                raise invalid(
                    f"profile_ids: there is no profile with id {profile_id} (see GET /api/v1/profiles)"
                )
        if "email" in values:
            owner = self._email_owner(values["email"])
            if owner is not None and owner != record_id:
                raise invalid(f"email {values['email']} is already used by person {owner}")

    def _email_owner(self, address: str) -> int | None:
        wanted = address.casefold()
        for person in self._records["persons"].values():
            if person["email"].casefold() == wanted:
                return person["id"]
        return None

    def _refuse_system_user(self, kind: Resource, record: Mapping[str, Any], what: str, admin: bool) -> None:
        if kind is PERSONS and record["is_system_user"] and not admin:
            raise RecordError(
                403,
                f"person {record['id']} is a system user (used internally by Forecast, e.g. for "
                f"integrations): it can only be fetched, not {what}",
            )

    def _persons_naming(self, kind: Resource, record_id: int) -> list[int]:
        fields = [name for name, target in PERSONS.references.items() if target == kind.name]
        return [
            person["id"]
            for person in self._records["persons"].values()
            if any(person[name] == record_id for name in fields)
        ]

    def _check_profile_deletable(self, record: Mapping[str, Any]) -> None:
        if record["id"] < 0:
            raise invalid(f"profile {record['id']} ({record['name']}) is built in and cannot be deleted")
        holders = [p["id"] for p in self._records["persons"].values() if record["id"] in p["profile_ids"]]
        if holders:
            raise invalid(f"profile {record['id']} is held by persons {', '.join(map(str, holders))}")


def _resource(name: str) -> Resource:
    kind = RESOURCES.get(name)
    if kind is None:
        raise RecordError(404, f"unknown resource {name!r}; known: {', '.join(RESOURCES)}")
    return kind


def _order(record: Mapping[str, Any]) -> tuple[bool, int]:
    return record["id"] > 0, abs(record["id"])
