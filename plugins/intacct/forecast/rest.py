"""The REST adapter: `ForecastTarget` over Forecast's public API (clients v1, persons v2, departments v1,
profiles v1), through `intacct.forecast.http.ForecastApi`.

What differs from the SQL adapter, and how the pipeline copes:
- Departments are read-only in the public API: no create or update capability, so a department import
  links by name instead (`intacct.apply`), and anything else is refused by the capability check.
- There is no transaction: records are created one POST each. Everything that can be checked is checked
  before the first POST (the profiles and departments people refer to); a failure after some records
  were created raises `PartialWrite` carrying them, so the caller links what exists.
- A POST whose outcome is unknown (5xx, a dropped connection) is settled before it is sent again: the
  records listed since are searched for one made from the same payload (`created_from`) with an id above
  every id seen before the POST. A retry therefore never creates a second record.
- People: a person's GET carries no profile (the API has it per person, one call each), so
  `ForecastPerson.profile_id` is None here. System users (`is_system_user`, Forecast's integrations) are
  read-only: they are not listed as team members, and updating one is refused before any request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from intacct.forecast.http import ForecastApi, ForecastApiError, ForecastNotFound
from intacct.forecast.target import (
    CREATE_CLIENTS,
    CREATE_PEOPLE,
    UPDATE_CLIENTS,
    UPDATE_PEOPLE,
    ForecastClient,
    ForecastDepartment,
    ForecastPerson,
    ForecastTarget,
    NewClient,
    NewDepartment,
    NewPerson,
    PartialWrite,
    Profile,
    RecordNotFound,
    UnsupportedOperation,
    check_new_records,
    client_changes,
    created_from,
    department_changes,
    person_changes,
)

CLIENTS = "v1/clients"
PERSONS = "v2/persons"
DEPARTMENTS = "v1/departments"
PROFILES = "v1/profiles"

Record = TypeVar("Record")


class RestForecastTarget(ForecastTarget):
    """`ForecastTarget` over Forecast's public REST API (see the module doc)."""

    capabilities = frozenset({CREATE_CLIENTS, UPDATE_CLIENTS, CREATE_PEOPLE, UPDATE_PEOPLE})

    def __init__(self, api: ForecastApi):
        self.api = api
        self._highest_id: dict[str, int] = {}  # per endpoint: the highest id this target has seen
        self._system_users: set[int] = set()

    def describe(self) -> str:
        return self.api.describe()

    # --- clients

    def list_clients(self) -> list[ForecastClient]:
        return self._list(CLIENTS, _client)

    def create_clients(self, new: Sequence[NewClient]) -> list[ForecastClient]:
        check_new_records(new, NewClient)
        return self._create(CLIENTS, new, _client_body, _client)

    def update_client(self, client_id: int, **changes: Any) -> ForecastClient:
        values = client_changes(changes)
        return _client(self._put(CLIENTS, "client", client_id, values))

    # --- departments (read-only in the public API)

    def list_departments(self) -> list[ForecastDepartment]:
        return self._list(DEPARTMENTS, _department)

    def create_departments(self, new: Sequence[NewDepartment]) -> list[ForecastDepartment]:
        raise UnsupportedOperation(
            f"{self.describe()} cannot create departments: Forecast's public API has them read-only; "
            "create them in Forecast (Admin > Departments), then link them"
        )

    def update_department(self, department_id: int, **changes: Any) -> ForecastDepartment:
        department_changes(changes)
        raise UnsupportedOperation(
            f"{self.describe()} cannot rename department {department_id}: Forecast's public API has "
            "departments read-only"
        )

    # --- people

    def list_people(self) -> list[ForecastPerson]:
        return self._list(PERSONS, _person)

    def create_people(self, new: Sequence[NewPerson]) -> list[ForecastPerson]:
        """Create team members; refused, with nothing written, when a profile or department is unknown."""
        check_new_records(new, NewPerson)
        if not new:
            return []
        profiles = {p.id for p in self.list_profiles()}
        departments = {d.id for d in self.list_departments()} if any(p.department_id for p in new) else set()
        problems = [
            *(
                f"unknown profile_id {p.profile_id} for {p.email}"
                for p in new
                if p.profile_id not in profiles
            ),
            *(
                f"unknown department_id {p.department_id} for {p.email}"
                for p in new
                if p.department_id is not None and p.department_id not in departments
            ),
        ]
        if problems:
            raise ValueError(f"create_people refused, nothing written: {'; '.join(problems)}")
        return self._create(PERSONS, new, _person_body, _person)

    def update_person(self, person_id: int, **changes: Any) -> ForecastPerson:
        values = person_changes(changes)
        if person_id in self._system_users:
            raise ValueError(
                f"update_person {person_id} refused: a Forecast system user (an integration) is read-only"
            )
        body = dict(values)
        if "profile_id" in body:
            body["profile_ids"] = [body.pop("profile_id")]
        return _person(self._put(PERSONS, "person", person_id, body))

    # --- profiles

    def list_profiles(self) -> list[Profile]:
        return sorted(
            (Profile(id=p["id"], name=p["name"]) for p in self.api.request("GET", PROFILES)),
            key=lambda p: p.id,
        )

    # --- shared

    def _rows(self, path: str) -> list[dict]:
        rows = self.api.request("GET", path)
        self._highest_id[path] = max([self._highest_id.get(path, 0), *(row["id"] for row in rows)])
        if path == PERSONS:
            self._system_users = {row["id"] for row in rows if row.get("is_system_user")}
            rows = [row for row in rows if not row.get("is_system_user")]
        return rows

    def _list(self, path: str, to_record: Callable[[dict], Record]) -> list[Record]:
        return sorted((to_record(row) for row in self._rows(path)), key=lambda r: r.id)

    def _put(self, path: str, entity: str, record_id: int, body: dict[str, Any]) -> dict:
        try:
            return self.api.request("PUT", f"{path}/{record_id}", body)
        except ForecastNotFound:
            raise RecordNotFound(entity, [record_id]) from None

    def _create(
        self,
        path: str,
        new: Sequence[Any],
        to_body: Callable[[Any], dict],
        to_record: Callable[[dict], Record],
    ) -> list[Record]:
        if path not in self._highest_id:
            self._rows(path)  # the ids that exist before this call: a record found later above them is new
        created: list[Record] = []
        try:
            for payload in new:
                floor = self._highest_id[path]

                def settle(payload=payload, floor=floor) -> dict | None:
                    # Did the POST land? Look before sending it again, so a retry never makes a twin.
                    return next(
                        (
                            row
                            for row in self._rows(path)
                            if row["id"] > floor and created_from(to_record(row), payload)
                        ),
                        None,
                    )

                row = self.api.request("POST", path, to_body(payload), settle=settle)
                self._highest_id[path] = max(self._highest_id[path], row["id"])
                created.append(to_record(row))
        except (ForecastApiError, ValueError, LookupError) as error:
            if created:
                raise PartialWrite(created, error) from error
            raise
        return created


def _client_body(c: NewClient) -> dict[str, Any]:
    return {name: value for name, value in vars(c).items() if value is not None}


def _person_body(p: NewPerson) -> dict[str, Any]:
    body: dict[str, Any] = {
        "first_name": p.first_name,
        "last_name": p.last_name,
        "email": p.email,
        "profile_ids": [p.profile_id],
        "active": p.active,
    }
    if p.department_id is not None:
        body["department_id"] = p.department_id
    return body


def _client(row: dict) -> ForecastClient:
    return ForecastClient(
        id=row["id"],
        name=row["name"],
        street=row.get("street"),
        zip=row.get("zip"),
        city=row.get("city"),
        country=row.get("country"),
        vat_number=row.get("vat_number"),
        notes=row.get("notes"),
    )


def _department(row: dict) -> ForecastDepartment:
    return ForecastDepartment(id=row["id"], name=row["name"])


def _person(row: dict) -> ForecastPerson:
    return ForecastPerson(
        id=row["id"],
        first_name=row.get("first_name"),
        last_name=row.get("last_name"),
        email=row.get("email"),
        profile_id=None,
        department_id=row.get("department_id"),
        active=bool(row.get("active", True)),
    )
