"""Response parsing: real-shaped gateway responses (modelled on the reference's fixtures) and the typed
errors each failure becomes."""

from __future__ import annotations

import datetime as dt
import pickle

import pytest
from lxml import etree

from intacct.gateway import errors
from intacct.gateway.responses import (
    ErrorDetail,
    Result,
    UserFormatting,
    _parser,
    api_session,
    error_for_result,
    object_definition,
    parse_response,
    user_formatting,
)

SESSION_ID = "fAkESesSiOnIdX9..SECRET"


def envelope(results: str, *, control_status: str = "success") -> bytes:
    """A successful control + authentication block around ``results``, as Intacct sends it."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<response>
  <control>
    <status>{control_status}</status>
    <senderid>forecast_sender</senderid>
    <controlid>ctl-1</controlid>
    <uniqueid>false</uniqueid>
    <dtdversion>3.0</dtdversion>
  </control>
  <operation>
    <authentication>
      <status>success</status>
      <userid>xml_gateway</userid>
      <companyid>ACME</companyid>
      <locationid></locationid>
      <sessiontimestamp>2015-12-06T15:57:08-08:00</sessiontimestamp>
      <sessiontimeout>2015-12-07T15:57:08-08:00</sessiontimeout>
    </authentication>
    {results}
  </operation>
</response>""".encode()


def failed_result(errors_xml: str, *, status: str = "failure", function: str = "query") -> Result:
    body = envelope(
        f"""<result><status>{status}</status><function>{function}</function><controlid>f-1</controlid>
        <errormessage>{errors_xml}</errormessage></result>"""
    )
    return parse_response(body).results[0]


def error_xml(errorno: str, description2: str = "", description: str = "", correction: str = "") -> str:
    return (
        f"<error><errorno>{errorno}</errorno><description>{description}</description>"
        f"<description2>{description2}</description2><correction>{correction}</correction></error>"
    )


QUERY_PAGE = envelope(
    """<result>
      <status>success</status>
      <function>query</function>
      <controlid>page-1</controlid>
      <data listtype="CUSTOMER" totalcount="3" offset="0" count="2" numremaining="1">
        <CUSTOMER>
          <RECORDNO>10</RECORDNO>
          <CUSTOMERID>C-0001</CUSTOMERID>
          <NAME>Smith &amp; Sons &lt;Ltd&gt; Zürich 東京</NAME>
          <DISPLAYCONTACT.EMAIL1>ap@smith.example</DISPLAYCONTACT.EMAIL1>
          <DISPLAYCONTACT.MAILADDRESS.CITY>Zürich</DISPLAYCONTACT.MAILADDRESS.CITY>
          <PARENTID></PARENTID>
          <WHENMODIFIED>07/24/2017 15:19:46</WHENMODIFIED>
        </CUSTOMER>
        <CUSTOMER>
          <RECORDNO>11</RECORDNO>
          <CUSTOMERID>C-0002</CUSTOMERID>
          <NAME>O'Brien</NAME>
          <DISPLAYCONTACT.EMAIL1/>
          <DISPLAYCONTACT.MAILADDRESS.CITY>Oslo</DISPLAYCONTACT.MAILADDRESS.CITY>
          <PARENTID>C-0001</PARENTID>
          <WHENMODIFIED>07/25/2017 08:00:00</WHENMODIFIED>
        </CUSTOMER>
      </data>
    </result>"""
)

READ_BY_QUERY_PAGE = envelope(
    """<result>
      <status>success</status>
      <function>readByQuery</function>
      <controlid>rbq-1</controlid>
      <data listtype="customer" count="1" totalcount="2" numremaining="1" resultId="7765623332WU1hh8CoA4QAAHxI9i8AAAAA5">
        <customer>
          <RECORDNO>10</RECORDNO>
          <CUSTOMERID>C-0001</CUSTOMERID>
          <DISPLAYCONTACT>
            <CONTACTNAME>Smith, Ann</CONTACTNAME>
            <EMAIL1>ann@smith.example</EMAIL1>
            <MAILADDRESS>
              <ADDRESS1>1 Main St</ADDRESS1>
              <CITY>Zürich</CITY>
              <ZIP></ZIP>
            </MAILADDRESS>
          </DISPLAYCONTACT>
          <CONTACTINFO.EMAIL2>billing@smith.example</CONTACTINFO.EMAIL2>
          <MEGAENTITYID></MEGAENTITYID>
        </customer>
      </data>
    </result>"""
)


# --- success shapes ----------------------------------------------------------------------------------


