"""One handler per Intacct function: `parse` checks the function's XML (schema errors stop the whole
request), `run` answers it from the store (errors fail only that function)."""

from __future__ import annotations

import csv
import heapq
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from lxml import etree

from .envelope import check_all, check_choice, check_sequence, children, parse_boolean, text_of
from .errors import SchemaError, function_error, object_not_found, processing_error
from .faults import Faults
from .objects import OBJECTS, ObjectDef
from .query_filter import Node, compile_filter, parse_filter, parse_legacy_query, split_key_range
from .sessions import Session, SessionRegistry
from .store import FieldAccess, Row, Store
from .xmlout import RecordWriter, element, grouped, start_tag, wrap

QUERY_PAGESIZE = (1, 2000, 100)  # min, max, default
READBYQUERY_PAGESIZE = (1, 1000, 100)
AGGREGATES = ("count", "avg", "min", "max", "sum")
PAGING_FUNCTIONS = ("query", "readByQuery", "readMore")


@dataclass
class CallContext:
    """What a function runs against: the company, the caller's session and the gateway's state."""

    store: Store
    session: Session
    sessions: SessionRegistry
    faults: Faults
    endpoint: str


@dataclass
class Answer:
    """A function's successful outcome."""

    data: list[bytes]  # UTF-8 chunks of the <data> element
    object: str = ""
    raw: tuple[str, bytes] | None = None


@dataclass(frozen=True)
class Handler:
    parse: Callable[[etree._Element], Any]
    run: Callable[[CallContext, Any], Answer]


# ---- arguments ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReadArgs:
    object: str
    keys: tuple[str, ...]
    fields: tuple[str, ...] | None  # None: all
    by_name: bool


@dataclass(frozen=True)
class ReadByQueryArgs:
    object: str
    query: str
    pagesize: str | None
    fields: tuple[str, ...] | None


@dataclass(frozen=True)
class ReadMoreArgs:
    object: str
    result_id: str | None
    other: str | None  # view / reportId, which the sandbox does not serve


@dataclass(frozen=True)
class QueryArgs:
    object: str
    select: tuple[str, ...]
    aggregates: tuple[str, ...]
    filter: Node | None
    orderby: tuple[tuple[str, bool], ...]  # (field, descending)
    caseinsensitive: bool
    showprivate: bool
    returnformat: str
    pagesize: str | None
    offset: str | None


# ---- shared helpers -------------------------------------------------------------------------------------


def _object_name(parts: dict[str, list[etree._Element]]) -> str:
    return text_of(parts["object"][0]).upper() if parts.get("object") else ""


def _field_list(parts: dict[str, list[etree._Element]]) -> tuple[str, ...] | None:
    text = text_of(parts["fields"][0]) if parts.get("fields") else ""
    names = tuple(name.strip().upper() for name in text.split(",") if name.strip())
    return None if not names or names == ("*",) else names


def _object(name: str, errorno: str = "XL03000009") -> ObjectDef:
    objdef = OBJECTS.get(name)
    if objdef is None:
        raise object_not_found(name, errorno)
    return objdef


def _check_readable(ctx: CallContext, objdef: ObjectDef, function: str) -> None:
    if objdef.name == "AUDITHISTORY":
        ctx.faults.check_audit_read(function)


def _bounded_int(text: str | None, name: str, bounds: tuple[int, int | None, int]) -> int:
    low, high, default = bounds
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise processing_error(f"{name} must be a whole number, got '{text}'") from None
    if value < low or (high is not None and value > high):
        allowed = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise processing_error(f"{name} must be {allowed}, got {value}")
    return value


def _accessors(
    store: Store, objdef: ObjectDef, names: Sequence[str] | None, legacy: bool, nested: bool = False
) -> list[FieldAccess]:
    """Accessors of the wanted fields (all by default), in the order a record of them is written."""
    wanted = list(dict.fromkeys(names)) if names else [f.name for f in objdef.fields]
    if nested:
        wanted = grouped(wanted)
    found = {name: store.accessor(objdef, name, legacy=legacy) for name in wanted}
    unknown = [name for name, access in found.items() if access is None]
    if unknown:
        raise processing_error(f"Invalid field(s) for {objdef.name}: {', '.join(unknown)}")
    return list(found.values())


