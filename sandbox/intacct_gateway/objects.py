"""The Intacct objects the sandbox serves: their fields, types, keys and relationships.

Field names, order and types follow the objects' `lookup` output as captured from real companies
(reference §5 and recorded tap fixtures). A field is either stored on the record or derived through a
relationship at read time (e.g. a department's PARENTNAME, an employee's PERSONALINFO.* from the contact
it shares with its user), so a change to the related record shows up without bumping WHENMODIFIED, as
in Intacct.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class DataType(StrEnum):
    TEXT = "TEXT"
    INTEGER = "INTEGER"
    BOOLEAN = "BOOLEAN"
    DATE = "DATE"
    TIMESTAMP = "TIMESTAMP"
    ENUM = "ENUM"
    DECIMAL = "DECIMAL"
    CURRENCY = "CURRENCY"


@dataclass(frozen=True)
class EnumValue:
    """One valid value: as `query` shows it, its database character, and its readByQuery wording."""

    value: str
    db: str = ""
    legacy: str = ""  # readByQuery's wording where it differs from `query` (AUDITHISTORY.ACCESSMODE)


@dataclass(frozen=True)
class FieldDef:
    name: str
    datatype: DataType = DataType.TEXT
    label: str = ""
    required: bool = False
    readonly: bool = False
    values: tuple[EnumValue, ...] = ()
    # (relationship path, field of the related object) for a field computed at read time
    derived: tuple[str, str] | None = None

    @property
    def stored(self) -> bool:
        return self.derived is None


@dataclass(frozen=True)
class Relationship:
    """A many-to-one link, usable as a dotted path in `query` when public (CONTACT.EMAIL1)."""

    path: str
    object: str
    key_field: str  # the integer field on this object that holds the related record's key
    id_field: str = ""  # the field on this object that holds the related record's ID, kept in step
    label: str = ""
    public: bool = True
    blocks_delete: bool = True  # the related record cannot be deleted while this link points at it


@dataclass(frozen=True)
class ObjectDef:
    name: str
    fields: tuple[FieldDef, ...]
    id_field: str  # readByName's key, unique per company
    name_field: str  # what AUDITHISTORY.OBJECTDESC shows
    audit_key: str  # str.format template of AUDITHISTORY.OBJECTKEY over the record's fields
    key_field: str = "RECORDNO"
    relationships: tuple[Relationship, ...] = ()
    entity_owned: bool = False  # records carry MEGAENTITY* and may be private to an entity
    audited: bool = True
    _by_name: dict[str, FieldDef] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update((f.name, f) for f in self.fields)

    def get_field(self, name: str) -> FieldDef | None:
        return self._by_name.get(name)

    def relationship(self, path: str) -> Relationship | None:
        return next((r for r in self.relationships if r.path == path), None)

    @property
    def legacy_name(self) -> str:
        """readByQuery's lower-case list and record tag."""
        return self.name.lower()


ACTIVE_INACTIVE = (EnumValue("active", "T"), EnumValue("inactive", "F"))


def _text(name: str, label: str = "", required: bool = False) -> FieldDef:
    return FieldDef(name, DataType.TEXT, label or name.title(), required)


def _int(name: str, label: str = "", readonly: bool = False) -> FieldDef:
    return FieldDef(name, DataType.INTEGER, label or name.title(), readonly=readonly)


def _bool(name: str, label: str = "") -> FieldDef:
    return FieldDef(name, DataType.BOOLEAN, label or name.title())


def _enum(name: str, values: tuple[EnumValue, ...], label: str = "") -> FieldDef:
    return FieldDef(name, DataType.ENUM, label or name.title(), values=values)


def _derived(name: str, path: str, target: str, label: str = "") -> FieldDef:
    return FieldDef(name, DataType.TEXT, label or name.title(), readonly=True, derived=(path, target))


def _stamps() -> tuple[FieldDef, ...]:
    return (
        FieldDef("WHENCREATED", DataType.TIMESTAMP, "When created", readonly=True),
        FieldDef("WHENMODIFIED", DataType.TIMESTAMP, "When modified", readonly=True),
        _int("CREATEDBY", "Created by", readonly=True),
        _int("MODIFIEDBY", "Modified by", readonly=True),
    )