def test_query_page_attributes_and_flat_records() -> None:
    response = parse_response(QUERY_PAGE, content_type="text/xml; encoding=UTF-8")
    assert response.control_id == "ctl-1"
    result = response.result("page-1")
    assert (result.function, result.status, result.listtype) == ("query", "success", "CUSTOMER")
    assert (result.count, result.totalcount, result.numremaining, result.offset) == (2, 3, 1, 0)
    assert result.result_id is None
    assert result.errors == []
    records = list(result.records())
    assert records[0] == {
        "RECORDNO": "10",
        "CUSTOMERID": "C-0001",
        "NAME": "Smith & Sons <Ltd> Zürich 東京",
        "DISPLAYCONTACT.EMAIL1": "ap@smith.example",
        "DISPLAYCONTACT.MAILADDRESS.CITY": "Zürich",
        "PARENTID": None,
        "WHENMODIFIED": "07/24/2017 15:19:46",
    }
    assert records[1]["DISPLAYCONTACT.EMAIL1"] is None
    assert records[1]["NAME"] == "O'Brien"
    result.raise_for_status()
    response.raise_for_status()


def test_read_by_query_page_flattens_nested_sub_records_and_keeps_the_result_id() -> None:
    result = parse_response(READ_BY_QUERY_PAGE).results[0]
    assert (result.function, result.listtype) == ("readByQuery", "customer")
    assert (result.count, result.totalcount, result.numremaining, result.offset) == (1, 2, 1, None)
    assert result.result_id == "7765623332WU1hh8CoA4QAAHxI9i8AAAAA5"
    assert list(result.records()) == [
        {
            "RECORDNO": "10",
            "CUSTOMERID": "C-0001",
            "DISPLAYCONTACT.CONTACTNAME": "Smith, Ann",
            "DISPLAYCONTACT.EMAIL1": "ann@smith.example",
            "DISPLAYCONTACT.MAILADDRESS.ADDRESS1": "1 Main St",
            "DISPLAYCONTACT.MAILADDRESS.CITY": "Zürich",
            "DISPLAYCONTACT.MAILADDRESS.ZIP": None,
            "CONTACTINFO.EMAIL2": "billing@smith.example",
            "MEGAENTITYID": None,
        }
    ]


def test_records_index_repeated_tags_instead_of_overwriting() -> None:
    body = envelope(
        """<result><status>success</status><function>readByQuery</function><controlid>u</controlid>
        <data listtype="userinfo" count="1" totalcount="1" numremaining="0" resultId="">
          <userinfo><LOGINID>jsmith</LOGINID>
            <USERLOCATIONS><LOCATIONID>E100</LOCATIONID><LOCATIONID>E200</LOCATIONID></USERLOCATIONS>
            <!-- a comment is not a field -->
          </userinfo>
        </data></result>"""
    )
    result = parse_response(body).results[0]
    assert result.result_id is None  # resultId="" on the last page
    assert list(result.records()) == [
        {"LOGINID": "jsmith", "USERLOCATIONS.LOCATIONID[0]": "E100", "USERLOCATIONS.LOCATIONID[1]": "E200"}
    ]


def test_empty_page_has_no_records() -> None:
    body = envelope(
        """<result><status>success</status><function>query</function><controlid>q</controlid>
        <data listtype="DEPARTMENT" totalcount="0" offset="0" count="0" numremaining="0"/></result>"""
    )
    result = parse_response(body).results[0]
    assert (result.count, result.totalcount, result.numremaining) == (0, 0, 0)
    assert list(result.records()) == []


def query_result(records: str) -> Result:
    return parse_response(
        envelope(
            f"""<result><status>success</status><function>query</function><controlid>q</controlid>
            <data listtype="CUSTOMER" totalcount="9" offset="0" count="2" numremaining="7">{records}</data>
            </result>"""
        )
    ).results[0]


def test_values_read_fields_by_name_in_the_order_asked() -> None:
    result = parse_response(QUERY_PAGE).result("page-1")
    fields = ("WHENMODIFIED", "NAME", "RECORDNO", "PARENTID", "NOT.SELECTED")
    assert result.values(fields) == [tuple(r.get(f) for f in fields) for r in result.records()]
    assert result.values(fields)[0] == (
        "07/24/2017 15:19:46", "Smith & Sons <Ltd> Zürich 東京", "10", None, None,
    )  # fmt: skip


def test_values_do_not_depend_on_the_order_intacct_sends_fields_in() -> None:
    result = query_result(
        "<CUSTOMER><RECORDNO>1</RECORDNO><NAME>A</NAME></CUSTOMER>"
        "<CUSTOMER><NAME>B</NAME><RECORDNO>2</RECORDNO></CUSTOMER>"
        "<CUSTOMER><NAME/><RECORDNO>3</RECORDNO><!-- no field --></CUSTOMER>"
    )
    assert result.values(("RECORDNO", "NAME")) == [("1", "A"), ("2", "B"), ("3", None)]


def test_values_of_nested_records_or_values_holding_the_separator_take_the_slow_path() -> None:
    nested = parse_response(READ_BY_QUERY_PAGE).results[0]
    fields = ("RECORDNO", "DISPLAYCONTACT.MAILADDRESS.CITY", "CONTACTINFO.EMAIL2")
    assert nested.values(fields) == [("10", "Zürich", "billing@smith.example")]
    odd = query_result("<CUSTOMER><RECORDNO>1</RECORDNO><NAME>a\ue000b</NAME></CUSTOMER>")
    assert odd.values(("RECORDNO", "NAME")) == [("1", "a\ue000b")]


