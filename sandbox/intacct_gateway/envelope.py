"""Reading a request envelope: `<request><control/><operation>...</operation></request>`.

XML is parsed with entity resolution and network access off. Structure is checked the way the 3.0
schema (api.xsd) checks it, so a malformed request gets the control failure XL03000003 that Intacct
sends, in libxml2's wording, before anything runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from .errors import IntacctError, SchemaError

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
CONTROL_SEQUENCE = (
    ("appid", 0, 1),
    ("senderid", 1, 1),
    ("password", 0, 1),
    ("controlid", 1, 1),
    ("uniqueid", 0, 1),
    ("dtdversion", 0, 1),
    ("policyid", 0, 1),
    ("debug", 0, 1),
    ("includewhitespace", 0, 1),
    ("showadditionalerrorinfo", 0, 1),
)
# The login children are an XSD sequence: clients that send them in another order are refused.
LOGIN_SEQUENCE = (
    ("userid", 1, 1),
    ("companyid", 1, 1),
    ("password", 1, 1),
    ("clientid", 0, 1),
    ("locationid", 0, 1),
)
OPERATION_SEQUENCE = (("authentication", 1, 1), ("preferences", 0, 1), ("content", 0, None))
CONTROLID_MAX = 256


@dataclass(frozen=True)
class ControlEcho:
    """What every answer's `<control>` repeats from the request."""

    senderid: str = ""
    controlid: str = ""
    uniqueid: str = "false"
    dtdversion: str = "3.0"


@dataclass(frozen=True)
class Control:
    senderid: str
    password: str
    controlid: str
    uniqueid: bool
    dtdversion: str
    echo: ControlEcho


@dataclass(frozen=True)
class Login:
    userid: str
    companyid: str
    password: str
    clientid: str | None
    locationid: str | None  # None: element absent; "": top level


@dataclass(frozen=True)
class Authentication:
    login: Login | None = None
    sessionid: str | None = None
    kind: str = "login"


@dataclass
class FunctionCall:
    controlid: str
    name: str
    element: etree._Element
    args: object = None  # set by the function's parser


@dataclass
class Operation:
    authentication: Authentication
    transaction: bool
    functions: list[FunctionCall] = field(default_factory=list)


@dataclass
class GatewayRequest:
    control: Control
    operations: list[Operation]


class RequestRejected(Exception):
    """A control failure: the request was not run at all."""

    def __init__(self, echo: ControlEcho, error: IntacctError):
        super().__init__(str(error))
        self.echo = echo
        self.error = error


def parse_request(body: bytes) -> GatewayRequest:
    """The request's control block and operations, or RequestRejected with the control failure."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        last = exc.error_log.last_error
        message = f"Fatal Error {exc.code}: {last.message if last else exc.msg}."
        line, column = exc.position
        raise RequestRejected(ControlEcho(), SchemaError(message, line or 1, column)) from exc
    echo = _echo(root)
    try:
        if root.tag != "request":
            raise SchemaError(
                f"Element '{root.tag}': No matching global declaration available for the validation root."
            )
        parts = check_sequence(root, (("control", 1, 1), ("operation", 1, None)))
        control = _control(parts["control"][0], echo)
        operations = [_operation(element) for element in parts["operation"]]
    except IntacctError as error:
        raise RequestRejected(echo, error) from error
    return GatewayRequest(control, operations)


def children(element: etree._Element) -> list[etree._Element]:
    """Element children, ignoring comments and processing instructions."""
    return [child for child in element if isinstance(child.tag, str)]


def text_of(element: etree._Element | None) -> str:
    return "" if element is None else (element.text or "").strip()


def check_sequence(
    parent: etree._Element, spec: tuple[tuple[str, int, int | None], ...]
) -> dict[str, list[etree._Element]]:
    """Children of `parent` checked against an XSD sequence of (name, minOccurs, maxOccurs)."""
    found: dict[str, list[etree._Element]] = {name: [] for name, _, _ in spec}
    position = 0
    for child in children(parent):
        while position < len(spec) and spec[position][0] != child.tag:
            name, low, _ = spec[position]
            if len(found[name]) < low:
                raise _unexpected(child, _expected(spec[position:]))
            position += 1
        if position == len(spec):
            raise _unexpected(child, "")
        name, _, high = spec[position]
        if high is not None and len(found[name]) >= high:
            raise _unexpected(child, _expected(spec[position + 1 :]))
        found[name].append(child)
    missing = [name for name, low, _ in spec if len(found[name]) < low]
    if missing:
        raise _missing(parent, missing)
    return found


def check_all(
    parent: etree._Element, spec: dict[str, tuple[int, int | None]]
) -> dict[str, list[etree._Element]]:
    """Children of `parent` checked against an XSD `all` group: any order, each within its bounds."""
    found: dict[str, list[etree._Element]] = {name: [] for name in spec}
    for child in children(parent):
        if child.tag not in spec:
            raise _unexpected(child, "")
        high = spec[child.tag][1]
        if high is not None and len(found[child.tag]) >= high:
            raise _unexpected(child, "")
        found[child.tag].append(child)
    missing = [name for name, (low, _) in spec.items() if len(found[name]) < low]
    if missing:
        raise _missing(parent, missing)
    return found


def check_choice(parent: etree._Element, names: tuple[str, ...]) -> etree._Element:
    """The single child of an XSD choice."""
    kids = children(parent)
    if not kids:
        raise _missing(parent, list(names))
    if kids[0].tag not in names:
        raise _unexpected(kids[0], _expected(tuple((n, 1, 1) for n in names)))
    if len(kids) > 1:
        raise _unexpected(kids[1], "")
    return kids[0]


def parse_boolean(element: etree._Element | None, default: bool) -> bool:
    """An xs:boolean element's value (true/false/1/0); `default` when absent or empty."""
    value = text_of(element)
    if value == "":
        return default
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise SchemaError(
        f"Element '{element.tag}': '{value}' is not a valid value of the atomic type 'xs:boolean'.",
        element.sourceline,
    )


