"""Importing 1,000 clients and 1,000 people over Forecast's REST API: the real DAGs, timed and counted.

Serves, from this process, a sandbox Intacct gateway (a company generated with about 1.4x as many customers
and users as the size measured; no latency, 2 concurrency slots) and, for each repetition, a fresh Forecast
API stand-in (`sandbox.forecast_api`) at its default rate limit (10 requests a second per API key, bursts
of 10) with the company it starts with (the API owner, a system user, the built-in profiles). The REST
target runs at its default pace (`max_requests_per_second` 10). A throwaway Airflow home is made once;
each repetition gets a fresh state database. In one child process, with `dag.test()`, for
`intacct_import_clients` (`select_all`) and then `intacct_import_team_members` (`select_all`,
`permission_level` Collaborator):

1. a dry run (not measured), whose plan names the importable records: those after the first `size` of them
   are made inactive in the gateway, so the measured run imports exactly `size` (the first dry run also
   starts `dag.test()`'s in-process execution API, about 7 s once per process);
2. the stand-in's ledger is emptied, then the measured run, with `apply.import_selected` timed where the
   import task calls it and the REST target's calls counted around it.

Measured, per run: the apply time against its floor, the apply's Forecast requests over the stand-in's
rate (`(reads + writes) / rate`: every request, read or write, takes a token of the same bucket), the
import task's time and the DAG run's (start to end in Airflow's metadata), the Forecast calls of the whole
run by kind from the stand-in's ledger (with its answers' statuses) and from the pipeline's own count
(`forecast_api_usage`, the report's line), and the calls per record. A second, smaller size (200) shows
whether the reads depend on the record count. Prints tables; asserts nothing.

    .venv/bin/python bench/bench_rest.py [--sizes 1000 200] [--runs 2] [--backends sqlite postgresql] [--keep]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import requests
from sqlalchemy import select

from bench_extract import PG_ADMIN_URL, REPO, ScratchPostgres
from dag_runs import airflow_env, bench_workdir, dag_run_timings, prepare_airflow_home, time_calls
from intacct.state import db, migrations
from intacct.state.schema import forecast_api_usage, intacct_plan
from sandbox.forecast_api.server import ForecastApiServer
from sandbox.intacct_gateway.server import GatewayServer

# (DAG, conf, Intacct object of the records it imports)
IMPORTS = (
    ("intacct_import_clients", {"select_all": True}, "CUSTOMER"),
    ("intacct_import_team_members", {"select_all": True, "permission_level": "Collaborator"}, "USERINFO"),
)
ENTITY = {"CUSTOMER": "client", "USERINFO": "person"}
COMPANY_MARGIN = 1.4  # the generated company's records per record imported (inactive ones, no email, ...)
RUN_TIMEOUT = 1800  # seconds; a stuck child must not keep the benchmark alive
TARGET_APPLY = 1.3  # x the floor


def resource_of(method: str, path: str) -> str:
    """`GET v2/persons`, `PUT v1/clients/{id}`: a request's kind, as the pipeline's count names it."""
    parts = path.partition("?")[0].strip("/").split("/")
    if parts and parts[0] == "api":
        parts = parts[1:]
    return method + " " + "/".join("{id}" if p.lstrip("-").isdigit() else p for p in parts)


# -- the child process -----------------------------------------------------------------------------------


def child_dag_runs(gateway_admin: str, forecast_admin: str, size: int) -> dict:
    """In this (child) process: per import DAG, a dry run that trims the company to `size` importable
    records, then the measured run (see the module doc)."""
    from airflow.dag_processing.dagbag import DagBag

    from intacct import apply, choices
    from intacct.airflow import tasks

    def calls_made(_engine, target, *_args, **_kwargs):
        before = target.api.calls.snapshot()
        return lambda: {
            f"{method} {resource}": n - before.get((method, resource), 0)
            for (method, resource), n in target.api.calls.snapshot().items()
            if n > before.get((method, resource), 0)
        }

    applied = time_calls(apply, "import_selected", probe=calls_made)
    outcomes = {}
    for dag_id, conf, object_name in IMPORTS:
        # A freshly parsed DAG for every run: dag.test() merges run_conf into the parsed DAG's params in place.
        dry = DagBag(dag_folder=str(REPO / "dags")).dags[dag_id].test(run_conf={**conf, "dry_run": True})
        if dry.state != "success":
            raise SystemExit(f"the dry run of {dag_id} ended {dry.state}")
        engine = tasks.state_engine()
        with engine.connect() as connection:
            plan_id = connection.execute(
                select(intacct_plan.c.id).where(intacct_plan.c.run_id == dry.run_id)
            ).scalar_one()
        importable = choices.select_all(engine, plan_id, include_inactive=False).keys
        if len(importable) < size:
            raise SystemExit(
                f"the company offers {len(importable)} importable {object_name} records, fewer than {size}"
            )
        for key in sorted(importable)[size:]:
            requests.patch(
                f"{gateway_admin}/records/{object_name}/{quote(key, safe='')}",
                json={"values": {"STATUS": "inactive"}},
                timeout=10,
            ).raise_for_status()
        requests.delete(f"{forecast_admin}/requests", timeout=10).raise_for_status()
        started = time.perf_counter()
        run = DagBag(dag_folder=str(REPO / "dags")).dags[dag_id].test(run_conf=conf)
        seconds = time.perf_counter() - started
        ledger = requests.get(f"{forecast_admin}/requests", timeout=30).json()
        with engine.connect() as connection:
            counted = connection.execute(
                select(
                    forecast_api_usage.c.method, forecast_api_usage.c.resource, forecast_api_usage.c.calls
                ).where(forecast_api_usage.c.run_id == f"{dag_id}/{run.run_id}")
            ).all()
        pipeline_count = Counter()
        for method, resource, calls in counted:
            pipeline_count[f"{method} {resource}"] += calls
        outcomes[dag_id] = {
            "state": run.state,
            "run_id": run.run_id,
            "test_seconds": seconds,
            "offered": len(importable),
            "apply_seconds": applied["seconds"],
            "apply_calls": applied["probe"],
            "ledger_calls": dict(Counter(resource_of(r["method"], r["path"]) for r in ledger["requests"])),
            "ledger_statuses": ledger["by_status"],
            "pipeline_calls": dict(pipeline_count),
        }
    return outcomes


def run_child(env: dict[str, str], args: list[str], workdir: Path) -> dict:
    """`child_dag_runs` in a child process, its output in the workdir's airflow.log."""
    result = workdir / "child.json"
    result.unlink(missing_ok=True)
    log = workdir / "airflow.log"
    with log.open("a") as out:
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", *args, str(result)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"the DAG runs failed (exit {done.returncode}); their output is in {log}")
    outcomes = json.loads(result.read_text())
    for dag_id, outcome in outcomes.items():
        if outcome["state"] != "success":
            raise SystemExit(f"{dag_id} ended {outcome['state']}; its output is in {log}")
    return outcomes


