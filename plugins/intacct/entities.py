"""The entity registry: everything that differs between clients, departments and team members.

Each entry names the Intacct object and key an entity comes from, its Forecast side, the params a DAG
takes for it, the keys of a link pair, what the Forecast target must support to create it, and how its
plan matches records. The DAGs, the selection step, request checks, apply and the reports read these
entries instead of keeping tables of their own, so a fourth entity is one more entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from intacct.forecast import target as ft


@dataclass(frozen=True)
class Entity:
    entity_type: str  # client | department | person: the name used in the state database
    intacct_object: str  # the Intacct object it is extracted from
    intacct_key: str  # that object's immutable key, which links hold
    intacct_records: str  # the Intacct records, in a sentence: "customers"
    forecast_record: str  # the Forecast record, in a sentence: "client"
    forecast_records: str  # plural: "clients"
    ids_param: str  # the import DAG's param naming Intacct ids
    link_keys: tuple[str, str]  # keys of one pair of a link DAG's `links`: (Forecast id, Intacct id)
    create_capability: str  # what a ForecastTarget must support to import it
    list_method: str  # the ForecastTarget method listing its records
    create_method: str  # … and creating them
    new_record: type  # the ForecastTarget payload of one record to create
    # The plan: the Forecast fields compared (the order of v1..v6) and how records are matched.
    fields: tuple[str, ...]
    key1_label: str
    key1_confidence: float
    key2_label: str = ""
    key2_confidence: float = 0.0
    key1_unique: bool = False  # two Intacct records sharing key1 is a conflict (users' emails)
    # When the target cannot create these (departments over Forecast's public API), an import links each
    # selected record to the Forecast record its plan matched by name instead.
    link_by_name: bool = False


ENTITIES: dict[str, Entity] = {
    e.entity_type: e
    for e in (
        Entity(
            "client",
            "CUSTOMER",
            "CUSTOMERID",
            intacct_records="customers",
            forecast_record="client",
            forecast_records="clients",
            ids_param="customer_ids",
            link_keys=("forecast_client_id", "intacct_customer_id"),
            create_capability=ft.CREATE_CLIENTS,
            list_method="list_clients",
            create_method="create_clients",
            new_record=ft.NewClient,
            fields=("name", "street", "zip", "city", "country", "vat_number"),
            key1_label="name (ignoring case, accents, punctuation and legal suffixes)",
            key1_confidence=0.9,
        ),
        Entity(
            "department",
            "DEPARTMENT",
            "DEPARTMENTID",
            intacct_records="departments",
            forecast_record="department",
            forecast_records="departments",
            ids_param="department_ids",
            link_keys=("forecast_department_id", "intacct_department_id"),
            create_capability=ft.CREATE_DEPARTMENTS,
            list_method="list_departments",
            create_method="create_departments",
            new_record=ft.NewDepartment,
            fields=("name",),
            key1_label="name (ignoring case, accents and punctuation)",
            key1_confidence=0.9,
            link_by_name=True,
        ),
        Entity(
            "person",
            "USERINFO",
            "LOGINID",
            intacct_records="users",
            forecast_record="person",
            forecast_records="people",
            ids_param="user_ids",
            link_keys=("forecast_person_id", "intacct_user_id"),
            create_capability=ft.CREATE_PEOPLE,
            list_method="list_people",
            create_method="create_people",
            new_record=ft.NewPerson,
            fields=("first_name", "last_name", "email"),
            key1_label="email",
            key1_confidence=0.95,
            key2_label="name",
            key2_confidence=0.6,
            key1_unique=True,
        ),
    )
}
ENTITY_TYPES = tuple(ENTITIES)


def entity(entity_type: str) -> Entity:
    try:
        return ENTITIES[entity_type]
    except KeyError:
        raise ValueError(
            f"unknown entity type {entity_type!r}: expected one of {', '.join(ENTITIES)}"
        ) from None
