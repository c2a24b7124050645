"""Parser for Intacct XML gateway responses.

``parse_response`` turns the bytes of an HTTP response into a ``Response`` or raises the typed error
(``intacct.gateway.errors``) for failures that stop the whole request: a body that is not Intacct XML,
throttling, a 5xx, a rejected control block (sender), a rejected authentication (user or session). A
function that failed on its own is not raised: its ``Result`` carries the errors, and
``Result.raise_for_status()`` (or ``Response.raise_for_status()``) raises the typed error for it.

XML is parsed with entity resolution and network access off and without huge-tree support (libxml2's
limits on entity amplification, depth and text size stay on). Intacct never sends a DOCTYPE, so a body
that declares one is refused as hostile before it is parsed (only a proxy's HTML page may carry a bare
``<!DOCTYPE html>``). XML that claims to be an Intacct response and breaks before its last byte cannot
become valid on a resend and raises the permanent ``ProtocolError``; XML cut short is retryable.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import NamedTuple

from lxml import etree

from intacct.gateway.errors import (
    EntityError,
    ErrorDetail,
    GatewayServerError,
    HostileXmlError,
    IntacctError,
    MalformedRequestError,
    NotXmlResponseError,
    PermissionDeniedError,
    ProtocolError,
    QueryError,
    SenderAuthenticationError,
    ServiceOfflineError,
    SessionExpiredError,
    ThrottledError,
    TransactionAbortedError,
    UnknownObjectError,
    UserAuthenticationError,
)

__all__ = [
    "ApiSession",
    "Authentication",
    "ErrorDetail",
    "ObjectDefinition",
    "ObjectField",
    "ObjectRelationship",
    "Response",
    "Result",
    "UserFormatting",
    "api_session",
    "error_for_result",
    "object_definition",
    "parse_response",
    "user_formatting",
]

# lxml lets one thread at a time use a parser, so each thread gets its own: slice workers then parse
# their pages in parallel (lxml releases the GIL while it parses).
_per_thread = threading.local()

_SNIPPET_CHARS = 80
_THROTTLED = "GW-0010"
_INVALID_REQUEST = "GW-0011"
_BAD_CREDENTIALS = "XL03000006"
_MALFORMED = "XL03000003"
_ROLLED_BACK = "XL03000009"
_PERMISSION = "PL04000005"
_GENERIC_FAILURE = "DL02000001"
_MISSING_ENTITY = "BL03000018"

_OFFLINE = re.compile(r"temporarily\s+off-?\s?line", re.IGNORECASE)
_INVALID_SESSION = re.compile(r"invalid session", re.IGNORECASE)
_SESSION_ECHO = re.compile(r"(invalid session)\b.*", re.IGNORECASE | re.DOTALL)
_SENDER_NOT_AUTHORISED = re.compile(
    r"not authori[sz]ed to make web services requests|web services authori[sz]ation", re.IGNORECASE
)
_ENTITY_TEXT = re.compile(r"\b(location|entity)\b", re.IGNORECASE)
_MULTI_ENTITY_TEXT = re.compile(r"multi-entity location", re.IGNORECASE)
_UNKNOWN_OBJECT = re.compile(r"object definition\s+(\S+)\s+not found", re.IGNORECASE)
_PERMISSION_TEXT = re.compile(r"permission", re.IGNORECASE)
_ROLLED_BACK_TEXT = re.compile(r"rolled back", re.IGNORECASE)
_SECRET_ELEMENTS = re.compile(r"<(password|sessionid)>.*?(?:</\1>|\Z)", re.IGNORECASE | re.DOTALL)
_GMT_OFFSET = re.compile(r"^(?:GMT|UTC)?\s*([+-])\s*(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)

# The prolog (XML declaration, comments, DOCTYPE) is looked for in the body's first bytes only.
_PROLOG_BYTES = 64 * 1024
_FIRST_ELEMENT = re.compile(rb"<([A-Za-z_][-\w.:]*)")
_DOCTYPE = re.compile(rb"<!DOCTYPE\s+([^\s\[>]*)[^\[>]*(\[)?", re.IGNORECASE)
# Parse failures that no resend can fix, wherever they are: entity loops and amplification, libxml2's
# depth and text-size limits.
_PARSER_LIMITS = frozenset({etree.ErrorTypes.ERR_ENTITY_LOOP, etree.ErrorTypes.ERR_RESOURCE_LIMIT})


# --- the parsed shapes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Authentication:
    """The ``<authentication>`` block of a successful response.

    Session times are aware datetimes; a value without a UTC offset (never seen from Intacct) is ``None``
    rather than guessed.
    """

    status: str
    user_id: str | None
    company_id: str | None
    location_id: str | None
    session_timestamp: dt.datetime | None
    session_timeout: dt.datetime | None


@dataclass(frozen=True)
class Result:
    """One ``<result>``: the outcome of one function of the request.

    ``count``/``totalcount``/``numremaining``/``offset`` are the ``<data>`` attributes as ints and
    ``result_id`` the readByQuery cursor; each is ``None`` when absent (or empty).
    """

    function: str | None
    control_id: str | None
    status: str
    listtype: str | None = None
    count: int | None = None
    totalcount: int | None = None
    numremaining: int | None = None
    offset: int | None = None
    result_id: str | None = None
    errors: list[ErrorDetail] = field(default_factory=list)
    data: etree._Element | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def records(self) -> Iterator[dict[str, str | None]]:
        """Each record under ``<data>`` as a flat dict, whatever its tag (``customer`` or ``CUSTOMER``).

        Nested elements become dot paths (``DISPLAYCONTACT.MAILADDRESS.CITY``); tags that already hold
        dots (query output) are kept as they are; empty elements are ``None``. A tag repeated under one
        parent gets an index (``USERLOCATIONS.LOCATIONID[0]``, ``[1]``, ...) instead of overwriting.
        """
        if self.data is None:
            return
        for element in self.data:
            if isinstance(element.tag, str):
                yield _flatten(element)

    def values(self, fields: Sequence[str]) -> list[tuple[str | None, ...]]:
        """Each record under ``<data>`` as a tuple of the values of ``fields``, by name, in that order;
        empty or missing fields are ``None``, as in ``records()``. (Where ``query`` records never go the
        two differ: a field repeated in a record gives its first value here, and a value broken by a
        comment is read whole.)

        The fast path for ``query`` pages: flat records are read by an XSLT transform in C, which releases
        the GIL, so slice workers read their pages while another thread stores rows. Records of any other
        shape (nested elements), or a value holding the transform's separator, go through ``records()``.
        """
        fields = tuple(fields)
        if not fields:
            raise ValueError("values() needs at least one field name")
        if self.data is None:
            return []
        if not self.data.xpath("boolean(*/*/*)"):  # no field holds elements: the records are flat
            text = str(_value_sheet(fields)(self.data))
            expected = int(self.data.xpath("count(*)")) * len(fields)
            if text.count(_SEPARATOR) == expected:
                tokens = [token or None for token in text.split(_SEPARATOR)]
                tokens.pop()  # what follows the last separator
                return list(zip(*[iter(tokens)] * len(fields), strict=True))
        return [tuple(record.get(name) for name in fields) for record in self.records()]

    def raise_for_status(self) -> None:
        """Raise the typed error for a failed or aborted function; do nothing on success."""
        error = error_for_result(self)
        if error is not None:
            raise error


@dataclass(frozen=True)
class Response:
    """A response whose control block and authentication succeeded; results are in request order."""

    control_id: str | None
    authentication: Authentication
    results: list[Result]

    def result(self, control_id: str) -> Result:
        """The result of the function sent with ``control_id`` (the first one, should it repeat)."""
        for result in self.results:
            if result.control_id == control_id:
                return result
        known = ", ".join(repr(r.control_id) for r in self.results) or "none"
        raise KeyError(f"no result for function controlid {control_id!r} in the response (got {known})")

    def raise_for_status(self) -> None:
        """Raise for the first failed function, else the first aborted one; do nothing if all succeeded.

        In a transaction the failed function holds the cause and its siblings only say "rolled back".
        """
        ranked = sorted(self.results, key=lambda r: {"failure": 0, "aborted": 1}.get(r.status, 2))
        for result in ranked:
            result.raise_for_status()


class ApiSession(NamedTuple):
    """What ``getAPISession`` returns; unpacks as ``(session_id, endpoint, location_id)``."""

    session_id: str
    endpoint: str
    location_id: str | None

    def __repr__(self) -> str:
        return (
            f"ApiSession(session_id=<hidden>, endpoint={self.endpoint!r}, location_id={self.location_id!r})"
        )


@dataclass(frozen=True)
class UserFormatting:
    """The API user's formatting preferences, as ``readUserFormatting`` gives them.

    ``date_format`` is Intacct's four-character code (separator then the order of ``m``, ``d``, ``y``/``Y``,
    e.g. ``/mdY``); ``gmt_offset`` is the raw offset text (documented as ``+hh:mm``); ``clock`` is ``12``
    or ``24``. ``utc_offset``/``tzinfo``/``date_pattern`` interpret them, ``None`` when unreadable.
    """

    record_no: str | None
    locale: str | None
    date_format: str | None
    gmt_offset: str | None
    clock: str | None

    @property
    def utc_offset(self) -> dt.timedelta | None:
        match = _GMT_OFFSET.match((self.gmt_offset or "").strip())
        if not match:
            return None
        sign, hours, minutes = match.groups()
        offset = dt.timedelta(hours=int(hours), minutes=int(minutes or 0))
        if offset >= dt.timedelta(hours=24):
            return None
        return -offset if sign == "-" else offset

    @property
    def tzinfo(self) -> dt.timezone | None:
        """A fixed-offset zone: Intacct gives an offset, not a named zone, so daylight saving is not known."""
        offset = self.utc_offset
        return None if offset is None else dt.timezone(offset)

    @property
    def date_pattern(self) -> str | None:
        """The ``strptime`` pattern of ``date_format`` (``/mdY`` -> ``%m/%d/%Y``)."""
        code = self.date_format or ""
        parts = {"m": "%m", "d": "%d", "y": "%y", "Y": "%Y"}
        if len(code) != 4 or code[0].isalnum() or sorted(code[1:].lower()) != ["d", "m", "y"]:
            return None
        return code[0].replace("%", "%%").join(parts[c] for c in code[1:])


@dataclass(frozen=True)
class ObjectField:
    """One ``<Field>`` of a ``lookup``; ``datatype`` is e.g. TEXT, INTEGER, BOOLEAN, DATE, TIMESTAMP."""

    id: str
    label: str | None
    datatype: str | None
    required: bool | None
    readonly: bool | None
    is_custom: bool | None
    valid_values: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObjectRelationship:
    """One ``<Relationship>`` of a ``lookup``: ``object_path`` is the prefix usable in query fields."""

    object_path: str | None
    object_name: str | None
    relationship_type: str | None
    related_by: str | None


@dataclass(frozen=True)
class ObjectDefinition:
    """What ``lookup`` says about an object."""

    name: str | None
    fields: list[ObjectField]
    relationships: list[ObjectRelationship]


# --- parsing -----------------------------------------------------------------------------------------


def parse_response(
    body: bytes,
    *,
    http_status: int = 200,
    content_type: str | None = None,
    retry_after: str | None = None,
) -> Response:
    """Parse an Intacct response body, raising for failures of the request as a whole.

    Checked in this order: a body that is not Intacct XML (empty, HTML, truncated); throttling (HTTP 429
    or GW-0010); HTTP 5xx; a failed control block (sender credentials, malformed request, gateway errors);
    a top-level ``<errormessage>``; failed authentication (user login, expired session); an
    operation-level ``<errormessage>``. ``retry_after`` is the raw ``Retry-After`` header, if any.
    """
    if not isinstance(body, bytes):
        raise TypeError(f"body must be bytes (the raw HTTP body), got {type(body).__name__}")
    root = _load(body, http_status, content_type, retry_after)

    operation = root.find("operation")
    top_errors = _errors(root.find("errormessage"))
    operation_errors = _errors(operation.find("errormessage")) if operation is not None else []
    all_errors = top_errors + operation_errors

    throttled = _first(all_errors, lambda e: e.errorno == _THROTTLED)
    if http_status == 429 or throttled is not None:
        raise ThrottledError.from_detail(
            throttled or (all_errors[0] if all_errors else None),
            retry_after=_retry_after_seconds(retry_after),
            http_status=http_status,
            details=tuple(all_errors),
        )
    if http_status >= 500:
        raise GatewayServerError.from_detail(
            all_errors[0] if all_errors else None, http_status=http_status, details=tuple(all_errors)
        )

    control_status = (root.findtext("control/status") or "").strip()
    if control_status != "success" or top_errors:
        raise _control_error(top_errors, control_status, http_status)
    if operation is None:
        raise NotXmlResponseError(
            "Intacct returned a response with neither an operation nor an error message",
            http_status=http_status,
        )

    authentication = operation.find("authentication")
    if authentication is None:
        raise NotXmlResponseError(
            "Intacct returned an operation without an authentication block", http_status=http_status
        )
    auth = _authentication(authentication)
    if auth.status != "success":
        raise _authentication_error(operation_errors, auth, http_status)
    if operation_errors:
        raise _classify(operation_errors, http_status=http_status)

    return Response(
        control_id=_text(root.find("control/controlid")),
        authentication=auth,
        results=[_result(element) for element in operation.findall("result")],
    )


def _load(body: bytes, http_status: int, content_type: str | None, retry_after: str | None) -> etree._Element:
    """Parse the body, or raise the error that says what came back instead of Intacct XML: permanent
    for hostile XML (a DOCTYPE) and for a response broken before its end, retryable otherwise."""
    media = f" ({content_type})" if content_type else ""
    what: str | None = None
    root: etree._Element | None = None
    if not body or body.isspace():
        what = "an empty body"
    else:
        first_element, doctype = _prolog(body)
        if doctype is not None and _hostile_doctype(
            doctype.group(1).decode("latin-1"), bool(doctype.group(2))
        ):
            raise _hostile(body[doctype.start() :], media, http_status)
        try:
            root = etree.fromstring(body, _parser())
        except etree.XMLSyntaxError as error:
            cut_short = _cut_short(body, error)
            permanent = error.code in _PARSER_LIMITS or first_element == b"response"
            if permanent and not cut_short and http_status < 500 and http_status != 429:
                reason = " ".join(error.msg.split())
                raise ProtocolError(
                    f"Intacct's endpoint sent XML that cannot be parsed ({reason}; a body of {len(body):,} "
                    f"bytes starting {_snippet(body)}){media}",
                    http_status=http_status,
                ) from None
            looks_xml = body.lstrip().startswith((b"<?xml", b"<response"))
            kind = "a body that is not XML"
            if looks_xml:
                kind = f"truncated XML (cut after {len(body):,} bytes)" if cut_short else "malformed XML"
            what = f"{kind} starting {_snippet(body)}"
        else:
            # What the byte-level look at the prolog cannot read: another encoding, a long prolog.
            dtd = root.getroottree().docinfo.internalDTD
            if dtd is not None and _hostile_doctype(
                dtd.name or "", next(dtd.iterentities(), None) is not None
            ):
                raise _hostile(root.getroottree().docinfo.doctype.encode(), media, http_status)
            if root.tag != "response":
                what = f"XML rooted at <{root.tag}> instead of <response>, starting {_snippet(body)}"
    if what is None and root is not None:
        return root

    problem = f"Intacct returned {what}{media}"
    if http_status == 429:
        raise ThrottledError(problem, retry_after=_retry_after_seconds(retry_after), http_status=http_status)
    if http_status >= 500:
        raise GatewayServerError(problem, http_status=http_status)
    raise NotXmlResponseError(problem, http_status=http_status)


def _prolog(body: bytes) -> tuple[bytes | None, re.Match[bytes] | None]:
    """The name of the body's first element and its DOCTYPE declaration (None when absent)."""
    head = body[:_PROLOG_BYTES]
    first = _FIRST_ELEMENT.search(head)
    prolog = head[: first.start()] if first else head
    return (first.group(1) if first else None), _DOCTYPE.search(prolog)


