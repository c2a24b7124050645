"""Link existing Forecast people to Intacct users (wiring only: the work is in `intacct.airflow`)."""

from __future__ import annotations

from airflow.sdk import dag

from intacct.airflow import dag_params, defaults, pipeline

ENTITY = "person"
DOC = """
### Link Forecast team members to Intacct users

validate → extract users → snapshot Forecast → plan → choose links → link → report

**links** is a list of `{"forecast_person_id": 7, "intacct_user_id": "jdoe"}` pairs; only the named users
are read from Intacct. Without **links** (and without **unlink**), all users are read and the
**choose_links** step (Browse → Required Actions) offers the plan's suggested links — same email (95%),
else same name (60%) — with their reason (**name_filter** narrows them); what a person picks is linked.

A link is one-to-one: the whole request is refused, with every offending pair named and nothing written, if
a pair names an unknown person or user, a person already linked, a user linked to another person (unless
**relink**), or the same record twice. **unlink** takes Forecast person ids whose links are removed.
**dry_run** checks everything and writes nothing. Every link and unlink is audited with the run id.
"""
PARAMS = dag_params.link_params(ENTITY)


@dag(
    dag_id="intacct_link_team_members",
    schedule=None,
    tags=["intacct", "forecast", "team-members"],
    doc_md=DOC,
    params=PARAMS,
    **defaults.dag_defaults(),
)
def intacct_link_team_members():
    pipeline.link_flow(ENTITY, list(PARAMS))


intacct_link_team_members()
