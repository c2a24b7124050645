"""A Forecast company from a seed: the API owner and the system user, then departments, clients and
people that look like a consultancy's. Same seed and sizes, same company (timestamps included: they are
drawn from a fixed span of 2025-2026, not from the clock).

Promised properties (the tests check them): department names distinct; client names distinct, countries
ISO 3166-1 alpha-2, some VAT numbers and notes; person e-mails unique and lower-case, each person with one
built-in profile, most in a department and most active; ids in creation order.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from .resources import WEEKDAYS
from .store import Store

GENERATED_FROM = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
GENERATED_UNTIL = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
EMAIL_DOMAIN = "sandbox-consulting.example"

_DEPARTMENTS = (
    "Engineering", "Sales EMEA", "Sales Americas", "Sales APAC", "Marketing", "Finance", "Customer Success",
    "Product", "Design", "Operations", "Human Resources", "Legal", "IT", "Data & Analytics",
    "Professional Services", "Support", "Research & Development", "Procurement", "Quality Assurance",
    "Facilities", "Project Management Office", "Business Development", "Consulting Nordics", "Büro München",
)  # fmt: skip
_CORES = (
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Cyberdyne", "Aperture", "Monarch",
    "Oceanic", "Nakatomi", "Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Proseware",
    "Adventure Works", "Müller & Söhne", "Société Générale du Café", "Ærø Fiskeri", "Zürich Präzision",
    "O'Reilly's", "Blue Sun", "Stark", "Wonka", "Tyrell", "Soylent", "Grünwald", "Ålesund Marine",
)  # fmt: skip
_INDUSTRIES = (
    "Consulting", "Logistics", "Software", "Trading", "Manufacturing", "Design Studio", "Partners", "Foods",
    "Labs", "Media", "Construction", "Pharma", "Energy", "Robotics", "Analytics", "Architects", "Advisory",
)  # fmt: skip
_SUFFIXES = ("Inc.", "LLC", "Ltd", "GmbH", "A/S", "S.A.", "AG", "B.V.", "Oy", "", "")
# (ISO 3166-1 alpha-2, VAT prefix or "" where there is no EU-style VAT number, ((city, zip)...), streets)
_PLACES = (
    ("US", "", (("New York", "10001"), ("San Francisco", "94105"), ("Austin", "73301")), ("Broadway", "Market Street", "Main Street")),
    ("GB", "GB", (("London", "EC1A 1BB"), ("Manchester", "M1 1AE")), ("Kingsway", "Queen Street")),
    ("DE", "DE", (("München", "80331"), ("Berlin", "10115"), ("Köln", "50667")), ("Hauptstraße", "Schillerstraße")),
    ("DK", "DK", (("København", "1050"), ("Aarhus", "8000")), ("Vesterbrogade", "Østergade")),
    ("FR", "FR", (("Paris", "75001"), ("Lyon", "69001")), ("Rue de Rivoli", "Avenue Jean Jaurès")),
    ("NL", "NL", (("Amsterdam", "1011"),), ("Keizersgracht", "Damrak")),
    ("SE", "SE", (("Stockholm", "111 20"),), ("Drottninggatan", "Storgatan")),
    ("CA", "", (("Toronto", "M5V 2T6"), ("Montréal", "H2X 1Y4")), ("King Street", "Rue Sainte-Catherine")),
)  # fmt: skip
_NOTES = (
    "Key account",
    "Invoices by e-mail only",
    "Imported from the old CRM",
    "Framework agreement until 2027",
)
_FIRST = (
    "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Sofia", "Priya", "Kwame", "Mei",
    "Hiroshi", "Fatima", "José", "Zoë", "François", "Björn", "Søren", "Chloé", "Jürgen", "Aoife",
    "Mary-Kate", "Ngozi", "Ana", "Mårten", "Lars", "Ingrid", "Tomás", "Yuki",
)  # fmt: skip
_LAST = (
    "Smith", "Johnson", "Brown", "Taylor", "Martin", "Rossi", "Müller", "García", "Dubois", "Kowalski",
    "O'Brien", "van der Berg", "Nguyen", "Okafor", "Tanaka", "Kim", "Patel", "Schäfer", "Lefèvre",
    "Ødegård", "Björk", "Smith-Jones", "Hansen", "Jensen", "Novák",
)  # fmt: skip
_TITLES = ("Consultant", "Senior Consultant", "Engineer", "Designer", "Project Manager", "Analyst",
           "Director", "Account Manager", None)  # fmt: skip
# built-in profile ids weighted like a consultancy: mostly collaborators
_PROFILE_WEIGHTS = {-1: 4, -2: 3, -3: 12, -4: 8, -5: 73}
_LANGUAGES = {"ENGLISH_US": 70, "ENGLISH_UK": 15, "DANISH": 8, "FRENCH": 7}


def generate_company(seed: int = 1, *, clients: int = 20, people: int = 30, departments: int = 8) -> Store:
    """A company with `departments` departments, `clients` clients and `people` persons besides the API
    owner (person 1) and the system user (person 2)."""
    if min(clients, people, departments) < 0:
        raise ValueError("company sizes are at least 0")
    rng = random.Random(seed)
    store = Store()
    moments = iter(_moments(rng, departments + clients + people))
    with store.lock:
        store.reset(at=GENERATED_FROM)
        department_ids = [
            store.create("departments", {"name": name}, admin=True)["id"]
            for name in _department_names(rng, departments)
        ]
        for values in _clients(rng, clients):
            store.create("clients", values, at=next(moments))
        for at, values in _people(rng, people, department_ids, moments):
            store.create("persons", values, at=at)
    return store


def _moments(rng: random.Random, count: int) -> list[datetime]:
    span = int((GENERATED_UNTIL - GENERATED_FROM).total_seconds())
    return sorted(GENERATED_FROM + timedelta(seconds=rng.randrange(span)) for _ in range(count))


def _department_names(rng: random.Random, count: int) -> list[str]:
    names = rng.sample(_DEPARTMENTS, min(count, len(_DEPARTMENTS)))
    # a big company repeats the pattern with a numbered office
    names += [
        f"{_DEPARTMENTS[i % len(_DEPARTMENTS)]} {2 + i // len(_DEPARTMENTS)}"
        for i in range(count - len(names))
    ]
    return names


def _clients(rng: random.Random, count: int) -> list[dict[str, Any]]:
    used: set[str] = set()
    clients = []
    for n in range(count):
        name = " ".join(filter(None, (rng.choice(_CORES), rng.choice(_INDUSTRIES), rng.choice(_SUFFIXES))))
        if name in used:
            name = f"{name} ({n + 1})"
        used.add(name)
        country, vat_prefix, places, streets = rng.choice(_PLACES)
        city, zip_code = rng.choice(places)
        has_vat = vat_prefix and rng.random() < 0.6
        clients.append(
            {
                "name": name,
                "street": f"{rng.choice(streets)} {rng.randrange(1, 200)}",
                "zip": zip_code,
                "city": city,
                "country": country,
                "vat_number": f"{vat_prefix}{rng.randrange(10**7, 10**8)}" if has_vat else None,
                "notes": rng.choice(_NOTES) if rng.random() < 0.15 else None,
            }
        )
    return clients


def _people(
    rng: random.Random, count: int, department_ids: list[int], moments: Iterator[datetime]
) -> list[tuple[datetime, dict[str, Any]]]:
    used: set[str] = set()
    people = []
    for n in range(count):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        local = f"{_ascii(first)}.{_ascii(last)}"
        address = f"{local}@{EMAIL_DOMAIN}"
        if address in used:
            address = f"{local}{n + 1}@{EMAIL_DOMAIN}"
        used.add(address)
        at = next(moments)
        part_time = rng.random() < 0.1
        people.append(
            (
                at,
                {
                    "first_name": first,
                    "last_name": last,
                    "email": address,
                    "job_title": rng.choice(_TITLES),
                    "profile_ids": rng.choices(
                        list(_PROFILE_WEIGHTS), weights=list(_PROFILE_WEIGHTS.values())
                    ),
                    "department_id": (
                        rng.choice(department_ids) if department_ids and rng.random() < 0.85 else None
                    ),
                    "active": rng.random() < 0.9,
                    **{day: (240 if part_time else 480) for day in WEEKDAYS[:5]},
                    "cost": rng.choice((None, 55.0, 70.0, 85.0, 110.0)),
                    "language": rng.choices(list(_LANGUAGES), weights=list(_LANGUAGES.values()))[0],
                    "start_date": (at - timedelta(days=rng.randrange(0, 900))).date().isoformat(),
                },
            )
        )
    return people


def _ascii(name: str) -> str:
    """ "Søren" -> "soren", "O'Brien" -> "obrien", "van der Berg" -> "vanderberg"."""
    folded = unicodedata.normalize("NFKD", name.replace("ø", "o").replace("Ø", "O").replace("æ", "ae"))
    return "".join(c for c in folded.lower() if c.isascii() and (c.isalnum() or c == "-"))