def _megaentity() -> tuple[FieldDef, ...]:
    return (
        _int("MEGAENTITYKEY", "Owner entity key", readonly=True),
        FieldDef("MEGAENTITYID", DataType.TEXT, "Owner entity ID", readonly=True),
        FieldDef("MEGAENTITYNAME", DataType.TEXT, "Owner entity name", readonly=True),
    )


CONTACT_PARTS = (
    "CONTACTNAME", "PREFIX", "FIRSTNAME", "INITIAL", "LASTNAME", "COMPANYNAME", "PRINTAS", "PHONE1",
    "PHONE2", "CELLPHONE", "PAGER", "FAX", "EMAIL1", "EMAIL2", "URL1", "URL2",
)  # fmt: skip
ADDRESS_PARTS = ("ADDRESS1", "ADDRESS2", "CITY", "STATE", "ZIP", "COUNTRY", "COUNTRYCODE")


def _contact_view(prefix: str) -> tuple[FieldDef, ...]:
    """A contact's fields seen through another object (USERINFO.CONTACTINFO.*, EMPLOYEE.PERSONALINFO.*)."""
    names = [*CONTACT_PARTS, *(f"MAILADDRESS.{part}" for part in ADDRESS_PARTS)]
    return tuple(_derived(f"{prefix}.{name}", "CONTACT", name) for name in names)


CONTACT = ObjectDef(
    name="CONTACT",
    id_field="CONTACTNAME",
    name_field="PRINTAS",
    audit_key="{CONTACTNAME}",
    fields=(
        _int("RECORDNO", "Record number", readonly=True),
        _text("CONTACTNAME", "Contact name", required=True),
        *(_text(part) for part in CONTACT_PARTS[1:]),
        _bool("TAXABLE"),
        _bool("VISIBLE"),
        *(_text(f"MAILADDRESS.{part}") for part in ADDRESS_PARTS),
        _enum("STATUS", ACTIVE_INACTIVE, "Status"),
        *_stamps(),
    ),
)

CUSTOMER = ObjectDef(
    name="CUSTOMER",
    id_field="CUSTOMERID",
    name_field="NAME",
    audit_key="{CUSTOMERID}",
    entity_owned=True,
    relationships=(Relationship("PARENT", "CUSTOMER", "PARENTKEY", "PARENTID", "Parent customer"),),
    fields=(
        _int("RECORDNO", "Record number", readonly=True),
        _text("CUSTOMERID", "Customer ID", required=True),
        _text("NAME", "Customer name", required=True),
        FieldDef("ENTITY", DataType.TEXT, "Entity", readonly=True),
        _int("PARENTKEY", "Parent key"),
        _text("PARENTID", "Parent customer ID"),
        _derived("PARENTNAME", "PARENT", "NAME", "Parent customer name"),
        *(
            _text(f"DISPLAYCONTACT.{part}")
            for part in (
                "CONTACTNAME",
                "COMPANYNAME",
                "PREFIX",
                "FIRSTNAME",
                "LASTNAME",
                "INITIAL",
                "PRINTAS",
            )
        ),
        _bool("DISPLAYCONTACT.TAXABLE"),
        *(
            _text(f"DISPLAYCONTACT.{part}")
            for part in ("PHONE1", "PHONE2", "CELLPHONE", "FAX", "EMAIL1", "EMAIL2", "URL1")
        ),
        _bool("DISPLAYCONTACT.VISIBLE"),
        *(_text(f"DISPLAYCONTACT.MAILADDRESS.{part}") for part in ADDRESS_PARTS),
        _text("TERMNAME", "Term"),
        _text("CUSTREPID", "Sales rep ID"),
        _text("CUSTREPNAME", "Sales rep name"),
        _text("TAXID", "Tax ID"),
        FieldDef("CREDITLIMIT", DataType.DECIMAL, "Credit limit"),
        FieldDef("TOTALDUE", DataType.CURRENCY, "Total due", readonly=True),
        _text("COMMENTS", "Comments"),
        _text("CUSTTYPE", "Customer type"),
        _int("GLGRPKEY", "GL group key"),
        _text("GLGROUP", "GL group"),
        _text("CURRENCY", "Currency"),
        _enum("STATUS", ACTIVE_INACTIVE, "Status"),
        _bool("ONETIME", "One time"),
        _bool("ONHOLD", "On hold"),
        *_stamps(),
        _enum("OBJECTRESTRICTION", (EnumValue("Unrestricted"), EnumValue("Restricted")), "Restriction"),
        _int("DISPLAYCONTACTKEY", "Display contact key", readonly=True),
        *_megaentity(),
    ),
)