def _values_of(accessors: list[FieldAccess]) -> Callable[[Row], tuple[str, ...]]:
    """Escaped field texts of a record in accessor order; a C-level itemgetter when all are stored."""
    columns = [a.xml_column for a in accessors]
    if None not in columns:
        if len(columns) == 1:
            column = columns[0]
            return lambda row: (row[column],)
        return itemgetter(*columns)
    texts = [a.xml for a in accessors]
    return lambda row: tuple([text(row) for text in texts])


def _writer(tag: str, accessors: list[FieldAccess], nested: bool) -> RecordWriter:
    return RecordWriter(tag, [a.name for a in accessors], _values_of(accessors), nested)


def _matching_rows(
    ctx: CallContext,
    objdef: ObjectDef,
    node: Node | None,
    *,
    caseinsensitive: bool,
    legacy: bool,
    showprivate: bool,
) -> list[Row]:
    """Records the session may see that pass the filter, in key order. Call under the store lock."""
    store = ctx.store
    key_range, residual = split_key_range(node, objdef.key_field)
    candidates = store.tables[objdef.name].key_range(
        key_range.low, key_range.low_inclusive, key_range.high, key_range.high_inclusive
    )
    predicate = compile_filter(
        residual,
        lambda name: store.accessor(objdef, name, legacy=legacy),
        zone=store.zone,
        caseinsensitive=caseinsensitive,
        legacy=legacy,
    )
    visible = store.visibility(objdef, ctx.session.location_id, showprivate)
    if visible and predicate:
        return [row for row in candidates if visible(row) and predicate(row)]
    if visible or predicate:
        test = visible or predicate
        return [row for row in candidates if test(row)]
    return candidates


def _sorted(
    objdef: ObjectDef, rows: list[Row], order: list[tuple[FieldAccess, bool]], needed: int | None = None
) -> list[Row]:
    """Rows (in key order) sorted like Oracle: NULLs last ascending, first descending. With `needed`, only
    the first `needed` rows are sure to be in place (a small page of a big object need not sort it all)."""
    first, descending = order[0]
    if first.name == objdef.key_field:  # keys are unique: later orders cannot matter
        return rows[::-1] if descending else rows
    if len(order) == 1 and needed is not None and needed * 8 < len(rows):
        # heapq's nsmallest/nlargest keep sorted()'s order, ties included.
        pick = heapq.nlargest if descending else heapq.nsmallest
        return pick(needed, rows, key=_null_aware(first.compare))
    rows = list(rows)
    for access, descending in reversed(order):
        rows.sort(key=_null_aware(access.compare), reverse=descending)
    return rows


def _null_aware(compare: Callable[[Row], Any]) -> Callable[[Row], tuple[int, Any]]:
    """A sort key that ranks NULL above every value."""

    def key(row: Row) -> tuple[int, Any]:
        value = compare(row)
        return (1, 0) if value is None else (0, value)

    return key


def _data(attributes: dict[str, Any], records: list[bytes]) -> list[bytes]:
    return [start_tag("data", attributes).encode("utf-8"), *records, b"</data>"]


def _small(xml: str) -> list[bytes]:
    return [xml.encode("utf-8")]


# ---- getAPISession / readUserFormatting / lookup --------------------------------------------------------


def parse_get_api_session(el: etree._Element) -> str | None:
    parts = check_all(el, {"locationid": (0, 1)})
    return text_of(parts["locationid"][0]) if parts["locationid"] else None


def run_get_api_session(ctx: CallContext, location_id: str | None) -> Answer:
    session = ctx.session
    if location_id is not None and location_id != session.location_id:
        if location_id and ctx.store.entity(location_id) is None:
            raise function_error(f"Invalid location '{location_id}': no such entity")
        session = ctx.sessions.open(
            company_id=session.company_id,
            user_id=session.user_id,
            user_key=session.user_key,
            location_id=location_id,
        )
    api = wrap(
        "api",
        element("sessionid", session.session_id),
        element("endpoint", ctx.endpoint),
        element("locationid", session.location_id),
    )
    return Answer(_small(wrap("data", api)))


def parse_read_user_formatting(el: etree._Element) -> tuple[str, str]:
    parts = check_all(el, {"key": (0, 1), "userId": (0, 1)})
    return (
        text_of(parts["key"][0]) if parts["key"] else "",
        text_of(parts["userId"][0]) if parts["userId"] else "",
    )