# -- the parent ------------------------------------------------------------------------------------------


def fresh_state_db(backend: str, workdir: Path, label: str, scratch: list[ScratchPostgres]) -> str:
    if backend == "sqlite":
        url = f"sqlite:///{workdir / f'state-{label}.db'}"
    else:
        scratch.append(ScratchPostgres(PG_ADMIN_URL))
        url = scratch[-1].url
    engine = db.open_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    return url


def measure(gateway, home, workdir, backend: str, size: int, n: int, slots: int, scratch) -> list[dict]:
    state_url = fresh_state_db(backend, workdir, f"{size}-{n}", scratch)
    with ForecastApiServer() as forecast:  # the stand-in's defaults: its rate limit and starting company
        rate = forecast.limiter.settings()
        env = airflow_env(
            home,
            gateway,
            state_url,
            slots,
            {
                "FORECAST_TARGET": "rest",
                "AIRFLOW_CONN_FORECAST_DEFAULT": json.dumps(forecast.airflow_connection()),
            },
        )
        outcomes = run_child(env, [gateway.admin_url, forecast.admin_url, str(size)], workdir)
        records = forecast.store.counts()
    results = []
    for dag_id, _, object_name in IMPORTS:
        o = outcomes[dag_id]
        timings = dag_run_timings(home, dag_id)
        assert timings["run_id"] == o["run_id"], (timings["run_id"], o["run_id"])
        task = timings["tasks"]["import_selected"]
        apply_reads = sum(c for kind, c in o["apply_calls"].items() if kind.startswith("GET "))
        apply_writes = sum(o["apply_calls"].values()) - apply_reads
        run_reads = sum(c for kind, c in o["ledger_calls"].items() if kind.startswith("GET "))
        run_writes = sum(o["ledger_calls"].values()) - run_reads
        outcome = {
            **o,
            "backend": backend,
            "dag_id": dag_id,
            "entity": ENTITY[object_name],
            "size": size,
            "rate": rate["rate"],
            "burst": rate["burst"],
            "apply_reads": apply_reads,
            "apply_writes": apply_writes,
            "floor": (apply_reads + apply_writes) / rate["rate"],
            # what the bucket allows at best: it starts full, so the first `burst` requests need no wait
            "bucket_bound": max(0.0, apply_reads + apply_writes - rate["burst"]) / rate["rate"],
            "run_reads": run_reads,
            "run_writes": run_writes,
            "pipeline_reads": sum(c for k, c in o["pipeline_calls"].items() if k.startswith("GET ")),
            "pipeline_writes": sum(c for k, c in o["pipeline_calls"].items() if not k.startswith("GET ")),
            "throttled": o["ledger_statuses"].get("429", 0),
            "import_task_seconds": (task["end"] - task["start"]).total_seconds(),
            "run_seconds": (timings["end"] - timings["start"]).total_seconds(),
            "forecast_records": records,
        }
        print(
            f"  {backend} {size} run {n}: {dag_id} apply {outcome['apply_seconds']:.2f} s "
            f"(floor {outcome['floor']:.2f} s), DAG run {outcome['run_seconds']:.2f} s",
            flush=True,
        )
        results.append(outcome)
    return results