def test_values_of_an_empty_page_and_bad_field_lists() -> None:
    empty = query_result("")
    assert empty.values(("RECORDNO",)) == []
    with pytest.raises(ValueError, match="at least one field"):
        empty.values(())
    with pytest.raises(ValueError, match="not Intacct field names: 'NAME\"/>'"):
        query_result("<CUSTOMER><NAME>x</NAME></CUSTOMER>").values(('NAME"/>',))


def test_authentication_block_with_aware_session_times() -> None:
    auth = parse_response(QUERY_PAGE).authentication
    assert auth is not None
    assert (auth.status, auth.user_id, auth.company_id, auth.location_id) == (
        "success",
        "xml_gateway",
        "ACME",
        None,
    )
    pacific = dt.timezone(dt.timedelta(hours=-8))
    assert auth.session_timeout == dt.datetime(2015, 12, 7, 15, 57, 8, tzinfo=pacific)
    assert auth.session_timestamp is not None and auth.session_timestamp.utcoffset() == dt.timedelta(hours=-8)


def test_result_lookup_by_control_id_names_what_exists() -> None:
    with pytest.raises(KeyError, match=r"no result for function controlid 'nope'.*'page-1'"):
        parse_response(QUERY_PAGE).result("nope")


def test_get_api_session() -> None:
    body = envelope(
        f"""<result><status>success</status><function>getAPISession</function><controlid>s</controlid>
        <data><api><sessionid>{SESSION_ID}</sessionid>
          <endpoint>https://na12.intacct.com/ia/xml/xmlgw.phtml</endpoint>
          <locationid>E100</locationid></api></data></result>"""
    )
    session = api_session(parse_response(body).result("s"))
    session_id, endpoint, location_id = session
    assert session_id == SESSION_ID
    assert endpoint == "https://na12.intacct.com/ia/xml/xmlgw.phtml"
    assert location_id == "E100"
    assert SESSION_ID not in repr(session) and SESSION_ID not in str(session)


def test_get_api_session_at_top_level_has_no_location() -> None:
    body = envelope(
        f"""<result><status>success</status><function>getAPISession</function><controlid>s</controlid>
        <data><api><sessionid>{SESSION_ID}</sessionid><endpoint>http://127.0.0.1:8765/ia/xml/xmlgw.phtml</endpoint>
        <locationid></locationid></api></data></result>"""
    )
    assert api_session(parse_response(body).results[0]).location_id is None


def test_get_api_session_without_a_session_id_is_an_error() -> None:
    body = envelope(
        """<result><status>success</status><function>getAPISession</function><controlid>s</controlid>
        <data><api><sessionid></sessionid><endpoint>https://x.intacct.com/</endpoint></api></data></result>"""
    )
    with pytest.raises(errors.IntacctError, match="no session id or endpoint"):
        api_session(parse_response(body).results[0])


def user_formatting_result(inner: str) -> Result:
    body = envelope(
        f"""<result><status>success</status><function>readUserFormatting</function><controlid>f</controlid>
        <data>{inner}</data></result>"""
    )
    return parse_response(body).results[0]


def test_read_user_formatting_documented_shape() -> None:
    formatting = user_formatting(
        user_formatting_result(
            """<userformatting><recordno>48</recordno><locale>en_US</locale><dateformat>/mdY</dateformat>
            <gmtoffset>-07:00</gmtoffset><clock>24</clock></userformatting>"""
        )
    )
    assert formatting == UserFormatting(
        record_no="48", locale="en_US", date_format="/mdY", gmt_offset="-07:00", clock="24"
    )
    assert formatting.utc_offset == dt.timedelta(hours=-7)
    assert formatting.tzinfo == dt.timezone(dt.timedelta(hours=-7))
    assert formatting.date_pattern == "%m/%d/%Y"


def test_read_user_formatting_is_tolerant_of_case_and_wrapping() -> None:
    formatting = user_formatting(
        user_formatting_result(
            "<USERFORMATTING><LOCALE>de_DE</LOCALE><DATEFORMAT>.dmY</DATEFORMAT>"
            "<GMTOFFSET>+0930</GMTOFFSET><CLOCK>12</CLOCK></USERFORMATTING>"
        )
    )
    assert formatting.utc_offset == dt.timedelta(hours=9, minutes=30)
    assert formatting.date_pattern == "%d.%m.%Y"
    bare = user_formatting(
        user_formatting_result("<dateformat>-Ymd</dateformat><timezone>GMT-05:00</timezone>")
    )
    assert bare.gmt_offset == "GMT-05:00"
    assert bare.utc_offset == dt.timedelta(hours=-5)
    assert bare.date_pattern == "%Y-%m-%d"


@pytest.mark.parametrize("offset", ["", "Pacific/Auckland", "+25:00", "7"])
def test_unreadable_gmt_offset_is_none_not_a_guess(offset: str) -> None:
    formatting = UserFormatting(None, None, "xmdY", offset, None)
    assert formatting.utc_offset is None
    assert formatting.tzinfo is None
    assert formatting.date_pattern is None