DEPARTMENT = ObjectDef(
    name="DEPARTMENT",
    id_field="DEPARTMENTID",
    name_field="TITLE",
    audit_key="{RECORDNO}--REC",
    relationships=(
        Relationship("PARENT", "DEPARTMENT", "PARENTKEY", "PARENTID", "Parent department"),
        Relationship("SUPERVISOR", "EMPLOYEE", "SUPERVISORKEY", "SUPERVISORID", public=False),
        Relationship("CREATOR", "USERINFO", "CREATEDBY", public=False, blocks_delete=False),
        Relationship("MODIFIER", "USERINFO", "MODIFIEDBY", public=False, blocks_delete=False),
    ),
    fields=(
        _text("DEPARTMENTID", "Department ID", required=True),
        _int("RECORDNO", "Record number", readonly=True),
        _text("TITLE", "Department name", required=True),
        _int("PARENTKEY", "Parent key"),
        _text("PARENTID", "Parent department ID"),
        _derived("PARENTNAME", "PARENT", "TITLE", "Parent department name"),
        _int("SUPERVISORKEY", "Manager key"),
        _text("SUPERVISORID", "Manager employee ID"),
        FieldDef("WHENCREATED", DataType.TIMESTAMP, "When created", readonly=True),
        FieldDef("WHENMODIFIED", DataType.TIMESTAMP, "When modified", readonly=True),
        _derived("SUPERVISORNAME", "SUPERVISOR", "CONTACT_NAME", "Manager name"),
        _enum(
            "STATUS",
            (*ACTIVE_INACTIVE, EnumValue("active non-posting", "N")),
            "Status",
        ),
        _text("CUSTTITLE", "Title on reports"),
        _int("CREATEDBY", "Created by", readonly=True),
        _int("MODIFIEDBY", "Modified by", readonly=True),
        _derived("CREATEDBYLOGINID", "CREATOR", "LOGINID", "Created by user"),
        _derived("MODIFIEDBYLOGINID", "MODIFIER", "LOGINID", "Modified by user"),
    ),
)

USERINFO = ObjectDef(
    name="USERINFO",
    id_field="LOGINID",
    name_field="DESCRIPTION",
    audit_key="{LOGINID}",
    relationships=(Relationship("CONTACT", "CONTACT", "CONTACTKEY", public=False),),
    fields=(
        _int("RECORDNO", "Record number", readonly=True),
        _text("LOGINID", "User ID", required=True),
        _text("DESCRIPTION", "User name"),
        _enum(
            "USERTYPE",
            (
                EnumValue("business user", "B"),
                EnumValue("employee user", "E"),
                EnumValue("view only user", "R"),
            ),
            "User type",
        ),
        _bool("ADMIN", "Admin privileges"),
        _enum(
            "STATUS",
            (*ACTIVE_INACTIVE, EnumValue("lockedout", "L")),
            "Status",
        ),
        _bool("LOGINDISABLED", "Web services only"),
        _bool("SSO_ENABLED", "Single sign on"),
        _text("SSO_FEDERATED_ID", "Federated SSO user ID"),
        _int("CONTACTKEY", "Contact key", readonly=True),
        *_contact_view("CONTACTINFO"),
        *_stamps(),
    ),
)

