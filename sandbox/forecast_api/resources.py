"""What each Forecast resource looks like: the fields an answer shows, the fields a write may set, and
the shape a value must have. References (department, client, profiles) and unique e-mails need the
company and are checked by the store; everything here is a pure function of the request body.

Field lists follow Part A of the Forecast API notes: clients v1 (A5), persons v2 (A6), profiles v1 (A7),
departments v1 (A8).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

Check = Callable[[str, Any], Any]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
LANGUAGES = ("SPANISH", "DANISH", "FRENCH", "ENGLISH_EU", "ENGLISH_UK", "ENGLISH_US")
MINUTES_PER_DAY = 24 * 60
_COUNTRY = re.compile(r"[A-Z]{2}")
# one address: no spaces or list separators, exactly one "@" with something on both sides
_EMAIL = re.compile(r"[^@\s,;<>]+@[^@\s,;<>]+")


class RecordError(Exception):
    """A request the company refuses; `status` is the HTTP status to answer, `message` says why."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def invalid(message: str) -> RecordError:
    return RecordError(400, message)


def show(value: Any) -> str:
    """A value as it appeared in the JSON body, for messages."""
    return json.dumps(value, ensure_ascii=False, default=str)


# ---- value checks: (field, value) -> the value to store, or RecordError(400) ---------------------------