def _echo(root: etree._Element) -> ControlEcho:
    control = root.find("control")
    if control is None:
        return ControlEcho()
    return ControlEcho(
        senderid=text_of(control.find("senderid")),
        controlid=text_of(control.find("controlid")),
        uniqueid=text_of(control.find("uniqueid")) or "false",
        dtdversion=text_of(control.find("dtdversion")) or "3.0",
    )


def _control(element: etree._Element, echo: ControlEcho) -> Control:
    parts = check_sequence(element, CONTROL_SEQUENCE)

    def value(name: str) -> str:
        return text_of(parts[name][0]) if parts[name] else ""

    if not 1 <= len(value("controlid")) <= CONTROLID_MAX:
        raise SchemaError(
            f"Element 'controlid': [facet 'maxLength'] The value has a length not in 1..{CONTROLID_MAX}.",
            parts["controlid"][0].sourceline,
        )
    dtdversion = value("dtdversion") or "3.0"
    if dtdversion != "3.0":
        raise SchemaError(
            f"Element 'dtdversion': dtdversion {dtdversion} is not served by this gateway (use 3.0)."
        )
    uniqueid = parse_boolean(parts["uniqueid"][0] if parts["uniqueid"] else None, default=False)
    return Control(value("senderid"), value("password"), value("controlid"), uniqueid, dtdversion, echo)


def _operation(element: etree._Element) -> Operation:
    transaction = element.get("transaction", "false")
    if transaction not in ("true", "false", "1", "0"):
        raise SchemaError(
            f"Element 'operation', attribute 'transaction': '{transaction}' is not a valid value of the atomic "
            "type 'xs:boolean'.",
            element.sourceline,
        )
    parts = check_sequence(element, OPERATION_SEQUENCE)
    operation = Operation(_authentication(parts["authentication"][0]), transaction in ("true", "1"))
    for content in parts["content"]:
        for function in check_sequence(content, (("function", 1, None),))["function"]:
            operation.functions.append(_function(function))
    return operation


def _authentication(element: etree._Element) -> Authentication:
    chosen = check_choice(element, ("login", "sessionid", "oauth"))
    if chosen.tag == "sessionid":
        return Authentication(sessionid=text_of(chosen), kind="sessionid")
    if chosen.tag == "oauth":
        return Authentication(kind="oauth")
    parts = check_sequence(chosen, LOGIN_SEQUENCE)

    def optional(name: str) -> str | None:
        return text_of(parts[name][0]) if parts[name] else None

    login = Login(
        userid=text_of(parts["userid"][0]),
        companyid=text_of(parts["companyid"][0]),
        password=(parts["password"][0].text or ""),
        clientid=optional("clientid"),
        locationid=optional("locationid"),
    )
    return Authentication(login=login)


def _function(element: etree._Element) -> FunctionCall:
    controlid = element.get("controlid")
    if controlid is None:
        raise SchemaError(
            "Element 'function': The attribute 'controlid' is required but missing.", element.sourceline
        )
    if len(controlid) > CONTROLID_MAX:
        raise SchemaError(
            f"Element 'function', attribute 'controlid': [facet 'maxLength'] The value has a length of "
            f"'{len(controlid)}'; this exceeds the allowed maximum length of '{CONTROLID_MAX}'.",
            element.sourceline,
        )
    kids = children(element)
    if len(kids) != 1:
        if not kids:
            raise _missing(element, ["a function"])
        raise _unexpected(kids[1], "")
    return FunctionCall(controlid, kids[0].tag, kids[0])


def _expected(spec: tuple[tuple[str, int, int | None], ...]) -> str:
    return ", ".join(name for name, _, _ in spec)


def _unexpected(child: etree._Element, expected: str) -> SchemaError:
    tail = f" Expected is ( {expected} )." if expected else ""
    return SchemaError(f"Element '{child.tag}': This element is not expected.{tail}", child.sourceline)


def _missing(parent: etree._Element, names: list[str]) -> SchemaError:
    return SchemaError(
        f"Element '{parent.tag}': Missing child element(s). Expected is ( {', '.join(names)} ).",
        parent.sourceline,
    )
