"""How fast and how lean a full CUSTOMER extraction is, against the sandbox gateway, beside `sageintacctsdk`.

Starts `python -m sandbox.intacct_gateway` in its own process on a free loopback port (latency 200 ms,
2 concurrency slots), then runs every measurement in a fresh child process, so the peak RSS it reports
is the extraction's own (never the sandbox's, never an earlier run's):

- our `extract_full` of CUSTOMER into a throwaway SQLite state database, at customers/10 and at
  customers with 2 slots (peak memory must not grow with the company), and at customers with 4 slots
  (the sandbox switched to 4 slots through its admin API);
- optionally (--postgres) the same into a scratch PostgreSQL database, created and dropped here;
- `sageintacctsdk`'s `Customers.get_all()` for the same customers and fields, at 2 and at 4 slots
  (the SDK is sequential; its API objects are pointed at the sandbox by wrapping `ApiBase.__init__`,
  since each one keeps Intacct's URL in a private attribute and only the login follows the endpoint).

Each row also shows the CPU seconds the measured process spent (its writer processes not included) and
the peak RSS of each writer process, which big extractions start to convert and store pages
(`intacct.extract_writers`). The "fetch only" rows are a diagnostic: the same extraction with the rows neither
converted nor stored (no writer starts).

Prints one table and the speed-ups; the issue's targets are printed beside the numbers, never asserted.

    .venv/bin/python bench/bench_extract.py [--customers 100000] [--quick] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]  # the library and the sandbox, as the tests see them
PAGE_SIZE = 2000
PG_ADMIN_URL = os.environ.get("INTACCT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CHILD_TIMEOUT = 900  # seconds; a stuck child must not keep the benchmark alive
TARGET_FLOOR_RATIO = 1.5
TARGET_RSS_GROWTH = 0.20
TARGET_SPEEDUP = {2: 1.8, 4: 3.5}


def _child_env() -> dict[str, str]:
    path = os.pathsep.join([str(REPO / "plugins"), str(REPO), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path.rstrip(os.pathsep)}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak RSS (this one by default). Not getrusage's ru_maxrss: Linux carries that over an
    exec from the forked parent, so a child would report the benchmark's own peak."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (the benchmark needs Linux)")


# -- the child processes -------------------------------------------------------------------------------


def child_ours(endpoint: str, slots: int, db_url: str, *, store: bool = True) -> dict:
    """One full CUSTOMER extraction with our client; timed from the client's creation to the batch.

    `store=False` is a diagnostic: pages are fetched and paged exactly the same, but their rows are
    neither converted nor inserted, which shows what the fetching alone costs.
    """
    from intacct import extract, extract_writers
    from intacct.gateway import requests as build
    from intacct.gateway.client import ClientConfig, IntacctClient
    from intacct.objects import CUSTOMER
    from intacct.state import db, migrations
    from sandbox.intacct_gateway.gateway import DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD
    from sandbox.intacct_gateway.generator import DEFAULT_USER_ID, DEFAULT_USER_PASSWORD
    from sandbox.intacct_gateway.store import DEFAULT_COMPANY_ID

    engine = db.open_engine(db_url)
    migrations.upgrade(engine)
    fetched = []
    if not store:  # pages are counted and dropped; no writer process starts
        extract_writers.PageWriters.start = lambda self, processes: None
        extract_writers.PageWriters.put = lambda self, spec, batch_id, page, tz: fetched.append(len(page))
    writer_peaks = []
    hang_up = extract_writers._Writer.hang_up

    def hang_up_after_reading_peak(writer):
        writer_peaks.append(_peak_rss_mb(writer.process.pid))
        hang_up(writer)

    extract_writers._Writer.hang_up = hang_up_after_reading_peak
    rss_before = _peak_rss_mb()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    client = IntacctClient(
        ClientConfig(
            sender=build.SenderCredentials(DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD),
            login=build.LoginCredentials(DEFAULT_USER_ID, DEFAULT_COMPANY_ID, DEFAULT_USER_PASSWORD),
            endpoint=endpoint,
            slots=slots,
        )
    )
    result = extract.extract_full(client, engine, CUSTOMER, run_id="bench")
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_before
    client.close()
    engine.dispose()
    return {
        "rows": result.rows if store else sum(fetched),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "api_calls": client.counter.total,
        "object_calls": result.api_calls,
        "rss_before_mb": rss_before,
        "peak_rss_mb": _peak_rss_mb(),
        "writer_peaks_mb": writer_peaks,
    }


def child_sdk(endpoint: str) -> dict:
    """`Customers.get_all()` of sageintacctsdk, for the fields we read, pointed at the sandbox."""
    from sageintacctsdk import SageIntacctSDK
    from sageintacctsdk.apis import api_base

    from intacct.objects import CUSTOMER
    from sandbox.intacct_gateway.gateway import DEFAULT_SENDER_ID, DEFAULT_SENDER_PASSWORD
    from sandbox.intacct_gateway.generator import DEFAULT_USER_ID, DEFAULT_USER_PASSWORD
    from sandbox.intacct_gateway.store import DEFAULT_COMPANY_ID

    # Every API object of the SDK sets its own URL to Intacct's in __init__ (name-mangled, no module
    # constant) and only the login object follows getAPISession's endpoint: point them all at the sandbox.
    original_init = api_base.ApiBase.__init__

    def init_at_sandbox(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self._ApiBase__api_url = endpoint

    api_base.ApiBase.__init__ = init_at_sandbox
    calls = 0
    original_post = api_base.requests.post

    def counted_post(*args, **kwargs):
        nonlocal calls
        calls += 1
        return original_post(*args, **kwargs)

    api_base.requests.post = counted_post
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    sdk = SageIntacctSDK(
        sender_id=DEFAULT_SENDER_ID,
        sender_password=DEFAULT_SENDER_PASSWORD,
        user_id=DEFAULT_USER_ID,
        company_id=DEFAULT_COMPANY_ID,
        user_password=DEFAULT_USER_PASSWORD,
    )
    records = sdk.customers.get_all(fields=list(CUSTOMER.select))
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_before
    return {
        "rows": len({r["CUSTOMERID"] for r in records}),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "api_calls": calls,
        "peak_rss_mb": _peak_rss_mb(),
    }


# -- the parent: sandbox, databases, children, table ---------------------------------------------------


class Sandbox:
    """The sandbox gateway in its own process, stopped on exit."""

    def __init__(self, customers: int, latency_ms: float, slots: int):
        command = [
            sys.executable, "-m", "sandbox.intacct_gateway", "--port", "0", "--seed", "1",
            "--customers", str(customers), "--latency-ms", str(latency_ms), "--slots", str(slots),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, cwd=REPO, env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        line = self.process.stdout.readline()
        match = re.search(r"(http://\S+)", line)
        if not match:
            self.stop()
            raise SystemExit(f"the sandbox gateway did not start: {line!r}")
        self.endpoint = match.group(1)
        self.admin = self.endpoint.split("/ia/")[0] + "/_admin"

    def set_slots(self, slots: int) -> None:
        requests.post(f"{self.admin}/faults/slots", json={"count": slots}, timeout=10).raise_for_status()

    def reset_ledger(self) -> None:
        requests.delete(f"{self.admin}/ledger", timeout=10).raise_for_status()

    def requests_served(self) -> int:
        return requests.get(f"{self.admin}/ledger", params={"limit": 1}, timeout=10).json()["requests"]

    def visible_customers(self) -> int:
        """Customers a top-level session sees (private-entity ones are hidden without showprivate)."""
        listing = requests.get(f"{self.admin}/records/CUSTOMER", timeout=60).json()["records"]
        return sum(1 for r in listing if not r.get("MEGAENTITYID"))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def run_child(*arguments: str) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *arguments]
    done = subprocess.run(
        command,
        check=False,
        cwd=REPO,
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT,
    )
    if done.returncode != 0:
        raise SystemExit(f"child {arguments[0]} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class ScratchPostgres:
    """A PostgreSQL database made for one run and dropped after it."""

    def __init__(self, admin_url: str):
        from sqlalchemy import text
        from sqlalchemy.engine import make_url

        from intacct.state import db

        self._text = text
        self.name = f"bench_extract_{uuid.uuid4().hex[:10]}"
        self._admin = db.open_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
        with self._admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        self.url = make_url(admin_url).set(database=self.name).render_as_string(hide_password=False)

    def drop(self) -> None:
        with self._admin.connect() as connection:
            connection.execute(self._text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self._admin.dispose()


def floor_seconds(rows: int, slots: int, latency_ms: float) -> float:
    """The least time any client needs: every page waits the latency, `slots` pages at a time."""
    pages = math.ceil(rows / PAGE_SIZE)
    return math.ceil(pages / slots) * latency_ms / 1000


def measure_ours(
    sandbox: Sandbox, slots: int, db_url: str, label: str, latency_ms: float, kind: str = "ours"
) -> dict:
    sandbox.set_slots(slots)
    sandbox.reset_ledger()
    outcome = run_child(kind, sandbox.endpoint, str(slots), db_url)
    outcome.update(
        label=label,
        slots=slots,
        pages=math.ceil(outcome["rows"] / PAGE_SIZE),
        served=sandbox.requests_served(),
        floor=floor_seconds(outcome["rows"], slots, latency_ms),
    )
    print(
        f"  {label}, {slots} slots: {outcome['rows']:,} rows in {outcome['seconds']:.2f} s",
        flush=True,
    )
    return outcome


def measure_sdk(sandbox: Sandbox, slots: int) -> dict:
    sandbox.set_slots(slots)
    sandbox.reset_ledger()
    outcome = run_child("sdk", sandbox.endpoint)
    outcome.update(slots=slots, served=sandbox.requests_served())
    print(
        f"  sageintacctsdk get_all, {slots} slots: {outcome['rows']:,} rows in {outcome['seconds']:.2f} s",
        flush=True,
    )
    return outcome


def print_table(ours: list[dict], sdk: list[dict], latency_ms: float) -> None:
    print()
    print(f"Full CUSTOMER extraction, sandbox latency {latency_ms:.0f} ms, pages of {PAGE_SIZE}:")
    header = (
        f"{'state DB':<10} {'customers':>9} {'slots':>5} {'pages':>5} {'API calls':>9} {'seconds':>8} "
        f"{'floor s':>7} {'/floor':>6} {'CPU s':>6} {'peak RSS MB':>11} {'writers MB':>10}"
    )
    print(header)
    print("-" * len(header))
    for o in ours:
        print(
            f"{o['label']:<10} {o['rows']:>9,} {o['slots']:>5} {o['pages']:>5} {o['api_calls']:>9} "
            f"{o['seconds']:>8.2f} {o['floor']:>7.2f} {o['seconds'] / o['floor']:>6.2f} {o['cpu_seconds']:>6.2f} "
            f"{o['peak_rss_mb']:>11.1f} {_writers_column(o):>10}"
        )
    for s in sdk:
        print(
            f"{'sdk':<10} {s['rows']:>9,} {s['slots']:>5} {math.ceil(s['rows'] / PAGE_SIZE):>5} "
            f"{s['api_calls']:>9} {s['seconds']:>8.2f} {'':>7} {'':>6} {s['cpu_seconds']:>6.2f} "
            f"{s['peak_rss_mb']:>11.1f}"
        )
    print()
    sqlite = [o for o in ours if o["label"] == "sqlite"]
    small, large = sqlite[0], next(o for o in sqlite if o["slots"] == 2 and o is not sqlite[0])
    growth = large["peak_rss_mb"] / small["peak_rss_mb"] - 1
    print(
        f"peak RSS {small['rows']:,} -> {large['rows']:,} customers: {growth:+.1%} "
        f"(target < {TARGET_RSS_GROWTH:.0%})"
    )
    for o in ours:
        if o["rows"] == large["rows"]:
            constant = o["api_calls"] - o["pages"]
            print(
                f"{o['label']} {o['slots']} slots: {o['seconds'] / o['floor']:.2f}x the floor "
                f"(target <= {TARGET_FLOOR_RATIO}x); API calls = pages + {constant} "
                f"(sandbox served {o['served']} requests)"
            )
    for s in sdk:
        mine = next(o for o in sqlite if o["rows"] == large["rows"] and o["slots"] == s["slots"])
        print(
            f"speed-up over sageintacctsdk at {s['slots']} slots: {s['seconds'] / mine['seconds']:.2f}x "
            f"(target >= {TARGET_SPEEDUP[s['slots']]}x; SDK used {s['api_calls']} API calls)"
        )


def _writers_column(outcome: dict) -> str:
    """The writer processes' peak RSS, e.g. "2 x 95.1" (their own processes: not in the peak RSS)."""
    peaks = outcome.get("writer_peaks_mb") or []
    return f"{len(peaks)} x {max(peaks):.1f}" if peaks else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="20,000 customers (2,000 for the memory base)")
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--postgres", action="store_true", help=f"also extract into {PG_ADMIN_URL}")
    parser.add_argument("--no-sdk", action="store_true", help="skip sageintacctsdk")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, *rest = args.child
        if kind == "sdk":
            outcome = child_sdk(rest[0])
        else:
            outcome = child_ours(rest[0], int(rest[1]), rest[2], store=kind == "ours")
        print(json.dumps(outcome))
        return

    # A terminated benchmark still stops its sandbox and removes its files (the finally blocks run).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    customers = 20_000 if args.quick else args.customers
    small = max(PAGE_SIZE, customers // 10)
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; sandbox latency "
        f"{args.latency_ms:.0f} ms; {small:,} and {customers:,} customers",
        flush=True,
    )
    workdir = Path(tempfile.mkdtemp(prefix="bench-extract-"))
    ours: list[dict] = []
    sdk: list[dict] = []
    try:
        with Sandbox(small, args.latency_ms, slots=2) as sandbox:
            ours.append(
                measure_ours(sandbox, 2, f"sqlite:///{workdir / 'small.db'}", "sqlite", args.latency_ms)
            )
        with Sandbox(customers, args.latency_ms, slots=2) as sandbox:
            visible = sandbox.visible_customers()
            for slots in (2, 4):
                url = f"sqlite:///{workdir / f'large-{slots}.db'}"
                ours.append(measure_ours(sandbox, slots, url, "sqlite", args.latency_ms))
            for slots in (2, 4):
                url = f"sqlite:///{workdir / f'fetch-{slots}.db'}"
                ours.append(measure_ours(sandbox, slots, url, "fetch only", args.latency_ms, kind="fetch"))
            if args.postgres:
                scratch = ScratchPostgres(PG_ADMIN_URL)
                try:
                    for slots in (2, 4):
                        ours.append(measure_ours(sandbox, slots, scratch.url, "postgresql", args.latency_ms))
                finally:
                    scratch.drop()
            if not args.no_sdk:
                sdk.extend(measure_sdk(sandbox, slots) for slots in (2, 4))
        for outcome in [*ours[1:], *sdk]:
            if outcome["rows"] != visible:
                print(f"WARNING: {outcome} read {outcome['rows']:,} customers, the sandbox shows {visible:,}")
        print_table(ours, sdk, args.latency_ms)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
