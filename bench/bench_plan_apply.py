"""Benchmark the plan (the diff) and the import (apply), on SQLite and PostgreSQL.

    .venv/bin/python bench/bench_plan_apply.py [--sizes 10000 100000] [--imports 10000] [--backends sqlite postgresql]

Plan: N Intacct customers (staged as an extraction would) against N Forecast clients, half of them with
the name of a customer (so half the rows become suggestions, half importable); only `build_plan` is timed.
Apply: importing `--imports` customers (intents, Forecast writes, links, audit rows) against a baseline
that writes the same Forecast clients and links one INSERT and one commit at a time.
PostgreSQL runs in scratch databases on 127.0.0.1:5432 that are dropped afterwards.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins")]

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from intacct import apply, plan, snapshot, staging  # noqa: E402
from intacct.forecast import sql as forecast_sql  # noqa: E402
from intacct.forecast.target import NewClient  # noqa: E402
from intacct.objects import CUSTOMER  # noqa: E402
from intacct.state import db, migrations  # noqa: E402
from intacct.state.schema import intacct_audit, intacct_link  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def scratch_database(backend: str, workdir: Path):
    name = f"bench_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        yield f"sqlite:///{workdir / (name + '.db')}"
        return
    admin = db.open_engine(PG_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def customer(n: int) -> dict[str, str]:
    return {
        "RECORDNO": str(n),
        "CUSTOMERID": f"C{n:07d}",
        "NAME": f"Customer {n} Holding GmbH",
        "STATUS": "active",
        "DISPLAYCONTACT.MAILADDRESS.ADDRESS1": f"Hauptstraße {n % 200}",
        "DISPLAYCONTACT.MAILADDRESS.CITY": "München",
        "DISPLAYCONTACT.MAILADDRESS.COUNTRY": "Germany",
        "TAXID": f"DE{n:09d}",
    }


def stage_customers(state, count: int) -> int:
    batch_id = staging.begin_batch(state, CUSTOMER, "full", "bench")
    for start in range(1, count + 1, 2000):
        rows = [CUSTOMER.to_row(customer(n), UTC) for n in range(start, min(start + 2000, count + 1))]
        staging.insert_rows(state, CUSTOMER, batch_id, rows)
    staging.complete_batch(state, CUSTOMER, batch_id, api_calls=0, watermark=None)
    return batch_id


def seed_forecast(target, count: int) -> None:
    # Half share a customer's name (other case: a suggestion), half are Forecast's own clients.
    clients = [
        NewClient(name=(f"CUSTOMER {n} HOLDING GMBH" if n % 2 else f"Forecast Own {n} Ltd"))
        for n in range(1, count + 1)
    ]
    for start in range(0, count, 5000):
        target.create_clients(clients[start : start + 5000])


def bench_plan(backend: str, size: int, workdir: Path) -> dict[str, object]:
    with scratch_database(backend, workdir) as state_url, scratch_database(backend, workdir) as forecast_url:
        state, forecast = db.open_engine(state_url), db.open_engine(forecast_url)
        migrations.upgrade(state)
        forecast_sql.ensure_forecast_schema(forecast)
        target = forecast_sql.SqlForecastTarget(forecast)
        batch_id = stage_customers(state, size)
        seed_forecast(target, size)
        snap = snapshot.take_snapshot(target, state, run_id="bench")
        started = time.perf_counter()
        result = plan.build_plan(state, "client", batch_id=batch_id, snapshot_id=snap.id)
        seconds = time.perf_counter() - started
        state.dispose()
        forecast.dispose()
    return {"backend": backend, "size": size, "seconds": seconds, "counts": result.counts}


def bench_apply(backend: str, imports: int, workdir: Path) -> dict[str, object]:
    keys = tuple(f"C{n:07d}" for n in range(1, imports + 1))
    with scratch_database(backend, workdir) as state_url, scratch_database(backend, workdir) as forecast_url:
        state, forecast = db.open_engine(state_url), db.open_engine(forecast_url)
        migrations.upgrade(state)
        forecast_sql.ensure_forecast_schema(forecast)
        target = forecast_sql.SqlForecastTarget(forecast)
        batch_id = stage_customers(state, imports)
        snap = snapshot.take_snapshot(target, state, run_id="bench")
        plan_id = plan.build_plan(state, "client", batch_id=batch_id, snapshot_id=snap.id).plan_id
        started = time.perf_counter()
        outcome = apply.import_selected(
            state, target, plan_id, apply.ImportRequest("client", keys), run_id="bench"
        )
        batched = time.perf_counter() - started
        assert len(outcome.created) == imports, outcome.counts()
        state.dispose()
        forecast.dispose()

    with scratch_database(backend, workdir) as state_url, scratch_database(backend, workdir) as forecast_url:
        state, forecast = db.open_engine(state_url), db.open_engine(forecast_url)
        migrations.upgrade(state)
        forecast_sql.ensure_forecast_schema(forecast)
        rows = [CUSTOMER.to_row(customer(n), UTC) for n in range(1, imports + 1)]
        started = time.perf_counter()
        for row in rows:  # the naive way: one statement and one commit per row, per table
            now = datetime.now(UTC)
            with forecast.begin() as connection:
                forecast_id = connection.execute(
                    insert(forecast_sql.client)
                    .values(
                        created_at=now,
                        updated_at=now,
                        name=row["fc_name"],
                        street=row["fc_street"],
                        city=row["fc_city"],
                        country=row["fc_country"],
                        vat_number=row["fc_vat_number"],
                    )
                    .returning(forecast_sql.client.c.id)
                ).scalar_one()
            with state.begin() as connection:
                connection.execute(
                    insert(intacct_link).values(
                        entity_type="client",
                        forecast_id=forecast_id,
                        intacct_key=row["customer_id"],
                        origin="import",
                        linked_at=now,
                    )
                )
            with state.begin() as connection:
                connection.execute(
                    insert(intacct_audit).values(
                        at=now,
                        action="import",
                        entity_type="client",
                        forecast_id=forecast_id,
                        intacct_key=row["customer_id"],
                    )
                )
        naive = time.perf_counter() - started
        state.dispose()
        forecast.dispose()
    return {"backend": backend, "imports": imports, "seconds": batched, "naive_seconds": naive}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--imports", type=int, default=10_000)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
        workdir = Path(tmp)
        print("| backend | Intacct customers x Forecast clients | plan seconds | rows/s |")
        print("|---|---:|---:|---:|")
        plans = {}
        for backend in args.backends:
            for size in args.sizes:
                r = bench_plan(backend, size, workdir)
                plans[backend, size] = r["seconds"]
                print(
                    f"| {backend} | {size:,} x {size:,} | {r['seconds']:.2f} | {size / r['seconds']:,.0f} |"
                )
        for backend in args.backends:
            small, large = min(args.sizes), max(args.sizes)
            if small != large:
                growth = plans[backend, large] / plans[backend, small]
                print(
                    f"{backend}: {small:,} → {large:,} took {growth:.1f}x as long ({large // small}x the data)"
                )
        print()
        print("| backend | imports | batched seconds | one row per statement and commit | speed-up |")
        print("|---|---:|---:|---:|---:|")
        for backend in args.backends:
            r = bench_apply(backend, args.imports, workdir)
            print(
                f"| {backend} | {r['imports']:,} | {r['seconds']:.2f} | {r['naive_seconds']:.2f} | "
                f"{r['naive_seconds'] / r['seconds']:.1f}x |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
