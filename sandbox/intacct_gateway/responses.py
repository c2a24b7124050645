"""The response envelope: `<response><control/><operation><authentication/><result/>...`.

Shapes follow the official SDK fixtures and captured responses quoted in the reference (§2, §4).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from .envelope import ControlEcho
from .errors import ErrorDetail
from .xmlout import element, wrap

XML_CONTENT_TYPE = 'text/xml; encoding="UTF-8";charset=UTF-8'  # what Intacct sends
_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass
class FunctionResult:
    """One `<result>`: how a function ended and what it returned."""

    function: str
    controlid: str
    object: str = ""
    status: str = "success"
    data: list[bytes] | None = None  # the whole <data ...>...</data> element, as UTF-8 chunks
    errors: tuple[ErrorDetail, ...] = ()
    raw: tuple[str, bytes] | None = None  # (content type, body) of query's json/csv return formats

    def chunks(self) -> list[bytes]:
        head = (
            element("status", self.status)
            + element("function", self.function)
            + element("controlid", self.controlid)
        )
        tail = errormessage(self.errors) if self.errors else ""
        return [f"<result>{head}".encode(), *(self.data or ()), f"{tail}</result>".encode()]


@dataclass
class AuthenticationEcho:
    status: str
    userid: str = ""
    companyid: str = ""
    locationid: str | None = None
    sessiontimestamp: str | None = None
    sessiontimeout: str | None = None

    def to_xml(self) -> str:
        parts = [
            element("status", self.status),
            element("userid", self.userid),
            element("companyid", self.companyid),
        ]
        for name in ("locationid", "sessiontimestamp", "sessiontimeout"):
            value = getattr(self, name)
            if value is not None:
                parts.append(element(name, value))
        return wrap("authentication", *parts)


@dataclass
class OperationAnswer:
    authentication: AuthenticationEcho
    results: list[FunctionResult] = field(default_factory=list)
    errors: tuple[ErrorDetail, ...] = ()  # authentication failure

    def chunks(self) -> list[bytes]:
        head = f"<operation>{self.authentication.to_xml()}"
        if self.errors:
            return [f"{head}{errormessage(self.errors)}</operation>".encode()]
        return [
            head.encode(),
            *(chunk for result in self.results for chunk in result.chunks()),
            b"</operation>",
        ]


def errormessage(details: tuple[ErrorDetail, ...]) -> str:
    return wrap(
        "errormessage",
        *(
            wrap(
                "error",
                element("errorno", d.errorno),
                element("description", d.description),
                element("description2", d.description2),
                element("correction", d.correction),
            )
            for d in details
        ),
    )


def _control(echo: ControlEcho, status: str) -> str:
    return wrap(
        "control",
        element("status", status),
        element("senderid", echo.senderid),
        element("controlid", echo.controlid),
        element("uniqueid", echo.uniqueid),
        element("dtdversion", echo.dtdversion),
    )


def success_document(echo: ControlEcho, operations: list[OperationAnswer]) -> bytes:
    # joined once: record pages are megabytes
    head = f"{_DECLARATION}<response>{_control(echo, 'success')}".encode()
    return b"".join([head, *(chunk for op in operations for chunk in op.chunks()), b"</response>"])


def control_failure_document(echo: ControlEcho, details: tuple[ErrorDetail, ...]) -> bytes:
    return (_DECLARATION + wrap("response", _control(echo, "failure"), errormessage(details))).encode("utf-8")


def gateway_error_document(errorno: str, description: str, description2: str = "") -> bytes:
    """GW-0010 / GW-0011: a control failure without an echo, sent with HTTP 429 / 400."""
    request_id = (
        f"{secrets.token_hex(4).upper()}:{secrets.token_hex(2).upper()}_{secrets.token_hex(4).upper()}"
    )
    error = wrap(
        "error",
        element("errorno", errorno),
        element("description", f"{description} [Request ID: {request_id}]"),
        *([element("description2", description2)] if description2 else []),
    )
    body = wrap("response", wrap("control", element("status", "failure")), wrap("errormessage", error))
    return (_DECLARATION + body).encode("utf-8")


def html_error_page(status: int) -> bytes:
    """A CDN error page (Cloudflare's layout) like the ones that reach Intacct clients instead of XML."""
    titles = {502: "Bad gateway", 503: "Service unavailable", 504: "Gateway time-out", 520: "Web server is returning an unknown error", 522: "Connection timed out", 524: "A timeout occurred"}  # fmt: skip
    title = titles.get(status, "Error")
    ray = secrets.token_hex(8)
    return (
        "<!DOCTYPE html>\n<html><head><title>intacct.com | "
        f'{status}: {title}</title></head><body><div id="cf-wrapper"><div id="cf-error-details" '
        f'class="cf-error-details-wrapper"><h1><span class="cf-error-type">Error</span> '
        f'<span class="cf-error-code">{status}</span></h1><h2>{title}</h2><p>Cloudflare Ray ID: '
        f"<strong>{ray}</strong></p></div></div></body></html>\n"
    ).encode()