def test_read_user_formatting_without_the_block_is_an_error() -> None:
    with pytest.raises(errors.IntacctError, match="no <userformatting>"):
        user_formatting(user_formatting_result("<something/>"))


def test_lookup_object_definition() -> None:
    body = envelope(
        """<result><status>success</status><function>lookup</function><controlid>l</controlid>
        <data listtype="All"><Type Name="CUSTOMER" DocumentType="">
          <Fields>
            <Field><ID>RECORDNO</ID><LABEL>Record number</LABEL><DESCRIPTION/><REQUIRED>false</REQUIRED>
              <READONLY>true</READONLY><DATATYPE>INTEGER</DATATYPE><ISCUSTOM>false</ISCUSTOM></Field>
            <Field><ID>STATUS</ID><LABEL>Status</LABEL><REQUIRED>true</REQUIRED><READONLY>false</READONLY>
              <DATATYPE>TEXT</DATATYPE><VALIDVALUES><VALIDVALUE>active</VALIDVALUE><VALIDVALUE>inactive</VALIDVALUE>
              </VALIDVALUES><ISCUSTOM>false</ISCUSTOM></Field>
          </Fields>
          <Relationships><Relationship><OBJECTPATH>PARENT</OBJECTPATH><OBJECTNAME>CUSTOMER</OBJECTNAME>
            <LABEL/><RELATIONSHIPTYPE>MANY2ONE</RELATIONSHIPTYPE><RELATEDBY>PARENTID</RELATEDBY></Relationship>
          </Relationships></Type></data></result>"""
    )
    definition = object_definition(parse_response(body).results[0])
    assert definition.name == "CUSTOMER"
    assert [(f.id, f.datatype, f.required, f.readonly) for f in definition.fields] == [
        ("RECORDNO", "INTEGER", False, True),
        ("STATUS", "TEXT", True, False),
    ]
    assert definition.fields[1].valid_values == ("active", "inactive")
    assert definition.relationships[0].object_path == "PARENT"


# --- failed functions --------------------------------------------------------------------------------

TRANSACTION = envelope(
    f"""<result><status>aborted</status><function>readByName</function><controlid>first</controlid>
      <errormessage>{error_xml("XL03000009", "The entire transaction in this operation has been rolled back due to an error.")}</errormessage>
    </result>
    <result><status>failure</status><function>query</function><controlid>second</controlid>
      <errormessage>
        {error_xml("DL02000001", "There was an error processing the request.")}
        {error_xml("XL03000009", "There was an error processing the function")}
      </errormessage>
    </result>
    <result><status>aborted</status><function>lookup</function><controlid>third</controlid>
      <errormessage>{error_xml("XL03000009", "The entire transaction in this operation has been rolled back due to an error.")}</errormessage>
    </result>"""
)


def test_multi_function_response_with_one_failure_and_aborted_siblings() -> None:
    response = parse_response(TRANSACTION)
    assert [r.status for r in response.results] == ["aborted", "failure", "aborted"]
    with pytest.raises(errors.QueryError) as failure:
        response.raise_for_status()  # the cause, not the first aborted sibling
    assert failure.value.errorno == "DL02000001"
    assert failure.value.control_id == "second"
    assert len(failure.value.details) == 2
    with pytest.raises(errors.TransactionAbortedError) as aborted:
        response.result("third").raise_for_status()
    assert (aborted.value.function, aborted.value.errorno) == ("lookup", "XL03000009")
    assert str(aborted.value).startswith(
        "Intacct rolled back a function of a failed transaction in function lookup"
    )


def test_failed_result_errors_are_parsed_with_empty_elements_as_none() -> None:
    result = parse_response(TRANSACTION).result("second")
    assert result.errors[0] == ErrorDetail(
        errorno="DL02000001",
        description=None,
        description2="There was an error processing the request.",
        correction=None,
    )


@pytest.mark.parametrize(
    ("errors_xml", "status", "expected", "errorno"),
    [
        (
            error_xml("XL03000009", "The Service is Temporarily Off-line"),
            "failure",
            errors.ServiceOfflineError,
            None,
        ),
        (
            error_xml("BL01001973", "", "The Service is Temporarily Off-line"),
            "failure",
            errors.ServiceOfflineError,
            None,
        ),
        (error_xml("PL04000005", "Permission denied"), "failure", errors.PermissionDeniedError, "PL04000005"),
        (
            error_xml(
                "XL03000009",
                "You do not have permission for API operation READ on objects of type audithistory",
            ),
            "failure",
            errors.PermissionDeniedError,
            "XL03000009",
        ),
        (
            error_xml("DL02000001", "There was an error processing the request."),
            "failure",
            errors.QueryError,
            None,
        ),
        (
            error_xml(
                "XL03000009",
                "Object definition SODOCUMENTPARAMS not found",
                "There was an error processing the function",
            ),
            "failure",
            errors.UnknownObjectError,
            "XL03000009",
        ),
        (
            error_xml("Query Failed", "Object definition BADOBJECT not found"),
            "failure",
            errors.UnknownObjectError,
            None,
        ),
        (
            error_xml(
                "XL03000009", "The entire transaction in this operation has been rolled back due to an error."
            ),
            "aborted",
            errors.TransactionAbortedError,
            "XL03000009",
        ),
        (
            error_xml(
                "BL03000018",
                "Use of empty Location is invalid. A valid Multi-Entity Location must be specified.",
            ),
            "failure",
            errors.EntityError,
            "BL03000018",
        ),
        (error_xml("Invalid fields list x"), "failure", errors.QueryError, "Invalid fields list x"),
        (
            error_xml("BL34000061", "Another Project with the given value(s) Fellow PD1  already exists"),
            "failure",
            errors.QueryError,
            None,
        ),
    ],
)
def test_function_error_mapping(errors_xml: str, status: str, expected: type, errorno: str | None) -> None:
    result = failed_result(errors_xml, status=status)
    error = error_for_result(result)
    assert type(error) is expected
    assert error.function == "query" and error.control_id == "f-1"
    if errorno:
        assert error.errorno == errorno
    with pytest.raises(expected):
        result.raise_for_status()


