"""The envelope: transport, control block, authentication, sessions, entities and multi-function operations."""

from __future__ import annotations

from datetime import datetime, timedelta

from lxml import etree
from tests.sandbox.xml_client import (
    NOW,
    XmlClient,
    condition,
    control,
    errors,
    function,
    login,
    make_server,
    query_xml,
    request_xml,
)

from sandbox.intacct_gateway import PRIVATE_ENTITY, GatewayServer, Sender

LOOKUP = "<lookup><object>DEPARTMENT</object></lookup>"


# ---- transport ------------------------------------------------------------------------------------------


def test_only_post_reaches_the_gateway(client: XmlClient):
    answer = client.http.get(client.server.endpoint)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"
    assert client.http.post(client.server.url + "/ia/xml/other.phtml", data=b"<request/>").status_code == 404


def test_an_empty_body_is_an_invalid_request_gw0011(client: XmlClient):
    answer = client.post(b"")
    assert answer.status_code == 400
    response = etree.fromstring(answer.content)
    assert response.findtext("control/status") == "failure"
    assert response.findtext("errormessage/error/errorno") == "GW-0011"
    assert response.findtext("errormessage/error/description").startswith("Invalid Request [Request ID: ")


def test_answers_carry_intacct_content_type(client: XmlClient):
    answer = client.post(request_xml(function(LOOKUP), auth=login()))
    assert answer.headers["Content-Type"] == 'text/xml; encoding="UTF-8";charset=UTF-8'
    assert answer.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')


# ---- control block --------------------------------------------------------------------------------------


def test_malformed_xml_is_a_control_failure_xl03000003(client: XmlClient):
    response = client.xml(b"<request><control><senderid>x</senderid></control><operation>")
    assert response.findtext("control/status") == "failure"
    assert response.find("operation") is None
    [(errorno, message)] = errors(response)
    assert errorno == "XL03000003"
    assert (
        message
        == "XML Parse schema error: Fatal Error 77: Premature end of data in tag operation line 1. Line: 1, column: 62."
    )


def test_login_children_out_of_order_break_the_schema(client: XmlClient):
    swapped = (
        "<login><userid>xml_gateway</userid><password>x</password><companyid>SANDBOX-CO</companyid></login>"
    )
    response = client.xml(request_xml(function(LOOKUP), auth=swapped))
    assert response.findtext("control/status") == "failure"
    [(errorno, message)] = errors(response)
    assert errorno == "XL03000003"
    assert "Element 'password': This element is not expected. Expected is ( companyid" in message


def test_a_function_without_controlid_breaks_the_schema(client: XmlClient):
    body = request_xml(function(LOOKUP), auth=login()).replace(' controlid="f-1"', "")
    response = client.xml(body)
    assert errors(response) == [
        (
            "XL03000003",
            "XML Parse schema error: Element 'function': The attribute 'controlid' is required but missing. Line: 1, column: 0.",
        )
    ]


def test_a_schema_error_in_any_function_stops_the_whole_request(client: XmlClient):
    bad_query = "<query><object>CUSTOMER</object></query>"  # select is required
    response = client.xml(request_xml(function(LOOKUP, "a"), function(bad_query, "b"), auth=login()))
    assert response.findtext("control/status") == "failure"
    assert response.find("operation") is None
    assert "Missing child element(s). Expected is ( select )" in errors(response)[0][1]


def test_only_dtdversion_3_is_served(client: XmlClient):
    body = request_xml(function(LOOKUP), auth=login()).replace(
        "<dtdversion>3.0</dtdversion>", "<dtdversion>2.1</dtdversion>"
    )
    response = client.xml(body)
    assert errors(response)[0][0] == "XL03000003"
    assert response.findtext("control/dtdversion") == "2.1"


