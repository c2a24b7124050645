"""The interface to Forecast: what the pipeline reads from it and writes to it, whatever the adapter.

Everything above this module talks to Forecast only through `ForecastTarget`; the SQL adapter
(`intacct.forecast.sql`) and the later REST adapter implement it. Field names are those of Forecast's
public API (clients v1, persons v2, departments v1, profiles v1), so a value means the same thing on both.

Not every adapter can do everything: Forecast's public API has departments read-only, so the REST adapter
cannot create or rename them. Callers check `capabilities` (or call `require`) instead of assuming SQL.

Validation lives here, once, so every adapter refuses the same bad values with the same message:
`NewClient`, `NewDepartment` and `NewPerson` check themselves on construction, and `client_changes`,
`department_changes` and `person_changes` check the keyword arguments of an update.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

CREATE_CLIENTS = "create_clients"
UPDATE_CLIENTS = "update_clients"
CREATE_DEPARTMENTS = "create_departments"
UPDATE_DEPARTMENTS = "update_departments"
CREATE_PEOPLE = "create_people"
UPDATE_PEOPLE = "update_people"
ALL_CAPABILITIES = frozenset(
    {CREATE_CLIENTS, UPDATE_CLIENTS, CREATE_DEPARTMENTS, UPDATE_DEPARTMENTS, CREATE_PEOPLE, UPDATE_PEOPLE}
)

# The profiles every Forecast company starts with (its five core permission levels).
DEFAULT_PROFILES = ("Admin", "Controller", "Manager", "Coordinator", "Collaborator")

CLIENT_FIELDS = ("name", "street", "zip", "city", "country", "vat_number", "notes")
DEPARTMENT_FIELDS = ("name",)
PERSON_FIELDS = ("first_name", "last_name", "email", "profile_id", "department_id", "active")

_COUNTRY = re.compile(r"[A-Z]{2}")


class UnsupportedOperation(NotImplementedError):
    """The target cannot do this at all (e.g. create departments through Forecast's public API)."""


class PartialWrite(Exception):
    """A create call of an adapter without transactions failed after writing some of its records.

    `created` holds those records, in input order (the first `len(created)` of the input); `cause` is
    the failure. The records after them were not written, except perhaps the one that failed when
    `cause` leaves its outcome open: crash recovery settles that one.
    """

    def __init__(self, created: Sequence[object], cause: Exception):
        self.created = list(created)
        self.cause = cause
        super().__init__(f"{cause} (after {len(self.created)} record(s) of the call were created)")


class RecordNotFound(LookupError):
    """An id that does not exist in Forecast; `entity` and `ids` say which."""

    def __init__(self, entity: str, ids: Sequence[int]):
        self.entity = entity
        self.ids = tuple(ids)
        super().__init__(f"no Forecast {entity} with id {', '.join(str(i) for i in self.ids)}")


# --- what Forecast has -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastClient:
    id: int
    name: str
    street: str | None
    zip: str | None
    city: str | None
    country: str | None  # ISO 3166-1 alpha-2
    vat_number: str | None
    notes: str | None


@dataclass(frozen=True)
class ForecastDepartment:
    id: int
    name: str


@dataclass(frozen=True)
class ForecastPerson:
    id: int
    first_name: str | None
    last_name: str | None
    email: str | None
    profile_id: int | None  # None when the target does not report it (the REST API, per person only)
    department_id: int | None
    active: bool


@dataclass(frozen=True)
class Profile:
    """A permission profile (Admin, Controller, Manager, Coordinator, Collaborator, or a custom one)."""

    id: int
    name: str


# --- what the pipeline asks Forecast to create -----------------------------------------------------


@dataclass(frozen=True)
class NewClient:
    """A client to create; refused on construction when the name is blank or the country is no ISO code."""

    name: str
    street: str | None = None
    zip: str | None = None
    city: str | None = None
    country: str | None = None
    vat_number: str | None = None
    notes: str | None = None

    def __post_init__(self) -> None:
        _check_client_fields(vars(self))


@dataclass(frozen=True)
class NewDepartment:
    """A department to create; refused on construction when the name is blank."""

    name: str

    def __post_init__(self) -> None:
        _check_required_text("department", "name", self.name)


@dataclass(frozen=True)
class NewPerson:
    """A team member to create.

    Refused on construction when both names are blank, the email is not one address (people sign in to
    Forecast with it), `profile_id` is not an integer, `department_id` is neither an integer nor None, or
    `active` is not a bool. Whether the profile and department exist is the adapter's check.
    """

    first_name: str | None
    last_name: str | None
    email: str
    profile_id: int
    department_id: int | None = None
    active: bool = True

    def __post_init__(self) -> None:
        _check_person_fields(vars(self))
        if not (self.first_name or "").strip() and not (self.last_name or "").strip():
            raise ValueError(f"person {self.email!r}: first_name and last_name are both empty")


def check_new_records(new: Sequence[object], expected: type) -> None:
    """Raise TypeError, naming the wrong types, unless every item of a `create_*` call is `expected`."""
    wrong = [type(item).__name__ for item in new if not isinstance(item, expected)]
    if wrong:
        raise TypeError(f"expected {expected.__name__} items, got {', '.join(sorted(set(wrong)))}")


def created_from(record: object, payload: object) -> bool:
    """Whether `record` is what creating `payload` made: how a write whose outcome is unknown is found.

    People are found by email, their sign-in to Forecast (unique there, and the one field every adapter
    reports as given); other records by every field of the payload.
    """
    if isinstance(payload, NewPerson):
        return (getattr(record, "email", None) or "").lower() == payload.email.lower()
    return all(getattr(record, name, None) == value for name, value in vars(payload).items())


# --- validation of updates -------------------------------------------------------------------------


def client_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes of `update_client`, checked: unknown field names and bad values raise ValueError."""
    _check_field_names("client", CLIENT_FIELDS, changes)
    _check_client_fields(changes)
    return dict(changes)


def department_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes of `update_department`, checked like `client_changes`."""
    _check_field_names("department", DEPARTMENT_FIELDS, changes)
    if "name" in changes:
        _check_required_text("department", "name", changes["name"])
    return dict(changes)


def person_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The changes of `update_person`, checked like `client_changes` (references are the adapter's check)."""
    _check_field_names("person", PERSON_FIELDS, changes)
    _check_person_fields(changes)
    return dict(changes)


def _check_field_names(entity: str, allowed: Sequence[str], changes: Mapping[str, Any]) -> None:
    unknown = sorted(set(changes) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown {entity} field(s) {', '.join(map(repr, unknown))}: expected some of {', '.join(allowed)}"
        )


def _check_required_text(entity: str, field: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{entity} {field} must be a non-empty string, got {value!r}")


def _check_optional_text(entity: str, field: str, value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{entity} {field} must be a string or None, got {value!r}")


def _check_client_fields(values: Mapping[str, Any]) -> None:
    if "name" in values:
        _check_required_text("client", "name", values["name"])
    for field in ("street", "zip", "city", "vat_number", "notes"):
        if field in values:
            _check_optional_text("client", field, values[field])
    country = values.get("country")
    if country is not None and not (isinstance(country, str) and _COUNTRY.fullmatch(country)):
        which = f"client {values['name']!r}" if "name" in values else "client"
        raise ValueError(
            f"{which}: country {country!r} is not an ISO 3166-1 alpha-2 code (two upper-case letters) or None"
        )


def _check_person_fields(values: Mapping[str, Any]) -> None:
    for field in ("first_name", "last_name"):
        if field in values:
            _check_optional_text("person", field, values[field])
    if "email" in values:
        email = values["email"]
        local, at, domain = email.partition("@") if isinstance(email, str) else ("", "", "")
        if not (at and local and domain and "@" not in domain and not any(c.isspace() for c in email)):
            raise ValueError(f"person email {email!r} is not one email address (without spaces)")
    if "profile_id" in values and not _is_int(values["profile_id"]):
        raise ValueError(f"person profile_id must be an integer, got {values['profile_id']!r}")
    if (
        "department_id" in values
        and values["department_id"] is not None
        and not _is_int(values["department_id"])
    ):
        raise ValueError(f"person department_id must be an integer or None, got {values['department_id']!r}")
    if "active" in values and not isinstance(values["active"], bool):
        raise ValueError(f"person active must be true or false, got {values['active']!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- the interface ---------------------------------------------------------------------------------


class ForecastTarget(ABC):
    """Forecast, as the pipeline sees it: list, create and update clients, departments and people.

    Contract for every adapter:
    - `list_*` return every record, ordered by id.
    - `create_*` take any number of records and return them, with their new ids, in input order. One call
      is one unit: it writes all records or none (validation first, then the writes). An adapter that
      cannot promise that (no transactions) validates first and raises `PartialWrite` with the records
      written when a write fails after others succeeded.
    - `update_*` change only the fields given as keyword arguments and return the record as it is then.
      Unknown field names or bad values raise ValueError; an unknown id raises `RecordNotFound`.
    - An operation outside `capabilities` raises `UnsupportedOperation`.
    """

    capabilities: ClassVar[frozenset[str]] = frozenset()

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities

    def require(self, capability: str) -> None:
        """Raise `UnsupportedOperation` unless this target can do `capability`."""
        if capability not in ALL_CAPABILITIES:
            raise ValueError(
                f"unknown capability {capability!r}: expected one of {', '.join(sorted(ALL_CAPABILITIES))}"
            )
        if capability not in self.capabilities:
            raise UnsupportedOperation(f"{self.describe()} cannot {capability.replace('_', ' ')}")

    @abstractmethod
    def describe(self) -> str:
        """Which Forecast this is, for logs and reports; never contains credentials."""

    @abstractmethod
    def list_clients(self) -> list[ForecastClient]: ...

    @abstractmethod
    def create_clients(self, new: Sequence[NewClient]) -> list[ForecastClient]: ...

    @abstractmethod
    def update_client(self, client_id: int, **changes: Any) -> ForecastClient: ...

    @abstractmethod
    def list_departments(self) -> list[ForecastDepartment]: ...

    @abstractmethod
    def create_departments(self, new: Sequence[NewDepartment]) -> list[ForecastDepartment]: ...

    @abstractmethod
    def update_department(self, department_id: int, **changes: Any) -> ForecastDepartment: ...

    @abstractmethod
    def list_people(self) -> list[ForecastPerson]: ...

    @abstractmethod
    def create_people(self, new: Sequence[NewPerson]) -> list[ForecastPerson]: ...

    @abstractmethod
    def update_person(self, person_id: int, **changes: Any) -> ForecastPerson: ...

    @abstractmethod
    def list_profiles(self) -> list[Profile]: ...