def test_unknown_object_error_names_the_object() -> None:
    result = failed_result(error_xml("XL03000009", "Object definition SODOCUMENTPARAMS not found"))
    assert str(error_for_result(result)).startswith("Intacct does not know object SODOCUMENTPARAMS")


def test_generic_failure_says_it_is_sometimes_transient() -> None:
    error = error_for_result(
        failed_result(error_xml("DL02000001", "There was an error processing the request."))
    )
    assert error is not None and not error.retryable
    assert "sometimes transient" in str(error)


def test_successful_result_has_no_error() -> None:
    assert error_for_result(parse_response(QUERY_PAGE).results[0]) is None


# --- failures of the whole request -------------------------------------------------------------------

CONTROL_SENDER_FAILURE = b"""<?xml version="1.0" encoding="UTF-8"?>
<response><control><status>failure</status><senderid>forecast_sender</senderid><controlid>1559435393</controlid>
  <uniqueid>false</uniqueid><dtdversion>3.0</dtdversion></control>
  <errormessage><error><errorno>XL03000006</errorno><description></description>
    <description2>Incorrect Intacct XML Partner ID or password.</description2><correction></correction></error></errormessage>
</response>"""

CONTROL_MALFORMED = b"""<?xml version="1.0" encoding="UTF-8"?>
<response><control><status>failure</status><senderid>forecast_sender</senderid><controlid>c</controlid>
  <uniqueid>false</uniqueid><dtdversion>3.0</dtdversion></control>
  <errormessage><error><errorno>XL03000003</errorno><description></description>
  <description2>XML Parse schema error: Fatal Error 76: Opening and ending tag mismatch: PROJECTID line 18 and PROJECT. Line: 18, column: 62.</description2>
  <correction></correction></error></errormessage>
</response>"""

GATEWAY_INVALID = b"""<response><control><status>failure</status></control>
  <errormessage><error><errorno>GW-0011</errorno>
  <description>Invalid Request [Request ID: AC47C2BE:D9EE_63EBC07F.59]</description></error></errormessage>
</response>"""

AUTH_FAILURE = b"""<?xml version="1.0" encoding="UTF-8"?>
<response><control><status>success</status><senderid>forecast_sender</senderid><controlid>c</controlid>
  <uniqueid>false</uniqueid><dtdversion>3.0</dtdversion></control>
  <operation>
    <authentication><status>failure</status><userid>xml_gateway</userid><companyid>ACME</companyid></authentication>
    <errormessage><error><errorno>XL03000006</errorno><description></description>
      <description2>Sign-in information is incorrect</description2><correction></correction></error></errormessage>
  </operation></response>"""

SENDER_NOT_AUTHORISED = b"""<?xml version="1.0" encoding="UTF-8"?>
<response><control><status>success</status><senderid>forecast_sender</senderid><controlid>c</controlid>
  <uniqueid>false</uniqueid><dtdversion>3.0</dtdversion></control>
  <operation>
    <authentication><status>failure</status><userid>xml_gateway</userid><companyid>ACME</companyid></authentication>
    <errormessage><error><errorno>XL03000006</errorno><description>Invalid Web Services Authorization</description>
      <description2>The sender ID &#039;forecast_sender&#039; is not authorized to make Web Services requests to company ID &#039;ACME&#039;.</description2>
      <correction>Contact the company administrator to grant Web Services authorization to this sender ID.</correction></error></errormessage>
  </operation></response>"""

INVALID_LOCATION = b"""<?xml version="1.0" encoding="UTF-8"?>
<response><control><status>success</status><senderid>s</senderid><controlid>c</controlid>
  <uniqueid>false</uniqueid><dtdversion>3.0</dtdversion></control>
  <operation>
    <authentication><status>failure</status><userid>xml_gateway</userid><companyid>ACME</companyid></authentication>
    <errormessage><error><errorno>XL03000006</errorno><description></description>
      <description2>Invalid location ID E999</description2><correction></correction></error></errormessage>
  </operation></response>"""

