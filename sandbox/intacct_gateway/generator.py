"""A realistic Intacct company from a seed, with the awkward data real companies have.

Promised properties (the tests check each): names with accents, `&`, `<`, quotes and non-Latin scripts;
inactive records of every object; near-duplicate customer names; users without email and two users
sharing one; users with no employee (the API user among them) and employees with no user; departments
five levels deep with statuses active, inactive and "active non-posting"; a second entity (E200) with
private customers and employees; old records whose WHENMODIFIED is empty; RECORDNO gaps left by
deletions that only AUDITHISTORY remembers. Same seed and same `now`, same company.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from .clock import Clock
from .store import DEFAULT_COMPANY_ID, DEFAULT_TIMEZONE, Store

DEFAULT_USER_ID = "xml_gateway"
DEFAULT_USER_PASSWORD = "sandbox-user-secret"  # noqa: S105 (the sandbox's documented default)
ADMIN_LOGIN = "Admin"
PRIVATE_ENTITY = "E200"
ENTITIES = (("E100", "US Operations", "USD"), (PRIVATE_ENTITY, "EU Subsidiary", "EUR"))
COMPANY_AGE = timedelta(days=6 * 365)
RECENT = timedelta(days=30)

_CORES = (
    "Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Cyberdyne", "Aperture", "Monarch", "Oceanic",
    "Nakatomi", "Rekall", "Virtucon", "Blue Sun", "Massive Dynamic", "Soylent", "Tyrell", "Wonka", "Gringotts",
    "Stark", "Northwind", "Contoso", "Fabrikam", "Tailspin", "Litware", "Proseware", "Adventure Works",
    "Société Générale du Café", "Müller & Söhne", "Ærø Fiskeri", "Łódź Logistyka", "Crème Brûlée", "Grünwald",
    "São Paulo Têxteis", "Çelik Yapı", "Ñandú Importaciones", "Zürich Präzision", "Ålesund Marine", "Dvořák",  # noqa: RUF001 (non-Latin letters on purpose)
    "株式会社山田商事", "北京华信科技", "ООО Ромашка", "Ελληνικά Τρόφιμα", "شركة الأفق", "한빛상사", "תעשיות אלון",  # noqa: RUF001 (non-Latin letters on purpose)
    "Less <Than> More", "A&B <Design>", "O'Reilly's", '"Quoted" Holdings', 'Tom\'s "Best"', "Smith & Wesson",
    "AT&T-ish", "Ben & Jerry-ish", "<Angle> Brackets", "R&D Partners",
)  # fmt: skip
_INDUSTRIES = (
    "Consulting", "Logistics", "Bakery", "Holdings", "Software", "Trading", "Manufacturing", "Design Studio",
    "Partners", "Foods", "Labs", "Media", "Construction", "Pharma", "Textiles", "Energy", "Robotics", "Travel",
    "Analytics", "Architects", "Fisheries", "Brewing", "Advisory", "Systems",
)  # fmt: skip
_SUFFIXES = ("Inc.", "LLC", "Ltd", "GmbH", "S.A.", "Corp.", "AG", "K.K.", "Pty Ltd", "B.V.", "Oy", "", "", "")
_FIRST = (
    "José", "Zoë", "François", "Björn", "Łukasz", "Chloé", "Jürgen", "Søren", "Émilie", "Mårten", "Nuño", "Siobhán",
    "Aoife", "Mary-Kate", "D'Arcy", "John", "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Sofia",
    "Priya", "Kwame", "Mei", "Hiroshi", "Fatima", "Дмитрий", "Анна", "Γιώργος", "محمد", "陈", "佐藤", "Ngozi", "Ana",
)  # fmt: skip
_LAST = (
    "O'Brien", "Müller", "García", "Ødegård", "Nguyễn", "Smith", "Johnson", "Dubois", "Kowalski", "van der Berg",
    "de la Cruz", "Smith-Jones", "Brown", "Williams", "Taylor", "Martin", "Rossi", "Novák", "Schäfer", "Yılmaz",  # noqa: RUF001 (non-Latin letters on purpose)
    "Okafor", "Tanaka", "Kim", "Patel", "Иванов", "王", "山田", "Παπαδόπουλος", "Al-Farsi", "Björk", "Lefèvre",
)  # fmt: skip
_PLACES = (
    ("US", "United States", "USD", (("New York", "NY", "10001"), ("San Francisco", "CA", "94105"), ("Austin", "TX", "73301"))),
    ("CA", "Canada", "CAD", (("Montréal", "QC", "H2X 1Y4"), ("Toronto", "ON", "M5V 2T6"))),
    ("GB", "United Kingdom", "GBP", (("London", "", "EC1A 1BB"), ("Manchester", "", "M1 1AE"))),
    ("DE", "Germany", "EUR", (("München", "BY", "80331"), ("Köln", "NW", "50667"), ("Berlin", "BE", "10115"))),
    ("FR", "France", "EUR", (("Paris", "", "75001"), ("Orléans", "", "45000"))),
    ("DK", "Denmark", "DKK", (("København", "", "1050"), ("Århus", "", "8000"))),
    ("JP", "Japan", "JPY", (("東京", "", "100-0001"), ("Osaka", "", "530-0001"))),
    ("BR", "Brazil", "BRL", (("São Paulo", "SP", "01000-000"),)),
)  # fmt: skip
_DEPARTMENT_NAMES = (
    "Finance", "Human Resources", "Customer Success", "Product", "Legal", "IT", "Facilities", "Support (Tier 2)",
    "Research & Development", "Sales <EMEA>", "Büro München", "東京オフィス", "O'Brien's Team", '"Special" Projects',
    "Marketing", "marketing ", "Ventes France", "Vertrieb DACH", "销售部", "Отдел кадров", "Procurement",
    "Quality Assurance", "Data & Analytics", "Field Services", "Treasury", "Payroll", "Design", "Security",
)  # fmt: skip
_DEPARTMENT_CHAIN = ("Company", "Operations", "Engineering", "Platform", "Platform — Core Services")
_TITLES = (
    "Consultant",
    "Senior Consultant",
    "Engineer",
    "Designer",
    "Project Manager",
    "Analyst",
    "Director",
    "Intern",
)
_USERTYPES = (("business user", 80), ("employee user", 15), ("view only user", 5))
_NOT_LOGIN_CHARACTER = re.compile(r"[^a-z0-9.-]")


def generate_company(
    seed: int = 1,
    *,
    customers: int = 200,
    departments: int = 25,
    users: int = 40,
    company_id: str = DEFAULT_COMPANY_ID,
    timezone: str = DEFAULT_TIMEZONE,
    clock: Clock | None = None,
    now: datetime | None = None,
    user_id: str = DEFAULT_USER_ID,
    user_password: str = DEFAULT_USER_PASSWORD,
) -> Store:
    """A company of the given sizes; `user_id`/`user_password` is the web-services user that signs in.

    History ends at `now` (default: the clock's now). `users` counts every USERINFO, the company admin
    and the API user included.
    """
    store = Store(company_id=company_id, timezone=timezone, clock=clock)
    _Builder(store, random.Random(seed), now or store.clock.now()).build(
        customers, departments, users, user_id
    )
    store.set_password(user_id, user_password)
    return store


class _Builder:
    def __init__(self, store: Store, rng: random.Random, now: datetime):
        self.store = store
        self.rng = rng
        self.now = now
        self.founded = now - COMPANY_AGE
        self.audit: list[dict[str, Any]] = []
        self.admin_key = 0
        self.department_rows: list[dict[str, Any]] = []
        self.contacts: list[dict[str, Any]] = []
        self.contact_names: set[str] = set()
        self.emails_used: set[str] = set()

    def build(self, customers: int, departments: int, users: int, api_user: str) -> None:
        self._entities()
        self._users_and_employees(max(users, 2), api_user, departments)
        self._customers(customers)
        self.audit.sort(key=lambda row: row["ACCESSTIME"])
        for row in self.audit:
            self.store.append_audit(row)
        self.store.default_actor = ADMIN_LOGIN

    # ---- time ---------------------------------------------------------------------------------------

    def _moment(self, start: datetime, end: datetime) -> datetime:
        span = max(int((end - start).total_seconds()), 1)
        return start + timedelta(seconds=self.rng.randrange(span))

    def _stamps(self, created: datetime, *, old: bool = False) -> dict[str, Any]:
        """WHENCREATED/WHENMODIFIED: a few old records never modified (NULL), some changed recently."""
        if old:
            modified = None
        elif self.rng.random() < 0.15:
            modified = self._moment(max(created, self.now - RECENT), self.now)
        else:
            modified = self._moment(created, self.now)
        return {
            "WHENCREATED": created,
            "WHENMODIFIED": modified,
            "CREATEDBY": self.admin_key or None,
            "MODIFIEDBY": self.admin_key or None,
        }

    def _history(self, object_name: str, key: str, desc: str, stamps: Mapping[str, Any]) -> None:
        """AUDITHISTORY rows for what happened in the last 30 days."""
        for mode, when in (("C", stamps["WHENCREATED"]), ("M", stamps["WHENMODIFIED"])):
            if (
                when is not None
                and when >= self.now - RECENT
                and not (mode == "M" and when == stamps["WHENCREATED"])
            ):
                self._audit_row(object_name, key, desc, mode, when)

    def _audit_row(self, object_name: str, key: str, desc: str, mode: str, when: datetime) -> None:
        source = self.rng.choice(("ui", "ui", "api", "csv"))
        self.audit.append(
            {
                "OBJECTTYPE": object_name.lower(),
                "OBJECTKEY": key,
                "OBJECTDESC": desc,
                "USERID": ADMIN_LOGIN,
                "ACCESSTIME": when,
                "ACCESSMODE": mode,
                "SOURCE": source,
            }
        )

    def _created_times(self, count: int) -> list[datetime]:
        # records are numbered in the order they were created
        return sorted(self._moment(self.founded, self.now - timedelta(hours=1)) for _ in range(count))

    # ---- people -------------------------------------------------------------------------------------

    def _person(self) -> tuple[str, str]:
        return self.rng.choice(_FIRST), self.rng.choice(_LAST)

    def _entities(self) -> None:
        rows = []
        for number, (location_id, name, currency) in enumerate(ENTITIES, start=1):
            rows.append(
                {
                    "RECORDNO": number,
                    "LOCATIONID": location_id,
                    "NAME": name,
                    "REPORTPRINTAS": name,
                    "CURRENCY": currency,
                    "STARTDATE": self.founded.date(),
                    "STATUS": "active",
                    "WHENCREATED": self.founded,
                    "WHENMODIFIED": self.founded,
                }
            )
        self.store.load("LOCATIONENTITY", rows)

    def _contact(self, first: str, last: str, email: str, when: datetime) -> int:
        """A CONTACT for a person (contact names are unique in Intacct); returns its key."""
        rng = self.rng
        name = base = f"{first} {last}".strip()
        n = 1
        while name in self.contact_names:
            n += 1
            name = f"{base} ({n})"
        self.contact_names.add(name)
        country, _, _, places = rng.choice(_PLACES)
        city, state, zip_code = rng.choice(places)
        key = len(self.contacts) + 1
        self.contacts.append(
            {
                "RECORDNO": key,
                "CONTACTNAME": name,
                "FIRSTNAME": first,
                "LASTNAME": last,
                "PRINTAS": base,
                "EMAIL1": email,
                "PHONE1": f"+1 555 {rng.randrange(100, 999)} {rng.randrange(1000, 9999)}",
                "MAILADDRESS.CITY": city,
                "MAILADDRESS.STATE": state,
                "MAILADDRESS.ZIP": zip_code,
                "MAILADDRESS.COUNTRYCODE": country,
                "STATUS": "active",
                **self._stamps(when),
            }
        )
        return key

    def _email(self, first: str, last: str, n: int) -> str:
        local = f"{_ascii(first)}.{_ascii(last)}".strip(".") or f"user{n}"
        address = f"{local}@sandbox-company.example"
        if address in self.emails_used:
            address = f"{local}{n}@sandbox-company.example"
        self.emails_used.add(address)
        # people type their address in any case; matching must lower-case it
        return address.title() if self.rng.random() < 0.1 else address

    def _users_and_employees(self, users: int, api_user: str, departments: int) -> None:
        contact = self._contact
        user_rows, employee_rows = [], []
        created = self._created_times(users + users // 5 + 1)

        # the company admin and the web-services (API) user: users without an employee
        self.admin_key = 1
        user_rows.append(
            self._user(
                1,
                ADMIN_LOGIN,
                "Company Administrator",
                contact("Company", "Administrator", "admin@sandbox-company.example", created[0]),
                created[0],
                admin=True,
            )
        )
        user_rows.append(
            self._user(
                2,
                api_user,
                "Web Services User",
                contact("Web Services", "User", "", created[0]),
                created[0],
                web_services_only=True,
            )
        )
        people = users - 2
        logins = {ADMIN_LOGIN, api_user}
        shared_pair = (0, 1) if people >= 2 else ()
        for n in range(people):
            when = created[n + 1]
            first, last = self._person()
            if n == 3 and people > 4:
                first, last = self._user_name(user_rows[2])  # two different people with the same name
            if n in shared_pair:
                email = "finance.team@sandbox-company.example"  # one mailbox, two users
            elif n % 17 == 5:
                email = ""  # users without email
            else:
                email = self._email(first, last, n)
            login = _login(first, last, n, logins)
            logins.add(login)
            contact_key = contact(first, last, email, when)
            status = "inactive" if n % 11 == 7 else "lockedout" if n % 23 == 9 else "active"
            user_rows.append(self._user(n + 3, login, f"{first} {last}", contact_key, when, status=status))
            if n % 7 != 6:  # most people are also employees; every seventh is a user without one
                employee_rows.append((contact_key, when, status == "active"))
        for n in range(max(users // 5, 1)):  # employees who never sign in
            when = created[people + 1 + n]
            first, last = self._person()
            employee_rows.append(
                (contact(first, last, self._email(first, last, 1000 + n), when), when, n % 4 != 3)
            )
        self.store.load("CONTACT", self.contacts)
        self.store.load("USERINFO", user_rows)
        department_keys = self._departments(departments)
        self._employees(employee_rows, department_keys)
        for row in user_rows:
            self._history("USERINFO", row["LOGINID"], row["DESCRIPTION"], row)

    @staticmethod
    def _user_name(row: Mapping[str, Any]) -> tuple[str, str]:
        first, _, last = row["DESCRIPTION"].partition(" ")
        return first, last

    def _user(
        self,
        key: int,
        login: str,
        description: str,
        contact_key: int,
        created: datetime,
        *,
        status: str = "active",
        admin: bool = False,
        web_services_only: bool = False,
    ) -> dict[str, Any]:
        usertype = self.rng.choices([t for t, _ in _USERTYPES], [w for _, w in _USERTYPES])[0]
        return {
            "RECORDNO": key,
            "LOGINID": login,
            "DESCRIPTION": description,
            "USERTYPE": "business user" if admin or web_services_only else usertype,
            "ADMIN": admin,
            "STATUS": status,
            "LOGINDISABLED": web_services_only,
            "SSO_ENABLED": False,
            "CONTACTKEY": contact_key,
            **self._stamps(created),
        }

    def _departments(self, count: int) -> list[int]:
        rng = self.rng
        created = self._created_times(count)
        rows: list[dict[str, Any]] = []
        depth: dict[int, int] = {}
        statuses = (["active"] * 15) + (["inactive"] * 3) + (["active non-posting"] * 2)
        for n in range(count):
            key = n + 1
            if n < len(_DEPARTMENT_CHAIN):  # a chain five levels deep
                title, parent = _DEPARTMENT_CHAIN[n], (n if n else None)
            else:
                title = _DEPARTMENT_NAMES[(n - len(_DEPARTMENT_CHAIN)) % len(_DEPARTMENT_NAMES)]
                if n >= len(_DEPARTMENT_CHAIN) + len(_DEPARTMENT_NAMES):
                    title = f"{title} {n}"
                candidates = [k for k in range(1, key) if depth[k] < 5]
                parent = rng.choice(candidates) if candidates and rng.random() < 0.8 else None
            depth[key] = 1 if parent is None else depth[parent] + 1
            if n < len(_DEPARTMENT_CHAIN):
                status = "active"
            elif n < len(_DEPARTMENT_CHAIN) + 3:  # one department of each status, whatever the seed
                status = ("active", "inactive", "active non-posting")[n - len(_DEPARTMENT_CHAIN)]
            else:
                status = rng.choice(statuses)
            parent_row = rows[parent - 1] if parent else None
            rows.append(
                {
                    "RECORDNO": key,
                    "DEPARTMENTID": f"D{100 + n}",
                    "TITLE": title,
                    "PARENTKEY": parent,
                    "PARENTID": parent_row["DEPARTMENTID"] if parent_row else "",
                    "STATUS": status,
                    "CUSTTITLE": title if rng.random() < 0.3 else "",
                    **self._stamps(created[n], old=n == len(_DEPARTMENT_CHAIN) and count > 8),
                }
            )
        self.department_rows = rows
        for row in rows:
            self._history("DEPARTMENT", f"{row['RECORDNO']}--REC", row["TITLE"], row)
        return [row["RECORDNO"] for row in rows]

    def _employees(self, people: list[tuple[int, datetime, bool]], department_keys: list[int]) -> None:
        rng = self.rng
        departments = {row["RECORDNO"]: row for row in self.department_rows}
        rows = []
        key = 0
        for n, (contact_key, created, active) in enumerate(people):
            key += 2 if n and n % 13 == 0 else 1  # gaps: employees deleted long ago
            if key > 1 and n % 13 == 0:
                self._audit_row(
                    "EMPLOYEE",
                    f"{key - 1}--REC",
                    f"Former employee {key - 1}",
                    "D",
                    self._moment(self.now - RECENT, self.now),
                )
            department = (
                departments.get(rng.choice(department_keys)) if department_keys and n % 19 != 4 else None
            )
            private = n % 10 == 9
            start = self._moment(self.founded, created).date()
            rows.append(
                {
                    "RECORDNO": key,
                    "EMPLOYEEID": f"EMP{1000 + n}",
                    "TITLE": rng.choice(_TITLES),
                    "DEPARTMENTID": department["DEPARTMENTID"] if department else "",
                    "DEPARTMENTKEY": department["RECORDNO"] if department else None,
                    "STARTDATE": start,
                    "ENDDATE": None if active else (created + timedelta(days=rng.randrange(30, 400))).date(),
                    "STATUS": "active" if active else "inactive",
                    "EMPLOYEETYPE": rng.choice(("Full Time", "Full Time", "Part Time", "Contractor")),
                    "GENDER": rng.choice(("male", "female", "")),
                    "ENTITY": f"EEMP{1000 + n}",
                    "CURRENCY": "EUR" if private else "USD",
                    "CONTACTKEY": contact_key,
                    "LOCATIONID": PRIVATE_ENTITY if private else "E100",
                    **self._entity_owner(private),
                    **self._stamps(created),
                }
            )
        for department in self.department_rows:  # managers
            if rows and rng.random() < 0.6:
                manager = rng.choice(rows)
                department["SUPERVISORKEY"], department["SUPERVISORID"] = (
                    manager["RECORDNO"],
                    manager["EMPLOYEEID"],
                )
        self.store.load("DEPARTMENT", self.department_rows)
        self.store.load("EMPLOYEE", rows)
        for row in rows:
            self._history("EMPLOYEE", f"{row['RECORDNO']}--REC", row["EMPLOYEEID"], row)

    def _entity_owner(self, private: bool) -> dict[str, Any]:
        if not private:
            return {}
        return {"MEGAENTITYKEY": 2, "MEGAENTITYID": PRIVATE_ENTITY, "MEGAENTITYNAME": ENTITIES[1][1]}

    # ---- customers ----------------------------------------------------------------------------------

    def _customers(self, count: int) -> None:
        rng = self.rng
        created = self._created_times(count)
        old_records = max(count // 500, 1) if count >= 10 else 0
        rows: list[dict[str, Any]] = []
        key = 0
        for n in range(count):
            key += 1
            if n and n % 97 == 0:  # a customer deleted long ago: a gap only AUDITHISTORY explains
                if created[n] >= self.now - RECENT * 3:
                    self._audit_row(
                        "CUSTOMER",
                        f"C{1000 + key}",
                        "Deleted customer",
                        "D",
                        self._moment(created[n], self.now),
                    )
                key += 1
            customer_id = f"C{1000 + key}"
            if rows and n % 53 == 17:
                name = _near_duplicate(rng.choice(rows)["NAME"], rng)
            else:
                name = _company_name(rng)
            private = n % 33 == 20
            values = {
                "RECORDNO": key,
                "CUSTOMERID": customer_id,
                "NAME": name,
                "STATUS": "inactive" if n % 12 == 5 else "active",
                "ONHOLD": n % 50 == 3,
                "ONETIME": False,
                **_customer_contact(rng, name, customer_id),
                "TOTALDUE": Decimal(rng.randrange(0, 5_000_000)).scaleb(-2),
                "TERMNAME": rng.choice(("Net 30", "Net 60", "Due on receipt")),
                "GLGROUP": "",
                "COMMENTS": "Prefers e-mail & invoices <PDF>" if n % 41 == 1 else "",
                "OBJECTRESTRICTION": "Restricted" if private else "Unrestricted",
                "ENTITY": "C" + customer_id,
                **self._entity_owner(private),
                **self._stamps(created[n], old=n < old_records),
            }
            if rows and n % 47 == 11:  # a child of an earlier customer
                parent = rng.choice(rows)
                values["PARENTKEY"], values["PARENTID"] = parent["RECORDNO"], parent["CUSTOMERID"]
            rows.append(values)
            self._history("CUSTOMER", customer_id, name, values)
        self.store.load("CUSTOMER", rows)


def _customer_contact(rng: random.Random, name: str, customer_id: str) -> dict[str, Any]:
    country, country_name, currency, places = rng.choice(_PLACES)
    city, state, zip_code = rng.choice(places)
    domain = (_ascii(name).lower().replace(".", "").replace(" ", "") or "customer") + ".example"
    has_email = rng.random() < 0.7
    first, last = (rng.choice(_FIRST), rng.choice(_LAST)) if rng.random() < 0.5 else ("", "")
    return {
        "DISPLAYCONTACT.CONTACTNAME": f"{name}({customer_id})",
        "DISPLAYCONTACT.COMPANYNAME": name,
        "DISPLAYCONTACT.PRINTAS": name,
        "DISPLAYCONTACT.FIRSTNAME": first,
        "DISPLAYCONTACT.LASTNAME": last,
        "DISPLAYCONTACT.TAXABLE": True,
        "DISPLAYCONTACT.VISIBLE": True,
        "DISPLAYCONTACT.PHONE1": f"+{rng.randrange(1, 99)} {rng.randrange(100, 999)} {rng.randrange(100000, 999999)}",
        "DISPLAYCONTACT.EMAIL1": f"ap@{domain}" if has_email else "",
        "DISPLAYCONTACT.MAILADDRESS.ADDRESS1": f"{rng.randrange(1, 9999)} {rng.choice(_LAST)} Street",
        "DISPLAYCONTACT.MAILADDRESS.CITY": city,
        "DISPLAYCONTACT.MAILADDRESS.STATE": state,
        "DISPLAYCONTACT.MAILADDRESS.ZIP": zip_code,
        "DISPLAYCONTACT.MAILADDRESS.COUNTRY": country_name,
        "DISPLAYCONTACT.MAILADDRESS.COUNTRYCODE": country,
        "CURRENCY": currency,
        "TAXID": f"{country}{rng.randrange(100000000, 999999999)}" if country in ("DE", "FR", "DK") else "",
    }


def _company_name(rng: random.Random) -> str:
    return " ".join(
        part for part in (rng.choice(_CORES), rng.choice(_INDUSTRIES), rng.choice(_SUFFIXES)) if part
    )


def _near_duplicate(name: str, rng: random.Random) -> str:
    """The same company written differently: case, spacing, punctuation, accents, '&' vs 'and'."""
    variants = (
        name.upper(),
        name.lower(),
        f"{name} ",
        f" {name}",
        name.replace(" ", "  ", 1),
        name.replace("Inc.", "Inc").replace("Ltd", "Ltd."),
        name.replace("&", "and"),
        unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode() or name.upper(),
    )
    return rng.choice([v for v in variants if v != name] or [name.upper()])


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_LOGIN_CHARACTER.sub("", folded.lower())


def _login(first: str, last: str, n: int, taken: set[str]) -> str:
    base = f"{_ascii(first)[:1]}{_ascii(last)}" or f"user{n}"
    login = base if len(base) > 1 else f"user{n}"
    return login if login not in taken else f"{login}{n}"


# ---- records made while the sandbox runs (the data-change fault, tests) -----------------------------------


def new_record_values(store: Store, object_name: str, rng: random.Random) -> dict[str, Any]:
    """Values for a new, realistic record of `object_name` with an unused ID."""
    number = store.table(object_name).next_key
    if object_name == "CUSTOMER":
        name = _company_name(rng)
        customer_id = f"CN{number:06d}"
        return {
            "CUSTOMERID": customer_id,
            "NAME": name,
            "STATUS": "active",
            **_customer_contact(rng, name, customer_id),
        }
    if object_name == "DEPARTMENT":
        return {
            "DEPARTMENTID": f"DN{number:04d}",
            "TITLE": f"{rng.choice(_DEPARTMENT_NAMES).strip()} {number}",
            "STATUS": "active",
        }
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    contact = {"CONTACTNAME": f"{first} {last} #{number}", "FIRSTNAME": first, "LASTNAME": last}
    if object_name == "USERINFO":
        email = f"{_ascii(first)}.{_ascii(last)}.{number}@sandbox-company.example"
        return {
            "LOGINID": f"new{number}",
            "DESCRIPTION": f"{first} {last}",
            "USERTYPE": "business user",
            "STATUS": "active",
            **{f"CONTACTINFO.{k}": v for k, v in {**contact, "EMAIL1": email}.items()},
        }
    if object_name == "EMPLOYEE":
        return {
            "EMPLOYEEID": f"EMPN{number:04d}",
            "TITLE": rng.choice(_TITLES),
            "STATUS": "active",
            **{f"PERSONALINFO.{k}": v for k, v in contact.items()},
        }
    raise ValueError(f"the sandbox does not invent {object_name} records")


def changed_values(
    store: Store, object_name: str, record: Mapping[str, str], rng: random.Random
) -> dict[str, Any]:
    """A plausible edit of `record`: a rename, a move, a status change."""
    if object_name == "CUSTOMER":
        _, _, _, places = rng.choice(_PLACES)
        city = rng.choice(places)[0]
        return rng.choice(
            ({"NAME": f"{record['NAME']} (renamed)"}, {"DISPLAYCONTACT.MAILADDRESS.CITY": city})
        )
    if object_name == "DEPARTMENT":
        return {"TITLE": f"{record['TITLE']} (renamed)"}
    if object_name == "USERINFO":
        return {"DESCRIPTION": f"{record['DESCRIPTION']} (renamed)"}
    if object_name == "EMPLOYEE":
        return {"TITLE": rng.choice(_TITLES)}
    raise ValueError(f"the sandbox does not edit {object_name} records")