def text(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise invalid(f"{name} must be a string or null, not {show(value)}")


def required_text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{name} must be a non-empty string, not {show(value)}")
    return value


def country(name: str, value: Any) -> str | None:
    if value is None or (isinstance(value, str) and _COUNTRY.fullmatch(value)):
        return value
    raise invalid(
        f'{name} must be an ISO 3166-1 alpha-2 code (two upper-case letters, e.g. "DK") or null, '
        f"not {show(value)}"
    )


def email(name: str, value: Any) -> str:
    if isinstance(value, str) and _EMAIL.fullmatch(value):
        return value
    raise invalid(f"{name} must be a single e-mail address (no spaces, one @), not {show(value)}")


def boolean(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise invalid(f"{name} must be true or false, not {show(value)}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def optional_int(name: str, value: Any) -> int | None:
    if value is None or _is_int(value):
        return value
    raise invalid(f"{name} must be an integer or null, not {show(value)}")


def minutes(name: str, value: Any) -> int:
    if _is_int(value) and 0 <= value <= MINUTES_PER_DAY:
        return value
    raise invalid(f"{name} must be whole minutes of work between 0 and {MINUTES_PER_DAY}, not {show(value)}")


def amount(name: str, value: Any) -> float | int | None:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool) and value >= 0):
        return value
    raise invalid(f"{name} must be a number of at least 0 or null, not {show(value)}")


def language(name: str, value: Any) -> str | None:
    if value is None or value in LANGUAGES:
        return value
    raise invalid(f"{name} must be one of {', '.join(LANGUAGES)} or null, not {show(value)}")


def iso_date(name: str, value: Any) -> str | None:
    if value is None:
        return None
    try:
        if isinstance(value, str) and len(value) == 10:
            return date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise invalid(f"{name} must be a date YYYY-MM-DD or null, not {show(value)}")


def profile_ids(name: str, value: Any) -> list[int]:
    if not isinstance(value, list) or not all(_is_int(item) for item in value):
        raise invalid(
            f"{name} must be a list of profile ids (integers, see GET /api/v1/profiles), not {show(value)}"
        )
    if len(value) != 1:
        raise invalid(
            f"{name} must hold exactly one profile id, not {len(value)}: a person can only have one "
            "permission profile unless Advanced Analytics is enabled"
        )
    return list(value)


def external_refs(name: str, value: Any) -> list[dict[str, str]]:
    shape = f'{name} must be a list of {{"key": string, "value": string}} objects'
    if not isinstance(value, list):
        raise invalid(f"{shape}, not {show(value)}")
    for item in value:
        if (
            not isinstance(item, dict)
            or set(item) != {"key", "value"}
            or not all(isinstance(v, str) for v in item.values())
        ):
            raise invalid(f"{shape}; {show(item)} is not one")
    return [{"key": item["key"], "value": item["value"]} for item in value]


def strings(name: str, value: Any) -> list[str]:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise invalid(f"{name} must be a list of strings, not {show(value)}")


# ---- the resources ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """One kind of record. `fields` is what the public API shows, in order; `hidden` what only the admin
    view adds. `create`/`update` are the fields an API write may set; `admin` what the admin view may set
    on top of them. `required` must be in a create; `references` maps a field to the resource it names."""

    name: str
    singular: str
    fields: tuple[str, ...]
    create: Mapping[str, Check] = field(default_factory=dict)
    update: Mapping[str, Check] = field(default_factory=dict)
    admin: Mapping[str, Check] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    references: Mapping[str, str] = field(default_factory=dict)

    def writable(self, *, creating: bool, admin: bool) -> dict[str, Check]:
        checks = dict(self.create if creating else self.update)
        if admin:
            checks |= self.admin
        return checks

    def check(self, values: Mapping[str, Any], *, creating: bool, admin: bool) -> dict[str, Any]:
        """The values to store, shape-checked; RecordError(400) naming the first problem."""
        checks = self.writable(creating=creating, admin=admin)
        unknown = [name for name in values if name not in checks]
        if unknown:
            raise invalid(self._refusal(unknown, checks))
        if creating:
            missing = [name for name in self.required if name not in values]
            if missing:
                raise invalid(f"{missing[0]} is required to create a {self.singular}")
        return {name: checks[name](name, value) for name, value in values.items()}

    def _refusal(self, unknown: list[str], checks: Mapping[str, Check]) -> str:
        name = unknown[0]
        if name in self.update and name not in checks:
            why = f"{name} can only be set when updating a {self.singular}"
        elif name in self.fields or name in self.hidden:
            why = f"{name} is read-only"
        else:
            why = f"unknown field {show(name)} for a {self.singular}"
        return f"{why}; writable fields: {', '.join(checks)}"


_CLIENT_WRITES: dict[str, Check] = {
    "name": required_text,
    "street": text,
    "zip": text,
    "city": text,
    "country": country,
    "vat_number": text,
    "notes": text,
}

CLIENTS = Resource(
    name="clients",
    singular="client",
    fields=("id", *_CLIENT_WRITES, "created_by", "updated_by", "created_at", "updated_at"),
    create=_CLIENT_WRITES,
    update=_CLIENT_WRITES,
    required=("name",),
)

_PERSON_WRITES: dict[str, Check] = {
    "first_name": text,
    "last_name": text,
    "email": email,
    "job_title": text,
    "profile_ids": profile_ids,
    "client_id": optional_int,
    "holiday_calendar_id": optional_int,
    **dict.fromkeys(WEEKDAYS, minutes),
    "default_role": optional_int,
    "department_id": optional_int,
    "cost": amount,
    "language": language,
    "start_date": iso_date,
    "end_date": iso_date,
    "active": boolean,
}

_PERSON_FIELDS = (
    "id", "first_name", "last_name", "email", "job_title", "client_id", "holiday_calendar_id", *WEEKDAYS,
    "active", "default_role", "department_id", "cost", "language", "start_date", "end_date",
    "permissions", "is_system_user", "created_by", "updated_by", "created_at", "updated_at",
)  # fmt: skip

PERSONS = Resource(
    name="persons",
    singular="person",
    fields=_PERSON_FIELDS,
    create=_PERSON_WRITES,
    update={**_PERSON_WRITES, "external_refs": external_refs},
    admin={"is_system_user": boolean, "external_refs": external_refs},
    required=("email", "profile_ids"),
    # Forecast's person GETs leave the profiles out: they are read through /v1/profiles/person/{id}
    hidden=("profile_ids", "external_refs"),
    references={"client_id": "clients", "department_id": "departments"},
)

DEPARTMENTS = Resource(
    name="departments",
    singular="department",
    fields=("id", "name"),
    admin={"name": required_text},
    required=("name",),
)

PROFILES = Resource(
    name="profiles",
    singular="profile",
    fields=("id", "name", "can_be_edited", "person_count", "profile_permission"),
    admin={"name": required_text, "can_be_edited": boolean, "profile_permission": strings},
    required=("name",),
)

RESOURCES: dict[str, Resource] = {r.name: r for r in (CLIENTS, PERSONS, DEPARTMENTS, PROFILES)}


def person_defaults(today: str) -> dict[str, Any]:
    """A new person's values before the request's: a 40-hour week and the company's language."""
    return {
        "first_name": None,
        "last_name": None,
        "job_title": None,
        "client_id": None,
        "holiday_calendar_id": None,
        **{day: 480 if day not in ("saturday", "sunday") else 0 for day in WEEKDAYS},
        "active": True,
        "default_role": None,
        "department_id": None,
        "cost": None,
        "language": "ENGLISH_US",
        "start_date": today,
        "end_date": None,
        "permissions": [],
        "is_system_user": False,
        "external_refs": [],
    }
