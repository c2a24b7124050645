"""Request builders for the Intacct XML gateway (dtdversion 3.0).

Small pure functions: each function builder returns the lxml element that goes inside one
``<function controlid="...">``, and ``build_request`` wraps function elements in the control and
operation envelope and serialises it. Values only ever reach the XML as element text or attribute
values set through lxml, which escapes them; nothing is formatted into XML by hand. Element order
follows the 3.0 schema wherever it is a sequence (``control``, ``login``, ``options``, filter operators).

Credentials and session ids are held by value objects whose ``repr()`` hides them.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeAlias

from lxml import etree

__all__ = [
    "DTD_VERSION",
    "IN_MAX_VALUES",
    "QUERY_MAX_PAGESIZE",
    "READ_BY_QUERY_MAX_PAGESIZE",
    "Condition",
    "Filter",
    "FilterValue",
    "Junction",
    "LoginCredentials",
    "SenderCredentials",
    "SessionAuth",
    "and_",
    "between",
    "build_request",
    "equal_to",
    "get_api_session",
    "greater_than",
    "greater_than_or_equal_to",
    "in_",
    "is_not_null",
    "is_null",
    "less_than",
    "less_than_or_equal_to",
    "like",
    "lookup",
    "not_equal_to",
    "not_in",
    "not_like",
    "or_",
    "query",
    "quote_literal",
    "read",
    "read_by_name",
    "read_by_query",
    "read_more",
    "read_user_formatting",
    "render_value",
]

DTD_VERSION = "3.0"
QUERY_MAX_PAGESIZE = 2000  # query: 1..2000 (XSD)
READ_BY_QUERY_MAX_PAGESIZE = 1000  # readByQuery: 1..1000 (documented; the SDKs enforce it)
IN_MAX_VALUES = 1000  # in / notin: 1..1000 values (XSD)
_CONTROL_ID_MAX = 256  # controlid: maxLength 256 (XSD)
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'
_TIMESTAMP_FORMAT = "%m/%d/%Y %H:%M:%S"
_DATE_FORMAT = "%m/%d/%Y"
# Characters XML 1.0 cannot carry at all (escaping does not help): control characters, surrogates.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

Element: TypeAlias = etree._Element
FilterValue: TypeAlias = str | int | bool | Decimal | dt.date | dt.datetime


# --- credentials -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SenderCredentials:
    """The Web Services sender id and password, sent in ``<control>`` of every request."""

    sender_id: str
    sender_password: str = field(repr=False)

    def __post_init__(self) -> None:
        _require_text(self.sender_id, "sender_id")
        _require_text(self.sender_password, "sender_password", secret=True)

    def __repr__(self) -> str:
        return f"SenderCredentials(sender_id={self.sender_id!r}, sender_password=<hidden>)"


@dataclass(frozen=True)
class LoginCredentials:
    """A company user's login; ``entity_id`` becomes ``<locationid>``, ``client_id`` ``<clientid>``."""

    user_id: str
    company_id: str
    password: str = field(repr=False)
    entity_id: str | None = None
    client_id: str | None = None

    def __post_init__(self) -> None:
        _require_text(self.user_id, "user_id")
        _require_text(self.company_id, "company_id")
        _require_text(self.password, "password", secret=True)
        if self.entity_id is not None:
            _require_text(self.entity_id, "entity_id")
        if self.client_id is not None:
            _require_text(self.client_id, "client_id")

    def __repr__(self) -> str:
        return (
            f"LoginCredentials(user_id={self.user_id!r}, company_id={self.company_id!r}, "
            f"password=<hidden>, entity_id={self.entity_id!r}, client_id={self.client_id!r})"
        )


@dataclass(frozen=True)
class SessionAuth:
    """An API session id from ``getAPISession``; requests using it go to the session's endpoint."""

    session_id: str = field(repr=False)

    def __post_init__(self) -> None:
        _require_text(self.session_id, "session_id", secret=True)

    def __repr__(self) -> str:
        return "SessionAuth(session_id=<hidden>)"


# --- values ------------------------------------------------------------------------------------------


def _require_text(value: object, what: str, *, secret: bool = False) -> str:
    """Return ``value`` if it is a non-empty string XML can carry, else raise naming ``what``."""
    shown = "<hidden>" if secret else repr(value)
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__} {shown}")
    if not value:
        raise ValueError(f"{what} must not be empty")
    _check_xml_chars(value, what, secret=secret)
    return value


