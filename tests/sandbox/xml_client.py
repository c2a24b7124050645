"""A client for the sandbox gateway tests that sends hand-written XML.

Requests are written out as XML text on purpose: the tests pin the wire protocol, not a client library.
"""

from __future__ import annotations

from datetime import UTC, datetime

import requests
from lxml import etree

from sandbox.intacct_gateway import (
    DEFAULT_COMPANY_ID,
    DEFAULT_SENDER_ID,
    DEFAULT_SENDER_PASSWORD,
    DEFAULT_USER_ID,
    DEFAULT_USER_PASSWORD,
    Clock,
    GatewayServer,
    generate_company,
)

# The company's "now": history is generated up to it and it stands still unless a test moves it.
NOW = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)
SEED = 7


def control(
    uniqueid: str = "false", sender: str = DEFAULT_SENDER_ID, password: str = DEFAULT_SENDER_PASSWORD
) -> str:
    return (
        f"<control><senderid>{sender}</senderid><password>{password}</password><controlid>ctl-1</controlid>"
        f"<uniqueid>{uniqueid}</uniqueid><dtdversion>3.0</dtdversion><includewhitespace>false</includewhitespace>"
        "</control>"
    )


def login(
    user: str = DEFAULT_USER_ID,
    company: str = DEFAULT_COMPANY_ID,
    password: str = DEFAULT_USER_PASSWORD,
    location: str | None = None,
) -> str:
    entity = "" if location is None else f"<locationid>{location}</locationid>"
    return f"<login><userid>{user}</userid><companyid>{company}</companyid><password>{password}</password>{entity}</login>"


def function(body: str, controlid: str = "f-1") -> str:
    return f'<function controlid="{controlid}">{body}</function>'


def request_xml(*functions: str, auth: str, transaction: str = "false", uniqueid: str = "false") -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><request>{control(uniqueid)}'
        f'<operation transaction="{transaction}"><authentication>{auth}</authentication>'
        f"<content>{''.join(functions)}</content></operation></request>"
    )


def query_xml(
    object_name: str,
    *fields: str,
    filter: str = "",
    orderby: str = "",
    options: str = "",
    pagesize: int | None = None,
    offset: int | None = None,
) -> str:
    select = "".join(f"<field>{name}</field>" for name in fields)
    parts = [f"<object>{object_name}</object><select>{select}</select>"]
    parts.append(f"<filter>{filter}</filter>" if filter else "")
    parts.append(f"<orderby>{orderby}</orderby>" if orderby else "")
    parts.append(f"<options>{options}</options>" if options else "")
    parts.append(f"<pagesize>{pagesize}</pagesize>" if pagesize is not None else "")
    parts.append(f"<offset>{offset}</offset>" if offset is not None else "")
    return f"<query>{''.join(parts)}</query>"


def order(field: str, direction: str = "ascending") -> str:
    return f"<order><field>{field}</field><{direction}/></order>"


def condition(operator: str, field: str, *values: str) -> str:
    return f"<{operator}><field>{field}</field>{''.join(f'<value>{v}</value>' for v in values)}</{operator}>"


def records(data: etree._Element) -> list[dict[str, str]]:
    """The records under a <data> element as {tag: text}, nested sub-records flattened to dotted tags."""

    def flatten(element: etree._Element, prefix: str = "") -> dict[str, str]:
        out: dict[str, str] = {}
        for child in element:
            if len(child):
                out.update(flatten(child, f"{prefix}{child.tag}."))
            else:
                out[prefix + child.tag] = child.text or ""
        return out

    return [flatten(record) for record in data]


class XmlClient:
    """Posts XML to the sandbox and parses what comes back."""

    def __init__(self, server: GatewayServer):
        self.server = server
        self.http = requests.Session()
        self._sessions: dict[str, str] = {}

    def post(self, body: str | bytes, url: str | None = None) -> requests.Response:
        data = body.encode("utf-8") if isinstance(body, str) else body
        return self.http.post(
            url or self.server.endpoint, data=data, headers={"Content-Type": "application/xml"}
        )

    def xml(self, body: str | bytes) -> etree._Element:
        """POST, expect HTTP 200 with XML, and return the parsed <response>."""
        answer = self.post(body)
        assert answer.status_code == 200, answer.text
        assert answer.headers["Content-Type"].startswith("text/xml")
        return etree.fromstring(answer.content)

    def call(self, *functions: str, auth: str | None = None, **options: str) -> etree._Element:
        return self.xml(request_xml(*functions, auth=auth or self.session_auth(), **options))

    def result(self, body: str, auth: str | None = None) -> etree._Element:
        """The single <result> of one function."""
        response = self.call(function(body), auth=auth)
        results = response.findall("operation/result")
        assert len(results) == 1, etree.tostring(response)
        return results[0]

    def data(self, body: str, auth: str | None = None) -> etree._Element:
        """The <data> of one successful function."""
        result = self.result(body, auth=auth)
        assert result.findtext("status") == "success", etree.tostring(result, encoding="unicode")
        return result.find("data")

    def session(self, location: str | None = None) -> str:
        response = self.xml(request_xml(function("<getAPISession/>"), auth=login(location=location)))
        return response.findtext("operation/result/data/api/sessionid")

    def session_auth(self, location: str | None = None) -> str:
        """Authentication by a session of this client (one per entity, opened on first use)."""
        key = location or ""
        if key not in self._sessions:
            self._sessions[key] = self.session(location)
        return f"<sessionid>{self._sessions[key]}</sessionid>"


def errors(element: etree._Element) -> list[tuple[str, str]]:
    """(errorno, description2) of every <error> under an element."""
    return [(e.findtext("errorno"), e.findtext("description2")) for e in element.iter("error")]


def make_server(**kwargs) -> GatewayServer:
    store = generate_company(SEED, customers=300, departments=30, users=40, clock=Clock(NOW))
    return GatewayServer(store, **kwargs)
