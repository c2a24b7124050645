"""The legacy and single-record reads: readByQuery + readMore, read, readByName, lookup."""

from __future__ import annotations

from xml.sax.saxutils import escape

import pytest
from lxml import etree
from tests.sandbox.xml_client import XmlClient, errors, function, records


def read_by_query(object_name: str, query: str = "", fields: str = "", pagesize: int | None = None) -> str:
    """A readByQuery; the query string is XML-escaped here (`<` and `&` must be, in a real request too)."""
    parts = [f"<object>{object_name}</object>", f"<query>{escape(query)}</query>"]
    parts.append(f"<fields>{fields}</fields>" if fields else "")
    parts.append(f"<pagesize>{pagesize}</pagesize>" if pagesize is not None else "")
    return f"<readByQuery>{''.join(parts)}</readByQuery>"


def read_more(result_id: str) -> str:
    return f"<readMore><resultId>{result_id}</resultId></readMore>"


def top_level(client: XmlClient, object_name: str) -> list[dict[str, str]]:
    return [r for r in client.server.store.records(object_name) if not r.get("MEGAENTITYID")]


def keys(data: etree._Element) -> list[int]:
    return [int(record.findtext("RECORDNO")) for record in data]


# ---- readByQuery ----------------------------------------------------------------------------------------


def test_read_by_query_answers_in_lower_case_with_nested_sub_records(client: XmlClient):
    data = client.data(
        read_by_query(
            "CUSTOMER",
            fields="RECORDNO,NAME,DISPLAYCONTACT.EMAIL1,DISPLAYCONTACT.MAILADDRESS.CITY",
            pagesize=5,
        )
    )
    assert data.get("listtype") == "customer"
    assert [record.tag for record in data] == ["customer"] * 5
    first = data[0]
    assert [child.tag for child in first] == ["RECORDNO", "NAME", "DISPLAYCONTACT"]
    assert [child.tag for child in first.find("DISPLAYCONTACT")] == ["EMAIL1", "MAILADDRESS"]
    expected = top_level(client, "CUSTOMER")[0]
    assert first.findtext("DISPLAYCONTACT/MAILADDRESS/CITY") == expected["DISPLAYCONTACT.MAILADDRESS.CITY"]


def test_read_by_query_without_fields_returns_whole_records(client: XmlClient):
    data = client.data(read_by_query("DEPARTMENT", pagesize=1))
    record = records(data)[0]
    assert record == client.server.store.records("DEPARTMENT")[0]


def test_read_more_continues_by_result_id_until_nothing_remains(client: XmlClient):
    first = client.data(read_by_query("CUSTOMER", fields="RECORDNO", pagesize=100))
    total = len(top_level(client, "CUSTOMER"))
    assert (first.get("count"), first.get("totalcount"), first.get("numremaining")) == (
        "100",
        str(total),
        str(total - 100),
    )
    result_id = first.get("resultId")
    assert result_id
    seen = keys(first)
    while True:
        page = client.data(read_more(result_id))
        assert page.get("listtype") == "customer"
        assert page.get("resultId") == result_id
        seen += keys(page)
        assert int(page.get("numremaining")) == total - len(seen)
        if page.get("numremaining") == "0":
            break
    assert seen == [int(r["RECORDNO"]) for r in top_level(client, "CUSTOMER")]
    # a finished cursor is gone
    assert client.result(read_more(result_id)).findtext("status") == "failure"


def test_a_result_that_fits_one_page_has_no_cursor(client: XmlClient):
    data = client.data(read_by_query("LOCATIONENTITY"))
    assert (data.get("count"), data.get("numremaining"), data.get("resultId")) == ("2", "0", "")


def test_read_more_by_object_continues_the_sessions_last_read_by_query(client: XmlClient):
    client.data(read_by_query("DEPARTMENT", fields="RECORDNO", pagesize=10))
    page = client.data("<readMore><object>DEPARTMENT</object></readMore>")
    assert keys(page) == [int(d["RECORDNO"]) for d in client.server.store.records("DEPARTMENT")][10:20]
    assert client.result("<readMore><object>EMPLOYEE</object></readMore>").findtext("status") == "failure"
    assert client.result("<readMore><view>x</view></readMore>").findtext("status") == "failure"


