"""Record filters: `query`'s `<filter>` tree, readByQuery's query string, and their compiled predicates.

Both forms parse into the same tree of conditions and and/or junctions. Comparisons follow SQL: a NULL
(empty) value matches no comparison, only `isnull`; NOT is pushed down to the conditions, so three-valued
logic is never needed. Conditions on the integer key (RECORDNO > n...) become a key range the store
answers with bisect instead of a scan.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from lxml import etree

from .datatypes import typed_value
from .envelope import check_choice, check_sequence, children
from .errors import IntacctError, SchemaError, processing_error
from .objects import DataType
from .store import FieldAccess, Row

COMPARISONS = (
    "equalto", "notequalto", "lessthan", "lessthanorequalto", "greaterthan", "greaterthanorequalto", "like", "notlike"
)  # fmt: skip
OPERATORS = (*COMPARISONS, "between", "in", "notin", "isnull", "isnotnull")
JUNCTIONS = ("and", "or")
MAX_IN_VALUES = 1000
_NEGATION = {
    "equalto": "notequalto",
    "notequalto": "equalto",
    "lessthan": "greaterthanorequalto",
    "lessthanorequalto": "greaterthan",
    "greaterthan": "lessthanorequalto",
    "greaterthanorequalto": "lessthan",
    "in": "notin",
    "notin": "in",
    "like": "notlike",
    "notlike": "like",
    "isnull": "isnotnull",
    "isnotnull": "isnull",
}


@dataclass(frozen=True)
class Condition:
    op: str
    field: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class Junction:
    op: str  # "and" | "or"
    operands: tuple[Condition | Junction, ...]


Node = Condition | Junction


@dataclass(frozen=True)
class KeyRange:
    """Bounds on the integer key, read off the filter's top-level conditions."""

    low: int | None = None
    low_inclusive: bool = True
    high: int | None = None
    high_inclusive: bool = True


# ---- the <filter> element -------------------------------------------------------------------------------


def parse_filter(filter_element: etree._Element) -> Node:
    """The tree of a `<filter>`; SchemaError where the XSD would refuse it."""
    return _filter_node(check_choice(filter_element, (*OPERATORS, *JUNCTIONS)))


def _filter_node(element: etree._Element) -> Node:
    tag = element.tag
    if tag in JUNCTIONS:
        operands = children(element)
        if len(operands) < 2:
            raise SchemaError(
                f"Element '{tag}': Missing child element(s). Expected is at least two conditions.",
                element.sourceline,
            )
        return Junction(tag, tuple(_filter_node(child) for child in operands))
    if tag not in OPERATORS:
        raise SchemaError(f"Element '{tag}': This element is not expected.", element.sourceline)
    bounds = {"between": (2, 2), "in": (1, MAX_IN_VALUES), "notin": (1, MAX_IN_VALUES)}
    low, high = bounds.get(tag, (0, 0) if tag in ("isnull", "isnotnull") else (1, 1))
    spec = (("field", 1, 1), ("value", low, high)) if high else (("field", 1, 1),)
    parts = check_sequence(element, spec)
    values = tuple(value.text or "" for value in parts.get("value", []))
    return Condition(tag, (parts["field"][0].text or "").strip().upper(), values)


