"""Link existing Forecast clients to Intacct customers (wiring only: the work is in `intacct.airflow`)."""

from __future__ import annotations

from airflow.sdk import dag

from intacct.airflow import dag_params, defaults, pipeline

ENTITY = "client"
DOC = """
### Link Forecast clients to Intacct customers

validate → extract customers → snapshot Forecast → plan → choose links → link → report

**links** is a list of `{"forecast_client_id": 12, "intacct_customer_id": "C-1001"}` pairs; only the named
customers are read from Intacct (one `in` query per 1,000 ids), so linking costs a few API calls whatever
the company's size. Without **links** (and without **unlink**), the whole customer list is read and the
**choose_links** step (Browse → Required Actions) offers the plan's suggested links, with their
confidence and reason (**name_filter** narrows them); what a person picks is linked.

A link is one-to-one: the whole request is refused, with every offending pair named and nothing written, if
a pair names an unknown client or customer, a client already linked, a customer already linked to another
client, or the same record twice. **relink** allows replacing existing links explicitly (audited as an
unlink and a link). **unlink** takes Forecast client ids whose links are removed. **dry_run** checks
everything and writes nothing. Every link and unlink is written to the audit log with the run id.
"""
PARAMS = dag_params.link_params(ENTITY)


@dag(
    dag_id="intacct_link_clients",
    schedule=None,
    tags=["intacct", "forecast", "clients"],
    doc_md=DOC,
    params=PARAMS,
    **defaults.dag_defaults(),
)
def intacct_link_clients():
    pipeline.link_flow(ENTITY, list(PARAMS))


intacct_link_clients()
