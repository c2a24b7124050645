"""API usage in the state database: what each run spent, and the month so far against a quota.

Customers pay Intacct per API transaction (a `query` page is one, a sign-in is one), so every call our
client counted is stored here, per run, month, function and object; reports read it back. Calls to
Forecast's REST API are stored beside them (per run, method and resource): its fair-use policy bounds them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, func, insert, select

from intacct.state.schema import forecast_api_usage, intacct_api_usage

# Intacct's default performance tier includes 100,000 API transactions a month.
DEFAULT_MONTHLY_QUOTA = 100_000


@dataclass(frozen=True)
class UsageSummary:
    run_calls: int
    month: str
    month_calls: int
    monthly_quota: int

    @property
    def quota_share(self) -> float:
        return self.month_calls / self.monthly_quota if self.monthly_quota else 0.0

    def line(self) -> str:
        return (
            f"Intacct API calls: {self.run_calls} this run, {self.month_calls:,} in {self.month} "
            f"({self.quota_share:.1%} of the monthly quota of {self.monthly_quota:,})"
        )


def month_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def record_calls(
    engine: Engine, run_id: str, counts: Mapping[tuple[str, str], int], *, at: datetime | None = None
) -> int:
    """Store a drained `CallCounter` for a run; returns the number of calls stored."""
    at = at or datetime.now(UTC)
    rows = [
        {
            "run_id": run_id,
            "month": month_of(at),
            "function": fn,
            "object": obj,
            "calls": n,
            "recorded_at": at,
        }
        for (fn, obj), n in sorted(counts.items())
        if n
    ]
    if rows:
        with engine.begin() as connection:
            connection.execute(insert(intacct_api_usage), rows)
    return sum(r["calls"] for r in rows)


def summary(
    engine: Engine, run_id: str, *, monthly_quota: int = DEFAULT_MONTHLY_QUOTA, at: datetime | None = None
) -> UsageSummary:
    month = month_of(at or datetime.now(UTC))
    total = func.coalesce(func.sum(intacct_api_usage.c.calls), 0)
    with engine.connect() as connection:
        run_calls = connection.execute(select(total).where(intacct_api_usage.c.run_id == run_id)).scalar_one()
        month_calls = connection.execute(select(total).where(intacct_api_usage.c.month == month)).scalar_one()
    return UsageSummary(int(run_calls), month, int(month_calls), monthly_quota)


def record_forecast_calls(
    engine: Engine, run_id: str, counts: Mapping[tuple[str, str], int], *, at: datetime | None = None
) -> int:
    """Store drained Forecast call counts ((method, resource) → calls) for a run; returns the calls stored."""
    at = at or datetime.now(UTC)
    rows = [
        {"run_id": run_id, "method": method, "resource": resource, "calls": n, "recorded_at": at}
        for (method, resource), n in sorted(counts.items())
        if n
    ]
    if rows:
        with engine.begin() as connection:
            connection.execute(insert(forecast_api_usage), rows)
    return sum(r["calls"] for r in rows)


def forecast_line(engine: Engine, run_id: str) -> str | None:
    """ "Forecast API calls: 1,004 this run (4 reads, 1,000 writes)", or None when the run made none."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(forecast_api_usage.c.method, func.sum(forecast_api_usage.c.calls))
            .where(forecast_api_usage.c.run_id == run_id)
            .group_by(forecast_api_usage.c.method)
        ).all()
    reads = sum(int(n) for method, n in rows if method == "GET")
    writes = sum(int(n) for method, n in rows if method != "GET")
    if not reads + writes:
        return None
    return f"Forecast API calls: {reads + writes:,} this run ({reads:,} reads, {writes:,} writes)"