def test_a_wrong_sender_password_is_a_control_failure(client: XmlClient):
    body = request_xml(function(LOOKUP), auth=login()).replace(control(), control(password="nope"))
    response = client.xml(body)
    assert response.findtext("control/status") == "failure"
    assert response.findtext("control/senderid") == "sandbox_sender"
    assert response.findtext("control/controlid") == "ctl-1"
    assert errors(response) == [("XL03000006", "Incorrect Intacct XML Partner ID or password.")]
    assert response.find("operation") is None


def test_an_unknown_sender_is_refused_the_same_way(client: XmlClient):
    body = request_xml(function(LOOKUP), auth=login()).replace(control(), control(sender="someone"))
    assert errors(client.xml(body)) == [("XL03000006", "Incorrect Intacct XML Partner ID or password.")]


def test_entities_in_the_request_are_not_resolved(client: XmlClient):
    body = (
        '<?xml version="1.0"?><!DOCTYPE request [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
        + request_xml(function(LOOKUP), auth=login()).split("?>", 1)[1].replace("sandbox_sender", "&secret;")
    )
    answer = client.post(body)
    assert b"root:" not in answer.content
    assert errors(etree.fromstring(answer.content))[0][0] == "XL03000006"


def test_uniqueid_true_refuses_a_repeated_function_controlid(client: XmlClient):
    auth = client.session_auth()
    first = client.xml(request_xml(function(LOOKUP, "once"), auth=auth, uniqueid="true"))
    again = client.xml(request_xml(function(LOOKUP, "once"), auth=auth, uniqueid="true"))
    assert first.findtext("operation/result/status") == "success"
    assert first.findtext("control/uniqueid") == "true"
    assert again.findtext("operation/result/status") == "failure"
    assert "already processed" in errors(again)[0][1]
    # reads that may repeat say uniqueid false
    relaxed = client.xml(request_xml(function(LOOKUP, "once"), auth=auth, uniqueid="false"))
    assert relaxed.findtext("operation/result/status") == "success"


# ---- authentication -------------------------------------------------------------------------------------


def test_login_answers_with_user_company_entity_and_session_times(client: XmlClient):
    response = client.xml(request_xml(function(LOOKUP), auth=login()))
    assert response.findtext("control/status") == "success"
    auth = response.find("operation/authentication")
    assert [auth.findtext(tag) for tag in ("status", "userid", "companyid", "locationid")] == [
        "success",
        "xml_gateway",
        "SANDBOX-CO",
        "",
    ]
    started = datetime.fromisoformat(auth.findtext("sessiontimestamp"))
    timeout = datetime.fromisoformat(auth.findtext("sessiontimeout"))
    assert started == NOW
    assert auth.findtext("sessiontimestamp").endswith("-08:00")
    assert timeout - started == timedelta(hours=2)


def test_a_wrong_password_fails_authentication_and_runs_nothing(client: XmlClient):
    response = client.xml(request_xml(function(LOOKUP), auth=login(password="wrong")))
    assert response.findtext("control/status") == "success"
    auth = response.find("operation/authentication")
    assert auth.findtext("status") == "failure"
    assert auth.findtext("userid") == "xml_gateway"
    assert auth.findtext("companyid") == "SANDBOX-CO"
    assert response.find("operation/result") is None
    assert errors(response.find("operation")) == [("XL03000006", "Sign-in information is incorrect")]


def test_an_unknown_company_or_user_fails_authentication(client: XmlClient):
    for auth in (login(company="OTHER-CO"), login(user="nobody")):
        response = client.xml(request_xml(function(LOOKUP), auth=auth))
        assert errors(response.find("operation")) == [("XL03000006", "Sign-in information is incorrect")]


def test_an_inactive_user_cannot_sign_in(fresh_gateway: GatewayServer):
    store = fresh_gateway.store
    inactive = next(u for u in store.records("USERINFO") if u["STATUS"] == "inactive")
    store.set_password(inactive["LOGINID"], "pw")
    response = XmlClient(fresh_gateway).xml(
        request_xml(function(LOOKUP), auth=login(user=inactive["LOGINID"], password="pw"))
    )
    assert response.findtext("operation/authentication/status") == "failure"


