"""Which Intacct field fills which Forecast field, and what happens to missing or invalid values.

The tables below are the code form of the field-mapping table in docs/field-mapping.md; the staging step
computes each mapped value once (columns prefixed `fc_`), so the plan compares and the import writes
exactly the same values.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
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


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def client_values(row: Mapping[str, object]) -> dict[str, str | None]:
    """The Forecast client fields for one staged Intacct customer row."""
    street = ", ".join(p for p in (_clean(row.get("address1")), _clean(row.get("address2"))) if p)
    return {
        "name": _clean(row.get("name")),
        "street": street or None,
        "zip": _clean(row.get("zip")),
        "city": _clean(row.get("city")),
        "country": country_code(_clean(row.get("country_code")), _clean(row.get("country"))),
        "vat_number": _clean(row.get("tax_id")),
    }


def department_values(row: Mapping[str, object]) -> dict[str, str | None]:
    """The Forecast department fields for one staged Intacct department row."""
    return {"name": _clean(row.get("title")) or _clean(row.get("department_id"))}


def person_values(row: Mapping[str, object]) -> dict[str, str | None]:
    """The Forecast person name and email for one staged Intacct user row."""
    first, last = _clean(row.get("first_name")), _clean(row.get("last_name"))
    if not first and not last:
        contact = _clean(row.get("contact_name")) or ""
        if "," in contact:  # Intacct contact names are often "Last, First"
            last, _, first = (p.strip() or None for p in contact.partition(","))
        else:
            parts = contact.split(maxsplit=1)
            first = parts[0] if parts else None
            last = parts[1] if len(parts) > 1 else None
    return {"first_name": first, "last_name": last, "email": _clean(row.get("email"))}


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
