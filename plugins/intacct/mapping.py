"""Which Intacct field fills which Forecast field, and what happens to missing or invalid values.

The tables below are the code form of the field-mapping table in docs/field-mapping.md; the staging step
computes each mapped value once (columns prefixed `fc_`), so the plan compares and the import writes
exactly the same values.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from babel import Locale


@dataclass(frozen=True)
class FieldMapping:
    forecast: str
    intacct: str
    rule: str  # one line for the docs: how missing or invalid values are handled


CLIENT_FIELDS = (
    FieldMapping("name", "NAME", "required; a customer without a name is refused (conflict)"),
    FieldMapping(
        "street",
        "DISPLAYCONTACT.MAILADDRESS.ADDRESS1 + ADDRESS2",
        "joined with ', '; empty parts dropped; None when both are empty",
    ),
    FieldMapping("zip", "DISPLAYCONTACT.MAILADDRESS.ZIP", "as is; None when empty"),
    FieldMapping("city", "DISPLAYCONTACT.MAILADDRESS.CITY", "as is; None when empty"),
    FieldMapping(
        "country",
        "DISPLAYCONTACT.MAILADDRESS.COUNTRYCODE, else COUNTRY",
        "ISO 3166-1 alpha-2: the code when valid, else the country name looked up in English, German, "
        "French and Spanish names and common aliases; None (and listed in the report) when unknown",
    ),
    FieldMapping("vat_number", "TAXID", "as is; None when empty"),
    FieldMapping("notes", "(none)", "left empty: Forecast's notes belong to its users"),
)
DEPARTMENT_FIELDS = (
    FieldMapping("name", "TITLE", "required; falls back to DEPARTMENTID when TITLE is empty"),
)
PERSON_FIELDS = (
    FieldMapping(
        "first_name",
        "CONTACTINFO.FIRSTNAME",
        "else the first word of CONTACTINFO.CONTACTNAME; None when both empty",
    ),
    FieldMapping(
        "last_name", "CONTACTINFO.LASTNAME", "else the rest of CONTACTINFO.CONTACTNAME; None when both empty"
    ),
    FieldMapping(
        "email",
        "CONTACTINFO.EMAIL1",
        "stripped; a user without email, or sharing one with another user, is refused (conflict)",
    ),
    FieldMapping("profile", "(operator's choice)", "the permission profile chosen for the import"),
    FieldMapping(
        "department_id",
        "EMPLOYEE.DEPARTMENTID of the user's employee",
        "the Forecast department linked to it, when assignment is asked for; else None",
    ),
    FieldMapping("active", "STATUS", "true for imported users (inactive ones are imported only when asked)"),
)

# Names people type that are not the official ones.
_COUNTRY_ALIASES = {
    "usa": "US",
    "us": "US",
    "u s a": "US",
    "united states of america": "US",
    "america": "US",
    "uk": "GB",
    "u k": "GB",
    "great britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "holland": "NL",
    "the netherlands": "NL",
    "south korea": "KR",
    "korea": "KR",
    "russia": "RU",
    "czech republic": "CZ",
    "uae": "AE",
}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return re.sub(r"[^\w]+", " ", plain).strip()


@cache
def _country_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for locale in ("es", "fr", "de", "en"):  # English last, so it wins where names collide
        for code, name in Locale(locale).territories.items():
            if len(code) == 2 and code.isalpha():
                index[_fold(name)] = code
    index.update(_COUNTRY_ALIASES)
    return index


@cache
def _valid_codes() -> frozenset[str]:
    return frozenset(_country_index().values())


@cache
def country_code(code: str | None, name: str | None) -> str | None:
    """ISO 3166-1 alpha-2 for an Intacct address: COUNTRYCODE when valid, else the country name's code."""
    index = _country_index()
    valid_codes = _valid_codes()
    if code and code.strip().upper() in valid_codes:
        return code.strip().upper()
    if name:
        folded = _fold(name)
        if folded.upper() in valid_codes and len(folded) == 2:
            return folded.upper()
        return index.get(folded)
    return None