def _hostile_doctype(name: str, declares: bool) -> bool:
    """Whether a DOCTYPE is refused: all are, but a proxy's HTML page's without declarations."""
    return declares or name.lower() != "html"


def _hostile(doctype: bytes, media: str, http_status: int) -> HostileXmlError:
    return HostileXmlError(f"{HostileXmlError.problem} ({_snippet(doctype)}){media}", http_status=http_status)


def _cut_short(body: bytes, error: etree.XMLSyntaxError) -> bool:
    """Whether parsing failed at the very end of the body (a cut a resend may not repeat), not before.

    libxml2 reports the line and the column in characters; a bare CR counts as a line break too.
    """
    line, column = error.position
    last_break = max(body.rfind(b"\n"), body.rfind(b"\r"))
    if line < body.count(b"\n") + 1:
        return False
    return column >= len(body[last_break + 1 :].decode("utf-8", errors="replace")) - 2


def _snippet(body: bytes) -> str:
    text = body[: _SNIPPET_CHARS * 8].decode("utf-8", errors="replace")
    text = _SECRET_ELEMENTS.sub(lambda m: f"<{m.group(1)}>[redacted]</{m.group(1)}>", text)
    text = " ".join(text.split())
    if len(text) > _SNIPPET_CHARS:
        text = text[:_SNIPPET_CHARS] + "..."
    return repr(text)


