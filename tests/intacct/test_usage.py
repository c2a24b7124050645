from __future__ import annotations

from datetime import UTC, datetime

from intacct import usage
from intacct.gateway.counter import CallCounter


def test_run_and_month_totals_against_the_quota(state_engine):
    november = datetime(2026, 11, 25, 12, tzinfo=UTC)
    counter = CallCounter()
    counter.record("getAPISession")
    for _ in range(50):
        counter.record("query", "CUSTOMER")
    assert usage.record_calls(state_engine, "run-a", counter.drain(), at=november) == 51
    assert counter.total == 0  # drained: nothing is stored twice

    usage.record_calls(state_engine, "run-b", {("query", "DEPARTMENT"): 4}, at=november)
    usage.record_calls(
        state_engine, "run-old", {("query", "CUSTOMER"): 1000}, at=datetime(2026, 10, 31, tzinfo=UTC)
    )

    summary = usage.summary(state_engine, "run-a", monthly_quota=1000, at=november)
    assert (summary.run_calls, summary.month, summary.month_calls) == (51, "2026-11", 55)
    assert (
        summary.line() == "Intacct API calls: 51 this run, 55 in 2026-11 (5.5% of the monthly quota of 1,000)"
    )


def test_a_run_without_calls_reports_zero(state_engine):
    summary = usage.summary(state_engine, "nothing-yet")
    assert summary.run_calls == 0 and summary.month_calls == 0