INVALID_SESSION = f"""<?xml version="1.0" encoding="UTF-8"?>
<response><control><status>success</status><senderid>XXXXX</senderid><controlid>CTLID</controlid>
  <uniqueid>false</uniqueid><dtdversion>3.0</dtdversion></control>
  <operation>
    <authentication><status>failure</status><userid></userid><companyid></companyid></authentication>
    <errormessage><error><errorno>XL03000006</errorno><description></description>
      <description2>Invalid session {SESSION_ID}</description2><correction></correction></error></errormessage>
  </operation></response>""".encode()

THROTTLED = b"""<?xml version="1.0" encoding="UTF-8"?>
<response><control><status>failure</status></control>
  <errormessage><error><errorno>GW-0010</errorno>
  <description>Rate limit exceeded [Request ID: AC47C2BE:D9EE_63EBC07F.60]</description></error></errormessage>
</response>"""

OFFLINE_CONTROL = b"""<response><control><status>failure</status></control>
  <errormessage><error><errorno>XL03000001</errorno><description>The Service is Temporarily Off-line</description>
  </error></errormessage></response>"""

HTML_502 = b"""<!DOCTYPE html>
<html lang="en-US"><head><title>api.intacct.com | 502: Bad gateway</title></head>
<body><div id="cf-error-details">   Bad gateway   Error code 502 </div></body></html>"""


def test_control_failure_with_bad_sender_credentials() -> None:
    with pytest.raises(errors.SenderAuthenticationError) as error:
        parse_response(CONTROL_SENDER_FAILURE)
    assert error.value.errorno == "XL03000006"
    assert error.value.description2 == "Incorrect Intacct XML Partner ID or password."
    assert not error.value.retryable
    assert "check sender_id/sender_password in the connection extra" in str(error.value)


def test_control_failure_for_a_malformed_request_is_not_retryable() -> None:
    with pytest.raises(errors.MalformedRequestError) as error:
        parse_response(CONTROL_MALFORMED)
    assert error.value.errorno == "XL03000003"
    assert not error.value.retryable
    assert "Opening and ending tag mismatch" in str(error.value)


def test_gateway_invalid_request_with_http_400() -> None:
    with pytest.raises(errors.MalformedRequestError) as error:
        parse_response(GATEWAY_INVALID, http_status=400)
    assert error.value.http_status == 400
    assert str(error.value).startswith("Intacct's gateway refused the request as invalid (HTTP 400, GW-0011:")
    assert "authentication values" in str(error.value)


def test_service_offline_at_control_level_is_retryable() -> None:
    with pytest.raises(errors.ServiceOfflineError) as error:
        parse_response(OFFLINE_CONTROL)
    assert error.value.retryable


def test_user_authentication_failure_names_the_company() -> None:
    with pytest.raises(errors.UserAuthenticationError) as error:
        parse_response(AUTH_FAILURE)
    assert error.value.company_id == "ACME"
    assert str(error.value).startswith(
        "Intacct rejected the user login for company ACME (XL03000006: Sign-in information is incorrect)"
    )
    assert not error.value.reauthenticate


def test_sender_not_authorised_for_the_company() -> None:
    with pytest.raises(errors.SenderAuthenticationError) as error:
        parse_response(SENDER_NOT_AUTHORISED)
    assert "the sender is authorised for company ACME" in str(error.value)


def test_invalid_location_at_sign_in_is_an_entity_error() -> None:
    with pytest.raises(errors.EntityError) as error:
        parse_response(INVALID_LOCATION)
    assert "entity_id" in str(error.value)


def test_invalid_session_asks_for_reauthentication_and_hides_the_session_id() -> None:
    with pytest.raises(errors.SessionExpiredError) as error:
        parse_response(INVALID_SESSION)
    assert error.value.reauthenticate and not error.value.retryable
    assert error.value.description2 == "Invalid session [session id redacted]"
    for shown in (
        str(error.value),
        repr(error.value),
        repr(error.value.details),
        repr(pickle.dumps(error.value)),
    ):
        assert SESSION_ID not in shown


def test_throttled_body_with_429_and_retry_after() -> None:
    with pytest.raises(errors.ThrottledError) as error:
        parse_response(THROTTLED, http_status=429, retry_after="30")
    assert error.value.retryable
    assert error.value.retry_after == 30.0
    assert error.value.errorno == "GW-0010"
    assert "(HTTP 429, GW-0010: Rate limit exceeded" in str(error.value)
    assert "retry after 30 s" in str(error.value)


def test_gw_0010_body_is_throttling_whatever_the_status() -> None:
    with pytest.raises(errors.ThrottledError) as error:
        parse_response(THROTTLED, http_status=200)
    assert error.value.retry_after is None


def test_retry_after_as_an_http_date() -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
    header = later.strftime("%a, %d %b %Y %H:%M:%S GMT")
    with pytest.raises(errors.ThrottledError) as error:
        parse_response(b"", http_status=429, retry_after=header)
    assert error.value.retry_after is not None and 100 < error.value.retry_after <= 120


