"""The objects and their life: fields, links, timestamps, and changes made while the gateway runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.sandbox.xml_client import NOW, XmlClient, condition, order, query_xml, records

from sandbox.intacct_gateway import Clock, GatewayServer, Store, StoreError, generate_company

TIMESTAMP = "%m/%d/%Y %H:%M:%S"


def audit_rows(client: XmlClient, object_type: str) -> list[dict[str, str]]:
    fields = ("ID", "OBJECTTYPE", "OBJECTKEY", "OBJECTDESC", "USERID", "ACCESSTIME", "ACCESSMODE", "SOURCE")
    body = query_xml(
        "AUDITHISTORY",
        *fields,
        filter=condition("equalto", "OBJECTTYPE", object_type),
        orderby=order("ID"),
        pagesize=2000,
    )
    return records(client.data(body))


# ---- the objects' fields --------------------------------------------------------------------------------


def test_customers_carry_their_display_contact_and_address(client: XmlClient):
    fields = [
        f"DISPLAYCONTACT.MAILADDRESS.{part}"
        for part in ("ADDRESS1", "CITY", "STATE", "ZIP", "COUNTRY", "COUNTRYCODE")
    ]
    fields += [
        "CUSTOMERID",
        "NAME",
        "DISPLAYCONTACT.PRINTAS",
        "DISPLAYCONTACT.EMAIL1",
        "TAXID",
        "STATUS",
        "ENTITY",
    ]
    data = client.data(query_xml("CUSTOMER", *fields, pagesize=50))
    for record in records(data):
        stored = client.server.store.get("CUSTOMER", record["CUSTOMERID"])
        assert record == {name: stored[name] for name in fields}
        assert record["DISPLAYCONTACT.MAILADDRESS.CITY"]
        assert record["ENTITY"] == "C" + record["CUSTOMERID"]


def test_departments_form_a_hierarchy_by_parent(client: XmlClient):
    data = client.data(
        query_xml(
            "DEPARTMENT",
            "RECORDNO",
            "DEPARTMENTID",
            "TITLE",
            "PARENTKEY",
            "PARENTID",
            "PARENTNAME",
            "STATUS",
            pagesize=2000,
        )
    )
    departments = {r["RECORDNO"]: r for r in records(data)}
    for department in departments.values():
        if department["PARENTKEY"]:
            parent = departments[department["PARENTKEY"]]
            assert (department["PARENTID"], department["PARENTNAME"]) == (
                parent["DEPARTMENTID"],
                parent["TITLE"],
            )
        else:
            assert department["PARENTID"] == department["PARENTNAME"] == ""
    assert {d["STATUS"] for d in departments.values()} == {"active", "inactive", "active non-posting"}


def test_users_have_login_contact_type_and_status(client: XmlClient):
    fields = (
        "LOGINID",
        "DESCRIPTION",
        "USERTYPE",
        "STATUS",
        "LOGINDISABLED",
        "ADMIN",
        "CONTACTINFO.FIRSTNAME",
        "CONTACTINFO.LASTNAME",
        "CONTACTINFO.EMAIL1",
    )
    users = {r["LOGINID"]: r for r in records(client.data(query_xml("USERINFO", *fields, pagesize=2000)))}
    assert users["xml_gateway"]["LOGINDISABLED"] == "true"  # the web-services-only API user
    assert users["Admin"]["ADMIN"] == "true"
    assert {u["USERTYPE"] for u in users.values()} <= {"business user", "employee user", "view only user"}
    assert {u["STATUS"] for u in users.values()} == {"active", "inactive", "lockedout"}


def test_an_employee_shares_its_contact_with_its_user(client: XmlClient):
    users = records(
        client.data(
            query_xml(
                "USERINFO",
                "LOGINID",
                "CONTACTKEY",
                "CONTACTINFO.CONTACTNAME",
                "CONTACTINFO.EMAIL1",
                pagesize=2000,
            )
        )
    )
    employees = records(
        client.data(
            query_xml(
                "EMPLOYEE",
                "EMPLOYEEID",
                "DEPARTMENTID",
                "CONTACTKEY",
                "CONTACT_NAME",
                "PERSONALINFO.EMAIL1",
                options="<showprivate>true</showprivate>",
                pagesize=2000,
            )
        )
    )
    by_contact = {e["CONTACTKEY"]: e for e in employees}
    linked = [(u, by_contact[u["CONTACTKEY"]]) for u in users if u["CONTACTKEY"] in by_contact]
    assert linked
    for user, employee in linked:
        assert employee["CONTACT_NAME"] == user["CONTACTINFO.CONTACTNAME"]
        assert employee["PERSONALINFO.EMAIL1"] == user["CONTACTINFO.EMAIL1"]
    departments = {d["DEPARTMENTID"] for d in client.server.store.records("DEPARTMENT")}
    assert all(e["DEPARTMENTID"] in departments for e in employees if e["DEPARTMENTID"])


def test_timestamps_are_shown_in_the_users_time_zone():
    clock = Clock(datetime(2026, 7, 4, 19, 5, 9, tzinfo=UTC))
    for zone, shown in (
        ("-08:00", "07/04/2026 11:05:09"),
        ("America/New_York", "07/04/2026 15:05:09"),
        ("+05:30", "07/05/2026 00:35:09"),
    ):
        store = generate_company(1, customers=3, departments=3, users=3, timezone=zone, clock=clock)
        created = store.create("DEPARTMENT", {"DEPARTMENTID": "T1", "TITLE": "Timed"})
        assert created["WHENCREATED"] == created["WHENMODIFIED"] == shown


# ---- changes while the gateway runs ---------------------------------------------------------------------


def test_created_changed_and_deleted_records_show_in_queries_and_in_the_audit_trail(fresh_client: XmlClient):
    store, clock = fresh_client.server.store, fresh_client.server.store.clock
    clock.advance(3600)
    created = store.create(
        "DEPARTMENT", {"DEPARTMENTID": "D-NEW", "TITLE": "New & <Shiny>", "PARENTID": "D101"}
    )
    clock.advance(60)
    store.update("DEPARTMENT", "D-NEW", {"TITLE": "Renamed", "STATUS": "inactive"})
    clock.advance(60)
    store.update("CUSTOMER", "C1003", {"NAME": "Changed Name"})
    clock.advance(60)
    store.delete("DEPARTMENT", "D-NEW")

    assert created["PARENTKEY"] == store.get("DEPARTMENT", "D101")["RECORDNO"]
    assert store.get("DEPARTMENT", "D-NEW") is None
    since = clock.now().timestamp() - 200
    shown_since = datetime.fromtimestamp(since, store.zone).strftime(TIMESTAMP)
    changed = fresh_client.data(
        query_xml(
            "CUSTOMER",
            "CUSTOMERID",
            "NAME",
            "WHENMODIFIED",
            filter=condition("greaterthan", "WHENMODIFIED", shown_since),
        )
    )
    assert records(changed) == [
        {"CUSTOMERID": "C1003", "NAME": "Changed Name", "WHENMODIFIED": "03/02/2026 10:32:00"}
    ]

    trail = [
        row
        for row in audit_rows(fresh_client, "department")
        if row["OBJECTKEY"] == f"{created['RECORDNO']}--REC"
    ]
    assert [(r["ACCESSMODE"], r["OBJECTDESC"], r["USERID"], r["SOURCE"]) for r in trail] == [
        ("C", "New & <Shiny>", "Admin", "ui"),
        ("M", "Renamed", "Admin", "ui"),
        ("D", "Renamed", "Admin", "ui"),
    ]
    assert [r["ACCESSTIME"] for r in trail] == [
        "03/02/2026 10:30:00",
        "03/02/2026 10:31:00",
        "03/02/2026 10:33:00",
    ]
    customer_trail = audit_rows(fresh_client, "customer")
    assert customer_trail[-1]["OBJECTKEY"] == "C1003"  # customers are keyed by CUSTOMERID


def test_a_users_contact_change_reaches_its_employee_without_a_new_whenmodified(fresh_gateway: GatewayServer):
    store = fresh_gateway.store
    employee = next(
        e
        for e in store.records("EMPLOYEE")
        if any(u["CONTACTKEY"] == e["CONTACTKEY"] for u in store.records("USERINFO"))
    )
    user = next(u for u in store.records("USERINFO") if u["CONTACTKEY"] == employee["CONTACTKEY"])
    store.clock.advance(600)
    updated = store.update("USERINFO", user["LOGINID"], {"CONTACTINFO.EMAIL1": "new.address@example.com"})
    after = store.get("EMPLOYEE", employee["EMPLOYEEID"])
    assert after["PERSONALINFO.EMAIL1"] == updated["CONTACTINFO.EMAIL1"] == "new.address@example.com"
    assert after["WHENMODIFIED"] == employee["WHENMODIFIED"]
    assert updated["WHENMODIFIED"] != user["WHENMODIFIED"]


def test_a_new_employee_can_share_an_existing_users_contact(fresh_gateway: GatewayServer):
    store = fresh_gateway.store
    user = store.create(
        "USERINFO",
        {
            "LOGINID": "jdoe",
            "CONTACTINFO.FIRSTNAME": "Jane",
            "CONTACTINFO.LASTNAME": "Doe",
            "CONTACTINFO.EMAIL1": "jane@example.com",
        },
    )
    employee = store.create(
        "EMPLOYEE",
        {
            "EMPLOYEEID": "E-JD",
            "DEPARTMENTID": "D102",
            "PERSONALINFO.CONTACTNAME": user["CONTACTINFO.CONTACTNAME"],
        },
    )
    assert employee["CONTACTKEY"] == user["CONTACTKEY"]
    assert employee["PERSONALINFO.EMAIL1"] == "jane@example.com"
    assert employee["DEPARTMENTKEY"] == store.get("DEPARTMENT", "D102")["RECORDNO"]
    private = store.create("EMPLOYEE", {"EMPLOYEEID": "E-EU", "PERSONALINFO.FIRSTNAME": "Eva"}, entity="E200")
    assert (private["MEGAENTITYID"], private["MEGAENTITYNAME"], private["LOCATIONID"]) == (
        "E200",
        "EU Subsidiary",
        "E200",
    )


def test_renaming_a_parent_changes_its_childrens_parentname_only(fresh_gateway: GatewayServer):
    store = fresh_gateway.store
    child = next(d for d in store.records("DEPARTMENT") if d["PARENTID"] == "D101")
    store.clock.advance(60)
    store.update("DEPARTMENT", "D101", {"TITLE": "Ops"})
    after = store.get("DEPARTMENT", child["DEPARTMENTID"])
    assert after["PARENTNAME"] == "Ops"
    assert after["WHENMODIFIED"] == child["WHENMODIFIED"]


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda s: s.create("CUSTOMER", {"CUSTOMERID": "C1001", "NAME": "Twin"}), "already exists"),
        (lambda s: s.create("CUSTOMER", {"NAME": "No id"}), "CUSTOMERID is required"),
        (lambda s: s.create("CUSTOMER", {"CUSTOMERID": "X1", "SHOE_SIZE": "9"}), "no field 'SHOE_SIZE'"),
        (lambda s: s.create("CUSTOMER", {"CUSTOMERID": "X1", "STATUS": "sleeping"}), "STATUS must be one of"),
        (lambda s: s.create("CUSTOMER", {"CUSTOMERID": "X1", "NAME": "bell\x07"}), "XML cannot carry"),
        (lambda s: s.create("CUSTOMER", {"CUSTOMERID": "X1", "RECORDNO": 5}), "read-only"),
        (
            lambda s: s.create("DEPARTMENT", {"DEPARTMENTID": "X1", "TITLE": "t", "PARENTID": "NOPE"}),
            "no DEPARTMENT 'NOPE'",
        ),
        (lambda s: s.create("AUDITHISTORY", {"ID": 1}), "written by the company itself"),
        (lambda s: s.create("CUSTOMER", {"CUSTOMERID": "X1"}, entity="NOPE"), "no entity"),
        (lambda s: s.update("CUSTOMER", "C1001", {"CUSTOMERID": "C9"}), "cannot change"),
        (lambda s: s.update("CUSTOMER", "NOPE", {"NAME": "x"}), "no CUSTOMER with CUSTOMERID 'NOPE'"),
        (lambda s: s.update("DEPARTMENT", "D100", {"PARENTID": "D104"}), "cycle"),
        (lambda s: s.update("DEPARTMENT", "D100", {"PARENTNAME": "x"}), "read-only"),
        (lambda s: s.delete("DEPARTMENT", "D100"), "still used by DEPARTMENT 'D101'"),
        (lambda s: s.delete("CUSTOMER", 999_999), "no CUSTOMER with RECORDNO 999999"),
        (lambda s: s.create("WIDGET", {}), "unknown object"),
    ],
)
def test_the_store_refuses_changes_intacct_would_refuse(fresh_gateway: GatewayServer, action, message):
    with pytest.raises(StoreError, match=message.replace("(", r"\(")):
        action(fresh_gateway.store)


def test_the_clock_moves_only_when_told(fresh_gateway: GatewayServer):
    clock = fresh_gateway.store.clock
    assert clock.frozen and clock.now() == NOW
    assert clock.advance(90).timestamp() == NOW.timestamp() + 90
    assert clock.set(datetime(2030, 1, 1, tzinfo=UTC)) == datetime(2030, 1, 1, tzinfo=UTC)
    wall = Clock()
    before = wall.now()
    assert (wall.advance(3600) - before).total_seconds() >= 3600
    with pytest.raises(ValueError, match="timezone-aware"):
        Clock(datetime(2026, 1, 1))


def test_a_store_built_by_hand_serves_too():
    store = Store(company_id="HANDMADE", timezone="+01:00", clock=Clock(NOW))
    store.load("USERINFO", [])
    store.create("CONTACT", {"CONTACTNAME": "Api User"})
    store.create("USERINFO", {"LOGINID": "api", "STATUS": "active", "CONTACTINFO.CONTACTNAME": "Api User"})
    store.set_password("api", "pw")
    store.create("CUSTOMER", {"CUSTOMERID": "ONLY", "NAME": "The only customer"})
    assert store.authenticate("api", "pw") is not None
    assert store.authenticate("api", "wrong") is None
    assert [c["NAME"] for c in store.records("CUSTOMER")] == ["The only customer"]
    with pytest.raises(StoreError):
        store.set_password("ghost", "pw")