EMPLOYEE = ObjectDef(
    name="EMPLOYEE",
    id_field="EMPLOYEEID",
    name_field="CONTACT_NAME",
    audit_key="{RECORDNO}--REC",
    entity_owned=True,
    relationships=(
        Relationship("CONTACT", "CONTACT", "CONTACTKEY", label="Primary contact"),
        Relationship("SUPERVISOR", "EMPLOYEE", "PARENTKEY", "SUPERVISORID", public=False),
        Relationship("DEPARTMENT", "DEPARTMENT", "DEPARTMENTKEY", "DEPARTMENTID", public=False),
    ),
    fields=(
        _int("RECORDNO", "Record number", readonly=True),
        _text("EMPLOYEEID", "Employee ID", required=True),
        _text("SSN", "Social security number"),
        _text("TITLE", "Title"),
        _text("LOCATIONID", "Location ID"),
        _text("DEPARTMENTID", "Department ID"),
        _int("DEPARTMENTKEY", "Department key", readonly=True),
        _int("PARENTKEY", "Manager key"),
        _text("SUPERVISORID", "Manager employee ID"),
        _derived("SUPERVISORNAME", "SUPERVISOR", "CONTACT_NAME", "Manager name"),
        FieldDef("BIRTHDATE", DataType.DATE, "Birth date"),
        FieldDef("STARTDATE", DataType.DATE, "Start date"),
        FieldDef("ENDDATE", DataType.DATE, "End date"),
        _enum("STATUS", ACTIVE_INACTIVE, "Status"),
        _text("EMPLOYEETYPE", "Employee type"),
        _text("EMPLOYEETYPE1099TYPE", "Form 1099 type"),
        _enum("GENDER", (EnumValue("male"), EnumValue("female")), "Gender"),
        _text("TERMINATIONTYPE", "Termination type"),
        _derived("CONTACT_NAME", "CONTACT", "CONTACTNAME", "Contact name"),
        *_contact_view("PERSONALINFO"),
        FieldDef("ENTITY", DataType.TEXT, "Entity", readonly=True),
        _text("CURRENCY", "Currency"),
        *_stamps(),
        _text("CLASSID", "Class ID"),
        _int("PAYMETHODKEY", "Payment method key"),
        _int("CONTACTKEY", "Contact key"),
        *_megaentity(),
    ),
)

LOCATIONENTITY = ObjectDef(
    name="LOCATIONENTITY",
    id_field="LOCATIONID",
    name_field="NAME",
    audit_key="{LOCATIONID}",
    fields=(
        _int("RECORDNO", "Record number", readonly=True),
        _text("LOCATIONID", "Entity ID", required=True),
        _text("NAME", "Entity name", required=True),
        _text("REPORTPRINTAS", "Report print as"),
        _text("CURRENCY", "Base currency"),
        FieldDef("STARTDATE", DataType.DATE, "Start date"),
        _enum("STATUS", ACTIVE_INACTIVE, "Status"),
        *_stamps(),
    ),
)

ACCESS_MODES = (
    EnumValue("A", "A", "Access"),
    EnumValue("M", "M", "Modify"),
    EnumValue("C", "C", "Create"),
    EnumValue("D", "D", "Delete"),
    EnumValue("W", "W", "Workflow"),
    EnumValue("T", "T", "Trigger"),
    EnumValue("U", "U", "Unknown"),
)

AUDITHISTORY = ObjectDef(
    name="AUDITHISTORY",
    key_field="ID",
    id_field="ID",
    name_field="OBJECTDESC",
    audit_key="{ID}",
    audited=False,
    fields=(
        _int("ID", "ID", readonly=True),
        _text("OBJECTTYPE", "Object type"),
        _text("OBJECTKEY", "Object key"),
        _text("OBJECTDESC", "Object description"),
        _text("USERID", "User ID"),
        FieldDef("ACCESSTIME", DataType.TIMESTAMP, "Access time", readonly=True),
        _enum("ACCESSMODE", ACCESS_MODES, "Access mode"),
        _text("IPADDRESS", "IP address"),
        _enum(
            "SOURCE",
            (EnumValue("api"), EnumValue("csv"), EnumValue("system"), EnumValue("ui")),
            "Source",
        ),
        _text("WORKFLOWACTION", "Workflow action"),
    ),
)

OBJECTS: dict[str, ObjectDef] = {
    o.name: o for o in (CUSTOMER, DEPARTMENT, USERINFO, EMPLOYEE, CONTACT, LOCATIONENTITY, AUDITHISTORY)
}
