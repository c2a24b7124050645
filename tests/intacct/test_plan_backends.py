"""The plan says the same thing, word for word, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.intacct.test_plan import customer, stage

from intacct import plan, snapshot
from intacct.forecast.sql import SqlForecastTarget, ensure_forecast_schema
from intacct.forecast.target import NewClient
from intacct.objects import CUSTOMER
from intacct.state import db, migrations


def _plan_reasons(factory) -> dict[str, tuple[str, str | None]]:
    state = db.open_engine(factory.create())
    forecast_engine = db.open_engine(factory.create())
    try:
        migrations.upgrade(state)
        ensure_forecast_schema(forecast_engine)
        forecast = SqlForecastTarget(forecast_engine)
        forecast.create_clients(
            [NewClient(name="ACME Corp."), NewClient(name="Initech"), NewClient(name="Initech LLC")]
        )
        batch = stage(
            state,
            CUSTOMER,
            [
                customer(1, "Acme Corporation"),
                customer(2, "acme corp"),
                customer(3, "Initech, Inc."),
                customer(4, "Globex"),
                customer(5, "Umbrella", status="inactive"),
            ],
        )
        snap = snapshot.take_snapshot(forecast, state, run_id="test")
        result = plan.build_plan(state, "client", batch_id=batch, snapshot_id=snap.id)
        return {r.intacct_key: (r.action, r.reason) for r in plan.plan_rows(state, result.plan_id)}
    finally:
        state.dispose()
        forecast_engine.dispose()


def test_reasons_are_the_same_text_on_both_backends(every_backend):
    reasons = {name: _plan_reasons(factory) for name, factory in every_backend.items()}
    assert reasons["sqlite"] == reasons["postgresql"]
    label = plan.entity("client").key1_label
    assert len(label) > 40  # the label that a VARCHAR(40) cast used to cut on PostgreSQL
    action, reason = reasons["postgresql"]["C1"]
    assert action == "conflict"
    assert reason == f"2 Intacct records have the {label} of Forecast record 1: link it by hand"
    assert reasons["postgresql"]["C3"] == (
        "conflict",
        f"2 Forecast records have the same {label} (ids 2 to 3): link it by hand",
    )