def test_5xx_html_page_is_a_retryable_server_error_that_says_what_came_back() -> None:
    with pytest.raises(errors.GatewayServerError) as error:
        parse_response(HTML_502, http_status=502, content_type="text/html; charset=UTF-8")
    assert error.value.retryable and error.value.http_status == 502
    message = str(error.value)
    assert message.startswith(
        "Intacct returned XML rooted at <html> instead of <response>, starting "
        "'<!DOCTYPE html> <html lang=\"en-US\"><head><title>api.intacct.com | 502: Bad gatew...' "
        "(text/html; charset=UTF-8) (HTTP 502)"
    )


def test_5xx_with_an_xml_error_body_is_still_a_server_error() -> None:
    with pytest.raises(errors.GatewayServerError) as error:
        parse_response(CONTROL_MALFORMED, http_status=503)
    assert error.value.errorno == "XL03000003"


def test_html_that_is_not_even_xml_with_http_200() -> None:
    page = b"<html><head><title>Just a moment...</title><body><p>Checking your browser<br></body></html>"
    with pytest.raises(errors.NotXmlResponseError) as error:
        parse_response(page, http_status=200, content_type="text/html")
    assert str(error.value).startswith(
        "Intacct returned a body that is not XML starting '<html><head><title>Just a moment...</title>"
    )
    assert error.value.retryable and error.value.http_status == 200


def test_empty_body() -> None:
    with pytest.raises(errors.NotXmlResponseError) as error:
        parse_response(b"  \r\n ")
    assert error.value.retryable
    assert str(error.value).startswith("Intacct returned an empty body")