def _check_xml_chars(value: str, what: str, *, secret: bool = False) -> None:
    bad = _NOT_XML_CHAR.search(value)
    if bad:
        shown = "" if secret else f" {value!r}"
        raise ValueError(
            f"{what}{shown} contains {bad.group()!r} at position {bad.start()}, which XML cannot carry"
        )


def render_value(value: FilterValue) -> str:
    """Render a filter value the way Intacct's ``query`` expects it.

    Strings as given, ints as digits, bools ``true``/``false``, Decimals in fixed-point notation,
    naive datetimes ``MM/DD/YYYY HH:MM:SS`` and dates ``MM/DD/YYYY``. Intacct timestamps are in the
    API user's time zone, so an aware datetime is refused: convert it to that zone and drop tzinfo first.
    """
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, str):
        _check_xml_chars(value, "filter value")
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"filter value {value!r} is not a finite number")
        return format(value, "f")
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            raise ValueError(
                f"filter value {value.isoformat()} is time-zone aware; Intacct compares timestamps in the "
                "API user's time zone: convert to that zone and pass a naive datetime"
            )
        return value.strftime(_TIMESTAMP_FORMAT)
    if isinstance(value, dt.date):
        return value.strftime(_DATE_FORMAT)
    raise TypeError(
        f"filter value {value!r} has type {type(value).__name__}; "
        "use str, int, bool, Decimal, date or datetime"
    )


def quote_literal(value: str | int | bool | dt.date | dt.datetime) -> str:
    """Quote a literal for the legacy ``readByQuery`` query language.

    Strings are wrapped in single quotes with ``\\`` and ``'`` escaped by a backslash (Intacct's rule
    for quotes: ``'Jane\\'s Deli'``; escaping the backslash too means a trailing ``\\`` cannot end the
    literal early). Ints are bare digits, bools ``'T'``/``'F'``, dates and naive datetimes in Intacct's
    ``MM/DD/YYYY[ HH:MM:SS]`` form. XML escaping of ``<``/``&`` is left to the serialiser.
    """
    if isinstance(value, bool):
        return "'T'" if value else "'F'"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return f"'{render_value(value)}'"
    if isinstance(value, str):
        _check_xml_chars(value, "readByQuery literal")
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        return f"'{escaped}'"
    raise TypeError(
        f"readByQuery literal {value!r} has type {type(value).__name__}; use str, int, bool or date"
    )


# --- query filters -----------------------------------------------------------------------------------


class Filter:
    """A node of a ``query`` filter; build them with the operator functions below."""

    __slots__ = ()

    def to_element(self) -> Element:
        raise NotImplementedError


_COMPARISONS = frozenset(
    {
        "equalto",
        "notequalto",
        "lessthan",
        "lessthanorequalto",
        "greaterthan",
        "greaterthanorequalto",
        "between",
        "in",
        "notin",
        "like",
        "notlike",
        "isnull",
        "isnotnull",
    }
)


@dataclass(frozen=True)
class Condition(Filter):
    """One comparison: ``<operator><field/><value/>*</operator>``, values already rendered."""

    operator: str
    field: str
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.operator not in _COMPARISONS:
            raise ValueError(f"{self.operator!r} is not a query filter operator of the 3.0 schema")

    def to_element(self) -> Element:
        element = etree.Element(self.operator)
        _sub(element, "field", self.field)
        for value in self.values:
            _sub(element, "value", value)
        return element


@dataclass(frozen=True)
class Junction(Filter):
    """``and`` / ``or`` over two or more filters."""

    operator: str
    filters: tuple[Filter, ...]

    def __post_init__(self) -> None:
        if self.operator not in ("and", "or"):
            raise ValueError(f"{self.operator!r} is not a query filter junction (and, or)")
        if len(self.filters) < 2:
            raise ValueError(f"{self.operator} needs two or more filters, got {len(self.filters)}")

    def to_element(self) -> Element:
        element = etree.Element(self.operator)
        for child in self.filters:
            element.append(child.to_element())
        return element


def _condition(operator: str, field_name: str, values: Iterable[FilterValue] = ()) -> Condition:
    _require_text(field_name, f"{operator} field")
    return Condition(operator, field_name, tuple(render_value(v) for v in values))


def equal_to(field_name: str, value: FilterValue) -> Condition:
    return _condition("equalto", field_name, [value])


def not_equal_to(field_name: str, value: FilterValue) -> Condition:
    return _condition("notequalto", field_name, [value])


def less_than(field_name: str, value: FilterValue) -> Condition:
    return _condition("lessthan", field_name, [value])