def test_a_result_id_belongs_to_the_session_that_opened_it(client: XmlClient):
    result_id = client.data(read_by_query("CUSTOMER", fields="RECORDNO", pagesize=10)).get("resultId")
    other_session = f"<sessionid>{client.session()}</sessionid>"
    failure = client.result(read_more(result_id), auth=other_session)
    assert failure.findtext("status") == "failure"
    assert "invalid or expired resultId" in errors(failure)[0][1]


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        ("STATUS = 'T'", lambda r: r["STATUS"] == "active"),
        ("STATUS = 'active non-posting'", lambda r: r["STATUS"] == "active non-posting"),
        ("STATUS != 'T'", lambda r: r["STATUS"] != "active"),
        ("STATUS <> 'F'", lambda r: r["STATUS"] != "inactive"),
        ("RECORDNO < 10", lambda r: int(r["RECORDNO"]) < 10),
        ("RECORDNO <= 10 AND RECORDNO >= 5", lambda r: 5 <= int(r["RECORDNO"]) <= 10),
        ("RECORDNO > 25 OR PARENTKEY IS NULL", lambda r: int(r["RECORDNO"]) > 25 or r["PARENTKEY"] == ""),
        ("PARENTKEY IS NOT NULL", lambda r: r["PARENTKEY"] != ""),
        ("TITLE like 'Platform%'", lambda r: r["TITLE"].startswith("Platform")),
        ("TITLE not like '%e%'", lambda r: "e" not in r["TITLE"]),
        ("DEPARTMENTID in ('D100', 'D105','D999')", lambda r: r["DEPARTMENTID"] in ("D100", "D105")),
        ("DEPARTMENTID NOT IN ('D100')", lambda r: r["DEPARTMENTID"] != "D100"),
        (
            "NOT (RECORDNO < 10 OR STATUS = 'F')",
            lambda r: not (int(r["RECORDNO"]) < 10 or r["STATUS"] == "inactive"),
        ),
        ("TITLE = 'O\\'Brien\\'s Team'", lambda r: r["TITLE"] == "O'Brien's Team"),
        ("TITLE = 'Research & Development'", lambda r: r["TITLE"] == "Research & Development"),
        ("TITLE = 'Sales <EMEA>'", lambda r: r["TITLE"] == "Sales <EMEA>"),
        ("PARENTNAME = 'Operations'", lambda r: r["PARENTNAME"] == "Operations"),
    ],
)
def test_read_by_query_strings(client: XmlClient, query, predicate):
    expected = [int(d["RECORDNO"]) for d in client.server.store.records("DEPARTMENT") if predicate(d)]
    assert expected, "the generated company should exercise this query"
    data = client.data(read_by_query("DEPARTMENT", query, fields="RECORDNO", pagesize=1000))
    assert keys(data) == expected


def test_validated_list_fields_take_database_characters(client: XmlClient):
    business = [
        int(u["RECORDNO"])
        for u in client.server.store.records("USERINFO")
        if u["USERTYPE"] == "business user"
    ]
    assert (
        keys(client.data(read_by_query("USERINFO", "usertype = 'B'", fields="RECORDNO", pagesize=1000)))
        == business
    )


@pytest.mark.parametrize(
    "query",
    [
        "RECORDNO>5",
        "RECORDNO =5",
        "TITLE = 'unterminated",
        "TITLE",
        "TITLE IS EMPTY",
        "(RECORDNO = 1",
        "SHOE = 'x'",
        "RECORDNO = 'x'",
    ],
)
def test_a_query_string_that_does_not_parse_is_a_processing_error(client: XmlClient, query):
    result = client.result(read_by_query("DEPARTMENT", query))
    assert result.findtext("status") == "failure"
    assert errors(result)[0][0] == "DL02000001"


def test_an_unescaped_less_than_breaks_the_xml(client: XmlClient):
    body = "<readByQuery><object>DEPARTMENT</object><query>RECORDNO < 10</query></readByQuery>"
    response = client.call(function(body))
    assert response.findtext("control/status") == "failure"
    assert errors(response)[0][0] == "XL03000003"


def test_read_by_query_page_size_limits(client: XmlClient):
    assert client.data(read_by_query("CUSTOMER", fields="RECORDNO")).get("count") == "100"
    assert client.data(read_by_query("CUSTOMER", fields="RECORDNO", pagesize=1000)).get("count") == str(
        min(1000, len(top_level(client, "CUSTOMER")))
    )
    assert (
        client.result(read_by_query("CUSTOMER", fields="RECORDNO", pagesize=1001)).findtext("status")
        == "failure"
    )


def test_read_by_query_on_an_unknown_object(client: XmlClient):
    result = client.result(read_by_query("WIDGET"))
    assert errors(result) == [("Query Failed", "Object definition WIDGET not found")]