def test_a_sender_not_authorized_for_the_company_is_refused():
    outsider = Sender("outsider", "outsider-pw", companies=frozenset({"ANOTHER-CO"}))
    with make_server(senders=[Sender("sandbox_sender", "sandbox-sender-secret"), outsider]) as server:
        body = request_xml(function(LOOKUP), auth=login()).replace(
            control(), control(sender="outsider", password="outsider-pw")
        )
        response = XmlClient(server).xml(body)
    assert response.findtext("operation/authentication/status") == "failure"
    error = response.find("operation/errormessage/error")
    assert error.findtext("description") == "Invalid Web Services Authorization"
    assert (
        "'outsider' is not authorized to make Web Services requests to company ID 'SANDBOX-CO'"
        in error.findtext("description2")
    )


def test_a_console_user_slides_into_the_client_company():
    with make_server(console_id="PRACTICE") as server:
        client = XmlClient(server)
        slide_in = login(company="PRACTICE").replace(
            "</password>", "</password><clientid>SANDBOX-CO</clientid>"
        )
        piped = login(company=f"PRACTICE|SANDBOX-CO|{PRIVATE_ENTITY}")
        for auth, entity in ((slide_in, ""), (piped, PRIVATE_ENTITY)):
            response = client.xml(request_xml(function("<getAPISession/>"), auth=auth))
            assert response.findtext("operation/authentication/companyid") == "SANDBOX-CO"
            assert response.findtext("operation/result/data/api/locationid") == entity
        wrong_console = login(company="ELSEWHERE").replace(
            "</password>", "</password><clientid>SANDBOX-CO</clientid>"
        )
        assert (
            client.xml(request_xml(function(LOOKUP), auth=wrong_console)).findtext(
                "operation/authentication/status"
            )
            == "failure"
        )


# ---- sessions -------------------------------------------------------------------------------------------


def test_get_api_session_returns_a_session_and_an_endpoint_back_at_the_sandbox(client: XmlClient):
    response = client.xml(request_xml(function("<getAPISession/>", "sess"), auth=login()))
    result = response.find("operation/result")
    assert [result.findtext(t) for t in ("status", "function", "controlid")] == [
        "success",
        "getAPISession",
        "sess",
    ]
    api = result.find("data/api")
    assert api.findtext("sessionid").endswith("..")
    assert api.findtext("endpoint") == client.server.endpoint
    assert api.findtext("locationid") == ""
    # the session authenticates later requests, at the endpoint it names
    session = f"<sessionid>{api.findtext('sessionid')}</sessionid>"
    later = client.xml(request_xml(function(LOOKUP), auth=session))
    assert later.findtext("operation/authentication/userid") == "xml_gateway"
    assert later.findtext("operation/result/status") == "success"


def test_sessions_time_out_and_each_request_slides_the_timeout(fresh_client: XmlClient):
    clock = fresh_client.server.store.clock
    auth = fresh_client.session_auth()
    clock.advance(timedelta(hours=1, minutes=59).total_seconds())
    assert (
        fresh_client.call(function(LOOKUP), auth=auth).findtext("operation/authentication/status")
        == "success"
    )
    clock.advance(timedelta(hours=1, minutes=59).total_seconds())  # within two hours of the last request
    assert (
        fresh_client.call(function(LOOKUP), auth=auth).findtext("operation/authentication/status")
        == "success"
    )
    clock.advance(timedelta(hours=2, seconds=1).total_seconds())
    expired = fresh_client.call(function(LOOKUP), auth=auth)
    auth_block = expired.find("operation/authentication")
    assert [auth_block.findtext(t) for t in ("status", "userid", "companyid")] == ["failure", "", ""]
    [(errorno, message)] = errors(expired.find("operation"))
    assert errorno == "XL03000006"
    assert message.startswith("Invalid session")


