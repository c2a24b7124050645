"""The Intacct objects we extract: which fields we read, their immutable keys, and how values convert.

Each `ObjectSpec` is the single declaration of an object: the `query` select list, the staging table's
columns (`state/schema.py` builds the tables from these specs) and the conversion of Intacct's strings into
typed values all come from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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
    # Columns computed once from the converted columns: match keys and mapped Forecast values (`fc_*`).
    derived: tuple[str, ...] = ()
    derive: Callable[[Mapping[str, Sequence]], dict[str, list]] | None = None

    @property
    def select(self) -> tuple[str, ...]:
        return tuple(f.intacct for f in self.fields)

    @property
    def key_column(self) -> str:
        return next(f.column for f in self.fields if f.intacct == self.key)

    def to_row(self, record: Mapping[str, str | None], tz: tzinfo) -> dict[str, object]:
        """Convert one record (flattened field name -> value) into a staging row; missing fields are None."""
        return self.to_rows([tuple(record.get(name) for name in self.select)], tz)[0]

    @property
    def columns(self) -> tuple[str, ...]:
        """The staging columns a record fills: one per field, then the derived ones."""
        return (*(f.column for f in self.fields), *self.derived)

    def to_rows(self, records: Sequence[Sequence[str | None]], tz: tzinfo) -> list[dict[str, object]]:
        """Convert the records of a `query` page (values in `select` order) into staging rows."""
        columns = self.to_columns(records, tz)
        return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]

    def to_columns(self, records: Sequence[Sequence[str | None]], tz: tzinfo) -> dict[str, list[object]]:
        """Convert the records of a `query` page (values in `select` order) into staging columns: each of
        `columns` with one value per record.

        Column by column: one converter per field for the whole page, not a lookup per value, and no row
        dict kept (staging converts every field of every record of every extraction).
        """
        if not records:
            return {name: [] for name in self.columns}
        raw_columns = list(zip(*records, strict=True))
        if len(raw_columns) != len(self.fields):
            raise ValueError(
                f"{self.name} records carry {len(raw_columns)} values, expected {len(self.fields)}"
            )
        columns = {
            f.column: self._convert_column(f, values, records, tz)
            for f, values in zip(self.fields, raw_columns, strict=True)
        }
        if self.derive is not None:
            derived = self.derive(columns)
            for name in self.derived:
                columns[name] = derived[name]
        return columns

    def _convert_column(self, f: Field, values: Sequence[str | None], records, tz: tzinfo) -> list[object]:
        to_values = _CONVERTERS[f.kind]
        try:
            return to_values(values, tz)
        except ValueError:
            index = next(i for i, raw in enumerate(values) if not _converts(to_values, raw, tz))
            recordno = records[index][self.select.index("RECORDNO")] if "RECORDNO" in self.select else None
            raise ValueError(
                f"{self.name} {recordno}: field {f.intacct} has value {values[index]!r} "
                f"that is not a valid {f.kind}"
            ) from None


_Converter = Callable[[Sequence[str | None], tzinfo], list[object]]


def _converts(to_values: _Converter, raw: str | None, tz: tzinfo) -> bool:
    try:
        to_values([raw], tz)
    except ValueError:
        return False
    return True


# One function per field kind, converting a whole column: Intacct values (always strings on the wire,
# None when empty) as Python values of that kind. Blank values are None whatever the kind.
def _texts(values: Sequence[str | None], _tz: tzinfo) -> list[object]:
    return [None if not raw or raw.isspace() else raw for raw in values]


def _ints(values: Sequence[str | None], _tz: tzinfo) -> list[object]:
    return [None if not raw or raw.isspace() else int(raw) for raw in values]


def _bools(values: Sequence[str | None], _tz: tzinfo) -> list[object]:
    return [_bool(raw) for raw in values]


def _bool(raw: str | None) -> bool | None:
    if not raw or raw.isspace():
        return None
    lowered = raw.strip().lower()
    if lowered in TRUE_VALUES:
        return True
    if lowered in FALSE_VALUES:
        return False
    raise ValueError(raw)


def _timestamps(values: Sequence[str | None], tz: tzinfo) -> list[object]:
    return [_timestamp(raw, tz) for raw in values]


def _timestamp(raw: str | None, tz: tzinfo) -> datetime | None:
    # Intacct timestamps carry no zone: they are wall-clock times of the API user's time zone.
    if not raw or raw.isspace():
        return None
    value = raw.strip()
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


def _dates(values: Sequence[str | None], _tz: tzinfo) -> list[object]:
    return [
        None if not raw or raw.isspace() else datetime.strptime(raw.strip(), INTACCT_DATE).date()
        for raw in values
    ]


_CONVERTERS: dict[str, _Converter] = {
    "text": _texts, "int": _ints, "bool": _bools, "timestamp": _timestamps, "date": _dates,
}  # fmt: skip


def convert(raw: str | None, kind: str, tz: tzinfo) -> object:
    """One Intacct value (always a string on the wire) as the Python value of its kind."""
    try:
        to_values = _CONVERTERS[kind]
    except KeyError:
        raise ValueError(f"unknown field kind {kind!r}") from None
    return to_values([raw], tz)[0]


def render_timestamp(moment: datetime, tz: tzinfo) -> str:
    """An aware datetime as Intacct wants it in a filter: wall-clock time of the user's zone."""
    return moment.astimezone(tz).strftime(INTACCT_TIMESTAMP)


# Derived columns, computed for a page at a time from its converted columns.
def _derive_customer(columns: Mapping[str, Sequence]) -> dict[str, list]:
    values = mapping.client_columns(columns)
    return {
        "name_key": [matching.client_name_key(name) for name in values["name"]],
        **{f"fc_{k}": v for k, v in values.items()},
    }


def _derive_department(columns: Mapping[str, Sequence]) -> dict[str, list]:
    values = mapping.department_columns(columns)
    return {"name_key": [matching.department_name_key(n) for n in values["name"]], "fc_name": values["name"]}


def _derive_user(columns: Mapping[str, Sequence]) -> dict[str, list]:
    values = mapping.person_columns(columns)
    names = zip(values["first_name"], values["last_name"], strict=True)
    return {
        "email_key": [matching.email_key(email) for email in values["email"]],
        "name_key": [matching.person_name_key(first, last) for first, last in names],
        **{f"fc_{k}": v for k, v in values.items()},
    }


def _derive_employee(columns: Mapping[str, Sequence]) -> dict[str, list]:
    names = zip(columns["first_name"], columns["last_name"], strict=True)
    return {
        "email_key": [matching.email_key(email) for email in columns["email"]],
        "name_key": [matching.person_name_key(first, last) for first, last in names],
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