def test_audit_history_speaks_words_in_read_by_query_and_letters_in_query(client: XmlClient):
    legacy = client.data(
        read_by_query("AUDITHISTORY", "ACCESSMODE = 'D'", fields="ID,ACCESSMODE", pagesize=1000)
    )
    assert legacy.findtext("audithistory/ACCESSMODE") == "Delete"
    modern = client.data(
        "<query><object>AUDITHISTORY</object><select><field>ACCESSMODE</field></select>"
        "<filter><equalto><field>ACCESSMODE</field><value>D</value></equalto></filter></query>"
    )
    assert {record.findtext("ACCESSMODE") for record in modern} == {"D"}
    assert len(modern) == len(legacy)


# ---- read / readByName ----------------------------------------------------------------------------------


def test_read_takes_recordnos_and_read_by_name_takes_ids(client: XmlClient):
    users = client.server.store.records("USERINFO")
    by_key = client.data(
        f"<read><object>USERINFO</object><keys>{users[3]['RECORDNO']},{users[1]['RECORDNO']},99999</keys><fields>RECORDNO,LOGINID,CONTACTINFO.EMAIL1</fields></read>"
    )
    assert (by_key.get("listtype"), by_key.get("count")) == ("USERINFO", "2")
    assert [record.tag for record in by_key] == ["USERINFO", "USERINFO"]
    assert [r["LOGINID"] for r in records(by_key)] == [users[3]["LOGINID"], users[1]["LOGINID"]]
    assert by_key[0].findtext("CONTACTINFO/EMAIL1") == users[3]["CONTACTINFO.EMAIL1"]
    by_name = client.data(
        "<readByName><object>USERINFO</object><keys>xml_gateway</keys><fields>RECORDNO</fields></readByName>"
    )
    assert by_name.findtext("USERINFO/RECORDNO") == "2"
    whole = client.data("<readByName><object>DEPARTMENT</object><keys>D102</keys></readByName>")
    assert records(whole) == [client.server.store.get("DEPARTMENT", "D102")]
    assert (
        client.result("<read><object>USERINFO</object><keys>xml_gateway</keys></read>").findtext("status")
        == "failure"
    )


def test_read_hides_private_records_from_top_level_sessions(client: XmlClient):
    private = next(c for c in client.server.store.records("CUSTOMER") if c["MEGAENTITYID"])
    body = f"<readByName><object>CUSTOMER</object><keys>{private['CUSTOMERID']}</keys></readByName>"
    assert client.data(body).get("count") == "0"
    assert client.data(body, auth=client.session_auth(private["MEGAENTITYID"])).get("count") == "1"


# ---- lookup ---------------------------------------------------------------------------------------------


def test_lookup_describes_fields_types_and_relationships(client: XmlClient):
    data = client.data("<lookup><object>EMPLOYEE</object></lookup>")
    type_element = data.find("Type")
    assert type_element.get("Name") == "EMPLOYEE"
    fields = {f.findtext("ID"): f for f in type_element.iterfind("Fields/Field")}
    assert fields["RECORDNO"].findtext("DATATYPE") == "INTEGER"
    assert fields["WHENMODIFIED"].findtext("DATATYPE") == "TIMESTAMP"
    assert fields["STARTDATE"].findtext("DATATYPE") == "DATE"
    assert fields["EMPLOYEEID"].findtext("REQUIRED") == "true"
    assert fields["PERSONALINFO.EMAIL1"].findtext("DATATYPE") == "TEXT"
    assert [v.text for v in fields["STATUS"].iterfind("VALIDVALUES/VALIDVALUE")] == ["active", "inactive"]
    relationships = [
        (r.findtext("OBJECTPATH"), r.findtext("OBJECTNAME"))
        for r in type_element.iterfind("Relationships/Relationship")
    ]
    assert relationships == [("CONTACT", "CONTACT")]
    assert client.result("<lookup><object>WIDGET</object></lookup>").findtext("status") == "failure"


def test_every_object_can_be_looked_up_and_queried_by_its_lookup_fields(client: XmlClient):
    for name in (
        "CUSTOMER",
        "DEPARTMENT",
        "USERINFO",
        "EMPLOYEE",
        "CONTACT",
        "LOCATIONENTITY",
        "AUDITHISTORY",
    ):
        fields = [
            f.findtext("ID")
            for f in client.data(f"<lookup><object>{name}</object></lookup>").iterfind("Type/Fields/Field")
        ]
        select = "".join(f"<field>{f}</field>" for f in fields)
        data = client.data(
            f"<query><object>{name}</object><select>{select}</select><pagesize>5</pagesize></query>"
        )
        assert [child.tag for child in data[0]] == fields