def _retry_after_seconds(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _text(element: etree._Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    text = element.text.strip()
    return text or None


def _errors(errormessage: etree._Element | None) -> list[ErrorDetail]:
    if errormessage is None:
        return []
    details = []
    for error in errormessage.findall("error"):
        details.append(
            ErrorDetail(
                errorno=_text(error.find("errorno")),
                description=_redact(_text(error.find("description"))),
                description2=_redact(_text(error.find("description2"))),
                correction=_redact(_text(error.find("correction"))),
            )
        )
    return details


def _redact(text: str | None) -> str | None:
    # Intacct's "Invalid session ..." message can carry the session id.
    if text is None:
        return None
    return _SESSION_ECHO.sub(lambda m: f"{m.group(1)} [session id redacted]", text)


def _first(errors: list[ErrorDetail], predicate: Callable[[ErrorDetail], bool]) -> ErrorDetail | None:
    return next((e for e in errors if predicate(e)), None)


def _any_text(errors: list[ErrorDetail], pattern: re.Pattern[str]) -> ErrorDetail | None:
    return _first(errors, lambda e: bool(pattern.search(e.text) or pattern.search(e.errorno or "")))


def _control_error(errors: list[ErrorDetail], control_status: str, http_status: int) -> IntacctError:
    details = tuple(errors)
    if offline := _any_text(errors, _OFFLINE):
        return ServiceOfflineError.from_detail(offline, http_status=http_status, details=details)
    if sender := _first(errors, lambda e: e.errorno == _BAD_CREDENTIALS):
        return SenderAuthenticationError.from_detail(sender, http_status=http_status, details=details)
    if malformed := _first(errors, lambda e: e.errorno == _MALFORMED):
        return MalformedRequestError.from_detail(malformed, http_status=http_status, details=details)
    if invalid := _first(errors, lambda e: e.errorno == _INVALID_REQUEST):
        return MalformedRequestError.from_detail(
            invalid,
            problem="Intacct's gateway refused the request as invalid",
            advice="check the endpoint URL and the authentication values; other clients see GW-0011 for both",
            http_status=http_status,
            details=details,
        )
    if not errors:
        return NotXmlResponseError(
            f"Intacct returned a response whose control status is {control_status or 'missing'!r} "
            "without an error message",
            http_status=http_status,
        )
    return IntacctError.from_detail(
        errors[0],
        problem="Intacct rejected the request before running it",
        http_status=http_status,
        details=details,
    )


def _authentication(element: etree._Element) -> Authentication:
    return Authentication(
        status=(_text(element.find("status")) or ""),
        user_id=_text(element.find("userid")),
        company_id=_text(element.find("companyid")),
        location_id=_text(element.find("locationid")),
        session_timestamp=_aware(_text(element.find("sessiontimestamp"))),
        session_timeout=_aware(_text(element.find("sessiontimeout"))),
    )


def _aware(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _authentication_error(errors: list[ErrorDetail], auth: Authentication, http_status: int) -> IntacctError:
    details = tuple(errors)
    company_id = auth.company_id
    if offline := _any_text(errors, _OFFLINE):
        return ServiceOfflineError.from_detail(offline, http_status=http_status, details=details)
    if session := _any_text(errors, _INVALID_SESSION):
        return SessionExpiredError.from_detail(session, http_status=http_status, details=details)
    if sender := _any_text(errors, _SENDER_NOT_AUTHORISED):
        return SenderAuthenticationError.from_detail(
            sender, http_status=http_status, company_id=company_id, details=details
        )
    if entity := _any_text(errors, _ENTITY_TEXT):
        return EntityError.from_detail(
            entity, http_status=http_status, company_id=company_id, details=details
        )
    return UserAuthenticationError.from_detail(
        errors[0] if errors else None, http_status=http_status, company_id=company_id, details=details
    )


def _classify(
    errors: list[ErrorDetail],
    *,
    status: str = "failure",
    function: str | None = None,
    control_id: str | None = None,
    http_status: int | None = None,
) -> IntacctError:
    """The typed error for a failed function (or an operation-level error message)."""
    where = {
        "function": function,
        "control_id": control_id,
        "http_status": http_status,
        "details": tuple(errors),
    }
    if offline := _any_text(errors, _OFFLINE):
        return ServiceOfflineError.from_detail(offline, **where)
    if unknown := _any_text(errors, _UNKNOWN_OBJECT):
        match = _UNKNOWN_OBJECT.search(unknown.text) or _UNKNOWN_OBJECT.search(unknown.errorno or "")
        name = match.group(1) if match else None
        problem = f"Intacct does not know object {name}" if name else None
        return UnknownObjectError.from_detail(unknown, problem=problem, **where)
    if denied := _first(errors, lambda e: e.errorno == _PERMISSION) or _any_text(errors, _PERMISSION_TEXT):
        return PermissionDeniedError.from_detail(denied, **where)
    rolled_back = _first(
        errors, lambda e: e.errorno == _ROLLED_BACK and bool(_ROLLED_BACK_TEXT.search(e.text))
    )
    if status == "aborted" or rolled_back is not None:
        return TransactionAbortedError.from_detail(rolled_back or (errors[0] if errors else None), **where)
    if entity := _first(errors, lambda e: e.errorno == _MISSING_ENTITY) or _any_text(
        errors, _MULTI_ENTITY_TEXT
    ):
        return EntityError.from_detail(entity, **where)
    generic = _first(errors, lambda e: e.errorno == _GENERIC_FAILURE)
    return QueryError.from_detail(generic or (errors[0] if errors else None), **where)


def error_for_result(result: Result) -> IntacctError | None:
    """The typed error a failed or aborted result stands for, or ``None`` on success."""
    if result.ok:
        return None
    return _classify(
        result.errors, status=result.status, function=result.function, control_id=result.control_id
    )


def _int_attribute(data: etree._Element | None, name: str) -> int | None:
    if data is None:
        return None
    value = (data.get(name) or "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise NotXmlResponseError(
            f"Intacct returned a <data> attribute {name}={value!r} that is not an integer"
        ) from None


def _result(element: etree._Element) -> Result:
    data = element.find("data")
    listtype = data.get("listtype") if data is not None else None
    if listtype is None:
        listtype = _text(element.find("listtype"))  # 2.1-style functions
    result_id = (data.get("resultId") or "").strip() if data is not None else ""
    return Result(
        function=_text(element.find("function")),
        control_id=_text(element.find("controlid")),
        status=_text(element.find("status")) or "",
        listtype=listtype or None,
        count=_int_attribute(data, "count"),
        totalcount=_int_attribute(data, "totalcount"),
        numremaining=_int_attribute(data, "numremaining"),
        offset=_int_attribute(data, "offset"),
        result_id=result_id or None,
        errors=_errors(element.find("errormessage")),
        data=data,
    )


def _parser() -> etree.XMLParser:
    parser = getattr(_per_thread, "parser", None)
    if parser is None:
        parser = _per_thread.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True
        )
    return parser


# Ends every value in the output of `_value_sheet`: a private-use character no Intacct field holds
# (`Result.values` counts them, so a value that does hold one is read the slow way, never split).
_SEPARATOR = "\ue000"
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def _value_sheet(fields: tuple[str, ...]) -> etree.XSLT:
    """An XSLT that writes, for each record under the node it is applied to, each field's text and a
    separator. Compiled once per thread and field list (lxml's XSLT objects are not shared across threads)."""
    sheets = getattr(_per_thread, "value_sheets", None)
    if sheets is None:
        sheets = _per_thread.value_sheets = {}
    sheet = sheets.get(fields)
    if sheet is None:
        bad = [name for name in fields if not _FIELD_NAME.match(name)]
        if bad:
            raise ValueError(f"not Intacct field names: {', '.join(map(repr, bad))}")
        cells = "".join(
            f'<xsl:value-of select="{name}"/><xsl:text>{_SEPARATOR}</xsl:text>' for name in fields
        )
        sheet = sheets[fields] = etree.XSLT(
            etree.XML(
                '<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">'
                '<xsl:output method="text" encoding="UTF-8"/>'
                f'<xsl:template match="/"><xsl:for-each select="*/*">{cells}</xsl:for-each></xsl:template>'
                "</xsl:stylesheet>"
            )
        )
    return sheet


def _children(element: etree._Element) -> list[etree._Element]:
    # Skips comments, processing instructions and unresolved entity references.
    return [child for child in element if isinstance(child.tag, str)]


def _flatten(record: etree._Element) -> dict[str, str | None]:
    # Fast path for `query` records (flat, one element per field): the common case by far.
    fast: dict[str, str | None] = {}
    for child in record:
        tag = child.tag
        if len(child) or tag in fast or not isinstance(tag, str):
            break
        fast[tag] = child.text or None
    else:
        return fast
    flat: dict[str, str | None] = {}

    def walk(element: etree._Element, prefix: str) -> None:
        children = _children(element)
        repeats = Counter(child.tag for child in children)
        seen: Counter[str] = Counter()
        for child in children:
            key = f"{prefix}{child.tag}"
            if repeats[child.tag] > 1:
                key = f"{key}[{seen[child.tag]}]"
                seen[child.tag] += 1
            if _children(child):
                walk(child, f"{key}.")
            else:
                flat[key] = child.text or None

    walk(record, "")
    return flat


# --- special data shapes -----------------------------------------------------------------------------


def _find_ci(element: etree._Element | None, *names: str) -> etree._Element | None:
    """The first descendant-or-self whose tag matches one of ``names`` case-insensitively."""
    if element is None:
        return None
    wanted = {name.lower() for name in names}
    for candidate in element.iter():
        if isinstance(candidate.tag, str) and candidate.tag.lower() in wanted:
            return candidate
    return None


def _child_text_ci(element: etree._Element, *names: str) -> str | None:
    wanted = {name.lower() for name in names}
    for child in _children(element):
        if child.tag.lower() in wanted:
            return _text(child)
    return None


def api_session(result: Result) -> ApiSession:
    """Session id, endpoint and location id from a ``getAPISession`` result (raises if it failed)."""
    result.raise_for_status()
    api = _find_ci(result.data, "api")
    session_id = _child_text_ci(api, "sessionid") if api is not None else None
    endpoint = _child_text_ci(api, "endpoint") if api is not None else None
    if not session_id or not endpoint:
        raise IntacctError(
            "Intacct's getAPISession result has no session id or endpoint",
            advice="check that the function was sent alone and that the user may create API sessions",
            function=result.function,
            control_id=result.control_id,
        )
    return ApiSession(session_id, endpoint, _child_text_ci(api, "locationid"))


def user_formatting(result: Result) -> UserFormatting:
    """The user's formatting preferences from a ``readUserFormatting`` result (raises if it failed).

    Reads ``<data><userformatting>`` with children ``recordno``, ``locale``, ``dateformat``,
    ``gmtoffset``, ``clock`` (the names in Intacct's documentation), matching tags case-insensitively
    and accepting the children directly under ``<data>``; a ``timezone`` child stands in for a missing
    ``gmtoffset``.
    """
    result.raise_for_status()
    holder = _find_ci(result.data, "userformatting")
    if holder is None and result.data is not None and _child_text_ci(result.data, "gmtoffset", "dateformat"):
        holder = result.data
    if holder is None:
        raise IntacctError(
            "Intacct's readUserFormatting result has no <userformatting>",
            advice="check that the user id or RECORDNO names an existing user",
            function=result.function,
            control_id=result.control_id,
        )
    return UserFormatting(
        record_no=_child_text_ci(holder, "recordno"),
        locale=_child_text_ci(holder, "locale"),
        date_format=_child_text_ci(holder, "dateformat"),
        gmt_offset=_child_text_ci(holder, "gmtoffset") or _child_text_ci(holder, "timezone"),
        clock=_child_text_ci(holder, "clock"),
    )


def _bool_text(text: str | None) -> bool | None:
    if text is None:
        return None
    return {"true": True, "false": False}.get(text.lower())


def object_definition(result: Result) -> ObjectDefinition:
    """Fields and relationships from a ``lookup`` result (raises if it failed)."""
    result.raise_for_status()
    type_element = _find_ci(result.data, "Type")
    if type_element is None:
        raise IntacctError(
            "Intacct's lookup result has no <Type>",
            advice="check the object name",
            function=result.function,
            control_id=result.control_id,
        )
    fields = []
    for element in type_element.iterfind("Fields/Field"):
        valid_values = element.find("VALIDVALUES")
        fields.append(
            ObjectField(
                id=_text(element.find("ID")) or "",
                label=_text(element.find("LABEL")),
                datatype=_text(element.find("DATATYPE")),
                required=_bool_text(_text(element.find("REQUIRED"))),
                readonly=_bool_text(_text(element.find("READONLY"))),
                is_custom=_bool_text(_text(element.find("ISCUSTOM"))),
                valid_values=tuple(
                    v.text or "" for v in (_children(valid_values) if valid_values is not None else [])
                ),
            )
        )
    relationships = [
        ObjectRelationship(
            object_path=_text(element.find("OBJECTPATH")),
            object_name=_text(element.find("OBJECTNAME")),
            relationship_type=_text(element.find("RELATIONSHIPTYPE")),
            related_by=_text(element.find("RELATEDBY")),
        )
        for element in type_element.iterfind("Relationships/Relationship")
    ]
    return ObjectDefinition(name=type_element.get("Name"), fields=fields, relationships=relationships)