def less_than_or_equal_to(field_name: str, value: FilterValue) -> Condition:
    return _condition("lessthanorequalto", field_name, [value])


def greater_than(field_name: str, value: FilterValue) -> Condition:
    return _condition("greaterthan", field_name, [value])


def greater_than_or_equal_to(field_name: str, value: FilterValue) -> Condition:
    return _condition("greaterthanorequalto", field_name, [value])


def between(field_name: str, low: FilterValue, high: FilterValue) -> Condition:
    """Inclusive range; Intacct wants the lower bound first."""
    return _condition("between", field_name, [low, high])


def _membership(operator: str, field_name: str, values: Iterable[FilterValue]) -> Condition:
    if isinstance(values, str | bytes):
        raise TypeError(f"{operator} on {field_name} takes a collection of values, not the string {values!r}")
    listed = list(values)
    if not listed:
        raise ValueError(f"{operator} on {field_name} needs at least one value")
    if len(listed) > IN_MAX_VALUES:
        raise ValueError(
            f"{operator} on {field_name} got {len(listed)} values; Intacct accepts at most {IN_MAX_VALUES}: "
            "split the ids into several queries"
        )
    return _condition(operator, field_name, listed)


def in_(field_name: str, values: Iterable[FilterValue]) -> Condition:
    """``field`` is one of ``values`` (1..1000 of them)."""
    return _membership("in", field_name, values)


def not_in(field_name: str, values: Iterable[FilterValue]) -> Condition:
    """``field`` is none of ``values`` (1..1000 of them)."""
    return _membership("notin", field_name, values)


def like(field_name: str, pattern: str) -> Condition:
    """SQL-style pattern: ``%`` any run of characters, ``_`` one character."""
    return _condition("like", field_name, [pattern])


def not_like(field_name: str, pattern: str) -> Condition:
    return _condition("notlike", field_name, [pattern])


def is_null(field_name: str) -> Condition:
    return _condition("isnull", field_name)


def is_not_null(field_name: str) -> Condition:
    return _condition("isnotnull", field_name)


def _junction(operator: str, filters: tuple[Filter, ...]) -> Filter:
    if not filters:
        raise ValueError(f"{operator}_ needs at least one filter")
    for child in filters:
        if not isinstance(child, Filter):
            raise TypeError(f"{operator}_ takes filters, got {type(child).__name__} {child!r}")
    if len(filters) == 1:  # the schema wants two or more children; one is just itself
        return filters[0]
    return Junction(operator, filters)


def and_(*filters: Filter) -> Filter:
    """All of ``filters``; a single filter is returned as is."""
    return _junction("and", filters)


def or_(*filters: Filter) -> Filter:
    """Any of ``filters``; a single filter is returned as is."""
    return _junction("or", filters)


# --- function builders -----------------------------------------------------------------------------


def _sub(parent: Element, tag: str, text: str | None = None) -> Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _check_page_size(pagesize: object, maximum: int) -> int:
    if isinstance(pagesize, bool) or not isinstance(pagesize, int) or not 1 <= pagesize <= maximum:
        raise ValueError(f"pagesize must be an integer from 1 to {maximum}, got {pagesize!r}")
    return pagesize


def _fields_text(fields: str | Sequence[str]) -> str:
    names = [fields] if isinstance(fields, str) else list(fields)
    if not names:
        raise ValueError("fields must name at least one field, or be '*'")
    for name in names:
        _require_text(name, "field name")
    return ",".join(names)


def _keys_text(keys: Sequence[str | int], what: str) -> str:
    if isinstance(keys, str | bytes):
        raise TypeError(f"{what} takes a collection of keys, not the string {keys!r}")
    texts = []
    for key in keys:
        if isinstance(key, bool) or not isinstance(key, int | str):
            raise TypeError(f"{what} key {key!r} must be a string or an int")
        text = str(key)
        _require_text(text, f"{what} key")
        if "," in text:
            raise ValueError(f"{what} key {text!r} contains a comma, which Intacct reads as a key separator")
        texts.append(text)
    if not texts:
        raise ValueError(f"{what} needs at least one key")
    return ",".join(texts)


def get_api_session(location_id: str | None = None, *, top_level: bool = False) -> Element:
    """``getAPISession``: a session for the login's entity, for ``location_id``, or (``top_level``) for
    the top level of a multi-entity company. Send it alone in its request."""
    element = etree.Element("getAPISession")
    if location_id is not None and top_level:
        raise ValueError(f"get_api_session: pass location_id ({location_id!r}) or top_level=True, not both")
    if location_id is not None:
        _sub(element, "locationid", _require_text(location_id, "location_id"))
    elif top_level:
        _sub(element, "locationid")
    return element