def test_an_unknown_session_id_is_invalid(client: XmlClient):
    response = client.call(function(LOOKUP), auth="<sessionid>made-up..</sessionid>")
    assert errors(response.find("operation"))[0][0] == "XL03000006"


# ---- entities -------------------------------------------------------------------------------------------


def _customer_owners(client: XmlClient, auth: str, options: str = "") -> set[str]:
    data = client.data(query_xml("CUSTOMER", "MEGAENTITYID", options=options, pagesize=2000), auth=auth)
    return {record.findtext("MEGAENTITYID") for record in data}


def test_top_level_sessions_see_private_entity_records_only_with_showprivate(client: XmlClient):
    auth = client.session_auth()
    assert _customer_owners(client, auth) == {""}
    assert _customer_owners(client, auth, "<showprivate>true</showprivate>") == {"", PRIVATE_ENTITY}
    legacy = client.data(
        "<readByQuery><object>CUSTOMER</object><fields>MEGAENTITYID</fields><query/><pagesize>1000</pagesize></readByQuery>",
        auth=auth,
    )
    assert {r.findtext("MEGAENTITYID") for r in legacy} == {""}


def test_an_entity_session_sees_top_level_records_and_its_own(client: XmlClient):
    response = client.xml(request_xml(function(LOOKUP), auth=login(location=PRIVATE_ENTITY)))
    assert response.findtext("operation/authentication/locationid") == PRIVATE_ENTITY
    assert _customer_owners(client, client.session_auth(PRIVATE_ENTITY)) == {"", PRIVATE_ENTITY}
    assert _customer_owners(client, client.session_auth("E100")) == {""}


def test_get_api_session_switches_entity_and_back_to_top_level(client: XmlClient):
    top = client.session_auth()
    switched = client.data(
        f"<getAPISession><locationid>{PRIVATE_ENTITY}</locationid></getAPISession>", auth=top
    )
    assert switched.findtext("api/locationid") == PRIVATE_ENTITY
    entity_auth = f"<sessionid>{switched.findtext('api/sessionid')}</sessionid>"
    back = client.data("<getAPISession><locationid/></getAPISession>", auth=entity_auth)
    assert back.findtext("api/locationid") == ""
    assert back.findtext("api/sessionid") != switched.findtext("api/sessionid")
    unknown = client.result("<getAPISession><locationid>NOPE</locationid></getAPISession>", auth=top)
    assert unknown.findtext("status") == "failure"


def test_signing_in_to_an_unknown_entity_fails(client: XmlClient):
    response = client.xml(request_xml(function(LOOKUP), auth=login(location="NOPE")))
    assert response.findtext("operation/authentication/status") == "failure"


def test_entities_are_listed_as_locationentity(client: XmlClient):
    data = client.data(
        query_xml(
            "LOCATIONENTITY",
            "LOCATIONID",
            "NAME",
            orderby="<order><field>LOCATIONID</field><ascending/></order>",
        )
    )
    assert [(r.findtext("LOCATIONID"), r.findtext("NAME")) for r in data] == [
        ("E100", "US Operations"),
        (PRIVATE_ENTITY, "EU Subsidiary"),
    ]


# ---- readUserFormatting ---------------------------------------------------------------------------------


def test_read_user_formatting_gives_the_users_time_zone_and_formats(client: XmlClient):
    by_login = client.data("<readUserFormatting><userId>xml_gateway</userId></readUserFormatting>")
    formatting = by_login.find("userformatting")
    assert {child.tag: child.text for child in formatting} == {
        "recordno": "2",
        "locale": "en_US",
        "dateformat": "/mdY",
        "gmtoffset": "-08:00",
        "clock": "24",
    }
    by_key = client.data("<readUserFormatting><key>2</key></readUserFormatting>")
    assert by_key.findtext("userformatting/gmtoffset") == "-08:00"
    assert client.result("<readUserFormatting/>").findtext("status") == "failure"
    assert (
        client.result("<readUserFormatting><key>999999</key></readUserFormatting>").findtext("status")
        == "failure"
    )


