"""Import Intacct users as Forecast team members (wiring only: the work is in `intacct.airflow`)."""

from __future__ import annotations

from airflow.sdk import Param, dag

from intacct.airflow import dag_params, defaults, pipeline

ENTITY = "person"
DOC = """
### Import Intacct users as Forecast team members

validate → extract users (+ employees and departments when assigning) → snapshot Forecast → plan →
choose users → import selected → report

Choose the **permission_level** every imported person gets (a Forecast permission profile). Trigger with
**user_ids** (Intacct LOGINIDs), or leave it empty and answer the **choose_users** step (Browse → Required
Actions): a multi-select of the importable users by name and email (**name_filter** narrows it), or set
**select_all**. Each selected user becomes a Forecast person (first and last name, email; active unless the
user is inactive in Intacct) and is linked to them; users already linked, and users whose email already
belongs to a Forecast person (a suggested link: link them with `intacct_link_team_members`), are not
imported twice. Web-services-only and login-disabled users are offered only with **include_inactive**;
users without an email cannot be team members and are refused by name.

**assign_departments** gives each imported person the Forecast department linked to their Intacct
employee's department (user → employee → department), and re-assigns team members synced before whose
Intacct department changed. People whose department is not linked get none; the report lists them with
the Intacct department to import first. It is refused when no department is linked yet.
**dry_run** writes nothing and reports what would happen.
"""
PARAMS = dag_params.import_params(
    ENTITY,
    permission_level=Param(
        None,
        type=["null", "string"],
        enum=[None, *dag_params.permission_levels()],
        title="Permission level",
        description="The Forecast permission profile every imported team member gets (required).",
    ),
    assign_departments=Param(
        False,
        type="boolean",
        title="Assign to their Intacct departments",
        description="Give each person the Forecast department linked to their Intacct employee's "
        "department, and re-assign synced team members whose department changed.",
    ),
)


@dag(
    dag_id="intacct_import_team_members",
    schedule=None,
    tags=["intacct", "forecast", "team-members"],
    doc_md=DOC,
    params=PARAMS,
    **defaults.dag_defaults(),
)
def intacct_import_team_members():
    pipeline.import_flow(
        ENTITY,
        list(PARAMS),
        side_objects=[("EMPLOYEE", "assign_departments"), ("DEPARTMENT", "assign_departments")],
    )


intacct_import_team_members()
