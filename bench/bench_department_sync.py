"""What the hourly department sync's Intacct reads cost, in API calls and seconds (issue 12).

Against the sandbox gateway (in this process, on loopback, 200 ms per request, 2 concurrency slots) with
10,000 departments, into a throwaway SQLite state database (or, with --postgres, a scratch PostgreSQL
database created and dropped here):

- (i) an hourly `read_changes` in which nothing changed, with the user's time zone handed in (what the
  DAG does from its second run on) and without it (its first run); and one for a user without the
  AUDITHISTORY permission;
- (ii) hourly reads after k = 1, 100, 2,000 and 5,000 departments changed (k/2 renamed, k/2 made
  inactive; for k = 1 a rename), each in a freshly generated company whose watermark comes from a full
  compare, so the look-back re-reads nothing but the generator's own newest departments;
- (iii) the full compare (`read_department_ids`, one slot) and, to compare, `extract_full` at 2 slots.

"calls" is our CallCounter; "ledger" the sandbox's count of the functions it received: the two must
agree. "requests" are HTTP round trips. Asserts nothing; prints one Markdown table.

    .venv/bin/python bench/bench_department_sync.py [--departments 10000] [--latency-ms 200] [--postgres]
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]  # the library and the sandbox, as the tests see them

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from intacct import changes  # noqa: E402
from intacct.extract import ExtractOptions, extract_full  # noqa: E402
from intacct.gateway import requests as build  # noqa: E402
from intacct.gateway.client import ClientConfig, IntacctClient  # noqa: E402
from intacct.objects import DEPARTMENT  # noqa: E402
from intacct.state import db, migrations  # noqa: E402
from sandbox.intacct_gateway.clock import Clock  # noqa: E402
from sandbox.intacct_gateway.gateway import DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD  # noqa: E402
from sandbox.intacct_gateway.generator import DEFAULT_USER_ID, DEFAULT_USER_PASSWORD, generate_company  # noqa: E402
from sandbox.intacct_gateway.server import GatewayServer  # noqa: E402
from sandbox.intacct_gateway.store import DEFAULT_COMPANY_ID  # noqa: E402

PG_ADMIN_URL = os.environ.get("INTACCT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
LOOKBACK = timedelta(minutes=15)  # the DAG's (intacct.airflow.sync.LOOKBACK)
PAGE_SIZE = 2000
CHANGES = (1, 100, 2000, 5000)
TARGET_QUIET_CALLS = 3


@dataclass
class Row:
    case: str
    rows: int
    pages: int
    calls: int
    ledger: int
    requests: int
    seconds: float
    note: str = ""


def make_client(server: GatewayServer, *, time_zone=None, slots: int = 2) -> IntacctClient:
    config = ClientConfig(
        sender=build.SenderCredentials(DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD),
        login=build.LoginCredentials(DEFAULT_USER_ID, DEFAULT_COMPANY_ID, DEFAULT_USER_PASSWORD),
        endpoint=server.endpoint,
        slots=slots,
        time_zone=time_zone,
    )
    return IntacctClient(config, now=server.store.clock.now)  # sessions age on the sandbox's clock


def measure(
    server: GatewayServer, case: str, work, client: IntacctClient, note: str = ""
) -> tuple[Row, object]:
    server.ledger.reset()
    started = time.perf_counter()
    result = work(client)
    seconds = time.perf_counter() - started
    batch = getattr(result, "batch", result)
    row = Row(
        case=case,
        rows=batch.rows,
        pages=server.ledger.calls("query", "DEPARTMENT"),
        calls=client.counter.total,
        ledger=server.ledger.calls(),
        requests=len(server.ledger.entries()),
        seconds=seconds,
        note=note,
    )
    client.close()
    return row, result


class Company:
    """A freshly generated company behind a gateway, its full compare done, an hour later on its clock."""

    def __init__(self, departments: int, latency_ms: float, engine, seed: int = 1):
        store = generate_company(seed, customers=5, departments=departments, users=40, clock=Clock(START))
        self.server = GatewayServer(store, latency_ms=latency_ms)
        self.server.start()
        self.engine = engine
        self.zone = None
        self.watermark = None

    def full_compare(self, *, extract_at_slots: int | None = None) -> Row:
        """`read_department_ids`, or with `extract_at_slots` a plain `extract_full` at that many slots."""
        client = make_client(self.server)
        options = ExtractOptions(slots=extract_at_slots, writers=0)
        if extract_at_slots is None:
            case = "(iii) full compare (`read_department_ids`)"
            work = partial(changes.read_department_ids, engine=self.engine, spec=DEPARTMENT, options=options)
        else:
            case = f"(iii) for comparison: `extract_full` at {extract_at_slots} slots"
            work = partial(extract_full, engine=self.engine, spec=DEPARTMENT, options=options)
        row, result = measure(self.server, case, work, client)
        self.zone = client.user_time_zone()
        self.watermark = result.watermark
        self.server.store.clock.advance(3600)
        return row

    def hourly(self, case: str, *, hand_in_zone: bool = True, note: str = "") -> Row:
        client = make_client(self.server, time_zone=self.zone if hand_in_zone else None)
        row, result = measure(
            self.server,
            case,
            lambda c: changes.read_changes(
                c, self.engine, DEPARTMENT, since=self.watermark, lookback=LOOKBACK, run_id=case
            ),
            client,
            note,
        )
        if result.deleted_keys is None:
            row.note = (row.note + "; " if row.note else "") + "deleted_keys None"
        return row

    def change(self, k: int) -> None:
        store = self.server.store
        keys = [r["DEPARTMENTID"] for r in store.records("DEPARTMENT")][:k]
        for i, key in enumerate(keys):
            if i % 2 == 0:
                store.update("DEPARTMENT", key, {"TITLE": f"{key} renamed"})
            else:
                store.update("DEPARTMENT", key, {"STATUS": "inactive"})
        store.clock.advance(60)

    def close(self) -> None:
        self.server.stop()


def scratch_postgres() -> tuple[str, Callable[[], None]]:
    admin = db.open_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    name = f"bench_department_sync_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False), drop


def run(departments: int, latency_ms: float, url: str) -> list[Row]:
    engine = db.open_engine(url)
    migrations.upgrade(engine)
    rows: list[Row] = []
    try:
        company = Company(departments, latency_ms, engine)
        try:
            rows.append(company.full_compare(extract_at_slots=2))
            rows.append(company.full_compare())
            rows.append(
                company.hourly(
                    "(i) nothing changed, zone handed in",
                    note="the look-back re-reads the newest departments",
                )
            )
            rows.append(company.hourly("(i) nothing changed, zone not known", hand_in_zone=False))
            company.server.faults.enable("audit_denied")
            rows.append(company.hourly("(i) nothing changed, AUDITHISTORY denied"))
            company.server.faults.disable("audit_denied")
        finally:
            company.close()
        for k in CHANGES:
            company = Company(departments, latency_ms, engine)
            try:
                company.full_compare()
                company.change(k)
                rows.append(company.hourly(f"(ii) {k:,} changed"))
            finally:
                company.close()
    finally:
        engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--departments", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--postgres", action="store_true", help=f"the state database on {PG_ADMIN_URL}")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-department-sync-"))
    drop = None
    try:
        if args.postgres:
            url, drop = scratch_postgres()
        else:
            url = f"sqlite:///{workdir / 'state.db'}"
        rows = run(args.departments, args.latency_ms, url)
    finally:
        if drop:
            drop()
        shutil.rmtree(workdir, ignore_errors=True)

    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"\n{args.departments:,} departments, sandbox latency {args.latency_ms:g} ms, 2 slots, "
        f"state DB {backend}, look-back {LOOKBACK}, pages of {PAGE_SIZE:,}\n"
    )
    print(
        "| case | rows staged | DEPARTMENT pages | calls (CallCounter) | calls (ledger) | requests | seconds | |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r.case} | {r.rows:,} | {r.pages} | {r.calls} | {r.ledger} | {r.requests} | {r.seconds:.2f} "
            f"| {r.note} |"
        )
    quiet = next(r for r in rows if r.case.startswith("(i) nothing changed, zone handed in"))
    print(
        f"\ntarget: an hour without changes costs at most {TARGET_QUIET_CALLS} calls; measured {quiet.calls} "
        f"({'met' if quiet.calls <= TARGET_QUIET_CALLS else 'NOT met'})"
    )
    full = next(r for r in rows if r.case.startswith("(iii) full compare"))
    print(
        f"full compare: {full.pages} DEPARTMENT queries for ceil({args.departments:,} / {PAGE_SIZE:,}) = "
        f"{math.ceil(args.departments / PAGE_SIZE)} pages; {full.calls} calls in all"
    )


if __name__ == "__main__":
    main()
