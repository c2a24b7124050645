"""The `query` function: select, every filter operator, orderby, options, paging, formats and errors."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import pytest
from lxml import etree
from tests.sandbox.xml_client import (
    XmlClient,
    condition,
    errors,
    function,
    order,
    query_xml,
    records,
    request_xml,
)

from sandbox.intacct_gateway import PRIVATE_ENTITY

TIMESTAMP = "%m/%d/%Y %H:%M:%S"


def store_records(client: XmlClient, object_name: str, showprivate: bool = False) -> list[dict[str, str]]:
    """What a top-level session sees of an object, straight from the store."""
    return [r for r in client.server.store.records(object_name) if showprivate or not r.get("MEGAENTITYID")]


def recordnos(data: etree._Element) -> list[int]:
    return [int(record.findtext("RECORDNO")) for record in data]


def matching(client: XmlClient, object_name: str, filter_xml: str, options: str = "") -> list[int]:
    body = query_xml(object_name, "RECORDNO", filter=filter_xml, options=options, pagesize=2000)
    return sorted(recordnos(client.data(body)))


# ---- the answer's shape ---------------------------------------------------------------------------------


def test_a_page_lists_upper_case_records_with_the_selected_fields_in_order(client: XmlClient):
    fields = ("RECORDNO", "NAME", "DISPLAYCONTACT.MAILADDRESS.CITY", "DISPLAYCONTACT.EMAIL1", "STATUS")
    data = client.data(query_xml("CUSTOMER", *fields, orderby=order("RECORDNO"), pagesize=3))
    total = len(store_records(client, "CUSTOMER"))
    assert dict(data.attrib) == {
        "listtype": "CUSTOMER",
        "totalcount": str(total),
        "offset": "0",
        "count": "3",
        "numremaining": str(total - 3),
    }
    assert [record.tag for record in data] == ["CUSTOMER"] * 3
    assert [child.tag for child in data[0]] == list(fields)
    first = store_records(client, "CUSTOMER")[0]
    assert records(data)[0] == {name: first[name] for name in fields}


def test_select_is_required_and_has_no_wildcard(client: XmlClient):
    missing = client.xml(
        request_xml(function("<query><object>CUSTOMER</object></query>"), auth=client.session_auth())
    )
    assert errors(missing)[0][0] == "XL03000003"
    wildcard = client.result(query_xml("CUSTOMER", "*"))
    assert wildcard.findtext("status") == "failure"
    assert errors(wildcard)[-1] == ("DL02000001", "Invalid field(s) for CUSTOMER: *")


def test_unknown_fields_are_named_in_the_failure(client: XmlClient):
    result = client.result(query_xml("CUSTOMER", "RECORDNO", "SHOE_SIZE", "NAME", "HAT"))
    assert result.findtext("status") == "failure"
    assert errors(result) == [
        ("DL02000001", "There was an error processing the request."),
        ("DL02000001", "Invalid field(s) for CUSTOMER: SHOE_SIZE, HAT"),
    ]
    in_filter = client.result(
        query_xml("CUSTOMER", "RECORDNO", filter=condition("equalto", "SHOE_SIZE", "9"))
    )
    assert errors(in_filter)[-1] == ("DL02000001", "Invalid field(s) in filter: SHOE_SIZE")
    in_order = client.result(query_xml("CUSTOMER", "RECORDNO", orderby=order("SHOE_SIZE")))
    assert errors(in_order)[-1] == ("DL02000001", "Invalid field(s) in orderby: SHOE_SIZE")


def test_an_unknown_object_is_not_found(client: XmlClient):
    result = client.result(query_xml("WIDGET", "RECORDNO"))
    assert result.findtext("status") == "failure"
    assert errors(result) == [("XL03000009", "Object definition WIDGET not found")]
    assert result.find("errormessage/error/description").text == "There was an error processing the function"
    assert dict(result.find("data").attrib)["totalcount"] == "0"


def test_aggregates_are_refused_plainly(client: XmlClient):
    body = "<query><object>CUSTOMER</object><select><count>RECORDNO</count></select></query>"
    assert "Aggregates" in errors(client.result(body))[0][1]


# ---- paging ---------------------------------------------------------------------------------------------


def test_the_default_page_is_100_records(client: XmlClient):
    data = client.data(query_xml("CUSTOMER", "RECORDNO"))
    assert data.get("count") == "100"


@pytest.mark.parametrize(
    ("pagesize", "ok"), [(0, False), (1, True), (2000, True), (2001, False), ("ten", False)]
)
def test_page_size_is_1_to_2000(client: XmlClient, pagesize, ok):
    result = client.result(query_xml("CUSTOMER", "RECORDNO", pagesize=pagesize))
    assert (result.findtext("status") == "success") is ok


def test_offsets_page_through_and_a_negative_offset_fails(client: XmlClient):
    everything = recordnos(
        client.data(query_xml("CUSTOMER", "RECORDNO", orderby=order("RECORDNO"), pagesize=2000))
    )
    pages = []
    for offset in range(0, len(everything), 70):
        data = client.data(
            query_xml("CUSTOMER", "RECORDNO", orderby=order("RECORDNO"), pagesize=70, offset=offset)
        )
        assert data.get("offset") == str(offset)
        assert int(data.get("numremaining")) == max(len(everything) - offset - 70, 0)
        pages += recordnos(data)
    assert pages == everything
    assert client.result(query_xml("CUSTOMER", "RECORDNO", offset=-1)).findtext("status") == "failure"


def test_keyset_paging_on_recordno_returns_every_record_once(client: XmlClient):
    seen, after = [], 0
    while True:
        data = client.data(
            query_xml(
                "CUSTOMER",
                "RECORDNO",
                filter=condition("greaterthan", "RECORDNO", str(after)),
                orderby=order("RECORDNO"),
                options="<showprivate>true</showprivate>",
                pagesize=64,
            )
        )
        page = recordnos(data)
        seen += page
        if int(data.get("numremaining")) == 0:
            break
        after = page[-1]
    assert seen == [int(r["RECORDNO"]) for r in store_records(client, "CUSTOMER", showprivate=True)]


@pytest.mark.parametrize("direction", ["ascending", "descending"])
@pytest.mark.parametrize(("pagesize", "offset"), [(1, 0), (3, 2)])
def test_a_small_ordered_page_is_the_head_of_the_full_order(client: XmlClient, direction, pagesize, offset):
    """Pages far smaller than the object are picked without sorting it all; ties and NULLs still land as
    in the full sort."""
    full = client.data(
        query_xml(
            "CUSTOMER", "RECORDNO", "WHENMODIFIED", orderby=order("WHENMODIFIED", direction), pagesize=2000
        )
    )
    small = client.data(
        query_xml(
            "CUSTOMER",
            "RECORDNO",
            "WHENMODIFIED",
            orderby=order("WHENMODIFIED", direction),
            pagesize=pagesize,
            offset=offset,
        )
    )
    assert records(small) == records(full)[offset : offset + pagesize]
    assert small.get("totalcount") == full.get("totalcount")
    assert int(small.get("numremaining")) == int(full.get("totalcount")) - offset - pagesize


def test_without_orderby_rows_come_in_recordno_order(client: XmlClient):
    data = client.data(query_xml("DEPARTMENT", "RECORDNO", pagesize=2000))
    assert recordnos(data) == sorted(recordnos(data))


# ---- filters --------------------------------------------------------------------------------------------


def _customer(client: XmlClient, predicate) -> list[int]:
    return sorted(int(r["RECORDNO"]) for r in store_records(client, "CUSTOMER") if predicate(r))


def test_every_comparison_operator(client: XmlClient):
    city = "Paris"
    cases = {
        condition("equalto", "DISPLAYCONTACT.MAILADDRESS.CITY", city): lambda r: r["DISPLAYCONTACT.MAILADDRESS.CITY"] == city,
        condition("notequalto", "DISPLAYCONTACT.MAILADDRESS.CITY", city): lambda r: r["DISPLAYCONTACT.MAILADDRESS.CITY"] not in ("", city),
        condition("lessthan", "RECORDNO", "99"): lambda r: int(r["RECORDNO"]) < 99,
        condition("lessthanorequalto", "RECORDNO", "99"): lambda r: int(r["RECORDNO"]) <= 99,
        condition("greaterthan", "TOTALDUE", "25000"): lambda r: float(r["TOTALDUE"]) > 25000,
        condition("greaterthanorequalto", "NAME", "T"): lambda r: r["NAME"] >= "T",
        condition("between", "RECORDNO", "10", "20"): lambda r: 10 <= int(r["RECORDNO"]) <= 20,
        condition("in", "STATUS", "inactive"): lambda r: r["STATUS"] == "inactive",
        condition("notin", "CURRENCY", "USD", "EUR"): lambda r: r["CURRENCY"] not in ("", "USD", "EUR"),
        condition("like", "NAME", "%Labs%"): lambda r: "Labs" in r["NAME"],
        condition("notlike", "NAME", "A%"): lambda r: not r["NAME"].startswith("A"),
        condition("like", "DISPLAYCONTACT.MAILADDRESS.ZIP", "1000_"): lambda r: len(r["DISPLAYCONTACT.MAILADDRESS.ZIP"]) == 5 and r["DISPLAYCONTACT.MAILADDRESS.ZIP"].startswith("1000"),
        condition("isnull", "DISPLAYCONTACT.EMAIL1"): lambda r: r["DISPLAYCONTACT.EMAIL1"] == "",
        condition("isnotnull", "PARENTID"): lambda r: r["PARENTID"] != "",
    }  # fmt: skip
    for filter_xml, predicate in cases.items():
        expected = _customer(client, predicate)
        assert expected, f"the generated company should exercise {filter_xml}"
        assert matching(client, "CUSTOMER", filter_xml) == expected, filter_xml


def test_recordno_compares_as_a_number(client: XmlClient):
    assert matching(client, "CUSTOMER", condition("lessthan", "RECORDNO", "10")) == _customer(
        client, lambda r: int(r["RECORDNO"]) < 10
    )


def test_and_or_nest(client: XmlClient):
    filter_xml = (
        "<or>"
        f"<and>{condition('equalto', 'STATUS', 'inactive')}{condition('lessthan', 'RECORDNO', '150')}</and>"
        f"<and>{condition('like', 'NAME', '%&amp;%')}{condition('isnotnull', 'DISPLAYCONTACT.EMAIL1')}"
        f"<or>{condition('equalto', 'CURRENCY', 'EUR')}{condition('equalto', 'CURRENCY', 'USD')}</or></and>"
        "</or>"
    )
    expected = _customer(
        client,
        lambda r: (
            (r["STATUS"] == "inactive" and int(r["RECORDNO"]) < 150)
            or ("&" in r["NAME"] and r["DISPLAYCONTACT.EMAIL1"] != "" and r["CURRENCY"] in ("EUR", "USD"))
        ),
    )
    assert matching(client, "CUSTOMER", filter_xml) == expected


@pytest.mark.parametrize(
    "bad_filter",
    [
        condition("between", "RECORDNO", "1"),  # exactly two values
        condition("in", "RECORDNO", *[str(n) for n in range(1001)]),  # at most 1,000
        f"<and>{condition('equalto', 'STATUS', 'active')}</and>",  # at least two conditions
        condition("equalto", "STATUS", "active") + condition("equalto", "NAME", "x"),  # one top operator
        condition("isnull", "NAME", "x"),  # no value
        condition("startswith", "NAME", "x"),  # not an operator
    ],
    ids=["between-1", "in-1001", "and-1", "two-tops", "isnull-value", "startswith"],
)
def test_filters_the_schema_refuses_stop_the_request(client: XmlClient, bad_filter):
    response = client.call(function(query_xml("CUSTOMER", "RECORDNO", filter=bad_filter)))
    assert response.findtext("control/status") == "failure"
    assert errors(response)[0][0] == "XL03000003"


def test_in_accepts_1000_values(client: XmlClient):
    ids = [r["CUSTOMERID"] for r in store_records(client, "CUSTOMER")][:5] + [f"NONE{n}" for n in range(995)]
    assert len(matching(client, "CUSTOMER", condition("in", "CUSTOMERID", *ids))) == 5


def test_timestamps_compare_as_datetimes_in_the_users_time_zone(client: XmlClient):
    cut = "12/31/2025 23:00:00"
    cut_at = datetime.strptime(cut, TIMESTAMP)

    def modified_after(r):
        return r["WHENMODIFIED"] != "" and datetime.strptime(r["WHENMODIFIED"], TIMESTAMP) > cut_at

    expected = _customer(client, modified_after)
    assert expected
    assert matching(client, "CUSTOMER", condition("greaterthan", "WHENMODIFIED", cut)) == expected
    # an empty WHENMODIFIED is NULL: it matches no comparison, only isnull
    never = _customer(client, lambda r: r["WHENMODIFIED"] == "")
    assert never
    assert not set(never) & set(matching(client, "CUSTOMER", condition("lessthan", "WHENMODIFIED", cut)))
    assert matching(client, "CUSTOMER", condition("isnull", "WHENMODIFIED")) == never
    # a date alone means midnight
    day = matching(client, "CUSTOMER", condition("greaterthanorequalto", "WHENCREATED", "01/01/2026"))
    assert day == _customer(
        client, lambda r: datetime.strptime(r["WHENCREATED"], TIMESTAMP) >= datetime(2026, 1, 1)
    )


def test_an_iso_timestamp_is_a_processing_error(client: XmlClient):
    result = client.result(
        query_xml(
            "CUSTOMER", "RECORDNO", filter=condition("greaterthan", "WHENMODIFIED", "2025-12-31T23:00:00Z")
        )
    )
    assert result.findtext("status") == "failure"
    assert errors(result)[0] == ("DL02000001", "There was an error processing the request.")
    not_a_number = client.result(
        query_xml("CUSTOMER", "RECORDNO", filter=condition("greaterthan", "RECORDNO", "ten"))
    )
    assert errors(not_a_number)[0][0] == "DL02000001"


def test_case_matters_unless_caseinsensitive(client: XmlClient):
    name = store_records(client, "CUSTOMER")[0]["NAME"]
    shouted = condition("equalto", "NAME", name.upper().replace("&", "&amp;").replace("<", "&lt;"))
    exact = _customer(client, lambda r: r["NAME"] == name.upper())
    folded = _customer(client, lambda r: r["NAME"].lower() == name.lower())
    assert matching(client, "CUSTOMER", shouted) == exact
    assert matching(client, "CUSTOMER", shouted, "<caseinsensitive>true</caseinsensitive>") == folded
    like = condition("like", "NAME", "%labs%")
    assert matching(client, "CUSTOMER", like, "<caseinsensitive>true</caseinsensitive>") == _customer(
        client, lambda r: "labs" in r["NAME"].lower()
    )


def test_status_values_and_booleans(client: XmlClient):
    assert matching(client, "DEPARTMENT", condition("equalto", "STATUS", "active non-posting"))
    assert matching(client, "USERINFO", condition("equalto", "LOGINDISABLED", "true")) == [2]


# ---- relationships and derived fields -------------------------------------------------------------------


def test_dotted_relationship_paths_read_the_related_record(client: XmlClient):
    data = client.data(
        query_xml(
            "EMPLOYEE",
            "EMPLOYEEID",
            "CONTACT.EMAIL1",
            "PERSONALINFO.EMAIL1",
            "CONTACT.MAILADDRESS.CITY",
            pagesize=2000,
        )
    )
    for record in records(data):
        assert record["CONTACT.EMAIL1"] == record["PERSONALINFO.EMAIL1"]
    departments = {r["RECORDNO"]: r for r in client.server.store.records("DEPARTMENT")}
    data = client.data(
        query_xml("DEPARTMENT", "RECORDNO", "PARENTKEY", "PARENT.TITLE", "PARENTNAME", pagesize=2000)
    )
    for record in records(data):
        parent = departments.get(record["PARENTKEY"])
        assert record["PARENT.TITLE"] == record["PARENTNAME"] == (parent["TITLE"] if parent else "")
    # filters and sorting follow relationships too
    last = condition("like", "CONTACT.LASTNAME", "M%")
    expected = sorted(
        int(e["RECORDNO"])
        for e in store_records(client, "EMPLOYEE")
        if e["PERSONALINFO.LASTNAME"].startswith("M")
    )
    assert matching(client, "EMPLOYEE", last) == expected


def test_relationships_go_one_hop_only(client: XmlClient):
    result = client.result(query_xml("DEPARTMENT", "PARENT.PARENT.TITLE"))
    assert result.findtext("status") == "failure"


# ---- orderby --------------------------------------------------------------------------------------------


def test_orderby_sorts_several_fields_both_ways_with_nulls_like_oracle(client: XmlClient):
    data = client.data(
        query_xml(
            "CUSTOMER",
            "RECORDNO",
            "CURRENCY",
            "WHENMODIFIED",
            orderby=order("CURRENCY") + order("WHENMODIFIED", "descending"),
            pagesize=2000,
        )
    )
    rows = records(data)

    def key(r):
        modified = datetime.strptime(r["WHENMODIFIED"], TIMESTAMP).timestamp() if r["WHENMODIFIED"] else None
        # NULLs first when descending: a missing WHENMODIFIED sorts as the largest value
        return (r["CURRENCY"], -(modified if modified is not None else float("inf")))

    assert rows == sorted(rows, key=key)
    ascending = client.data(
        query_xml("CUSTOMER", "RECORDNO", "WHENMODIFIED", orderby=order("WHENMODIFIED"), pagesize=2000)
    )
    stamps = [r["WHENMODIFIED"] for r in records(ascending)]
    assert stamps[-1] == "" and stamps[0] != ""  # NULLs last when ascending
    descending = client.data(
        query_xml("CUSTOMER", "RECORDNO", orderby=order("RECORDNO", "descending"), pagesize=2000)
    )
    assert recordnos(descending) == sorted(recordnos(descending), reverse=True)


# ---- options and formats --------------------------------------------------------------------------------


def test_showprivate_shows_the_second_entitys_records(client: XmlClient):
    private = condition("equalto", "MEGAENTITYID", PRIVATE_ENTITY)
    assert matching(client, "EMPLOYEE", private) == []
    assert matching(client, "EMPLOYEE", private, "<showprivate>true</showprivate>")


def test_json_and_csv_return_formats_carry_only_the_data(client: XmlClient):
    body = query_xml(
        "DEPARTMENT",
        "RECORDNO",
        "TITLE",
        orderby=order("RECORDNO"),
        options="<returnformat>json</returnformat>",
        pagesize=3,
    )
    answer = client.post(request_xml(function(body), auth=client.session_auth()))
    assert answer.headers["Content-Type"] == "application/json"
    departments = client.server.store.records("DEPARTMENT")[:3]
    assert json.loads(answer.content) == [
        {"RECORDNO": d["RECORDNO"], "TITLE": d["TITLE"]} for d in departments
    ]
    answer = client.post(request_xml(function(body.replace(">json<", ">csv<")), auth=client.session_auth()))
    assert answer.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows == [["RECORDNO", "TITLE"], *([d["RECORDNO"], d["TITLE"]] for d in departments)]
    # errors stay XML
    failing = client.post(
        request_xml(function(body.replace("DEPARTMENT", "WIDGET")), auth=client.session_auth())
    )
    assert failing.headers["Content-Type"].startswith("text/xml")


def test_objects_and_fields_are_case_insensitive_on_the_way_in(client: XmlClient):
    data = client.data(query_xml("customer", "recordno", "name", pagesize=1))
    assert data.get("listtype") == "CUSTOMER"
    assert [child.tag for child in data[0]] == ["RECORDNO", "NAME"]
