"""The Intacct objects we extract: which fields we read, their immutable keys, and how values convert.

Each `ObjectSpec` is the single declaration of an object: the `query` select list, the staging table's
columns (`schema.py` builds the tables from these specs) and the conversion of Intacct's strings into
typed values all come from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo

from intacct import mapping, matching

INTACCT_TIMESTAMP = "%m/%d/%Y %H:%M:%S"
INTACCT_DATE = "%m/%d/%Y"
TRUE_VALUES = {"true", "t", "1", "yes"}
FALSE_VALUES = {"false", "f", "0", "no"}


@dataclass(frozen=True)
class Field:
    """One Intacct field (its flattened `query` name) and the staging column it lands in."""

    intacct: str
    column: str
    kind: str = "text"  # text | int | bool | timestamp | date


@dataclass(frozen=True)
class ObjectSpec:
    name: str  # Intacct object name, e.g. CUSTOMER
    key: str  # the immutable business key Forecast links by (RECORDNO is kept too)
    staging_table: str
    fields: tuple[Field, ...]
    # Columns computed once from the converted row: match keys and the mapped Forecast values (`fc_*`).
    derived: tuple[str, ...] = ()
    derive: Callable[[Mapping[str, object]], dict[str, object]] | None = None

    @property
    def select(self) -> tuple[str, ...]:
        return tuple(f.intacct for f in self.fields)

    @property
    def key_column(self) -> str:
        return next(f.column for f in self.fields if f.intacct == self.key)

    def to_row(self, record: Mapping[str, str | None], tz: tzinfo) -> dict[str, object]:
        """Convert one record of a `query` page into a staging row; missing fields become None."""
        row: dict[str, object] = {}
        for f in self.fields:
            raw = record.get(f.intacct)
            try:
                row[f.column] = convert(raw, f.kind, tz)
            except ValueError as exc:
                raise ValueError(
                    f"{self.name} {record.get('RECORDNO')}: field {f.intacct} has value {raw!r} "
                    f"that is not a valid {f.kind}"
                ) from exc
        if self.derive is not None:
            row.update(self.derive(row))
        return row


def convert(raw: str | None, kind: str, tz: tzinfo) -> object:
    """One Intacct value (always a string on the wire) as the Python value of its kind."""
    if raw is None:
        return None
    if kind == "text":  # first: most fields are text, and staging converts every field of every record
        return None if not raw or raw.isspace() else raw
    value = raw.strip()
    if not value:
        return None
    if kind == "int":
        return int(value)
    if kind == "bool":
        lowered = value.lower()
        if lowered in TRUE_VALUES:
            return True
        if lowered in FALSE_VALUES:
            return False
        raise ValueError(value)
    if kind == "timestamp":
        # Intacct timestamps carry no zone: they are wall-clock times of the API user's time zone.
        # Sliced by hand (strptime is a third of the cost of staging a record); anything unusual falls back.
        if (
            len(value) == 19
            and value[2] == value[5] == "/"
            and value[10] == " "
            and value[13] == value[16] == ":"
        ):
            return datetime(
                int(value[6:10]), int(value[0:2]), int(value[3:5]),
                int(value[11:13]), int(value[14:16]), int(value[17:19]), tzinfo=tz,
            )  # fmt: skip
        return datetime.strptime(value, INTACCT_TIMESTAMP).replace(tzinfo=tz)
    if kind == "date":
        return datetime.strptime(value, INTACCT_DATE).date()
    raise ValueError(f"unknown field kind {kind!r}")


def render_timestamp(moment: datetime, tz: tzinfo) -> str:
    """An aware datetime as Intacct wants it in a filter: wall-clock time of the user's zone."""
    return moment.astimezone(tz).strftime(INTACCT_TIMESTAMP)


def _derive_customer(row: Mapping[str, object]) -> dict[str, object]:
    values = mapping.client_values(row)
    return {"name_key": matching.client_name_key(values["name"]), **{f"fc_{k}": v for k, v in values.items()}}


def _derive_department(row: Mapping[str, object]) -> dict[str, object]:
    values = mapping.department_values(row)
    return {"name_key": matching.department_name_key(values["name"]), "fc_name": values["name"]}


def _derive_user(row: Mapping[str, object]) -> dict[str, object]:
    values = mapping.person_values(row)
    return {
        "email_key": matching.email_key(values["email"]),
        "name_key": matching.person_name_key(values["first_name"], values["last_name"]),
        **{f"fc_{k}": v for k, v in values.items()},
    }