def run_read_user_formatting(ctx: CallContext, user: tuple[str, str]) -> Answer:
    key, login = user
    if not key and not login:
        raise processing_error("readUserFormatting needs a key (the user's RECORDNO) or a userId (LOGINID)")
    users = ctx.store.tables["USERINFO"]
    row = users.find(int(key)) if key.isdigit() else users.find(login) if login else None
    if row is None:
        raise processing_error(f"No user with {'key' if key else 'userId'} '{key or login}'")
    formatting = wrap(
        "userformatting",
        element("recordno", str(row[users.key_column])),
        element("locale", "en_US"),
        element("dateformat", "/mdY"),
        element("gmtoffset", ctx.store.gmt_offset()),
        element("clock", "24"),
    )
    return Answer(_small(wrap("data", formatting)), object="USERINFO")


def parse_lookup(el: etree._Element) -> str:
    return _object_name(check_all(el, {"object": (1, 1), "docparid": (0, 1)}))


def run_lookup(ctx: CallContext, object_name: str) -> Answer:
    objdef = _object(object_name)
    fields = []
    for fdef in objdef.fields:
        datatype = ctx.store.accessor(objdef, fdef.name).field.datatype
        parts = [
            element("ID", fdef.name),
            element("LABEL", fdef.label),
            element("DESCRIPTION", fdef.label),
            element("REQUIRED", str(fdef.required).lower()),
            element("READONLY", str(fdef.readonly).lower()),
            element("DATATYPE", datatype),
            element("ISCUSTOM", "false"),
        ]
        if fdef.values:
            parts.append(wrap("VALIDVALUES", *(element("VALIDVALUE", v.value) for v in fdef.values)))
        fields.append(wrap("Field", *parts))
    relationships = [
        wrap(
            "Relationship",
            element("OBJECTPATH", r.path),
            element("OBJECTNAME", r.object),
            element("LABEL", r.label),
            element("RELATIONSHIPTYPE", "MANY2ONE"),
            element("RELATEDBY", r.key_field),
        )
        for r in objdef.relationships
        if r.public
    ]
    type_xml = wrap(
        "Type",
        wrap("Fields", *fields),
        wrap("Relationships", *relationships),
        attributes={"Name": objdef.name, "DocumentType": ""},
    )
    return Answer(_data({"listtype": "All", "count": 1}, _small(type_xml)), object=objdef.name)


# ---- read / readByName ----------------------------------------------------------------------------------


def _parse_read(el: etree._Element, by_name: bool) -> ReadArgs:
    spec = {"object": (1, 1), "keys": (1, 1), "fields": (0, 1), "returnFormat": (0, 1), "docparid": (0, 1)}
    parts = check_all(el, spec)
    keys = tuple(key.strip() for key in text_of(parts["keys"][0]).split(",") if key.strip())
    return ReadArgs(_object_name(parts), keys, _field_list(parts), by_name)


def run_read(ctx: CallContext, args: ReadArgs) -> Answer:
    objdef = _object(args.object)
    _check_readable(ctx, objdef, "readByName" if args.by_name else "read")
    if not args.keys:
        raise processing_error("keys must name at least one record")
    if not args.by_name and not all(key.isdigit() for key in args.keys):
        raise processing_error(f"read takes {objdef.key_field} values as keys, got '{','.join(args.keys)}'")
    store = ctx.store
    accessors = _accessors(store, objdef, args.fields, legacy=False, nested=True)
    visible = store.visibility(objdef, ctx.session.location_id, showprivate=False)
    with store.lock:
        table = store.tables[objdef.name]
        found = [table.find(key if args.by_name else int(key)) for key in args.keys]
        rows = [row for row in found if row is not None and (visible is None or visible(row))]
        body = _writer(objdef.name, accessors, nested=True).write(rows)
    return Answer(_data({"listtype": objdef.name, "count": len(rows)}, body), object=objdef.name)


# ---- readByQuery / readMore -----------------------------------------------------------------------------


def parse_read_by_query(el: etree._Element) -> ReadByQueryArgs:
    spec = {"object": (1, 1), "query": (1, 1), "pagesize": (0, 1), "fields": (0, 1), "returnFormat": (0, 1)}
    parts = check_all(el, {**spec, "docparid": (0, 1)})
    pagesize = text_of(parts["pagesize"][0]) if parts["pagesize"] else None
    query = parts["query"][0].text or ""
    return ReadByQueryArgs(_object_name(parts), query, pagesize, _field_list(parts))


