"""Link existing Forecast clients to Intacct customers (wiring only: the work is in `intacct.airflow`)."""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from intacct.airflow import defaults, pipeline, run_params
from intacct.airflow import tasks as t
from intacct.apply import LinkRequest

ENTITY = "client"
DOC = """
### Link Forecast clients to Intacct customers

validate → targeted extract of the named customers → snapshot Forecast → plan → link → report

**links** is a list of `{"forecast_client_id": 12, "intacct_customer_id": "C-1001"}` pairs. A link is
one-to-one: the whole request is refused, with every offending pair named and nothing written, if a pair
names an unknown client or customer, a client already linked, a customer already linked to another
client, or the same record twice. **relink** allows replacing existing links explicitly (audited as an
unlink and a link). **unlink** takes Forecast client ids whose links are removed. **dry_run** checks
everything and writes nothing.

Only the named customers are read from Intacct (one `in` query per 1,000 ids), so linking costs a few API
calls whatever the company's size. Every link and unlink is written to the audit log with the run id.
"""

PARAMS = {
    "links": Param(
        [],
        type="array",
        title="Links",
        description='Pairs like {"forecast_client_id": 12, "intacct_customer_id": "C-1001"}.',
        # Only the shape the form needs: the validate task checks every entry and names each bad one
        # (Airflow's schema check would stop at the first, without saying which entry it was).
        items={
            "type": run_params.ANY_ENTRY,
            "properties": {
                "forecast_client_id": {"description": "Forecast client id (a positive integer)"},
                "intacct_customer_id": {"description": "Intacct CUSTOMERID"},
            },
        },
    ),
    "unlink": Param(
        [],
        type="array",
        items={"type": run_params.ANY_ENTRY},
        title="Unlink Forecast client ids",
        description="Forecast client ids, e.g. [12, 13].",
    ),
    "relink": Param(False, type="boolean", title="Replace existing links"),
    "dry_run": Param(False, type="boolean", title="Dry run", description="Check everything; write nothing."),
}


@dag(
    dag_id="intacct_link_clients",
    schedule=None,
    tags=["intacct", "forecast", "clients"],
    doc_md=DOC,
    params=PARAMS,
    **defaults.dag_defaults(),
)
def intacct_link_clients():
    @task(pool=defaults.INTACCT_POOL, pool_slots=defaults.INTACCT_SLOTS, **defaults.EXTRACT_RETRIES)
    def extract_named_customers(**context):
        pairs = run_params.link_pairs(ENTITY, context["params"]["links"])
        run = t.RunContext.from_airflow(context, ENTITY)
        return t.extract_intacct(
            run, "CUSTOMER", keys=[p.intacct_key for p in pairs], slots=defaults.INTACCT_SLOTS
        )

    @task
    def link(plan: dict, **context):
        params = context["params"]
        request = LinkRequest(
            ENTITY,
            links=run_params.link_pairs(ENTITY, params["links"]),
            unlink=run_params.forecast_ids(params["unlink"], "unlink"),
            relink=params["relink"],
            dry_run=params["dry_run"],
        )
        return t.link_selected(t.RunContext.from_airflow(context, ENTITY), plan["plan_id"], request)

    checked = pipeline.validate_task(ENTITY, list(PARAMS))
    batch = extract_named_customers()
    snapshot = pipeline.snapshot_task(ENTITY)
    checked >> [batch, snapshot]
    link(pipeline.plan_task(ENTITY, batch, snapshot)) >> pipeline.report_task(ENTITY)


intacct_link_clients()