# ---- readByQuery's query string -------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^'\\]|\\.)*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><>|!=|<=|>=|=|<|>)
      | (?P<punct>[(),])
      | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
    )""",
    re.VERBOSE,
)
_LEGACY_OPS = {
    "=": "equalto",
    "!=": "notequalto",
    "<>": "notequalto",
    "<": "lessthan",
    "<=": "lessthanorequalto",
    ">": "greaterthan",
    ">=": "greaterthanorequalto",
}


def parse_legacy_query(text: str) -> Node | None:
    """The tree of a readByQuery `<query>` string (None when empty); DL02000001 when it does not parse."""
    if not text.strip():
        return None
    parser = _LegacyParser(list(_tokens(text)))
    node = parser.expression()
    if parser.peek() is not None:
        raise _query_error(f"unexpected {parser.peek()[1]!r}")
    return node


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            return
        match = _TOKEN.match(text, position)
        if match is None:
            raise _query_error(f"cannot read {text[position:].strip()[:20]!r}")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "op":
            # Intacct requires spaces around comparison operators.
            before, after = match.start(kind) - 1, match.end(kind)
            if before < 0 or not text[before].isspace() or after >= len(text) or not text[after].isspace():
                raise _query_error(f"operator {value!r} must have spaces around it")
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        yield kind, value
        position = match.end()


class _LegacyParser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self._tokens = tokens
        self._at = 0

    def peek(self) -> tuple[str, str] | None:
        return self._tokens[self._at] if self._at < len(self._tokens) else None

    def _next(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise _query_error("the query ends too early")
        self._at += 1
        return token

    def _keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].upper() in words:
            self._at += 1
            return True
        return False

    def _expect(self, value: str) -> None:
        token = self._next()
        if token[1] != value:
            raise _query_error(f"expected {value!r}, found {token[1]!r}")

    def expression(self) -> Node:
        operands = [self._term()]
        while self._keyword("OR"):
            operands.append(self._term())
        return operands[0] if len(operands) == 1 else Junction("or", tuple(operands))

    def _term(self) -> Node:
        operands = [self._factor()]
        while self._keyword("AND"):
            operands.append(self._factor())
        return operands[0] if len(operands) == 1 else Junction("and", tuple(operands))

    def _factor(self) -> Node:
        if self._keyword("NOT"):
            return negate(self._factor())
        if self.peek() == ("punct", "("):
            self._next()
            node = self.expression()
            self._expect(")")
            return node
        return self._predicate()

    def _predicate(self) -> Node:
        kind, field = self._next()
        if kind != "word":
            raise _query_error(f"expected a field name, found {field!r}")
        field = field.upper()
        if self._keyword("IS"):
            negated = self._keyword("NOT")
            if not self._keyword("NULL"):
                raise _query_error("IS must be followed by NULL or NOT NULL")
            return Condition("isnotnull" if negated else "isnull", field)
        negated = self._keyword("NOT")
        if self._keyword("LIKE"):
            return Condition("notlike" if negated else "like", field, (self._value(),))
        if self._keyword("IN"):
            self._expect("(")
            values = [self._value()]
            while self.peek() == ("punct", ","):
                self._next()
                values.append(self._value())
            self._expect(")")
            return Condition("notin" if negated else "in", field, tuple(values))
        if negated:
            raise _query_error("NOT after a field name must be followed by LIKE or IN")
        kind, op = self._next()
        if kind != "op":
            raise _query_error(f"expected an operator after {field}, found {op!r}")
        return Condition(_LEGACY_OPS[op], field, (self._value(),))

    def _value(self) -> str:
        kind, value = self._next()
        if kind not in ("string", "number"):
            raise _query_error(f"expected a quoted value or a number, found {value!r}")
        return value


def _query_error(detail: str) -> IntacctError:
    return processing_error(f"Invalid query: {detail}")


def negate(node: Node) -> Node:
    """NOT node, pushed down to the conditions (exact under SQL's NULL rules, see module docstring)."""
    if isinstance(node, Junction):
        return Junction("or" if node.op == "and" else "and", tuple(negate(child) for child in node.operands))
    if node.op == "between":
        low, high = node.values
        return Junction(
            "or", (Condition("lessthan", node.field, (low,)), Condition("greaterthan", node.field, (high,)))
        )
    return Condition(_NEGATION[node.op], node.field, node.values)


# ---- compiling ------------------------------------------------------------------------------------------


def field_names(node: Node | None) -> list[str]:
    if node is None:
        return []
    if isinstance(node, Condition):
        return [node.field]
    return [name for child in node.operands for name in field_names(child)]


def split_key_range(node: Node | None, key_field: str) -> tuple[KeyRange, Node | None]:
    """The key bounds among the top-level AND-ed conditions, and what is left to evaluate per record."""
    conditions = [node] if isinstance(node, Condition) else []
    if isinstance(node, Junction) and node.op == "and":
        conditions = list(node.operands)
    on_key = [
        c
        for c in conditions
        if isinstance(c, Condition)
        and c.field == key_field
        and c.op
        in ("equalto", "greaterthan", "greaterthanorequalto", "lessthan", "lessthanorequalto", "between")
    ]
    if not on_key:
        return KeyRange(), node
    low, low_inclusive, high, high_inclusive = None, True, None, True
    for condition in on_key:
        numbers = [_key_value(condition, value) for value in condition.values]
        lower = {"equalto": (numbers[0], True), "greaterthan": (numbers[0], False)}
        lower |= {"greaterthanorequalto": (numbers[0], True), "between": (numbers[0], True)}
        upper = {"equalto": (numbers[0], True), "lessthan": (numbers[0], False)}
        upper |= {"lessthanorequalto": (numbers[0], True), "between": (numbers[-1], True)}
        if condition.op in lower:
            value, inclusive = lower[condition.op]
            if low is None or value > low or (value == low and not inclusive):
                low, low_inclusive = value, inclusive
        if condition.op in upper:
            value, inclusive = upper[condition.op]
            if high is None or value < high or (value == high and not inclusive):
                high, high_inclusive = value, inclusive
    rest = [c for c in conditions if c not in on_key]
    residual = None if not rest else rest[0] if len(rest) == 1 else Junction("and", tuple(rest))
    return KeyRange(low, low_inclusive, high, high_inclusive), residual


def _key_value(condition: Condition, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise processing_error(f"Invalid value '{text}' for {condition.field}") from None


def compile_filter(
    node: Node | None,
    resolve: Callable[[str], FieldAccess | None],
    *,
    zone: tzinfo,
    caseinsensitive: bool = False,
    legacy: bool = False,
) -> Callable[[Row], bool] | None:
    """A predicate over records, or None when there is nothing to test.

    `resolve` maps a field name to its accessor; unknown names fail with DL02000001 naming them.
    `legacy` accepts readByQuery's database characters for validated-list fields ('T' for active).
    """
    if node is None:
        return None
    unknown = sorted({name for name in field_names(node) if resolve(name) is None})
    if unknown:
        raise processing_error(f"Invalid field(s) in filter: {', '.join(unknown)}")
    return _compile(node, resolve, zone, caseinsensitive, legacy)


def _compile(node: Node, resolve, zone, caseinsensitive: bool, legacy: bool) -> Callable[[Row], bool]:
    if isinstance(node, Junction):
        parts = [_compile(child, resolve, zone, caseinsensitive, legacy) for child in node.operands]
        if node.op == "and":
            return lambda row: all(part(row) for part in parts)
        return lambda row: any(part(row) for part in parts)
    access = resolve(node.field)
    if node.op in ("isnull", "isnotnull"):
        compare = access.compare
        return (
            (lambda row: compare(row) is None)
            if node.op == "isnull"
            else (lambda row: compare(row) is not None)
        )
    if node.op in ("like", "notlike"):
        return _like(node, access, caseinsensitive)
    folded = caseinsensitive and access.field.datatype in (DataType.TEXT, DataType.ENUM)
    values = [_operand(node, access, value, zone, folded, legacy) for value in node.values]
    get = access.compare
    if folded:
        raw = get

        def get(row: Row) -> Any:
            value = raw(row)
            return None if value is None else value.lower()

    return _comparison(node.op, get, values)


def _comparison(op: str, get: Callable[[Row], Any], values: list[Any]) -> Callable[[Row], bool]:
    first = values[0]
    tests: dict[str, Callable[[Any], bool]] = {
        "equalto": lambda v: v == first,
        "notequalto": lambda v: v != first,
        "lessthan": lambda v: v < first,
        "lessthanorequalto": lambda v: v <= first,
        "greaterthan": lambda v: v > first,
        "greaterthanorequalto": lambda v: v >= first,
        "between": lambda v: first <= v <= values[1],
        "in": lambda v: v in members,
        "notin": lambda v: v not in members,
    }
    members = set(values)
    test = tests[op]

    def predicate(row: Row) -> bool:
        value = get(row)
        return value is not None and test(value)

    return predicate


def _operand(
    node: Condition, access: FieldAccess, text: str, zone: tzinfo, folded: bool, legacy: bool
) -> Any:
    fdef = access.field
    if fdef.datatype == DataType.ENUM:
        if legacy:
            wording = {alias: v.value for v in fdef.values for alias in (v.value, v.db, v.legacy) if alias}
            text = wording.get(text, text)
        return text.lower() if folded else text
    if fdef.datatype == DataType.TEXT:
        return text.lower() if folded else text
    try:
        return typed_value(fdef.datatype, text, zone)
    except ValueError:
        raise processing_error(f"Invalid value '{text}' for {node.field} ({fdef.datatype})") from None


def _like(node: Condition, access: FieldAccess, caseinsensitive: bool) -> Callable[[Row], bool]:
    pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in node.values[0])
    regex = re.compile(pattern, re.DOTALL | (re.IGNORECASE if caseinsensitive else 0))
    display, wanted = access.display, node.op == "like"

    def predicate(row: Row) -> bool:
        text = display(row)
        return text != "" and (regex.fullmatch(text) is not None) == wanted

    return predicate