def run_read_by_query(ctx: CallContext, args: ReadByQueryArgs) -> Answer:
    objdef = _object(args.object, errorno="Query Failed")
    _check_readable(ctx, objdef, "readByQuery")
    pagesize = _bounded_int(args.pagesize, "pagesize", READBYQUERY_PAGESIZE)
    node = parse_legacy_query(args.query)
    store = ctx.store
    accessors = _accessors(store, objdef, args.fields, legacy=True, nested=True)
    with store.lock:
        rows = _matching_rows(ctx, objdef, node, caseinsensitive=False, legacy=True, showprivate=False)
        # the legacy function has no orderby: rows come in the database's natural order
        rows = ctx.faults.order_rows(rows)
        writer = _writer(objdef.legacy_name, accessors, nested=True)
        page = rows[:pagesize]
        body = writer.write(page)
        result_id = ""
        if len(rows) > len(page):
            cursor = ctx.sessions.open_cursor(ctx.session, objdef.name, rows, pagesize, writer)
            cursor.position = len(page)
            result_id = cursor.result_id
    attributes = {
        "listtype": objdef.legacy_name,
        "count": len(page),
        "totalcount": len(rows),
        "numremaining": len(rows) - len(page),
        "resultId": result_id,
    }
    return Answer(_data(attributes, body), object=objdef.name)


def parse_read_more(el: etree._Element) -> ReadMoreArgs:
    chosen = check_choice(el, ("object", "view", "reportId", "resultId"))
    value = text_of(chosen)
    if chosen.tag == "resultId":
        return ReadMoreArgs("", value, None)
    if chosen.tag == "object":
        return ReadMoreArgs(value.upper(), None, None)
    return ReadMoreArgs("", None, chosen.tag)


def run_read_more(ctx: CallContext, args: ReadMoreArgs) -> Answer:
    if args.other:
        raise function_error(f"readMore by {args.other} is not served by the sandbox gateway")
    if args.result_id is not None:
        cursor = ctx.sessions.find_cursor(ctx.session, result_id=args.result_id)
        if cursor is None:
            raise function_error(
                f"Attempt to readMore with an invalid or expired resultId '{args.result_id}'"
            )
    else:
        cursor = ctx.sessions.find_cursor(ctx.session, object_name=args.object)
        if cursor is None:
            raise function_error(f"There is no readByQuery on {args.object} to continue")
    objdef = OBJECTS[cursor.object_name]
    _check_readable(ctx, objdef, "readMore")
    with ctx.store.lock:
        page = cursor.rows[cursor.position : cursor.position + cursor.pagesize]
        body = cursor.render.write(page)
        cursor.position += len(page)
    if not cursor.remaining:
        ctx.sessions.close_cursor(ctx.session, cursor)
    attributes = {
        "listtype": objdef.legacy_name,
        "count": len(page),
        "totalcount": len(cursor.rows),
        "numremaining": cursor.remaining,
        "resultId": cursor.result_id,
    }
    return Answer(_data(attributes, body), object=objdef.name)


# ---- query ----------------------------------------------------------------------------------------------


def parse_query(el: etree._Element) -> QueryArgs:
    spec = {"select": (1, 1), "object": (1, 1), "docparid": (0, 1), "filter": (0, 1), "orderby": (0, 1)}
    parts = check_all(el, {**spec, "options": (0, 1), "pagesize": (0, 1), "offset": (0, 1)})
    select_items = children(parts["select"][0])
    if not select_items:
        raise SchemaError("Element 'select': Missing child element(s). Expected is ( field ).", el.sourceline)
    select, aggregates = [], []
    for item in select_items:
        if item.tag == "field":
            select.append(text_of(item).upper())
        elif item.tag in AGGREGATES:
            aggregates.append(f"{item.tag.upper()}.{text_of(item).upper()}")
        else:
            raise SchemaError(f"Element '{item.tag}': This element is not expected.", item.sourceline)
    order = []
    if parts["orderby"]:
        for item in check_sequence(parts["orderby"][0], (("order", 1, None),))["order"]:
            order_parts = check_sequence(item, (("field", 1, 1), ("ascending", 0, 1), ("descending", 0, 1)))
            if order_parts["ascending"] and order_parts["descending"]:
                raise SchemaError("Element 'descending': This element is not expected.", item.sourceline)
            order.append((text_of(order_parts["field"][0]).upper(), bool(order_parts["descending"])))
    options: dict[str, list[etree._Element]] = {"caseinsensitive": [], "showprivate": [], "returnformat": []}
    if parts["options"]:
        options = check_all(parts["options"][0], {name: (0, 1) for name in options})
    returnformat = text_of(options["returnformat"][0]).lower() if options["returnformat"] else "xml"
    if returnformat not in ("xml", "json", "csv"):
        raise SchemaError(
            f"Element 'returnformat': '{returnformat}' is not an element of the set {{xml, json, csv}}."
        )

    def optional(name: str) -> str | None:
        return text_of(parts[name][0]) if parts[name] else None

    return QueryArgs(
        object=_object_name(parts),
        select=tuple(select),
        aggregates=tuple(aggregates),
        filter=parse_filter(parts["filter"][0]) if parts["filter"] else None,
        orderby=tuple(order),
        caseinsensitive=parse_boolean(
            options["caseinsensitive"][0] if options["caseinsensitive"] else None, False
        ),
        showprivate=parse_boolean(options["showprivate"][0] if options["showprivate"] else None, False),
        returnformat=returnformat,
        pagesize=optional("pagesize"),
        offset=optional("offset"),
    )


