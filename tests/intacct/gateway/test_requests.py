"""Request builders: exact XML pinned by snapshots, escaping, validation and secret hiding."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from lxml import etree

from intacct.gateway import requests as r
from intacct.gateway.requests import (
    LoginCredentials,
    SenderCredentials,
    SessionAuth,
    build_request,
)

from .snapshot import SNAPSHOT_DIR, assert_matches_snapshot, pretty_xml

SENDER = SenderCredentials("forecast_sender", "SENDER-PASSWORD-x1")
SESSION = SessionAuth("SESSION-ID-x2..")
LOGIN = LoginCredentials("xml_gateway", "ACME", "USER-PASSWORD-x3")
SECRETS = ("SENDER-PASSWORD-x1", "SESSION-ID-x2..", "USER-PASSWORD-x3")
DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'


def one(function: etree._Element, auth: LoginCredentials | SessionAuth = SESSION, **options: bool) -> bytes:
    return build_request(SENDER, auth, [("func-1", function)], control_id="ctl-1", **options)


CASES: dict[str, Callable[[], bytes]] = {
    "get_api_session_login": lambda: one(r.get_api_session(), LOGIN),
    "get_api_session_login_entity": lambda: one(
        r.get_api_session(), LoginCredentials("xml_gateway", "ACME", "USER-PASSWORD-x3", entity_id="E100")
    ),
    "get_api_session_login_console_client": lambda: one(
        r.get_api_session(),
        LoginCredentials("xml_gateway", "CONSOLE", "USER-PASSWORD-x3", entity_id="E100", client_id="ACME"),
    ),
    "get_api_session_switch_entity": lambda: one(r.get_api_session("E200")),
    "get_api_session_top_level": lambda: one(r.get_api_session(top_level=True)),
    "read_user_formatting_user_id": lambda: one(r.read_user_formatting("xml_gateway")),
    "read_user_formatting_key": lambda: one(r.read_user_formatting(key=48)),
    "query_minimal": lambda: one(r.query("DEPARTMENT", ["RECORDNO", "DEPARTMENTID", "TITLE"])),
    "query_keyset_page": lambda: one(
        r.query(
            "CUSTOMER",
            ["RECORDNO", "CUSTOMERID", "NAME", "DISPLAYCONTACT.EMAIL1", "WHENMODIFIED"],
            filter=r.and_(
                r.equal_to("WHENMODIFIED", dt.datetime(2024, 12, 8, 10, 46, 26)),
                r.greater_than("RECORDNO", 1234),
            ),
            orderby=[("WHENMODIFIED", False), ("RECORDNO", False)],
            show_private=True,
        )
    ),
    "query_every_operator": lambda: one(
        r.query(
            "EMPLOYEE",
            ["RECORDNO", "EMPLOYEEID"],
            filter=r.or_(
                r.and_(
                    r.not_equal_to("STATUS", "inactive"),
                    r.less_than("RECORDNO", 10),
                    r.less_than_or_equal_to("STARTDATE", dt.date(2021, 4, 26)),
                    r.greater_than_or_equal_to("WHENCREATED", dt.datetime(2021, 4, 26, 0, 0, 0)),
                    r.between("RECORDNO", 10, 500),
                ),
                r.and_(
                    r.in_("DEPARTMENTID", ["04", "05"]),
                    r.not_in("LOCATIONID", ["E100"]),
                    r.like("CONTACT.LASTNAME", "B%"),
                    r.not_like("CONTACT.FIRSTNAME", "__n%"),
                ),
                r.and_(r.is_null("ENDDATE"), r.is_not_null("CONTACT.EMAIL1")),
                r.equal_to("ACTIVE", True),
            ),
            orderby=[("RECORDNO", True)],
            pagesize=100,
            offset=200,
            case_insensitive=True,
            show_private=True,
        )
    ),
    "read_by_query": lambda: one(
        r.read_by_query(
            "USERINFO",
            f"STATUS = {r.quote_literal('T')} AND DESCRIPTION = {r.quote_literal('Jane' + chr(39) + 's Deli')}",
            fields=["RECORDNO", "LOGINID", "CONTACTINFO.EMAIL1"],
            pagesize=100,
        )
    ),
    "read_more": lambda: one(r.read_more("7765623332WU1hh8CoA4QAAHxI9i8AAAAA5")),
    "read": lambda: one(r.read("EMPLOYEE", [12, "13"])),
    "read_by_name": lambda: one(r.read_by_name("DEPARTMENT", ["D100", "D200"], fields=["RECORDNO", "TITLE"])),
    "lookup": lambda: one(r.lookup("CUSTOMER")),
    "batch_transaction_unique_id": lambda: build_request(
        SENDER,
        SESSION,
        [("lookup-customer", r.lookup("CUSTOMER")), ("lookup-department", r.lookup("DEPARTMENT"))],
        control_id="ctl-2",
        unique_id=True,
        transaction=True,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_request_matches_snapshot(name: str) -> None:
    assert_matches_snapshot(name, pretty_xml(CASES[name]()))


def test_every_snapshot_file_has_a_case() -> None:
    files = {path.stem for path in SNAPSHOT_DIR.glob("*.xml")}
    assert files == set(CASES), f"stale snapshots: {sorted(files - set(CASES))}"


def test_snapshot_mismatch_fails_with_a_diff(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("UPDATE_SNAPSHOTS", raising=False)
    (tmp_path / "x.xml").write_text("<a>\n  <b>old</b>\n</a>\n", encoding="utf-8")
    with pytest.raises(pytest.fail.Exception) as failure:
        assert_matches_snapshot("x", "<a>\n  <b>new</b>\n</a>\n", tmp_path)
    assert "-  <b>old</b>" in str(failure.value)
    assert "+  <b>new</b>" in str(failure.value)
    assert "UPDATE_SNAPSHOTS=1" in str(failure.value)


def test_snapshot_update_mode_rewrites_the_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("UPDATE_SNAPSHOTS", "1")
    assert_matches_snapshot("x", "<a/>\n", tmp_path)
    assert (tmp_path / "x.xml").read_text(encoding="utf-8") == "<a/>\n"


# --- the envelope ------------------------------------------------------------------------------------


def test_request_is_compact_with_the_exact_declaration() -> None:
    body = one(r.lookup("CUSTOMER"))
    assert body.startswith(DECLARATION + b"<request><control><senderid>forecast_sender</senderid>")
    assert b"\n" not in body and b"> <" not in body
    # The snapshot's pretty form is the same tree: compacting it gives the bytes back.
    pretty = pretty_xml(body).encode("utf-8")
    compact = etree.tostring(etree.fromstring(pretty, etree.XMLParser(remove_blank_text=True)))
    assert DECLARATION + compact == body


def test_control_and_login_children_follow_the_schema_sequence() -> None:
    login = LoginCredentials("u", "c", "p", entity_id="E1", client_id="C1")
    root = etree.fromstring(one(r.get_api_session(), login))
    assert [e.tag for e in root.find("control")] == [
        "senderid",
        "password",
        "controlid",
        "uniqueid",
        "dtdversion",
        "includewhitespace",
    ]
    assert [e.tag for e in root.find("operation/authentication/login")] == [
        "userid",
        "companyid",
        "password",
        "clientid",
        "locationid",
    ]
    assert root.find("operation").get("transaction") == "false"


def test_function_elements_are_copied_so_one_can_be_sent_twice() -> None:
    element = r.lookup("CUSTOMER")
    first = one(element)
    second = one(element)
    assert first == second
    assert element.getparent() is None


# --- escaping ----------------------------------------------------------------------------------------

AWKWARD = "Smith & Sons <\"Ltd\"> 'Ω' Zürich 東京"


def test_values_are_escaped_and_non_latin_text_is_utf8() -> None:
    body = one(r.query("CUSTOMER", ["NAME"], filter=r.equal_to("NAME", AWKWARD)))
    assert "<value>Smith &amp; Sons &lt;\"Ltd\"&gt; 'Ω' Zürich 東京</value>".encode() in body
    assert etree.fromstring(body).findtext(".//filter/equalto/value") == AWKWARD


def test_attribute_and_credential_values_round_trip() -> None:
    sender = SenderCredentials('sender&"<', 'pa<ss&"word')
    login = LoginCredentials("ü<ser>", "Cö & Co", "p&<>'\"")
    body = build_request(sender, login, [('f"1&<', r.get_api_session())], control_id="c&<1")
    root = etree.fromstring(body)
    assert root.findtext("control/senderid") == 'sender&"<'
    assert root.findtext("control/password") == 'pa<ss&"word'
    assert root.findtext("control/controlid") == "c&<1"
    assert root.findtext("operation/authentication/login/userid") == "ü<ser>"
    assert root.findtext("operation/authentication/login/password") == "p&<>'\""
    assert root.find("operation/content/function").get("controlid") == 'f"1&<'
    assert b'controlid="f&quot;1&amp;&lt;"' in body


def test_read_by_query_string_keeps_quotes_and_escapes_xml() -> None:
    text = f"NAME = {r.quote_literal('A & B <Ltd>')}"
    body = one(r.read_by_query("CUSTOMER", text))
    assert b"<query>NAME = 'A &amp; B &lt;Ltd&gt;'</query>" in body


def test_characters_xml_cannot_carry_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"filter value 'bad\\x00value'"):
        r.equal_to("NAME", "bad\x00value")
    with pytest.raises(ValueError, match="object"):
        r.lookup("CUST\x07OMER")


def test_secret_with_a_bad_character_is_refused_without_showing_it() -> None:
    with pytest.raises(ValueError, match="sender_password") as error:
        SenderCredentials("s", "TOP\x01SECRET")
    assert "TOP" not in str(error.value)


# --- values ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("as is ", "as is "),
        (42, "42"),
        (-7, "-7"),
        (True, "true"),
        (False, "false"),
        (Decimal("1500.50"), "1500.50"),
        (Decimal("1E+3"), "1000"),
        (dt.date(2021, 4, 9), "04/09/2021"),
        (dt.datetime(2024, 1, 2, 3, 4, 5), "01/02/2024 03:04:05"),
    ],
)
def test_render_value(value: r.FilterValue, rendered: str) -> None:
    assert r.render_value(value) == rendered


def test_aware_datetime_is_refused_because_intacct_compares_in_the_user_zone() -> None:
    with pytest.raises(ValueError, match=r"2024-01-02T03:04:05\+00:00 is time-zone aware"):
        r.render_value(dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC))


def test_unsupported_value_type_is_named() -> None:
    with pytest.raises(TypeError, match="float"):
        r.render_value(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("Regal Services", "'Regal Services'"),
        ("Jane's Deli", "'Jane\\'s Deli'"),
        ("ends with \\", "'ends with \\\\'"),
        (1234, "1234"),
        (True, "'T'"),
        (False, "'F'"),
        (dt.date(2021, 4, 19), "'04/19/2021'"),
        (dt.datetime(2021, 4, 19, 12, 0, 0), "'04/19/2021 12:00:00'"),
    ],
)
def test_quote_literal(value: str | int | bool | dt.date, quoted: str) -> None:
    assert r.quote_literal(value) == quoted


# --- filters -----------------------------------------------------------------------------------------


def test_filters_are_immutable_values() -> None:
    condition = r.equal_to("STATUS", "active")
    assert condition == r.equal_to("STATUS", "active")
    with pytest.raises(dataclasses.FrozenInstanceError):
        condition.field = "NAME"  # type: ignore[misc]
    assert isinstance(r.and_(condition, r.is_null("X")).filters, tuple)


def test_single_child_junction_collapses_to_the_child() -> None:
    condition = r.equal_to("STATUS", "active")
    assert r.and_(condition) is condition
    assert r.or_(condition) is condition


def test_nested_junctions_serialise_in_order() -> None:
    tree = r.and_(r.equal_to("A", 1), r.or_(r.is_null("B"), r.between("C", 1, 2)))
    element = tree.to_element()
    assert etree.tostring(element) == (
        b"<and><equalto><field>A</field><value>1</value></equalto>"
        b"<or><isnull><field>B</field></isnull>"
        b"<between><field>C</field><value>1</value><value>2</value></between></or></and>"
    )


def test_in_accepts_exactly_up_to_1000_values() -> None:
    assert len(r.in_("RECORDNO", range(1000)).values) == 1000
    with pytest.raises(ValueError, match="in on RECORDNO got 1001 values"):
        r.in_("RECORDNO", range(1001))
    with pytest.raises(ValueError, match="notin on RECORDNO got 1001 values"):
        r.not_in("RECORDNO", range(1001))
    with pytest.raises(ValueError, match="in on RECORDNO needs at least one value"):
        r.in_("RECORDNO", [])
    with pytest.raises(TypeError, match="not the string 'D100'"):
        r.in_("DEPARTMENTID", "D100")  # type: ignore[arg-type]


@pytest.mark.parametrize("junction", [r.and_, r.or_])
def test_empty_junction_is_refused(junction: Callable[..., r.Filter]) -> None:
    with pytest.raises(ValueError, match="at least one filter"):
        junction()
    with pytest.raises(TypeError, match="takes filters, got str 'STATUS'"):
        junction(r.is_null("A"), "STATUS")


# --- validation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: r.query("CUSTOMER", []), "select must name at least one field of CUSTOMER"),
        (lambda: r.query("CUSTOMER", "NAME"), "not the string 'NAME'"),
        (
            lambda: r.query("CUSTOMER", ["NAME"], pagesize=0),
            "pagesize must be an integer from 1 to 2000, got 0",
        ),
        (lambda: r.query("CUSTOMER", ["NAME"], pagesize=2001), "got 2001"),
        (lambda: r.query("CUSTOMER", ["NAME"], pagesize=True), "got True"),
        (lambda: r.query("CUSTOMER", ["NAME"], offset=-1), "offset must be an integer >= 0, got -1"),
        (lambda: r.query("CUSTOMER", ["NAME"], orderby=[("NAME", "desc")]), "got ('NAME', 'desc')"),
        (lambda: r.query("CUSTOMER", ["NAME"], filter="STATUS = 'T'"), "filter must be built"),
        (lambda: r.query("", ["NAME"]), "object must not be empty"),
        (lambda: r.read_by_query("CUSTOMER", "", pagesize=1001), "from 1 to 1000, got 1001"),
        (lambda: r.read("EMPLOYEE", []), "read needs at least one key"),
        (lambda: r.read("EMPLOYEE", [True]), "key True must be a string or an int"),
        (lambda: r.read_by_name("CUSTOMER", ["C1,C2"]), "key 'C1,C2' contains a comma"),
        (lambda: r.read_by_name("CUSTOMER", "C1"), "not the string 'C1'"),
        (lambda: r.read("EMPLOYEE", [1], fields=[]), "fields must name at least one field"),
        (lambda: r.read_more(""), "result_id must not be empty"),
        (lambda: r.get_api_session("E1", top_level=True), "location_id ('E1') or top_level=True, not both"),
        (r.read_user_formatting, "exactly one of user_id"),
        (lambda: r.read_user_formatting("u", key=1), "user_id='u', key=1"),
        (lambda: r.is_null(""), "isnull field must not be empty"),
    ],
)
def test_builder_validation_names_the_bad_value(build: Callable[[], object], message: str) -> None:
    with pytest.raises((ValueError, TypeError)) as error:
        build()
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: build_request(SENDER, SESSION, [], control_id="c"), "at least one function"),
        (
            lambda: build_request(SENDER, SESSION, [("f", r.lookup("A"))], control_id=""),
            "control_id must not",
        ),
        (
            lambda: build_request(SENDER, SESSION, [("f", r.lookup("A"))], control_id="x" * 257),
            "257 characters",
        ),
        (
            lambda: build_request(
                SENDER, SESSION, [("f", r.lookup("A")), ("f", r.lookup("B"))], control_id="c"
            ),
            "function controlid 'f' is used twice",
        ),
        (
            lambda: build_request(SENDER, SESSION, [("f", "<lookup/>")], control_id="c"),
            "must be an lxml element",
        ),
        (lambda: build_request(SENDER, "session", [("f", r.lookup("A"))], control_id="c"), "got str"),
    ],
)
def test_build_request_validation(call: Callable[[], bytes], message: str) -> None:
    with pytest.raises((ValueError, TypeError)) as error:
        call()
    assert message in str(error.value)


def test_control_id_of_256_characters_is_accepted() -> None:
    body = build_request(SENDER, SESSION, [("f" * 256, r.lookup("A"))], control_id="c" * 256)
    assert etree.fromstring(body).findtext("control/controlid") == "c" * 256


# --- secrets -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [SENDER, SESSION, LOGIN, LoginCredentials("u", "c", "USER-PASSWORD-x3", entity_id="E1", client_id="C")],
)
def test_secrets_are_absent_from_repr_and_str(value: object) -> None:
    shown = " ".join([repr(value), str(value), f"{value}", f"{[value]}"])
    assert "<hidden>" in shown
    for secret in SECRETS:
        assert secret not in shown


def test_repr_still_names_the_non_secret_parts() -> None:
    assert repr(LOGIN) == (
        "LoginCredentials(user_id='xml_gateway', company_id='ACME', password=<hidden>, "
        "entity_id=None, client_id=None)"
    )
    assert repr(SENDER) == "SenderCredentials(sender_id='forecast_sender', sender_password=<hidden>)"


def test_empty_credentials_are_refused_without_echoing_secrets() -> None:
    with pytest.raises(ValueError, match="password must not be empty"):
        LoginCredentials("u", "c", "")
    with pytest.raises(TypeError, match="session_id must be a string, got NoneType <hidden>"):
        SessionAuth(None)  # type: ignore[arg-type]


def test_filter_nodes_refuse_what_the_schema_does_not_know() -> None:
    with pytest.raises(ValueError, match="'drop' is not a query filter operator"):
        r.Condition("drop", "RECORDNO", ("1",))
    with pytest.raises(ValueError, match="'xor' is not a query filter junction"):
        r.Junction("xor", (r.is_null("A"), r.is_null("B")))
    with pytest.raises(ValueError, match="and needs two or more filters, got 1"):
        r.Junction("and", (r.is_null("A"),))
