"""The generated company keeps every promise of generator.py's docstring."""

from __future__ import annotations

import re
import time
import unicodedata
from collections import Counter

import pytest
from tests.sandbox.xml_client import NOW

from sandbox.intacct_gateway import PRIVATE_ENTITY, Clock, Store, generate_company


@pytest.fixture(scope="module")
def company() -> Store:
    return generate_company(11, customers=1500, departments=40, users=60, clock=Clock(NOW))


def names(store: Store) -> list[str]:
    return (
        [c["NAME"] for c in store.records("CUSTOMER")]
        + [d["TITLE"] for d in store.records("DEPARTMENT")]
        + [u["DESCRIPTION"] for u in store.records("USERINFO")]
    )


def test_the_same_seed_and_now_make_the_same_company():
    first = generate_company(5, customers=200, clock=Clock(NOW))
    second = generate_company(5, customers=200, clock=Clock(NOW))
    other = generate_company(6, customers=200, clock=Clock(NOW))
    for name in first.tables:
        assert first.records(name) == second.records(name)
    assert first.records("CUSTOMER") != other.records("CUSTOMER")


def test_sizes_are_the_callers(company: Store):
    assert company.count("CUSTOMER") == 1500
    assert company.count("DEPARTMENT") == 40
    assert company.count("USERINFO") == 60
    assert company.count("LOCATIONENTITY") == 2


def test_names_have_accents_ampersands_angle_brackets_quotes_and_other_scripts(company: Store):
    everything = names(company)
    assert any(unicodedata.normalize("NFKD", n) != n for n in everything)  # accents
    assert any("&" in n for n in everything)
    assert any("<" in n for n in everything)
    assert any('"' in n for n in everything) and any("'" in n for n in everything)
    scripts = {
        "CJK": "\u4e00-\u9fff",
        "Cyrillic": "\u0400-\u04ff",
        "Greek": "\u0370-\u03ff",
        "Arabic": "\u0600-\u06ff",
    }
    for script, block in scripts.items():
        assert any(re.search(f"[{block}]", n) for n in everything), script


def test_every_object_has_inactive_records(company: Store):
    for name in ("CUSTOMER", "DEPARTMENT", "USERINFO", "EMPLOYEE"):
        assert any(r["STATUS"] == "inactive" for r in company.records(name)), name


def test_some_customer_names_are_near_duplicates(company: Store):
    def normalized(name: str) -> str:
        folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
        return re.sub(r"[^a-z0-9]+", " ", folded.replace("&", " and ")).strip()

    groups: dict[str, set[str]] = {}
    for customer in company.records("CUSTOMER"):
        groups.setdefault(normalized(customer["NAME"]), set()).add(customer["NAME"])
    assert sum(1 for spellings in groups.values() if len(spellings) > 1) >= 5


def test_users_without_email_and_two_users_sharing_one(company: Store):
    emails = [u["CONTACTINFO.EMAIL1"] for u in company.records("USERINFO")]
    assert "" in emails
    shared = [email for email, n in Counter(e.lower() for e in emails if e).items() if n > 1]
    assert len(shared) == 1
    assert any(e != e.lower() for e in emails)  # addresses typed in mixed case


def test_users_without_employees_and_employees_without_users(company: Store):
    user_contacts = {u["CONTACTKEY"] for u in company.records("USERINFO")}
    employee_contacts = {e["CONTACTKEY"] for e in company.records("EMPLOYEE")}
    api_user = company.get("USERINFO", "xml_gateway")
    assert api_user["CONTACTKEY"] not in employee_contacts
    assert len(user_contacts - employee_contacts) >= 3
    assert employee_contacts - user_contacts
    assert len({u["DESCRIPTION"] for u in company.records("USERINFO")}) < company.count(
        "USERINFO"
    )  # namesakes


def test_departments_nest_five_levels_with_every_status(company: Store):
    departments = {d["DEPARTMENTID"]: d for d in company.records("DEPARTMENT")}

    def depth(department: dict[str, str]) -> int:
        return 1 if not department["PARENTID"] else 1 + depth(departments[department["PARENTID"]])

    assert max(depth(d) for d in departments.values()) >= 5
    assert {d["STATUS"] for d in departments.values()} == {"active", "inactive", "active non-posting"}
    assert any(d["SUPERVISORID"] for d in departments.values())


def test_the_second_entity_has_private_customers_and_employees(company: Store):
    for name in ("CUSTOMER", "EMPLOYEE"):
        owners = Counter(r["MEGAENTITYID"] for r in company.records(name))
        assert owners[PRIVATE_ENTITY] > 0 and owners[""] > owners[PRIVATE_ENTITY], name
    assert {d.get("MEGAENTITYID") for d in company.records("DEPARTMENT")} == {None}  # departments are shared


def test_old_records_have_no_whenmodified(company: Store):
    for name in ("CUSTOMER", "DEPARTMENT"):
        assert any(r["WHENMODIFIED"] == "" and r["WHENCREATED"] for r in company.records(name)), name


def test_recordno_gaps_are_explained_by_deletions_in_the_audit_trail(company: Store):
    numbers = [int(c["RECORDNO"]) for c in company.records("CUSTOMER")]
    gaps = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
    assert gaps
    deleted = {
        (a["OBJECTTYPE"], a["OBJECTKEY"]) for a in company.records("AUDITHISTORY") if a["ACCESSMODE"] == "D"
    }
    recent_gaps = [gap for gap in gaps if ("customer", f"C{1000 + gap}") in deleted]
    assert recent_gaps
    assert any(kind == "employee" and key.endswith("--REC") for kind, key in deleted)
    stamps = [a["ACCESSTIME"] for a in company.records("AUDITHISTORY")]
    assert stamps == sorted(stamps, key=lambda s: (s[6:10], s[:5], s[11:]))  # IDs follow time


def test_the_api_user_signs_in_with_the_documented_password(company: Store):
    assert company.authenticate("xml_gateway", "sandbox-user-secret") is not None


@pytest.mark.slow
def test_a_hundred_thousand_customers_take_seconds():
    started = time.perf_counter()
    store = generate_company(1, customers=100_000, clock=Clock(NOW))
    elapsed = time.perf_counter() - started
    assert store.count("CUSTOMER") == 100_000
    assert elapsed < 15  # about 4 s on the 2-core reference machine