def run_query(ctx: CallContext, args: QueryArgs) -> Answer:
    objdef = OBJECTS.get(args.object)
    if objdef is None:
        error = object_not_found(args.object)
        empty = {"listtype": args.object, "totalcount": 0, "offset": 0, "count": 0, "numremaining": 0}
        error.data = _small(start_tag("data", empty, empty=True))
        raise error
    _check_readable(ctx, objdef, "query")
    pagesize = _bounded_int(args.pagesize, "pagesize", QUERY_PAGESIZE)
    offset = _bounded_int(args.offset, "offset", (0, None, 0))
    if args.aggregates:
        raise function_error(
            f"Aggregates ({', '.join(args.aggregates)}) are not served by the sandbox gateway"
        )
    store = ctx.store
    accessors = _accessors(store, objdef, args.select, legacy=False)
    order = [(store.accessor(objdef, name), descending) for name, descending in args.orderby]
    unknown = [name for (name, _), (access, _) in zip(args.orderby, order, strict=True) if access is None]
    if unknown:
        raise processing_error(f"Invalid field(s) in orderby: {', '.join(unknown)}")
    with store.lock:
        rows = _matching_rows(
            ctx,
            objdef,
            args.filter,
            caseinsensitive=args.caseinsensitive,
            legacy=False,
            showprivate=args.showprivate,
        )
        total = len(rows)
        rows = _sorted(objdef, rows, order, offset + pagesize) if order else ctx.faults.order_rows(rows)
        page = rows[offset : offset + pagesize]
        if args.returnformat != "xml":
            return Answer([], objdef.name, raw=_raw_page(args.returnformat, accessors, page))
        body = _writer(objdef.name, accessors, nested=False).write(page)
    attributes = {
        "listtype": objdef.name,
        "totalcount": total,
        "offset": offset,
        "count": len(page),
        "numremaining": max(total - offset - len(page), 0),
    }
    return Answer(_data(attributes, body), object=objdef.name)


def _raw_page(returnformat: str, accessors: list[FieldAccess], page: list[Row]) -> tuple[str, bytes]:
    names = [a.name for a in accessors]
    displays = [a.display for a in accessors]

    def values_of(row: Row) -> list[str]:
        return [display(row) for display in displays]

    if returnformat == "json":
        records = [dict(zip(names, values_of(row), strict=True)) for row in page]
        return "application/json", json.dumps(records, ensure_ascii=False).encode("utf-8")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(names)
    writer.writerows(values_of(row) for row in page)
    return "text/csv; charset=UTF-8", out.getvalue().encode("utf-8")


HANDLERS: dict[str, Handler] = {
    "getAPISession": Handler(parse_get_api_session, run_get_api_session),
    "readUserFormatting": Handler(parse_read_user_formatting, run_read_user_formatting),
    "lookup": Handler(parse_lookup, run_lookup),
    "read": Handler(lambda el: _parse_read(el, by_name=False), run_read),
    "readByName": Handler(lambda el: _parse_read(el, by_name=True), run_read),
    "readByQuery": Handler(parse_read_by_query, run_read_by_query),
    "readMore": Handler(parse_read_more, run_read_more),
    "query": Handler(parse_query, run_query),
}