def print_results(results: list[dict]) -> None:
    first = results[0]
    print()
    print(
        f"Forecast stand-in: {first['rate']:g} requests/s per API key, bursts of {first['burst']:g}; "
        "REST target at its default pace. floor = apply's requests (reads + writes) / rate; bucket s = "
        "(those requests - burst) / rate, the least a full bucket allows."
    )
    header = (
        f"{'state DB':<10} {'entity':<7} {'records':>7} {'apply s':>8} {'floor s':>8} {'/floor':>6} "
        f"{'bucket s':>8} {'task s':>7} {'DAG run s':>9} {'apply R+W':>10} {'run R+W':>9} {'pipeline R+W':>12} "
        f"{'W/rec':>5} {'429s':>4}"
    )
    print(header)
    print("-" * len(header))
    for o in results:
        print(
            f"{o['backend']:<10} {o['entity']:<7} {o['size']:>7} {o['apply_seconds']:>8.2f} {o['floor']:>8.2f} "
            f"{o['apply_seconds'] / o['floor']:>6.3f} {o['bucket_bound']:>8.2f} {o['import_task_seconds']:>7.2f} {o['run_seconds']:>9.2f} "
            f"{o['apply_reads']:>4}+{o['apply_writes']:<5} {o['run_reads']:>3}+{o['run_writes']:<5} "
            f"{o['pipeline_reads']:>6}+{o['pipeline_writes']:<5} {o['run_writes'] / o['size']:>5.2f} "
            f"{o['throttled']:>4}"
        )
    print(
        "apply s: apply.import_selected; task s: the import_selected task; DAG run s: the run's start to end "
        "in Airflow's metadata; R+W: reads + writes, of the apply (the REST target's count), of the whole "
        "run (the stand-in's ledger) and of the whole run as the pipeline counted it (forecast_api_usage)"
    )
    print()
    for o in results:
        print(
            f"{o['backend']} {o['entity']} {o['size']}: ledger "
            + ", ".join(f"{k} {v}" for k, v in sorted(o["ledger_calls"].items()))
            + f"; statuses {o['ledger_statuses']}; apply "
            + ", ".join(f"{k} {v}" for k, v in sorted(o["apply_calls"].items()))
            + f"; offered {o['offered']}; dag.test() {o['test_seconds']:.2f} s; pipeline's count "
            + (
                "the same, kind by kind"
                if o["pipeline_calls"] == o["ledger_calls"]
                else str(o["pipeline_calls"])
            )
        )
    print()
    for backend in dict.fromkeys(o["backend"] for o in results):
        for entity in dict.fromkeys(o["entity"] for o in results):
            mine = [o for o in results if o["backend"] == backend and o["entity"] == entity]
            ratios = [o["apply_seconds"] / o["floor"] for o in mine]
            per_record = sorted({f"{o['run_writes'] / o['size']:.2f}" for o in mine})
            reads = {
                s: sorted({o["run_reads"] for o in mine if o["size"] == s}) for s in {o["size"] for o in mine}
            }
            print(
                f"{backend} {entity}: apply {', '.join(f'{r:.3f}x' for r in ratios)} the floor "
                f"(median {statistics.median(ratios):.3f}x; target <= {TARGET_APPLY}x); writes per record "
                f"{', '.join(per_record)} (target 1); reads of the run by size: "
                + ", ".join(f"{s}: {v}" for s, v in sorted(reads.items(), reverse=True))
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 200], help="records per entity")
    parser.add_argument("--runs", type=int, default=2, help="repetitions per size and backend")
    parser.add_argument(
        "--backends",
        nargs="+",
        choices=["sqlite", "postgresql"],
        default=["sqlite"],
        help=f"the state database's backend (postgresql: scratch databases on {PG_ADMIN_URL})",
    )
    parser.add_argument("--slots", type=int, default=2, help="the gateway's concurrency slots")
    parser.add_argument("--keep", action="store_true", help="keep the work directory, to read its logs")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        gateway_admin, forecast_admin, size, result = args.child
        Path(result).write_text(json.dumps(child_dag_runs(gateway_admin, forecast_admin, int(size))))
        return

    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}; sizes {args.sizes}, "
        f"{args.runs} run(s) on {', '.join(args.backends)}",
        flush=True,
    )
    results = []
    with bench_workdir("bench-rest-", keep=args.keep) as (workdir, scratch):
        home = workdir / "airflow_home"
        for size in args.sizes:
            company = math.ceil(size * COMPANY_MARGIN) + 10
            with GatewayServer(seed=1, customers=company, users=company, slots=args.slots) as gateway:
                if not (home / "airflow.db").exists():
                    prepare_airflow_home(airflow_env(home, gateway, "sqlite://", args.slots, {}), args.slots)
                for backend in args.backends:
                    for n in range(1, args.runs + 1):
                        results += measure(gateway, home, workdir, backend, size, n, args.slots, scratch)
        print_results(results)


if __name__ == "__main__":
    main()