def test_a_named_time_zone_reports_its_current_offset():
    from sandbox.intacct_gateway import Clock, generate_company

    store = generate_company(
        3, customers=5, departments=5, users=5, timezone="America/New_York", clock=Clock(NOW)
    )
    assert store.gmt_offset() == "-05:00"  # March 2nd: standard time


# ---- several functions per request ----------------------------------------------------------------------


def test_each_function_gets_its_own_result_with_its_controlid(client: XmlClient):
    response = client.call(
        function(LOOKUP, "first"),
        function(query_xml("DEPARTMENT", "RECORDNO", pagesize=1), "second"),
        function("<readUserFormatting><key>2</key></readUserFormatting>", "third"),
    )
    results = response.findall("operation/result")
    assert [(r.findtext("function"), r.findtext("controlid"), r.findtext("status")) for r in results] == [
        ("lookup", "first", "success"),
        ("query", "second", "success"),
        ("readUserFormatting", "third", "success"),
    ]


def test_without_a_transaction_a_failure_stays_with_its_function(client: XmlClient):
    bad = query_xml("NOSUCHTHING", "RECORDNO")
    response = client.call(function(LOOKUP, "a"), function(bad, "b"), function(LOOKUP, "c"))
    assert [r.findtext("status") for r in response.findall("operation/result")] == [
        "success",
        "failure",
        "success",
    ]


def test_in_a_transaction_one_failure_aborts_the_others(client: XmlClient):
    bad = query_xml("NOSUCHTHING", "RECORDNO")
    response = client.call(
        function(LOOKUP, "a"), function(bad, "b"), function(LOOKUP, "c"), transaction="true"
    )
    results = response.findall("operation/result")
    assert [(r.findtext("controlid"), r.findtext("status")) for r in results] == [
        ("a", "aborted"),
        ("b", "failure"),
        ("c", "aborted"),
    ]
    assert errors(results[0]) == [
        ("XL03000009", "The entire transaction in this operation has been rolled back due to an error.")
    ]
    assert results[0].find("data") is None
    assert errors(results[1]) == [("XL03000009", "Object definition NOSUCHTHING not found")]


def test_a_function_the_sandbox_does_not_serve_fails_alone(client: XmlClient):
    response = client.call(
        function("<create><DEPARTMENT><DEPARTMENTID>X</DEPARTMENTID></DEPARTMENT></create>", "w"),
        function(LOOKUP, "r"),
    )
    statuses = [r.findtext("status") for r in response.findall("operation/result")]
    assert statuses == ["failure", "success"]
    assert "does not serve the function 'create'" in errors(response.find("operation/result"))[0][1]


def test_several_operations_authenticate_separately(client: XmlClient):
    body = request_xml(function(LOOKUP), auth=login())
    operation = body[body.index("<operation") : body.index("</request>")]
    failing = operation.replace("sandbox-user-secret", "wrong")
    response = client.xml(body.replace("</request>", failing + "</request>"))
    assert [op.findtext("authentication/status") for op in response.findall("operation")] == [
        "success",
        "failure",
    ]


def test_oauth_is_not_served(client: XmlClient):
    response = client.xml(request_xml(function(LOOKUP), auth="<oauth><accesstoken>t</accesstoken></oauth>"))
    assert response.findtext("operation/authentication/status") == "failure"


def test_filters_escape_xml_special_characters_both_ways(client: XmlClient):
    name = next(
        c["NAME"] for c in client.server.store.records("CUSTOMER") if "<" in c["NAME"] and "&" in c["NAME"]
    )
    escaped = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    data = client.data(
        query_xml("CUSTOMER", "NAME", filter=condition("equalto", "NAME", escaped), pagesize=1)
    )
    assert data[0].findtext("NAME") == name