def read_user_formatting(user_id: str | None = None, *, key: int | str | None = None) -> Element:
    """``readUserFormatting``: the user's locale, date format, GMT offset and clock.

    Name the user by login id (``user_id``, sent as ``<userId>``) or by USERINFO RECORDNO (``key``);
    Intacct requires exactly one of them.
    """
    if (user_id is None) == (key is None):
        raise ValueError(
            "read_user_formatting needs exactly one of user_id (the login id) or key (the user's RECORDNO), "
            f"got user_id={user_id!r}, key={key!r}"
        )
    element = etree.Element("readUserFormatting")
    if key is not None:
        if isinstance(key, bool) or not isinstance(key, int | str):
            raise TypeError(f"read_user_formatting key {key!r} must be a RECORDNO (int or str)")
        _sub(element, "key", _require_text(str(key), "key"))
    else:
        _sub(element, "userId", _require_text(user_id, "user_id"))
    return element


def _add_orderby(parent: Element, orderby: Sequence[tuple[str, bool]]) -> None:
    orderby_element = _sub(parent, "orderby")
    for item in orderby:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], bool)):
            raise TypeError(f"orderby items are (field, descending) pairs, got {item!r}")
        name, descending = item
        order = _sub(orderby_element, "order")
        _sub(order, "field", _require_text(name, "orderby field"))
        _sub(order, "descending" if descending else "ascending")


def query(
    object: str,
    select: Sequence[str],
    *,
    filter: Filter | None = None,
    orderby: Sequence[tuple[str, bool]] = (),
    pagesize: int = QUERY_MAX_PAGESIZE,
    offset: int | None = None,
    case_insensitive: bool = False,
    show_private: bool = False,
) -> Element:
    """``query``: ``select`` fields of ``object`` matching ``filter``.

    ``orderby`` is a sequence of ``(field, descending)`` pairs, e.g. ``[("RECORDNO", False)]`` for
    ascending RECORDNO; without it Intacct's order is undefined. ``pagesize`` is 1..2000 and ``offset``
    >= 0 (omitted when None). ``show_private`` lets a top-level session see entity-private records.
    """
    _require_text(object, "object")
    if isinstance(select, str | bytes):
        raise TypeError(f"select takes a sequence of field names, not the string {select!r}")
    if not select:
        raise ValueError(f"select must name at least one field of {object} (Intacct has no '*' for query)")
    if filter is not None and not isinstance(filter, Filter):
        raise TypeError(f"filter must be built with the filter functions, got {type(filter).__name__}")
    _check_page_size(pagesize, QUERY_MAX_PAGESIZE)
    if offset is not None and (isinstance(offset, bool) or not isinstance(offset, int) or offset < 0):
        raise ValueError(f"offset must be an integer >= 0, got {offset!r}")

    element = etree.Element("query")
    _sub(element, "object", object)
    select_element = _sub(element, "select")
    for name in select:
        _sub(select_element, "field", _require_text(name, "select field"))
    if filter is not None:
        _sub(element, "filter").append(filter.to_element())
    if orderby:
        _add_orderby(element, orderby)
    if case_insensitive or show_private:
        options = _sub(element, "options")  # schema sequence: caseinsensitive, showprivate
        if case_insensitive:
            _sub(options, "caseinsensitive", "true")
        if show_private:
            _sub(options, "showprivate", "true")
    _sub(element, "pagesize", str(pagesize))
    if offset is not None:
        _sub(element, "offset", str(offset))
    return element


def read_by_query(
    object: str,
    query: str,
    fields: str | Sequence[str] = "*",
    pagesize: int = READ_BY_QUERY_MAX_PAGESIZE,
) -> Element:
    """``readByQuery`` (legacy): ``query`` is Intacct's query string, quote literals with ``quote_literal``;
    an empty string matches everything. Continue with ``read_more(result_id)``."""
    _require_text(object, "object")
    if not isinstance(query, str):
        raise TypeError(f"query must be a string, got {type(query).__name__} {query!r}")
    _check_xml_chars(query, "query")
    _check_page_size(pagesize, READ_BY_QUERY_MAX_PAGESIZE)
    element = etree.Element("readByQuery")
    _sub(element, "object", object)
    _sub(element, "fields", _fields_text(fields))
    _sub(element, "query", query)
    _sub(element, "pagesize", str(pagesize))
    return element


