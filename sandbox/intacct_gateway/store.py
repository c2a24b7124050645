"""The in-memory company: its records, their changes, and the audit trail those changes leave.

Records are tuples in the object's stored-field order, followed by the typed values of the non-text
fields (ints, epoch seconds, dates...) and the XML-escaped form of the text fields (the same string
object when nothing needs escaping), kept sorted by their integer key so RECORDNO ranges are bisect
slices. Keeping the escaped text lets a 2,000-record page be written without escaping anything.
A change replaces a record's tuple instead of mutating it, so a reader holding an old tuple always sees
a consistent record. Every read and write of the gateway happens under `Store.lock`.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from operator import itemgetter
from typing import Any

from .clock import Clock
from .datatypes import (
    TYPED_DATATYPES,
    check_text,
    gmt_offset,
    parse_timezone,
    storer,
    to_epoch,
)
from .objects import OBJECTS, FieldDef, ObjectDef, Relationship
from .xmlout import escape

DEFAULT_COMPANY_ID = "SANDBOX-CO"
DEFAULT_TIMEZONE = "-08:00"
# Intacct's ENTITY field on customers and employees: the record's ID behind a one-letter type code.
_ENTITY_PREFIX = {"CUSTOMER": "C", "EMPLOYEE": "E"}

Row = tuple[Any, ...]
RecordRef = int | str  # an int is a RECORDNO, a str the object's ID (CUSTOMERID, LOGINID...)


class StoreError(ValueError):
    """A change the company refuses: unknown object, field or ID, duplicate ID, value of the wrong type."""


@dataclass(frozen=True)
class FieldAccess:
    """How to read one field, stored or derived, from a record of an object."""

    name: str
    field: FieldDef  # definition of the underlying value (datatype, valid values)
    display: Callable[[Row], str]  # text as the API shows it, "" when empty
    compare: Callable[[Row], Any]  # typed value for filters and sorting, None when NULL
    xml: Callable[[Row], str]  # the text XML-escaped
    xml_column: int | None = None  # position of the escaped text in the record tuple, for stored fields


class Table:
    """The records of one object."""

    def __init__(self, objdef: ObjectDef, zone: tzinfo):
        stored = [f for f in objdef.fields if f.stored]
        typed = [f for f in stored if f.datatype in TYPED_DATATYPES]
        texts = [f for f in stored if f.datatype not in TYPED_DATATYPES]
        self.objdef = objdef
        self.index = {f.name: i for i, f in enumerate(stored)}
        self.typed_index = {f.name: len(stored) + j for j, f in enumerate(typed)}
        escaped_at = len(stored) + len(typed)
        # typed values print without characters to escape: their text is their XML
        self.xml_index = {f.name: self.index[f.name] for f in typed}
        self.xml_index |= {f.name: escaped_at + k for k, f in enumerate(texts)}
        self.width = escaped_at + len(texts)
        self.key_column = self.typed_index[objdef.key_field]
        self.id_column = self.index[objdef.id_field]
        self.keys: list[int] = []
        self.rows: list[Row] = []
        self.by_key: dict[int, Row] = {}
        self.by_id: dict[str, int] = {}
        self.next_key = 1
        self._zone = zone
        # field name -> (position of its text, of its typed value or escaped text, definition, converter)
        self._columns = {
            f.name: (
                self.index[f.name],
                self.typed_index.get(f.name, self.xml_index[f.name]),
                f,
                storer(f.datatype) if f.name in self.typed_index else None,
            )
            for f in stored
        }
        self._blank = tuple(None if j in self.typed_index.values() else "" for j in range(self.width))

    def make_row(self, values: Mapping[str, Any]) -> Row:
        """A record tuple from field values in any natural form (text, int, bool, date, aware datetime).

        Names that are not stored fields are ignored: callers check names first.
        """
        row = list(self._blank)
        columns = self._columns
        try:
            for name, value in values.items():
                if value is None or value == "" or name not in columns:
                    continue
                i, j, fdef, convert = columns[name]
                if convert is None:
                    row[i] = text = _text_value(fdef, value)
                    row[j] = escape(text) if "&" in text or "<" in text or ">" in text else text
                else:
                    row[i], row[j] = convert(value, self._zone, name)
        except ValueError as exc:
            raise StoreError(f"{self.objdef.name}: {exc}") from exc
        return tuple(row)

    def values(self, row: Row) -> dict[str, Any]:
        """The stored fields of a record, typed fields as typed values (what `make_row` takes back)."""
        out: dict[str, Any] = {name: row[i] for name, i in self.index.items()}
        out.update((name, row[j]) for name, j in self.typed_index.items())
        return out

    def insert(self, row: Row) -> None:
        key = row[self.key_column]
        if self.keys and key <= self.keys[-1]:
            position = bisect_left(self.keys, key)
            self.keys.insert(position, key)
            self.rows.insert(position, row)
        else:
            self.keys.append(key)
            self.rows.append(row)
        self.by_key[key] = row
        self.by_id[row[self.id_column]] = key
        self.next_key = max(self.next_key, key + 1)

    def replace(self, row: Row) -> None:
        key = row[self.key_column]
        self.rows[bisect_left(self.keys, key)] = row
        self.by_key[key] = row

    def remove(self, key: int) -> None:
        position = bisect_left(self.keys, key)
        row = self.rows[position]
        del self.keys[position], self.rows[position], self.by_key[key], self.by_id[row[self.id_column]]

    def key_range(
        self, low: int | None, low_inclusive: bool, high: int | None, high_inclusive: bool
    ) -> list[Row]:
        """Records whose key lies in the range, in key order (a slice: no scan)."""
        start = 0 if low is None else (bisect_left if low_inclusive else bisect_right)(self.keys, low)
        stop = (
            len(self.keys)
            if high is None
            else (bisect_right if high_inclusive else bisect_left)(self.keys, high)
        )
        return self.rows[start:stop]

    def find(self, ref: RecordRef) -> Row | None:
        key = ref if isinstance(ref, int) else self.by_id.get(ref)
        return None if key is None else self.by_key.get(key)


def _text_value(fdef: FieldDef, value: Any) -> str:
    text = check_text(value, fdef.name)
    if not fdef.values:
        return text
    for valid in fdef.values:
        if text in (valid.value, valid.db):
            return valid.value
    raise ValueError(f"{fdef.name} must be one of {[v.value for v in fdef.values]}, got {text!r}")


class Store:
    """One Intacct company in memory.

    Read records with `get`/`records`; change them with `create`/`update`/`delete`, which stamp
    WHENCREATED/WHENMODIFIED from `clock`, keep IDs and keys of related records in step, and write
    AUDITHISTORY rows. All timestamps are shown in `timezone`, the API user's time zone.
    """

    def __init__(
        self,
        *,
        company_id: str = DEFAULT_COMPANY_ID,
        timezone: str = DEFAULT_TIMEZONE,
        clock: Clock | None = None,
    ):
        self.company_id = company_id
        self.zone = parse_timezone(timezone)
        self.clock = clock or Clock()
        self.lock = threading.RLock()
        self.tables = {name: Table(objdef, self.zone) for name, objdef in OBJECTS.items()}
        self.passwords: dict[str, str] = {}
        self.default_actor: str | None = None  # LOGINID stamped on changes made without an actor
        self._accessors: dict[tuple[str, str, bool], FieldAccess | None] = {}

    # ---- reading ------------------------------------------------------------------------------------

    def table(self, object_name: str) -> Table:
        try:
            return self.tables[object_name]
        except KeyError:
            raise StoreError(f"unknown object {object_name!r}; known: {sorted(self.tables)}") from None

    def get(self, object_name: str, ref: RecordRef) -> dict[str, str] | None:
        """One record as {field: text} (derived fields included), by RECORDNO (int) or ID (str)."""
        with self.lock:
            row = self.table(object_name).find(ref)
            return None if row is None else self.as_dict(object_name, row)

    def records(self, object_name: str) -> list[dict[str, str]]:
        """Every record of an object, private ones included, in RECORDNO order."""
        with self.lock:
            return [self.as_dict(object_name, row) for row in self.table(object_name).rows]

    def count(self, object_name: str) -> int:
        return len(self.table(object_name).rows)

    def as_dict(self, object_name: str, row: Row) -> dict[str, str]:
        objdef = OBJECTS[object_name]
        return {f.name: self.accessor(objdef, f.name).display(row) for f in objdef.fields}

    def accessor(self, objdef: ObjectDef, name: str, *, legacy: bool = False) -> FieldAccess | None:
        """How to read `name` (a field, or a public relationship path like CONTACT.EMAIL1), or None.

        `legacy` reads values the way readByQuery words them.
        """
        cache_key = (objdef.name, name, legacy)
        if cache_key not in self._accessors:
            self._accessors[cache_key] = self._resolve(objdef, name, legacy, allow_paths=True)
        return self._accessors[cache_key]

    def visibility(
        self, objdef: ObjectDef, location_id: str, showprivate: bool
    ) -> Callable[[Row], bool] | None:
        """Which records a session sees, or None for all.

        An entity session sees top-level records and its entity's; a top-level session sees private
        entity records only when the request asks for them with `showprivate`.
        """
        if not objdef.entity_owned or (showprivate and not location_id):
            return None
        column = self.tables[objdef.name].index["MEGAENTITYID"]
        if location_id:
            return lambda row: row[column] in ("", location_id)
        return lambda row: row[column] == ""

    def entity(self, location_id: str) -> Row | None:
        return self.tables["LOCATIONENTITY"].find(location_id)

    def gmt_offset(self) -> str:
        return gmt_offset(self.zone, self.clock.now())

    # ---- credentials --------------------------------------------------------------------------------

    def set_password(self, login_id: str, password: str) -> None:
        """Let an existing user sign in to the gateway with `password`."""
        with self.lock:
            if self.tables["USERINFO"].find(login_id) is None:
                raise StoreError(f"no USERINFO with LOGINID {login_id!r}")
            self.passwords[login_id] = password

    def authenticate(self, login_id: str, password: str) -> Row | None:
        """The active user these credentials sign in, or None."""
        with self.lock:
            user = self.tables["USERINFO"].find(login_id)
            if user is None or self.passwords.get(login_id) != password:
                return None
            status = user[self.tables["USERINFO"].index["STATUS"]]
            return user if status == "active" else None

    # ---- changing -----------------------------------------------------------------------------------

    def create(
        self,
        object_name: str,
        values: Mapping[str, Any],
        *,
        entity: str = "",
        actor: str | None = None,
        source: str = "ui",
        at: datetime | None = None,
    ) -> dict[str, str]:
        """Add a record and return it. `entity` makes it private to that entity (LOCATIONID).

        Users and employees take their contact as CONTACTINFO.* / PERSONALINFO.* values: naming an
        existing CONTACTNAME shares that contact (an employee and its user), otherwise a contact is
        created.
        """
        with self.lock:
            objdef, table = self._writable(object_name)
            given = dict(values)
            self._check_fields(objdef, given)
            record_id = given.get(objdef.id_field)
            if not record_id:
                raise StoreError(f"{object_name}: {objdef.id_field} is required")
            if record_id in table.by_id:
                raise StoreError(f"{object_name}: {objdef.id_field} {record_id!r} already exists")
            when = to_epoch(at or self.clock.now(), self.zone)
            actor_key = self._actor_key(actor)
            contact_values = self._pop_contact_values(objdef, given)
            full = {
                **given,
                objdef.key_field: table.next_key,
                "WHENCREATED": when,
                "WHENMODIFIED": when,
                "CREATEDBY": actor_key,
                "MODIFIEDBY": actor_key,
            }
            if contact_values or (objdef.relationship("CONTACT") and not full.get("CONTACTKEY")):
                full["CONTACTKEY"] = self._attach_contact(
                    full.get("CONTACTKEY"), contact_values, actor, source, when
                )
            self._resolve_references(objdef, full, set(given))
            self._fill_entity_fields(objdef, full, entity)
            row = table.make_row(full)
            table.insert(row)
            self._audit(objdef, row, "C", actor, source, when)
            return self.as_dict(object_name, row)

    def update(
        self,
        object_name: str,
        ref: RecordRef,
        values: Mapping[str, Any],
        *,
        entity: str | None = None,
        actor: str | None = None,
        source: str = "ui",
        at: datetime | None = None,
    ) -> dict[str, str]:
        """Change fields of a record (by RECORDNO or ID), stamp WHENMODIFIED, and return it.

        `entity` moves the record to that entity ("" = top level). Contact fields of a user or
        employee change the shared contact, which the other record sees without a new WHENMODIFIED.
        """
        with self.lock:
            objdef, table = self._writable(object_name)
            row = self._existing(table, ref)
            given = dict(values)
            self._check_fields(objdef, given)
            if objdef.id_field in given and given[objdef.id_field] != row[table.id_column]:
                raise StoreError(f"{object_name}: {objdef.id_field} cannot change")
            when = to_epoch(at or self.clock.now(), self.zone)
            contact_values = self._pop_contact_values(objdef, given)
            full = {**table.values(row), **given, "WHENMODIFIED": when, "MODIFIEDBY": self._actor_key(actor)}
            if contact_values:
                full["CONTACTKEY"] = self._attach_contact(
                    full.get("CONTACTKEY"), contact_values, actor, source, when
                )
            self._resolve_references(objdef, full, set(given))
            if entity is not None:
                self._fill_entity_fields(objdef, full, entity)
            new_row = table.make_row(full)
            table.replace(new_row)
            self._audit(objdef, new_row, "M", actor, source, when)
            return self.as_dict(object_name, new_row)

    def delete(
        self,
        object_name: str,
        ref: RecordRef,
        *,
        actor: str | None = None,
        source: str = "ui",
        at: datetime | None = None,
    ) -> None:
        """Hard-delete a record; afterwards it exists only as an AUDITHISTORY row with ACCESSMODE D.

        Refused while other records point at it (a parent department, an employee's department...).
        """
        with self.lock:
            objdef, table = self._writable(object_name)
            row = self._existing(table, ref)
            key = row[table.key_column]
            users = self._referrers(objdef.name, key)
            if users:
                raise StoreError(
                    f"{object_name} {row[table.id_column]!r} is still used by {', '.join(users[:5])}"
                )
            when = to_epoch(at or self.clock.now(), self.zone)
            self._audit(objdef, row, "D", actor, source, when)
            table.remove(key)

    def load(self, object_name: str, records: Iterable[Mapping[str, Any]]) -> None:
        """Bulk-insert complete records as they are (keys, stamps, references): for building a company."""
        with self.lock:
            table = self.table(object_name)
            for values in records:
                table.insert(table.make_row(values))

    def append_audit(self, values: Mapping[str, Any]) -> None:
        """Add one AUDITHISTORY row (for history that predates the sandbox, e.g. old deletions)."""
        with self.lock:
            table = self.tables["AUDITHISTORY"]
            table.insert(table.make_row({**values, "ID": table.next_key}))

    # ---- helpers ------------------------------------------------------------------------------------

    def _resolve(self, objdef: ObjectDef, name: str, legacy: bool, allow_paths: bool) -> FieldAccess | None:
        fdef = objdef.get_field(name)
        if fdef is not None and fdef.stored:
            return self._stored_access(objdef, fdef, legacy)
        if fdef is not None:
            path, target_field = fdef.derived
            relationship = objdef.relationship(path)
            target = self._resolve(OBJECTS[relationship.object], target_field, legacy, allow_paths=False)
            return self._through(objdef, relationship, target, name)
        if allow_paths and "." in name:
            path, rest = name.split(".", 1)
            relationship = objdef.relationship(path)
            if relationship is not None and relationship.public:
                target = self._resolve(OBJECTS[relationship.object], rest, legacy, allow_paths=False)
                if target is not None:
                    return self._through(objdef, relationship, target, name)
        return None

    def _stored_access(self, objdef: ObjectDef, fdef: FieldDef, legacy: bool) -> FieldAccess:
        table = self.tables[objdef.name]
        column, xml_column = table.index[fdef.name], table.xml_index[fdef.name]
        if fdef.name in table.typed_index:
            compare = itemgetter(table.typed_index[fdef.name])
        else:

            def compare(row: Row) -> Any:
                return row[column] or None

        if legacy and any(v.legacy for v in fdef.values):
            wording = {v.value: v.legacy or v.value for v in fdef.values}

            def display(row: Row) -> str:
                return wording.get(row[column], row[column])

            return FieldAccess(fdef.name, fdef, display, compare, display)
        return FieldAccess(fdef.name, fdef, itemgetter(column), compare, itemgetter(xml_column), xml_column)

    def _through(
        self, objdef: ObjectDef, relationship: Relationship, target: FieldAccess, name: str
    ) -> FieldAccess:
        key_of = itemgetter(self.tables[objdef.name].typed_index[relationship.key_field])
        related = self.tables[relationship.object].by_key
        target_display, target_compare = target.display, target.compare

        def display(row: Row) -> str:
            other = related.get(key_of(row))
            return "" if other is None else target_display(other)

        def compare(row: Row) -> Any:
            other = related.get(key_of(row))
            return None if other is None else target_compare(other)

        def xml(row: Row) -> str:
            return escape(display(row))

        return FieldAccess(name, target.field, display, compare, xml)

    def _writable(self, object_name: str) -> tuple[ObjectDef, Table]:
        table = self.table(object_name)
        if not table.objdef.audited:
            raise StoreError(f"{object_name} is written by the company itself, not changed directly")
        return table.objdef, table

    @staticmethod
    def _existing(table: Table, ref: RecordRef) -> Row:
        row = table.find(ref)
        if row is None:
            kind = table.objdef.key_field if isinstance(ref, int) else table.objdef.id_field
            raise StoreError(f"no {table.objdef.name} with {kind} {ref!r}")
        return row

    @staticmethod
    def _check_fields(objdef: ObjectDef, values: Mapping[str, Any]) -> None:
        for name in values:
            fdef = objdef.get_field(name)
            if fdef is None:
                raise StoreError(f"{objdef.name} has no field {name!r}")
            # a user's or employee's contact fields write through to the shared contact
            through_contact = fdef.derived is not None and fdef.derived[0] == "CONTACT"
            if not through_contact and (fdef.readonly or fdef.derived is not None):
                raise StoreError(f"{objdef.name}.{name} is read-only")

    @staticmethod
    def _pop_contact_values(objdef: ObjectDef, values: dict[str, Any]) -> dict[str, Any]:
        contact: dict[str, Any] = {}
        for name in list(values):
            derived = objdef.get_field(name).derived
            if derived is not None and derived[0] == "CONTACT":
                contact[derived[1]] = values.pop(name)
        return contact

    def _attach_contact(
        self, contact_key: Any, values: dict[str, Any], actor: str | None, source: str, when: int
    ) -> int:
        """The key of the contact a user or employee points at, created or updated from `values`."""
        contacts = self.tables["CONTACT"]
        existing = contacts.find(int(contact_key)) if contact_key not in (None, "") else None
        if existing is None and values.get("CONTACTNAME"):
            existing = contacts.find(values["CONTACTNAME"])
        if existing is not None:
            others = {k: v for k, v in values.items() if k != "CONTACTNAME"}
            if others:
                at = datetime.fromtimestamp(when, UTC)
                self.update(
                    "CONTACT", existing[contacts.key_column], others, actor=actor, source=source, at=at
                )
            return existing[contacts.key_column]
        if not values.get("CONTACTNAME"):
            name = " ".join(str(values.get(part, "")) for part in ("FIRSTNAME", "LASTNAME")).strip()
            if not name:
                raise StoreError("a new contact needs CONTACTNAME or FIRSTNAME/LASTNAME")
            values = {**values, "CONTACTNAME": name}
        values.setdefault("PRINTAS", values["CONTACTNAME"])
        values.setdefault("STATUS", "active")
        created = self.create(
            "CONTACT", values, actor=actor, source=source, at=datetime.fromtimestamp(when, UTC)
        )
        return int(created["RECORDNO"])

    def _resolve_references(self, objdef: ObjectDef, full: dict[str, Any], given: set[str]) -> None:
        """Keep each link's key and ID fields in step (PARENTKEY/PARENTID...) and refuse dangling ones."""
        own_key = full[objdef.key_field]
        for relationship in objdef.relationships:
            target = self.tables[relationship.object]
            id_field, key_field = relationship.id_field, relationship.key_field
            if id_field and id_field in given:
                wanted = full.get(id_field)
                row = target.find(wanted) if wanted else None
                if wanted and row is None:
                    raise StoreError(f"{objdef.name}.{id_field}: no {relationship.object} {wanted!r}")
            elif key_field in given:
                wanted = full.get(key_field)
                row = target.find(int(wanted)) if wanted not in (None, "") else None
                if wanted not in (None, "") and row is None:
                    raise StoreError(f"{objdef.name}.{key_field}: no {relationship.object} with key {wanted}")
            else:
                continue
            full[key_field] = None if row is None else row[target.key_column]
            if id_field:
                full[id_field] = "" if row is None else row[target.id_column]
            if row is not None and relationship.object == objdef.name:
                self._refuse_cycle(target, relationship, row, own_key)

    def _refuse_cycle(self, table: Table, relationship: Relationship, parent: Row, own_key: int) -> None:
        column = table.typed_index[relationship.key_field]
        seen = 0
        while parent is not None:
            if parent[table.key_column] == own_key:
                raise StoreError(f"{table.objdef.name}: {relationship.path} would make a cycle")
            parent = table.by_key.get(parent[column])
            seen += 1
            if seen > len(table.rows):
                break

    def _fill_entity_fields(self, objdef: ObjectDef, full: dict[str, Any], entity: str) -> None:
        prefix = _ENTITY_PREFIX.get(objdef.name)
        if prefix:
            full["ENTITY"] = prefix + str(full[objdef.id_field])
        if not objdef.entity_owned:
            return
        if entity:
            owner = self.entity(entity)
            if owner is None:
                raise StoreError(f"no entity (LOCATIONENTITY) {entity!r}")
            entities = self.tables["LOCATIONENTITY"]
            full["MEGAENTITYKEY"] = owner[entities.key_column]
            full["MEGAENTITYID"] = entity
            full["MEGAENTITYNAME"] = owner[entities.index["NAME"]]
        else:
            full["MEGAENTITYKEY"], full["MEGAENTITYID"], full["MEGAENTITYNAME"] = None, "", ""
        if objdef.name == "EMPLOYEE" and not full.get("LOCATIONID"):
            full["LOCATIONID"] = entity

    def _actor_key(self, actor: str | None) -> int | None:
        login = actor or self.default_actor
        if login is None:
            return None
        user = self.tables["USERINFO"].find(login)
        if user is None:
            raise StoreError(f"actor {login!r} is not a USERINFO LOGINID")
        return user[self.tables["USERINFO"].key_column]

    def _referrers(self, object_name: str, key: int) -> list[str]:
        found = []
        for table in self.tables.values():
            for relationship in table.objdef.relationships:
                if relationship.object != object_name or not relationship.blocks_delete:
                    continue
                column = table.typed_index[relationship.key_field]
                found += [
                    f"{table.objdef.name} {row[table.id_column]!r}"
                    for row in table.rows
                    if row[column] == key
                    and not (table.objdef.name == object_name and row[table.key_column] == key)
                ]
        return found

    def _audit(
        self, objdef: ObjectDef, row: Row, mode: str, actor: str | None, source: str, when: int
    ) -> None:
        record = self.as_dict(objdef.name, row)
        self.append_audit(
            {
                "OBJECTTYPE": objdef.name.lower(),
                "OBJECTKEY": objdef.audit_key.format_map(record),
                "OBJECTDESC": record.get(objdef.name_field, ""),
                "USERID": actor or self.default_actor or "",
                "ACCESSTIME": when,
                "ACCESSMODE": mode,
                "SOURCE": source,
            }
        )