def test_truncated_xml() -> None:
    with pytest.raises(errors.NotXmlResponseError, match=r"truncated XML \(cut after \d+ bytes\) starting"):
        parse_response(QUERY_PAGE[: len(QUERY_PAGE) // 2])


@pytest.mark.parametrize("line_break", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_every_cut_of_a_response_is_truncated_and_retryable(line_break: bytes) -> None:
    page = QUERY_PAGE.replace(b"\n", line_break)  # multi-byte characters and entity references too
    for end in range(1, len(page) - len(b"</response>")):
        with pytest.raises(errors.NotXmlResponseError) as error:
            parse_response(page[:end])
        assert error.value.retryable, (end, str(error.value))


@pytest.mark.parametrize(
    ("broken", "libxml2_said"),
    [
        (b"<NAME>&e;", "Entity 'e' not defined"),
        (b"<NAME>a < b", "StartTag: invalid element name"),
        (b"<NAME>a\x00b", "Char 0x0 out of allowed range"),
        (b"<NAME>x</NAMEX>", "Opening and ending tag mismatch"),
    ],
)
def test_a_response_broken_before_its_end_is_a_permanent_protocol_error(
    broken: bytes, libxml2_said: str
) -> None:
    body = envelope(
        """<result><status>success</status><function>query</function><controlid>q</controlid>
        <data listtype="CUSTOMER" count="1"><CUSTOMER><NAME>x</NAME><RECORDNO>1</RECORDNO></CUSTOMER>
        </data></result>"""
    ).replace(b"<NAME>x", broken, 1)
    with pytest.raises(errors.ProtocolError) as error:
        parse_response(body)
    assert type(error.value) is errors.ProtocolError and not error.value.retryable
    message = str(error.value)
    assert message.startswith("Intacct's endpoint sent XML that cannot be parsed (")
    assert libxml2_said in message and f"a body of {len(body):,} bytes" in message
    assert "\n" not in message
    # A gateway that says it failed may send anything: its status decides, and it is retried.
    with pytest.raises(errors.GatewayServerError):
        parse_response(body, http_status=503)


def test_text_beyond_libxml2s_limits_is_never_retried() -> None:
    body = QUERY_PAGE.replace(b"<NAME>", b"<NAME>" + b"x" * (11 * 1024 * 1024), 1)
    with pytest.raises(errors.ProtocolError, match="Text node too long"):
        parse_response(body)


def test_xml_that_is_not_an_intacct_response() -> None:
    with pytest.raises(errors.NotXmlResponseError, match="rooted at <html> instead of <response>"):
        parse_response(b"<html><body>Service Unavailable</body></html>")


def test_non_integer_data_attribute_is_refused() -> None:
    body = envelope(
        """<result><status>success</status><function>query</function><controlid>q</controlid>
        <data listtype="X" count="many"/></result>"""
    )
    with pytest.raises(errors.NotXmlResponseError, match="count='many'"):
        parse_response(body)


def test_body_must_be_bytes() -> None:
    with pytest.raises(TypeError, match="must be bytes"):
        parse_response(QUERY_PAGE.decode())  # type: ignore[arg-type]


# --- hostile XML -------------------------------------------------------------------------------------

EXTERNAL_ENTITY = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE response [
  <!ENTITY x SYSTEM "file:///etc/passwd">
  <!ENTITY remote SYSTEM "http://127.0.0.1:9/evil.dtd">
]>
<response><control><status>success</status><controlid>c</controlid></control>
  <operation><authentication><status>success</status><userid>u</userid><companyid>ACME</companyid></authentication>
    <result><status>success</status><function>query</function><controlid>q</controlid>
      <data listtype="CUSTOMER" count="1" totalcount="1" offset="0" numremaining="0">
        <CUSTOMER><NAME>&x;</NAME><CUSTOMERID>before&remote;after</CUSTOMERID></CUSTOMER>
      </data></result></operation></response>"""

ENTITY_EXPANSION = b"""<?xml version="1.0"?>
<!DOCTYPE response [
  <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
  <!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">
]>
<response><control><status>success</status><controlid>c</controlid></control>
  <operation><authentication><status>success</status></authentication>
    <result><status>success</status><function>query</function><controlid>q</controlid>
      <data listtype="CUSTOMER" count="1"><CUSTOMER><NAME>&d;&d;&d;&d;</NAME></CUSTOMER></data>
    </result></operation></response>"""


def test_external_entities_are_refused_as_hostile_and_never_resolved() -> None:
    with pytest.raises(errors.HostileXmlError) as error:
        parse_response(EXTERNAL_ENTITY)
    assert not error.value.retryable
    assert str(error.value).startswith(
        "the response declares XML entities (a DOCTYPE), which Intacct never sends: refused as hostile "
        '(\'<!DOCTYPE response [ <!ENTITY x SYSTEM "file:///etc/passwd">'
    )
    assert "root:" not in str(error.value)
    # The parser behind the refusal never resolves an entity either.
    root = etree.fromstring(EXTERNAL_ENTITY, _parser())
    assert root.find(".//NAME").text is None and root.find(".//CUSTOMERID").text == "before"
    assert b"root:" not in etree.tostring(root)


def test_entity_expansion_bomb_is_refused_not_expanded() -> None:
    with pytest.raises(errors.HostileXmlError) as error:
        parse_response(ENTITY_EXPANSION)
    assert not error.value.retryable and len(str(error.value)) < 400
    # Were it parsed, libxml2's amplification limit would stop it before any substitution.
    with pytest.raises(etree.XMLSyntaxError, match="amplification"):
        etree.fromstring(ENTITY_EXPANSION, _parser())


def test_a_doctype_the_prolog_check_cannot_read_is_refused_after_parsing() -> None:
    utf16 = EXTERNAL_ENTITY.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    with pytest.raises(errors.HostileXmlError):
        parse_response(utf16)
    long_prolog = EXTERNAL_ENTITY.replace(b"<!DOCTYPE", b"<!--" + b" " * 70_000 + b"-->\n<!DOCTYPE", 1)
    with pytest.raises(errors.HostileXmlError):
        parse_response(long_prolog)


def test_a_proxys_html_page_may_carry_a_bare_doctype_and_is_retried() -> None:
    xhtml = (
        b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        b'"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html><body>Bad gateway</body></html>'
    )
    for page in (HTML_502, xhtml, b"<!doctype html><html><body><p>Just a moment...<br></body></html>"):
        with pytest.raises(errors.NotXmlResponseError) as error:
            parse_response(page, http_status=200, content_type="text/html")
        assert error.value.retryable
    with pytest.raises(errors.HostileXmlError):
        parse_response(b'<!DOCTYPE html [<!ENTITY e SYSTEM "file:///etc/passwd">]><html>&e;</html>')


# --- no credential in any error ----------------------------------------------------------------------

ECHOING_PAGE = (
    b"<html><body><pre><password>LEAKED-PASSWORD</password><sessionid>LEAKED-SESSION</sessionid>"
    b"</pre></body></html>"
)


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (CONTROL_SENDER_FAILURE, 200),
        (CONTROL_MALFORMED, 200),
        (GATEWAY_INVALID, 400),
        (AUTH_FAILURE, 200),
        (SENDER_NOT_AUTHORISED, 200),
        (INVALID_SESSION, 200),
        (THROTTLED, 429),
        (HTML_502, 502),
        (ECHOING_PAGE, 500),
        (ECHOING_PAGE, 200),
        (b"<html><body><password>LEAKED-PASSWORD" + b"x" * 2000, 502),
        (b"", 200),
    ],
)
def test_no_credential_or_session_id_in_any_error_string(body: bytes, status: int) -> None:
    with pytest.raises(errors.IntacctError) as error:
        parse_response(body, http_status=status)
    shown = " ".join([str(error.value), repr(error.value), repr(vars(error.value))])
    for secret in (SESSION_ID, "LEAKED-PASSWORD", "LEAKED-SESSION", "SENDER-PASSWORD", "USER-PASSWORD"):
        assert secret not in shown
    assert "\n" not in str(error.value)


def test_operation_without_authentication_block_is_an_incomplete_response() -> None:
    body = b"""<response><control><status>success</status></control>
      <operation><result><status>success</status><function>query</function><controlid>q</controlid></result>
      </operation></response>"""
    with pytest.raises(errors.NotXmlResponseError, match="without an authentication block"):
        parse_response(body)


def test_control_failure_without_an_error_message() -> None:
    body = b"<response><control><status>failure</status></control></response>"
    with pytest.raises(
        errors.NotXmlResponseError, match="control status is 'failure' without an error message"
    ):
        parse_response(body)