def _derive_employee(row: Mapping[str, object]) -> dict[str, object]:
    return {
        "email_key": matching.email_key(row.get("email")),
        "name_key": matching.person_name_key(row.get("first_name"), row.get("last_name")),
    }


_COMMON_TAIL = (
    Field("WHENCREATED", "when_created", "timestamp"),
    Field("WHENMODIFIED", "when_modified", "timestamp"),
)

CUSTOMER = ObjectSpec(
    name="CUSTOMER",
    key="CUSTOMERID",
    staging_table="stg_intacct_customer",
    fields=(
        Field("RECORDNO", "recordno", "int"),
        Field("CUSTOMERID", "customer_id"),
        Field("NAME", "name"),
        Field("STATUS", "status"),
        Field("PARENTID", "parent_id"),
        Field("TAXID", "tax_id"),
        Field("DISPLAYCONTACT.EMAIL1", "email"),
        Field("DISPLAYCONTACT.PHONE1", "phone"),
        Field("DISPLAYCONTACT.MAILADDRESS.ADDRESS1", "address1"),
        Field("DISPLAYCONTACT.MAILADDRESS.ADDRESS2", "address2"),
        Field("DISPLAYCONTACT.MAILADDRESS.CITY", "city"),
        Field("DISPLAYCONTACT.MAILADDRESS.STATE", "state"),
        Field("DISPLAYCONTACT.MAILADDRESS.ZIP", "zip"),
        Field("DISPLAYCONTACT.MAILADDRESS.COUNTRY", "country"),
        Field("DISPLAYCONTACT.MAILADDRESS.COUNTRYCODE", "country_code"),
        Field("MEGAENTITYID", "entity_id"),
        *_COMMON_TAIL,
    ),
    derived=("name_key", "fc_name", "fc_street", "fc_zip", "fc_city", "fc_country", "fc_vat_number"),
    derive=_derive_customer,
)

DEPARTMENT = ObjectSpec(
    name="DEPARTMENT",
    key="DEPARTMENTID",
    staging_table="stg_intacct_department",
    fields=(
        Field("RECORDNO", "recordno", "int"),
        Field("DEPARTMENTID", "department_id"),
        Field("TITLE", "title"),
        Field("PARENTID", "parent_id"),
        Field("SUPERVISORID", "supervisor_id"),
        Field("STATUS", "status"),
        *_COMMON_TAIL,
    ),
    derived=("name_key", "fc_name"),
    derive=_derive_department,
)

USERINFO = ObjectSpec(
    name="USERINFO",
    key="LOGINID",
    staging_table="stg_intacct_user",
    fields=(
        Field("RECORDNO", "recordno", "int"),
        Field("LOGINID", "login_id"),
        Field("DESCRIPTION", "description"),
        Field("USERTYPE", "user_type"),
        Field("STATUS", "status"),
        Field("LOGINDISABLED", "login_disabled", "bool"),
        Field("CONTACTINFO.CONTACTNAME", "contact_name"),
        Field("CONTACTINFO.FIRSTNAME", "first_name"),
        Field("CONTACTINFO.LASTNAME", "last_name"),
        Field("CONTACTINFO.EMAIL1", "email"),
        *_COMMON_TAIL,
    ),
    derived=("email_key", "name_key", "fc_first_name", "fc_last_name", "fc_email"),
    derive=_derive_user,
)

EMPLOYEE = ObjectSpec(
    name="EMPLOYEE",
    key="EMPLOYEEID",
    staging_table="stg_intacct_employee",
    fields=(
        Field("RECORDNO", "recordno", "int"),
        Field("EMPLOYEEID", "employee_id"),
        Field("DEPARTMENTID", "department_id"),
        Field("LOCATIONID", "location_id"),
        Field("STATUS", "status"),
        Field("CONTACT.CONTACTNAME", "contact_name"),
        Field("CONTACT.FIRSTNAME", "first_name"),
        Field("CONTACT.LASTNAME", "last_name"),
        Field("CONTACT.EMAIL1", "email"),
        *_COMMON_TAIL,
    ),
    derived=("email_key", "name_key"),
    derive=_derive_employee,
)

OBJECTS: dict[str, ObjectSpec] = {spec.name: spec for spec in (CUSTOMER, DEPARTMENT, USERINFO, EMPLOYEE)}


def spec_for(name: str) -> ObjectSpec:
    """The spec of an Intacct object by name; unknown names are refused with the known ones listed."""
    try:
        return OBJECTS[name.upper()]
    except KeyError:
        raise ValueError(f"unknown Intacct object {name!r}: expected one of {', '.join(OBJECTS)}") from None