def _cleaned(values: Sequence[object]) -> list[str | None]:
    """Each value as stripped text, None when missing or blank."""
    return [None if value is None else (str(value).strip() or None) for value in values]


# Column by column, for a page of staged rows at a time (staging maps every record of every extraction);
# the `*_values` functions below map one row with the same code.


def client_columns(columns: Mapping[str, Sequence[object]]) -> dict[str, list[str | None]]:
    """The Forecast client fields for staged Intacct customer columns, one value per record."""
    streets = zip(_cleaned(columns["address1"]), _cleaned(columns["address2"]), strict=True)
    countries = zip(_cleaned(columns["country_code"]), _cleaned(columns["country"]), strict=True)
    return {
        "name": _cleaned(columns["name"]),
        "street": [", ".join(p for p in parts if p) or None for parts in streets],
        "zip": _cleaned(columns["zip"]),
        "city": _cleaned(columns["city"]),
        "country": [country_code(code, name) for code, name in countries],
        "vat_number": _cleaned(columns["tax_id"]),
    }


def department_columns(columns: Mapping[str, Sequence[object]]) -> dict[str, list[str | None]]:
    """The Forecast department fields for staged Intacct department columns."""
    ids = _cleaned(columns["department_id"])
    return {"name": [title or id_ for title, id_ in zip(_cleaned(columns["title"]), ids, strict=True)]}


def person_columns(columns: Mapping[str, Sequence[object]]) -> dict[str, list[str | None]]:
    """The Forecast person name and email for staged Intacct user columns."""
    names = zip(
        _cleaned(columns["first_name"]), _cleaned(columns["last_name"]), _cleaned(columns["contact_name"]),
        strict=True,
    )  # fmt: skip
    pairs = [_person_name(*parts) for parts in names]
    return {
        "first_name": [first for first, _ in pairs],
        "last_name": [last for _, last in pairs],
        "email": _cleaned(columns["email"]),
    }


def _person_name(first: str | None, last: str | None, contact: str | None) -> tuple[str | None, str | None]:
    if first or last:
        return first, last
    contact = contact or ""
    if "," in contact:  # Intacct contact names are often "Last, First"
        last, _, first = (p.strip() or None for p in contact.partition(","))
        return first, last
    parts = contact.split(maxsplit=1)
    return (parts[0] if parts else None), (parts[1] if len(parts) > 1 else None)


def client_values(row: Mapping[str, object]) -> dict[str, str | None]:
    """The Forecast client fields for one staged Intacct customer row."""
    return _one_row(client_columns, row)


def department_values(row: Mapping[str, object]) -> dict[str, str | None]:
    """The Forecast department fields for one staged Intacct department row."""
    return _one_row(department_columns, row)


def person_values(row: Mapping[str, object]) -> dict[str, str | None]:
    """The Forecast person name and email for one staged Intacct user row."""
    return _one_row(person_columns, row)


class _RowAsColumns(dict):
    """One row as columns of one value; a column the row lacks holds None."""

    def __missing__(self, key: str) -> list[None]:
        return [None]


def _one_row(columns_of, row: Mapping[str, object]) -> dict[str, str | None]:
    return {
        name: values[0]
        for name, values in columns_of(_RowAsColumns({k: [v] for k, v in row.items()})).items()
    }


def markdown_tables() -> str:
    """The mapping as the Markdown tables of docs/field-mapping.md (a test keeps the two identical)."""
    sections = (("Clients (Intacct CUSTOMER)", CLIENT_FIELDS), ("Departments (Intacct DEPARTMENT)", DEPARTMENT_FIELDS),
                ("Team members (Intacct USERINFO and EMPLOYEE)", PERSON_FIELDS))  # fmt: skip
    lines: list[str] = []
    for title, fields in sections:
        lines += [
            f"### {title}",
            "",
            "| Forecast field | Intacct field | missing or invalid values |",
            "|---|---|---|",
        ]
        lines += [f"| `{f.forecast}` | `{f.intacct}` | {f.rule} |" for f in fields]
        lines.append("")
    return "\n".join(lines)