def read_more(result_id: str) -> Element:
    """``readMore``: the next page of a ``readByQuery``, by the ``resultId`` of its previous page."""
    element = etree.Element("readMore")
    _sub(element, "resultId", _require_text(result_id, "result_id"))
    return element


def read(object: str, keys: Sequence[str | int], fields: str | Sequence[str] = "*") -> Element:
    """``read``: records of ``object`` by RECORDNO."""
    _require_text(object, "object")
    element = etree.Element("read")
    _sub(element, "object", object)
    _sub(element, "keys", _keys_text(keys, "read"))
    _sub(element, "fields", _fields_text(fields))
    return element


def read_by_name(object: str, names: Sequence[str], fields: str | Sequence[str] = "*") -> Element:
    """``readByName``: records of ``object`` by their name key (CUSTOMERID, DEPARTMENTID, LOGINID, ...)."""
    _require_text(object, "object")
    element = etree.Element("readByName")
    _sub(element, "object", object)
    _sub(element, "keys", _keys_text(names, "read_by_name"))
    _sub(element, "fields", _fields_text(fields))
    return element


def lookup(object: str) -> Element:
    """``lookup``: the object's fields, data types and relationships."""
    element = etree.Element("lookup")
    _sub(element, "object", _require_text(object, "object"))
    return element


# --- the envelope ------------------------------------------------------------------------------------


def _check_control_id(control_id: object, what: str) -> str:
    text = _require_text(control_id, what)
    if len(text) > _CONTROL_ID_MAX:
        raise ValueError(
            f"{what} {text[:40]!r}... is {len(text)} characters; the maximum is {_CONTROL_ID_MAX}"
        )
    return text


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


def build_request(
    sender: SenderCredentials,
    auth: LoginCredentials | SessionAuth,
    functions: Sequence[tuple[str, Element]],
    *,
    control_id: str,
    unique_id: bool = False,
    transaction: bool = False,
) -> bytes:
    """Serialise a complete request: control block, authentication and one ``<function>`` per
    ``(controlid, function element)`` pair, in order.

    Function control ids must be unique within the request (results are matched back by them).
    ``unique_id=True`` asks Intacct to refuse a function control id it has already run (for writes);
    ``transaction=True`` runs all functions as one transaction. The function elements are copied, so
    the same element can be sent more than once.
    """
    if not isinstance(sender, SenderCredentials):
        raise TypeError(f"sender must be SenderCredentials, got {type(sender).__name__}")
    if not isinstance(auth, LoginCredentials | SessionAuth):
        raise TypeError(f"auth must be LoginCredentials or SessionAuth, got {type(auth).__name__}")
    _check_control_id(control_id, "control_id")
    if not functions:
        raise ValueError("a request needs at least one function")

    request = etree.Element("request")
    control = _sub(request, "control")  # schema sequence
    _sub(control, "senderid", sender.sender_id)
    _sub(control, "password", sender.sender_password)
    _sub(control, "controlid", control_id)
    _sub(control, "uniqueid", _bool_text(unique_id))
    _sub(control, "dtdversion", DTD_VERSION)
    _sub(control, "includewhitespace", "false")

    operation = _sub(request, "operation")
    operation.set("transaction", _bool_text(transaction))
    authentication = _sub(operation, "authentication")
    if isinstance(auth, SessionAuth):
        _sub(authentication, "sessionid", auth.session_id)
    else:
        login = _sub(authentication, "login")  # schema sequence: the order matters
        _sub(login, "userid", auth.user_id)
        _sub(login, "companyid", auth.company_id)
        _sub(login, "password", auth.password)
        if auth.client_id is not None:
            _sub(login, "clientid", auth.client_id)
        if auth.entity_id is not None:
            _sub(login, "locationid", auth.entity_id)

    content = _sub(operation, "content")
    seen: set[str] = set()
    for item in functions:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise TypeError(f"functions are (controlid, element) pairs, got {item!r}")
        function_control_id, body = item
        _check_control_id(function_control_id, "function controlid")
        if function_control_id in seen:
            raise ValueError(f"function controlid {function_control_id!r} is used twice in one request")
        seen.add(function_control_id)
        if not etree.iselement(body):
            raise TypeError(
                f"function {function_control_id!r} must be an lxml element, got {type(body).__name__}"
            )
        function = _sub(content, "function")
        function.set("controlid", function_control_id)
        function.append(copy.deepcopy(body))

    return _XML_DECLARATION + etree.tostring(request, encoding="UTF-8", xml_declaration=False)
